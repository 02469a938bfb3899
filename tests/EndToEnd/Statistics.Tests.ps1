# End-to-end: queue statistics and negotiated features, which need a driver that has negotiated features with the
# device: the simulator's devices are bound to virtio_vdpa (with virtio_net and virtio_blk) here. Autoprobe is off
# while the driver is loaded, so only the devices bound on purpose get it; everything is undone in AfterAll.
# Each Describe makes its own devices and removes them; a cleanup that fails fails the block.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'LabKernel.ps1')
    $script:P = 'pss'
    function Assert-NoSimNetStatistics {
        # 6.1's vdpasim_net keeps no vendor statistics: one error for the device, in terms of its driver.
        Get-VdpaStats "$P-n0" -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaOperationNotSupported,VdpaPS.Commands.GetVdpaStatsCommand'
        "$($e[0])" | Should -Match 'driver of its parent keeps no vendor statistics'
        "$($e[0])" | Should -Not -Match 'vdpa_sim_net'
    }
    Enable-LabVirtioDriver

    function New-BoundSimulators {
        New-VdpaDevice "$P-n0" vdpasim_net -MacAddress 02:00:00:00:00:61 -ErrorAction Stop | Out-Null
        New-VdpaDevice "$P-b0" vdpasim_blk -ErrorAction Stop | Out-Null
        Connect-LabVirtioDriver "$P-n0"
        Connect-LabVirtioDriver "$P-b0"
    }
}

AfterAll {
    Disable-LabVirtioDriver
}

