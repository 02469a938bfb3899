# Turns the help pages in docs/ (platyPS schema 2.0 layout) into MAML and about_*.help.txt. platyPS is not on the
# feed this project restores from, so this is the converter; Markdown is parsed by the parser PowerShell ships
# (ConvertFrom-Markdown's Markdig document), and this module only walks its tree. Build-Help.ps1 drives it, and
# tests/Module/Help.Tests.ps1 checks its output against Get-Command and a golden MAML file.
# Pure PowerShell: importing it never loads the module's DLL.

Set-StrictMode -Version 3.0

$script:Namespaces = [ordered]@{
    maml = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev = 'http://schemas.microsoft.com/maml/dev/2004/10'
    MSHelp = 'http://msdn.microsoft.com/mshelp'
}

#region Cmdlet metadata

function Get-TypeName([type] $Type, [switch] $Full) {
    # What a reader types: Int64 for long?, VdpaDevice[] for an array; -Full for the namespace-qualified name.
    $inner = [Nullable]::GetUnderlyingType($Type)
    if ($inner) { $Type = $inner }
    if ($Type.IsArray) { return "$(Get-TypeName $Type.GetElementType() -Full:$Full)[]" }
    if ($Full) { return $Type.FullName } else { return $Type.Name }
}

function Get-CmdletHelpMetadata {
    <#
    .SYNOPSIS
        The parameter metadata help is built from, for commands (CommandInfo) of a loaded module.
    .DESCRIPTION
        -WhatIf and -Confirm are documented like any parameter (as platyPS does); the rest of the common
        parameters are <CommonParameters>. A parameter hidden (DontShow) in every set it is in is left out of
        syntax and help.
    #>
    param([Parameter(Mandatory)] [System.Management.Automation.CommandInfo[]] $Command)

    $isCommon = { param($name) [System.Management.Automation.Cmdlet]::CommonParameters.Contains($name) }
    foreach ($c in $Command | Sort-Object Name) {
        $parameters = foreach ($p in $c.Parameters.Values) {
            if (& $isCommon $p.Name) { continue }
            $placements = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
            $validateSet = $p.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
            [pscustomobject]@{
                Name = $p.Name
                TypeName = Get-TypeName $p.ParameterType
                TypeFullName = Get-TypeName $p.ParameterType -Full
                IsSwitch = $p.SwitchParameter
                IsArray = $p.ParameterType.IsArray
                Aliases = @($p.Aliases)
                SupportsWildcards = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
                DontShow = $placements.Count -gt 0 -and -not ($placements | Where-Object { -not $_.DontShow })
                ValidValues = @(if ($validateSet) { $validateSet.ValidValues })
            }
        }
        $sets = foreach ($set in $c.ParameterSets) {
            [pscustomobject]@{
                Name = $set.Name
                IsDefault = $set.IsDefault
                Parameters = @(foreach ($p in $set.Parameters) {
                        if (& $isCommon $p.Name) { continue }
                        [pscustomobject]@{
                            Name = $p.Name; IsMandatory = $p.IsMandatory; Position = if ($p.Position -ge 0) { $p.Position } else { $null }
                            ValueFromPipeline = $p.ValueFromPipeline; ValueFromPipelineByPropertyName = $p.ValueFromPipelineByPropertyName
                        }
                    })
            }
        }
        [pscustomobject]@{
            Name = $c.Name; Verb = $c.Verb; Noun = $c.Noun
            OutputTypes = @($c.OutputType | ForEach-Object Name)
            Parameters = @($parameters)
            ParameterSets = @($sets)
        }
    }
}

