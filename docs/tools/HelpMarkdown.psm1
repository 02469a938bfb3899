# Reads the help pages in docs/ (platyPS schema 2.0 layout) and writes MAML and about_*.help.txt from them.
# platyPS is not on the feed this project restores from, so this is the converter: Build-Help.ps1 drives it,
# and tests/Module/Help.Tests.ps1 uses the same parser to check the pages against the compiled cmdlets.
# Pure PowerShell: importing it never loads the module's DLL.

Set-StrictMode -Version 3.0

$script:Namespaces = [ordered]@{
    maml = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev = 'http://schemas.microsoft.com/maml/dev/2004/10'
    MSHelp = 'http://msdn.microsoft.com/mshelp'
}

#region Cmdlet metadata

function Get-ShortTypeName([type] $Type) {
    # What a reader types: Int64 for long?, VdpaDevice[] for an array.
    $inner = [Nullable]::GetUnderlyingType($Type)
    if ($inner) { $Type = $inner }
    if ($Type.IsArray) { return "$(Get-ShortTypeName $Type.GetElementType())[]" }
    return $Type.Name
}

function Get-FullTypeName([type] $Type) {
    $inner = [Nullable]::GetUnderlyingType($Type)
    if ($inner) { $Type = $inner }
    if ($Type.IsArray) { return "$(Get-FullTypeName $Type.GetElementType())[]" }
    return $Type.FullName
}

function Test-CommonParameter([string] $Name) {
    # -WhatIf and -Confirm are documented like any parameter (as platyPS does); the rest are <CommonParameters>.
    return [System.Management.Automation.Cmdlet]::CommonParameters.Contains($Name) -or $Name -eq 'UseTransaction'
}

function Get-CmdletHelpMetadata {
    <#
    .SYNOPSIS
        The parameter metadata help is built from, for every cmdlet a loaded module exports.
    .DESCRIPTION
        Plain data (hashtables and arrays), so it survives a JSON round trip from the child pwsh that loaded the DLL.
    #>
    param([Parameter(Mandatory)] [System.Management.Automation.PSModuleInfo] $Module)

    foreach ($command in $Module.ExportedCmdlets.Values | Sort-Object Name) {
        $parameters = foreach ($p in $command.Parameters.Values) {
            if (Test-CommonParameter $p.Name) { continue }
            $parameterAttributes = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
            $validateSet = $p.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
            [ordered]@{
                Name = $p.Name
                TypeName = Get-ShortTypeName $p.ParameterType
                TypeFullName = Get-FullTypeName $p.ParameterType
                IsSwitch = $p.SwitchParameter
                IsArray = $p.ParameterType.IsArray
                Aliases = @($p.Aliases)
                SupportsWildcards = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
                # Hidden (DontShow) in every set it is in: left out of syntax and help, as Get-Command -Syntax does.
                DontShow = $parameterAttributes.Count -gt 0 -and -not ($parameterAttributes | Where-Object { -not $_.DontShow })
                ValidValues = @(if ($validateSet) { $validateSet.ValidValues })
            }
        }

        $sets = foreach ($set in $command.ParameterSets) {
            $setParameters = foreach ($p in $set.Parameters) {
                if (Test-CommonParameter $p.Name) { continue }
                [ordered]@{
                    Name = $p.Name
                    IsMandatory = $p.IsMandatory
                    Position = if ($p.Position -ge 0) { $p.Position } else { $null }
                    ValueFromPipeline = $p.ValueFromPipeline
                    ValueFromPipelineByPropertyName = $p.ValueFromPipelineByPropertyName
                }
            }
            [ordered]@{ Name = $set.Name; IsDefault = $set.IsDefault; Parameters = @($setParameters) }
        }

        [ordered]@{
            Name = $command.Name
            Verb = $command.Verb
            Noun = $command.Noun
            DefaultParameterSet = $command.DefaultParameterSet
            OutputTypes = @($command.OutputType | ForEach-Object Name)
            Parameters = @($parameters)
            ParameterSets = @($sets)
        }
    }
}

function Get-VisibleParameter($Cmdlet) {
    return @($Cmdlet.Parameters | Where-Object { -not $_.DontShow })
}

