#!/bin/sh
# Install timing, end to end: boot an installer CD, let it install a system
# onto an empty hard disk and reboot, and time it all from power-on to the
# installed system's first boot.
#
#   examples/install-timing/run.sh [OUTDIR]     (default: ./install-timing.out)
#
# The installer (installer.asm) is a toy: it copies pcvm's demo guest onto
# the disk with INT 13h and resets the machine. The boot order "cd" tries
# the disk first, which is empty the first time, so the CD boots; after the
# reboot the disk has a boot sector and boots. install.script marks the
# milestones and ends the run; --report writes them with host and guest
# times. Needs nasm, xorriso and python3 (all in `make deps`).
# PCVM names the pcvm binary (default: pcvm on the PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-install-timing.out}
pcvm=${PCVM:-pcvm}
mkdir -p "$out/iso"

# The system to install (the demo guest) and the installer CD around it.
nasm -f bin -o "$out/system.img" "$here/../demo/demo.asm"
nasm -f bin -i "$out/" -o "$out/iso/installer.bin" "$here/installer.asm"
sectors=$(( $(stat -c %s "$out/iso/installer.bin") / 512 ))
xorriso -as mkisofs -quiet -V PCVM_INSTALL -b installer.bin -no-emul-boot \
	-boot-load-size "$sectors" -o "$out/install.iso" "$out/iso" 2>"$out/xorriso.log" ||
	{ cat "$out/xorriso.log" >&2; exit 1; }

# An empty 64 MiB disk to install onto.
"$pcvm" img create -f qcow2 "$out/disk.qcow2" 64M >/dev/null

# The run: headless, COM1 to a log, the script decides when it is over.
status=0
"$pcvm" --display none --serial "file:$out/com1.log" \
	--cdrom "$out/install.iso" --hda "$out/disk.qcow2" --boot cd \
	--script "$here/install.script" --report "$out/report.json" \
	--timeout 300 --screenshot "$out/last.png" || status=$?
if [ "$status" != 0 ]; then
	echo "install-timing: pcvm ended with status $status; see $out/com1.log" >&2
	exit "$status"
fi

# The figures, from the report.
python3 - "$out/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
m = {}
for e in r["milestones"]:
    key = e.get("detail") if e["event"] == "mark" else e["event"]
    m.setdefault(key, e)
def span(a, b, t):
    return m[b][t] - m[a][t]
print("install-timing: power-on to installer start %.3f s, install %.3f s, "
      "reboot to first boot %.3f s, total %.3f s (host time)" % (
      span("first-instruction", "install-start", "host_s"),
      span("install-start", "installed", "host_s"),
      span("installed", "first-boot", "host_s"),
      span("first-instruction", "first-boot", "host_s")))
print("install-timing: the same in guest time: %.3f s, %.3f s, %.3f s, %.3f s" % (
      span("first-instruction", "install-start", "guest_s"),
      span("install-start", "installed", "guest_s"),
      span("installed", "first-boot", "guest_s"),
      span("first-instruction", "first-boot", "guest_s")))
EOF
