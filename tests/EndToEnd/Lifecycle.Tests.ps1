# Safe lifecycle (issue 13): a device in use is refused before anything reaches the kernel, Ctrl+C ends a wait for
# the kernel, and a reload of the vdpa module does not break the pwsh that used it. Both vdpa bus drivers are loaded
# with autoprobe off (virtio_vdpa registered first), so bindings are the tests' own.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'LabKernel.ps1')
    Add-Type -Path (Join-Path $PSScriptRoot '../../out/testtools/VdpaPS.TestTools.dll')
    $script:P = 'plc'
    Enable-LabVirtioDriver
    Invoke-LabModprobe vhost_vdpa

    # A bounded hold: should a check let a removal through, the kernel's wait for the holder ends with it.
    function Start-LabHolder([string] $Path, [int] $Seconds = 120) {
        # bash opens the file and execs sleep with it as stdin: the holder is `sleep`, another process than this pwsh.
        $p = [System.Diagnostics.Process]::Start('bash', [string[]]@('-c', "exec sleep $Seconds < '$Path'"))
        Wait-LabCondition { @(Get-ChildItem "/proc/$($p.Id)/fd" -ErrorAction SilentlyContinue | Where-Object LinkTarget -EQ $Path).Count -gt 0 } "sleep (pid $($p.Id)) to hold $Path"
        return $p
    }

    function Stop-LabHolder($Process) {
        if ($Process -and -not $Process.HasExited) { $Process.Kill(); $Process.WaitForExit() }
    }

    function Assert-InUse($ErrorRecords, [string] $Command, [string] $Pattern) {
        @($ErrorRecords) | Should -HaveCount 1
        $ErrorRecords[0].FullyQualifiedErrorId | Should -Be "VdpaDeviceInUse,VdpaPS.Commands.$Command"
        $ErrorRecords[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
        "$($ErrorRecords[0])" | Should -Match $Pattern
        "$($ErrorRecords[0])" | Should -Match 'nothing was sent to the kernel'
    }

    function Get-WhatIfText([scriptblock] $Command) {
        # -WhatIf writes to the host, not to a stream: a transcript keeps what the host showed.
        $file = Join-Path ([System.IO.Path]::GetTempPath()) "$P-whatif-$([guid]::NewGuid()).txt"
        Start-Transcript -Path $file | Out-Null
        try { & $Command } finally { Stop-Transcript | Out-Null }
        # A long line may be wrapped at the host's width: the lines are joined again.
        try { return (Get-Content -Raw $file) -replace '\r?\n', '' } finally { Remove-Item $file }
    }
}

AfterAll {
    try {
        Remove-LabDevice "$P-*"
    } finally {
        try { Remove-LabModule vhost_vdpa } finally { Disable-LabVirtioDriver }
    }
}

