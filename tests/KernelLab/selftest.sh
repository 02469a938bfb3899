#!/bin/bash
# selftest.sh - checks the lab guest itself: the vdpa mgmtdevs (and the PCI parents with -m pci), the
# VDUSE test tool's lifecycle with a serving daemon, driver binding, and PowerShell as root and as the
# unprivileged user. Run it in the guest from the repository root, after building the test tools;
# `build.ps1 test` runs it on every lab kernel, after the end-to-end tests, in the same boot:
#
#   dotnet build tests/VdpaPS.TestTools/VdpaPS.TestTools.csproj -c Release -o out/testtools
#   bash tests/KernelLab/lab.sh run -m vduse,sim,virtio,vhost,pci -t 900 -- 'bash tests/KernelLab/selftest.sh'
#
#   --result FILE  also write the counts as JSON (Passed, Failed, Skipped, Result, Duration)
#
# Prints one line per check (PASS, FAIL or SKIP; a check that cannot run here is counted as skipped,
# never left out) and a final "selftest: N passed, N failed, N skipped"; exits 1 if any check failed.
set -uo pipefail

result=
while (($#)); do
  case "$1" in
    --result) result=${2:?--result needs a file}; shift 2 ;;
    *) echo "selftest.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -e /run/vdpaps-lab-guest ] || { echo "selftest.sh: run it in the lab guest (lab.sh run)" >&2; exit 125; }
TOOL=${VDPAPS_TESTTOOLS:-out/testtools/VdpaPS.TestTools.dll}
SERIES=${VDPAPS_LAB_KERNEL:-}
passed=0
failed=0
skipped=0
started=$(date +%s.%N)

