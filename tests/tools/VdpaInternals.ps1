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
    # As a cast of a hashtable (-Property) or [type]::new(...) (-ArgumentList) would build it, for a type PowerShell
    # cannot name: PowerShell offers neither on a type that is not public.
    [CmdletBinding(DefaultParameterSetName = 'Property')]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $FullName,
        [Parameter(Mandatory, Position = 1, ParameterSetName = 'Property')] [hashtable] $Property,
        [Parameter(Mandatory, ParameterSetName = 'ArgumentList')] [AllowNull()] [object[]] $ArgumentList
    )
    $type = Get-VdpaInternalType $FullName
    if ($PSCmdlet.ParameterSetName -eq 'Property') {
        return [System.Management.Automation.LanguagePrimitives]::ConvertTo($Property, $type)
    }
    $ctor = @($type.GetConstructors() | Where-Object { $_.GetParameters().Count -eq $ArgumentList.Count })
    if ($ctor.Count -ne 1) { throw "$FullName has $($ctor.Count) constructors of $($ArgumentList.Count) parameters." }
    $parameters = $ctor[0].GetParameters()
    # Collected by index, not from a loop's output: the pipeline would unroll an argument that is a list.
    $converted = [object[]]::new($parameters.Count)
    for ($i = 0; $i -lt $parameters.Count; $i++) {
        $converted[$i] = [System.Management.Automation.LanguagePrimitives]::ConvertTo($ArgumentList[$i], $parameters[$i].ParameterType)
    }
    $ctor[0].Invoke($converted)
}
