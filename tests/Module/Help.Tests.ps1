# Help of the built module, as Get-Help shows it: every exported cmdlet has a synopsis, a description, every
# parameter described, at least two examples whose code parses, and its outputs; about_VdpaPS is there. The
# Markdown pages in docs/ are checked against the compiled cmdlets too, since people read them on their own.
# The reference is Get-Command (its syntax, parameters and parameter sets), read in this file, and for the
# converter itself a golden MAML file: not the converter's own functions.
BeforeDiscovery {
    $manifest = Import-PowerShellDataFile (Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1')
    $script:Cmdlets = @($manifest.CmdletsToExport | ForEach-Object { @{ Name = $_ } })
}

BeforeAll {
    $script:ModuleDir = $env:VDPAPS_MODULE_PATH
    $script:Docs = Join-Path $PSScriptRoot '../../docs'
    Import-Module (Join-Path $ModuleDir 'VdpaPS.psd1') -Force
    Import-Module (Join-Path $Docs 'tools/HelpMarkdown.psm1') -Force

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

    # The reference: what Get-Command says of a command, read here without the converter's code.
    function Get-ReferenceParameter([System.Management.Automation.CommandInfo] $Command, [string] $Name) {
        $parameter = $Command.Parameters[$Name]
        $inSets = @(foreach ($set in $Command.ParameterSets) { $set.Parameters | Where-Object Name -EQ $Name | ForEach-Object { [pscustomobject]@{ SetName = $set.Name; Entry = $_ } } })
        $byValue = [bool]($inSets.Entry | Where-Object ValueFromPipeline)
        $byName = [bool]($inSets.Entry | Where-Object ValueFromPipelineByPropertyName)
        $validateSet = $parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }
        $type = $parameter.ParameterType
        if ([Nullable]::GetUnderlyingType($type)) { $type = [Nullable]::GetUnderlyingType($type) }
        [pscustomobject]@{
            Type = $type
            Required = -not ($inSets.Entry | Where-Object { -not $_.IsMandatory })
            # A position per set it has one in; 'Named' where it has none.
            Positions = @(@($inSets.Entry | Where-Object Position -GE 0 | ForEach-Object { "$($_.Position)" }) | Select-Object -Unique)
            PipelineInput = if ($byValue -and $byName) { 'True (ByValue, ByPropertyName)' } elseif ($byValue) { 'True (ByValue)' } elseif ($byName) { 'True (ByPropertyName)' } else { 'False' }
            Wildcards = [bool]($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
            Aliases = @($parameter.Aliases)
            ValidValues = @(if ($validateSet) { $validateSet.ValidValues })
            Sets = if ($inSets.Count -eq @($Command.ParameterSets).Count) { '(All)' } else { (@($inSets.SetName) | Sort-Object) -join ', ' }
        }
    }

    function Get-DocumentedParameterName([System.Management.Automation.CommandInfo] $Command) {
        # Every parameter but the common ones (-WhatIf and -Confirm are documented, as platyPS does) and those hidden
        # (DontShow) wherever they appear.
        foreach ($p in $Command.Parameters.Values) {
            if ([System.Management.Automation.Cmdlet]::CommonParameters.Contains($p.Name)) { continue }
            $placements = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
            if ($placements.Count -and -not ($placements | Where-Object { -not $_.DontShow })) { continue }
            $p.Name
        }
    }

    function Get-SyntaxShape([string] $Line, [System.Management.Automation.CommandInfo] $Command) {
        # One syntax line in a comparable form: positional parameters in order, named ones sorted; each as
        # optional/positional markers, name and type, the type resolved ([string] and <String> alike) and a
        # ValidateSet's {a | b} read as its values. Hidden parameters (Get-Command -Syntax shows them) are left out.
        $documented = @(Get-DocumentedParameterName $Command)
        $positional = [System.Collections.Generic.List[string]]::new()
        $named = [System.Collections.Generic.List[string]]::new()
        $pattern = '(?<open>\[*)-(?<name>\w+)(?<close>\]?)(?:\s+(?<value><[^>]+>|\{[^}]*\}))?\]?'
        foreach ($m in [regex]::Matches(($Line -replace '\[<CommonParameters>\]', ''), $pattern)) {
            $name = $m.Groups['name'].Value
            if ($name -notin $documented) { continue }
            $value = $m.Groups['value'].Value
            $parameter = $Command.Parameters[$name]
            $validateSet = $parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }
            $type = if (-not $value) { 'switch' }
            elseif ($value.StartsWith('{')) { '{' + ((($value.Trim('{', '}') -split '\|') | ForEach-Object Trim) -join '|') + '}' }
            elseif ($validateSet) { '{' + ($validateSet.ValidValues -join '|') + '}' }
            else { $written = $value.Trim('<', '>'); $resolved = $written -as [type]; if ($resolved) { $resolved.FullName } else { $written.ToLowerInvariant() } }
            $isPositional = $m.Groups['close'].Value -eq ']' -and $value
            $optional = $m.Groups['open'].Value.Length -gt $(if ($isPositional) { 1 } else { 0 })
            $word = "$(if ($optional) { 'optional ' })$(if ($isPositional) { 'positional ' })-$name $type"
            if ($isPositional) { $positional.Add($word) } else { $named.Add($word) }
        }
        return (@($positional) + @($named | Sort-Object)) -join '; '
    }
}

