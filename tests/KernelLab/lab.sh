#!/bin/bash
# lab.sh - run one command against a real Linux kernel (Debian's 6.12 or 6.1 series) with vdpa,
# vduse, the vdpa simulator and vp_vdpa, booted under qemu with software emulation (no KVM: the
# build machines' own kernel has no vdpa and no module support). The guest sees this host's root
# read-only over virtio-9p under a tmpfs overlay, so the host's dotnet, pwsh and iproute2 run in it
# unchanged. See docs/lab.md.
#
#   lab.sh setup [-k SERIES]
#       Installs what is missing (qemu, compiler, kmod) with apt, fetches qemu 11 for -m sriov into the cache, downloads Debian's kernel packages
#       of SERIES (apt's candidate linux-source-SERIES version, recorded per series), builds vringh,
#       vdpa_sim, vdpa_sim_net, vdpa_sim_blk and vp_vdpa out of tree (on 6.1 also the vdpa core:
#       vdpa, vduse, vhost_vdpa, virtio_vdpa, which Debian's 6.1 config leaves out), the initramfs,
#       and a ReadyToRun copy of the pinned PowerShell for the guest. Everything is cached per
#       version in $VDPAPS_LAB_CACHE (default ~/.cache/vdpaps-lab), the series side by side; a warm
#       cache rebuilds nothing.
#   lab.sh plan [-k SERIES]
#       Prints what setup would install, download or build for SERIES, one line each, and changes
#       nothing; prints nothing when the lab is ready.
#   lab.sh run [-k SERIES] [-m MODS] [-t SECS] [-o DIR] [--] COMMAND...
#       Boots the kernel and runs COMMAND (its words joined by spaces) with `bash -c` as root in the
#       guest, in the caller's current directory. Its output (stdout and stderr together) streams
#       to this stdout; lab.sh exits with the command's exit code.
#       -k SERIES  6.12 (default) or 6.1; the guest gets VDPAPS_LAB_KERNEL=SERIES
#       -m MODS  comma list, loaded in this order (default vduse,sim):
#                vduse    vdpa + vduse             mgmtdev "vduse", /dev/vduse/control
#                sim      vringh + vdpa_sim_net/blk mgmtdevs "vdpasim_net", "vdpasim_blk"
#                virtio   virtio_vdpa + virtio_net/blk (binds new vdpa devices)
#                vhost    vhost_vdpa               (/dev/vhost-vdpa-N for devices bound to it)
#                noprobe  echo 0 > /sys/bus/vdpa/drivers_autoprobe
#                pci      vp_vdpa on qemu virtio-pci functions: mgmtdevs pci/0000:00:10.0 (net, mq),
#                         pci/0000:00:11.0 (net), pci/0000:00:12.0 (block), pci/0000:21:00.0 (net,
#                         behind a PCI expander bridge on NUMA node 1; the guest gets two nodes), the same
#                         addresses on the default machine (qemu 7.2) and on q35 (with sriov)
#                sriov    qemu 11 (setup fetches it) on q35 with two SR-IOV virtio-net PFs, 0000:01:00.0 (3 VFs)
#                         and 0000:02:00.0 (1 VF), on virtio-pci with virtio_net; vp_vdpa loaded for the VFs
#                All the words go together.
#                ssh      no module: sshd on 127.0.0.1 with pwsh as its powershell subsystem (PowerShell
#                         remoting; keys made per boot; the client key's path in VDPAPS_LAB_SSH_KEY)
#                NAME     any other module of the kernel package, with its dependencies
#       -t SECS  stop the guest after SECS seconds: exit 124 (default 1800)
#       -o DIR   host folder the guest can write to, mounted at the same absolute path
#   Exit codes of run: the command's own; 124 timeout; 125 the lab failed (not set up, bad usage,
#   module load failure, guest crash or kernel panic). Messages from lab.sh start with "lab:".
#   Environment: VDPAPS_LAB_CACHE, VDPAPS_LAB_KERNEL (the series when -k is not given),
#   VDPAPS_LAB_KPKG (force a Debian package version of the series),
#   VDPAPS_LAB_MEM (MiB, 3072), VDPAPS_LAB_SMP (2), VDPAPS_LAB_CPU (max), VDPAPS_LAB_APPEND (extra
#   kernel parameters), VDPAPS_LAB_PASSENV (names of more variables to pass into the guest; DOTNET_*,
#   NUGET_*, POWERSHELL_* and CI always are), VDPAPS_LAB_R2R=0 (no ReadyToRun PowerShell).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VDPAPS_LAB_CACHE:-${HOME:-/root}/.cache/vdpaps-lab}
# The Debian kernel series (linux-source-$KSERIES); -k overrides it.
KSERIES=${VDPAPS_LAB_KERNEL:-6.12}
STEP=starting

