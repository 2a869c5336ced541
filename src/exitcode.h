/*
 * pcvm's exit statuses, one table for main, --help and the manual.
 * A guest writing the debug-exit port chooses the status itself.
 */
#ifndef PCVM_EXITCODE_H
#define PCVM_EXITCODE_H

#define PCVM_EXIT_OK 0       /* guest powered off, condition met, script done */
#define PCVM_EXIT_ERROR 1    /* runtime error */
#define PCVM_EXIT_USAGE 2    /* bad command line or input file */
#define PCVM_EXIT_TIMEOUT 3  /* --timeout expired */
#define PCVM_EXIT_REBOOT 4   /* the guest reset the machine under --no-reboot */
#define PCVM_EXIT_TRIPLE_FAULT 5 /* triple fault under --no-reboot */
#define PCVM_EXIT_SCRIPT 6   /* a --script step failed */
/* The guest powered off while an --until condition or the script was still
 * waiting (a power-off with nothing awaited is a success). */
#define PCVM_EXIT_POWEROFF_EARLY 7
#define PCVM_EXIT_SIGNAL_BASE 128 /* 128 + signal number */

#endif