function Get-MergedParameter {
    <#
    .SYNOPSIS
        One parameter's help attributes over all its parameter sets, as the PARAMETERS section states them.
    .DESCRIPTION
        Required only when mandatory in every set it belongs to; position from the default set first; pipeline
        input the union of its sets.
    #>
    param([Parameter(Mandatory)] $Cmdlet, [Parameter(Mandatory)] [string] $Name)

    $sets = @($Cmdlet.ParameterSets | Sort-Object { -not $_.IsDefault } | ForEach-Object {
            $entry = $_.Parameters | Where-Object Name -EQ $Name
            if ($entry) { [pscustomobject]@{ SetName = $_.Name; Entry = $entry } }
        })
    $required = $sets.Count -gt 0 -and -not ($sets | Where-Object { -not $_.Entry.IsMandatory })
    $positioned = $sets | Where-Object { $null -ne $_.Entry.Position } | Select-Object -First 1
    $byValue = [bool]($sets | Where-Object { $_.Entry.ValueFromPipeline })
    $byName = [bool]($sets | Where-Object { $_.Entry.ValueFromPipelineByPropertyName })
    $pipeline = if ($byValue -and $byName) { 'True (ByValue, ByPropertyName)' }
    elseif ($byValue) { 'True (ByValue)' }
    elseif ($byName) { 'True (ByPropertyName)' }
    else { 'False' }
    $allSets = @($Cmdlet.ParameterSets).Count
    [pscustomobject]@{
        Required = [bool]$required
        Position = if ($positioned) { "$($positioned.Entry.Position)" } else { 'Named' }
        PipelineInput = $pipeline
        ParameterSets = if ($sets.Count -eq $allSets) { '(All)' } else { ($sets.SetName | Sort-Object) -join ', ' }
    }
}

function Format-CmdletSyntax {
    <#
    .SYNOPSIS
        One syntax line per parameter set, in platyPS's notation: [[-Name] <String[]>] [-PassThru] [<CommonParameters>].
    .DESCRIPTION
        Positional parameters first, by position, then the others in declaration order.
    #>
    param([Parameter(Mandatory)] $Cmdlet)

    $declared = @($Cmdlet.Parameters.Name)
    foreach ($set in $Cmdlet.ParameterSets | Sort-Object { -not $_.IsDefault }, Name) {
        $visible = @($set.Parameters | Where-Object { $p = $_; -not ($Cmdlet.Parameters | Where-Object { $_.Name -eq $p.Name -and $_.DontShow }) })
        $ordered = @($visible | Where-Object { $null -ne $_.Position } | Sort-Object Position) +
            @($visible | Where-Object { $null -eq $_.Position } | Sort-Object { [array]::IndexOf($declared, $_.Name) })
        $words = foreach ($p in $ordered) {
            $meta = $Cmdlet.Parameters | Where-Object Name -EQ $p.Name
            $name = if ($null -ne $p.Position) { "[-$($p.Name)]" } else { "-$($p.Name)" }
            $word = if ($meta.IsSwitch) { "-$($p.Name)" } else { "$name <$($meta.TypeName)>" }
            if ($p.IsMandatory) { $word } else { "[$word]" }
        }
        [pscustomobject]@{
            ParameterSet = $set.Name
            Text = (@($Cmdlet.Name) + @($words) + '[<CommonParameters>]') -join ' '
        }
    }
}

#endregion

#region Markdown

