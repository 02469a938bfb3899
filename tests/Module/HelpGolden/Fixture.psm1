# A command with every shape the help converter handles: two parameter sets (one the default), positions,
# pipeline input by value and by property name, an alias, wildcards, a ValidateSet, a switch, an array, a
# nullable, a parameter hidden from help, and -WhatIf/-Confirm. Help.Tests.ps1 builds its help from
# Set-HelpFixture.md and compares it with Set-HelpFixture.maml.xml.
function Set-HelpFixture {
    [CmdletBinding(DefaultParameterSetName = 'ByName', SupportsShouldProcess)]
    [OutputType([System.IO.FileInfo])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName, ParameterSetName = 'ByName')]
        [Alias('FixtureName')]
        [SupportsWildcards()]
        [string[]] $Name,

        [Parameter(Mandatory, ValueFromPipeline, ParameterSetName = 'ByObject')]
        [System.IO.FileInfo] $InputObject,

        [Parameter(Position = 1)]
        [ValidateSet('Low', 'High')]
        [string] $Level = 'Low',

        [Nullable[long]] $Limit,

        [switch] $PassThru,

        [Parameter(DontShow)]
        [string] $Hidden
    )
    process { }
}
