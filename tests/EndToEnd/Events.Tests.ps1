# Wait-VdpaDevice, Wait-VdpaParent and Watch-VdpaDevice (issue 13) against the lab kernel's uevents: another process
# (bash with iproute2's vdpa, sysfs and modprobe, started here) makes the changes while the cmdlet waits. The other
# process starts only once the cmdlet has subscribed (Start-LabShell -AfterSubscribe reads /proc/net/netlink), so each
# test sees the cmdlet wait for the event, not find the state already reached. Every wait here is bounded.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    $script:P = 'pev'
    Enable-LabVirtioDriver
    Invoke-LabModprobe vhost_vdpa
    $script:Vhost = '/sys/bus/vdpa/drivers/vhost_vdpa'
    $script:Virtio = '/sys/bus/vdpa/drivers/virtio_vdpa'
}

AfterAll {
    try {
        Remove-LabDevice "$P-*"
        if (-not (Test-Path /sys/module/vdpa_sim_blk)) { Invoke-LabModprobe vdpa_sim_blk }
    } finally {
        try { Remove-LabModule vhost_vdpa } finally { Disable-LabVirtioDriver }
    }
}

Describe 'Wait-VdpaDevice' {
    AfterEach {
        Remove-LabDevice "$P-*"
    }

    It 'returns the bound device when another process creates it and binds vhost_vdpa' {
        Test-Path "/sys/bus/vdpa/devices/$P-n0" | Should -BeFalse
        $shell = Start-LabShell -AfterSubscribe "vdpa dev add name $P-n0 mgmtdev vdpasim_net; sleep 1; echo $P-n0 > $Vhost/bind"
        $d = Wait-VdpaDevice "$P-n0" -Driver vhost_vdpa -TimeoutSec 120 -ErrorAction Stop
        Wait-LabShell $shell
        @($d).Count | Should -Be 1
        $d | Should -BeOfType VdpaPS.VdpaDevice
        $d.Name | Should -Be "$P-n0"
        $d.Parent | Should -Be 'vdpasim_net'
        $d.Driver | Should -Be 'vhost_vdpa'
        $d.VhostDevicePath | Should -Match '^/dev/vhost-vdpa-\d+$'
        (& stat -c %F $d.VhostDevicePath) | Should -Be 'character special file'
    }

    It 'waits for the interface a virtio_vdpa binding makes, and returns the device as Get-VdpaDevice shows it' {
        $shell = Start-LabShell -AfterSubscribe "vdpa dev add name $P-n1 mgmtdev vdpasim_net; echo $P-n1 > $Virtio/bind"
        $d = Wait-VdpaDevice "$P-n1" -State Bound -TimeoutSec 120 -ErrorAction Stop
        Wait-LabShell $shell
        $d.Driver | Should -Be 'virtio_vdpa'
        $d.NetworkInterface | Should -Not -BeNullOrEmpty
        Test-Path "/sys/class/net/$($d.NetworkInterface)" | Should -BeTrue
        $shown = Get-VdpaDevice "$P-n1"
        foreach ($p in 'Name', 'Parent', 'Type', 'MaxQueues', 'Driver', 'NetworkInterface', 'IsManaged') { $d.$p | Should -Be $shown.$p -Because $p }
    }

    It 'waits for the disk of a block device bound to virtio_vdpa, created from the pipeline' {
        $shell = Start-LabShell -AfterSubscribe "vdpa dev add name $P-b0 mgmtdev vdpasim_blk; echo $P-b0 > $Virtio/bind"
        $d = [pscustomobject]@{ Name = "$P-b0" } | Wait-VdpaDevice -Driver virtio_vdpa -TimeoutSec 120 -ErrorAction Stop
        Wait-LabShell $shell
        $d.Type | Should -Be 'Block'
        $d.BlockDevice | Should -Match '^/dev/vd[a-z]+$'
        (& stat -c %F $d.BlockDevice) | Should -Be 'block special file'
    }

    It 'returns at once for a device that is already there: the state is checked before waiting' {
        & vdpa dev add name "$P-n2" mgmtdev vdpasim_net
        $LASTEXITCODE | Should -Be 0
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $d = Wait-VdpaDevice "$P-n2" -TimeoutSec 30 -ErrorAction Stop
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 10
        $d.Name | Should -Be "$P-n2"
        $d.Driver | Should -BeNullOrEmpty
    }

    It 'times out with VdpaWaitTimeout (OperationTimeout) when nothing happens, after -TimeoutSec' {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $out = Wait-VdpaDevice "$P-never" -TimeoutSec 2 -ErrorAction SilentlyContinue -ErrorVariable err
        $elapsed = $watch.Elapsed.TotalSeconds
        $out | Should -BeNullOrEmpty
        @($err).Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VdpaWaitTimeout,*'
        $err[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $err[0].TargetObject | Should -Be "$P-never"
        "$err" | Should -Match "'$P-never' was not created within 2 s"
        $elapsed | Should -BeGreaterOrEqual 2
        $elapsed | Should -BeLessThan 8
    }

    It 'times out when the device is there but bound to another driver than -Driver' {
        & vdpa dev add name "$P-n3" mgmtdev vdpasim_net
        [System.IO.File]::WriteAllText("$Vhost/bind", "$P-n3")
        Wait-VdpaDevice "$P-n3" -Driver virtio_vdpa -TimeoutSec 1 -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VdpaWaitTimeout,*'
        "$err" | Should -Match 'bound to vhost_vdpa'
    }

    It '-State Absent returns, writing nothing, when another process removes the device' {
        & vdpa dev add name "$P-n4" mgmtdev vdpasim_net
        $LASTEXITCODE | Should -Be 0
        $shell = Start-LabShell -AfterSubscribe "sleep 1; vdpa dev del $P-n4"
        $out = Wait-VdpaDevice "$P-n4" -State Absent -TimeoutSec 120 -ErrorAction Stop
        Wait-LabShell $shell
        $out | Should -BeNullOrEmpty
        Test-Path "/sys/bus/vdpa/devices/$P-n4" | Should -BeFalse
        Get-LabDeviceNames | Should -Not -Contain "$P-n4"
    }

    It 'stops within two seconds of Ctrl+C (StopProcessing)' {
        $iss = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
        $iss.ImportPSModule((Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1'))
        $runspace = [runspacefactory]::CreateRunspace($iss)
        $runspace.Open()
        $ps = [powershell]::Create($runspace)
        try {
            $null = $ps.AddCommand('Wait-VdpaDevice').AddParameter('Name', "$P-never").AddParameter('State', 'Present')
            $async = $ps.BeginInvoke()
            Wait-LabCondition { $ps.InvocationStateInfo.State -eq 'Running' } 'the wait to run'
            Start-Sleep -Seconds 1
            $async.IsCompleted | Should -BeFalse -Because 'without -TimeoutSec the wait goes on'
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 2
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        } finally {
            $ps.Dispose()
            $runspace.Dispose()
        }
    }
}

Describe 'Watch-VdpaDevice' {
    AfterEach {
        Remove-LabDevice "$P-*", 'other-ev*'
    }

    It 'sees add, bind, unbind and remove from another process, in order, for the names asked' {
        $script = "vdpa dev add name other-ev0 mgmtdev vdpasim_net; vdpa dev add name $P-w0 mgmtdev vdpasim_net; " +
            "echo $P-w0 > $Vhost/bind; echo $P-w0 > $Vhost/unbind; vdpa dev del $P-w0; vdpa dev del other-ev0"
        $shell = Start-LabShell -AfterSubscribe $script
        $events = @(Watch-VdpaDevice -Name "$P-w*" -Count 4 -TimeoutSec 120)
        Wait-LabShell $shell
        $events | ForEach-Object { $_ | Should -BeOfType VdpaPS.VdpaDeviceEvent }
        @($events | ForEach-Object { "$($_.Action) $($_.Name) $($_.Driver)".TrimEnd() }) |
            Should -Be "Added $P-w0", "Bound $P-w0 vhost_vdpa", "Unbound $P-w0 vhost_vdpa", "Removed $P-w0"
        $events[0].DevicePath | Should -Be "/devices/$P-w0"
        for ($i = 1; $i -lt 4; $i++) {
            $events[$i].Time | Should -BeGreaterOrEqual $events[$i - 1].Time
            $events[$i].SequenceNumber | Should -BeGreaterThan $events[$i - 1].SequenceNumber
        }
    }

    It 'ends at -TimeoutSec without an error when nothing happens' {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $events = @(Watch-VdpaDevice -Name "$P-quiet" -TimeoutSec 2 -ErrorVariable err)
        $watch.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 2
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 8
        $events.Count | Should -Be 0
        @($err).Count | Should -Be 0
    }
}

Describe 'Completion of the new cmdlets' {
    It 'completes device names, parent names, states and drivers' {
        & vdpa dev add name "$P-c0" mgmtdev vdpasim_net
        try {
            foreach ($line in "Wait-VdpaDevice $P-c", "Watch-VdpaDevice -Name $P-c") {
                (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Should -Be "$P-c0" -Because $line
            }
            $line = 'Wait-VdpaParent vdpasim_'
            (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Sort-Object | Should -Be @('vdpasim_blk', 'vdpasim_net')
            $line = 'Wait-VdpaDevice x -State '
            (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Sort-Object | Should -Be @('Absent', 'Bound', 'Present')
            $line = 'Wait-VdpaDevice x -Driver v'
            (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Should -Be @('vhost_vdpa', 'virtio_vdpa')
        } finally {
            Remove-LabDevice "$P-c0"
        }
    }
}

Describe 'Wait-VdpaParent' {
    It 'returns the parent when another process loads its module' {
        Get-LabDeviceNames | Where-Object { $_ -like "$P-*" } | Should -BeNullOrEmpty
        Remove-LabModule vdpa_sim_blk
        (Get-VdpaParent | ForEach-Object Name) | Should -Not -Contain 'vdpasim_blk'
        $shell = Start-LabShell -AfterSubscribe 'mp vdpa_sim_blk'
        $parent = Wait-VdpaParent vdpasim_blk -TimeoutSec 120 -ErrorAction Stop
        Wait-LabShell $shell
        $parent | Should -BeOfType VdpaPS.VdpaParent
        $parent.Name | Should -Be 'vdpasim_blk'
        "$($parent.SupportedClasses)" | Should -Be 'Block'
    }

    It 'returns a PCI parent, named by its address alone, when another process binds vp-vdpa to its function' {
        $bdf = '0000:00:12.0'
        Test-Path "/sys/bus/pci/drivers/vp-vdpa/$bdf" | Should -BeTrue -Because 'the lab binds its PCI functions to vp-vdpa (-m pci)'
        [System.IO.File]::WriteAllText('/sys/bus/pci/drivers/vp-vdpa/unbind', $bdf)
        try {
            (Get-VdpaParent | ForEach-Object Name) | Should -Not -Contain "pci/$bdf"
            $shell = Start-LabShell -AfterSubscribe "echo $bdf > /sys/bus/pci/drivers/vp-vdpa/bind"
            $parent = Wait-VdpaParent $bdf -TimeoutSec 120 -ErrorAction Stop
            Wait-LabShell $shell
            $parent.Name | Should -Be "pci/$bdf"
        } finally {
            if (-not (Test-Path "/sys/bus/pci/drivers/vp-vdpa/$bdf")) { [System.IO.File]::WriteAllText('/sys/bus/pci/drivers/vp-vdpa/bind', $bdf) }
        }
    }

    It 'times out with VdpaWaitTimeout for a parent that does not come' {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        Wait-VdpaParent 'pci/0000:7f:00.0' -TimeoutSec 1 -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $watch.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 1
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 6
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VdpaWaitTimeout,*'
        $err[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
    }
}
