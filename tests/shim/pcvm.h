// The C modules as C++ tests see them: the project's headers inside
// extern "C", plus small fixture helpers.
#ifndef PCVM_TEST_SHIM_H
#define PCVM_TEST_SHIM_H

extern "C" {
#include "cli.h"
#include "clock.h"
#include "ioport.h"
#include "irq.h"
#include "log.h"
#include "mem.h"
#include "disk/block.h"
#include "vm.h"
#include "vcpu/vcpu.h"
#include "vcpu/accel.h"
#include "vcpu/emu/fpu.h"
#include "vm.h"
#include "chipset/vga.h"
#include "chipset/pic.h"
#include "chipset/pit.h"
#include "chipset/rtc.h"
#include "chipset/kbc.h"
#include "chipset/uart.h"
#include "chipset/dma.h"
#include "chipset/fdc.h"
#include "chipset/pci.h"
#include "chipset/i440fx.h"
#include "chipset/piix.h"
#include "chipset/ide.h"
#include "chipset/acpi.h"
#include "chipset/fwcfg.h"
#include "chipset/pc.h"
#include "linuxboot.h"
#include "ui/script.h"
#include "ui/screencmp.h"
#include "ui/report.h"
}

#endif
