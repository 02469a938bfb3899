# Help of the built module, as Get-Help shows it: every exported cmdlet has a synopsis, a description, every
# parameter described, at least two examples whose code parses, and its outputs; about_VdpaPS is there. The
# Markdown pages in docs/ are checked against the compiled cmdlets too, since people read them on their own.
BeforeDiscovery {
    $manifest = Import-PowerShellDataFile (Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1')
    $script:Cmdlets = @($manifest.CmdletsToExport | ForEach-Object { @{ Name = $_ } })
}

BeforeAll {
    $script:ModuleDir = $env:VDPAPS_MODULE_PATH
    $script:Docs = Join-Path $PSScriptRoot '../../docs'
    Import-Module (Join-Path $ModuleDir 'VdpaPS.psd1') -Force
    Import-Module (Join-Path $Docs 'tools/HelpMarkdown.psm1') -Force
    $script:Metadata = @{}
    foreach ($m in Get-CmdletHelpMetadata -Module (Get-Module VdpaPS)) {
        $Metadata[$m.Name] = [pscustomobject]@{
            Name = $m.Name
            OutputTypes = $m.OutputTypes
            Parameters = @($m.Parameters | ForEach-Object { [pscustomobject]$_ })
            ParameterSets = @($m.ParameterSets | ForEach-Object { [pscustomobject]@{ Name = $_.Name; IsDefault = $_.IsDefault; Parameters = @($_.Parameters | ForEach-Object { [pscustomobject]$_ }) } })
        }
    }

    function Get-ParseError([string] $Code) {
        $tokens = $null
        $errors = $null
        $null = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$tokens, [ref]$errors)
        return @($errors | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Message)" })
    }

    function Get-Text($Node) {
        # MAML text nodes come back as objects with Text properties, one per paragraph.
        return (@($Node | ForEach-Object { $_.Text }) -join "`n").Trim()
    }
}

Describe 'Help for <Name>' -ForEach $Cmdlets {
    BeforeAll {
        $script:Help = Get-Help $Name -Full
        $script:Meta = $Metadata[$Name]
        $script:Visible = @($Meta.Parameters | Where-Object { -not $_.DontShow })
        $script:PagePath = Join-Path $Docs "cmdlets/$Name.md"
        $script:Page = if (Test-Path $PagePath) { Read-CmdletMarkdown -Path $PagePath }
    }

    It 'comes from the module''s MAML file, not from the generated stub' {
        $Help.PSObject.TypeNames | Should -Contain 'MamlCommandHelpInfo'
        Test-Path (Join-Path $ModuleDir 'en-US/VdpaPS.dll-Help.xml') | Should -BeTrue
    }

    It 'has a synopsis' {
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        # Without help, Get-Help makes the synopsis from the syntax, which starts with the name.
        $Help.Synopsis | Should -Not -BeLike "$Name *"
    }

    It 'has a description' {
        Get-Text $Help.description | Should -Not -BeNullOrEmpty
    }

    It 'describes every parameter' {
        foreach ($parameter in $Visible) {
            $entry = $Help.parameters.parameter | Where-Object name -EQ $parameter.Name
            $entry | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs an entry in the help"
            Get-Text $entry.description | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs a description (docs/cmdlets/$Name.md)"
        }
    }

    It 'describes no parameter the cmdlet lacks' {
        foreach ($entry in $Help.parameters.parameter) {
            $Visible.Name | Should -Contain $entry.name -Because "the help describes -$($entry.name)"
        }
    }

    It 'states each parameter''s metadata as the compiled cmdlet has it' {
        foreach ($parameter in $Visible) {
            $entry = $Help.parameters.parameter | Where-Object name -EQ $parameter.Name
            $merged = Get-MergedParameter $Meta $parameter.Name
            $because = "of -$($parameter.Name)"
            $entry.required | Should -Be $merged.Required.ToString().ToLowerInvariant() -Because $because
            $entry.position | Should -Be $(if ($merged.Position -eq 'Named') { 'named' } else { $merged.Position }) -Because $because
            $entry.pipelineInput | Should -Be $merged.PipelineInput -Because $because
            $entry.globbing | Should -Be $parameter.SupportsWildcards.ToString().ToLowerInvariant() -Because $because
            $entry.type.name | Should -Be $parameter.TypeFullName -Because $because
            # A ValidateSet shows in the syntax as {a | b | c}.
            @($entry.parameterValueGroup.parameterValue | Where-Object { $_ }) | Should -Be @($parameter.ValidValues) -Because $because
        }
    }

    It 'has a syntax line for every parameter set' {
        @($Help.syntax.syntaxItem).Count | Should -Be @($Meta.ParameterSets).Count
    }

    It 'has at least two examples, each with code and a sentence' {
        $examples = @($Help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            $example.code | Should -Not -BeNullOrEmpty -Because "$($example.title) needs code"
            Get-Text $example.remarks | Should -Not -BeNullOrEmpty -Because "$($example.title) needs a sentence saying what it does"
        }
    }

    It 'has examples whose code parses' {
        foreach ($example in @($Help.examples.example)) {
            Get-ParseError $example.code | Should -BeNullOrEmpty -Because "the code of $($example.title.Trim(' -')) must parse"
        }
    }

    It 'names each output type the cmdlet declares' {
        $outputs = @($Help.returnValues.returnValue | ForEach-Object { $_.type.name })
        foreach ($type in $Meta.OutputTypes) { $outputs | Should -Contain $type }
    }

    It 'has inputs and notes' {
        @($Help.inputTypes.inputType).Count | Should -BeGreaterOrEqual 1
        Get-Text $Help.alertSet.alert | Should -Not -BeNullOrEmpty
    }

    It 'has a Markdown page whose SYNTAX matches the compiled cmdlet' {
        $Page | Should -Not -BeNullOrEmpty -Because "docs/cmdlets/$Name.md is the help's source"
        $expected = @(Format-CmdletSyntax $Meta | ForEach-Object Text)
        ($Page.Syntax | Sort-Object) | Should -Be ($expected | Sort-Object)
    }

    It 'has a Markdown page whose parameter blocks agree with the compiled cmdlet' {
        foreach ($parameter in $Visible) {
            $yaml = $Page.Parameters[$parameter.Name].Yaml
            $merged = Get-MergedParameter $Meta $parameter.Name
            $because = "docs/cmdlets/$Name.md states -$($parameter.Name)"
            $yaml['Type'] | Should -Be $parameter.TypeName -Because $because
            $yaml['Required'] | Should -Be $merged.Required.ToString() -Because $because
            $yaml['Position'] | Should -Be $merged.Position -Because $because
            $yaml['Accept pipeline input'] | Should -Be $merged.PipelineInput -Because $because
            $yaml['Accept wildcard characters'] | Should -Be $parameter.SupportsWildcards.ToString() -Because $because
            $yaml['Parameter Sets'] | Should -Be $merged.ParameterSets -Because $because
            @(($yaml['Aliases'] -split ',\s*') | Where-Object { $_ }) | Should -Be @($parameter.Aliases) -Because $because
            @(($yaml['Accepted values'] -split ',\s*') | Where-Object { $_ }) | Should -Be @($parameter.ValidValues) -Because $because
        }
    }
}

