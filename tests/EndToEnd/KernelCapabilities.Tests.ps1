# Issue 11 on every lab kernel: the module reads what the kernel's vdpa family can do from nlctrl, and each cmdlet
# either works or says which capability is missing and the Linux release that added it. The same tests run on 6.1
# and 6.12; what they expect comes from the family's description, checked here against the running kernel.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'LabKernel.ps1')
    $script:P = 'pkc'
    $script:AutoProbe = (Get-Content /sys/bus/vdpa/drivers_autoprobe -Raw).Trim()
    Set-Content /sys/bus/vdpa/drivers_autoprobe 0
}

AfterAll {
    Remove-LabDevice "$P-*"
    Set-Content /sys/bus/vdpa/drivers_autoprobe $script:AutoProbe
}

Describe 'The family''s description' {
    It 'fits the running kernel: its release is in the range the ops and maxattr describe' {
        $release = (& uname -r) -replace '^(\d+)\.(\d+).*$', '$1.$2'
        $range = $LabFamily.KernelRange
        $fits = switch -Regex ($range) {
            '^Linux (\d+\.\d+)$' { $release -eq $Matches[1] }
            '^Linux (\d+\.\d+) or later$' { [version]$release -ge [version]$Matches[1] }
            '^Linux (\d+\.\d+) to (\d+\.\d+)$' { [version]$release -ge [version]$Matches[1] -and [version]$release -le [version]$Matches[2] }
            default { $false }
        }
        $fits | Should -BeTrue -Because "uname -r is $(& uname -r), the family says $range"
        if ($env:VDPAPS_LAB_KERNEL) { $release | Should -Be $env:VDPAPS_LAB_KERNEL }
    }

    It 'reads net devices'' features on every kernel (attribute 21 on 6.1, 20 later), as the device was provisioned' {
        $names = 'VERSION_1', 'ACCESS_PLATFORM', 'MAC'
        New-VdpaDevice "$P-f0" vdpasim_net -Feature $names -MacAddress 02:00:00:00:0c:01 -WarningVariable w -ErrorVariable e | Out-Null
        $w | Should -HaveCount 0 -Because 'device features are reported on every kernel the lab has'
        $e | Should -HaveCount 0
        $c = Get-VdpaDeviceConfig "$P-f0"
        ($c.DeviceFeatures | Sort-Object) | Should -Be ($names | Sort-Object)
        $c.DeviceFeatureMask | Should -Be ((Get-VdpaInternalType VdpaPS.Netlink.Vdpa.VirtioFeatures)::ParseMask([string[]]$names, 'Net'))
    }
}

Describe 'Set-VdpaDevice -MacAddress (DEV_ATTR_SET, Linux 6.12)' {
    BeforeAll {
        New-VdpaDevice "$P-s0" vdpasim_net -MacAddress 02:00:00:00:0c:10 | Out-Null
        New-VdpaDevice "$P-s1" vdpasim_net -MacAddress 02:00:00:00:0c:11 | Out-Null
    }

    It 'says nothing and changes nothing under -WhatIf, on every kernel' {
        Set-VdpaDevice "$P-s0" -MacAddress 02:00:00:00:0c:20 -WhatIf -ErrorVariable e
        $e | Should -HaveCount 0
        (Invoke-IpVdpa dev config show "$P-s0").config["$P-s0"].mac | Should -Be '02:00:00:00:0c:10'
    }

    It 'changes the MAC, or refuses each device with an error naming DEV_ATTR_SET and 6.12, and goes on' {
        $out = Get-VdpaDevice "$P-s*" | Set-VdpaDevice -MacAddress 02:00:00:00:0c:21 -PassThru -ErrorVariable e -ErrorAction SilentlyContinue
        if ($CanSetMac) {
            $e | Should -HaveCount 0
            $out.MacAddress | Should -Be @('02:00:00:00:0c:21', '02:00:00:00:0c:21')
        } else {
            $out | Should -BeNullOrEmpty
            # Non-terminating: both piped devices got their own error, none was a CmdletInvocationException.
            $e | Should -HaveCount 2
            Assert-KernelLacks @($e[0]) 'SetVdpaDeviceCommand' '6.12'
            "$($e[0])" | Should -Match 'DEV_ATTR_SET'
            $e.TargetObject | Should -Be @("$P-s0", "$P-s1")
            (Invoke-IpVdpa dev config show "$P-s1").config["$P-s1"].mac | Should -Be '02:00:00:00:0c:11'
        }
    }
}

