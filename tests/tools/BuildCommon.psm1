# Helpers that build.ps1 and the benchmark scripts share: one copy, imported by each.
Set-StrictMode -Version 3.0

function Write-Step([string] $Message) {
    Write-Host "==> $Message" -ForegroundColor Cyan
}

function Invoke-Native {
    # Runs a native command and throws when it fails. No param block: every argument, -o included, goes to the command.
    $filePath, $arguments = $args
    & $filePath @arguments
    if ($LASTEXITCODE -ne 0) { throw "$filePath $($arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Format-ShellWord([string] $Word) {
    # One word for bash -c, whatever it holds.
    return "'" + $Word.Replace("'", "'\''") + "'"
}

function Get-Median([double[]] $Values) {
    $sorted = [double[]]($Values | Sort-Object)
    $mid = [int][Math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2) { return $sorted[$mid] }
    return ($sorted[$mid - 1] + $sorted[$mid]) / 2
}

Export-ModuleMember -Function Write-Step, Invoke-Native, Format-ShellWord, Get-Median