Describe 'Help for <Name>' -ForEach $Cmdlets {
    BeforeAll {
        $script:Help = Get-Help $Name -Full
        $script:Command = Get-Command $Name
        $script:Visible = @(Get-DocumentedParameterName $Command)
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
            $entry = $Help.parameters.parameter | Where-Object name -EQ $parameter
            $entry | Should -Not -BeNullOrEmpty -Because "-$parameter needs an entry in the help"
            Get-Text $entry.description | Should -Not -BeNullOrEmpty -Because "-$parameter needs a description (docs/cmdlets/$Name.md)"
        }
    }

    It 'describes no parameter the cmdlet lacks' {
        foreach ($entry in $Help.parameters.parameter) {
            $Visible | Should -Contain $entry.name -Because "the help describes -$($entry.name)"
        }
    }

    It 'states each parameter''s metadata as Get-Command has it' {
        foreach ($parameter in $Visible) {
            $entry = $Help.parameters.parameter | Where-Object name -EQ $parameter
            $expected = Get-ReferenceParameter $Command $parameter
            $because = "of -$parameter"
            $entry.required | Should -Be "$($expected.Required)".ToLowerInvariant() -Because $because
            if ($expected.Positions) { $entry.position | Should -BeIn $expected.Positions -Because $because } else { $entry.position | Should -Be 'named' -Because $because }
            $entry.pipelineInput | Should -Be $expected.PipelineInput -Because $because
            $entry.globbing | Should -Be "$($expected.Wildcards)".ToLowerInvariant() -Because $because
            $entry.type.name | Should -Be $expected.Type.FullName -Because $because
            @($entry.parameterValueGroup.parameterValue | Where-Object { $_ }) | Should -Be $expected.ValidValues -Because $because
            $aliases = @(if ($entry.aliases -ne 'none') { $entry.aliases -split ',\s*' })
            $aliases | Should -Be $expected.Aliases -Because $because
        }
    }

    It 'has the syntax Get-Command has: a line per parameter set, the same parameters and types' {
        # Get-Help draws the syntax from the MAML; Get-Command from the compiled parameter sets.
        $shown = @((Get-Help $Name).syntax | Out-String -Width 1000) -split '\r?\n' | Where-Object { $_ -match "^\s*$Name\s" }
        $expected = @($Command.ParameterSets | ForEach-Object { Get-SyntaxShape "$Name $_" $Command })
        @($shown | ForEach-Object { Get-SyntaxShape $_ $Command } | Sort-Object) | Should -Be @($expected | Sort-Object)
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
        foreach ($type in $Command.OutputType.Name) { $outputs | Should -Contain $type }
    }

    It 'has inputs and notes' {
        @($Help.inputTypes.inputType).Count | Should -BeGreaterOrEqual 1
        Get-Text $Help.alertSet.alert | Should -Not -BeNullOrEmpty
    }

    It 'has a Markdown page whose SYNTAX is Get-Command''s' {
        $Page | Should -Not -BeNullOrEmpty -Because "docs/cmdlets/$Name.md is the help's source"
        $expected = @($Command.ParameterSets | ForEach-Object { Get-SyntaxShape "$Name $_" $Command })
        @($Page.Syntax | ForEach-Object { Get-SyntaxShape $_ $Command } | Sort-Object) | Should -Be @($expected | Sort-Object)
    }

    It 'has a Markdown page whose parameter blocks agree with Get-Command' {
        foreach ($parameter in $Visible) {
            $yaml = $Page.Parameters[$parameter].Yaml
            $expected = Get-ReferenceParameter $Command $parameter
            $because = "docs/cmdlets/$Name.md states -$parameter"
            # The page names a type by its .NET name without namespace (String[], Int64, SwitchParameter).
            $yaml['Type'] | Should -Be $expected.Type.Name -Because $because
            $yaml['Required'] | Should -Be "$($expected.Required)" -Because $because
            if ($expected.Positions) { $yaml['Position'] | Should -BeIn $expected.Positions -Because $because } else { $yaml['Position'] | Should -Be 'Named' -Because $because }
            $yaml['Accept pipeline input'] | Should -Be $expected.PipelineInput -Because $because
            $yaml['Accept wildcard characters'] | Should -Be "$($expected.Wildcards)" -Because $because
            $yaml['Parameter Sets'] | Should -Be $expected.Sets -Because $because
            @(($yaml['Aliases'] -split ',\s*') | Where-Object { $_ }) | Should -Be $expected.Aliases -Because $because
            @(($yaml['Accepted values'] -split ',\s*') | Where-Object { $_ }) | Should -Be $expected.ValidValues -Because $because
        }
    }
}

