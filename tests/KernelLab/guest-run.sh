#!/bin/bash
# Runs inside the lab guest as root (chrooted into the host-root overlay by guest-init.sh), from
# /run/lab, the per-run share that `lab.sh run` filled: loads the kernel modules asked for, mounts
# the -o share, runs the caller's command with `bash -c` in the caller's directory, and writes its
# exit code to /run/lab/rc. Everything the command prints goes to the second serial port (ttyS1),
# which the host streams to its stdout.
# No `set -e`: every failure here must still end in an rc file and a message, not a silent stop.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
L=/run/lab

# The output channel: raw, so the tty neither rewrites newlines nor echoes.
exec 3>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo
exec 2>&3

uptime_s() { cut -d' ' -f1 /proc/uptime; }
lab_fail() {
  echo "lab: $*" >&2
  stty -F /dev/ttyS1 raw -echo   # drains the tty: TCSADRAIN waits until the message is out
  echo 125 > "$L/rc.tmp" && mv "$L/rc.tmp" "$L/rc"
  exit 125
}

cwd=$(cat "$L/cwd")
mods=$(cat "$L/mods")
modroot=$(cat "$L/modroot")
outdir=$(cat "$L/outdir")

hostname vdpaps-lab
ip link set lo up 2>/dev/null || true
# Marks the guest for helpers such as as-user.sh that change things only a throwaway guest may.
: > /run/vdpaps-lab-guest

# modprobe from the host's kmod, on the module tree setup built (Debian's modules plus the
# simulator); -C /dev/null keeps the host's modprobe.d out of it.
load() {
  local m
  for m in "$@"; do
    modprobe -C /dev/null -d "$modroot" "$m" || lab_fail "could not load kernel module '$m' (see dmesg)"
  done
}
# The virtio-pci functions lab.sh added for -m pci (their addresses in $L/pci) move from virtio-pci
# to vp-vdpa (the PCI driver's name; the module is vp_vdpa), each becoming mgmtdev pci/<address>.
pci_parents() {
  local bdf d drv
  [ -s "$L/pci" ] || lab_fail "-m pci: lab.sh added no PCI functions ($L/pci is missing)"
  load vdpa virtio_pci vp_vdpa
  for bdf in $(cat "$L/pci"); do
    d=/sys/bus/pci/devices/$bdf
    [ -e "$d" ] || lab_fail "-m pci: no PCI function $bdf in the guest (lspci: see /sys/bus/pci/devices)"
    if [ -e "$d/driver" ]; then echo "$bdf" > "$d/driver/unbind" || lab_fail "-m pci: could not unbind $bdf"; fi
    echo vp-vdpa > "$d/driver_override"
    echo "$bdf" > /sys/bus/pci/drivers_probe
    drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
    [ "$drv" = vp-vdpa ] || lab_fail "-m pci: $bdf did not bind to vp-vdpa (driver '${drv:-none}'; see dmesg)"
  done
}

# -m sriov: the physical functions lab.sh gave qemu 11 ($L/sriov: address and total VFs, pairs) stay
# on virtio-pci with virtio_net loaded, so they can make VFs at once (virtio-pci's sriov_configure
# wants the device live: without a virtio driver it says EBUSY); vp_vdpa is loaded for the VFs.
sriov_pfs() {
  local bdf total d
  [ -s "$L/sriov" ] || lab_fail "-m sriov: lab.sh added no physical functions ($L/sriov is missing)"
  load vdpa virtio_pci vp_vdpa virtio_net
  set -- $(cat "$L/sriov")
  while (($# >= 2)); do
    bdf=$1 total=$2; shift 2
    d=/sys/bus/pci/devices/$bdf
    [ "$(cat "$d/sriov_totalvfs" 2>/dev/null)" = "$total" ] ||
      lab_fail "-m sriov: $bdf is not a PF with $total VFs (sriov_totalvfs '$(cat "$d/sriov_totalvfs" 2>&1)')"
  done
}

IFS=, read -r -a modlist <<< "$mods"
for m in "${modlist[@]}"; do
  case "$m" in
    "") ;;
    vduse) load vduse ;;                                  # mgmtdev "vduse", /dev/vduse/control
    sim) load vdpa_sim_net vdpa_sim_blk ;;                # mgmtdevs "vdpasim_net", "vdpasim_blk"
    virtio) load virtio_vdpa virtio_net virtio_blk ;;     # binds new devices: virtioN, netdev/disk
    vhost) load vhost_vdpa ;;                             # /dev/vhost-vdpa-N when bound
    noprobe) load vdpa; echo 0 > /sys/bus/vdpa/drivers_autoprobe ;;
    pci) pci_parents ;;                                   # mgmtdevs pci/<address> (vp_vdpa)
    sriov) sriov_pfs ;;                                   # PFs 0000:01:00.0 (3 VFs), 0000:02:00.0 (1 VF)
    ssh) ;;                                               # sshd for PowerShell remoting: start_sshd, below
    *) load "$m" ;;
  esac
done

# The pinned PowerShell (lab.sh: pinned_pwsh): its ReadyToRun copy mounted over the package folder,
# so `dotnet pwsh` uses it too, and a `pwsh` command that skips the SDK's local-tool lookup.
if [ -s "$L/pwsh" ]; then
  { read -r pdir; read -r r2r || true; } < "$L/pwsh"
  if [ -n "${r2r:-}" ] && [ -d "$r2r" ]; then
    mount --bind "$r2r" "$pdir" || echo "lab: could not mount the ReadyToRun PowerShell; using the IL one" >&2
  fi
  if ! command -v pwsh > /dev/null; then
    printf '#!/bin/sh\nexec dotnet %s "$@"\n' "$(printf %q "$pdir/pwsh.dll")" > /usr/local/bin/pwsh
    chmod 755 /usr/local/bin/pwsh
  fi