function Split-MarkdownSection {
    # Splits at headings of one level, ignoring '#' lines inside code fences. Text before the first heading has Title ''.
    param([string[]] $Lines, [Parameter(Mandatory)] [string] $Marker)

    $sections = [System.Collections.Generic.List[object]]::new()
    $current = [pscustomobject]@{ Title = ''; Lines = [System.Collections.Generic.List[string]]::new() }
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^\s*```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith("$Marker ")) {
            $sections.Add($current)
            $current = [pscustomobject]@{ Title = $line.Substring($Marker.Length + 1).Trim(); Lines = [System.Collections.Generic.List[string]]::new() }
            continue
        }
        $current.Lines.Add($line)
    }
    $sections.Add($current)
    return $sections
}

function ConvertFrom-MarkdownBlock {
    <#
    .SYNOPSIS
        Lines of Markdown as blocks: Paragraph, ListItem, Code (with its language) and Table.
    #>
    param([string[]] $Lines, [string] $Source = 'Markdown')

    $blocks = [System.Collections.Generic.List[object]]::new()
    $paragraph = [System.Collections.Generic.List[string]]::new()
    $flush = {
        if ($paragraph.Count) {
            $blocks.Add([pscustomobject]@{ Kind = 'Paragraph'; Text = ($paragraph -join ' '); Language = $null })
            $paragraph.Clear()
        }
    }
    $i = 0
    while ($i -lt $Lines.Count) {
        $line = $Lines[$i]
        if ($line -match '^\s*```\s*([\w-]*)\s*$') {
            . $flush
            $language = $Matches[1]
            $code = [System.Collections.Generic.List[string]]::new()
            $i++
            while ($i -lt $Lines.Count -and $Lines[$i] -notmatch '^\s*```\s*$') { $code.Add($Lines[$i]); $i++ }
            if ($i -ge $Lines.Count) { throw "$Source has a code fence that is never closed." }
            $blocks.Add([pscustomobject]@{ Kind = 'Code'; Text = ($code -join "`n"); Language = $language })
            $i++
            continue
        }
        if ($line -match '^\s*$') { . $flush; $i++; continue }
        if ($line -match '^\s*\|') {
            . $flush
            $rows = [System.Collections.Generic.List[string]]::new()
            while ($i -lt $Lines.Count -and $Lines[$i] -match '^\s*\|') { $rows.Add($Lines[$i].Trim()); $i++ }
            $blocks.Add([pscustomobject]@{ Kind = 'Table'; Text = ($rows -join "`n"); Language = $null })
            continue
        }
        if ($line -match '^\s*([-*]|\d+\.)\s+(.*)$') {
            . $flush
            $marker = $Matches[1]
            $item = [System.Collections.Generic.List[string]]::new()
            $item.Add($Matches[2].Trim())
            $i++
            # Continuation: indented, non-blank lines that start no new item or fence.
            while ($i -lt $Lines.Count -and $Lines[$i] -match '^\s+\S' -and $Lines[$i] -notmatch '^\s*([-*]|\d+\.)\s+' -and $Lines[$i] -notmatch '^\s*```') {
                $item.Add($Lines[$i].Trim()); $i++
            }
            $bullet = if ($marker -match '\d') { $marker } else { '-' }
            $blocks.Add([pscustomobject]@{ Kind = 'ListItem'; Text = ($item -join ' '); Language = $bullet })
            continue
        }
        $paragraph.Add($line.Trim())
        $i++
    }
    . $flush
    return $blocks
}

function Format-HelpInline {
    # Links lose their Markdown: absolute ones keep the address in parentheses, links between pages keep the text.
    # Bold markers go; `code` stays, as platyPS leaves it.
    param([AllowEmptyString()] [string] $Text)

    $Text = [regex]::Replace($Text, '\[([^\]]+)\]\(([^)\s]+)\)', {
            param($m)
            if ($m.Groups[2].Value -match '^[a-z]+://') { "$($m.Groups[1].Value) ($($m.Groups[2].Value))" } else { $m.Groups[1].Value }
        })
    return ($Text -replace '\*\*([^*]+)\*\*', '$1')
}

function Format-BlockText($Block) {
    # The text a help paragraph carries: lists keep their bullet, code and tables their lines.
    switch ($Block.Kind) {
        'ListItem' { return "$($Block.Language) $(Format-HelpInline $Block.Text)" }
        'Code' { return $Block.Text }
        'Table' { return (Format-TableText $Block.Text) -join "`n" }
        default { return Format-HelpInline $Block.Text }
    }
}

