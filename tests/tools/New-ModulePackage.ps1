<#
.SYNOPSIS
    Packs a built module folder into <Name>.<Version>.nupkg with PSResourceGet.
.DESCRIPTION
    build.ps1 package runs this in a child pwsh (importing PSResourceGet and reading the manifest stay out of
    the build's session). Compress-PSResource (PSResourceGet 1.1 and later, bundled with pwsh 7.6) packs
    without any repository. Where it is missing (or with -ViaPublish), Publish-PSResource goes to a temporary
    file repository registered in a temporary PSResourceGet configuration: $HOME, $XDG_DATA_HOME and
    $XDG_CONFIG_HOME point at a temporary folder while PSResourceGet runs, so the user's repository list and modules are never written to.
.EXAMPLE
    pwsh -NoProfile -File tests/tools/New-ModulePackage.ps1 -ModulePath out/VdpaPS/0.1.0 -Destination out/packages
#>
[CmdletBinding()]
param(
    # The built module's folder: its manifest, DLLs, format files and help.
    [Parameter(Mandatory)] [string] $ModulePath,
    # Where the .nupkg goes; created when missing.
    [Parameter(Mandatory)] [string] $Destination,
    # Pack through Publish-PSResource to a temporary repository even where Compress-PSResource exists.
    [switch] $ViaPublish
)
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$ModulePath = (Resolve-Path -LiteralPath $ModulePath).Path
$manifests = @(Get-ChildItem -LiteralPath $ModulePath -Filter '*.psd1')
if ($manifests.Count -ne 1) { throw "Expected one module manifest in $ModulePath, found $($manifests.Count)." }
$manifest = $manifests[0]
$name = $manifest.BaseName
$data = Import-PowerShellDataFile -LiteralPath $manifest.FullName
$version = $data.ModuleVersion
if ($version -notmatch '^\d+(\.\d+){1,3}$') { throw "$($manifest.FullName) has ModuleVersion '$version': build the module first (build.ps1 fills the version in)." }

New-Item -ItemType Directory -Force $Destination | Out-Null
$Destination = (Resolve-Path -LiteralPath $Destination).Path
$package = Join-Path $Destination "$name.$version.nupkg"
Remove-Item -LiteralPath $package -ErrorAction SilentlyContinue

$psResourceGet = Get-Module -ListAvailable Microsoft.PowerShell.PSResourceGet | Sort-Object Version -Descending | Select-Object -First 1
if (-not $psResourceGet) { throw 'Packing needs Microsoft.PowerShell.PSResourceGet, which ships with PowerShell 7.4 and later.' }

# PSResourceGet writes its repository list under $XDG_DATA_HOME (a default one on first use), its CurrentUser
# folders under $HOME/.local/share/powershell, and NuGet its NuGet.Config under $XDG_CONFIG_HOME. Point them all
# at a temporary folder before PSResourceGet loads, so packing writes nothing to the user's profile and a
# registration made here dies with the folder. The folders must exist: .NET answers '' for a missing one, and
# the files would land in the current directory.
$work = Join-Path ([System.IO.Path]::GetTempPath()) "vdpaps-pack-$([guid]::NewGuid().ToString('n'))"
$saved = @{ HOME = $env:HOME; XDG_DATA_HOME = $env:XDG_DATA_HOME; XDG_CONFIG_HOME = $env:XDG_CONFIG_HOME }
$env:HOME = Join-Path $work 'home'
$env:XDG_DATA_HOME = Join-Path $env:HOME '.local/share'
$env:XDG_CONFIG_HOME = Join-Path $env:HOME '.config'
try {
    New-Item -ItemType Directory -Force $env:XDG_DATA_HOME, $env:XDG_CONFIG_HOME | Out-Null
    Import-Module $psResourceGet
    if (-not $ViaPublish -and (Get-Command Compress-PSResource -Module Microsoft.PowerShell.PSResourceGet -ErrorAction SilentlyContinue)) {
        Compress-PSResource -Path $ModulePath -DestinationPath $Destination
    } else {
        $repository = New-Item -ItemType Directory -Force (Join-Path $work 'repository')
        $repositoryName = "VdpaPSPack$PID"
        Register-PSResourceRepository -Name $repositoryName -Uri $repository.FullName -Trusted
        try {
            Publish-PSResource -Path $ModulePath -Repository $repositoryName -SkipDependenciesCheck
        } finally {
            Unregister-PSResourceRepository -Name $repositoryName
        }
        Copy-Item -LiteralPath (Join-Path $repository.FullName "$name.$version.nupkg") -Destination $Destination
    }
} finally {
    foreach ($variable in $saved.Keys) { [Environment]::SetEnvironmentVariable($variable, $saved[$variable]) }
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}

# The package is named from the manifest; anything else would leave build.ps1's consumers without a file.
$written = Get-ChildItem -LiteralPath $Destination -Filter "$name.$version.nupkg" | Select-Object -First 1
if (-not $written) { throw "Packing $name $version wrote no $name.$version.nupkg to $Destination." }
Write-Host "Wrote $($written.FullName)"