Describe 'A process holds /dev/vhost-vdpa-N' {
    BeforeAll {
        $script:Vhost = (New-VdpaDevice "$P-h0" vdpasim_net -Driver vhost_vdpa -ErrorAction Stop).VhostDevicePath
        Wait-LabCondition { Test-Path $Vhost } "$Vhost to appear"
        $script:Holder = Start-LabHolder $Vhost
        $script:Said = "sleep \(pid $($Holder.Id), user root\) has $([regex]::Escape($Vhost)) open"
        # The first call of each cmdlet compiles it (seconds under emulation); the timed calls below measure the check itself.
        Get-VdpaDevice "$P-h0" | Out-Null
        Remove-VdpaDevice "$P-h0" -Confirm:$false -ErrorAction SilentlyContinue
        Set-VdpaDevice "$P-h0" -Driver None -ErrorAction SilentlyContinue
    }
    AfterAll {
        Stop-LabHolder $Holder
        Remove-LabDevice "$P-h*"
    }

    It 'Remove-VdpaDevice refuses within a second with VdpaDeviceInUse naming the pid and command; the device stays' {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        Remove-VdpaDevice "$P-h0" -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 1
        Assert-InUse $e 'RemoveVdpaDeviceCommand' $Said
        $e[0].Exception.Users[0].ProcessId | Should -Be $Holder.Id
        Get-LabDeviceNames | Should -Contain "$P-h0"
        $Holder.HasExited | Should -BeFalse
    }

    It 'Set-VdpaDevice -Driver None refuses the same way; the device stays bound' {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        Set-VdpaDevice "$P-h0" -Driver None -ErrorVariable e -ErrorAction SilentlyContinue
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 1
        Assert-InUse $e 'SetVdpaDeviceCommand' $Said
        Split-Path -Leaf (Get-Item "/sys/bus/vdpa/devices/$P-h0/driver").LinkTarget | Should -Be 'vhost_vdpa'
    }

    It 'both succeed after the holder exits' {
        Stop-LabHolder $Holder
        Set-VdpaDevice "$P-h0" -Driver None -ErrorAction Stop
        Test-Path "/sys/bus/vdpa/devices/$P-h0/driver" | Should -BeFalse
        Remove-VdpaDevice "$P-h0" -Confirm:$false -ErrorAction Stop
        Get-LabDeviceNames | Should -Not -Contain "$P-h0"
    }

    It '-Force goes ahead with a warning, and the removal waits until the holder closes the device' {
        $d = New-VdpaDevice "$P-h1" vdpasim_net -Driver vhost_vdpa -ErrorAction Stop
        Wait-LabCondition { Test-Path $d.VhostDevicePath } "$($d.VhostDevicePath) to appear"
        $short = Start-LabHolder $d.VhostDevicePath -Seconds 10
        try {
            Remove-VdpaDevice "$P-h1" -Force -Confirm:$false -WarningVariable w -WarningAction SilentlyContinue -ErrorAction Stop
            $short.WaitForExit(5000) | Should -BeTrue -Because 'the kernel removes a vhost-vdpa device only once its holder has closed it'
            "$w" | Should -Match "sleep \(pid $($short.Id)"
            "$w" | Should -Match 'waits until the holders close the device'
            Get-LabDeviceNames | Should -Not -Contain "$P-h1"
        } finally { Stop-LabHolder $short }
    }
}

Describe 'A vdpasim_blk disk bound to virtio_vdpa' {
    BeforeAll {
        Invoke-LabModprobe ext4
        $script:Mount = "/tmp/$P-mnt"
        New-Item -ItemType Directory -Force $Mount | Out-Null
        function New-LabDisk([string] $Name) {
            New-VdpaDevice $Name vdpasim_blk -Driver virtio_vdpa -ErrorAction Stop | Out-Null
            Wait-LabCondition { (Get-VdpaDevice $Name).BlockDevice } "the disk of $Name"
            $disk = (Get-VdpaDevice $Name).BlockDevice
            Wait-LabCondition { Test-Path $disk } "$disk to appear"
            return $disk
        }
        function Assert-RefusedWhileOpen([string] $Name, [string] $Path) {
            # While a process holds $Path open the device is refused, naming that process and path; once it ends, removed.
            $holder = Start-LabHolder $Path
            try {
                Remove-VdpaDevice $Name -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
                Assert-InUse $e 'RemoveVdpaDeviceCommand' "sleep \(pid $($holder.Id), user root\) has $([regex]::Escape($Path)) open"
                Get-LabDeviceNames | Should -Contain $Name
            } finally { Stop-LabHolder $holder }
            Remove-VdpaDevice $Name -Confirm:$false -ErrorAction Stop
            Get-LabDeviceNames | Should -Not -Contain $Name
        }
    }
    AfterAll {
        & umount $Mount 2>$null
        Remove-LabDevice "$P-b*"
    }

    It 'is refused while a filesystem on it is mounted, naming the mount point; removed once unmounted' {
        $disk = New-LabDisk "$P-b0"
        & mkfs.ext4 -q -F $disk 2>&1 | Out-Null
        $LASTEXITCODE | Should -Be 0
        & mount $disk $Mount
        $LASTEXITCODE | Should -Be 0
        Remove-VdpaDevice "$P-b0" -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        Assert-InUse $e 'RemoveVdpaDeviceCommand' "$([regex]::Escape($disk)) is mounted on $([regex]::Escape($Mount))"
        Set-VdpaDevice "$P-b0" -Driver None -ErrorVariable e2 -ErrorAction SilentlyContinue
        Assert-InUse $e2 'SetVdpaDeviceCommand' "is mounted on $([regex]::Escape($Mount))"
        Get-LabDeviceNames | Should -Contain "$P-b0"
        & umount $Mount
        $LASTEXITCODE | Should -Be 0
        Remove-VdpaDevice "$P-b0" -Confirm:$false -ErrorAction Stop
        Get-LabDeviceNames | Should -Not -Contain "$P-b0"
    }

    It 'is refused while a process has the disk open' {
        $disk = New-LabDisk "$P-b1"
        Assert-RefusedWhileOpen "$P-b1" $disk
    }

    It 'is refused while a process has a partition of the disk open' {
        $disk = New-LabDisk "$P-b2"
        # One MBR partition (type 83, sectors 2048 to 10239), written by hand: the lab has no partitioning tool.
        $mbr = [byte[]]::new(512)
        $mbr[446 + 4] = 0x83
        [BitConverter]::GetBytes([uint32]2048).CopyTo($mbr, 446 + 8)
        [BitConverter]::GetBytes([uint32]8192).CopyTo($mbr, 446 + 12)
        $mbr[510] = 0x55
        $mbr[511] = 0xAA
        $stream = [System.IO.File]::Open($disk, 'Open', 'Write')
        try { $stream.Write($mbr, 0, $mbr.Length); $stream.Flush() } finally { $stream.Dispose() }
        & blockdev --rereadpt $disk
        $LASTEXITCODE | Should -Be 0
        $partition = "${disk}1"
        Wait-LabCondition { Test-Path $partition } "$partition to appear"
        Assert-RefusedWhileOpen "$P-b2" $partition
    }
}