function Format-TableText([string] $Text) {
    # A pipe table as aligned columns, its separator row drawn as dashes.
    $rows = @($Text -split "`n" | ForEach-Object {
            $cells = $_.Trim().Trim('|') -split '(?<!\\)\|'
            , @($cells | ForEach-Object { Format-HelpInline ($_.Trim() -replace '\\\|', '|') })
        })
    $data = @($rows | Where-Object { -not (($_ -join '') -match '^[\s:-]*$') })
    $columns = ($data | ForEach-Object { $_.Count } | Measure-Object -Maximum).Maximum
    $widths = foreach ($c in 0..($columns - 1)) { ($data | ForEach-Object { if ($c -lt $_.Count) { $_[$c].Length } else { 0 } } | Measure-Object -Maximum).Maximum }
    $lines = [System.Collections.Generic.List[string]]::new()
    for ($r = 0; $r -lt $data.Count; $r++) {
        $cells = for ($c = 0; $c -lt $columns; $c++) { $value = if ($c -lt $data[$r].Count) { $data[$r][$c] } else { '' }; $value.PadRight($widths[$c]) }
        $lines.Add(($cells -join '  ').TrimEnd())
        if ($r -eq 0) { $lines.Add((($widths | ForEach-Object { '-' * $_ }) -join '  ')) }
    }
    return $lines
}

function Read-CmdletMarkdown {
    <#
    .SYNOPSIS
        Parses one docs/cmdlets/<Name>.md page into its sections.
    #>
    param([Parameter(Mandatory)] [string] $Path)

    $lines = @(Get-Content -LiteralPath $Path)
    # YAML front matter (platyPS's external help file, schema) is for tools, not readers.
    if ($lines.Count -and $lines[0] -eq '---') {
        $end = [array]::IndexOf($lines, '---', 1)
        if ($end -gt 0) { $lines = @($lines | Select-Object -Skip ($end + 1)) }
    }

    $top = Split-MarkdownSection $lines '#'
    $titled = @($top | Where-Object Title)
    if ($titled.Count -ne 1) { throw "$Path needs exactly one '# <Cmdlet-Name>' title." }
    $page = [ordered]@{
        Path = $Path
        Name = $titled[0].Title
        Synopsis = ''
        Syntax = @()
        Description = @()
        Examples = @()
        Parameters = [ordered]@{}
        Inputs = @()
        Outputs = @()
        Notes = @()
        Links = @()
    }

    foreach ($section in Split-MarkdownSection $titled[0].Lines '##') {
        $blocks = { param($l) @(ConvertFrom-MarkdownBlock $l "$Path ($($section.Title))") }
        switch ($section.Title.ToUpperInvariant()) {
            '' { }
            'SYNOPSIS' { $page.Synopsis = Format-HelpInline ((& $blocks $section.Lines | ForEach-Object Text) -join ' ') }
            'SYNTAX' { $page.Syntax = @(& $blocks $section.Lines | Where-Object Kind -EQ 'Code' | ForEach-Object { ($_.Text -replace '\s+', ' ').Trim() }) }
            'DESCRIPTION' { $page.Description = & $blocks $section.Lines }
            'EXAMPLES' {
                $page.Examples = @(foreach ($example in Split-MarkdownSection $section.Lines '###' | Where-Object Title) {
                        $exampleBlocks = & $blocks $example.Lines
                        # The powershell fences are the example's code; everything else (sentences, sample output) its remarks.
                        $code = @($exampleBlocks | Where-Object { $_.Kind -eq 'Code' -and $_.Language -in 'powershell', 'pwsh', 'ps1' })
                        [pscustomobject]@{
                            Title = $example.Title
                            Code = ($code.Text -join "`n`n")
                            Remarks = @($exampleBlocks | Where-Object { $_ -notin $code })
                        }
                    })
            }
            'PARAMETERS' {
                foreach ($parameter in Split-MarkdownSection $section.Lines '###' | Where-Object Title) {
                    if ($parameter.Title -eq 'CommonParameters') { continue }
                    $parameterBlocks = & $blocks $parameter.Lines
                    $yaml = [ordered]@{}
                    foreach ($block in $parameterBlocks | Where-Object { $_.Kind -eq 'Code' -and $_.Language -eq 'yaml' }) {
                        foreach ($line in $block.Text -split "`n") {
                            if ($line -match '^\s*([^:]+):\s*(.*)$') { $yaml[$Matches[1].Trim()] = $Matches[2].Trim() }
                        }
                    }
                    $page.Parameters[$parameter.Title.TrimStart('-')] = [pscustomobject]@{
                        Description = @($parameterBlocks | Where-Object { -not ($_.Kind -eq 'Code' -and $_.Language -eq 'yaml') })
                        Yaml = $yaml
                    }
                }
            }
            { $_ -in 'INPUTS', 'OUTPUTS' } {
                $types = @(foreach ($type in Split-MarkdownSection $section.Lines '###' | Where-Object Title) {
                        [pscustomobject]@{ Type = $type.Title; Description = & $blocks $type.Lines }
                    })
                if ($_ -eq 'INPUTS') { $page.Inputs = $types } else { $page.Outputs = $types }
            }
            'NOTES' { $page.Notes = & $blocks $section.Lines }
            'RELATED LINKS' {
                $page.Links = @(foreach ($block in & $blocks $section.Lines) {
                        if ($block.Text -match '^\[([^\]]+)\]\(([^)\s]*)\)') {
                            [pscustomobject]@{ Text = $Matches[1]; Uri = if ($Matches[2] -match '^[a-z]+://') { $Matches[2] } else { '' } }
                        } else {
                            [pscustomobject]@{ Text = Format-HelpInline $block.Text; Uri = '' }
                        }
                    })
            }
            default { throw "$Path has a section '## $($section.Title)' that help has no place for." }
        }
    }
    return [pscustomobject]$page
}

