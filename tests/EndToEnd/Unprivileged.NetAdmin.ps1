# Run by Unprivileged.Tests.ps1 as uid 65534 with CAP_NET_ADMIN alone (tests/KernelLab/as-user.sh --cap net_admin): an
# operator who may change devices but not read root's processes. Removes the held device without and the free one with
# -Force, and prints what happened as one line of JSON.
param([Parameter(Mandatory)] [string] $ModulePath, [Parameter(Mandatory)] [string] $Held, [Parameter(Mandatory)] [string] $Free)
$ErrorActionPreference = 'Continue'
Import-Module (Join-Path $ModulePath 'VdpaPS.psd1')

$r = [ordered]@{ Uid = [int](& id -u); CapEff = ((Get-Content /proc/self/status) -match '^CapEff:') -replace '^CapEff:\s*', '' }
Remove-VdpaDevice $Held -Confirm:$false -ErrorVariable e1 -ErrorAction SilentlyContinue
$r.Refused = @($e1 | ForEach-Object {
    [ordered]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Message = "$_"
        Pids = @($_.Exception.Usage.UninspectedProcesses.ProcessId) }
})
Remove-VdpaDevice $Free -Force -Confirm:$false -ErrorVariable e2 -WarningVariable w2 -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
$r.ForcedErrors = @($e2 | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" })
$r.ForcedWarnings = @($w2 | ForEach-Object { "$_" })

'RESULT ' + ($r | ConvertTo-Json -Depth 5 -Compress)