Describe 'A device a process opens while the confirmation prompt is open' {
    BeforeAll {
        # The cmdlets run in a runspace whose host answers each -Confirm prompt Yes after starting a process that holds the
        # char device (bounded: should the change go through, the kernel's wait for the holder ends with it).
        $script:Held = (New-VdpaDevice "$P-c0" vdpasim_net -Driver vhost_vdpa -ErrorAction Stop).VhostDevicePath
        Wait-LabCondition { Test-Path $Held } "$Held to appear"
        $script:ConfirmHost = [VdpaPS.TestTools.HoldingConfirmHost]::new($Held, 15)
        $script:Runspace = [runspacefactory]::CreateRunspace($ConfirmHost)
        $Runspace.Open()
        $script:Shell = [powershell]::Create()
        $Shell.Runspace = $Runspace
        $null = $Shell.AddScript("Import-Module '$(Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1')'").Invoke()

        function Invoke-Confirmed([string] $Command) {
            $Shell.Commands.Clear()
            $Shell.Streams.Error.Clear()
            $null = $Shell.AddScript($Command).Invoke()
            try { return @($Shell.Streams.Error) } finally { $ConfirmHost.StopHolders() }
        }
    }
    AfterAll {
        $ConfirmHost.StopHolders()
        $Shell.Dispose()
        $Runspace.Dispose()
        Remove-LabDevice "$P-c*"
    }

    It 'Remove-VdpaDevice looks again once confirmed: refused naming the new holder, the device stays' {
        $e = Invoke-Confirmed "Remove-VdpaDevice '$P-c0' -Confirm"
        $ConfirmHost.Prompts | Should -Be 1
        Assert-InUse $e 'RemoveVdpaDeviceCommand' "sleep \(pid $($ConfirmHost.Holders[0].Id), user root\) has $([regex]::Escape($Held)) open"
        Get-LabDeviceNames | Should -Contain "$P-c0"
    }

    It 'Set-VdpaDevice -Driver None looks again once confirmed: refused, the device stays bound' {
        $e = Invoke-Confirmed "Set-VdpaDevice '$P-c0' -Driver None -Confirm"
        $ConfirmHost.Prompts | Should -Be 2
        Assert-InUse $e 'SetVdpaDeviceCommand' "sleep \(pid $($ConfirmHost.Holders[1].Id), user root\) has $([regex]::Escape($Held)) open"
        Split-Path -Leaf (Get-Item "/sys/bus/vdpa/devices/$P-c0/driver").LinkTarget | Should -Be 'vhost_vdpa'
    }
}

