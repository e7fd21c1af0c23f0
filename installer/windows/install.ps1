# Registers efs as a Windows service ("EncFs") that runs `efs service --config <config>`.
#
# NOT RUNNABLE YET, and not tested: this project's build and test machines are Linux, and the
# Windows frontend (a WinFsp host over the same volume core) does not exist yet. WinFsp
# (https://winfsp.dev) must be installed first. Kept here so the service registration is
# designed alongside the Linux unit: same command line, same configuration format.
#
# usage (elevated PowerShell):  .\install.ps1 [-InstallDir C:\Program Files\EncFs] [-Uninstall] [-Purge]
param(
    [string]$InstallDir = "$env:ProgramFiles\EncFs",
    [string]$ConfigDir = "$env:ProgramData\EncFs",
    [switch]$Uninstall,
    [switch]$Purge
)
$ErrorActionPreference = 'Stop'

if ($Uninstall) {
    if (Get-Service -Name EncFs -ErrorAction SilentlyContinue) {
        Stop-Service -Name EncFs -ErrorAction SilentlyContinue
        sc.exe delete EncFs | Out-Null
    }
    Remove-Item -Recurse -Force $InstallDir -ErrorAction SilentlyContinue
    if ($Purge) {
        Write-Warning "-Purge removes $ConfigDir (configuration and platform keys): volumes whose keys are there become unreadable"
        Remove-Item -Recurse -Force $ConfigDir -ErrorAction SilentlyContinue
    } else {
        Write-Host "Kept $ConfigDir (configuration and keys); -Purge removes it"
    }
    return
}

if (-not (Test-Path "${env:ProgramFiles(x86)}\WinFsp")) { throw "WinFsp is required: install it from https://winfsp.dev first" }
$root = Resolve-Path "$PSScriptRoot\..\.."
dotnet publish "$root\src\EncFs.Cli" -c Release -r win-x64 --self-contained -p:PublishSingleFile=true -o $InstallDir
New-Item -ItemType Directory -Force -Path $ConfigDir | Out-Null
# Owner-only: SYSTEM and Administrators, no inheritance.
icacls $ConfigDir /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" | Out-Null
$config = Join-Path $ConfigDir 'service.json'
if (-not (Test-Path $config)) { Set-Content -Path $config -Value '{ "volumes": [ ] }' }
New-Service -Name EncFs -DisplayName 'EncFs encrypted volumes' -StartupType Automatic `
    -BinaryPathName "`"$InstallDir\efs.exe`" service --config `"$config`""
Write-Host "Installed. List volumes in $config, then: Start-Service EncFs"