fi

if [ -n "$outdir" ]; then
  mkdir -p "$outdir" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none out "$outdir" ||
    lab_fail "could not mount the -o share at $outdir"
fi
cd "$cwd" || lab_fail "the caller's directory $cwd does not exist in the guest"

# A clean environment, as a login would give, plus what the host passed on (lab.sh: passenv).
# DOTNET_TC_CallCounting=0: code stays as first compiled (ReadyToRun, or tier 0 with on-stack replacement for
# hot loops) and is never recompiled at tier 1. Under emulation that recompilation cost a fresh pwsh about 7 s of
# CPU after its start, and a long-lived one more than it ever won back: the end-to-end suite took 599 s against
# 839 s beside it, the 10,000 operations 41 s against 99 s (docs/lab.md, issue 26). A value the host passes wins.
envv=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root
      SHELL=/bin/bash TERM=dumb LANG=C.UTF-8
      DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
      DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 DOTNET_GENERATE_ASPNET_CERTIFICATE=false
      POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off
      DOTNET_TC_CallCounting=0
      VDPAPS_LAB=1 "VDPAPS_LAB_MODROOT=$modroot")
if [ -s "$L/env" ]; then
  mapfile -d '' -t extra < "$L/env"
  envv+=("${extra[@]}")
fi

# -m ...,ssh: PowerShell remoting over SSH to this guest (tests open sessions to 127.0.0.1 and to localhost,
# two names standing for two hosts). The host's sshd binary (lab.sh setup installs openssh-server) runs with
# its own config; host keys, the client key and known_hosts are made now in the guest's tmpfs, so nothing
# lasts beyond the boot or touches the host's /etc/ssh. The powershell subsystem is the guest's pwsh (the
# pinned one). The command gets the client key's path in VDPAPS_LAB_SSH_KEY.
start_sshd() {
  local S=/run/lab-ssh pw e
  pw=$(command -v pwsh) || lab_fail "-m ssh: no pwsh in the guest for the powershell subsystem (dotnet tool restore on the host)"
  [ -x /usr/sbin/sshd ] || lab_fail "-m ssh: /usr/sbin/sshd is missing on the host (lab.sh setup installs openssh-server)"
  mkdir -p -m 700 "$S" /root/.ssh && mkdir -p -m 755 /run/sshd || lab_fail "-m ssh: cannot create $S"
  ssh-keygen -q -t ed25519 -N '' -C lab-host -f "$S/host_ed25519" &&
    ssh-keygen -q -t ed25519 -N '' -C lab-client -f "$S/client_ed25519" || lab_fail "-m ssh: ssh-keygen failed"
  cp "$S/client_ed25519.pub" "$S/authorized_keys"
  # Both names the tests use, so the client never asks whether to trust the key.
  echo "127.0.0.1,localhost $(cut -d' ' -f1,2 "$S/host_ed25519.pub")" > /root/.ssh/known_hosts
  {
    echo "ListenAddress 127.0.0.1"
    echo "HostKey $S/host_ed25519"
    echo "AuthorizedKeysFile $S/authorized_keys"
    echo "PidFile $S/sshd.pid"
    echo "PermitRootLogin prohibit-password"
    echo "PasswordAuthentication no"
    echo "KbdInteractiveAuthentication no"
    echo "UsePAM no"
    # Under emulation on a loaded machine a login can take longer than sshd's default 120 s grace: seen as
    # "Connection reset by 127.0.0.1 port 22" while a session opened. Only this guest's loopback reaches it.
    echo "LoginGraceTime 0"
    # Remote pwsh gets the lab's environment (telemetry off, VDPAPS_LAB_*), as the command does.
    for e in "${envv[@]}"; do
      case "$e" in PATH=*|HOME=*|USER=*|LOGNAME=*|SHELL=*|*\"*|*' '*) ;; *) echo "SetEnv \"$e\"" ;; esac
    done
    echo "Subsystem powershell $pw -sshs -NoLogo"
  } > "$S/sshd_config"
  /usr/sbin/sshd -f "$S/sshd_config" -E "$S/sshd.log" || lab_fail "-m ssh: sshd did not start: $(tail -3 "$S/sshd.log" 2>/dev/null)"
  for _ in $(seq 100); do
    (: < /dev/tcp/127.0.0.1/22) 2>/dev/null && break
    sleep 0.1
  done
  (: < /dev/tcp/127.0.0.1/22) 2>/dev/null || lab_fail "-m ssh: sshd does not listen on 127.0.0.1:22: $(tail -3 "$S/sshd.log" 2>/dev/null)"
  envv+=("VDPAPS_LAB_SSH_KEY=$S/client_ed25519")
}
[[ ",$mods," != *,ssh,* ]] || start_sshd

# The command writes into a pipe, as under CI, not into the tty. A reader copies it to ttyS1; it is
# not waited for forever, because a daemon the command left behind may hold the pipe open.
mkfifo /run/lab-out
cat /run/lab-out >&3 &
reader=$!
echo "$(uptime_s)" > "$L/t-start"
env -i "${envv[@]}" /bin/bash -c "$(cat "$L/cmd")" < /dev/null > /run/lab-out 2>&1
rc=$?
echo "$(uptime_s)" > "$L/t-end"
for _ in $(seq 50); do kill -0 "$reader" 2>/dev/null || break; sleep 0.1; done
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
stty -F /dev/ttyS1 raw -echo   # drain (TCSADRAIN) before the power goes off
echo "$rc" > "$L/rc.tmp" && mv "$L/rc.tmp" "$L/rc"