Describe 'A filesystem on a vdpasim_blk disk, mounted where a major:minor match misses it' {
    BeforeAll {
        # One disk for every filesystem, each made in turn; btrfs and xfs come from the lab kernel's own modules.
        foreach ($m in 'ext4', 'btrfs', 'xfs') { Invoke-LabModprobe $m }
        New-VdpaDevice "$P-f0" vdpasim_blk -Driver virtio_vdpa -ErrorAction Stop | Out-Null
        Wait-LabCondition { (Get-VdpaDevice "$P-f0").BlockDevice } "the disk of $P-f0"
        $script:Disk = (Get-VdpaDevice "$P-f0").BlockDevice
        Wait-LabCondition { Test-Path $Disk } "$Disk to appear"
        $script:FsMount = "/tmp/$P-fs"
        New-Item -ItemType Directory -Force $FsMount | Out-Null

        function New-LabFilesystem([string] $Type) {
            # Forced over what the disk held before, and without discarding it first (slow through the simulator).
            $options = if ($Type -eq 'ext4') { '-F', '-q', '-E', 'nodiscard' } else { '-f', '-q', '-K' }
            # xfsprogs refuses a filesystem under 300 MB (the disk has 128) except in the kernel's QA tests, which these name.
            $env:TEST_DIR = '/tmp'; $env:TEST_DEV = $Disk; $env:QA_CHECK_FS = '1'
            try {
                # A namespace's filesystems are unmounted a moment after its last process ended: mkfs waits for that.
                $deadline = [DateTime]::UtcNow.AddSeconds(20)
                while ($true) {
                    $out = & "mkfs.$Type" @options $Disk 2>&1
                    if ($LASTEXITCODE -eq 0) { return }
                    if ([DateTime]::UtcNow -gt $deadline) { throw "mkfs.$Type $Disk failed: $out" }
                    Start-Sleep -Milliseconds 200
                }
            } finally { Remove-Item Env:TEST_DIR, Env:TEST_DEV, Env:QA_CHECK_FS }
        }
        function Assert-RefusedWhileMounted([string] $Pattern) {
            Remove-VdpaDevice "$P-f0" -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
            Assert-InUse $e 'RemoveVdpaDeviceCommand' $Pattern
            Get-LabDeviceNames | Should -Contain "$P-f0"
        }
    }
    AfterAll {
        & umount $FsMount 2>$null
        Remove-LabDevice "$P-f*"
    }

    It 'ext4 mounted only in another mount namespace is refused, naming that mount and its process' {
        New-LabFilesystem ext4
        # As a container or a service with private mounts has it: the host's mount table does not show it.
        $ns = [System.Diagnostics.Process]::Start('unshare', [string[]]@('-m', '--propagation', 'private', 'sh', '-c', "mount '$Disk' '$FsMount' && exec sleep 120"))
        try {
            Wait-LabCondition { (Get-Content "/proc/$($ns.Id)/mountinfo" -ErrorAction SilentlyContinue) -match " $([regex]::Escape($FsMount)) " } "the mount in pid $($ns.Id)'s namespace"
            (Get-Content /proc/self/mountinfo) -match " $([regex]::Escape($FsMount)) " | Should -BeNullOrEmpty
            Assert-RefusedWhileMounted "$([regex]::Escape($Disk)) is mounted on $([regex]::Escape($FsMount)) in the mount namespace of sleep \(pid $($ns.Id)\)"
        } finally {
            if (-not $ns.HasExited) { $ns.Kill(); $ns.WaitForExit() }
        }
    }

    It '<Type> mounted here is refused, naming the mount' -ForEach @(@{ Type = 'btrfs' }, @{ Type = 'xfs' }) {
        New-LabFilesystem $Type
        & mount -t $Type $Disk $FsMount
        $LASTEXITCODE | Should -Be 0
        try {
            Assert-RefusedWhileMounted "$([regex]::Escape($Disk)) is mounted on $([regex]::Escape($FsMount))"
        } finally { & umount $FsMount }
    }
}

