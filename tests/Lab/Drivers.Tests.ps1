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
    Remove-LabDevice "$P-*"
    & modprobe -C /dev/null -d $script:LabModRoot -r vhost_vdpa 2>&1 | Out-Null
    Disable-LabVirtioDriver
}

Describe 'Set-VdpaDevice -Driver on a vdpasim_net device' {
    BeforeAll {
        New-VdpaDevice "$P-n0" vdpasim_net | Out-Null
    }

    It 'starts unbound, with autoprobe off' {
        $d = Get-VdpaDevice "$P-n0"
        $d.Driver | Should -BeNullOrEmpty
        $d.NetworkInterface | Should -BeNullOrEmpty
        $d.VhostDevicePath | Should -BeNullOrEmpty
    }

    It '-WhatIf binds nothing' {
        Set-VdpaDevice "$P-n0" -Driver virtio_vdpa -WhatIf
        (Get-VdpaDevice "$P-n0").Driver | Should -BeNullOrEmpty
        Test-Path "/sys/bus/vdpa/devices/$P-n0/driver" | Should -BeFalse
    }

    It 'bound to virtio_vdpa shows its netdev, and that netdev exists' {
        $d = Set-VdpaDevice "$P-n0" -Driver virtio_vdpa -PassThru
        $d.Driver | Should -Be 'virtio_vdpa'
        $d.NetworkInterface | Should -Not -BeNullOrEmpty
        & ip link show dev $d.NetworkInterface | Out-Null
        $LASTEXITCODE | Should -Be 0
        (Get-VdpaDevice "$P-n0").NetworkInterface | Should -Be $d.NetworkInterface
    }

    It 'rebound to vhost_vdpa shows /dev/vhost-vdpa-N, a character device' {
        $d = Set-VdpaDevice "$P-n0" -Driver vhost_vdpa -PassThru
        $d.Driver | Should -Be 'vhost_vdpa'
        $d.VhostDevicePath | Should -Match '^/dev/vhost-vdpa-\d+$'
        Get-FileKind $d.VhostDevicePath | Should -Be 'character special file'
        $d.NetworkInterface | Should -BeNullOrEmpty
        # The kernel agrees: the driver link points at vhost_vdpa.
        Split-Path -Leaf (Get-Item "/sys/bus/vdpa/devices/$P-n0/driver").LinkTarget | Should -Be 'vhost_vdpa'
    }

    It '-Driver None leaves it unbound' {
        $d = Set-VdpaDevice "$P-n0" -Driver None -PassThru
        $d.Driver | Should -BeNullOrEmpty
        $d.VhostDevicePath | Should -BeNullOrEmpty
        Test-Path "/sys/bus/vdpa/devices/$P-n0/driver" | Should -BeFalse
    }

    It 'refuses names that would leave the vdpa bus directory, before touching sysfs' {
        Set-VdpaDevice -Name '../../devices' -Driver virtio_vdpa -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'InvalidVdpaDeviceName,VdpaPS.Commands.SetVdpaDeviceCommand'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'says which device does not exist' {
        Set-VdpaDevice -Name "$P-missing" -Driver virtio_vdpa -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceNotFound,VdpaPS.Commands.SetVdpaDeviceCommand'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }
}

Describe 'New-VdpaDevice -Driver' {
    It 'creates and binds to vhost_vdpa in one step, returning the char device' {
        $d = New-VdpaDevice "$P-v0" vdpasim_net -Driver vhost_vdpa
        $d.Driver | Should -Be 'vhost_vdpa'
        $d.VhostDevicePath | Should -Match '^/dev/vhost-vdpa-\d+$'
        Get-FileKind $d.VhostDevicePath | Should -Be 'character special file'
    }

    It 'a vdpasim_blk device bound to virtio_vdpa shows its block device' {
        $d = New-VdpaDevice "$P-b0" vdpasim_blk -Driver virtio_vdpa
        $d.Driver | Should -Be 'virtio_vdpa'
        $d.BlockDevice | Should -Match '^/dev/vd[a-z]+$'
        Get-FileKind $d.BlockDevice | Should -Be 'block special file'
        # 128 MiB, as the simulator's config space says (where the kernel reports block configuration, 6.9 on).
        $bytes = [int64](Get-Content "/sys/class/block/$(Split-Path -Leaf $d.BlockDevice)/size") * 512
        if ($HasBlockConfig) { $bytes | Should -Be (Get-VdpaDeviceConfig "$P-b0").CapacityBytes } else { $bytes | Should -Be 128MB }
    }

    It 'lists parent path and NUMA node only where the kernel knows them (the simulator has no parent device)' {
        $d = Get-VdpaDevice "$P-v0"
        $d.ParentDevicePath | Should -BeNullOrEmpty
        $d.IsManaged | Should -BeTrue
    }
}