function Format-PipelineInput([bool] $ByValue, [bool] $ByName) {
    if ($ByValue -and $ByName) { 'True (ByValue, ByPropertyName)' } elseif ($ByValue) { 'True (ByValue)' } elseif ($ByName) { 'True (ByPropertyName)' } else { 'False' }
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

    $entries = @($Cmdlet.ParameterSets | Sort-Object { -not $_.IsDefault } | ForEach-Object {
            $entry = $_.Parameters | Where-Object Name -EQ $Name
            if ($entry) { [pscustomobject]@{ SetName = $_.Name; Entry = $entry } }
        })
    $positioned = $entries | Where-Object { $null -ne $_.Entry.Position } | Select-Object -First 1
    [pscustomobject]@{
        Required = $entries.Count -gt 0 -and -not ($entries | Where-Object { -not $_.Entry.IsMandatory })
        Position = if ($positioned) { "$($positioned.Entry.Position)" } else { 'Named' }
        PipelineInput = Format-PipelineInput ([bool]($entries | Where-Object { $_.Entry.ValueFromPipeline })) ([bool]($entries | Where-Object { $_.Entry.ValueFromPipelineByPropertyName }))
        ParameterSets = if ($entries.Count -eq @($Cmdlet.ParameterSets).Count) { '(All)' } else { ($entries.SetName | Sort-Object) -join ', ' }
    }
}

#endregion

#region Markdown (Markdig's tree, from ConvertFrom-Markdown)

function ConvertTo-InlineText($Inline) {
    # The text of an inline run: links keep an absolute address in parentheses, links between pages only their text;
    # emphasis markers go, `code` keeps its backticks (as platyPS leaves it), line breaks become spaces.
    $text = [System.Text.StringBuilder]::new()
    for ($node = $Inline; $node; $node = $node.NextSibling) {
        # if, not switch: a container inline is enumerable, and switch would walk its children.
        $part = if ($node -is [Markdig.Syntax.Inlines.LiteralInline]) { $node.Content.ToString() }
        elseif ($node -is [Markdig.Syntax.Inlines.CodeInline]) { '`' + $node.Content + '`' }
        elseif ($node -is [Markdig.Syntax.Inlines.LineBreakInline]) { ' ' }
        elseif ($node -is [Markdig.Syntax.Inlines.AutolinkInline]) { $node.Url }
        elseif ($node -is [Markdig.Syntax.Inlines.LinkInline]) {
            $label = ConvertTo-InlineText $node.FirstChild
            if ($node.Url -match '^[a-z]+://') { "$label ($($node.Url))" } else { $label }
        }
        elseif ($node -is [Markdig.Syntax.Inlines.ContainerInline]) { ConvertTo-InlineText $node.FirstChild }
        elseif ($node -is [Markdig.Syntax.Inlines.HtmlEntityInline]) { $node.Transcoded.ToString() }
        else { $node.ToString() }
        $null = $text.Append($part)
    }
    return $text.ToString()
}

function Format-TableText([string[][]] $Rows) {
    # A pipe table as aligned columns, the header underlined with dashes.
    $columns = ($Rows | ForEach-Object { $_.Count } | Measure-Object -Maximum).Maximum
    $widths = foreach ($c in 0..($columns - 1)) { ($Rows | ForEach-Object { if ($c -lt $_.Count) { $_[$c].Length } else { 0 } } | Measure-Object -Maximum).Maximum }
    for ($r = 0; $r -lt $Rows.Count; $r++) {
        (@(for ($c = 0; $c -lt $columns; $c++) { "$(if ($c -lt $Rows[$r].Count) { $Rows[$r][$c] })".PadRight($widths[$c]) }) -join '  ').TrimEnd()
        if ($r -eq 0) { ($widths | ForEach-Object { '-' * $_ }) -join '  ' }
    }
}

