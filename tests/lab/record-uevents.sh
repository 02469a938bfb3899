#!/bin/bash
# Records the kernel's uevents (NETLINK_KOBJECT_UEVENT, group 1) around vDPA device lifecycles into
# .uevents files (the .nlrec line format: one "recv HEX" line a datagram, a "#" line above each saying what it is), for the core's
# uevent parser tests. Runs as root in the lab guest: lab.sh run -k SERIES -m vduse,sim -o DIR -- bash tests/lab/record-uevents.sh DIR
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

net_vhost() {
  vdpa dev add name ev-n0 mgmtdev vdpasim_net; settle
  echo ev-n0 > /sys/bus/vdpa/drivers/vhost_vdpa/bind; settle
  echo ev-n0 > /sys/bus/vdpa/drivers/vhost_vdpa/unbind; settle
  vdpa dev del ev-n0
}
net_virtio() {
  vdpa dev add name ev-n1 mgmtdev vdpasim_net; settle
  echo ev-n1 > /sys/bus/vdpa/drivers/virtio_vdpa/bind; settle
  echo ev-n1 > /sys/bus/vdpa/drivers/virtio_vdpa/unbind; settle
  vdpa dev del ev-n1
}
blk_virtio() {
  vdpa dev add name ev-b0 mgmtdev vdpasim_blk; settle
  echo ev-b0 > /sys/bus/vdpa/drivers/virtio_vdpa/bind; settle
  echo ev-b0 > /sys/bus/vdpa/drivers/virtio_vdpa/unbind; settle
  vdpa dev del ev-b0
}
blk_bound_removed() {
  # Removed while bound: the kernel unbinds on the way out.
  vdpa dev add name ev-b1 mgmtdev vdpasim_blk; settle
  echo ev-b1 > /sys/bus/vdpa/drivers/virtio_vdpa/bind; settle
  vdpa dev del ev-b1
}
parent_module() {
  modprobe -C /dev/null -d "$mods" -r vdpa_sim_blk; settle
  mp vdpa_sim_blk
}
scenario uevents-net-vhost net_vhost
scenario uevents-net-virtio net_virtio
scenario uevents-blk-virtio blk_virtio
scenario uevents-blk-bound-removed blk_bound_removed
scenario uevents-parent-module parent_module