Describe 'A vdpasim_net device bound to virtio_vdpa, its interface up' {
    BeforeAll {
        # A unicast MAC: an all-zero one (the simulator's default) cannot be brought up.
        New-VdpaDevice "$P-n0" vdpasim_net -MacAddress 02:00:00:00:13:01 -Driver virtio_vdpa -ErrorAction Stop | Out-Null
        Wait-LabCondition { (Get-VdpaDevice "$P-n0").NetworkInterface } "the netdev of $P-n0"
        $script:Netdev = (Get-VdpaDevice "$P-n0").NetworkInterface
        & ip link set dev $Netdev up
        if ($LASTEXITCODE -ne 0) { throw "ip link set dev $Netdev up failed" }
        & ip addr add 192.0.2.13/24 dev $Netdev
        if ($LASTEXITCODE -ne 0) { throw "ip addr add failed" }
    }
    AfterAll { Remove-LabDevice "$P-n*" }

    It '-WhatIf says so, and nothing is refused or removed' {
        $text = Get-WhatIfText { Remove-VdpaDevice "$P-n0" -WhatIf -ErrorVariable e -ErrorAction SilentlyContinue; $script:WhatIfErrors = $e }
        $text | Should -Match "What if: .*$P-n0.*interface $([regex]::Escape($Netdev)) is up with [^]]*192\.0\.2\.13/24"
        $WhatIfErrors | Should -BeNullOrEmpty
        Get-LabDeviceNames | Should -Contain "$P-n0"
    }
}