function ConvertFrom-MarkdownBlock {
    <#
    .SYNOPSIS
        Markdig blocks as help blocks: Paragraph, ListItem (Bullet '-' or 'N.'), Code (with its Language) and
        Table, each with its Text. A list item's further blocks follow it as blocks of their own.
    #>
    param([object[]] $Block)

    foreach ($b in $Block) {
        # if, not switch: lists and tables are enumerable, and switch would walk their children.
        if ($b -is [Markdig.Syntax.ParagraphBlock]) {
            [pscustomobject]@{ Kind = 'Paragraph'; Text = ConvertTo-InlineText $b.Inline.FirstChild; Language = $null }
        } elseif ($b -is [Markdig.Syntax.FencedCodeBlock]) {
            [pscustomobject]@{ Kind = 'Code'; Text = $b.Lines.ToString(); Language = "$($b.Info)" }
        } elseif ($b -is [Markdig.Extensions.Tables.Table]) {
            # A pipe escaped in a cell is a pipe, in code too (as GitHub renders it); Markdig keeps its backslash in code.
            $rows = @(foreach ($row in $b) { , @(foreach ($cell in $row) { if ($cell.Count) { (ConvertTo-InlineText $cell[0].Inline.FirstChild).Trim().Replace('\|', '|') } else { '' } }) })
            [pscustomobject]@{ Kind = 'Table'; Text = (Format-TableText $rows) -join "`n"; Language = $null }
        } elseif ($b -is [Markdig.Syntax.ListBlock]) {
            foreach ($item in $b) {
                $children = [System.Collections.Generic.List[object]]::new()
                foreach ($child in $item) { $children.Add($child) }
                $text = if ($children.Count -and $children[0] -is [Markdig.Syntax.ParagraphBlock]) { ConvertTo-InlineText $children[0].Inline.FirstChild; $children.RemoveAt(0) }
                [pscustomobject]@{ Kind = 'ListItem'; Text = "$text"; Language = $(if ($b.IsOrdered) { "$($item.Order)." } else { '-' }) }
                if ($children.Count) { ConvertFrom-MarkdownBlock $children }
            }
        } elseif ($b -isnot [Markdig.Syntax.LinkReferenceDefinitionGroup]) {
            throw "Help has no place for a Markdown $($b.GetType().Name) (line $($b.Line + 1))."
        }
    }
}