Describe 'The converter, on a page with every construct' {
    BeforeAll {
        # A golden file: the MAML the converter must write for tests/Module/HelpGolden/Set-HelpFixture.md and the
        # fixture command, reviewed by hand. It was first written by the hand-parsing converter this one replaced,
        # and differs from that output only where the old one was wrong (emphasis markers and escaped pipes kept,
        # an absolute related link's address lost).
        $golden = Join-Path $PSScriptRoot 'HelpGolden'
        Import-Module (Join-Path $golden 'Fixture.psm1') -Force
        $script:Expected = Get-Content -Raw (Join-Path $golden 'Set-HelpFixture.maml.xml')
        $script:Written = Join-Path ([System.IO.Path]::GetTempPath()) "vdpaps-help-golden-$([guid]::NewGuid().ToString('n')).xml"
        $cmdlet = Get-CmdletHelpMetadata -Command (Get-Command Set-HelpFixture)
        $script:Page = Read-CmdletMarkdown -Path (Join-Path $golden 'Set-HelpFixture.md')
        $script:Problems = @(Test-CmdletMarkdown -Page $Page -Cmdlet $cmdlet)
        Write-MamlHelp -Path $Written -Items @([pscustomobject]@{ Cmdlet = $cmdlet; Page = $Page })
    }

    AfterAll {
        Remove-Item -LiteralPath $Written -ErrorAction SilentlyContinue
        Remove-Module Fixture -ErrorAction SilentlyContinue
    }

    It 'writes the golden MAML file' {
        Get-Content -Raw $Written | Should -BeExactly $Expected
    }

    It 'finds nothing missing on a complete page' {
        $Problems | Should -BeNullOrEmpty
    }

    It 'reads the fixture page''s SYNTAX as Get-Command states it' {
        $command = Get-Command Set-HelpFixture
        $expected = @($command.ParameterSets | ForEach-Object { Get-SyntaxShape "Set-HelpFixture $_" $command })
        @($Page.Syntax | ForEach-Object { Get-SyntaxShape $_ $command } | Sort-Object) | Should -Be @($expected | Sort-Object)
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
        @{ Topic = 'fleets'; Pattern = 'Get-VdpaCommonFeature' }
        @{ Topic = 'live migration'; Pattern = 'Test-VdpaMigration' }
    ) {
        $About | Should -Match ([regex]::Escape($Pattern))
    }

    It 'has code that parses, in every powershell block of its source' {
        # Read with Markdig directly, not with the converter.
        $document = (ConvertFrom-Markdown -Path (Join-Path $Docs 'about_VdpaPS.md')).Tokens
        $blocks = @([Markdig.Syntax.MarkdownObjectExtensions]::Descendants($document) | Where-Object { $_ -is [Markdig.Syntax.FencedCodeBlock] -and $_.Info -eq 'powershell' })
        $blocks.Count | Should -BeGreaterOrEqual 5
        foreach ($block in $blocks) { Get-ParseError $block.Lines.ToString() | Should -BeNullOrEmpty -Because $block.Lines.ToString() }
    }
}
