#!/bin/bash
# Records the sysfs layout of the lab's SR-IOV physical functions (-m sriov) with VFs made and bound to vp-vdpa, as
# lines the xUnit tests rebuild a tree from (tests/VdpaPS.Netlink.Tests/Fixtures/sriov-sysfs.txt for 6.12,
# Fixtures/6.1/sriov-sysfs.txt for 6.1):
#   L PATH -> TARGET   a symbolic link, as readlink gives it
#   F PATH VALUE       a file's first line
#   D PATH             a directory
# PATH is relative to /sys. Run in the lab as root: bash tests/KernelLab/record-sriov-sysfs.sh > FILE
# Leaves the PFs as it found them (no VFs, autoprobe on).
set -euo pipefail
[ -e /run/vdpaps-lab-guest ] || { echo "record-sriov-sysfs.sh: runs in the lab guest only" >&2; exit 125; }
pf1=0000:01:00.0
P=/sys/bus/pci/devices
echo 0 > $P/$pf1/sriov_drivers_autoprobe
echo 3 > $P/$pf1/sriov_numvfs
for vf in 0000:01:00.1 0000:01:00.2 0000:01:00.3; do
  echo vp-vdpa > $P/$vf/driver_override
  echo $vf > /sys/bus/pci/drivers_probe
done
echo 1 > $P/$pf1/sriov_drivers_autoprobe
for a in $pf1 0000:02:00.0 0000:01:00.1 0000:01:00.2 0000:01:00.3; do
  echo "L bus/pci/devices/$a -> $(readlink $P/$a)"
  d=$(readlink -f $P/$a); r=${d#/sys/}
  echo "D $r"
  for f in sriov_totalvfs sriov_numvfs sriov_drivers_autoprobe numa_node driver_override; do
    [ -f "$d/$f" ] && echo "F $r/$f $(head -1 "$d/$f")"
  done
  for l in "$d"/driver "$d"/physfn "$d"/virtfn*; do
    [ -L "$l" ] && echo "L ${l#/sys/} -> $(readlink "$l")"
  done
  for n in "$d"/virtio*/net/* "$d"/net/*; do
    [ -e "$n" ] && echo "D ${n#/sys/}"
  done
done
for drv in vp-vdpa virtio-pci pcieport; do echo "D bus/pci/drivers/$drv"; done
echo 0 > $P/$pf1/sriov_numvfs
