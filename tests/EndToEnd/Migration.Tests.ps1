# Live migration (issue 24): whether a device's twin (same class, offered features, MAC, MTU and queue pairs) can be made
# on another parent, and the twin made through the pipe. The lab's net parents differ: vdpasim_net, the virtio-net-pci
# functions pci/0000:00:10.0 (MQ), 00:11.0 and 21:00.0 (no MQ), and a VF of the SR-IOV word's second PF (02:00.1), all
# three PCI kinds under vp_vdpa, which sets only features at creation and keeps one device per parent. A device on each.
# The expected verdicts are computed here from iproute2 (`vdpa -j mgmtdev show`, `dev show`, `dev config show`) and
# the drivers' config attribute masks, not from the module. Two SSH sessions (the `ssh` word) stand for two hosts.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'Remoting.ps1')
    $script:P = 'mig'
    $script:Pf = '0000:02:00.0'
    $script:Vf = 'pci/0000:02:00.1'
    $script:Parents = 'vdpasim_net', 'pci/0000:00:10.0', 'pci/0000:00:11.0', 'pci/0000:21:00.0', $Vf
    $script:DeviceOn = [ordered]@{ 'vdpasim_net' = 'mig-sim'; 'pci/0000:00:10.0' = 'mig-p10'; 'pci/0000:00:11.0' = 'mig-p11'
        'pci/0000:21:00.0' = 'mig-p21'; $Vf = 'mig-vf' }
    $script:Devices = @($DeviceOn.Values)

    # The sessions first: they open while nothing else runs (two pwsh starts), and Remoting.Tests.ps1 reuses them.
    $script:A, $script:B = New-LabSession -HostName '127.0.0.1', 'localhost'

    # A VF parent: the second PF's one VF, bound to vp-vdpa (put back in AfterAll). The PF makes VFs only with its virtio
    # driver bound: loading virtio_net binds it again if an earlier file removed the module.
    Invoke-LabModprobe virtio_net
    Set-VdpaPhysicalFunction $Pf -VfCount 1 -VfDriver vp-vdpa -Confirm:$false -ErrorAction Stop | Out-Null

    # The simulator's device offers a chosen set (uapi bits: MTU 3, MAC 5, STATUS 16 where offered, CTRL_VQ 17,
    # VERSION_1 32, ACCESS_PLATFORM 33), so that the test knows its features from its own table. iproute2 6.1 has no
    # `dev add ... device_features`: New-VdpaDevice -Feature makes it (Devices.Tests.ps1 checks that it offers exactly those).
    $simOffers = ConvertTo-FeatureMask (Invoke-IpVdpa mgmtdev show vdpasim_net).mgmtdev['vdpasim_net'].dev_features
    $script:SimMask = (ConvertTo-FeatureMask 'MTU', 'MAC', 'CTRL_VQ', 'VERSION_1', 'ACCESS_PLATFORM') -bor ($simOffers -band ([uint64]1 -shl 16))
    New-VdpaDevice mig-sim vdpasim_net -MacAddress 02:00:00:00:a1:01 -Mtu 1400 -Feature ('0x{0:x}' -f $SimMask) -ErrorAction Stop | Out-Null
    # The PCI functions' devices offer their parent's own features, MAC and queue pairs (vp_vdpa sets nothing else).
    foreach ($parent in $Parents | Where-Object { $_ -like 'pci/*' }) { New-VdpaDevice $DeviceOn[$parent] $parent -ErrorAction Stop | Out-Null }

    $script:IpParents = (Invoke-IpVdpa mgmtdev show).mgmtdev
    $script:IpDevices = (Invoke-IpVdpa dev show).dev
    $script:IpConfigs = (Invoke-IpVdpa dev config show).config

    # What each driver sets at creation (its config_attr_mask in the kernel sources): vdpa_sim_net MAC, MTU and
    # features; vp_vdpa features only.
    function Get-Settable([string] $Parent) { if ($Parent -like 'pci/*') { @('Feature') } else { @('MacAddress', 'Mtu', 'Feature') } }

    # The features a device offers: those it was made with, or (made without) its parent's, as iproute2 lists them.
    function Get-IpDeviceMask([string] $Device) {
        if ($Device -eq 'mig-sim') { return $SimMask }
        return ConvertTo-FeatureMask $IpParents[$IpDevices[$Device].mgmtdev].dev_features
    }

    # The reasons the twin of $Device cannot be made on $Parent, from iproute2: one string each, the missing features as
    # one mask, sorted.
    function Get-ExpectedReasons([string] $Device, [string] $Parent) {
        $ip = $IpParents[$Parent]
        $src = Get-IpDeviceMask $Device
        $config = $IpConfigs[$Device]
        $reasons = @(
            if ('net' -notin $ip.supported_classes) { 'ClassMismatch' } else {
                $offered = ConvertTo-FeatureMask $ip.dev_features
                $missing = $src -band -bnot $offered
                if ($missing) { 'FeatureMissing=0x{0:x}' -f $missing }
                # Two virtqueues a pair and the control queue (CTRL_VQ, bit 17) against max_supported_vqs (0: no limit).
                $pairs = $config['max_vq_pairs'] ?? 1
                $needed = 2 * $pairs + [int](($src -band ([uint64]1 -shl 17)) -ne 0)
                if ($ip.max_supported_vqs -gt 0 -and $needed -gt $ip.max_supported_vqs) { 'QueuePairsAboveLimit' }
                # What the parent cannot set, its device has of itself: the device already on it shows it (iproute2).
                $both = $src -band $offered
                $settable = Get-Settable $Parent
                $own = $IpConfigs[$DeviceOn[$Parent]]
                $has = { param($bit) ($both -band ([uint64]1 -shl $bit)) -ne 0 }
                if ((& $has 5) -and 'MacAddress' -notin $settable) {
                    if ($null -eq $own['mac']) { 'Unknown:MacAddress' } elseif ($own['mac'] -ne $config['mac']) { 'AttributeDiffers:MacAddress' }
                }
                if ((& $has 3) -and 'Mtu' -notin $settable) {
                    if ($null -eq $own['mtu']) { 'Unknown:Mtu' } elseif ($own['mtu'] -ne $config['mtu']) { 'AttributeDiffers:Mtu' }
                }
                if ((& $has 22) -or (& $has 60)) {
                    if ($null -eq $own['max_vq_pairs']) { 'Unknown:MaxQueuePairs' } elseif ($own['max_vq_pairs'] -ne $pairs) { 'AttributeDiffers:MaxQueuePairs' }
                }
            }
            if ($IpDevices.Contains($Device)) { 'NameTaken' }
            if ($Parent -like 'pci/*' -and @($IpDevices.Values | Where-Object { $_.mgmtdev -eq $Parent }).Count -gt 0) { 'ParentOccupied' }
        )
        return @($reasons | Sort-Object)
    }

    # Names the module gives bits iproute2 6.1 prints as numbers (uapi virtio_net.h, virtio_config.h): qemu 11's
    # functions offer some of them.
    $script:BitsIproute2DoesNotName = @{ GSO = 6; NOTIF_CONFIG_DATA = 39; RING_RESET = 40; ADMIN_VQ = 41; DEVICE_STATS = 50
        VQ_NOTF_COAL = 52; NOTF_COAL = 53; GUEST_USO4 = 54; GUEST_USO6 = 55; HOST_USO = 56; GUEST_HDRLEN = 59 }

    # The module's reasons in the same shape (the missing features' names back to bits through the tests' tables).
    function Get-ShownReasons($Check) {
        $missing = [uint64]0
        $rest = foreach ($r in $Check.Reasons) {
            $kind = [VdpaPS.VdpaMigrationReasonKind]$r.Kind
            if ($kind -eq 'FeatureMissing') {
                $missing = $missing -bor (ConvertTo-FeatureMask @(if ($BitsIproute2DoesNotName.ContainsKey($r.Item)) { "$($BitsIproute2DoesNotName[$r.Item])" } else { $r.Item }))
            }
            elseif ($r.Item) { "${kind}:$($r.Item)" } else { "$kind" }
        }
        return @(@($rest) + @(if ($missing) { 'FeatureMissing=0x{0:x}' -f $missing }) | Sort-Object)
    }

    # What each device's twin on each parent should get, from iproute2's view at the start (computed once: the checks of
    # this host and of both remoting directions are held to the same lines).
    $script:ExpectedReasons = @{}
    foreach ($device in $Devices) { foreach ($parent in $Parents) { $ExpectedReasons["$device on $parent"] = Get-ExpectedReasons $device $parent } }

    # One line per device and parent (its verdict, reasons and hosts), the module's against iproute2's: compared as one
    # list, so a failure shows the pair that differs: one Should instead of five for each of the 25 pairs, which under
    # emulation cost more than the checks themselves.
    function Assert-Checks($Checks, $From, $To) {
        $expected = foreach ($device in $Devices) {
            foreach ($parent in $Parents) {
                $reasons = $ExpectedReasons["$device on $parent"]
                '{0} on {1}: CanCreateTwin={2} Reasons={3} From={4} To={5}' -f $device, $parent, ($reasons.Count -eq 0), ($reasons -join ','), $From, $To
            }
        }
        $shown = foreach ($check in $Checks) {
            '{0} on {1}: CanCreateTwin={2} Reasons={3} From={4} To={5}' -f $check.Name, $check.Parent, $check.CanCreateTwin,
                ((Get-ShownReasons $check) -join ','), $check.ComputerName, $check.DestinationComputerName
        }
        @($shown | Sort-Object) | Should -Be @($expected | Sort-Object)
    }
}

