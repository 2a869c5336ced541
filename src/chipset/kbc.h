/*
 * The i8042 keyboard controller at ports 0x60/0x64 with a PS/2 keyboard
 * (IRQ1) and a PS/2 mouse (IRQ12), and the PIIX's system control port A
 * (0x92). Both the controller's output port and port 0x92 gate A20 and can
 * reset the machine.
 */
#ifndef PCVM_CHIPSET_KBC_H
#define PCVM_CHIPSET_KBC_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct kbc;

/* Key codes for kbc_key_event()/vm_key_event() are scancode set 1 make
 * codes, 0xE0xx for the extended keys (0xE048 up arrow, 0xE037 Print
 * Screen). Pause has no make code of its own in set 1; it is this: */
#define KBC_KEY_PAUSE 0xe11d

/* Mouse buttons for kbc_mouse_event(). */
#define KBC_MOUSE_LEFT 0x01
#define KBC_MOUSE_RIGHT 0x02
#define KBC_MOUSE_MIDDLE 0x04
#define KBC_MOUSE_4TH 0x08
#define KBC_MOUSE_5TH 0x10

/* Keyboard LEDs as the guest last set them. */
#define KBC_LED_SCROLL 0x01
#define KBC_LED_NUM 0x02
#define KBC_LED_CAPS 0x04

/* Claims ports 0x60, 0x64 and 0x92, drives vm->isa_irq[1] and [12], and
 * installs itself as vm->key_event. */
int kbc_create(struct vm *vm, struct kbc **out);

/* A key went down or up (what vm_key_event() delivers). The keyboard sends
 * it in the scancode set the guest selected, repeating a held key at the
 * typematic rate. */
void kbc_key_event(struct kbc *k, unsigned key, bool down);

/* The mouse moved by dx (right positive) and dy (up positive, as PS/2
 * counts), the wheel by dz (down positive), with these buttons held. */
void kbc_mouse_event(struct kbc *k, int dx, int dy, int dz, unsigned buttons);

uint8_t kbc_get_leds(const struct kbc *k);

#endif
