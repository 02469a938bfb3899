# The boot unit shipped with the module: systemd's own checker accepts it, and it runs the sync on the file the
# documentation names, after the parents' drivers load. (The lab test Configuration.Tests.ps1 runs its ExecStart.)
Describe 'The vdpaps-sync.service unit' {
    BeforeAll {
        $script:Unit = Join-Path $env:VDPAPS_MODULE_PATH 'vdpaps-sync.service'
        $script:Text = Get-Content -Raw $Unit
        function Get-UnitSetting([string] $Key) {
            @([regex]::Matches($Text, "(?m)^$Key=(.*)$") | ForEach-Object { $_.Groups[1].Value })
        }
    }

    It 'ships with the module' {
        $Unit | Should -Exist
    }

    It 'passes systemd-analyze verify' {
        # build.ps1 installs systemd when the machine lacks it; without the checker this test fails rather than skips.
        Get-Command systemd-analyze -ErrorAction Ignore | Should -Not -BeNullOrEmpty -Because 'systemd-analyze checks the unit'
        # verify checks the unit by its file name: a copy in an empty folder, so nothing else there is loaded.
        $dir = New-Item -ItemType Directory (Join-Path ([System.IO.Path]::GetTempPath()) "vdpaps-unit-$([guid]::NewGuid().ToString('n'))")
        try {
            Copy-Item $Unit $dir
            $output = & systemd-analyze verify (Join-Path $dir 'vdpaps-sync.service') 2>&1
            $LASTEXITCODE | Should -Be 0 -Because "systemd-analyze said: $output"
            @($output | Where-Object { "$_" -match 'vdpaps-sync' }) | Should -BeNullOrEmpty -Because 'the unit has no warning either'
        } finally {
            Remove-Item -Recurse -Force $dir
        }
    }

    It 'runs Sync-VdpaConfiguration on /etc/vdpaps/devices.json once, and fails when the sync does' {
        (Get-UnitSetting 'Type') | Should -Be 'oneshot'
        $exec = @(Get-UnitSetting 'ExecStart')
        $exec.Count | Should -Be 1
        $exec[0] | Should -Match 'Sync-VdpaConfiguration -Path /etc/vdpaps/devices\.json'
        $exec[0] | Should -Match 'exit \[int\]\(-not \$\$\?\)' -Because 'the exit status tells systemd (and the journal) whether every device converged'
        (Get-UnitSetting 'ConditionPathExists') | Should -Be '/etc/vdpaps/devices.json'
    }

    It 'starts after the parents'' drivers load, and is enabled for boot' {
        (Get-UnitSetting 'After') -join ' ' | Should -Match 'systemd-modules-load\.service'
        (Get-UnitSetting 'WantedBy') | Should -Be 'multi-user.target'
        (Get-UnitSetting 'StandardOutput') | Should -Be 'journal'
    }
}
