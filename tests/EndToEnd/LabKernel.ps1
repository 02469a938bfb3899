# What the lab kernel's vdpa family can do, as nlctrl describes it (ops and maxattr, read through the module's core and
# cross-checked against `uname -r` in KernelCapabilities.Tests.ps1), so tests expect each kernel's own behaviour from
# its capabilities. Dot-source it after LabHelpers.ps1 and Import-VdpaModule.

$client = Open-VdpaCoreClient
try { $script:LabFamily = $client.Capabilities } finally { $client.Dispose() }

# DEV_ATTR_SET (6.12): a MAC changes after creation.
$script:CanSetMac = $LabFamily.Supports([VdpaPS.Netlink.Vdpa.VdpaCapability]::SetAttributes)
# Block configuration in DEV_CONFIG_GET (6.9).
$script:HasBlockConfig = $LabFamily.Supports([VdpaPS.Netlink.Vdpa.VdpaCapability]::BlockConfig)
# The 6.1 family (maxattr 22, attribute 21 = device features). What no capability names differs with it, measured
# (docs/lab.md, kernel-6.1 notes): vdpa_sim_net keeps no vendor statistics and offers no STATUS, vduse creates block
# devices only, DEV_NEW does not check "Missing features", and a refused attribute's extack has no mask.
$script:Is61Family = $LabFamily.Attribute21 -eq 'DeviceFeatures'
$script:SimNetKeepsStatistics = -not $Is61Family
$script:RefusedAttributesText = if ($Is61Family) { 'All provided attributes are not supported' } else { 'Some provided attributes are not supported: 0x' }

function Assert-KernelLacks {
    # One non-terminating error naming the missing capability and the Linux release that added it.
    param($ErrorRecords, [string] $Command, [string] $Release)
    @($ErrorRecords) | Should -HaveCount 1
    $ErrorRecords[0] | Should -BeOfType [System.Management.Automation.ErrorRecord]
    $ErrorRecords[0].FullyQualifiedErrorId | Should -Be "VdpaNotSupportedByKernel,VdpaPS.Commands.$Command"
    $ErrorRecords[0].CategoryInfo.Category | Should -Be 'NotImplemented'
    "$($ErrorRecords[0])" | Should -Match "Linux $([regex]::Escape($Release))"
    "$($ErrorRecords[0])" | Should -Match ([regex]::Escape($LabFamily.KernelRange))
}
