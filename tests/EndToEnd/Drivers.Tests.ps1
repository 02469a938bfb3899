# Driver binding and what a device becomes (issue 5), against the lab kernel's simulator with both vdpa bus
# drivers loaded and autoprobe off, so every binding here is the cmdlets' own doing.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'LabKernel.ps1')
    $script:P = 'pdr'
    Enable-LabVirtioDriver
    Invoke-LabModprobe vhost_vdpa

    function Get-FileKind([string] $Path) { (& stat -c %F $Path 2>$null) }
}

AfterAll {
    # Every step runs; any that fails fails the file's cleanup block.
    try {
        Remove-LabDevice "$P-*"
    } finally {
        try { Remove-LabModule vhost_vdpa } finally { Disable-LabVirtioDriver }
    }
}

Describe 'Set-VdpaDevice -Driver on a vdpasim_net device' {
    # Each test makes its own unbound device and binds it as far as it needs: none depends on another's binding.
    BeforeEach {
        New-VdpaDevice "$P-n0" vdpasim_net -ErrorAction Stop | Out-Null
    }
    AfterEach {
        Remove-LabDevice "$P-n0"
    }

    It 'starts unbound, with autoprobe off' {
        $d = Get-VdpaDevice "$P-n0"
        $d.Driver | Should -BeNullOrEmpty
        $d.NetworkInterface | Should -BeNullOrEmpty
        $d.VhostDevicePath | Should -BeNullOrEmpty
        Test-Path "/sys/bus/vdpa/devices/$P-n0/driver" | Should -BeFalse
    }

    It '-WhatIf binds nothing' {
        Set-VdpaDevice "$P-n0" -Driver virtio_vdpa -WhatIf
        (Get-VdpaDevice "$P-n0").Driver | Should -BeNullOrEmpty
        Test-Path "/sys/bus/vdpa/devices/$P-n0/driver" | Should -BeFalse
    }

    It 'bound to virtio_vdpa shows its netdev, and that netdev exists' {
        $d = Set-VdpaDevice "$P-n0" -Driver virtio_vdpa -PassThru
        $d.Driver | Should -Be 'virtio_vdpa'
        Split-Path -Leaf (Get-Item "/sys/bus/vdpa/devices/$P-n0/driver").LinkTarget | Should -Be 'virtio_vdpa'
        # virtio_net registers the netdev during the probe, which can finish after the bind write returns.
        Wait-LabCondition { (Get-VdpaDevice "$P-n0").NetworkInterface } "the netdev of $P-n0"
        $netdev = (Get-VdpaDevice "$P-n0").NetworkInterface
        Test-Path "/sys/class/net/$netdev" | Should -BeTrue
        & ip link show dev $netdev | Out-Null
        $LASTEXITCODE | Should -Be 0
        if ($d.NetworkInterface) { $d.NetworkInterface | Should -Be $netdev }
    }

    It 'rebound from virtio_vdpa to vhost_vdpa shows /dev/vhost-vdpa-N, a character device' {
        Set-VdpaDevice "$P-n0" -Driver virtio_vdpa -ErrorAction Stop
        Split-Path -Leaf (Get-Item "/sys/bus/vdpa/devices/$P-n0/driver").LinkTarget | Should -Be 'virtio_vdpa'
        $d = Set-VdpaDevice "$P-n0" -Driver vhost_vdpa -PassThru
        $d.Driver | Should -Be 'vhost_vdpa'
        $d.VhostDevicePath | Should -Match '^/dev/vhost-vdpa-\d+$'
        Wait-LabCondition { Test-Path $d.VhostDevicePath } "$($d.VhostDevicePath) to appear"
        Get-FileKind $d.VhostDevicePath | Should -Be 'character special file'
        $d.NetworkInterface | Should -BeNullOrEmpty
        # The kernel agrees: the driver link points at vhost_vdpa.
        Split-Path -Leaf (Get-Item "/sys/bus/vdpa/devices/$P-n0/driver").LinkTarget | Should -Be 'vhost_vdpa'
    }

    It '-MacAddress with -Driver -PassThru writes one object, the device read back after the binding' {
        $out = @(Set-VdpaDevice "$P-n0" -MacAddress 02:ab:cd:00:00:04 -Driver vhost_vdpa -PassThru -ErrorVariable e -ErrorAction SilentlyContinue)
        if (-not $CanSetMac) { $out | Should -BeNullOrEmpty; Assert-KernelLacks $e 'SetVdpaDeviceCommand' '6.12'; return }
        $e | Should -BeNullOrEmpty
        $out | Should -HaveCount 1
        $out[0] | Should -BeOfType [VdpaPS.VdpaDevice]
        $out[0].Driver | Should -Be 'vhost_vdpa'
        (Get-VdpaDeviceConfig "$P-n0").MacAddress | Should -Be '02:ab:cd:00:00:04'
    }

    It '-Driver None leaves a bound device unbound' {
        Set-VdpaDevice "$P-n0" -Driver vhost_vdpa -ErrorAction Stop
        Test-Path "/sys/bus/vdpa/devices/$P-n0/driver" | Should -BeTrue
        $d = Set-VdpaDevice "$P-n0" -Driver None -PassThru
        $d.Driver | Should -BeNullOrEmpty
        $d.VhostDevicePath | Should -BeNullOrEmpty
        Test-Path "/sys/bus/vdpa/devices/$P-n0/driver" | Should -BeFalse
    }

    It 'refuses names that would leave the vdpa bus directory, before touching sysfs' {
        Set-VdpaDevice -Name '../../devices' -Driver virtio_vdpa -ErrorVariable err -ErrorAction SilentlyContinue
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -Be 'InvalidVdpaDeviceName,VdpaPS.Commands.SetVdpaDeviceCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'says which device does not exist' {
        Set-VdpaDevice -Name "$P-missing" -Driver virtio_vdpa -ErrorVariable err -ErrorAction SilentlyContinue
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceNotFound,VdpaPS.Commands.SetVdpaDeviceCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }
}