function Test-CmdletMarkdown {
    <#
    .SYNOPSIS
        What keeps a page from becoming help: returns one message per problem (empty when the page is usable).
    #>
    param([Parameter(Mandatory)] $Page, [Parameter(Mandatory)] $Cmdlet, [int] $MinimumExamples = 2)

    $file = Split-Path -Leaf $Page.Path
    if ($Page.Name -ne $Cmdlet.Name) { "$file is titled '# $($Page.Name)', not '# $($Cmdlet.Name)'." }
    if (-not $Page.Synopsis) { "$file has no SYNOPSIS." }
    if (-not $Page.Description) { "$file has no DESCRIPTION." }
    if ($Page.Examples.Count -lt $MinimumExamples) {
        "$file has $($Page.Examples.Count) example(s) under '## EXAMPLES'; every cmdlet needs at least $MinimumExamples, each a '### Example N: ...' heading with a ``````powershell block."
    }
    foreach ($example in $Page.Examples) {
        if (-not $example.Code) { "$file, '$($example.Title)': no ``````powershell code block." }
        if (-not $example.Remarks) { "$file, '$($example.Title)': no sentence saying what the example does." }
    }
}

#endregion

#region MAML

function Write-MamlPara([System.Xml.XmlWriter] $Writer, [object[]] $Blocks) {
    $Writer.WriteStartElement('maml', 'description', $script:Namespaces.maml)
    foreach ($block in $Blocks) {
        $Writer.WriteElementString('maml', 'para', $script:Namespaces.maml, (Format-BlockText $block))
    }
    $Writer.WriteEndElement()
}

