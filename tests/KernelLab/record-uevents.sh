#!/bin/bash
# Records the kernel's uevents (NETLINK_KOBJECT_UEVENT, group 1) around vDPA device lifecycles into
# .uevents files (the .nlrec line format: one "recv HEX" line a datagram, a "#" line above each saying what it is), for the core's
# uevent parser tests. Runs as root in the lab guest: lab.sh run -k SERIES -m vduse,sim -o DIR -- bash tests/KernelLab/record-uevents.sh DIR
# (then copy DIR/*.uevents to tests/VdpaPS.Netlink.Tests/Fixtures/uevents/SERIES)
set -uo pipefail
out=${1:?output folder}
mods=${VDPAPS_LAB_MODROOT:?run in the lab}
mp() { modprobe -C /dev/null -d "$mods" "$@"; }
settle() { sleep 1; }

# The recorder: one raw datagram at a time, written as it comes; stops when its stop file appears.
record() {
  python3 - "$1" <<'PY'
import socket, sys, os, select
path = sys.argv[1]
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 15)
s.bind((0, 1))
open(path + ".ready", "w").close()
with open(path, "w") as f:
    f.write("# %s: recorded from Linux %s (NETLINK_KOBJECT_UEVENT group 1)\n" % (os.path.basename(path).rsplit(".", 1)[0], os.uname().release))
    while not os.path.exists(path + ".stop"):
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        data, addr = s.recvfrom(65536)
        fields = data.split(b"\0")
        props = dict(x.split(b"=", 1) for x in fields[1:] if b"=" in x)
        f.write("# %s %s\n" % (fields[0].decode(), props.get(b"SUBSYSTEM", b"").decode()))
        f.write("recv %s\n" % data.hex())
        f.flush()
PY
}

scenario() {
  local name=$1; shift
  local file="$out/$name.uevents"
  rm -f "$file" "$file.stop" "$file.ready"
  record "$file" &
  local pid=$!
  for _ in $(seq 100); do [ -e "$file.ready" ] && break; sleep 0.1; done
  "$@"
  settle
  touch "$file.stop"
  wait "$pid"
  rm -f "$file.stop" "$file.ready"
  echo "== $name: $(grep -c '^recv' "$file") uevents"
  grep '^# [a-z]' "$file"
}

echo 0 > /sys/bus/vdpa/drivers_autoprobe
mp vhost_vdpa; mp virtio_vdpa; mp virtio_net; mp virtio_blk

# A device's whole life with a driver: add, bind, unbind, remove; with -k it is removed while still bound.
lifecycle() {
  local name=$1 parent=$2 driver=$3 keep=${4:-}
  vdpa dev add name "$name" mgmtdev "$parent"; settle
  echo "$name" > "/sys/bus/vdpa/drivers/$driver/bind"; settle
  if [ "$keep" != -k ]; then echo "$name" > "/sys/bus/vdpa/drivers/$driver/unbind"; settle; fi
  vdpa dev del "$name"
}
parent_module() {
  modprobe -C /dev/null -d "$mods" -r vdpa_sim_blk; settle
  mp vdpa_sim_blk
}
scenario uevents-net-vhost lifecycle ev-n0 vdpasim_net vhost_vdpa
scenario uevents-net-virtio lifecycle ev-n1 vdpasim_net virtio_vdpa
scenario uevents-blk-virtio lifecycle ev-b0 vdpasim_blk virtio_vdpa
# Removed while bound: the kernel unbinds on the way out.
scenario uevents-blk-bound-removed lifecycle ev-b1 vdpasim_blk virtio_vdpa -k
scenario uevents-parent-module parent_module
