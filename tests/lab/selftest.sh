#!/bin/bash
# selftest.sh - checks the lab guest itself: the vdpa mgmtdevs, the VDUSE test tool's lifecycle
# with and without a serving daemon, driver binding, and PowerShell as root and as the
# unprivileged user. Run it in the guest from the repository root, after building the test tools:
#
#   dotnet build tests/VdpaPS.TestTools/VdpaPS.TestTools.csproj -c Release -o out/testtools
#   bash tests/lab/lab.sh run -m vduse,sim,virtio,vhost -t 900 -- 'bash tests/lab/selftest.sh'
#
# Prints one line per check and a final "N passed, N failed"; exits 1 if any check failed.
set -uo pipefail

[ -e /run/vdpaps-lab-guest ] || { echo "selftest.sh: run it in the lab guest (lab.sh run)" >&2; exit 125; }
TOOL=${VDPAPS_TESTTOOLS:-out/testtools/VdpaPS.TestTools.dll}
passed=0
failed=0

check() {   # check NAME COMMAND...: passes when COMMAND exits 0
  local name=$1 t0 rc
  shift
  t0=$(date +%s.%N)
  "$@" > /tmp/selftest.out 2>&1
  rc=$?
  local dt; dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if ((rc == 0)); then
    passed=$((passed + 1)); echo "PASS $name (${dt}s)"
  else
    failed=$((failed + 1)); echo "FAIL $name (exit $rc, ${dt}s):"; sed 's/^/    /' /tmp/selftest.out
  fi
}
loaded() { grep -q "^$1 " /proc/modules; }
vduse() { dotnet "$TOOL" vduse "$@"; }
driver_of() { basename "$(readlink "/sys/bus/vdpa/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }

check "three mgmtdevs: vduse vdpasim_net vdpasim_blk" \
  bash -c 'j=$(vdpa -j mgmtdev show) && for m in vduse vdpasim_net vdpasim_blk; do grep -q "\"$m\"" <<< "$j" || exit 1; done'
check "vdpasim_net device add/del" bash -c 'vdpa dev add name s0 mgmtdev vdpasim_net mac 02:00:00:00:00:aa && vdpa dev del s0'

if [ -f "$TOOL" ] && loaded vduse; then
  check "vduse create net" vduse create t0 net --mac 02:00:00:00:00:10 --mtu 1400
  check "vduse create blk" vduse create t1 blk
  check "vduse create net again fails (EEXIST)" bash -c "! dotnet $TOOL vduse create t0 net"
  # Started directly, not through the vduse function: $! must be dotnet's pid, since a killed
  # wrapper shell would leave the server holding /dev/vduse/NAME open (destroy then says EBUSY).
  dotnet "$TOOL" vduse serve t0 > /tmp/serve-t0.log 2>&1 &
  s0=$!
  dotnet "$TOOL" vduse serve t1 > /tmp/serve-t1.log 2>&1 &
  s1=$!
  check "vdpa dev add on served VDUSE net returns within 10s" timeout 10 vdpa dev add name t0 mgmtdev vduse
  check "vdpa dev add on served VDUSE blk returns within 10s" timeout 10 vdpa dev add name t1 mgmtdev vduse
  if loaded virtio_vdpa; then
    check "virtio_vdpa bound t0, netdev with the MAC" \
      bash -c '[ "$(basename "$(readlink /sys/bus/vdpa/devices/t0/driver)")" = virtio_vdpa ] && ip -br link | grep -q 02:00:00:00:00:10'
    check "negotiated features shown for t0" bash -c 'vdpa -j dev config show t0 | grep -q negotiated_features'
  fi
  check "destroy while the vdpa device exists fails with EBUSY" \
    bash -c "out=\$(dotnet $TOOL vduse destroy t0 2>&1); rc=\$?; echo \"\$out\"; [ \$rc = 1 ] && grep -q EBUSY <<< \"\$out\""
  check "vdpa dev del t0 t1" bash -c 'vdpa dev del t0 && vdpa dev del t1'
  kill "$s0" "$s1" 2>/dev/null
  wait "$s0" "$s1" 2>/dev/null
  check "serve answered SET_STATUS" grep -q SET_STATUS /tmp/serve-t0.log
  check "vduse destroy t0 t1" bash -c "dotnet $TOOL vduse destroy t0 && dotnet $TOOL vduse destroy t1"
  check "VduseDevice from pwsh (Add-Type, StartServing, Dispose)" dotnet pwsh -NoProfile -NonInteractive -c "
    \$ErrorActionPreference = 'Stop'
    Add-Type -Path '$TOOL'
    \$d = [VdpaPS.TestTools.VduseDevice]::Create('p0', 'net', '02:00:00:00:00:20', 1500, 5)
    \$d.StartServing()
    vdpa dev add name p0 mgmtdev vduse; if (\$LASTEXITCODE) { throw 'dev add failed' }
    vdpa dev del p0; if (\$LASTEXITCODE) { throw 'dev del failed' }
    \$d.Dispose()
    if (\$d.DisposeError) { throw \$d.DisposeError }
    if ([VdpaPS.TestTools.VduseDevice]::Exists('p0')) { throw 'p0 still exists' }
    'served ' + \$d.RequestsServed"
else
  echo "SKIP VDUSE checks: no $TOOL or vduse not loaded (-m vduse)"
fi

check "pwsh as root" dotnet pwsh -NoProfile -c '$PSVersionTable.PSVersion.ToString()'
check "pwsh as nobody via as-user.sh" bash -c 'test "$(bash tests/lab/as-user.sh dotnet pwsh -NoProfile -c whoami)" = nobody'
check "as nobody, vdpa dev add is refused" bash -c '! bash tests/lab/as-user.sh vdpa dev add name u0 mgmtdev vdpasim_net'

echo "selftest: $passed passed, $failed failed"
((failed == 0))