Describe 'Ctrl+C' -Tag Issue22 {
    BeforeAll {
        # VDUSE devices nobody serves, with autoprobe on: virtio_vdpa's probe inside DEV_NEW waits for the missing daemon
        # for the message timeout (4 s here, VDUSE's default is 30), and the kernel holds DEV_NEW, and vdpa's lock, until then.
        $script:MessageTimeout = 4
        $script:Vduse = @(foreach ($n in 'u0', 'u1', 'u2', 'u3') { [VdpaPS.TestTools.VduseDevice]::Create("$P-$n", 'blk', '02:00:00:00:00:01', 1500, $MessageTimeout) })
        Set-Content /sys/bus/vdpa/drivers_autoprobe 1 -ErrorAction Stop

        function Stop-LabCreate([string] $Name, [string] $Script) {
            # A command that creates $Name on the vduse parent, in its own PowerShell instance, stopped (as Ctrl+C does)
            # once DEV_NEW has reached the kernel; returns how long the stop took, with what the host was told.
            $ps = [powershell]::Create()
            try {
                $null = $ps.AddScript("Import-Module '$(Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1')'; $Script")
                $async = $ps.BeginInvoke()
                # DEV_NEW has reached the kernel once the device is on the bus (its probe is what waits).
                Wait-LabCondition { Test-Path "/sys/bus/vdpa/devices/$Name" } "DEV_NEW of $Name to reach the kernel" -TimeoutSec 60
                $ps.InvocationStateInfo.State | Should -Be 'Running' -Because 'the kernel still holds DEV_NEW'
                $watch = [System.Diagnostics.Stopwatch]::StartNew()
                $ps.Stop()
                $watch.Stop()
                $ps.InvocationStateInfo.State | Should -Be 'Stopped'
                $async.IsCompleted | Should -BeTrue
                Write-Host "stopping the create of $Name took $($watch.Elapsed.TotalSeconds) s"
                return $watch.Elapsed.TotalSeconds
            } finally { $ps.Dispose() }
        }
    }
    AfterAll {
        try {
            Set-Content /sys/bus/vdpa/drivers_autoprobe 0
            Remove-LabDevice "$P-u*"
        } finally {
            $failed = @(foreach ($v in $Vduse) { $v.Dispose(); if ($v.DisposeError) { "$($v.Name): $($v.DisposeError)" } })
            if ($failed) { throw "VDUSE cleanup failed: $($failed -join '; ')" }
        }
    }

    It 'stops New-VdpaDevice on a vduse parent with no VDUSE daemon, and removes the device the kernel made before it returns' {
        # Issue 22: the removal ran in a task left behind, lost when pwsh or the boot unit exits. Now the stop waits for the
        # kernel's answer (bounded by the message timeout it can take) and the device is gone when the command has ended.
        $took = Stop-LabCreate "$P-u0" "New-VdpaDevice '$P-u0' vduse -ErrorAction Stop"
        Test-Path "/sys/bus/vdpa/devices/$P-u0" | Should -BeFalse -Because 'the device DEV_NEW made after the stop was removed before the command returned'
        Get-LabDeviceNames | Should -Not -Contain "$P-u0"
        $took | Should -BeLessThan ($MessageTimeout + 10) -Because 'the wait is bounded by what can hold the kernel'
    }

    It 'does the same for Sync-VdpaConfiguration' {
        $file = "/root/$P-sync.json"
        Set-Content $file (@{ devices = @(@{ name = "$P-u3"; parent = 'vduse' }) } | ConvertTo-Json -Depth 3)
        Stop-LabCreate "$P-u3" "Sync-VdpaConfiguration -Path '$file' -Confirm:`$false" | Out-Null
        Test-Path "/sys/bus/vdpa/devices/$P-u3" | Should -BeFalse -Because 'Sync removed the device it was stopped creating before it returned'
    }

    It 'says with -Verbose what a request waits for, naming the VDUSE device without a daemon' {
        # DEV_NEW of u1 holds vdpa's lock in another runspace; a listing meanwhile waits behind it and says why.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1')'; New-VdpaDevice '$P-u1' vduse -ErrorAction Stop")
            $async = $ps.BeginInvoke()
            Wait-LabCondition { Test-Path "/sys/bus/vdpa/devices/$P-u1" } "DEV_NEW of $P-u1 to reach the kernel" -TimeoutSec 60
            # A wait whose -TimeoutSec ends while its request waits for the lock says why, not "it is not there".
            Wait-VdpaDevice "$P-u1" -State Absent -TimeoutSec 1 -ErrorVariable timedOut -ErrorAction SilentlyContinue
            # Notices every half second (2 s by default), so the listing says it before DEV_NEW lets go.
            $connection = Get-VdpaInternalType VdpaPS.Netlink.Protocol.NetlinkConnection
            $connection::NoticeInterval = [timespan]::FromMilliseconds(500)
            try {
                $verbose = Get-VdpaDevice -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
            } finally { $connection::NoticeInterval = [timespan]::FromSeconds(2) }
            $ps.EndInvoke($async) | Out-Null
        } finally { $ps.Dispose() }
        $timedOut | Should -HaveCount 1
        $timedOut[0].FullyQualifiedErrorId | Should -Be 'VdpaWaitTimeout,VdpaPS.Commands.WaitVdpaDeviceCommand'
        "$($timedOut[0])" | Should -Match "the kernel had not answered vdpa DEV_GET when the time was up: the vdpa lock may be held by VDUSE device '$P-u1'"
        $waiting = @($verbose | Where-Object { $_ -like 'Waiting*' })
        $waiting | Should -Not -BeNullOrEmpty -Because 'the listing waited for the lock DEV_NEW held'
        # The wait just before left its own DEV_GET stopped in the kernel: that one is named too, as this process's.
        $waiting[0] | Should -Match "answer to vdpa DEV_GET dump: the vdpa lock may be held by (this process's vdpa DEV_GET, stopped \d+ s ago, which the kernel is still running; or )?VDUSE device '$P-u1', which has no daemon"
        $waiting[0] | Should -Match "msg_timeout of $MessageTimeout s"
        Remove-LabDevice "$P-u1"
    }

    It 'leaves a runspace one connection for all its commands, and a new one after a stopped request, which reads its own answers' {
        # This process's NETLINK_GENERIC sockets (protocol 16 in /proc/net/netlink), by inode.
        function Get-GenericSocket {
            $generic = @(Get-Content /proc/net/netlink | Select-Object -Skip 1 | ForEach-Object { $f = -split $_; if ($f[1] -eq '16') { $f[-1] } })
            @(Get-ChildItem "/proc/$PID/fd" | ForEach-Object { if ($_.LinkTarget -match '^socket:\[(\d+)\]$' -and $Matches[1] -in $generic) { $Matches[1] } })
        }
        $before = Get-GenericSocket
        $new = { @(Get-GenericSocket | Where-Object { $_ -notin $before }) }
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1')'; 1..3 | ForEach-Object { Get-VdpaParent vduse -ErrorAction Stop } | Out-Null").Invoke()
            $kept = & $new
            $kept | Should -HaveCount 1 -Because 'the runspace keeps the socket its commands used'
            $ps.Commands.Clear()
            $null = $ps.AddScript('foreach ($i in 1..20) { Get-VdpaDevice -ErrorAction Stop | Out-Null }').Invoke()
            & $new | Should -Be $kept -Because 'twenty more commands used the same socket'

            # A DEV_NEW the kernel holds (no VDUSE daemon), stopped as Ctrl+C does.
            $ps.Commands.Clear()
            $null = $ps.AddScript("New-VdpaDevice '$P-u2' vduse -ErrorAction Stop")
            $null = $ps.BeginInvoke()
            Wait-LabCondition { Test-Path "/sys/bus/vdpa/devices/$P-u2" } "DEV_NEW of $P-u2 to reach the kernel" -TimeoutSec 60
            Start-Sleep -Seconds 1
            $ps.Stop()

            # The stop returned once the kernel answered DEV_NEW and the device was removed. The runspace's next command: another
            # socket (the stopped one is closed with its command), and the answer to what it asked, not the one to DEV_NEW.
            $ps.Commands.Clear()
            $ps.Streams.Error.Clear()
            $parent = $ps.AddScript('Get-VdpaParent vduse -ErrorAction Stop').Invoke()
            $ps.Streams.Error | Should -BeNullOrEmpty
            @($parent).Count | Should -Be 1
            $parent[0].Name | Should -Be 'vduse'
            $after = & $new
            @($after | Where-Object { $_ -notin $kept }) | Should -HaveCount 1 -Because 'the next command opened a new socket'
            Test-Path "/sys/bus/vdpa/devices/$P-u2" | Should -BeFalse -Because 'the device DEV_NEW made after the stop was removed before the stop returned'
            $kept[0] | Should -Not -BeIn (Get-GenericSocket) -Because 'the stopped command''s socket was closed with it'
        } finally {
            $ps.Dispose()
        }
        # The runspace closed, and its kept socket with it.
        Wait-LabCondition { (& $new).Count -eq 0 } 'the closed runspace''s socket to be closed' -TimeoutSec 30
    }
}