Describe 'New-VdpaDevice -Driver' {
    AfterEach {
        Remove-LabDevice "$P-v*", "$P-b*"
    }

    It 'creates and binds to vhost_vdpa in one step, returning the char device' {
        $d = New-VdpaDevice "$P-v0" vdpasim_net -Driver vhost_vdpa
        $d.Driver | Should -Be 'vhost_vdpa'
        $d.VhostDevicePath | Should -Match '^/dev/vhost-vdpa-\d+$'
        Wait-LabCondition { Test-Path $d.VhostDevicePath } "$($d.VhostDevicePath) to appear"
        Get-FileKind $d.VhostDevicePath | Should -Be 'character special file'
    }

    It 'writes the device after the bind''s error when the driver cannot take it (issue 22)' {
        Remove-LabModule vhost_vdpa
        try {
            $d = New-VdpaDevice "$P-v1" vdpasim_net -Driver vhost_vdpa -ErrorVariable e -ErrorAction SilentlyContinue
        } finally {
            Invoke-LabModprobe vhost_vdpa
        }
        @($e | ForEach-Object FullyQualifiedErrorId) | Should -Be @('VdpaDriverNotLoaded,VdpaPS.Commands.NewVdpaDeviceCommand')
        $d | Should -HaveCount 1 -Because 'the device exists, and the caller needs it to rebind or remove it'
        $d.Name | Should -Be "$P-v1"
        $d.Driver | Should -BeNullOrEmpty -Because 'autoprobe is off: the device stays as it was made, unbound'
        Get-LabDeviceNames | Should -Contain "$P-v1"
    }

    It 'a vdpasim_blk device bound to virtio_vdpa shows its block device' {
        $d = New-VdpaDevice "$P-b0" vdpasim_blk -Driver virtio_vdpa
        $d.Driver | Should -Be 'virtio_vdpa'
        # virtio_blk adds the disk during the probe, which can finish after the bind write returns.
        Wait-LabCondition { (Get-VdpaDevice "$P-b0").BlockDevice } "the disk of $P-b0"
        $disk = (Get-VdpaDevice "$P-b0").BlockDevice
        $disk | Should -Match '^/dev/vd[a-z]+$'
        Wait-LabCondition { Test-Path $disk } "$disk to appear"
        Get-FileKind $disk | Should -Be 'block special file'
        # 128 MiB, as the simulator's config space says (where the kernel reports block configuration, 6.9 on).
        $bytes = [int64](Get-Content "/sys/class/block/$(Split-Path -Leaf $disk)/size") * 512
        if ($HasBlockConfig) { $bytes | Should -Be (Get-VdpaDeviceConfig "$P-b0").CapacityBytes } else { $bytes | Should -Be 128MB }
    }

    It 'lists parent path and NUMA node only where the kernel knows them (the simulator has no parent device)' {
        $d = New-VdpaDevice "$P-v1" vdpasim_net -Driver vhost_vdpa
        # The device's parent in sysfs: what the kernel knows about where the device sits.
        $parentDir = Split-Path -Parent (Get-Item "/sys/bus/vdpa/devices/$P-v1").ResolveLinkTarget($true).FullName
        $numaFile = Join-Path $parentDir 'numa_node'
        $expectedNode = if (Test-Path $numaFile) { [int](Get-Content $numaFile) } else { -1 }
        $d.ParentDevicePath | Should -BeNullOrEmpty -Because "the simulator's device sits under $parentDir, no hardware"
        if ($expectedNode -ge 0) { $d.NumaNode | Should -Be $expectedNode } else { $d.NumaNode | Should -BeNullOrEmpty }
        (Get-VdpaDevice "$P-v1").NumaNode | Should -Be $d.NumaNode
    }

    It 'marks as managed exactly the devices the kernel''s dump lists (IsManaged), and lists every device sysfs has' {
        New-VdpaDevice "$P-v2" vdpasim_net -ErrorAction Stop | Out-Null
        $dumped = Get-IpVdpaDeviceNames
        $inSysfs = @(Get-ChildItem /sys/bus/vdpa/devices | ForEach-Object Name)
        $devices = @(Get-VdpaDevice)
        ($devices.Name | Sort-Object) | Should -Be ($inSysfs | Sort-Object)
        foreach ($d in $devices) {
            $d.IsManaged | Should -Be ($dumped -contains $d.Name) -Because "vdpa dev show lists $($d.Name) only if a management device made it"
        }
        ($devices | Where-Object Name -EQ "$P-v2").IsManaged | Should -BeTrue
    }
}