AfterAll {
    Remove-LabDevice "$P-*"
    # Without the cmdlets under test: the PF as the boot left it.
    [System.IO.File]::WriteAllText("/sys/bus/pci/devices/$Pf/sriov_numvfs", '0')
    [System.IO.File]::WriteAllText("/sys/bus/pci/devices/$Pf/sriov_drivers_autoprobe", '1')
}

Describe 'Test-VdpaMigration on this host' {
    It 'gives, for a device on each net parent against every parent, the reasons iproute2''s masks and limits give' {
        $checks = @(Get-VdpaDeviceConfig $Devices | Test-VdpaMigration -Parent $Parents -ErrorVariable e)
        $e | Should -HaveCount 0
        Assert-Checks $checks $null $null
        # What the lab's parents differ in shows: MQ of 00:10.0 missing on 00:11.0, the MAC a PCI function keeps.
        $p10on11 = $checks | Where-Object { $_.Name -eq 'mig-p10' -and $_.Parent -eq 'pci/0000:00:11.0' }
        "$($p10on11.Reasons)" | Should -Match 'FeatureMissing:MQ'
        "$(($checks | Where-Object { $_.Name -eq 'mig-sim' -and $_.Parent -eq $Vf }).Reasons)" | Should -Match 'AttributeDiffers:MacAddress'
    }

    It 'reads the configuration of a device of this host given by name or as a device' {
        $byDevice = @(Get-VdpaDevice mig-p10 | Test-VdpaMigration -Parent pci/0000:00:11.0)
        $byName = @(Test-VdpaMigration mig-p10 pci/0000:00:11.0)
        foreach ($check in $byDevice + $byName) { Get-ShownReasons $check | Should -Be $ExpectedReasons['mig-p10 on pci/0000:00:11.0'] }
    }
}