report() {  # report NAME EXIT SECONDS OUTPUT_FILE
  if (($2 == 0)); then
    passed=$((passed + 1)); echo "PASS $1 (${3}s)"
  else
    failed=$((failed + 1)); echo "FAIL $1 (exit $2, ${3}s):"; sed 's/^/    /' "$4"
  fi
}
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
check() {   # check NAME COMMAND...: passes when COMMAND exits 0
  local name=$1 t0 rc
  shift
  t0=$(date +%s.%N)
  "$@" > /tmp/selftest.out 2>&1
  rc=$?
  report "$name" "$rc" "$(seconds_since "$t0")" /tmp/selftest.out
}
# check_start NAME COMMAND...: a check run in the background, for the pwsh starts (each is most of a minute of
# emulated CPU, mostly on one vCPU): two at once use both. check_join waits for them and reports each as check
# does, in the order started.
bg_names=() bg_pids=() bg_t0=()
check_start() {
  local i=${#bg_names[@]}
  bg_names+=("$1"); bg_t0+=("$(date +%s.%N)")
  shift
  { "$@" > "/tmp/selftest.bg$i.out" 2>&1; echo $? > "/tmp/selftest.bg$i.rc"; date +%s.%N > "/tmp/selftest.bg$i.end"; } &
  bg_pids+=($!)
}
check_join() {
  local i
  for i in "${!bg_names[@]}"; do
    wait "${bg_pids[$i]}"
    report "${bg_names[$i]}" "$(cat "/tmp/selftest.bg$i.rc" 2>/dev/null || echo 99)" \
      "$(awk -v a="${bg_t0[$i]}" -v b="$(cat "/tmp/selftest.bg$i.end" 2>/dev/null || date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" "/tmp/selftest.bg$i.out"
  done
  bg_names=() bg_pids=() bg_t0=()
}
skip() {    # skip NAME REASON [COUNT]: checks that cannot run in this boot, counted, not left out
  skipped=$((skipped + ${3:-1})); echo "SKIP $1: $2"
}
# fails_with WANT_EXIT PATTERN COMMAND...: COMMAND must fail with exactly that exit code and print PATTERN
# (an errno's text or name), so a different failure does not pass as the expected one.
fails_with() {
  local want=$1 pattern=$2 out rc
  shift 2
  out=$("$@" 2>&1); rc=$?
  echo "$out"
  [ "$rc" = "$want" ] || { echo "expected exit $want, got $rc"; return 1; }
  grep -qE -- "$pattern" <<< "$out" || { echo "expected output matching '$pattern'"; return 1; }
}
loaded() { grep -q "^$1 " /proc/modules; }
vduse() { dotnet "$TOOL" vduse "$@"; }

check "VDPAPS_LAB_KERNEL ($SERIES) is the running kernel's series ($(uname -r))" \
  bash -c '[ -n "$VDPAPS_LAB_KERNEL" ] && [[ "$(uname -r)" == "$VDPAPS_LAB_KERNEL".* ]]'
check "three mgmtdevs: vduse vdpasim_net vdpasim_blk" \
  bash -c 'j=$(vdpa -j mgmtdev show) && for m in vduse vdpasim_net vdpasim_blk; do grep -q "\"$m\"" <<< "$j" || exit 1; done'
check "vdpasim_net device add/del" bash -c 'vdpa dev add name s0 mgmtdev vdpasim_net mac 02:00:00:00:00:aa && vdpa dev del s0'
if loaded vp_vdpa; then
  check "PCI parents pci/0000:00:1{0,1,2}.0 and pci/0000:21:00.0, the last on NUMA node 1" bash -c '
    j=$(vdpa -j mgmtdev show) || exit 1
    for p in 0000:00:10.0 0000:00:11.0 0000:00:12.0 0000:21:00.0; do
      grep -q "\"pci/$p\"" <<< "$j" || { echo "no mgmtdev pci/$p in $j"; exit 1; }
      [ "$(basename "$(readlink /sys/bus/pci/devices/$p/driver)")" = vp-vdpa ] || { echo "$p is not bound to vp-vdpa"; exit 1; }
    done
    n=$(cat /sys/bus/pci/devices/0000:21:00.0/numa_node); [ "$n" = 1 ] || { echo "numa_node $n"; exit 1; }'
else
  skip "PCI parents" "vp_vdpa is not loaded (-m pci)"
fi

# VDUSE on 6.1 makes block devices only: a net device is refused with EINVAL (6.12 has both).
kind=net
[ "$SERIES" != 6.1 ] || kind=blk
if [ -f "$TOOL" ] && loaded vduse; then
  if [ "$kind" = net ]; then
    check "vduse create net" vduse create t0 net --mac 02:00:00:00:00:10 --mtu 1400
  else
    check "vduse create net is refused with EINVAL on 6.1" fails_with 1 'EINVAL' dotnet "$TOOL" vduse create t9 net
    check "vduse create blk (t0)" vduse create t0 blk
  fi
  check "vduse create blk" vduse create t1 blk
  check "vduse create $kind again fails with EEXIST" fails_with 1 'already exists' dotnet "$TOOL" vduse create t0 "$kind"
  # Started directly, not through the vduse function: $! must be dotnet's pid, since a killed
  # wrapper shell would leave the server holding /dev/vduse/NAME open (destroy then says EBUSY).
  dotnet "$TOOL" vduse serve t0 > /tmp/serve-t0.log 2>&1 &
  s0=$!
  dotnet "$TOOL" vduse serve t1 > /tmp/serve-t1.log 2>&1 &
  s1=$!
  # A server is ready once it holds /dev/vduse/NAME open; dotnet's start alone can take 10 s or more
  # under emulation on a busy machine, which the 10 s bound below is not about.
  check "both VDUSE servers hold their device open within 120s" bash -c "
    for _ in \$(seq 1200); do
      ls -l /proc/$s0/fd 2>/dev/null | grep -q /dev/vduse/t0 &&
        ls -l /proc/$s1/fd 2>/dev/null | grep -q /dev/vduse/t1 && exit 0
      sleep 0.1
    done
    exit 1"
  check "vdpa dev add on served VDUSE $kind returns within 10s" timeout 10 vdpa dev add name t0 mgmtdev vduse
  check "vdpa dev add on served VDUSE blk returns within 10s" timeout 10 vdpa dev add name t1 mgmtdev vduse
  if loaded virtio_vdpa; then
    if [ "$kind" = net ]; then
      check "virtio_vdpa bound t0, netdev with the MAC" \
        bash -c '[ "$(basename "$(readlink /sys/bus/vdpa/devices/t0/driver)")" = virtio_vdpa ] && ip -br link | grep -q 02:00:00:00:00:10'
    else
      check "virtio_vdpa bound t0, virtio_blk on its virtio device" \
        bash -c '[ "$(basename "$(readlink /sys/bus/vdpa/devices/t0/driver)")" = virtio_vdpa ] &&
                 [ "$(basename "$(readlink /sys/bus/vdpa/devices/t0/virtio*/driver)")" = virtio_blk ]'
    fi
    # The virtio bus shows the features the driver negotiated (a bit string): the served device answered.
    check "the driver negotiated features with t0" bash -c 'grep -q 1 /sys/bus/vdpa/devices/t0/virtio*/features'
  else
    skip "driver binding of VDUSE devices" "virtio_vdpa is not loaded (-m virtio)" 2
  fi
  check "destroy while the vdpa device exists fails with EBUSY" \
    fails_with 1 'EBUSY' dotnet "$TOOL" vduse destroy t0
  check "vdpa dev del t0 t1" bash -c 'vdpa dev del t0 && vdpa dev del t1'
  kill "$s0" "$s1" 2>/dev/null
  wait "$s0" "$s1" 2>/dev/null
  check "serve answered SET_STATUS" grep -q SET_STATUS /tmp/serve-t0.log
  check "vduse destroy t0 t1" bash -c "dotnet $TOOL vduse destroy t0 && dotnet $TOOL vduse destroy t1"
  # Also the check that the lab's pwsh (the pinned PowerShell, the command every lab test runs) works as root. Not
  # `dotnet pwsh`: its SDK local-tool lookup cost 9 s of guest CPU a start (6.6 s against 15.4 s for `-c 1`).
  check_start "pwsh as root: VduseDevice (Add-Type, StartServing, Dispose)" pwsh -NoProfile -NonInteractive -c "
    \$ErrorActionPreference = 'Stop'
    Add-Type -Path '$TOOL'
    \$d = [VdpaPS.TestTools.VduseDevice]::Create('p0', '$kind', '02:00:00:00:00:20', 1500, 5)
    \$d.StartServing()
    vdpa dev add name p0 mgmtdev vduse; if (\$LASTEXITCODE) { throw 'dev add failed' }
    vdpa dev del p0; if (\$LASTEXITCODE) { throw 'dev del failed' }
    \$d.Dispose()
    if (\$d.DisposeError) { throw \$d.DisposeError }
    if ([VdpaPS.TestTools.VduseDevice]::Exists('p0')) { throw 'p0 still exists' }
    'served ' + \$d.RequestsServed"
else
  n=13; [ "$kind" = net ] || n=14
  skip "VDUSE checks" "no $TOOL or vduse not loaded (-m vduse)" "$n"
  check_start "pwsh as root" pwsh -NoProfile -c '$PSVersionTable.PSVersion.ToString()'
fi

# Started beside the root one: neither touches what the other does (p0 above; whoami here).
check_start "pwsh as nobody via as-user.sh" bash -c 'test "$(bash tests/KernelLab/as-user.sh pwsh -NoProfile -c whoami)" = nobody'
check_join
check "as nobody, vdpa dev add is refused with EPERM" \
  fails_with 1 'Operation not permitted' bash tests/KernelLab/as-user.sh vdpa dev add name u0 mgmtdev vdpasim_net

echo "selftest: $passed passed, $failed failed, $skipped skipped"
if [ -n "$result" ]; then
  status=Passed; ((failed == 0)) || status=Failed
  printf '{ "Passed": %d, "Failed": %d, "Skipped": %d, "Result": "%s", "Duration": %s }\n' \
    "$passed" "$failed" "$skipped" "$status" "$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" > "$result"
fi
((failed == 0))