Describe 'The help pages in docs/cmdlets' {
    It 'are each for a cmdlet the module exports' {
        $exported = (Get-Command -Module VdpaPS -CommandType Cmdlet).Name
        foreach ($page in Get-ChildItem (Join-Path $Docs 'cmdlets') -Filter '*.md') {
            $exported | Should -Contain $page.BaseName -Because "$($page.Name) documents a cmdlet"
        }
    }
}

Describe 'about_VdpaPS' {
    BeforeAll {
        $script:About = Get-Help about_VdpaPS | Out-String
    }

    It 'is found by Get-Help' {
        $About | Should -Match 'about_VdpaPS'
        $About | Should -Match 'SHORT DESCRIPTION'
        Test-Path (Join-Path $ModuleDir 'en-US/about_VdpaPS.help.txt') | Should -BeTrue
    }

    It 'explains <Topic>' -ForEach @(
        @{ Topic = 'parents'; Pattern = 'management device' }
        @{ Topic = 'devices'; Pattern = 'New-VdpaDevice' }
        @{ Topic = 'classes'; Pattern = 'virtio id 2' }
        @{ Topic = 'features'; Pattern = 'NegotiatedFeatures' }
        @{ Topic = 'queues'; Pattern = 'virtqueue' }
        @{ Topic = 'vhost_vdpa'; Pattern = '/dev/vhost-vdpa-N' }
        @{ Topic = 'virtio_vdpa'; Pattern = 'virtio_vdpa' }
        @{ Topic = 'privilege'; Pattern = 'CAP_NET_ADMIN' }
        @{ Topic = 'errors'; Pattern = 'VdpaPermissionDenied' }
        @{ Topic = 'the runbook'; Pattern = 'Runbook' }
    ) {
        $About | Should -Match ([regex]::Escape($Pattern))
    }

    It 'has code that parses, in every powershell block of its source' {
        $blocks = ConvertFrom-MarkdownBlock (Get-Content (Join-Path $Docs 'about_VdpaPS.md')) | Where-Object { $_.Kind -eq 'Code' -and $_.Language -eq 'powershell' }
        @($blocks).Count | Should -BeGreaterOrEqual 5
        foreach ($block in $blocks) { Get-ParseError $block.Text | Should -BeNullOrEmpty -Because $block.Text }
    }
}