Describe 'Migration between two hosts (remoting)' {
    It 'tests devices of one host against parents of the other, deserialized both ways' {
        foreach ($way in @(@($A, $B), @($B, $A))) {
            $from, $to = $way
            $configs = Invoke-Command -Session $from { Get-VdpaDeviceConfig $using:Devices }
            $parents = Invoke-Command -Session $to { Get-VdpaParent $using:Parents }
            $configs[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaNetDeviceConfig'
            $parents[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaParent'
            Assert-Checks ($configs | Test-VdpaMigration -Parent $parents) $from.ComputerName $to.ComputerName
        }
        # A device listed there carries no configuration, and it is not here to be read: refused, naming what to pipe.
        Invoke-Command -Session $A { Get-VdpaDevice mig-sim } | Test-VdpaMigration -Parent vdpasim_net -ErrorVariable e -ErrorAction SilentlyContinue |
            Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaTwinSourceIncomplete,VdpaPS.Commands.TestVdpaMigrationCommand'
        $e[0].Exception.Message | Should -BeLike '*Get-VdpaDeviceConfig*'
    }

    It 'makes a compatible twin through the pipe on the other host, its features the source''s bit for bit' {
        $source = Invoke-Command -Session $A { Get-VdpaDeviceConfig mig-sim }
        Invoke-Command -Session $B { $using:source | New-VdpaDevice -Name mig-twin -Parent vdpasim_net -WhatIf } | Should -BeNullOrEmpty
        Get-LabDeviceNames | Should -Not -Contain 'mig-twin' -Because '-WhatIf creates nothing'
        $twin = Invoke-Command -Session $B { $using:source | New-VdpaDevice -Name mig-twin -Parent vdpasim_net } -ErrorVariable e
        $e | Should -HaveCount 0
        $twin.Name | Should -Be 'mig-twin'
        $ip = Invoke-IpVdpa dev config show mig-twin
        $ip.config['mig-twin'].mac | Should -Be '02:00:00:00:a1:01'
        $ip.config['mig-twin'].mtu | Should -Be 1400
        (Invoke-IpVdpa dev show mig-twin).dev['mig-twin'].mgmtdev | Should -Be 'vdpasim_net'
        # iproute2 6.1 prints no device features in `dev config show`: the read-back is the module's, against the mask
        # this test gave iproute2 for the source.
        (Get-VdpaDeviceConfig mig-twin).DeviceFeatureMask | Should -Be $SimMask
    }

    It 'refuses an incompatible twin before anything is sent, naming the reason' {
        $source = Invoke-Command -Session $A { Get-VdpaDeviceConfig mig-p10 }
        # The verbose stream as text, taken there: what was asked of the kernel.
        $verbose = Invoke-Command -Session $B { $using:source | New-VdpaDevice -Name mig-bad -Parent vdpasim_net -Verbose 4>&1 | ForEach-Object { "$_" } } `
            -ErrorVariable e -ErrorAction SilentlyContinue
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaTwinNotPossible,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $e[0].Exception.Message | Should -Match '\[FeatureMissing:MQ\]'
        $e[0].Exception.Message | Should -Match 'Nothing was sent'
        @($verbose | Where-Object { "$_" -match 'MGMTDEV_GET' }) | Should -Not -BeNullOrEmpty -Because 'the verbose stream came back'
        @($verbose | Where-Object { "$_" -match 'DEV_NEW' }) | Should -BeNullOrEmpty -Because 'no DEV_NEW was asked'
        Get-LabDeviceNames | Should -Not -Contain 'mig-bad'
    }
}