function Write-MamlParameter {
    param([System.Xml.XmlWriter] $Writer, $Meta, $Doc, [bool] $Required, [string] $Position, [string] $PipelineInput, [bool] $InSyntax)

    $c = $script:Namespaces.command
    $Writer.WriteStartElement('command', 'parameter', $c)
    $Writer.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('variableLength', $Meta.IsArray.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('globbing', $Meta.SupportsWildcards.ToString().ToLowerInvariant())
    $Writer.WriteAttributeString('pipelineInput', $PipelineInput)
    $Writer.WriteAttributeString('position', $(if ($Position -eq 'Named') { 'named' } else { $Position }))
    $Writer.WriteAttributeString('aliases', $(if ($Meta.Aliases.Count) { $Meta.Aliases -join ', ' } else { 'none' }))
    $Writer.WriteElementString('maml', 'name', $script:Namespaces.maml, $Meta.Name)
    Write-MamlPara $Writer $(if ($Doc) { $Doc.Description } else { @() })
    if ($Meta.ValidValues.Count) {
        $Writer.WriteStartElement('command', 'parameterValueGroup', $c)
        foreach ($value in $Meta.ValidValues) {
            $Writer.WriteStartElement('command', 'parameterValue', $c)
            $Writer.WriteAttributeString('required', 'false')
            $Writer.WriteAttributeString('command', 'variableLength', $c, 'false')
            $Writer.WriteString($value)
            $Writer.WriteEndElement()
        }
        $Writer.WriteEndElement()
    }
    # A switch takes no value: in a syntax line it is just -PassThru.
    if (-not ($Meta.IsSwitch -and $InSyntax)) {
        $Writer.WriteStartElement('command', 'parameterValue', $c)
        $Writer.WriteAttributeString('required', (-not $Meta.IsSwitch).ToString().ToLowerInvariant())
        $Writer.WriteAttributeString('variableLength', $Meta.IsArray.ToString().ToLowerInvariant())
        $Writer.WriteString($Meta.TypeName)
        $Writer.WriteEndElement()
    }
    $Writer.WriteStartElement('dev', 'type', $script:Namespaces.dev)
    $Writer.WriteElementString('maml', 'name', $script:Namespaces.maml, $Meta.TypeFullName)
    $Writer.WriteElementString('maml', 'uri', $script:Namespaces.maml, '')
    $Writer.WriteEndElement()
    $default = if ($Doc -and $Doc.Yaml.Contains('Default value') -and $Doc.Yaml['Default value']) { $Doc.Yaml['Default value'] }
    elseif ($Meta.IsSwitch) { 'False' }
    else { 'None' }
    $Writer.WriteElementString('dev', 'defaultValue', $script:Namespaces.dev, $default)
    $Writer.WriteEndElement()
}

function Write-MamlTypes([System.Xml.XmlWriter] $Writer, [string] $Group, [string] $Item, [object[]] $Types) {
    $c = $script:Namespaces.command
    $Writer.WriteStartElement('command', $Group, $c)
    if (-not $Types) { $Types = @([pscustomobject]@{ Type = 'None'; Description = @() }) }
    foreach ($type in $Types) {
        $Writer.WriteStartElement('command', $Item, $c)
        $Writer.WriteStartElement('dev', 'type', $script:Namespaces.dev)
        $Writer.WriteElementString('maml', 'name', $script:Namespaces.maml, $type.Type)
        $Writer.WriteEndElement()
        Write-MamlPara $Writer $type.Description
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

function Write-MamlCommand([System.Xml.XmlWriter] $Writer, $Cmdlet, $Page) {
    $ns = $script:Namespaces
    $c = $ns.command
    $Writer.WriteStartElement('command', 'command', $c)
    foreach ($prefix in $ns.Keys) { $Writer.WriteAttributeString('xmlns', $prefix, $null, $ns[$prefix]) }

    $Writer.WriteStartElement('command', 'details', $c)
    $Writer.WriteElementString('command', 'name', $c, $Cmdlet.Name)
    $Writer.WriteElementString('command', 'verb', $c, $Cmdlet.Verb)
    $Writer.WriteElementString('command', 'noun', $c, $Cmdlet.Noun)
    Write-MamlPara $Writer @([pscustomobject]@{ Kind = 'Paragraph'; Text = $Page.Synopsis; Language = $null })
    $Writer.WriteEndElement()

    Write-MamlPara $Writer $Page.Description

    $Writer.WriteStartElement('command', 'syntax', $c)
    $declared = @($Cmdlet.Parameters.Name)
    foreach ($set in $Cmdlet.ParameterSets | Sort-Object { -not $_.IsDefault }, Name) {
        $Writer.WriteStartElement('command', 'syntaxItem', $c)
        $Writer.WriteElementString('maml', 'name', $ns.maml, $Cmdlet.Name)
        $inSet = @($set.Parameters | Where-Object { $p = $_; -not ($Cmdlet.Parameters | Where-Object { $_.Name -eq $p.Name -and $_.DontShow }) })
        $ordered = @($inSet | Where-Object { $null -ne $_.Position } | Sort-Object Position) +
            @($inSet | Where-Object { $null -eq $_.Position } | Sort-Object { [array]::IndexOf($declared, $_.Name) })
        foreach ($entry in $ordered) {
            $meta = $Cmdlet.Parameters | Where-Object Name -EQ $entry.Name
            $pipeline = if ($entry.ValueFromPipeline -and $entry.ValueFromPipelineByPropertyName) { 'True (ByValue, ByPropertyName)' }
            elseif ($entry.ValueFromPipeline) { 'True (ByValue)' }
            elseif ($entry.ValueFromPipelineByPropertyName) { 'True (ByPropertyName)' }
            else { 'False' }
            $position = if ($null -ne $entry.Position) { "$($entry.Position)" } else { 'Named' }
            Write-MamlParameter $Writer $meta $Page.Parameters[$entry.Name] ([bool]$entry.IsMandatory) $position $pipeline $true
        }
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'parameters', $c)
    foreach ($meta in Get-VisibleParameter $Cmdlet) {
        $merged = Get-MergedParameter $Cmdlet $meta.Name
        Write-MamlParameter $Writer $meta $Page.Parameters[$meta.Name] $merged.Required $merged.Position $merged.PipelineInput $false
    }
    $Writer.WriteEndElement()

    Write-MamlTypes $Writer 'inputTypes' 'inputType' $Page.Inputs
    Write-MamlTypes $Writer 'returnValues' 'returnValue' $Page.Outputs

    $Writer.WriteStartElement('maml', 'alertSet', $ns.maml)
    $Writer.WriteStartElement('maml', 'alert', $ns.maml)
    foreach ($block in $Page.Notes) { $Writer.WriteElementString('maml', 'para', $ns.maml, (Format-BlockText $block)) }
    $Writer.WriteEndElement()
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'examples', $c)
    $number = 0
    foreach ($example in $Page.Examples) {
        $number++
        $Writer.WriteStartElement('command', 'example', $c)
        # Get-Help prints the title as is; the dashes are the convention every MAML file follows.
        $Writer.WriteElementString('maml', 'title', $ns.maml, "-------------------------- $($example.Title) --------------------------")
        $Writer.WriteElementString('dev', 'code', $ns.dev, $example.Code)
        $Writer.WriteStartElement('dev', 'remarks', $ns.dev)
        foreach ($block in $example.Remarks) { $Writer.WriteElementString('maml', 'para', $ns.maml, (Format-BlockText $block)) }
        # Get-Help prints the next example's title right under the last paragraph; an empty one leaves a line between.
        $Writer.WriteElementString('maml', 'para', $ns.maml, '')
        $Writer.WriteEndElement()
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'relatedLinks', $c)
    foreach ($link in $Page.Links) {
        $Writer.WriteStartElement('maml', 'navigationLink', $ns.maml)
        $Writer.WriteElementString('maml', 'linkText', $ns.maml, $link.Text)
        $Writer.WriteElementString('maml', 'uri', $ns.maml, $link.Uri)
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteEndElement()
}

function Write-MamlHelp {
    <#
    .SYNOPSIS
        Writes one MAML file (the <RootModule>-Help.xml Get-Help reads) for cmdlets paired with their pages.
    #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [object[]] $Items)

    $settings = [System.Xml.XmlWriterSettings]::new()
    $settings.Indent = $true
    $settings.Encoding = [System.Text.UTF8Encoding]::new($false)
    $writer = [System.Xml.XmlWriter]::Create($Path, $settings)
    try {
        $writer.WriteStartDocument()
        $writer.WriteStartElement('helpItems', 'http://msh')
        $writer.WriteAttributeString('schema', 'maml')
        foreach ($item in $Items) { Write-MamlCommand $writer $item.Cmdlet $item.Page }
        $writer.WriteEndElement()
        $writer.WriteEndDocument()
    } finally {
        $writer.Dispose()
    }
}

#endregion

#region About topics

function Format-Wrapped([string] $Text, [int] $Indent, [int] $Width = 80, [int] $HangingIndent = $Indent) {
    $lines = [System.Collections.Generic.List[string]]::new()
    $line = ''
    $pad = ' ' * $Indent
    foreach ($word in $Text -split '\s+' | Where-Object { $_ }) {
        if ($line -and ($pad.Length + $line.Length + 1 + $word.Length) -gt $Width) {
            $lines.Add($pad + $line)
            $line = $word
            $pad = ' ' * $HangingIndent
        } else {
            $line = if ($line) { "$line $word" } else { $word }
        }
    }
    if ($line) { $lines.Add($pad + $line) }
    return $lines
}

function ConvertTo-AboutHelpText {
    <#
    .SYNOPSIS
        An about_*.md page as the plain text Get-Help shows: TOPIC, SHORT DESCRIPTION, LONG DESCRIPTION and the rest.
    .DESCRIPTION
        '# about_X' is the topic; '##' headings become upper-case section titles at the margin, '###' and '####'
        indented titles; prose is wrapped at 80 columns under a 4-space indent; code keeps its lines at 8.
    #>
    param([Parameter(Mandatory)] [string] $Path)

    $lines = @(Get-Content -LiteralPath $Path)
    $out = [System.Collections.Generic.List[string]]::new()
    $pending = [System.Collections.Generic.List[string]]::new()
    $inFence = $false
    $topic = $null
    $emit = {
        if ($pending.Count) {
            $blocks = @(ConvertFrom-MarkdownBlock $pending $Path)
            for ($b = 0; $b -lt $blocks.Count; $b++) {
                $block = $blocks[$b]
                switch ($block.Kind) {
                    'Paragraph' { $out.AddRange([string[]](Format-Wrapped (Format-HelpInline $block.Text) 4)) }
                    'ListItem' {
                        $bullet = "$($block.Language) "
                        $wrapped = @(Format-Wrapped (Format-HelpInline $block.Text) (4 + $bullet.Length))
                        $wrapped[0] = (' ' * 4) + $bullet + $wrapped[0].TrimStart()
                        $out.AddRange([string[]]$wrapped)
                    }
                    'Code' { $out.AddRange([string[]]@($block.Text -split "`n" | ForEach-Object { if ($_) { (' ' * 8) + $_ } else { '' } })) }
                    'Table' { $out.AddRange([string[]]@(Format-TableText $block.Text | ForEach-Object { (' ' * 4) + $_ })) }
                }
                # Items of one list stay together; every other block is followed by a blank line.
                if ($block.Kind -ne 'ListItem' -or $b + 1 -eq $blocks.Count -or $blocks[$b + 1].Kind -ne 'ListItem') { $out.Add('') }
            }
            if ($out.Count -and $out[$out.Count - 1] -ne '') { $out.Add('') }
            $pending.Clear()
        }
    }
    foreach ($line in $lines) {
        if ($line -match '^\s*```') { $inFence = -not $inFence }
        if (-not $inFence -and $line -match '^(#{1,4})\s+(.*)$') {
            . $emit
            $level = $Matches[1].Length
            $title = $Matches[2].Trim()
            switch ($level) {
                1 { $topic = $title; $out.Add('TOPIC'); $out.Add("    $title"); $out.Add('') }
                2 { $out.Add($title.ToUpperInvariant()); }
                3 { $out.Add("  $title") }
                4 { $out.Add("    $title") }
            }
            continue
        }
        $pending.Add($line)
    }
    . $emit
    if (-not $topic) { throw "$Path needs a '# about_<Topic>' title." }
    if (-not ($out -contains 'SHORT DESCRIPTION')) { throw "$Path needs a '## Short description' section: Get-Help lists it as the topic's synopsis." }
    while ($out.Count -and $out[$out.Count - 1] -eq '') { $out.RemoveAt($out.Count - 1) }
    return ($out -join "`n") + "`n"
}

#endregion

Export-ModuleMember -Function Get-CmdletHelpMetadata, Get-MergedParameter, Format-CmdletSyntax, Read-CmdletMarkdown,
    Test-CmdletMarkdown, Write-MamlHelp, ConvertTo-AboutHelpText, ConvertFrom-MarkdownBlock
