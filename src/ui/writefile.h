/*
 * Output files written whole: to a temporary name beside the target, then
 * renamed over it, so a reader (a CI job polling for screenshots) never sees
 * half a file.
 */
#ifndef PCVM_UI_WRITEFILE_H
#define PCVM_UI_WRITEFILE_H

#include <stddef.h>

/* 0 or a negative errno (logged, naming path). */
int ui_write_file(const char *path, const void *data, size_t len);

/* Can path be created or replaced? 0, or a negative errno with *why set to
 * a short reason for the user. Creates nothing. */
int ui_check_writable(const char *path, const char **why);

#endif
