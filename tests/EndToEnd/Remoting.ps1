# PowerShell remoting over SSH in the lab guest (lab word `ssh`: sshd on 127.0.0.1, the guest's pwsh as its powershell
# subsystem, a client key made per boot in VDPAPS_LAB_SSH_KEY). Sessions to 127.0.0.1 and to localhost stand for two
# hosts: their results carry different PSComputerName values. A session costs a pwsh start under emulation (20-40 s,
# minutes on a loaded machine): open them once per test file, in BeforeAll, and reuse them. Files that run in one
# Pester process share them: New-LabSession hands back sessions another file left open, and only the last file that
# uses them (Remoting.Tests.ps1, by name order) removes them; a file run alone opens its own.

function New-LabSession {
    # Opens one session per name, together, with VdpaPS imported on the far side from the module under test; sessions to
    # every name already open in this runspace (an earlier test file's) are reused.
    param([string[]] $HostName = @('127.0.0.1', 'localhost'), [int] $TimeoutSec = 600)
    $open = @(Get-PSSession | Where-Object { $_.State -eq 'Opened' -and $_.Availability -eq 'Available' })
    $reused = @(foreach ($h in $HostName) { $open | Where-Object ComputerName -EQ $h | Select-Object -First 1 })
    if ($reused.Count -eq $HostName.Count) { return $reused }
    if (-not $env:VDPAPS_LAB_SSH_KEY -or -not (Test-Path -LiteralPath $env:VDPAPS_LAB_SSH_KEY)) {
        throw 'No SSH client key in VDPAPS_LAB_SSH_KEY: boot the lab with the ssh word among its modules (-m vduse,sim,pci,ssh).'
    }
    $sessions = @(New-PSSession -HostName $HostName -UserName root -KeyFilePath $env:VDPAPS_LAB_SSH_KEY `
        -ConnectingTimeout ($TimeoutSec * 1000) -ErrorAction Stop)
    if ($sessions.Count -ne $HostName.Count) { throw "Opened $($sessions.Count) of $($HostName.Count) sessions to $($HostName -join ', ')." }
    Invoke-Command -Session $sessions -ErrorAction Stop {
        param([string] $ModulePath)
        Import-Module (Join-Path $ModulePath 'VdpaPS.psd1') -ErrorAction Stop
    } -ArgumentList $env:VDPAPS_MODULE_PATH
    # New-PSSession opens them in parallel and returns them as they connect: hand them back in the order asked for.
    return @(foreach ($h in $HostName) { $sessions | Where-Object ComputerName -EQ $h | Select-Object -First 1 })
}