Describe 'Get-VdpaStats on a simulator net device bound to virtio_vdpa' {
    BeforeAll { New-BoundSimulators }
    AfterAll { Remove-LabDevice "$P-*" }

    It 'reads every queue of piped devices, each agreeing with vdpa -j dev vstats show' {
        if (-not $SimNetKeepsStatistics) { Assert-NoSimNetStatistics; return }
        $stats = Get-VdpaDevice "$P-n0" | Get-VdpaStats
        $device = Get-VdpaDevice "$P-n0"
        $stats | Should -HaveCount $device.MaxQueues
        $stats.QueueIndex | Should -Be (0..($device.MaxQueues - 1))
        foreach ($s in $stats) {
            $s | Should -BeOfType [VdpaPS.VdpaQueueStatistics]
            $ip = (Invoke-IpVdpa dev vstats show "$P-n0" qidx $s.QueueIndex).vstats["$P-n0"]
            $ip.Remove('queue_type')
            $s.Counters.Name | Should -Be @($ip.Keys) -Because "queue $($s.QueueIndex) has iproute2's counters, in order"
            foreach ($c in $s.Counters) { $c.Value | Should -Be $ip[$c.Name] -Because "counter '$($c.Name)' of queue $($s.QueueIndex)" }
        }
    }

    It 'labels rx, tx and the control queue by the virtio rule, also when the kernel omits MAX_VQP' {
        if (-not $SimNetKeepsStatistics) { Assert-NoSimNetStatistics; return }
        $config = Get-VdpaDeviceConfig "$P-n0"
        $stats = Get-VdpaStats "$P-n0"
        # Without MQ there is one queue pair and the kernel sends no MAX_VQP (iproute2 6.1 then calls queue 0 control_vq).
        $pairs = if ($config.NegotiatedFeatures -contains 'MQ') { $config.MaxQueuePairs } else { 1 }
        foreach ($s in $stats) {
            $expected = if ($s.QueueIndex -lt 2 * $pairs) { ('Rx', 'Tx')[$s.QueueIndex % 2] } elseif ($s.QueueIndex -eq 2 * $pairs) { 'Control' } else { 'Unknown' }
            "$($s.QueueType)" | Should -Be $expected -Because "queue $($s.QueueIndex)"
            $s.QueuePairs | Should -Be $pairs
        }
        # The counters' own names say which queue they belong to.
        ($stats | Where-Object QueueType -EQ 'Rx').Counters.Name | Should -Contain 'rx packets'
        ($stats | Where-Object QueueType -EQ 'Control').Counters.Name | Should -Contain 'cvq requests'
    }

    It 'reads one queue with -QueueIndex' {
        if (-not $SimNetKeepsStatistics) { Assert-NoSimNetStatistics; return }
        $s = Get-VdpaStats "$P-n0" -QueueIndex 1
        $s | Should -HaveCount 1
        $s.QueueIndex | Should -Be 1
        "$($s.QueueType)" | Should -Be 'Tx'
        $s.NegotiatedFeatures | Should -Be (Get-VdpaDeviceConfig "$P-n0").NegotiatedFeatures
    }

    It 'reports a queue the device does not have as VdpaQueueIndexOutOfRange (the driver''s EINVAL)' {
        if (-not $SimNetKeepsStatistics) { Assert-NoSimNetStatistics; return }
        $max = (Get-VdpaDevice "$P-n0").MaxQueues
        Get-VdpaStats "$P-n0" -QueueIndex $max -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaQueueIndexOutOfRange,VdpaPS.Commands.GetVdpaStatsCommand'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        "$($e[0])" | Should -Match "has no queue $max"
    }

    It 'refuses an index above the kernel''s limit before sending it, and maps the kernel''s own ERANGE the same way' {
        $limit = (Get-VdpaInternalType VdpaPS.Netlink.Vdpa.VdpaFamily)::MaxQueueIndex
        # -QueueIndex's [ValidateRange] is the kernel's limit (its check on the host: tests/Module/Conventions.Tests.ps1).
        { Get-VdpaStats "$P-n0" -QueueIndex ($limit + 1) } | Should -Throw -ErrorId 'ParameterArgumentValidationError,VdpaPS.Commands.GetVdpaStatsCommand'
        # The kernel's answer just past the limit is ERANGE "queue index exceeds max value": the limit is the kernel's.
        $client = Open-VdpaCoreClient
        try {
            $caught = $null
            try { $client.GetQueueStatistics("$P-n0", $limit + 1) } catch { $caught = $_.Exception.InnerException ?? $_.Exception }
            $caught.Errno | Should -Be 34
            # 6.1 spells it "excceeds".
            $caught.ExtAckMessage | Should -Match 'queue index exc+eeds max value'
            $r = (Get-VdpaInternalType VdpaPS.Errors.VdpaErrors)::FromNetlink($caught, (Get-VdpaInternalType VdpaPS.Errors.ErrorTarget)::Of((New-VdpaInternalObject VdpaPS.Netlink.Vdpa.VdpaQueueTarget -ArgumentList "$P-n0", ($limit + 1))), 'Device')
            $r.FullyQualifiedErrorId | Should -Be 'VdpaQueueIndexOutOfRange'
            $r.CategoryInfo.Category | Should -Be 'InvalidArgument'
            # The limit itself passes the kernel's range check and reaches the driver, which has no such queue.
            $caught = $null
            try { $client.GetQueueStatistics("$P-n0", $limit) } catch { $caught = $_.Exception.InnerException ?? $_.Exception }
            # 22 from a driver that keeps statistics and has no such queue; 95 where the driver keeps none (6.1).
            $caught.Errno | Should -Be $(if ($SimNetKeepsStatistics) { 22 } else { 95 })
        } finally { $client.Dispose() }
    }

    It 'reports statistics before feature negotiation as VdpaFeatureNegotiationIncomplete, once per device' {
        try {
            New-VdpaDevice "$P-n1" vdpasim_net -ErrorAction Stop | Out-Null
            Get-VdpaStats "$P-n1" -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $e | Should -HaveCount 1
            if ($SimNetKeepsStatistics) {
                $e[0].FullyQualifiedErrorId | Should -Be 'VdpaFeatureNegotiationIncomplete,VdpaPS.Commands.GetVdpaStatsCommand'
                $e[0].CategoryInfo.Category | Should -Be 'ResourceUnavailable'
                "$($e[0])" | Should -Match 'feature negotiation not complete'
            } else {
                # 6.1 asks the driver for statistics before it checks negotiation.
                $e[0].FullyQualifiedErrorId | Should -Be 'VdpaOperationNotSupported,VdpaPS.Commands.GetVdpaStatsCommand'
            }
        } finally {
            Remove-LabDevice "$P-n1"
        }
    }

    It 'goes on with the next device when one fails: Get-VdpaDevice | Get-VdpaStats' {
        $stats = Get-VdpaDevice "$P-n0", "$P-b0" | Get-VdpaStats -ErrorVariable e -ErrorAction SilentlyContinue
        if (-not $SimNetKeepsStatistics) {
            # Neither device keeps statistics here: one error each, the second device still asked.
            $stats | Should -BeNullOrEmpty
            $e | Should -HaveCount 2
            # Each error names its device (TargetObject, a name).
            ($e.TargetObject | Sort-Object) | Should -Be @("$P-b0", "$P-n0")
            return
        }
        ($stats | Select-Object -ExpandProperty Name -Unique) | Should -Be "$P-n0"
        $e | Should -HaveCount 1 -Because 'the block device reports no statistics'
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaOperationNotSupported,VdpaPS.Commands.GetVdpaStatsCommand'
        "$($e[0].TargetObject)" | Should -BeLike "$P-b0*"
    }

    It 'shows the counters one per line' {
        if (-not $SimNetKeepsStatistics) { Assert-NoSimNetStatistics; return }
        $text = Get-VdpaStats "$P-n0" -QueueIndex 0 | Out-String -Width 200
        $text | Should -MatchExactly "(?m)^\s*Device: $([regex]::Escape("$P-n0"))$"
        $text | Should -MatchExactly '(?m)^\s+0 Rx\s+rx packets\s+\d+$'
        $text | Should -MatchExactly '(?m)^\s+rx bytes\s+\d+$'
    }
}