Describe 'After vdpa and its parents are unloaded and loaded again' {
    It 'Get-VdpaParent, New-VdpaDevice and Get-VdpaDevice work in the same pwsh' {
        Get-VdpaParent vdpasim_net -ErrorAction Stop | Out-Null
        function Get-FamilyId {
            $c = (Get-VdpaInternalType VdpaPS.Netlink.Protocol.NetlinkConnection)::OpenGeneric()
            try { return (Get-VdpaInternalType VdpaPS.Netlink.Protocol.GenericNetlinkController)::GetFamily($c, 'vdpa').Id } finally { $c.Dispose() }
        }
        $before = Get-FamilyId
        # Everything that uses vdpa, in an order modprobe -r can take; what the lab loaded (vp_vdpa with -m pci) comes back.
        $users = @('vdpa_sim_net', 'vdpa_sim_blk', 'vdpa_sim', 'vduse', 'vhost_vdpa', 'virtio_vdpa', 'vp_vdpa') | Where-Object { Test-Path "/sys/module/$_" }
        $pciParents = @(Get-VdpaParent | Where-Object BusName -EQ 'pci').Count
        foreach ($m in $users + 'vdpa') { Remove-LabModule $m }
        Test-Path /sys/module/vdpa | Should -BeFalse
        Invoke-LabModprobe vdpa
        foreach ($m in $users[($users.Count - 1)..0]) { Invoke-LabModprobe $m }
        Set-Content /sys/bus/vdpa/drivers_autoprobe 0
        Get-FamilyId | Should -Not -Be $before -Because 'the kernel gives a reloaded family a new id'

        $parents = Get-VdpaParent -ErrorAction Stop
        $parents.Name | Should -Contain 'vdpasim_net'
        @($parents | Where-Object BusName -EQ 'pci').Count | Should -Be $pciParents
        $d = New-VdpaDevice "$P-r0" vdpasim_net -ErrorAction Stop
        $d.Name | Should -Be "$P-r0"
        (Get-VdpaDevice "$P-r0" -ErrorAction Stop).Parent | Should -Be 'vdpasim_net'
        Remove-VdpaDevice "$P-r0" -Confirm:$false -ErrorAction Stop
        Get-LabDeviceNames | Should -Not -Contain "$P-r0"
    }
}
