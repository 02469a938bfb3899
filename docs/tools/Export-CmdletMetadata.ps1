<#
.SYNOPSIS
    Writes the parameter metadata of a built module's cmdlets as JSON, for Build-Help.ps1.
.DESCRIPTION
    Build-Help.ps1 runs this in a child pwsh: importing the module loads its DLL, and a process that has
    loaded it keeps it for good (build.ps1's own session could not rebuild it afterwards).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ManifestPath,
    [Parameter(Mandatory)] [string] $OutFile
)
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

Import-Module (Join-Path $PSScriptRoot 'HelpMarkdown.psm1')
$module = Import-Module $ManifestPath -PassThru -Force

[ordered]@{
    ModuleName = $module.Name
    ModuleVersion = "$($module.Version)"
    Cmdlets = @(Get-CmdletHelpMetadata -Module $module)
} | ConvertTo-Json -Depth 8 | Set-Content -LiteralPath $OutFile -Encoding utf8
