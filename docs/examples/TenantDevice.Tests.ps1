# The example runbook's test, without a vDPA kernel: VdpaPS's cmdlets are mocked where the runbook module calls them
# (Mock -ModuleName TenantDevice), and they return objects of VdpaPS's own types, built from hashtables, so the
# runbook's pipelines bind as they do against a kernel. build.ps1's host test run runs this file.
BeforeAll {
    # VdpaPS itself must be loaded (its types, and the cmdlets' parameters that the mocks copy); it needs no vDPA kernel
    # to load. The tests of this repository take the built module; elsewhere, Import-Module VdpaPS.
    if ($env:VDPAPS_MODULE_PATH) { Import-Module (Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1') -Force } else { Import-Module VdpaPS }
    Import-Module (Join-Path $PSScriptRoot 'TenantDevice.psm1') -Force

    function New-TestDevice([hashtable] $Property) {
        # A real VdpaPS.VdpaDevice, cast from a hashtable: Format-Table shows it with the module's view, and it binds by
        # its Name to -Name down a pipeline, as the kernel's would.
        $values = @{ Name = 'tenant7'; Parent = 'pci/0000:03:00.2'; Type = 'Net'; VirtioDeviceId = 1; MaxQueues = 3 }
        foreach ($key in $Property.Keys) { $values[$key] = $Property[$key] }
        [VdpaPS.VdpaDevice]$values
    }
}

Describe 'Confirm-TenantDevice' {
    BeforeEach {
        Mock -ModuleName TenantDevice Wait-VdpaDevice { New-TestDevice @{ Name = $Name; Driver = $Driver; VhostDevicePath = '/dev/vhost-vdpa-3' } }
        Mock -ModuleName TenantDevice New-VdpaDevice { New-TestDevice @{ Name = $Name[0]; Parent = $Parent; Driver = $Driver } }
        Mock -ModuleName TenantDevice Set-VdpaDevice { New-TestDevice @{ Name = $Name; Driver = $Driver } }
    }

    It 'creates a missing device bound to vhost_vdpa and gives its char device' {
        Mock -ModuleName TenantDevice Get-VdpaDevice {
            Write-Error -Message "No vDPA device named '$Name' was found." -ErrorId VdpaDeviceNotFound -Category ObjectNotFound -TargetObject "$Name"
        }

        Confirm-TenantDevice -Name tenant7 -Parent pci/0000:03:00.2 -MacAddress 02:00:00:00:07:01 | Should -Be '/dev/vhost-vdpa-3'

        Should -Invoke -ModuleName TenantDevice New-VdpaDevice -Times 1 -Exactly -ParameterFilter {
            $Name -eq 'tenant7' -and $Parent -eq 'pci/0000:03:00.2' -and $MacAddress -eq '02:00:00:00:07:01' -and $Driver -eq 'vhost_vdpa'
        }
        Should -Invoke -ModuleName TenantDevice Set-VdpaDevice -Times 0 -Exactly
    }

    It 'binds a device that is there but unbound, through the pipeline (by its Name)' {
        Mock -ModuleName TenantDevice Get-VdpaDevice { New-TestDevice @{ Driver = $null } }

        Confirm-TenantDevice -Name tenant7 -Parent pci/0000:03:00.2 -MacAddress 02:00:00:00:07:01 | Should -Be '/dev/vhost-vdpa-3'

        Should -Invoke -ModuleName TenantDevice Set-VdpaDevice -Times 1 -Exactly -ParameterFilter { $Name -eq 'tenant7' -and $Driver -eq 'vhost_vdpa' }
        Should -Invoke -ModuleName TenantDevice New-VdpaDevice -Times 0 -Exactly
        Should -Invoke -ModuleName TenantDevice Wait-VdpaDevice -Times 1 -Exactly -ParameterFilter { $Name -eq 'tenant7' }
    }

    It 'leaves a device bound to vhost_vdpa as it is' {
        Mock -ModuleName TenantDevice Get-VdpaDevice { New-TestDevice @{ Driver = 'vhost_vdpa'; VhostDevicePath = '/dev/vhost-vdpa-3' } }

        Confirm-TenantDevice -Name tenant7 -Parent pci/0000:03:00.2 -MacAddress 02:00:00:00:07:01 | Should -Be '/dev/vhost-vdpa-3'

        Should -Invoke -ModuleName TenantDevice New-VdpaDevice -Times 0 -Exactly
        Should -Invoke -ModuleName TenantDevice Set-VdpaDevice -Times 0 -Exactly
    }

    It 'changes nothing under -WhatIf' {
        Mock -ModuleName TenantDevice Get-VdpaDevice { New-TestDevice @{ Driver = 'virtio_vdpa' } }

        Confirm-TenantDevice -Name tenant7 -Parent pci/0000:03:00.2 -MacAddress 02:00:00:00:07:01 -WhatIf | Should -BeNullOrEmpty

        Should -Invoke -ModuleName TenantDevice Set-VdpaDevice -Times 0 -Exactly
    }

    It 'stops on any error other than a missing device, and creates nothing' {
        Mock -ModuleName TenantDevice Get-VdpaDevice {
            Write-Error -Message "The kernel's vDPA support is not loaded." -ErrorId VdpaModuleNotLoaded -Category NotInstalled
        }

        { Confirm-TenantDevice -Name tenant7 -Parent pci/0000:03:00.2 -MacAddress 02:00:00:00:07:01 } | Should -Throw -ErrorId 'VdpaModuleNotLoaded*'

        Should -Invoke -ModuleName TenantDevice New-VdpaDevice -Times 0 -Exactly
    }

    It 'gives the mocks VdpaPS''s own objects, which its views format' {
        $device = New-TestDevice @{ Driver = 'vhost_vdpa'; VhostDevicePath = '/dev/vhost-vdpa-3' }
        $device | Should -BeOfType [VdpaPS.VdpaDevice]
        ($device | Format-Table | Out-String) | Should -Match 'HostDevice'
    }
}
