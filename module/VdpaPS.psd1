@{
    RootModule = 'VdpaPS.dll'
    # Filled in by build.ps1 from Directory.Build.props, the one place the version is set.
    ModuleVersion = '{{ModuleVersion}}'
    GUID = '5b0f3c52-8a53-4c1e-9d7e-0f4a2a1c6e31'
    Author = 'VdpaPS developers'
    CompanyName = 'VdpaPS'
    Copyright = '(c) VdpaPS developers. MIT License.'
    Description = 'Manage Linux vDPA devices through the kernel''s vdpa netlink family: parents, devices, configuration, statistics, driver binding.'
    PowerShellVersion = '7.6'
    CompatiblePSEditions = @('Core')
    # Loaded at import so the output types ([VdpaPS.VdpaDevice] ...) can be named before the first command runs.
    RequiredAssemblies = @('VdpaPS.Netlink.dll')
    FormatsToProcess = @('VdpaPS.format.ps1xml')
    TypesToProcess = @('VdpaPS.types.ps1xml')
    CmdletsToExport = @(
        'Get-VdpaParent'
        'Get-VdpaDevice'
        'New-VdpaDevice'
        'Remove-VdpaDevice'
        'Set-VdpaDevice'
        'Get-VdpaDeviceConfig'
        'Get-VdpaStats'
    )
    FunctionsToExport = @()
    VariablesToExport = @()
    AliasesToExport = @()
    PrivateData = @{
        PSData = @{
            Tags = @('vDPA', 'virtio', 'netlink', 'Linux', 'PSEdition_Core', 'SmartNIC', 'DPU')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
