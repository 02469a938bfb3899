# End-to-end as an unprivileged user (uid 65534, no capabilities, through tests/KernelLab/as-user.sh): reads work,
# every change fails with PermissionDenied and a message that names CAP_NET_ADMIN. One child pwsh runs all
# the user's commands (Unprivileged.Child.ps1), because starting pwsh in the lab costs half a minute. An operator
# with CAP_NET_ADMIN alone (Unprivileged.NetAdmin.ps1) cannot read root's open files: removing a device counts as
# not sure it is free, refused unless -Force.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'LabKernel.ps1')
    $script:P = 'psu'
}

Describe 'As an unprivileged user' {
    BeforeAll {
        New-VdpaDevice "$P-n0" vdpasim_net -MacAddress 02:00:00:00:00:71 -ErrorAction Stop | Out-Null
        $asUser = Join-Path $PSScriptRoot '../KernelLab/as-user.sh'
        $child = Join-Path $PSScriptRoot 'Unprivileged.Child.ps1'
        # The lab's own pwsh command skips the SDK's local-tool lookup (seconds under emulation); dotnet pwsh elsewhere.
        $pwsh = @(if (Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue) { 'pwsh' } else { 'dotnet'; 'pwsh' })
        $output = & bash $asUser @pwsh -NoProfile -NonInteractive -File $child -ModulePath $env:VDPAPS_MODULE_PATH -Device "$P-n0" 2>&1
        $line = $output | Where-Object { "$_".StartsWith('RESULT ') } | Select-Object -Last 1
        if (-not $line) { throw "The unprivileged run printed no result: $($output -join "`n")" }
        $script:User = "$line".Substring(7) | ConvertFrom-Json -AsHashtable
    }
    AfterAll {
        Remove-LabDevice "$P-*"
    }

    It 'runs without root' {
        $User.Uid | Should -Be 65534
    }

    It 'reads parents, devices and configuration as root does' {
        $User.ReadErrors | Should -HaveCount 0
        ($User.Parents | Sort-Object) | Should -Be ((Get-VdpaParent).Name | Sort-Object)
        ($User.Devices | Sort-Object) | Should -Be ((Get-VdpaDevice).Name | Sort-Object)
        $User.Mac | Should -Be '02:00:00:00:00:71'
    }

    It 'is refused <Change> with PermissionDenied naming CAP_NET_ADMIN' -ForEach @(
        @{ Change = 'New-VdpaDevice'; Key = 'New'; Command = 'NewVdpaDeviceCommand' }
        @{ Change = 'New-VdpaDevice with net attributes'; Key = 'NewWithAttributes'; Command = 'NewVdpaDeviceCommand' }
        @{ Change = 'Set-VdpaDevice'; Key = 'Set'; Command = 'SetVdpaDeviceCommand' }
        @{ Change = 'Remove-VdpaDevice'; Key = 'Remove'; Command = 'RemoveVdpaDeviceCommand' }
        @{ Change = 'Get-VdpaStats (the kernel keeps statistics to CAP_NET_ADMIN too)'; Key = 'Stats'; Command = 'GetVdpaStatsCommand' }
    ) {
        $errors = $User[$Key]
        $errors | Should -HaveCount 1
        if ($Key -eq 'Set' -and -not $CanSetMac) {
            # Without DEV_ATTR_SET nothing is sent, so no privilege is asked for: the kernel's limit is the answer.
            $errors[0].Id | Should -Be "VdpaNotSupportedByKernel,VdpaPS.Commands.$Command"
            $errors[0].Message | Should -Match 'Linux 6\.12'
            return
        }
        $errors[0].Id | Should -Be "VdpaPermissionDenied,VdpaPS.Commands.$Command"
        $errors[0].Category | Should -Be 'PermissionDenied'
        $errors[0].Message | Should -Match 'CAP_NET_ADMIN'
        $errors[0].Message | Should -Match 'EPERM'
    }

    It 'changed nothing' {
        Get-LabDeviceNames | Should -Contain "$P-n0"
        Get-LabDeviceNames | Should -Not -Contain "$P-n0-new"
        Get-LabDeviceNames | Should -Not -Contain "$P-n0-new2"
        (Invoke-IpVdpa dev config show "$P-n0").config["$P-n0"].mac | Should -Be '02:00:00:00:00:71'
    }
}

Describe 'As a non-root operator with CAP_NET_ADMIN' {
    BeforeAll {
        # Root holds one vhost-vdpa device open, as a VM's qemu run by another user does; the operator cannot read root's
        # open files, so it cannot be sure the device is free.
        Invoke-LabModprobe vhost_vdpa
        $script:Held = (New-VdpaDevice "$P-a0" vdpasim_net -Driver vhost_vdpa -ErrorAction Stop).VhostDevicePath
        New-VdpaDevice "$P-a1" vdpasim_net -Driver vhost_vdpa -ErrorAction Stop | Out-Null
        Wait-LabCondition { Test-Path $Held } "$Held to appear"
        $script:Holder = [System.Diagnostics.Process]::Start('bash', [string[]]@('-c', "exec sleep 300 < '$Held'"))
        Wait-LabCondition { (Get-Item "/proc/$($Holder.Id)/fd/0" -ErrorAction SilentlyContinue).LinkTarget -eq $Held } "sleep to hold $Held"
        $asUser = Join-Path $PSScriptRoot '../KernelLab/as-user.sh'
        $child = Join-Path $PSScriptRoot 'Unprivileged.NetAdmin.ps1'
        $pwsh = @(if (Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue) { 'pwsh' } else { 'dotnet'; 'pwsh' })
        $output = & bash $asUser --cap net_admin @pwsh -NoProfile -NonInteractive -File $child -ModulePath $env:VDPAPS_MODULE_PATH -Held "$P-a0" -Free "$P-a1" 2>&1
        $line = $output | Where-Object { "$_".StartsWith('RESULT ') } | Select-Object -Last 1
        if (-not $line) { throw "The operator's run printed no result: $($output -join "`n")" }
        $script:Operator = "$line".Substring(7) | ConvertFrom-Json -AsHashtable
    }
    AfterAll {
        if ($Holder -and -not $Holder.HasExited) { $Holder.Kill(); $Holder.WaitForExit() }
        try { Remove-LabDevice "$P-a*" } finally { Remove-LabModule vhost_vdpa }
    }

    It 'runs as uid 65534 with CAP_NET_ADMIN (bit 12) alone' {
        $Operator.Uid | Should -Be 65534
        [Convert]::ToUInt64($Operator.CapEff, 16) | Should -Be ([uint64]1 -shl 12)
    }

    It 'is refused removing a device root holds, as not sure, with ResourceBusy naming the uninspected processes and why' {
        $Operator.Refused | Should -HaveCount 1
        $refused = $Operator.Refused[0]
        $refused.Id | Should -Be 'VdpaDeviceUsageUnknown,VdpaPS.Commands.RemoveVdpaDeviceCommand'
        $refused.Category | Should -Be 'ResourceBusy'
        $refused.Message | Should -Match 'could not be sure that nothing uses it'
        $refused.Message | Should -Match '\d+ process(es)? whose open files this user may not read \(/proc/PID/fd: EACCES \(Permission denied\)\): \S+ \(pid \d+\)'
        $refused.Message | Should -Match 'nothing was sent to the kernel'
        $refused.Pids | Should -Contain $Holder.Id
        Get-LabDeviceNames | Should -Contain "$P-a0"
    }

    It 'removes a device with -Force, warning that it could not be checked' {
        $Operator.ForcedErrors | Should -HaveCount 0
        "$($Operator.ForcedWarnings)" | Should -Match "vDPA device '$P-a1' could not be checked for users .*EACCES"
        Get-LabDeviceNames | Should -Not -Contain "$P-a1"
    }
}
