@{
    RootModule = 'VdpaPS.dll'
    # Filled in by build.ps1 from Directory.Build.props, the one place the version is set.
    ModuleVersion = '{{ModuleVersion}}'
    GUID = '5b0f3c52-8a53-4c1e-9d7e-0f4a2a1c6e31'
    Author = 'the VdpaPS authors'
    CompanyName = 'VdpaPS'
    Copyright = '(c) 2026 the VdpaPS authors. MIT License.'
    Description = 'Manage Linux vDPA devices through the kernel''s vdpa netlink family: parents, devices, configuration, statistics, driver binding.'
    PowerShellVersion = '7.6'
    CompatiblePSEditions = @('Core')
    # Loaded at import so the output types ([VdpaPS.VdpaDevice] ...) can be named before the first command runs.
    RequiredAssemblies = @('VdpaPS.Netlink.dll')
    FormatsToProcess = @('VdpaPS.format.ps1xml')
    CmdletsToExport = @(
        'Get-VdpaParent'
        'Get-VdpaDevice'
        'New-VdpaDevice'
        'Remove-VdpaDevice'
        'Set-VdpaDevice'
        'Get-VdpaDeviceConfig'
        'Get-VdpaStats'
        'Wait-VdpaDevice'
        'Wait-VdpaParent'
        'Watch-VdpaDevice'
        'Export-VdpaConfiguration'
        'Compare-VdpaConfiguration'
        'Sync-VdpaConfiguration'
        'Get-VdpaCommonFeature'
        'Test-VdpaMigration'
        'Get-VdpaPhysicalFunction'
        'Set-VdpaPhysicalFunction'
    )
    FunctionsToExport = @()
    VariablesToExport = @()
    AliasesToExport = @()
    PrivateData = @{
        PSData = @{
            Tags = @('vDPA', 'virtio', 'netlink', 'Linux', 'PSEdition_Core', 'SmartNIC', 'DPU')
            LicenseUri = 'https://github.com/vdpaps/VdpaPS/blob/main/LICENSE'
            ProjectUri = 'https://github.com/vdpaps/VdpaPS'
            # This version's entry of CHANGELOG.md, shortened; the changelog has every version.
            ReleaseNotes = @'
0.1.0: the first release. Get-VdpaParent, Get-VdpaDevice, New-VdpaDevice, Remove-VdpaDevice, Set-VdpaDevice (MAC
address, driver binding), Get-VdpaDeviceConfig and Get-VdpaStats over the kernel's vdpa netlink family, with views,
help and about_VdpaPS. Every version's changes: https://github.com/vdpaps/VdpaPS/blob/main/CHANGELOG.md
'@
        }
    }
}