log() { echo "lab: $*" >&2; }
die() { log "$*"; exit 125; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# Say which step broke and how, instead of leaving a bare non-zero exit.
on_err() { log "FAILED while $STEP: '$2' exited $1 (line $3)"; }

# Values qemu reads from -option lists need doubled commas.
qarg() { printf '%s' "${1//,/,,}"; }

# A Debian package version such as 6.12.117-1~deb12u1, safe as a folder name.
version_dir() { local v=${1//\~/_}; printf '%s/k-%s' "$CACHE" "${v//:/.}"; }

# The series of a Debian kernel package version: 6.12.117-1~deb12u1 -> 6.12, 6.1.192-3 -> 6.1.
series_of() { local v=${1%%-*}; printf '%s' "${v%.*}"; }

# The two series the lab builds: 6.12 (vdpa in Debian's config) and 6.1 (vdpa core built here).
check_series() {
  case "$KSERIES" in
    6.1|6.12) ;;
    *) die "unknown kernel series '$KSERIES' (-k, VDPAPS_LAB_KERNEL): the lab has 6.12 and 6.1" ;;
  esac
}

# The version this series was last set up with. Caches from before series existed kept 6.12's in
# $CACHE/kpkg, which is still read (and left alone for older lab.sh copies sharing the cache).
recorded_kpkg() {
  local k
  k=$(cat "$CACHE/kpkg-$KSERIES" 2>/dev/null || true)
  if [ -z "$k" ] && [ "$KSERIES" = 6.12 ]; then
    k=$(cat "$CACHE/kpkg" 2>/dev/null || true)
    [ "$(series_of "$k")" = 6.12 ] || k=
  fi
  printf '%s' "$k"
}

# -------------------------------------------------------------------------------------------- setup

# The host packages setup needs that are not installed, one per line.
missing_host_packages() {
  # busybox-static is not installed: it conflicts with the busybox package that initramfs-tools
  # uses on a normal Debian box, so it is downloaded and unpacked into the cache instead.
  # openssh-server: its sshd runs in the guest only (-m ssh, PowerShell remoting), from the host's root.
  # btrfs-progs, xfsprogs: mkfs.btrfs and mkfs.xfs for the in-use tests (filesystems a major:minor match misses).
  local want=(qemu-system-x86 gcc-12 make binutils xz-utils kmod iproute2 util-linux openssh-server btrfs-progs xfsprogs) p have
  # One dpkg-query for all: it is the bulk of a warm setup's time otherwise.
  have=" $(dpkg-query -W -f='${Package}:${db:Status-Status} ' "${want[@]}" 2>/dev/null || true)"
  for p in "${want[@]}"; do
    [[ "$have" == *" $p:installed "* ]] || echo "$p"
  done
}

host_packages() {
  local need
  mapfile -t need < <(missing_host_packages)
  ((${#need[@]})) || return 0
  ((EUID == 0)) || die "these packages are missing and installing them needs root: ${need[*]}"
  STEP="installing ${need[*]} with apt-get"
  log "apt-get install ${need[*]} (--no-install-recommends)"
  local t0; t0=$(now)
  if [[ " ${need[*]} " == *" openssh-server "* ]] && [ ! -e /etc/ssh/sshd_not_to_be_run ]; then
    # The lab wants the sshd binary, not an SSH service on this host: Debian's ssh unit and init script start
    # nothing while this file exists, neither at the install nor at a later boot. Remove it to run sshd here.
    mkdir -p /etc/ssh
    echo "lab.sh (VdpaPS) installed openssh-server for its guest only; sshd is not to run on this host." > /etc/ssh/sshd_not_to_be_run
    log "openssh-server is for the lab guest only: /etc/ssh/sshd_not_to_be_run keeps sshd from starting on this host"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 || {
    log "apt-get install failed; updating the package lists and trying once more"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
  }
  log "installed ${need[*]} in $(since "$t0")s"
}

# apt's candidate linux-source-$KSERIES version. apt-cache takes a second or more on a busy machine, so
# the answer is kept until the package lists change (apt-get update touches their folder).
candidate_kpkg() {
  local stamp memo=$CACHE/candidate-$KSERIES
  stamp=$(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo none)
  if [ -f "$memo" ] && [ "$(cut -d' ' -f1 "$memo")" = "$stamp" ]; then
    cut -d' ' -f2 "$memo"
    return 0
  fi
  local c
  c=$(apt-cache policy "linux-source-$KSERIES" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" { print $2 }')
  if [ -n "$c" ]; then echo "$stamp $c" > "$memo"; fi
  printf '%s\n' "$c"
}

# Sets KPKG (Debian package version) for setup: forced, else apt's candidate, else the one recorded.
resolve_kpkg() {
  STEP="finding the kernel version"
  KPKG=${VDPAPS_LAB_KPKG:-}
  if [ -n "$KPKG" ]; then
    [ "$(series_of "$KPKG")" = "$KSERIES" ] || die "VDPAPS_LAB_KPKG=$KPKG is not a $KSERIES version (-k or VDPAPS_LAB_KERNEL)"
    return 0
  fi
  KPKG=$(candidate_kpkg)
  if [ -z "$KPKG" ] && ((EUID == 0)); then
    log "apt knows no linux-source-$KSERIES yet: apt-get update"
    apt-get update -q >&2 || log "apt-get update failed"
    KPKG=$(candidate_kpkg)
  fi
  if [ -z "$KPKG" ]; then
    KPKG=$(recorded_kpkg)
    [ -n "$KPKG" ] || die "apt offers no linux-source-$KSERIES package (is this Debian 12 with bookworm-security?)"
    log "apt offers no linux-source-$KSERIES; keeping the recorded $KPKG"
  fi
}

# `apt-cache show NAME=VERSION` exits 0 with no output when NAME exists in other versions only.
has_version() { [ -n "$(apt-cache show "$1=$2" 2>/dev/null)" ]; }

# Package names for KPKG. 6.12 (bookworm-security): the kernel ABI 6.12.117+deb12 is the upstream
# version plus +deb12, with linux-kbuild-<ABI>. 6.1 (bookworm's own): ABI names such as 6.1.0-57,
# found by asking which image package has this version, and one linux-kbuild-6.1 package.
resolve_names() {
  STEP="finding the package names of version $KPKG"
  KABI=${KPKG%%-*}+deb12
  KVER=$KABI-amd64
  if ! has_version "linux-image-$KVER-unsigned" "$KPKG"; then
    local n found= re=${KSERIES//./\\.}
    # Newest ABI first: the version asked for is nearly always the newest.
    for n in $(apt-cache search --names-only "^linux-image-$re\\..*-amd64-unsigned\$" | awk '{ print $1 }' |
               grep -Ev -- '-(cloud|rt)-amd64-unsigned$' | sort -rV); do
      if has_version "$n" "$KPKG"; then
        KVER=${n#linux-image-}; KVER=${KVER%-unsigned}; KABI=${KVER%-amd64}
        found=1
        break
      fi
    done
    [ -n "$found" ] || die "no linux-image-*-amd64-unsigned package of version $KPKG"
  fi
  KBUILD=linux-kbuild-$KABI
  has_version "$KBUILD" "$KPKG" || KBUILD=linux-kbuild-$KSERIES
}

download() {
  # apt-get download takes the exact versions; stale package lists are the usual reason it fails.
  local dl=$CACHE/debs pkgs=() p
  mkdir -p "$dl"
  for p in "linux-image-$KVER-unsigned" "linux-headers-$KVER" "linux-headers-$KABI-common" \
           "$KBUILD" "linux-source-$KSERIES"; do
    deb "$p" > /dev/null || pkgs+=("$p=$KPKG")
  done
  compgen -G "$dl/busybox-static_*.deb" > /dev/null || pkgs+=(busybox-static)
  ((${#pkgs[@]})) || return 0
  STEP="downloading ${pkgs[*]}"
  log "downloading ${pkgs[*]}"
  local t0; t0=$(now)
  if ! (cd "$dl" && apt-get download -qq "${pkgs[@]}" 2>&1 | { grep -v 'unsandboxed' >&2 || true; }; exit "${PIPESTATUS[0]}"); then
    ((EUID == 0)) || die "apt-get download failed"
    log "apt-get download failed; updating the package lists and trying once more"
    apt-get update -q >&2
    (cd "$dl" && apt-get download -qq "${pkgs[@]}" 2>&1 | { grep -v 'unsandboxed' >&2 || true; }; exit "${PIPESTATUS[0]}")
  fi
  log "downloaded $(du -shc "$dl"/*.deb | tail -1 | cut -f1) of packages in $(since "$t0")s"
}

# The version in a file name from apt-get download, which %-escapes characters such as ~ and :.
deb_version() {
  local v=${1##*/}
  v=${v#*_}; v=${v%_*.deb}
  printf '%b' "${v//%/\\x}"
}

# The downloaded .deb of package $1 at version KPKG.
deb() {
  local f
  for f in "$CACHE/debs/$1"_*.deb; do
    if [ -e "$f" ] && [ "$(deb_version "$f")" = "$KPKG" ]; then echo "$f"; return 0; fi
  done
  return 1
}

build_kernel_tree() {
  local V=$1 t0; t0=$(now)
  local mod=$V/modroot/lib/modules/$KVER
  if [ ! -f "$V/modroot.ok" ]; then
    STEP="unpacking linux-image-$KVER-unsigned"
    rm -rf "$V/modroot" "$V/boot"
    mkdir -p "$V/modroot" "$V/boot"
    # Every module, not only the vdpa ones, so `-m NAME` can load any module of the kernel.
    dpkg-deb --fsys-tarfile "$(deb "linux-image-$KVER-unsigned")" |
      tar -x -C "$V/modroot" --wildcards "./lib/modules/$KVER/*" "./boot/vmlinuz-$KVER" "./boot/config-$KVER"
    mv "$V/modroot/boot/vmlinuz-$KVER" "$V/boot/vmlinuz"
    mv "$V/modroot/boot/config-$KVER" "$V/boot/config"
    rmdir "$V/modroot/boot"
    touch "$V/modroot.ok"
    log "unpacked the kernel and its modules in $(since "$t0")s"
  fi

  # The out-of-tree modules, keyed by what is built: a cache set up before a module joined the list
  # builds again once. Debian leaves all of them out of its config:
  #   vdpa_sim{,_net,_blk}  the simulator; it needs vringh (CONFIG_VHOST_RING), so vringh too
  #   vp_vdpa               virtio-pci functions as vdpa parents (CONFIG_VP_VDPA); its vp_modern_*
  #                         helpers are in the kernel (CONFIG_VIRTIO_PCI_LIB)
  #   vdpa, vduse, vhost_vdpa, virtio_vdpa   only where the kernel has no CONFIG_VDPA (Debian's 6.1)
  local core= built=(vringh vdpa_sim vdpa_sim_net vdpa_sim_blk vp_vdpa) key
  grep -q '^CONFIG_VDPA=[ym]' "$V/boot/config" || core=1
  [ -z "$core" ] || built+=(vdpa vduse vhost_vdpa virtio_vdpa)
  key="${built[*]}"
  if [ "$(cat "$V/extra.ok" 2>/dev/null)" != "$key" ]; then
    local hdr=$V/hdr/usr/src/linux-headers-$KVER src=$V/simsrc S=linux-source-$KSERIES
    STEP="unpacking the kernel headers"
    t0=$(now)
    rm -rf "$V/hdr" "$src"
    mkdir -p "$V/hdr" "$src"
    local p
    for p in "linux-headers-$KVER" "linux-headers-$KABI-common" "$(cat "$V/kbuild" 2>/dev/null || echo "linux-kbuild-$KABI")"; do
      dpkg -x "$(deb "$p")" "$V/hdr"
    done
    # The flavour Makefile includes the common tree by its absolute /usr/src path.
    sed -i "s|^include /usr/src/|include $V/hdr/usr/src/|" "$hdr/Makefile"
    STEP="unpacking the module sources from $S"
    local srcs=("$S/drivers/vdpa/vdpa_sim/*" "$S/drivers/vhost/vringh.c" "$S/drivers/vdpa/virtio_pci/vp_vdpa.c")
    [ -z "$core" ] || srcs+=("$S/drivers/vdpa/vdpa.c" "$S/drivers/vdpa/vdpa_user/*" "$S/drivers/vhost/vdpa.c"
                             "$S/drivers/vhost/vhost.h" "$S/drivers/virtio/virtio_vdpa.c")
    dpkg-deb --fsys-tarfile "$(deb "$S")" | tar -xO "./usr/src/$S.tar.xz" | xz -dc -T0 |
      tar -x -C "$src" --strip-components=1 --wildcards "${srcs[@]}"
    log "unpacked headers and module sources in $(since "$t0")s"

    STEP="building ${built[*]} against the Debian headers"
    t0=$(now)
    local b=$V/simbuild
    rm -rf "$b"
    mkdir -p "$b"
    cp "$src"/drivers/vdpa/vdpa_sim/*.[ch] "$src/drivers/vhost/vringh.c" "$src/drivers/vdpa/virtio_pci/vp_vdpa.c" "$b/"
    # Our own Kbuild: upstream's Makefiles key these on config symbols Debian leaves unset.
    echo 'obj-m += vringh.o vdpa_sim.o vdpa_sim_net.o vdpa_sim_blk.o vp_vdpa.o' > "$b/Kbuild"
    if [ -n "$core" ]; then
      log "CONFIG_VDPA is not set in this kernel: building vdpa, vduse, vhost_vdpa and virtio_vdpa from $S too"
      cp "$src/drivers/vdpa/vdpa.c" "$src"/drivers/vdpa/vdpa_user/*.[ch] "$src/drivers/vhost/vhost.h" \
         "$src/drivers/virtio/virtio_vdpa.c" "$b/"
      # drivers/vhost/vdpa.c is vhost_vdpa's only source; it cannot be vdpa.c beside the core's.
      cp "$src/drivers/vhost/vdpa.c" "$b/vhost_vdpa_main.c"
      printf '%s\n' 'obj-m += vdpa.o vduse.o vhost_vdpa.o virtio_vdpa.o' 'vduse-y := vduse_dev.o iova_domain.o' \
        'vhost_vdpa-y := vhost_vdpa_main.o' >> "$b/Kbuild"
    fi
    # An empty CONFIG_DEBUG_INFO_BTF_MODULES skips BTF, which would need pahole (dwarves).
    make -s -C "$hdr" M="$b" CONFIG_DEBUG_INFO_BTF_MODULES= -j"$(nproc)" modules >&2
    mkdir -p "$mod/extra"
    local m
    for m in "${built[@]}"; do
      # Written aside and renamed: a guest of another run may be loading the old file.
      strip --strip-debug -o "$mod/extra/.$m.ko.tmp" "$b/$m.ko"
      mv "$mod/extra/.$m.ko.tmp" "$mod/extra/$m.ko"
    done
    echo "$key" > "$V/extra.ok"
    log "built ${built[*]} in $(since "$t0")s"
  fi

  if [ ! -f "$V/depmod.ok" ] || [ "$V/extra.ok" -nt "$V/depmod.ok" ]; then
    STEP="running depmod on the module tree"
    t0=$(now)
    depmod -b "$V/modroot" "$KVER"
    touch "$V/depmod.ok"
    log "depmod in $(since "$t0")s"
  fi

  if [ ! -x "$V/busybox" ]; then
    STEP="unpacking busybox-static"
    local bb; bb=$(mktemp -d)
    dpkg -x "$(compgen -G "$CACHE/debs/busybox-static_*.deb" | head -1)" "$bb"
    cp "$bb/bin/busybox" "$V/busybox"
    rm -rf "$bb"
  fi
}

build_initramfs() {
  local V=$1
  # The initramfs only has to mount the root: 9p over virtio and overlayfs, with their dependencies.
  # virtio_pci is built in on 6.12 (modprobe says "builtin": nothing to load) but a module on 6.1.
  local order
  STEP="finding the 9p and overlay modules"
  order=$(modprobe -C /dev/null -d "$V/modroot" -S "$KVER" --show-depends -a virtio_pci 9p 9pnet_virtio overlay |
          awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++')
  local key
  key=$({ sha256sum < "$HERE/guest-init.sh"; echo "$order"; sha256sum < "$V/busybox"; } | sha256sum | cut -c1-16)
  [ -f "$V/initrd.gz" ] && [ "$(cat "$V/initrd.key" 2>/dev/null)" = "$key" ] && return 0

  STEP="building the initramfs"
  local t0 r; t0=$(now)
  r=$(mktemp -d)
  mkdir -p "$r"/{bin,lib/lab,proc,sys,dev,mnt/lower,mnt/rw,newroot}
  cp "$V/busybox" "$r/bin/busybox"
  cp "$HERE/guest-init.sh" "$r/init"
  chmod 755 "$r/init"
  local f names=()
  for f in $order; do
    # busybox insmod wants plain ELF; the Debian modules are xz-compressed.
    local n; n=$(basename "$f"); n=${n%.xz}
    case "$f" in *.xz) xz -dc "$f" > "$r/lib/lab/$n" ;; *) cp "$f" "$r/lib/lab/$n" ;; esac
    names+=("$n")
  done
  printf '%s\n' "${names[@]}" > "$r/lib/lab/modules.order"
  (cd "$r" && find . | "$V/busybox" cpio -o -H newc 2>/dev/null | gzip -1 > "$V/initrd.gz.tmp")
  mv "$V/initrd.gz.tmp" "$V/initrd.gz"
  echo "$key" > "$V/initrd.key"
  rm -rf "$r"
  log "built the initramfs (${names[*]}) in $(since "$t0")s"
}

# The PowerShell that .config/dotnet-tools.json pins, as restored by `dotnet tool restore`: prints
# "VERSION DIR" (DIR holds pwsh.dll), or nothing when it is not restored.
pinned_pwsh() {
  local manifest=$HERE/../../.config/dotnet-tools.json ver dir
  [ -f "$manifest" ] || return 0
  ver=$(tr -d ' \t\r\n' < "$manifest" | grep -o '"powershell":{"version":"[^"]*"' | sed 's/.*"version":"//; s/"$//' || true)
  [ -n "$ver" ] || return 0
  dir=$(compgen -G "${NUGET_PACKAGES:-${HOME:-/root}/.nuget/packages}/powershell/$ver/tools/net*/any/unix/pwsh.dll" | head -1 || true)
  [ -n "$dir" ] || return 0
  echo "$ver $(dirname "$dir")"
}

# The PowerShell tool package is IL only, so each pwsh start in the guest JIT-compiles the engine
# under software emulation. A ReadyToRun-compiled copy, which `run` mounts over the package's
# folder in the guest, needs about half the CPU. Optional: without it the lab still works.
build_pwsh_r2r() {
  [ "${VDPAPS_LAB_R2R:-1}" != 0 ] || return 0
  local pinned ver dir rt out
  pinned=$(pinned_pwsh)
  if [ -z "$pinned" ]; then
    log "the pinned PowerShell is not restored yet (dotnet tool restore): no ReadyToRun copy, pwsh starts slower in the guest"
    return 0
  fi
  read -r ver dir <<< "$pinned"
  rt=$(dotnet --list-runtimes 2>/dev/null | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')
  out=$CACHE/pwsh-r2r/$ver-runtime-$rt
  [ -f "$out/.ready" ] && return 0
  STEP="ReadyToRun-compiling PowerShell $ver"
  log "ReadyToRun-compiling PowerShell $ver for the guest (once per version; VDPAPS_LAB_R2R=0 skips it)"
  local t0 b tfm; t0=$(now)
  b=$CACHE/pwsh-r2r/build
  tfm=$(basename "$(dirname "$(dirname "$dir")")")
  rm -rf "$b" "$out.tmp"
  mkdir -p "$b"
  # Empty Directory.* files stop MSBuild from picking up a repository's settings above the cache.
  local f
  for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do
    echo '<Project />' > "$b/$f"
  done
  printf '%s\n' '<Project Sdk="Microsoft.NET.Sdk">' '  <PropertyGroup>' \
    "    <TargetFramework>$tfm</TargetFramework>" \
    '    <RuntimeIdentifier>linux-x64</RuntimeIdentifier>' \
    '    <SelfContained>false</SelfContained>' \
    '    <PublishReadyToRun>true</PublishReadyToRun>' \
    '    <EnableDefaultItems>false</EnableDefaultItems>' \
    '    <GenerateDependencyFile>false</GenerateDependencyFile>' \
    '  </PropertyGroup>' '  <ItemGroup>' \
    "    <Reference Include=\"$dir/*.dll\" Private=\"true\" />" \
    '  </ItemGroup>' '</Project>' > "$b/pwsh-r2r.csproj"
  if ! dotnet publish "$b/pwsh-r2r.csproj" -c Release -o "$b/out" --nologo -v quiet > "$b/publish.log" 2>&1; then
    log "ReadyToRun compilation failed (see $b/publish.log); the guest uses the IL-only PowerShell"
    return 0
  fi
  cp -a "$dir" "$out.tmp"
  local n
  for f in "$b"/out/*.dll; do
    n=$(basename "$f")
    if [ -f "$out.tmp/$n" ]; then cp "$f" "$out.tmp/$n"; fi
  done
  touch "$out.tmp/.ready"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  rm -rf "$b"
  # Copies for other PowerShell or runtime versions are no longer used.
  for f in "$CACHE"/pwsh-r2r/*; do
    if [ "$f" != "$out" ]; then rm -rf "$f"; fi
  done
  log "PowerShell $ver ReadyToRun copy ready in $(since "$t0")s"
}

# -m sriov needs qemu's composable SR-IOV device (virtio-net-pci ... sriov-pf=ID), which Debian 12's
# qemu 7.2 lacks and trixie-backports' qemu 11 has. It is fetched with apt into $CACHE/qemu11 without
# touching the host's packages: a private sources list (the host's own Debian archive URIs with the
# trixie suites), private lists and cache folders and an empty dpkg status, so apt resolves the whole
# dependency closure; dpkg-deb -x unpacks it into one root, and run() starts the binary through that
# root's own loader (trixie's glibc is newer than the host's). Only boots with -m sriov use it.
Q11=$CACHE/qemu11

# The URIs of the host's Debian archive: the deb sources (deb822 .sources files or one-line
# sources.list entries) that carry this release's own suite (bookworm), not -security or -updates.
host_debian_uris() {
  local code f
  code=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
  [ -n "$code" ] || return 0
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # One stanza per blank-line-separated block: URIs of stanzas with Types deb and Suites naming $code.
    awk -v code="$code" 'BEGIN { RS = ""; FS = "\n" }
      { types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^[ \t]*#/) continue
          split($i, kv, ":"); k = tolower(kv[1]); v = substr($i, length(kv[1]) + 2)
          if (k == "types") types = v; else if (k == "uris") uris = v
          else if (k == "suites") suites = v; else if (k == "enabled") enabled = v }
        if (enabled ~ /no/ || (" " types " ") !~ /[ \t]deb[ \t]/) next
        if ((" " suites " ") !~ ("[ \t]" code "[ \t]")) next
        n = split(uris, u, /[ \t]+/); for (j = 1; j <= n; j++) if (u[j] != "") print u[j] }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    sed -E 's/\[[^]]*\]//' "$f" | awk -v code="$code" '$1 == "deb" && $3 == code { print $2 }'
  done
}

# apt with every folder private to $Q11/apt and nothing of the host's package state.
apt11() {
  local A=$Q11/apt
  apt-get -q -o Dir::Etc::SourceList="$A/sources.list" -o Dir::Etc::SourceParts="$A/empty" \
    -o Dir::Etc::Preferences="$A/empty/none" -o Dir::Etc::PreferencesParts="$A/empty" \
    -o Dir::State="$A/state" -o Dir::State::Lists="$A/state/lists" -o Dir::State::status="$A/status" \
    -o Dir::Cache="$A/cache" -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
    -o APT::Install-Recommends=false -o APT::Sandbox::User=root -o Debug::NoLocking=true "$@"
}

setup_qemu11() {
  [ -f "$Q11/ready" ] && return 0
  local t0 A=$Q11/apt uris u
  t0=$(now)
  STEP="finding the host's Debian archive for qemu 11"
  mapfile -t uris < <(host_debian_uris | awk '!seen[$0]++')
  ((${#uris[@]})) || die "-m sriov: no Debian archive in the host's apt sources (a deb entry for suite $(. /etc/os-release; echo "$VERSION_CODENAME")) to fetch trixie-backports' qemu from"
  rm -rf "$Q11"
  mkdir -p "$A/empty" "$A/state/lists/partial" "$A/cache/archives/partial" "$Q11/root"
  : > "$A/status"
  local key=/usr/share/keyrings/debian-archive-keyring.gpg
  for u in "${uris[@]}"; do
    echo "deb [signed-by=$key] $u trixie main"
    echo "deb [signed-by=$key] $u trixie-backports main"
  done > "$A/sources.list"
  STEP="fetching the trixie package lists for qemu 11"
  log "qemu 11 for -m sriov: apt-get update with a private sources list (trixie, trixie-backports)"
  apt11 -qq update >&2
  STEP="downloading qemu-system-x86 from trixie-backports"
  local t1; t1=$(now)
  apt11 -qq install -y --download-only -t trixie-backports qemu-system-x86 >&2
  local n; n=$(compgen -G "$A/cache/archives/*.deb" | wc -l)
  log "downloaded $n packages ($(du -shc "$A"/cache/archives/*.deb | tail -1 | cut -f1)) in $(since "$t1")s"
  STEP="unpacking qemu 11"
  t1=$(now)
  local f
  for f in "$A"/cache/archives/*.deb; do dpkg-deb -x "$f" "$Q11/root"; done
  [ -x "$Q11/root/usr/bin/qemu-system-x86_64" ] || die "-m sriov: no qemu-system-x86_64 in the unpacked packages"
  # It must start through its own loader and have the composable SR-IOV property.
  q11 -device virtio-net-pci,help 2>&1 | grep -q 'sriov-pf' ||
    die "-m sriov: the fetched qemu ($(q11 --version 2>&1 | head -1)) has no virtio-net-pci sriov-pf property"
  rm -rf "$A/cache" "$A/state"
  log "unpacked $(q11 --version | head -1) ($(du -sh "$Q11/root" | cut -f1)) in $(since "$t1")s"
  touch "$Q11/ready"
  log "qemu 11 ready in $Q11 in $(since "$t0")s"
}

# The command that starts qemu 11: its own loader, its libraries, the binary, its firmware.
q11_argv() {
  local R=$Q11/root
  Q11ARGV=("$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu"
    "$R/usr/bin/qemu-system-x86_64" -L "$R/usr/share/qemu" -L "$R/usr/share/seabios")
}
# Its loadable modules are found by QEMU_MODULE_DIR, not the host's qemu 7.2 ones.
q11() { q11_argv; QEMU_MODULE_DIR=$Q11/root/usr/lib/x86_64-linux-gnu/qemu "${Q11ARGV[@]}" "$@"; }

# setup and plan take the same arguments: -k SERIES.
series_args() {
  local word=$1; shift
  while (($#)); do
    case "$1" in
      -k) (($# >= 2)) || usage; KSERIES=$2; shift 2 ;;
      -h|--help) usage ;;
      *) log "unknown $word argument $1"; usage ;;
    esac
  done
  check_series
}

setup() {
  series_args setup "$@"
  local t0; t0=$(now)
  trap 'on_err $? "$BASH_COMMAND" $LINENO' ERR
  mkdir -p "$CACHE"
  exec 9> "$CACHE/.lock"
  flock -n 9 || { log "waiting for another lab.sh setup to finish"; flock 9; }

  host_packages
  setup_qemu11
  resolve_kpkg
  local V; V=$(version_dir "$KPKG")
  if [ -f "$V/ready" ]; then
    KVER=$(cat "$V/kver")
    KABI=${KVER%-amd64}
  else
    log "setting up kernel $KSERIES, package version $KPKG, in $V"
    resolve_names
    if ! download; then
      # A newer version apt lists but cannot fetch should not take away a working older one.
      local old; old=$(recorded_kpkg)
      if [ -n "$old" ] && [ "$old" != "$KPKG" ] && [ -f "$(version_dir "$old")/ready" ] && [ -z "${VDPAPS_LAB_KPKG:-}" ]; then
        log "could not fetch $KPKG; keeping the set-up $old"
        return 0
      fi
      die "could not download the kernel packages for $KPKG"
    fi
    mkdir -p "$V"
    echo "$KVER" > "$V/kver"
    echo "$KPKG" > "$V/kpkg"
    echo "$KBUILD" > "$V/kbuild"
  fi
  build_kernel_tree "$V"
  build_initramfs "$V"
  touch "$V/ready"
  build_pwsh_r2r
  if [ "$(cat "$CACHE/kpkg-$KSERIES" 2>/dev/null || true)" != "$KPKG" ]; then
    echo "$KPKG" > "$CACHE/kpkg-$KSERIES"
    prune "$V"
  fi
  STEP=done
  log "ready: kernel $KVER (Debian $KPKG), cache $CACHE, setup took $(since "$t0")s"
}

# What setup would do for SERIES, one line each, changing nothing (no apt-get update, no download):
# build.ps1 says it before a run starts. Prints nothing when the lab is ready.
plan() {
  series_args plan "$@"
  local need k
  mapfile -t need < <(missing_host_packages)
  ((${#need[@]} == 0)) || echo "install with apt-get (as root): ${need[*]}"
  k=${VDPAPS_LAB_KPKG:-$(candidate_kpkg 2>/dev/null || true)}
  [ -n "$k" ] || k=$(recorded_kpkg)
  if [ -z "$k" ]; then
    echo "kernel $KSERIES: run apt-get update to learn its version, then download Debian's kernel packages and build the vdpa modules"
  elif [ ! -f "$(version_dir "$k")/ready" ]; then
    echo "kernel $KSERIES: download Debian's kernel packages $k and build the vdpa modules and the initramfs into $CACHE (several minutes)"
  fi
  [ -f "$Q11/ready" ] || echo "qemu 11 for -m sriov: fetch qemu-system-x86 and its libraries from trixie-backports with a private apt into $Q11 (about 40 MB, once)"
  local pinned
  pinned=$(pinned_pwsh)
  if [ -n "$pinned" ] && [ "${VDPAPS_LAB_R2R:-1}" != 0 ] && ! compgen -G "$CACHE/pwsh-r2r/${pinned%% *}-runtime-*/.ready" > /dev/null; then
    echo "PowerShell ${pinned%% *}: a ReadyToRun copy for the guest (once per version)"
  fi
  return 0
}

# Keep one kernel per series: an older version's tree and packages only use disk once a newer one
# of the same series is ready. The other series, the shared busybox and PowerShell stay.
prune() {
  local keep=$1 d
  for d in "$CACHE"/k-*; do
    [ -d "$d" ] && [ "$d" != "$keep" ] || continue
    [ "$(series_of "$(cat "$d/kpkg" 2>/dev/null || echo "${d##*/k-}")")" = "$KSERIES" ] || continue
    log "removing the old $KSERIES kernel tree $d"
    rm -rf "$d"
  done
  for d in "$CACHE"/debs/linux-*.deb; do
    [ -e "$d" ] || continue
    local v; v=$(deb_version "$d")
    if [ "$v" != "$KPKG" ] && [ "$(series_of "$v")" = "$KSERIES" ]; then rm -f "$d"; fi
  done
  return 0
}

# ---------------------------------------------------------------------------------------------- run

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 125; }

run() {
  local mods=vduse,sim tmo=${VDPAPS_LAB_TIMEOUT:-1800} outdir= args=("$@")
  while (($#)); do
    case "$1" in
      -k) (($# >= 2)) || usage; KSERIES=$2; shift 2 ;;
      -m) (($# >= 2)) || usage; mods=$2; shift 2 ;;
      -t) (($# >= 2)) || usage; tmo=$2; shift 2 ;;
      -o) (($# >= 2)) || usage; outdir=$2; shift 2 ;;
      -h|--help) usage ;;
      --) shift; break ;;
      -*) log "unknown option $1"; usage ;;
      *) break ;;
    esac
  done
  (($#)) || { log "no command given"; usage; }
  [[ "$tmo" =~ ^[0-9]+$ ]] && ((tmo > 0)) || die "-t needs a number of seconds, not '$tmo'"
  [[ "$mods" =~ ^[A-Za-z0-9_,-]*$ ]] || die "-m takes a comma list of module names, not '$mods'"
  check_series

  local kpkg V
  kpkg=${VDPAPS_LAB_KPKG:-$(recorded_kpkg)}
  V=$(version_dir "${kpkg:-none}")
  [ -n "$kpkg" ] && [ -f "$V/ready" ] || die "the $KSERIES lab is not set up in $CACHE: run 'bash $0 setup -k $KSERIES' first"
  command -v qemu-system-x86_64 > /dev/null || die "qemu-system-x86_64 is missing: run 'bash $0 setup'"
  [[ ",$mods," != *,ssh,* ]] || [ -x /usr/sbin/sshd ] || die "-m ssh needs /usr/sbin/sshd (openssh-server): run 'bash $0 setup'"

  if [ -n "$outdir" ]; then
    mkdir -p "$outdir" || die "cannot create the -o folder $outdir"
    outdir=$(cd "$outdir" && pwd -P)
  fi

  local X
  X=$(mktemp -d "${TMPDIR:-/tmp}/vdpaps-lab.XXXXXX")
  # The command, its directory and its environment travel as files in the per-run share.
  printf '%s' "$*" > "$X/cmd"
  pwd -P > "$X/cwd"
  printf '%s' "$mods" > "$X/mods"
  printf '%s' "$outdir" > "$X/outdir"
  printf '%s' "$V/modroot" > "$X/modroot"
  cp "$HERE/guest-run.sh" "$X/guest-run.sh"
  # The pinned PowerShell: the guest gets a `pwsh` command for it, and its ReadyToRun copy if built.
  local pinned pver pdir r2r=
  pinned=$(pinned_pwsh)
  if [ -n "$pinned" ]; then
    read -r pver pdir <<< "$pinned"
    if [ "${VDPAPS_LAB_R2R:-1}" != 0 ]; then
      r2r=$(compgen -G "$CACHE/pwsh-r2r/$pver-runtime-*/.ready" | head -1 || true)
      r2r=${r2r%/.ready}
    fi
    printf '%s\n%s\n' "$pdir" "$r2r" > "$X/pwsh"
  fi
  local name
  : > "$X/env"
  for name in $(compgen -e | grep -E '^(DOTNET_|NUGET_|POWERSHELL_|CI$)' || true) ${VDPAPS_LAB_PASSENV:-}; do
    if [ -n "${!name+x}" ]; then printf '%s=%s\0' "$name" "${!name}" >> "$X/env"; fi
  done
  # Last, so nothing passed on can contradict it: which series the guest runs, for tests' messages.
  printf '%s=%s\0' VDPAPS_LAB_KERNEL "$KSERIES" >> "$X/env"
  mkfifo "$X/out"

  local append="console=ttyS0 quiet panic=-1 oops=panic ${VDPAPS_LAB_APPEND:-}"
  # With -m pci the CPUs are split over two NUMA nodes: one socket each, since CPUs sharing a cache
  # across nodes make the kernel warn (topology_sane) at boot.
  local smp=${VDPAPS_LAB_SMP:-2}
  [[ ",$mods," != *,pci,* ]] || smp="$smp,sockets=$smp,cores=1,threads=1"
  local qemu=(qemu-system-x86_64)
  if [[ ",$mods," == *,sriov,* ]]; then
    [ -f "$Q11/ready" ] || die "-m sriov needs qemu 11, which is not set up in $Q11: run 'bash $0 setup'"
    q11_argv
    qemu=("${Q11ARGV[@]}")
  fi
  qemu+=(-nodefaults -no-user-config -accel tcg -cpu "${VDPAPS_LAB_CPU:-max}"
    -m "${VDPAPS_LAB_MEM:-3072}" -smp "$smp" -display none -nic none -no-reboot
    -kernel "$V/boot/vmlinuz" -initrd "$V/initrd.gz" -append "$append"
    -serial "file:$(qarg "$X/console.log")" -serial "file:$(qarg "$X/out")"
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
    -virtfs "local,path=$(qarg "$X"),mount_tag=xfer,security_model=none")
  [ -z "$outdir" ] || qemu+=(-virtfs "local,path=$(qarg "$outdir"),mount_tag=out,security_model=none")
  # sriov needs PCI Express, so its boots are q35; pci lays its functions out for the machine it gets.
  local machine=pc
  [[ ",$mods," != *,sriov,* ]] || { machine=q35; qemu+=(-M q35); }
  [[ ",$mods," != *,pci,* ]] || pci_parents "$X" "$machine"
  [[ ",$mods," != *,sriov,* ]] || sriov_pfs "$X"

  local t0 qpid reader qrc=0
  t0=$(now)
  # The reader opens the fifo first; qemu's open of the write end then meets it. When qemu exits,
  # the reader sees end of file after the last byte.
  cat "$X/out" &
  reader=$!
  # qemu's stderr passes, less its warning about the PCI net functions having no network (-m pci).
  QEMU_MODULE_DIR=$Q11/root/usr/lib/x86_64-linux-gnu/qemu timeout -k 10 "$tmo" "${qemu[@]}" < /dev/null 2> >(grep --line-buffered -v 'warning: nic .* has no peer' >&2) &
  qpid=$!
  trap 'kill "$qpid" "$reader" 2>/dev/null; rm -rf "$X"; exit 130' INT TERM
  wait "$qpid" || qrc=$?
  # If qemu died before opening the fifo, the reader is still waiting in open(): release it.
  if kill -0 "$reader" 2>/dev/null; then exec 8<> "$X/out"; exec 8>&-; fi
  wait "$reader" || true
  trap - INT TERM

  local wall; wall=$(since "$t0")
  if [ -f "$X/rc" ]; then
    local rc ts te
    rc=$(cat "$X/rc")
    ts=$(cat "$X/t-start" 2>/dev/null || echo '?')
    te=$(cat "$X/t-end" 2>/dev/null || echo '?')
    log "exit $rc after ${wall}s (kernel $(cat "$V/kver"); guest uptime ${ts}s at the command, ${te}s at its end)"
    [ "$rc" != 125 ] || keep_console "$X"
    rm -rf "$X"
    exit "$rc"
  fi
  if ((qrc == 124)); then
    log "TIMEOUT: the guest ran longer than -t ${tmo}s and was stopped (exit 124). Console tail:"
    keep_console "$X"
    rm -rf "$X"
    exit 124
  fi
  log "the guest stopped without an exit code (kernel crash or panic? qemu exit $qrc, after ${wall}s). Console tail:"
  keep_console "$X"
  # Software emulation very rarely crashes a boot before the command starts (seen once: int3 in sched_clock_cpu).
  # Nothing ran then, so one new boot is safe; a crash after the command started is reported as it is.
  if [ ! -f "$X/t-start" ] && [ -z "${VDPAPS_LAB_REBOOTED:-}" ]; then
    rm -rf "$X"
    log "the command had not started: booting once more"
    VDPAPS_LAB_REBOOTED=1 exec bash "$HERE/lab.sh" run "${args[@]}"
  fi
  rm -rf "$X"
  exit 125
}

# -m pci: virtio-pci functions that the guest (guest-run.sh) moves from virtio-pci to vp-vdpa, so
# they become vdpa parents pci/<address>. Tests name these addresses: keep them. The net functions
# need no network backend (no peer; run() drops qemu's warning about that). Without a multi-queue
# backend qemu gives one queue pair, so the mq function offers MQ with rx, tx and a control queue
# (max_supported_vqs 3) and needs 4 MSI-X vectors (2 queues + control + config). The block function is backed by a sparse raw file
# in the run's folder, removed with it. On q35 (-m sriov) the three sit on pcie.0 as plain PCI functions of
# the root complex, transitional as on the default machine: the same features and queues on both.
pci_parents() {
  local X=$1 machine=$2 mem=${VDPAPS_LAB_MEM:-3072} smp=${VDPAPS_LAB_SMP:-2}
  local root=pci.0; [ "$machine" = pc ] || root=pcie.0
  truncate -s 64M "$X/pci-blk.img" || die "cannot create the block function's disk in $X"
  qemu+=(-device virtio-net-pci,bus=$root,addr=0x10,mac=52:54:00:00:10:00,mq=on,vectors=4
    -device virtio-net-pci,bus=$root,addr=0x11,mac=52:54:00:00:11:00,mq=off
    -drive "if=none,id=pciblk0,format=raw,file=$(qarg "$X/pci-blk.img")"
    -device virtio-blk-pci,bus=$root,addr=0x12,drive=pciblk0)
  # Two NUMA nodes (memory and CPUs split in halves) and a PCI expander bridge on node 1 whose root
  # bus is 0x20: the function behind it is 0000:21:00.0, with numa_node 1 in sysfs. On i440fx (pc)
  # the bridge (pxb) has a PCI-PCI bridge of its own, bus 0x21; on q35 a PCIe expander (pxb-pcie)
  # takes only root ports, so one root port at 20:00.0 gives bus 0x21. A function behind a PCIe port is
  # modern-only unless told otherwise: disable-legacy=off keeps it transitional, as the pc one is.
  local half=$((mem / 2)) n0=$(((smp + 1) / 2)) cpus1=
  ((smp <= n0)) || cpus1=",cpus=$n0-$((smp - 1))"
  qemu+=(-object "memory-backend-ram,id=mem0,size=${half}M" -object "memory-backend-ram,id=mem1,size=$((mem - half))M"
    -numa "node,nodeid=0,cpus=0-$((n0 - 1)),memdev=mem0" -numa "node,nodeid=1${cpus1},memdev=mem1")
  if [ "$machine" = pc ]; then
    qemu+=(-device pxb,id=pxb1,bus_nr=32,numa_node=1,bus=pci.0
      -device virtio-net-pci,bus=pxb1,addr=0x0,mac=52:54:00:00:21:00)
  else
    qemu+=(-device pxb-pcie,id=pxb1,bus_nr=32,numa_node=1,bus=pcie.0
      -device pcie-root-port,id=rp21,bus=pxb1,addr=0x0,chassis=21,slot=0
      -device virtio-net-pci,bus=rp21,addr=0x0,disable-legacy=off,mac=52:54:00:00:21:00)
  fi
  echo "0000:00:10.0 0000:00:11.0 0000:00:12.0 0000:21:00.0" > "$X/pci"
}

# -m sriov (qemu 11, setup_qemu11): machine q35 (run), since SR-IOV needs PCI Express, and two virtio-net
# physical functions, each alone on a PCIe root port of pcie.0 (bus 1 and bus 2; named, since a port
# without bus= would go on pci's expander, bus 0x20, when there is one): 0000:01:00.0 can make 3 VFs
# (01:00.1-3), 0000:02:00.0 one (02:00.1). qemu's composable SR-IOV device: each VF is a virtio-net-pci
# naming its PF (sriov-pf=ID), given before the PF. Tests name these addresses: keep them.
sriov_pfs() {
  local X=$1
  qemu+=(-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1
    -device virtio-net-pci,bus=rp1,addr=0x0.0x3,sriov-pf=pf1,mac=52:54:00:00:31:03
    -device virtio-net-pci,bus=rp1,addr=0x0.0x2,sriov-pf=pf1,mac=52:54:00:00:31:02
    -device virtio-net-pci,bus=rp1,addr=0x0.0x1,sriov-pf=pf1,mac=52:54:00:00:31:01
    -device virtio-net-pci,bus=rp1,addr=0x0.0x0,id=pf1,mac=52:54:00:00:31:00
    -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2
    -device virtio-net-pci,bus=rp2,addr=0x0.0x1,sriov-pf=pf2,mac=52:54:00:00:32:01
    -device virtio-net-pci,bus=rp2,addr=0x0.0x0,id=pf2,mac=52:54:00:00:32:00)
  echo "0000:01:00.0 3 0000:02:00.0 1" > "$X/sriov"
}

keep_console() {
  tail -n 40 "$1/console.log" >&2 2>/dev/null || true
  mkdir -p "$CACHE" && cp "$1/console.log" "$CACHE/last-console.log" 2>/dev/null &&
    log "whole console log: $CACHE/last-console.log"
  return 0
}

case "${1:-}" in
  setup) shift; setup "$@" ;;
  plan) shift; plan "$@" ;;
  run) shift; run "$@" ;;
  *) usage ;;
esac
