/*
 * Unattended runs: the --until-serial/--until-screen/--until-stable
 * conditions, the --timeout, the --script steps and the milestones that -v
 * prints and --report writes. It watches the machine only through the
 * interfaces a user has (COM1's output tap, the display's change callback,
 * the keyboard, the CD-ROM drive, the power button) and the backend's
 * optional execution watch.
 */
#ifndef PCVM_UI_AUTOMATION_H
#define PCVM_UI_AUTOMATION_H

struct vm;
struct automation;

/* Keys typed by the script are this far apart in guest time, so the
 * guest's keyboard handler takes each scancode before the next. */
#define AUTOMATION_KEY_GAP_NS 5000000ull

/* Sets up what vm->cfg asks for, taking over the parsed cfg->script (freed
 * with the machine). Called while the machine is being built, before any
 * device: it only checks what needs the whole configuration (a script's
 * swap-cdrom needs a CD-ROM drive) and arms a timer; it starts watching
 * when the machine starts running. 0, or -EINVAL after a one-line message
 * (a usage error), or -ENOMEM. */
int automation_create(struct vm *vm, struct automation **out);

#endif
