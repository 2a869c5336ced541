# pcvm - see README.md. GNU make.
#
#   make              build build/pcvm
#   make deps         install the Debian packages the build and tests need
#   make run          boot the built-in demo guest in the terminal
#   make test         build and run every test (SANITIZE=1: under ASan/UBSan)
#   make bench        print speed figures (never fails for being slow)
#   make install      PREFIX=/usr/local by default
#   make clean

CC := gcc
CXX := g++
NASM := nasm
PREFIX ?= /usr/local
VERSION := 0.1

ifeq ($(SANITIZE),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD := build
SANFLAGS :=
endif

# Lazily evaluated: `make deps` may be what installs pkg-config and the -dev
# packages, so these are expanded only when a rule needs them.
PKG_CFLAGS = $(shell pkg-config --cflags libpng ncursesw zlib 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs libpng ncursesw zlib 2>/dev/null)

CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE $(SANFLAGS) -MMD -MP \
	-DPCVM_VERSION='"$(VERSION)"'
CXXFLAGS := -std=gnu++17 -O1 -g -Wall -Wextra -Werror $(SANFLAGS) -MMD -MP \
	-Isrc -Itests/shim
LDFLAGS := $(SANFLAGS)
LDLIBS = $(PKG_LIBS) -lm -lrt

SRCS := $(shell find src -name '*.c' | sort)
ASMS := $(shell find src -name '*.S' | sort)
OBJS := $(SRCS:%.c=$(BUILD)/obj/%.o) $(ASMS:%.S=$(BUILD)/obj/%.o)
LIB_OBJS := $(filter-out $(BUILD)/obj/src/main.o,$(OBJS))

UNIT_SRCS := $(wildcard tests/unit/*.cc) $(wildcard tests/shim/*.cc)
UNIT_OBJS := $(UNIT_SRCS:%.cc=$(BUILD)/obj/%.o)
SYS_SRCS := $(wildcard tests/system/*.cc)
SYS_OBJS := $(SYS_SRCS:%.cc=$(BUILD)/obj/%.o)

# ---- CPU differential tests (tests/cpudiff/) ----
# The generators and the comparison are linked into the unit tests, which
# check the native side. The comparisons against the software CPU are their
# own binary: `make test-cpudiff` runs the bounded set, `make fuzz-cpu
# SEED=n COUNT=n` a long random run, once interpreted and once with every
# trace translated by the JIT.
CPUDIFF_LIB_SRCS := $(filter-out tests/cpudiff/test_%.cc,$(wildcard tests/cpudiff/*.cc))
CPUDIFF_LIB_OBJS := $(CPUDIFF_LIB_SRCS:%.cc=$(BUILD)/obj/%.o)
CPUDIFF_TEST_OBJS := $(patsubst %.cc,$(BUILD)/obj/%.o,$(wildcard tests/cpudiff/test_*.cc))
UNIT_OBJS += $(CPUDIFF_LIB_OBJS)
CXXFLAGS += -Itests/cpudiff
SEED ?= 1
COUNT ?= 100000

.PHONY: test-cpudiff fuzz-cpu
$(BUILD)/cpudiff-tests: $(CPUDIFF_TEST_OBJS) $(CPUDIFF_LIB_OBJS) \
		$(BUILD)/obj/tests/shim/native.o $(BUILD)/obj/tests/shim/emu_harness.o $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ -lgtest -lgtest_main -lpthread $(LDLIBS)

test-cpudiff: deps
	$(MAKE) $(BUILD)/cpudiff-tests
	PCVM_JIT=off $(BUILD)/cpudiff-tests --gtest_brief=1
	PCVM_JIT=always $(BUILD)/cpudiff-tests --gtest_brief=1

fuzz-cpu: deps
	$(MAKE) $(BUILD)/cpudiff-tests
	for jit in off always; do \
		echo "== PCVM_JIT=$$jit"; \
		PCVM_JIT=$$jit CPUDIFF_SEED=$(SEED) CPUDIFF_COUNT=$(COUNT) $(BUILD)/cpudiff-tests \
			--gtest_also_run_disabled_tests --gtest_filter='*Fuzz*' || exit 1; \
	done
# ---- end of CPU differential tests ----

GUEST_SRCS := $(wildcard tests/guests/*.asm)
GUESTS := $(GUEST_SRCS:tests/guests/%.asm=$(BUILD)/guests/%.bin)

DEMO_IMG := $(BUILD)/demo.img

DEB_PACKAGES := gcc g++ make pkg-config libpng-dev libncurses-dev zlib1g-dev \
	libgtest-dev nasm seabios qemu-utils clang libclang-rt-14-dev xorriso \
	gcc-multilib python3

# ---- Disk image fuzzing (issue 7): libFuzzer targets for the qcow2 and VHD
# parsers, built with clang and its own sanitizers whatever SANITIZE says.
# `make test` runs them briefly on tests/fuzz/corpus; `make fuzz` for long.
FUZZ_CC := clang
FUZZ_DIR := build/fuzz
FUZZ_TIME ?= 12
FUZZ_LONG ?= 600
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Wall \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRCS := src/disk/block.c src/disk/raw.c src/disk/qcow2.c src/disk/vhd.c \
	src/disk/overlay.c src/disk/memdisk.c src/log.c
FUZZ_TARGETS := $(FUZZ_DIR)/fuzz-qcow2 $(FUZZ_DIR)/fuzz-vhd

$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz_image.c $(FUZZ_SRCS) $(wildcard src/disk/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_FORMAT='"$*"' -o $@ tests/fuzz/fuzz_image.c \
		$(FUZZ_SRCS) -lz

.PHONY: fuzz
fuzz: deps
	$(MAKE) $(FUZZ_TARGETS)
	tests/fuzz/run.sh $(FUZZ_LONG) $(FUZZ_DIR)

$(BUILD)/bench-disk: tests/bench/bench-disk.c $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# ---- end of disk image block

# ---- Real guests (issue 9, tests/linux/): Debian 12's 686 Linux kernel with
# a busybox initramfs, isolinux and memtest86+, fetched with apt-get download
# + dpkg -x into $(LINUX_DIR) once (tests/linux/fetch.sh; it adds the i386
# architecture and updates apt's lists when it must, through sudo when not
# root); a later `make test` finds them there. Outside $(BUILD) so the
# SANITIZE=1 build uses the same files.
LINUX_DIR := build/linux
LINUX_FETCHED := $(LINUX_DIR)/.fetched
LINUX_GUEST_FILES := $(LINUX_DIR)/initrd.gz $(LINUX_DIR)/linux.iso $(LINUX_DIR)/memtest.iso

.PHONY: linux-guests
linux-guests: $(LINUX_GUEST_FILES)

$(LINUX_FETCHED): tests/linux/fetch.sh
	tests/linux/fetch.sh $(LINUX_DIR)
	touch $@

$(LINUX_DIR)/mkinitramfs: tests/linux/mkinitramfs.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $<

$(LINUX_DIR)/initrd.gz: $(LINUX_DIR)/mkinitramfs tests/linux/initramfs.list tests/linux/init $(LINUX_FETCHED)
	sed 's|@LINUX@|$(LINUX_DIR)|' tests/linux/initramfs.list | $(LINUX_DIR)/mkinitramfs > $(LINUX_DIR)/initrd.cpio
	gzip -9n < $(LINUX_DIR)/initrd.cpio > $@.tmp
	mv $@.tmp $@

# The isolinux CD: isolinux.bin as a no-emulation El Torito image, the kernel
# and initramfs in its root.
$(LINUX_DIR)/linux.iso: $(LINUX_DIR)/initrd.gz tests/linux/isolinux.cfg $(LINUX_FETCHED)
	rm -rf $(LINUX_DIR)/cd && mkdir -p $(LINUX_DIR)/cd/isolinux
	cp $(LINUX_DIR)/isolinux.bin $(LINUX_DIR)/ldlinux.c32 tests/linux/isolinux.cfg $(LINUX_DIR)/cd/isolinux/
	cp $(LINUX_DIR)/vmlinuz $(LINUX_DIR)/initrd.gz $(LINUX_DIR)/cd/
	xorriso -as mkisofs -quiet -R -o $@.tmp -b isolinux/isolinux.bin -c isolinux/boot.cat \
		-no-emul-boot -boot-load-size 4 -boot-info-table $(LINUX_DIR)/cd
	mv $@.tmp $@

# memtest86+'s .bin starts with a floppy boot sector that loads the rest
# through INT 13h: padded to a 1.44 MB floppy it is an El Torito
# floppy-emulation image (neither -no-emul-boot nor -hard-disk-boot).
$(LINUX_DIR)/memtest.iso: $(LINUX_FETCHED)
	rm -rf $(LINUX_DIR)/mtcd && mkdir -p $(LINUX_DIR)/mtcd
	cp $(LINUX_DIR)/memtest86+ia32.bin $(LINUX_DIR)/mtcd/floppy.img
	truncate -s 1474560 $(LINUX_DIR)/mtcd/floppy.img
	xorriso -as mkisofs -quiet -o $@.tmp -b floppy.img -c boot.cat $(LINUX_DIR)/mtcd
	mv $@.tmp $@
# ---- end of real guests

.PHONY: all deps run test test-run bench install clean guests
.DEFAULT_GOAL := all

all: $(BUILD)/pcvm

$(BUILD)/pcvm: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# The demo guest is embedded in the binary so `pcvm` alone boots it.
$(BUILD)/obj/src/demo_image.o: src/demo_image.S $(DEMO_IMG)
	@mkdir -p $(dir $@)
	$(CC) -c -DDEMO_IMG='"$(DEMO_IMG)"' -o $@ $<

$(DEMO_IMG): examples/demo/demo.asm
	@mkdir -p $(dir $@)
	$(NASM) -f bin -o $@ $<

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/guests/%.bin: tests/guests/%.asm $(wildcard tests/guests/*.inc)
	@mkdir -p $(dir $@)
	$(NASM) -f bin -Itests/guests/ -o $@ $<

guests: $(GUESTS)

$(BUILD)/unit-tests: $(UNIT_OBJS) $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ -lgtest -lgtest_main -lpthread $(LDLIBS)

$(BUILD)/system-tests: $(SYS_OBJS) $(BUILD)/obj/tests/shim/run.o
	$(CXX) $(LDFLAGS) -o $@ $^ -lgtest -lgtest_main -lpthread $(LDLIBS)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update || echo "make deps: apt-get update reported errors; trying the install anyway"; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing; \
	fi

run: deps
	$(MAKE) all
	$(BUILD)/pcvm

test: deps
	$(MAKE) test-run

test-run: $(BUILD)/pcvm $(BUILD)/unit-tests $(BUILD)/system-tests $(BUILD)/cpudiff-tests $(GUESTS) $(FUZZ_TARGETS) \
		$(LINUX_GUEST_FILES)
	@fail=0; \
	echo "== unit tests"; \
	$(BUILD)/unit-tests --gtest_brief=1 || fail=1; \
	echo "== software CPU against the host CPU (differential) and random guests"; \
	PCVM_JIT=off $(BUILD)/cpudiff-tests --gtest_brief=1 || fail=1; \
	echo "== the same with every trace translated by the JIT"; \
	PCVM_JIT=always $(BUILD)/cpudiff-tests --gtest_brief=1 || fail=1; \
	echo "== system tests (guests and the pcvm binary)"; \
	PCVM=$(BUILD)/pcvm GUESTS=$(BUILD)/guests TESTDATA=tests/data BUILD=$(BUILD) \
		LINUX_GUESTS=$(LINUX_DIR) \
		$(BUILD)/system-tests --gtest_brief=1 || fail=1; \
	echo "== fuzzing the qcow2 and VHD parsers ($(FUZZ_TIME) s each)"; \
	tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_DIR) || fail=1; \
	if [ $$fail = 0 ]; then echo "== all tests passed"; else echo "== TESTS FAILED"; fi; \
	exit $$fail

bench: deps
	$(MAKE) all guests bench-guests linux-guests
	@tests/bench/run.sh $(BUILD)


install: $(BUILD)/pcvm
	install -D -m 755 $(BUILD)/pcvm $(DESTDIR)$(PREFIX)/bin/pcvm
	install -D -m 644 man/pcvm.1 $(DESTDIR)$(PREFIX)/share/man/man1/pcvm.1

clean:
	rm -rf build

# x87 FPU: a long differential run against the host's x87 (make test runs a
# bounded one). FPU_FUZZ random states per instruction form (and ten times as
# many instruction streams); FPU_SEED picks the seed.
FPU_FUZZ ?= 5000
FPU_SEED ?= 1
.PHONY: fuzz-fpu
fuzz-fpu: $(BUILD)/unit-tests
	PCVM_FPU_FUZZ=$(FPU_FUZZ) PCVM_FPU_SEED=$(FPU_SEED) $(BUILD)/unit-tests --gtest_filter='FpuDiff.*'

# ---- CPU benchmark guests (tests/bench/guests/, run by make bench) ----
# Each image is stub.asm (firmware entry, switch to protected mode, report)
# around one payload: an assembly kernel k-NAME.asm, or cbench.c built for
# the guest with one kernel (BENCH_PART) and its data page-aligned or not
# (BENCH_ALIGN). Host tools: timerun (times a run) and bench-expect (the
# checksums the guests must report).
BENCH := $(BUILD)/bench
BENCH_ASM := $(patsubst tests/bench/guests/k-%.asm,%,$(wildcard tests/bench/guests/k-*.asm))
BENCH_C := c-crc32 c-sort c-mix c-mix-shared
BENCH_IMGS := $(BENCH_ASM:%=$(BENCH)/%.img) $(BENCH_C:%=$(BENCH)/%.img)
BENCH_GUEST_CFLAGS := -m32 -ffreestanding -nostdlib -O2 -fno-pic -fno-stack-protector \
	-Wall -Wextra -Werror
BENCH_ALIGN := 4096
$(BENCH)/c-crc32.payload: BENCH_PART := 1
$(BENCH)/c-sort.payload: BENCH_PART := 2
$(BENCH)/c-mix.payload: BENCH_PART := 3
$(BENCH)/c-mix-shared.payload: BENCH_PART := 4
$(BENCH)/c-mix-shared.payload: BENCH_ALIGN := 16

.PHONY: bench-guests
bench-guests: $(BENCH_IMGS) $(BENCH)/timerun $(BENCH)/bench-expect

$(BENCH)/c-%.payload: tests/bench/guests/cbench.c tests/bench/guests/cbench.ld
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_GUEST_CFLAGS) -DBENCH_PART=$(BENCH_PART) -c -o $(@:.payload=.o) $<
	$(CC) -m32 -nostdlib -no-pie -static -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-Wl,--defsym=cbench_data_align=$(BENCH_ALIGN) -T tests/bench/guests/cbench.ld \
		-o $(@:.payload=.elf) $(@:.payload=.o) -lgcc
	objcopy -O binary $(@:.payload=.elf) $@

$(BENCH)/%.payload: tests/bench/guests/k-%.asm tests/bench/guests/bench.inc
	@mkdir -p $(dir $@)
	$(NASM) -f bin -Itests/bench/guests/ -o $@ $<

$(BENCH)/%.img: $(BENCH)/%.payload tests/bench/guests/stub.asm
	$(NASM) -f bin -Itests/bench/guests/ -DPAYLOAD='"$<"' -o $@ tests/bench/guests/stub.asm

$(BENCH)/timerun: tests/bench/timerun.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $<

$(BENCH)/bench-expect: tests/bench/bench-expect.c tests/bench/guests/cbench.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $<
# ---- end of CPU benchmark guests ----

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
