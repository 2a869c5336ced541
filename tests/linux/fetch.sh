#!/bin/sh
# Fetches the real guests the Linux and memtest86+ system tests boot: Debian
# 12's packages, downloaded with `apt-get download` and unpacked with
# `dpkg -x` into DIR (nothing is installed on the host). Leaves in DIR:
#   vmlinuz              the newest linux-image-6.1.0-*-686 (i386, non-PAE)
#   busybox              busybox-static:i386's /bin/busybox
#   memtest86+ia32.bin   memtest86+'s 32-bit image (Linux boot protocol and
#                        floppy boot sector in one file)
#   isolinux.bin, ldlinux.c32   the CD boot loader (isolinux, syslinux-common)
#   versions.txt         package versions, for the report
# The .deb files stay in DIR/debs, so a second run downloads nothing.
#
# Usage: tests/linux/fetch.sh DIR
set -e
dir=${1:?usage: tests/linux/fetch.sh DIR}
mkdir -p "$dir/debs"
dir=$(cd "$dir" && pwd)

fail() {
	echo "tests/linux/fetch.sh: $*" >&2
	exit 1
}

SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || fail "not root and no sudo: run 'make test' as root, or install sudo"
	SUDO=sudo
fi

# The i386 packages need the architecture known to dpkg/apt, and apt's lists
# must then hold its index.
updated=no
if ! dpkg --print-foreign-architectures | grep -qx i386; then
	echo "fetch: adding the i386 architecture (dpkg --add-architecture i386)"
	$SUDO dpkg --add-architecture i386 || fail "dpkg --add-architecture i386 failed"
	updated=needed
fi
update() {
	echo "fetch: apt-get update"
	# An index that fails (a mirror mid-sync, typically one architecture's
	# security index) does not stop us: what counts is that the packages
	# below download.
	$SUDO apt-get update -q >"$dir/apt-update.log" 2>&1 ||
		echo "fetch: apt-get update reported errors (see $dir/apt-update.log); trying the downloads anyway"
	updated=yes
}
[ $updated = needed ] && update

# The newest 686 kernel: the one the linux-image-686 metapackage points at,
# else the highest version number among linux-image-6.1.0-N-686.
kernel_pkg() {
	k=$(apt-cache depends linux-image-686:i386 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-686\)\(:i386\)\{0,1\}$/\1/p' | head -n 1)
	[ -n "$k" ] || k=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-686$' 2>/dev/null |
		cut -d' ' -f1 | sort -V | tail -n 1)
	echo "$k"
}

download() {
	kernel=$(kernel_pkg)
	[ -n "$kernel" ] || return 1
	echo "fetch: apt-get download $kernel:i386 busybox-static:i386 memtest86+ isolinux syslinux-common"
	# As root apt cannot drop to its _apt user in a directory _apt cannot
	# write; downloading as root is what we mean there.
	(cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root \
		"$kernel:i386" busybox-static:i386 memtest86+ isolinux syslinux-common) \
		>"$dir/apt-download.log" 2>&1
}

# The newest .deb in debs/ whose name matches a glob, or nothing.
newest() { ls "$dir"/debs/$1 2>/dev/null | sort -V | tail -n 1; }

DEBS='linux-image-6.1.0-*-686_*_i386.deb busybox-static_*_i386.deb memtest86+_*.deb
isolinux_*.deb syslinux-common_*.deb'
have_all() {
	for g in $DEBS; do
		[ -n "$(newest "$g")" ] || return 1
	done
}

if ! have_all; then
	# Lists that are stale (a kernel the archive no longer serves) or lack
	# i386: update once and try again.
	if ! download; then
		if [ $updated = yes ]; then false; else update && download; fi || {
			tail -n 5 "$dir/apt-download.log" >&2 2>/dev/null
			fail "apt-get download failed (log: $dir/apt-download.log): the test guests come from Debian's archive, which must be reachable"
		}
	fi
	have_all || fail "the downloads in $dir/debs are incomplete (see $dir/apt-download.log)"
fi

# Unpack each package alone and keep only the files the tests use (the
# kernel package's modules are 200 MB we do not need).
rm -rf "$dir/x"
mkdir -p "$dir/x"
: >"$dir/versions.txt.new"
unpack() { # DEB NAME FILE-IN-PACKAGE OUTPUT
	rm -rf "$dir/x/$2"
	dpkg -x "$1" "$dir/x/$2" || fail "dpkg -x $1 failed"
	f=$(ls "$dir/x/$2"/$3 2>/dev/null | head -n 1)
	[ -n "$f" ] && [ -f "$f" ] || fail "$1 holds no $3"
	cp "$f" "$dir/$4.new"
	mv "$dir/$4.new" "$dir/$4"
	rm -rf "$dir/x/$2"
	echo "$(dpkg-deb -f "$1" Package) $(dpkg-deb -f "$1" Version) $(dpkg-deb -f "$1" Architecture)" \
		>>"$dir/versions.txt.new"
}
unpack "$(newest 'linux-image-6.1.0-*-686_*_i386.deb')" kernel 'boot/vmlinuz-*' vmlinuz
unpack "$(newest 'busybox-static_*_i386.deb')" busybox bin/busybox busybox
unpack "$(newest 'memtest86+_*.deb')" memtest boot/memtest86+ia32.bin memtest86+ia32.bin
unpack "$(newest 'isolinux_*.deb')" isolinux usr/lib/ISOLINUX/isolinux.bin isolinux.bin
unpack "$(newest 'syslinux-common_*.deb')" syslinux usr/lib/syslinux/modules/bios/ldlinux.c32 ldlinux.c32
chmod 755 "$dir/busybox"
rmdir "$dir/x"
mv "$dir/versions.txt.new" "$dir/versions.txt"
echo "fetch: guests ready in $dir:"
sed 's/^/  /' "$dir/versions.txt"
