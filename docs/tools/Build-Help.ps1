<#
.SYNOPSIS
    Builds the module's help from docs/: en-US/<RootModule>-Help.xml (MAML) and en-US/about_*.help.txt.
.DESCRIPTION
    build.ps1's build step calls this after the module is laid out in -OutputPath. platyPS is not on the feed
    this project restores from, so the conversion is HelpMarkdown.psm1's.

    Parameter metadata (type, mandatory, position, pipeline input, aliases, wildcards, parameter sets) comes
    from the compiled cmdlets; the Markdown pages give the words (synopsis, description, parameter descriptions,
    examples, inputs, outputs, notes, links). The script runs itself again in a child pwsh, which imports the
    module: a process that has loaded the module's DLL keeps it for good, and build.ps1 could not rebuild it.

    The build fails when an exported cmdlet has no page in docs/cmdlets, or a page has fewer than two examples
    or lacks a synopsis or description. A parameter without a description, or a page for no cmdlet, is a warning
    here; tests/Module/Help.Tests.ps1 fails on them.
.EXAMPLE
    ./docs/tools/Build-Help.ps1 -DocsPath ./docs -OutputPath ./out/VdpaPS/0.1.0
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $DocsPath,
    # The built module's folder (its manifest and DLL); help goes to its en-US folder.
    [Parameter(Mandatory)] [string] $OutputPath,
    [string] $Culture = 'en-US',
    # Set on the run in the child pwsh, which may load the module.
    [switch] $InChild
)
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

if (-not $InChild) {
    # dotnet-hosted pwsh (the repository's tool) runs as dotnet pwsh.dll.
    $self = (Get-Process -Id $PID).Path
    $entry = @(if ((Split-Path -Leaf $self) -notlike 'pwsh*') { Join-Path $PSHOME 'pwsh.dll' })
    & $self @entry -NoProfile -NonInteractive -File $PSCommandPath -DocsPath (Resolve-Path $DocsPath).Path `
        -OutputPath (Resolve-Path $OutputPath).Path -Culture $Culture -InChild | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "Build-Help: building the help in a child pwsh failed (exit code $LASTEXITCODE)." }
    return
}

Import-Module (Join-Path $PSScriptRoot 'HelpMarkdown.psm1') -Force

$manifest = @(Get-ChildItem -LiteralPath $OutputPath -Filter '*.psd1')
if ($manifest.Count -ne 1) { throw "Build-Help: expected one module manifest in $OutputPath, found $($manifest.Count)." }
$module = Import-Module $manifest[0].FullName -PassThru -Force
$cmdlets = @(Get-CmdletHelpMetadata -Command @($module.ExportedCmdlets.Values))

$cmdletDocs = Join-Path $DocsPath 'cmdlets'
$problems = [System.Collections.Generic.List[string]]::new()
$items = foreach ($cmdlet in $cmdlets) {
    $pagePath = Join-Path $cmdletDocs "$($cmdlet.Name).md"
    if (-not (Test-Path -LiteralPath $pagePath)) {
        $problems.Add("$($cmdlet.Name) has no help page: write $pagePath (SYNOPSIS, SYNTAX, DESCRIPTION, EXAMPLES, PARAMETERS, INPUTS, OUTPUTS, NOTES, RELATED LINKS).")
        continue
    }
    $page = Read-CmdletMarkdown -Path $pagePath
    foreach ($problem in Test-CmdletMarkdown -Page $page -Cmdlet $cmdlet) { $problems.Add($problem) }

    $visible = @($cmdlet.Parameters | Where-Object { -not $_.DontShow } | ForEach-Object Name)
    foreach ($name in $visible) {
        if (-not $page.Parameters.Contains($name) -or -not $page.Parameters[$name].Description) {
            Write-Warning "$($cmdlet.Name).md does not describe -${name}: add a '### -$name' section under '## PARAMETERS'."
        }
    }
    foreach ($name in $page.Parameters.Keys) {
        if ($name -notin $visible) { Write-Warning "$($cmdlet.Name).md describes -$name, which $($cmdlet.Name) does not have." }
    }
    [pscustomobject]@{ Cmdlet = $cmdlet; Page = $page }
}

foreach ($page in Get-ChildItem -LiteralPath $cmdletDocs -Filter '*.md' -ErrorAction SilentlyContinue) {
    if ($page.BaseName -notin $cmdlets.Name) { Write-Warning "docs/cmdlets/$($page.Name) is for no cmdlet the module exports." }
}

if ($problems.Count) {
    throw "Build-Help: the help in $cmdletDocs is incomplete:`n  - $($problems -join "`n  - ")"
}

$helpDir = New-Item -ItemType Directory -Force (Join-Path $OutputPath $Culture)
$mamlPath = Join-Path $helpDir "$($module.RootModule)-Help.xml"
Write-MamlHelp -Path $mamlPath -Items @($items)
# Get-Help parses it later, where a broken file shows only as missing help: check it is well-formed now.
$null = [xml](Get-Content -Raw -LiteralPath $mamlPath)

foreach ($about in Get-ChildItem -LiteralPath $DocsPath -Filter 'about_*.md') {
    $text = ConvertTo-AboutHelpText -Path $about.FullName
    [System.IO.File]::WriteAllText((Join-Path $helpDir "$($about.BaseName).help.txt"), $text, [System.Text.UTF8Encoding]::new($false))
}

Write-Verbose "Help for $(@($items).Count) cmdlet(s) written to $helpDir"
