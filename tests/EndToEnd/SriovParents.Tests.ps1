# End-to-end on SR-IOV virtual functions as vDPA parents: the lab's `sriov` module word (qemu 11, q35) gives two
# virtio-net physical functions, 0000:01:00.0 (3 VFs at most) and 0000:02:00.0 (1 VF), bound to virtio-pci with
# virtio_net loaded, and vp_vdpa loaded for the VFs. It runs in each kernel's test boot with the other files (-m
# vduse,sim,pci,ssh,sriov: qemu 11 and q35, pci's functions at their usual addresses).
# The blocks build on each other in order, as an operator would go: list, make VFs, create devices, refuse, remove.
Describe 'SR-IOV VFs as vDPA parents' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
        Import-VdpaModule
        $script:Pf1 = '0000:01:00.0'
        $script:Pf2 = '0000:02:00.0'
        $script:Vfs = '0000:01:00.1', '0000:01:00.2', '0000:01:00.3'
        # The lab loaded virtio_net for the PFs; a file before this one in the same boot may have removed it
        # (Disable-LabVirtioDriver): loading it binds the PFs' virtio devices again. vhost_vdpa, which a block loads, goes
        # in AfterAll unless the lab had it loaded, so later files see the boot as the lab made it.
        Invoke-LabModprobe virtio_net
        $script:HadVhostVdpa = Test-Path /sys/module/vhost_vdpa
        # The PCI parents there were before any VF (with -m pci, the lab's four functions): all a clean end may leave.
        $script:PciParentsBefore = @((Invoke-IpVdpa mgmtdev show).mgmtdev.Keys | Where-Object { $_ -like 'pci/*' } | Sort-Object)
        function Get-Sysfs([string] $Address, [string] $File) { (Get-Content "/sys/bus/pci/devices/$Address/$File" -Raw).Trim() }
        function Get-PciDriver([string] $Address) {
            $link = "/sys/bus/pci/devices/$Address/driver"
            if (Test-Path $link) { Split-Path -Leaf (Get-Item $link).LinkTarget }
        }
        # The PF's virtio device (virtioN below the function), which virtio_net drives.
        function Get-VirtioOf([string] $Address) { (Get-ChildItem "/sys/bus/pci/devices/$Address" -Directory -Filter 'virtio*' | Select-Object -First 1).Name }
        # A refused change to the second PF: the error's id, category and text, and the PF as it was (no VFs, autoprobe on).
        function Assert-Pf2Refused([string] $FullyQualifiedErrorId, [string] $Category, [string] $Message, [string] $Id, [string] $Expected, [string] $Like) {
            $FullyQualifiedErrorId | Should -Be "$Id,VdpaPS.Commands.SetVdpaPhysicalFunctionCommand"
            $Category | Should -Be $Expected
            $Message | Should -BeLike $Like
            Get-Sysfs $Pf2 sriov_numvfs | Should -Be '0'
            Get-Sysfs $Pf2 sriov_drivers_autoprobe | Should -Be '1'
        }
    }

    AfterAll {
        # Cleanup that does not go through the cmdlets under test.
        Remove-LabDevice 'sr-*'
        Remove-Item -Recurse -Force /etc/vdpaps-lab-sriov -ErrorAction Ignore
        foreach ($pf in $Pf1, $Pf2) {
            [System.IO.File]::WriteAllText("/sys/bus/pci/devices/$pf/sriov_numvfs", '0')
            [System.IO.File]::WriteAllText("/sys/bus/pci/devices/$pf/sriov_drivers_autoprobe", '1')
        }
        if (-not $HadVhostVdpa) { Remove-LabModule vhost_vdpa }
    }

    Context 'SR-IOV physical functions' {
        It 'are listed with their driver, netdev, NUMA node, VF counts and autoprobe, as sysfs has them' {
            $pfs = @(Get-VdpaPhysicalFunction)
            $pfs.PciAddress | Should -Be @($Pf1, $Pf2)
            foreach ($pf in $pfs) {
                $pf.Driver | Should -Be 'virtio-pci'
                $pf.NetworkInterface | Should -Be (Get-ChildItem "/sys/bus/pci/devices/$($pf.PciAddress)/$(Get-VirtioOf $pf.PciAddress)/net").Name
                $node = [int](Get-Sysfs $pf.PciAddress numa_node)
                $pf.NumaNode | Should -Be $(if ($node -ge 0) { $node } else { $null })
                $pf.TotalVfs | Should -Be ([int](Get-Sysfs $pf.PciAddress sriov_totalvfs))
                $pf.VfCount | Should -Be 0
                $pf.AutoProbe | Should -BeTrue
                $pf.VirtualFunctions | Should -BeNullOrEmpty
            }
            $pfs.TotalVfs | Should -Be @(3, 1)
            (Get-VdpaPhysicalFunction 01:00.0).PciAddress | Should -Be $Pf1
            Get-VdpaPhysicalFunction 0000:00:1f.0 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $e[0].FullyQualifiedErrorId | Should -Be 'VdpaPhysicalFunctionNotFound,VdpaPS.Commands.GetVdpaPhysicalFunctionCommand'
        }

        It 'complete from an address, and -VfDriver from the vDPA-capable drivers' {
            $line = 'Set-VdpaPhysicalFunction -Address 0000:0'
            (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Should -Be @($Pf1, $Pf2)
            $line = "Set-VdpaPhysicalFunction $Pf1 -VfCount 3 -VfDriver vp"
            (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Should -Be 'vp-vdpa'
        }

        It 'change nothing under -WhatIf' {
            Set-VdpaPhysicalFunction $Pf1 -VfCount 3 -VfDriver vp-vdpa -WhatIf
            Get-Sysfs $Pf1 sriov_numvfs | Should -Be '0'
        }

        It 'refuse a count over the total with the kernel''s ERANGE and the file named' {
            Set-VdpaPhysicalFunction $Pf2 -VfCount 2 -VfDriver vp-vdpa -ErrorVariable e -ErrorAction SilentlyContinue
            Assert-Pf2Refused $e[0].FullyQualifiedErrorId $e[0].CategoryInfo.Category $e[0].Exception.Message VdpaVfCountOutOfRange InvalidArgument "*/sys/bus/pci/devices/$Pf2/sriov_numvfs*ERANGE*"
        }

        It 'refuse a non-root operator with CAP_NET_ADMIN (PermissionDenied), naming the file the kernel refused' {
            # sysfs's SR-IOV files are root's (0644): the operator's write is refused at open, before anything changed.
            $asUser = Join-Path $PSScriptRoot '../KernelLab/as-user.sh'
            $module = Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1'
            $script = "Import-Module '$module'; Set-VdpaPhysicalFunction $Pf2 -VfCount 1 -VfDriver vp-vdpa -Confirm:`$false -ErrorVariable e -ErrorAction SilentlyContinue; " +
                "'RESULT ' + (@{ Uid = (& id -u); Id = `$e[0].FullyQualifiedErrorId; Category = `"`$(`$e[0].CategoryInfo.Category)`"; Message = `$e[0].Exception.Message } | ConvertTo-Json -Compress)"
            $output = & bash $asUser --cap net_admin pwsh -NoProfile -NonInteractive -c $script 2>&1
            $line = $output | Where-Object { "$_".StartsWith('RESULT ') } | Select-Object -Last 1
            if (-not $line) { throw "The operator's run printed no result: $($output -join "`n")" }
            $operator = "$line".Substring(7) | ConvertFrom-Json
            $operator.Uid | Should -Be '65534'
            $operator.Message | Should -Match 'EACCES|EPERM|Permission denied'
            Assert-Pf2Refused $operator.Id $operator.Category $operator.Message VdpaPermissionDenied PermissionDenied "*/sys/bus/pci/devices/$Pf2/*"
        }

        It 'refuse a PF whose driver is not ready (virtio_net unbound from it) with the kernel''s EBUSY' {
            $virtio = Get-VirtioOf $Pf2
            [System.IO.File]::WriteAllText('/sys/bus/virtio/drivers/virtio_net/unbind', $virtio)
            try {
                Set-VdpaPhysicalFunction $Pf2 -VfCount 1 -VfDriver vp-vdpa -ErrorVariable e -ErrorAction SilentlyContinue
            } finally {
                [System.IO.File]::WriteAllText('/sys/bus/virtio/drivers/virtio_net/bind', $virtio)
            }
            # Put back as it was: no VFs, autoprobe on.
            Assert-Pf2Refused $e[0].FullyQualifiedErrorId $e[0].CategoryInfo.Category $e[0].Exception.Message VdpaPhysicalFunctionNotReady ResourceBusy "*/sys/bus/pci/devices/$Pf2/sriov_numvfs*EBUSY*not ready*"
        }
    }

    Context 'VFs of 0000:01:00.0 as vDPA parents' {
        It 'are made from none and bound to vp-vdpa, each a parent, autoprobe put back' {
            $pf = Set-VdpaPhysicalFunction $Pf1 -VfCount 3 -VfDriver vp-vdpa -PassThru -ErrorAction Stop
            $pf.VfCount | Should -Be 3
            $pf.VirtualFunctions.PciAddress | Should -Be $Vfs
            foreach ($vf in $pf.VirtualFunctions) {
                Get-PciDriver $vf.PciAddress | Should -Be 'vp-vdpa'
                $vf.Driver | Should -Be 'vp-vdpa'
                $vf.IsParent | Should -BeTrue
                $vf.ParentName | Should -Be "pci/$($vf.PciAddress)"
            }
            Get-Sysfs $Pf1 sriov_drivers_autoprobe | Should -Be '1'
            (Invoke-IpVdpa mgmtdev show).mgmtdev.Keys | Should -Contain 'pci/0000:01:00.3'
        }

        It 'are parents that say their PCI driver and their PF' {
            $parent = Get-VdpaParent pci/0000:01:00.2
            $parent.PciDriver | Should -Be 'vp-vdpa'
            $parent.PhysicalFunction | Should -Be $Pf1
            # A PF's own listing: the PF is no vDPA parent.
            Get-VdpaParent $Pf1 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }

        It 'each take a device with -Driver vhost_vdpa, and the PF listing says which VF holds which' {
            Invoke-LabModprobe vhost_vdpa
            for ($i = 0; $i -lt 3; $i++) {
                $d = New-VdpaDevice "sr-$i" $Vfs[$i] -Driver vhost_vdpa -ErrorAction Stop
                $d.Driver | Should -Be 'vhost_vdpa'
            }
            $pf = Get-VdpaPhysicalFunction $Pf1
            $pf.DeviceCount | Should -Be 3
            for ($i = 0; $i -lt 3; $i++) { $pf.VirtualFunctions[$i].Devices | Should -Be "sr-$i" }
        }

        It 'are not taken to 0 while devices sit on them, each named, nor after one is removed' {
            Set-VdpaPhysicalFunction $Pf1 -VfCount 0 -ErrorVariable e -ErrorAction SilentlyContinue
            $e[0].FullyQualifiedErrorId | Should -Be 'VdpaPhysicalFunctionHasDevices,VdpaPS.Commands.SetVdpaPhysicalFunctionCommand'
            $e[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
            foreach ($n in 'sr-0', 'sr-1', 'sr-2') { $e[0].Exception.Message | Should -BeLike "*$n*" }
            Get-Sysfs $Pf1 sriov_numvfs | Should -Be '3'

            Remove-VdpaDevice sr-0 -Confirm:$false -ErrorAction Stop
            Set-VdpaPhysicalFunction $Pf1 -VfCount 0 -ErrorVariable e -ErrorAction SilentlyContinue
            $e[0].Exception.Message | Should -Not -BeLike '*sr-0*'
            $e[0].Exception.Message | Should -BeLike '*sr-1*sr-2*'
            Get-Sysfs $Pf1 sriov_numvfs | Should -Be '3'
        }

        It 'go to 0 with -Force once nothing uses the devices, which are removed' {
            Set-VdpaPhysicalFunction $Pf1 -VfCount 0 -Force -Confirm:$false -ErrorAction Stop
            Get-LabDeviceNames | Where-Object { $_ -like 'sr-*' } | Should -BeNullOrEmpty
            Get-Sysfs $Pf1 sriov_numvfs | Should -Be '0'
            (Get-VdpaPhysicalFunction $Pf1).VirtualFunctions | Should -BeNullOrEmpty
        }

        It 'change from one count to another through 0, and a bind that fails puts back what was' {
            Set-VdpaPhysicalFunction $Pf1 -VfCount 2 -VfDriver vp-vdpa -ErrorAction Stop
            Set-VdpaPhysicalFunction $Pf1 -VfCount 3 -VfDriver vp-vdpa -ErrorAction Stop
            Get-Sysfs $Pf1 sriov_numvfs | Should -Be '3'
            # pcieport is loaded (the root ports) and refuses an endpoint in its probe: the bind does not take.
            Set-VdpaPhysicalFunction $Pf1 -VfCount 1 -VfDriver pcieport -ErrorVariable e -ErrorAction SilentlyContinue
            $e[0].FullyQualifiedErrorId | Should -Be 'VdpaBindNotEffective,VdpaPS.Commands.SetVdpaPhysicalFunctionCommand'
            $e[0].Exception.Message | Should -BeLike '*put back as it was: 3 VFs, bound to vp-vdpa*'
            $pf = Get-VdpaPhysicalFunction $Pf1
            $pf.VfCount | Should -Be 3
            $pf.VirtualFunctions.Driver | Should -Be @('vp-vdpa', 'vp-vdpa', 'vp-vdpa')
            $pf.VirtualFunctions.IsParent | Should -Be @($true, $true, $true)
            Get-Sysfs $Pf1 sriov_drivers_autoprobe | Should -Be '1'
        }

        It 'with -Force, create the devices it removed again when the change then fails' {
            New-VdpaDevice sr-back "pci/$($Vfs[1])" -Driver vhost_vdpa -ErrorAction Stop | Out-Null
            $before = (Invoke-IpVdpa dev config show sr-back).config['sr-back'] | ConvertTo-Json -Compress
            # As above, pcieport refuses the VFs: the change fails after -Force removed sr-back, and is put back.
            Set-VdpaPhysicalFunction $Pf1 -VfCount 1 -VfDriver pcieport -Force -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
            $e | Should -HaveCount 1
            $e[0].FullyQualifiedErrorId | Should -Be 'VdpaBindNotEffective,VdpaPS.Commands.SetVdpaPhysicalFunctionCommand'
            $e[0].Exception.Message | Should -BeLike '*put back as it was: 3 VFs, bound to vp-vdpa*The vDPA devices -Force removed were created again: sr-back.'
            (Get-VdpaPhysicalFunction $Pf1).VirtualFunctions.Driver | Should -Be @('vp-vdpa', 'vp-vdpa', 'vp-vdpa')
            # The same device on the same VF: iproute2's configuration (MAC, MTU, features) as before, and its driver.
            $device = Get-VdpaDevice sr-back -ErrorAction Stop
            $device.Parent | Should -Be "pci/$($Vfs[1])"
            $device.Driver | Should -Be 'vhost_vdpa'
            (Invoke-IpVdpa dev config show sr-back).config['sr-back'] | ConvertTo-Json -Compress | Should -Be $before
        }

        It 'come from a configuration file in one Sync, with the device on the second VF; a second Sync changes nothing' {
            Get-VdpaPhysicalFunction | Set-VdpaPhysicalFunction -VfCount 0 -Force -ErrorAction Stop
            $dir = '/etc/vdpaps-lab-sriov'
            New-Item -ItemType Directory -Force $dir | Out-Null
            & chmod 755 $dir
            $script:File = Join-Path $dir 'sriov.json'
            Set-Content -LiteralPath $File -NoNewline -Value (@{
                    physicalFunctions = @(@{ address = $Pf1; vfCount = 3; vfDriver = 'vp-vdpa' })
                    devices = @(@{ name = 'sr-cfg'; parent = "pci/$($Vfs[1])"; driver = 'vhost_vdpa' })
                } | ConvertTo-Json -Depth 5)
            & chmod 644 $File
            @(Compare-VdpaConfiguration $File).Change | Should -Be @('PhysicalFunction', 'Create')

            Sync-VdpaConfiguration -Path $File -InformationVariable info -ErrorAction Stop
            "$info" | Should -Match '1 physical function\(s\) set, 1 created'
            (Get-VdpaDevice sr-cfg).Parent | Should -Be "pci/$($Vfs[1])"
            (Get-VdpaDevice sr-cfg).Driver | Should -Be 'vhost_vdpa'
            (Get-VdpaPhysicalFunction $Pf1).VirtualFunctions.Driver | Should -Be @('vp-vdpa', 'vp-vdpa', 'vp-vdpa')

            Sync-VdpaConfiguration -Path $File -InformationVariable again -ErrorAction Stop
            "$again" | Should -Match 'already matches the file; nothing was changed'
            Compare-VdpaConfiguration $File | Should -BeNullOrEmpty
        }

        It 'are exported with the devices, and a PF changed behind Compare''s back is reported' {
            $exported = @(Export-VdpaConfiguration)
            $exported[0] | Should -BeOfType ([VdpaPS.VdpaPhysicalFunctionDefinition])
            ($exported[0].PciAddress, $exported[0].VfCount, $exported[0].VfDriver) | Should -Be @($Pf1, 3, 'vp-vdpa')

            # The VFs go, and the device with its VF.
            [System.IO.File]::WriteAllText("/sys/bus/pci/devices/$Pf1/sriov_numvfs", '0')
            $diff = @(Compare-VdpaConfiguration $File)
            $pf = $diff | Where-Object Change -EQ 'PhysicalFunction'
            ($pf.Name, $pf.Attribute, $pf.Desired, $pf.Actual) | Should -Be @($Pf1, 'vfCount', '3', '0')
        }

        It 'leave nothing behind' {
            Get-VdpaPhysicalFunction | Set-VdpaPhysicalFunction -VfCount 0 -ErrorAction Stop
            foreach ($pf in Get-VdpaPhysicalFunction) {
                $pf.VfCount | Should -Be 0
                $pf.AutoProbe | Should -BeTrue
                Get-Sysfs $pf.PciAddress driver_override | Should -Be '(null)'
            }
            Get-LabDeviceNames | Where-Object { $_ -like 'sr-*' } | Should -BeNullOrEmpty
            @((Invoke-IpVdpa mgmtdev show).mgmtdev.Keys | Where-Object { $_ -like 'pci/*' } | Sort-Object) | Should -Be $PciParentsBefore
        }
    }
}
