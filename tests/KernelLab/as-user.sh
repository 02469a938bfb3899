#!/bin/bash
# as-user.sh - run a command as an unprivileged user inside the lab guest: uid/gid 65534 (nobody),
# no supplementary groups, no capabilities (or only the one --cap names), HOME=/tmp/vdpaps-nobody (writable, kept for the boot).
#
#   bash tests/KernelLab/as-user.sh COMMAND [ARGS...]       # exits with COMMAND's exit code
#   bash tests/KernelLab/as-user.sh --cap net_admin COMMAND  # the same user with that one capability (ambient: kept
#                                                      # across exec), as an operator who may change devices
#   bash tests/KernelLab/as-user.sh dotnet pwsh -NoProfile -c 'whoami'
#   from pwsh as root: & bash ./tests/KernelLab/as-user.sh dotnet pwsh -NoProfile -c '...'
#
# It starts as root in the guest and only works there: to let the user reach the dotnet tool
# packages that `dotnet tool restore` left under /root, it makes /root (and the folders above the
# current directory and NUGET_PACKAGES) traversable; in the guest that change lands in the tmpfs
# overlay and is gone at power-off, on a real machine it would not be. Exit 125: refused.
set -euo pipefail

fail() { echo "as-user.sh: $*" >&2; exit 125; }
[ -e /run/vdpaps-lab-guest ] || fail "only for the lab guest (it changes permissions under /root); use lab.sh run"
((EUID == 0)) || fail "must be started as root"
caps=(--inh-caps=-all)
if [ "${1:-}" = --cap ]; then
  [[ "${2:-}" =~ ^[a-z_]+$ ]] || fail "--cap takes a capability name (net_admin)"
  caps=(--inh-caps="+$2" --ambient-caps="+$2")
  shift 2
fi
(($#)) || fail "usage: as-user.sh [--cap NAME] COMMAND [ARGS...]"

uid=65534
gid=65534
home=/tmp/vdpaps-nobody
packages=${NUGET_PACKAGES:-/root/.nuget/packages}

# o+x on a folder and each folder above it, so the user can walk down to it (reading needs no more:
# the host's files are world-readable where it matters).
traversable() {
  local d=$1
  while [ -n "$d" ] && [ "$d" != / ]; do
    [ -d "$d" ] && chmod o+x "$d"
    d=$(dirname "$d")
  done
}
traversable "$PWD"
traversable "$packages"

if [ ! -d "$home" ]; then
  mkdir -p "$home/.dotnet"
  # `dotnet pwsh` finds the restored local tool through toolResolverCache in the user's HOME; the
  # first-use sentinels keep the SDK from running its first-use checks (and warning) as this user.
  for f in /root/.dotnet/toolResolverCache /root/.dotnet/*.dotnetFirstUseSentinel /root/.dotnet/*.toolpath.sentinel; do
    if [ -e "$f" ]; then cp -r "$f" "$home/.dotnet/"; fi
  done
  chown -R "$uid:$gid" "$home"
  chmod 700 "$home"
fi

exec setpriv --reuid="$uid" --regid="$gid" --clear-groups "${caps[@]}" \
  env HOME="$home" USER=nobody LOGNAME=nobody NUGET_PACKAGES="$packages" "$@"
