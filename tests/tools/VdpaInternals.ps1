# The module's public surface is its cmdlets and the objects they return or throw; the core's client, codecs and error
# map are internal (the C# test projects see them through InternalsVisibleTo). The Pester tests that drive the core
# directly, as the truth the cmdlets are compared with, reach those types through the module's own assemblies.
# Dot-source it after Import-Module.

function Get-VdpaInternalType {
    param([Parameter(Mandatory)] [string] $FullName)
    foreach ($assembly in [VdpaPS.VdpaDevice].Assembly, (Get-Module VdpaPS).ImplementingAssembly) {
        $type = $assembly.GetType($FullName)
        if ($type) { return $type }
    }
    throw "Neither of the module's assemblies has a type $FullName."
}

function Open-VdpaCoreClient {
    (Get-VdpaInternalType VdpaPS.Netlink.Vdpa.VdpaClient)::Open()
}

function New-VdpaInternalObject {
    # As a cast of a hashtable to the type would build it, for a type PowerShell cannot name.
    param([Parameter(Mandatory)] [string] $FullName, [Parameter(Mandatory)] [hashtable] $Property)
    [System.Management.Automation.LanguagePrimitives]::ConvertTo($Property, (Get-VdpaInternalType $FullName))
}