function Read-MarkdownOutline {
    <#
    .SYNOPSIS
        A Markdown file as a tree of headings, each with its Title, Level, Blocks and Sections under it; the root
        has level 0. YAML front matter (platyPS's external help file, schema) is for tools, not readers: it goes.
    #>
    param([Parameter(Mandatory)] [string] $Path)

    $text = [System.IO.File]::ReadAllText($Path) -replace '\A---\r?\n(?s:.*?)\r?\n---\r?\n', ''
    $root = [pscustomobject]@{ Title = ''; Level = 0; Blocks = [System.Collections.Generic.List[object]]::new(); Sections = [System.Collections.Generic.List[object]]::new() }
    $open = [System.Collections.Generic.List[object]]::new()
    $open.Add($root)
    foreach ($block in (ConvertFrom-Markdown -InputObject $text).Tokens) {
        if ($block -is [Markdig.Syntax.HeadingBlock]) {
            while ($open[$open.Count - 1].Level -ge $block.Level) { $open.RemoveAt($open.Count - 1) }
            $section = [pscustomobject]@{ Title = (ConvertTo-InlineText $block.Inline.FirstChild).Trim(); Level = $block.Level
                Blocks = [System.Collections.Generic.List[object]]::new(); Sections = [System.Collections.Generic.List[object]]::new() }
            $open[$open.Count - 1].Sections.Add($section)
            $open.Add($section)
        } else {
            $open[$open.Count - 1].Blocks.Add($block)
        }
    }
    return $root
}

function Read-CmdletMarkdown {
    <#
    .SYNOPSIS
        Parses one docs/cmdlets/<Name>.md page into its sections.
    #>
    param([Parameter(Mandatory)] [string] $Path)

    $outline = Read-MarkdownOutline $Path
    if (@($outline.Sections).Count -ne 1 -or $outline.Sections[0].Level -ne 1) { throw "$Path needs exactly one '# <Cmdlet-Name>' title." }
    $page = [ordered]@{
        Path = $Path; Name = $outline.Sections[0].Title; Synopsis = ''; Syntax = @(); Description = @(); Examples = @()
        Parameters = [ordered]@{}; Inputs = @(); Outputs = @(); Notes = @(); Links = @()
    }
    $blocksOf = { param($section) @(ConvertFrom-MarkdownBlock $section.Blocks) }
    $allBlocksOf = { param($section) @(& $blocksOf $section) + @($section.Sections | ForEach-Object { & $blocksOf $_ }) }

    foreach ($section in $outline.Sections[0].Sections) {
        switch ($section.Title.ToUpperInvariant()) {
            'SYNOPSIS' { $page.Synopsis = (& $blocksOf $section | ForEach-Object Text) -join ' ' }
            # One code block per parameter set, under a '### <Set>' heading or not.
            'SYNTAX' { $page.Syntax = @(& $allBlocksOf $section | Where-Object Kind -EQ 'Code' | ForEach-Object { ($_.Text -replace '\s+', ' ').Trim() }) }
            'DESCRIPTION' { $page.Description = & $blocksOf $section }
            'EXAMPLES' {
                $page.Examples = @(foreach ($example in $section.Sections) {
                        $blocks = & $blocksOf $example
                        # The powershell fences are the example's code; everything else (sentences, sample output) its remarks.
                        $code = @($blocks | Where-Object { $_.Kind -eq 'Code' -and $_.Language -in 'powershell', 'pwsh', 'ps1' })
                        [pscustomobject]@{ Title = $example.Title; Code = ($code.Text -join "`n`n"); Remarks = @($blocks | Where-Object { $_ -notin $code }) }
                    })
            }
            'PARAMETERS' {
                foreach ($parameter in $section.Sections | Where-Object Title -NE 'CommonParameters') {
                    $blocks = & $blocksOf $parameter
                    $yaml = [ordered]@{}
                    foreach ($line in $blocks | Where-Object { $_.Kind -eq 'Code' -and $_.Language -eq 'yaml' } | ForEach-Object { $_.Text -split "`n" }) {
                        if ($line -match '^\s*([^:]+):\s*(.*)$') { $yaml[$Matches[1].Trim()] = $Matches[2].Trim() }
                    }
                    $page.Parameters[$parameter.Title.TrimStart('-')] = [pscustomobject]@{
                        Description = @($blocks | Where-Object { -not ($_.Kind -eq 'Code' -and $_.Language -eq 'yaml') }); Yaml = $yaml
                    }
                }
            }
            { $_ -in 'INPUTS', 'OUTPUTS' } {
                $types = @(foreach ($type in $section.Sections) { [pscustomobject]@{ Type = $type.Title; Description = & $blocksOf $type } })
                if ($_ -eq 'INPUTS') { $page.Inputs = $types } else { $page.Outputs = $types }
            }
            'NOTES' { $page.Notes = & $blocksOf $section }
            'RELATED LINKS' {
                # A link's address stays only when absolute: Get-Help -Online opens it, and pages link each other by name.
                $page.Links = @(foreach ($block in $section.Blocks) {
                        # Assigned, not output: a link is an enumerable inline, and output would unroll it.
                        $link = $null
                        if ($block -is [Markdig.Syntax.ParagraphBlock]) { $link = $block.Inline.FirstChild }
                        if ($link -is [Markdig.Syntax.Inlines.LinkInline]) {
                            [pscustomobject]@{ Text = ConvertTo-InlineText $link.FirstChild; Uri = if ($link.Url -match '^[a-z]+://') { $link.Url } else { '' } }
                        } else {
                            ConvertFrom-MarkdownBlock (, $block) | ForEach-Object { [pscustomobject]@{ Text = $_.Text; Uri = '' } }
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

function Format-BlockText($Block) {
    # The text a help paragraph carries: list items keep their bullet.
    if ($Block.Kind -eq 'ListItem') { return "$($Block.Language) $($Block.Text)" }
    return $Block.Text
}

function Write-MamlPara([System.Xml.XmlWriter] $Writer, [object[]] $Blocks) {
    $Writer.WriteStartElement('maml', 'description', $script:Namespaces.maml)
    foreach ($block in $Blocks) { $Writer.WriteElementString('maml', 'para', $script:Namespaces.maml, (Format-BlockText $block)) }
    $Writer.WriteEndElement()
}

function Write-MamlParameter {
    param([System.Xml.XmlWriter] $Writer, $Meta, $Doc, [bool] $Required, [string] $Position, [string] $PipelineInput, [bool] $InSyntax)

    $c = $script:Namespaces.command
    $lower = { param($value) "$value".ToLowerInvariant() }
    $Writer.WriteStartElement('command', 'parameter', $c)
    $Writer.WriteAttributeString('required', (& $lower $Required))
    $Writer.WriteAttributeString('variableLength', (& $lower $Meta.IsArray))
    $Writer.WriteAttributeString('globbing', (& $lower $Meta.SupportsWildcards))
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
        $Writer.WriteAttributeString('required', (& $lower (-not $Meta.IsSwitch)))
        $Writer.WriteAttributeString('variableLength', (& $lower $Meta.IsArray))
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

    # One syntax item per parameter set, the default first: positional parameters by position, then the others in
    # declaration order.
    $Writer.WriteStartElement('command', 'syntax', $c)
    $declared = @($Cmdlet.Parameters.Name)
    $hidden = @($Cmdlet.Parameters | Where-Object DontShow | ForEach-Object Name)
    foreach ($set in $Cmdlet.ParameterSets | Sort-Object { -not $_.IsDefault }, Name) {
        $Writer.WriteStartElement('command', 'syntaxItem', $c)
        $Writer.WriteElementString('maml', 'name', $ns.maml, $Cmdlet.Name)
        $inSet = @($set.Parameters | Where-Object Name -NotIn $hidden)
        $ordered = @($inSet | Where-Object { $null -ne $_.Position } | Sort-Object Position) +
            @($inSet | Where-Object { $null -eq $_.Position } | Sort-Object { [array]::IndexOf($declared, $_.Name) })
        foreach ($entry in $ordered) {
            $position = if ($null -ne $entry.Position) { "$($entry.Position)" } else { 'Named' }
            Write-MamlParameter $Writer ($Cmdlet.Parameters | Where-Object Name -EQ $entry.Name) $Page.Parameters[$entry.Name] ([bool]$entry.IsMandatory) $position `
                (Format-PipelineInput $entry.ValueFromPipeline $entry.ValueFromPipelineByPropertyName) $true
        }
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'parameters', $c)
    foreach ($meta in $Cmdlet.Parameters | Where-Object { -not $_.DontShow }) {
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
    foreach ($example in $Page.Examples) {
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

    $out = [System.Collections.Generic.List[string]]::new()
    $write = {
        param($section)
        switch ($section.Level) {
            1 { $out.AddRange([string[]]@('TOPIC', "    $($section.Title)", '')) }
            2 { $out.Add($section.Title.ToUpperInvariant()) }
            3 { $out.Add("  $($section.Title)") }
            4 { $out.Add("    $($section.Title)") }
        }
        $blocks = @(ConvertFrom-MarkdownBlock $section.Blocks)
        for ($b = 0; $b -lt $blocks.Count; $b++) {
            $block = $blocks[$b]
            switch ($block.Kind) {
                'Paragraph' { $out.AddRange([string[]](Format-Wrapped $block.Text 4)) }
                'ListItem' {
                    $wrapped = @(Format-Wrapped $block.Text (5 + $block.Language.Length))
                    $wrapped[0] = "    $($block.Language) " + $wrapped[0].TrimStart()
                    $out.AddRange([string[]]$wrapped)
                }
                'Code' { $out.AddRange([string[]]@($block.Text -split "`n" | ForEach-Object { if ($_) { (' ' * 8) + $_ } else { '' } })) }
                'Table' { $out.AddRange([string[]]@($block.Text -split "`n" | ForEach-Object { (' ' * 4) + $_ })) }
            }
            # Items of one list stay together; every other block is followed by a blank line.
            if ($block.Kind -ne 'ListItem' -or $b + 1 -eq $blocks.Count -or $blocks[$b + 1].Kind -ne 'ListItem') { $out.Add('') }
        }
        foreach ($child in $section.Sections) { & $write $child }
    }
    $outline = Read-MarkdownOutline $Path
    if (-not ($outline.Sections | Where-Object Level -EQ 1)) { throw "$Path needs a '# about_<Topic>' title." }
    foreach ($section in $outline.Sections) { & $write $section }
    if (-not ($out -contains 'SHORT DESCRIPTION')) { throw "$Path needs a '## Short description' section: Get-Help lists it as the topic's synopsis." }
    while ($out.Count -and $out[$out.Count - 1] -eq '') { $out.RemoveAt($out.Count - 1) }
    return ($out -join "`n") + "`n"
}

#endregion

Export-ModuleMember -Function Get-CmdletHelpMetadata, Get-MergedParameter, Read-CmdletMarkdown, Test-CmdletMarkdown, Write-MamlHelp,
    ConvertTo-AboutHelpText
