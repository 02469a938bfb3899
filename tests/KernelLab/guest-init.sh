#!/bin/busybox sh
# PID 1 of the lab guest, from the initramfs that `lab.sh setup` builds (busybox only).
# It mounts this host's root read-only over virtio-9p under a tmpfs overlay, mounts the per-run
# "xfer" share at /run/lab, chroots into the result to run /run/lab/guest-run.sh (written by
# `lab.sh run` for every boot), and powers off. It stays small and generic on purpose: what changes
# per run lives in guest-run.sh, so editing that file never needs a new initramfs.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# Messages go to the console log (ttyS0), which the host prints when the guest fails.
say() { echo "lab-init: $* (uptime $(cut -d' ' -f1 /proc/uptime)s)" > /dev/console; }
# Without /run/lab/rc the host reports a lab failure (exit 125) with the console tail.
die() { say "FAILED: $*"; poweroff -f; sleep 10; }

# 9p, virtio-9p and overlayfs are modules in Debian's kernel; setup copies them here in load order.
for m in $(cat /lib/lab/modules.order); do
  insmod "/lib/lab/$m" || die "insmod $m"
done

O9P=trans=virtio,version=9p2000.L,msize=512000
R=/newroot
# cache=loose: the host root does not change under a run, and it makes file reads much cheaper.
mount -t 9p -o "$O9P,cache=loose,ro" hostroot /mnt/lower || die "mount of the host root over 9p"
mount -t tmpfs -o size=75%,mode=755 tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work "$R" ||
  die "overlay mount"
mount --bind /proc "$R/proc"
mount --bind /sys "$R/sys"
mount --bind /dev "$R/dev"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o mode=620,ptmxmode=666 devpts "$R/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
# The host's /run means nothing here; a fresh one also gives the guest a private place for fifos.
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mkdir -p "$R/run/lab"
# cache=none: the host reads rc/times right after power-off, so writes must not linger here.
mount -t 9p -o "$O9P,cache=none" xfer "$R/run/lab" || die "mount of the xfer share"

say "root ready"
chroot "$R" /bin/bash /run/lab/guest-run.sh
say "guest-run.sh ended with $?"
sync
poweroff -f
sleep 10
