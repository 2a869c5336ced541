/*
 * `pcvm img`: the image tool subcommand (create, info, convert, check).
 */
#ifndef PCVM_DISK_IMG_H
#define PCVM_DISK_IMG_H

/* argv[0] is "img"; returns the exit status. */
int img_main(int argc, char **argv);

#endif