Describe 'Block configuration (DEV_CONFIG_GET of a block device, Linux 6.9)' {
    BeforeAll {
        New-VdpaDevice "$P-b0" vdpasim_blk | Out-Null
    }

    It 'decodes the capacity, or says that block configuration came in 6.9' {
        $c = Get-VdpaDeviceConfig "$P-b0" -ErrorVariable e -ErrorAction SilentlyContinue
        if ($HasBlockConfig) {
            $e | Should -HaveCount 0
            $c.Capacity | Should -BeGreaterThan 0
        } else {
            $c | Should -BeNullOrEmpty
            Assert-KernelLacks $e 'GetVdpaDeviceConfigCommand' '6.9'
            $e[0].Exception.InnerException.Errno | Should -Be 95 -Because 'the kernel''s own EOPNOTSUPP is kept'
        }
    }
}

Describe 'A configuration dump the kernel ends early' {
    BeforeAll {
        # Net, block, net: 6.1 ends the dump at the block device and leaves the second net device out too.
        New-VdpaDevice "$P-d0" vdpasim_net | Out-Null
        New-VdpaDevice "$P-d1" vdpasim_blk | Out-Null
        New-VdpaDevice "$P-d2" vdpasim_net | Out-Null
    }

    It 'is reported with the devices it left out, which are then asked for one by one' {
        # iproute2's dump is the oracle of what the kernel's dump leaves out.
        $dumped = @((Invoke-IpVdpa dev config show).config.Keys | Where-Object { $_ -like "$P-d*" })
        $left = @("$P-d0", "$P-d1", "$P-d2" | Where-Object { $_ -notin $dumped })
        if ($Is61Family) {
            # 6.1 stops at the first block device of the whole list (in the device dump's order): it and all after it.
            $devices = (Invoke-IpVdpa dev show).dev
            $names = @($devices.Keys)
            $first = [array]::IndexOf($names, @($names | Where-Object { $devices[$_].type -eq 'block' })[0])
            $left | Should -Be @($names[$first..($names.Count - 1)] | Where-Object { $_ -like "$P-d*" }) -Because '6.1 stops at the first block device'
            $left | Should -Contain "$P-d2"
        }

        $configs = Get-VdpaDeviceConfig "$P-d*" -WarningVariable w -ErrorVariable e -ErrorAction SilentlyContinue
        if ($left.Count -eq 0) {
            $w | Should -HaveCount 0
            $e | Should -HaveCount 0
            $configs.Name | Sort-Object | Should -Be @("$P-d0", "$P-d1", "$P-d2")
        } else {
            $w | Should -HaveCount 1
            "$($w[0])" | Should -Match 'ended the DEV_CONFIG_GET dump early'
            foreach ($n in $left) { "$($w[0])" | Should -Match "'$n'" }
            # Every net device is there; the block device is there where the kernel has block configuration, else its error.
            $configs.Name | Should -Contain "$P-d0"
            $configs.Name | Should -Contain "$P-d2"
            if ($HasBlockConfig) { $configs.Name | Should -Contain "$P-d1" } else { Assert-KernelLacks $e 'GetVdpaDeviceConfigCommand' '6.9' }
        }
    }
}

Describe 'Statistics (DEV_VSTATS_GET, Linux 5.19, and a driver that keeps them)' {
    It 'a block device''s refusal speaks of its parent''s driver, and names no driver that would keep them' {
        New-VdpaDevice "$P-v0" vdpasim_blk | Out-Null
        Get-VdpaStats "$P-v0" -QueueIndex 0 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaOperationNotSupported,VdpaPS.Commands.GetVdpaStatsCommand'
        "$($e[0])" | Should -Match 'driver of its parent keeps no vendor statistics'
        "$($e[0])" | Should -Match 'Linux 5\.19'
        "$($e[0])" | Should -Not -Match 'vdpa_sim_net|mlx5_vdpa'
    }
}

Describe 'New-VdpaDevice where DEV_NEW does not check "Missing features"' {
    It 'creates the device with the MAC -Feature leaves out, or reports what it did not apply and why' {
        $d = New-VdpaDevice "$P-m0" vdpasim_net -MacAddress 02:00:00:00:0c:30 -Feature VERSION_1 -ErrorVariable e -ErrorAction SilentlyContinue
        $e | Should -HaveCount 1
        if ($Is61Family) {
            # 6.1 creates it without the MAC: the read-back says so and why, as a non-terminating error.
            $d.Name | Should -Be "$P-m0"
            $e[0].FullyQualifiedErrorId | Should -Be 'VdpaAttributeNotApplied,VdpaPS.Commands.NewVdpaDeviceCommand'
            "$($e[0])" | Should -Match '-Feature lacks MAC'
            Get-LabDeviceNames | Should -Contain "$P-m0"
        } else {
            $d | Should -BeNullOrEmpty
            $e[0].FullyQualifiedErrorId | Should -Be 'VdpaMissingFeatures,VdpaPS.Commands.NewVdpaDeviceCommand'
            Get-LabDeviceNames | Should -Not -Contain "$P-m0"
        }
    }
}
