# The package: packed from the built module, installed with Install-PSResource from a local repository, and
# imported by name in a fresh pwsh. Every PSResourceGet step runs in a child pwsh whose $HOME, $XDG_DATA_HOME and
# $XDG_CONFIG_HOME are temporary folders: PSResourceGet keeps its repository list under $XDG_DATA_HOME and
# installs CurrentUser modules under $HOME/.local/share/powershell, so both are throwaway ones.
BeforeAll {
    $script:ModuleDir = $env:VDPAPS_MODULE_PATH
    $script:Manifest = Import-PowerShellDataFile (Join-Path $ModuleDir 'VdpaPS.psd1')
    $script:Version = $Manifest.ModuleVersion
    $script:Root = Join-Path ([System.IO.Path]::GetTempPath()) "vdpaps-package-tests-$([guid]::NewGuid().ToString('n'))"
    $script:Packages = Join-Path $Root 'packages'
    New-Item -ItemType Directory -Force $Root, $Packages | Out-Null

    function New-Profile([string] $Name) {
        # A throwaway home; the folders must exist, or .NET answers '' for them and files land in the working directory.
        $homeDir = Join-Path $Root $Name
        $profileEnvironment = @{ HOME = $homeDir; XDG_DATA_HOME = (Join-Path $homeDir '.local/share'); XDG_CONFIG_HOME = (Join-Path $homeDir '.config') }
        New-Item -ItemType Directory -Force $profileEnvironment.XDG_DATA_HOME, $profileEnvironment.XDG_CONFIG_HOME | Out-Null
        return $profileEnvironment
    }
    $script:Isolated = New-Profile 'home'
    $script:DataHome = $Isolated.XDG_DATA_HOME

    # The user's own PSResourceGet configuration, to prove it is left alone.
    $script:UserRepositoryFile = Join-Path ([Environment]::GetFolderPath('LocalApplicationData')) 'PSResourceGet/PSResourceRepository.xml'
    $script:UserRepositoriesBefore = if (Test-Path $UserRepositoryFile) { Get-Content -Raw $UserRepositoryFile } else { $null }
    $script:UserModules = Join-Path $HOME '.local/share/powershell/Modules/VdpaPS'
    $script:UserModulesBefore = @(Get-ChildItem -LiteralPath $UserModules -ErrorAction SilentlyContinue | ForEach-Object Name)

    function Invoke-Child {
        # A fresh pwsh (dotnet-hosted when this one is); returns its output, stops on a non-zero exit.
        param([string] $Script, [hashtable] $Environment = @{})
        $file = Join-Path $Root "child-$([guid]::NewGuid().ToString('n')).ps1"
        Set-Content -LiteralPath $file -Value $Script
        $self = (Get-Process -Id $PID).Path
        $entry = @(if ((Split-Path -Leaf $self) -notlike 'pwsh*') { Join-Path $PSHOME 'pwsh.dll' })
        $saved = @{}
        foreach ($name in $Environment.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name); [Environment]::SetEnvironmentVariable($name, $Environment[$name]) }
        # Started in the temporary folder, so nothing a child writes to its working directory lands in the repository.
        Push-Location $Root
        try {
            $output = & $self @entry -NoProfile -NonInteractive -File $file 2>&1
        } finally {
            Pop-Location
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }
        if ($LASTEXITCODE -ne 0) { throw "The child pwsh failed with exit code ${LASTEXITCODE}:`n$($output -join "`n")" }
        return $output
    }

    $packer = Join-Path $PSScriptRoot '../tools/New-ModulePackage.ps1'
    Invoke-Child "& '$packer' -ModulePath '$ModuleDir' -Destination '$Packages'" | Out-Null
    $script:Package = Join-Path $Packages "VdpaPS.$Version.nupkg"

    $install = @'
$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name VdpaPSTest -Uri '{0}' -Trusted
Install-PSResource -Name VdpaPS -Version '{1}' -Repository VdpaPSTest -Scope CurrentUser -TrustRepository -Quiet
$installed = Get-InstalledPSResource -Name VdpaPS -Scope CurrentUser
[ordered]@{{
    Location = $installed.InstalledLocation
    Version = "$($installed.Version)"
    Repositories = @((Get-PSResourceRepository).Name)
}} | ConvertTo-Json -Compress
'@ -f $Packages, $Version
    $script:Installed = (Invoke-Child $install $Isolated | Select-Object -Last 1) | ConvertFrom-Json
    $script:InstalledModule = Join-Path $Installed.Location "VdpaPS/$Version"
}

AfterAll {
    Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The module package' {
    It 'is VdpaPS.<version>.nupkg with the manifest''s id and version' {
        Test-Path $Package | Should -BeTrue
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($Package)
        try {
            $nuspecEntry = $zip.Entries | Where-Object FullName -EQ 'VdpaPS.nuspec'
            $reader = [System.IO.StreamReader]::new($nuspecEntry.Open())
            $nuspec = [xml]$reader.ReadToEnd()
            $reader.Dispose()
            $nuspec.package.metadata.id | Should -Be 'VdpaPS'
            $nuspec.package.metadata.version | Should -Be $Version
        } finally {
            $zip.Dispose()
        }
    }

    It 'is publishable: the LICENSE file, the project''s address and the release notes of this version' {
        $repository = Join-Path $PSScriptRoot '../..'
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($Package)
        try {
            $licenseEntry = $zip.Entries | Where-Object FullName -EQ 'LICENSE'
            $licenseEntry | Should -Not -BeNullOrEmpty -Because 'the package carries the license beside the manifest'
            $reader = [System.IO.StreamReader]::new($licenseEntry.Open())
            $packed = $reader.ReadToEnd()
            $reader.Dispose()
            $nuspecEntry = $zip.Entries | Where-Object FullName -EQ 'VdpaPS.nuspec'
            $reader = [System.IO.StreamReader]::new($nuspecEntry.Open())
            $metadata = ([xml]$reader.ReadToEnd()).package.metadata
            $reader.Dispose()
        } finally {
            $zip.Dispose()
        }
        $packed | Should -BeExactly (Get-Content -Raw (Join-Path $repository 'LICENSE'))
        $packed | Should -Match '(?m)^MIT License$'
        $metadata.projectUrl | Should -Be $Manifest.PrivateData.PSData.ProjectUri
        $metadata.projectUrl | Should -Match '^https://'
        $metadata.releaseNotes | Should -Match "(?m)^$([regex]::Escape($Version)): "
        # The changelog has an entry for the version being packed, with a date.
        Get-Content -Raw (Join-Path $repository 'CHANGELOG.md') | Should -Match "(?m)^## \[$([regex]::Escape($Version))\] - \d{4}-\d{2}-\d{2}$"
    }

    It 'installs with Install-PSResource from a local repository into the temporary CurrentUser path' {
        $Installed.Version | Should -Be $Version
        $Installed.Location | Should -BeLike "$DataHome*"
        Test-Path (Join-Path $InstalledModule 'VdpaPS.psd1') | Should -BeTrue
    }

    It 'installs every file of the built module: both Tmds.LibC builds, the views and the help' {
        $relative = { param($base) Get-ChildItem -LiteralPath $base -Recurse -File | ForEach-Object { [System.IO.Path]::GetRelativePath($base, $_.FullName) } | Sort-Object }
        $built = & $relative $ModuleDir
        $shipped = & $relative $InstalledModule | Where-Object { $_ -notlike '*.nuspec' -and $_ -ne 'PSGetModuleInfo.xml' }
        $shipped | Should -Be $built
        $shipped | Should -Contain 'en-US/VdpaPS.dll-Help.xml'
        $shipped | Should -Contain 'runtimes/linux-arm64/Tmds.LibC.dll'
    }

    It 'imports by name in a fresh pwsh whose PSModulePath has the install path, with every cmdlet and its help' {
        $check = @'
$ErrorActionPreference = 'Stop'
Import-Module VdpaPS
$module = Get-Module VdpaPS
[ordered]@{
    Base = $module.ModuleBase
    Version = "$($module.Version)"
    Commands = @((Get-Command -Module VdpaPS -CommandType Cmdlet).Name | Sort-Object)
    Synopsis = (Get-Help Get-VdpaDevice).Synopsis
} | ConvertTo-Json -Compress
'@
        $modules = $Installed.Location
        $environment = $Isolated.Clone()
        $environment.PSModulePath = "$modules$([System.IO.Path]::PathSeparator)$PSHOME/Modules"
        $result = (Invoke-Child $check $environment | Select-Object -Last 1) | ConvertFrom-Json
        $result.Base | Should -Be $InstalledModule
        $result.Version | Should -Be $Version
        $result.Commands | Should -Be ($Manifest.CmdletsToExport | Sort-Object)
        $result.Synopsis | Should -Not -BeNullOrEmpty
        $result.Synopsis | Should -Not -Match '^\s*Get-VdpaDevice'
    }

    It 'registers the test''s repository in the temporary configuration, leaving the user''s repositories and modules untouched' {
        $Installed.Repositories | Should -Contain 'VdpaPSTest'
        $after = if (Test-Path $UserRepositoryFile) { Get-Content -Raw $UserRepositoryFile } else { $null }
        $after | Should -Be $UserRepositoriesBefore
        @(Get-ChildItem -LiteralPath $UserModules -ErrorAction SilentlyContinue | ForEach-Object Name) | Should -Be $UserModulesBefore
    }

    It 'the packer leaves no repository registered behind when it packs through Publish-PSResource' {
        $probe = New-Profile 'probe'
        $published = Join-Path $Root 'published'
        $packer = Join-Path $PSScriptRoot '../tools/New-ModulePackage.ps1'
        Invoke-Child "& '$packer' -ModulePath '$ModuleDir' -Destination '$published' -ViaPublish" $probe | Out-Null
        Test-Path (Join-Path $published "VdpaPS.$Version.nupkg") | Should -BeTrue
        $names = Invoke-Child '@((Get-PSResourceRepository).Name) -join '','' ' $probe | Select-Object -Last 1
        $names -split ',' | Where-Object { $_ -like 'VdpaPS*' } | Should -BeNullOrEmpty
    }
}
