# Run by Unprivileged.Tests.ps1 as uid 65534 with no capabilities (tests/KernelLab/as-user.sh): tries every read and
# every change against the device the test made as root, and prints what happened as one line of JSON.
param([Parameter(Mandatory)] [string] $ModulePath, [Parameter(Mandatory)] [string] $Device)
$ErrorActionPreference = 'Continue'
Import-Module (Join-Path $ModulePath 'VdpaPS.psd1')

function ConvertTo-ErrorSummary($Records) {
    @($Records | ForEach-Object { [ordered]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Message = "$_" } })
}

$r = [ordered]@{ Uid = [int](& id -u) }
$r.Parents = @(Get-VdpaParent -ErrorVariable e0 -ErrorAction SilentlyContinue | ForEach-Object Name)
$r.Devices = @(Get-VdpaDevice -ErrorVariable +e0 -ErrorAction SilentlyContinue | ForEach-Object Name)
$r.Mac = (Get-VdpaDeviceConfig $Device -ErrorVariable +e0 -ErrorAction SilentlyContinue).MacAddress
$r.ReadErrors = @(ConvertTo-ErrorSummary $e0)

New-VdpaDevice "$Device-new" vdpasim_net -ErrorVariable e1 -ErrorAction SilentlyContinue | Out-Null
$r.New = @(ConvertTo-ErrorSummary $e1)
New-VdpaDevice "$Device-new2" vdpasim_net -MacAddress 02:00:00:00:00:77 -Mtu 1400 -ErrorVariable e2 -ErrorAction SilentlyContinue | Out-Null
$r.NewWithAttributes = @(ConvertTo-ErrorSummary $e2)
Set-VdpaDevice $Device -MacAddress 02:00:00:00:00:78 -ErrorVariable e3 -ErrorAction SilentlyContinue
$r.Set = @(ConvertTo-ErrorSummary $e3)
Get-VdpaDevice $Device | Remove-VdpaDevice -Confirm:$false -ErrorVariable e4 -ErrorAction SilentlyContinue
$r.Remove = @(ConvertTo-ErrorSummary $e4)
Get-VdpaStats $Device -QueueIndex 0 -ErrorVariable e5 -ErrorAction SilentlyContinue | Out-Null
$r.Stats = @(ConvertTo-ErrorSummary $e5)

'RESULT ' + ($r | ConvertTo-Json -Depth 5 -Compress)