Describe 'Devices bound to virtio_vdpa' {
    BeforeAll { New-BoundSimulators }
    AfterAll { Remove-LabDevice "$P-*" }

    It 'shows the negotiated features as vdpa -j dev config show does' {
        $c = Get-VdpaDeviceConfig "$P-n0"
        $ip = (Invoke-IpVdpa dev config show "$P-n0").config["$P-n0"]
        $c.NegotiatedFeatures | Should -Not -BeNullOrEmpty
        $c.NegotiatedFeatures | Should -Be @($ip.negotiated_features)
        $c.NegotiatedFeatureMask | Should -Be (ConvertTo-FeatureMask $ip.negotiated_features)
        $c.MacAddress | Should -Be $ip.mac
        $c.LinkUp | Should -Be ($ip['link '] -eq 'up')
    }

    It 'shows the driver and what the device became' {
        # virtio_net registers the netdev during the probe, which can finish after the bind write returns.
        Wait-LabCondition { (Get-VdpaDevice "$P-n0").NetworkInterface } "the netdev of $P-n0"
        $n = Get-VdpaDevice "$P-n0"
        $n.Driver | Should -Be 'virtio_vdpa'
        Split-Path -Leaf (Get-Item "/sys/bus/vdpa/devices/$P-n0/driver").LinkTarget | Should -Be 'virtio_vdpa'
        (Get-Content "/sys/class/net/$($n.NetworkInterface)/address") | Should -Be (Get-VdpaDeviceConfig "$P-n0").MacAddress
    }

    It 'decodes the block configuration as the virtio_blk disk sees it, field by field' {
        Wait-LabCondition { (Get-VdpaDevice "$P-b0").BlockDevice } "the disk of $P-b0"
        $disk = Split-Path -Leaf (Get-VdpaDevice "$P-b0").BlockDevice
        Wait-LabCondition { Test-Path "/sys/block/$disk/queue/logical_block_size" } "the queue limits of $disk"
        $c = Get-VdpaDeviceConfig "$P-b0" -ErrorVariable ce -ErrorAction SilentlyContinue
        if (-not $HasBlockConfig) { Assert-KernelLacks $ce 'GetVdpaDeviceConfigCommand' '6.9'; return }
        $f = @($c.DeviceFeatures)
        function Read-Disk([string] $File) { [uint64](Get-Content "/sys/block/$disk/$File" -ErrorAction Stop) }

        # virtio_blk's probe (drivers/block/virtio_blk.c) turns each config field into a queue limit.
        $c.Capacity | Should -Be (Read-Disk size) -Because 'capacity is the disk size in 512-byte sectors'
        $c.ReadOnly | Should -Be ((Read-Disk ro) -eq 1)
        $blockSize = if ($f -contains 'BLK_SIZE') {
            $c.BlockSize | Should -Be (Read-Disk queue/logical_block_size)
            [uint64]$c.BlockSize
        } else { 512 }
        if ($f -contains 'SEG_MAX') { $c.SegmentMax | Should -Be (Read-Disk queue/max_segments) }
        if ($f -contains 'SIZE_MAX') { $c.SizeMax | Should -Be (Read-Disk queue/max_segment_size) }
        if ($f -contains 'TOPOLOGY') {
            (Read-Disk queue/physical_block_size) | Should -Be ($blockSize -shl $c.PhysicalBlockExponent)
            (Read-Disk alignment_offset) | Should -Be ($blockSize * $c.AlignmentOffset)
            if ($c.MinIoSize) { (Read-Disk queue/minimum_io_size) | Should -Be ($blockSize * $c.MinIoSize) }
            if ($c.OptimalIoSize) { (Read-Disk queue/optimal_io_size) | Should -Be ($blockSize * $c.OptimalIoSize) }
        }
        if ($f -contains 'DISCARD') {
            $c.MaxDiscardSectors | Should -Not -BeNullOrEmpty
            $sectors = if ($c.MaxDiscardSectors) { [uint64]$c.MaxDiscardSectors } else { [uint64][uint32]::MaxValue }
            (Read-Disk queue/discard_max_hw_bytes) | Should -Be ($sectors * 512)
            (Read-Disk queue/max_discard_segments) | Should -Be ([math]::Min([uint64]$c.MaxDiscardSegments, 256))
            $granularity = if ($c.DiscardSectorAlignment) { [uint64]$c.DiscardSectorAlignment * 512 } else { $blockSize }
            (Read-Disk queue/discard_granularity) | Should -Be $granularity
        }
        if ($f -contains 'WRITE_ZEROES') {
            $c.MaxWriteZeroesSectors | Should -Not -BeNullOrEmpty
            $sectors = if ($c.MaxWriteZeroesSectors) { [uint64]$c.MaxWriteZeroesSectors } else { [uint64][uint32]::MaxValue }
            (Read-Disk queue/write_zeroes_max_bytes) | Should -Be ($sectors * 512)
        }
        if ($f -notcontains 'CONFIG_WCE') {
            # Without CONFIG_WCE the cache mode follows FLUSH alone.
            (Get-Content "/sys/block/$disk/queue/write_cache") | Should -Be $(if ($c.Flush) { 'write back' } else { 'write through' })
        }
        if ($f -contains 'MQ') { @(Get-ChildItem "/sys/block/$disk/mq").Count | Should -BeLessOrEqual $c.QueueCount }
        $c.NegotiatedFeatures | Should -Not -BeNullOrEmpty
    }
}
