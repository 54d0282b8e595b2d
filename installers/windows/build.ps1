# Windows installer: pyinstaller build.spec -> smoke test -> (optional signing) -> Inno Setup -> dist\*.exe
#   powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1
# Needs: Python 3.11 with the app installed (pip install -e ".[build]"), Inno Setup 6 (iscc.exe on PATH
# or in its default folder). Signing (optional): WINDOWS_CERT_PFX (path to a .pfx), WINDOWS_CERT_PASSWORD,
# WINDOWS_TIMESTAMP_URL (default http://timestamp.digicert.com); signtool.exe from the Windows SDK.
$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root
$Version = (& python -c "import re; print(re.search(r'__version__\s*=\s*[\x22\x27]([^\x22\x27]+)', open('wildlife_desktop/__init__.py').read()).group(1))").Trim()
if ($LASTEXITCODE -ne 0 -or -not $Version) { throw "cannot read the version" }
$Dist = Join-Path $Root "dist"
$App = Join-Path $Dist "WildlifeDesktop"
Write-Host "== Wildlife Desktop $Version"

$sw = [Diagnostics.Stopwatch]::StartNew()
& pyinstaller --noconfirm --distpath $Dist --workpath (Join-Path $Root "build\pyinstaller") build.spec
if ($LASTEXITCODE -ne 0) { throw "pyinstaller failed" }
Write-Host ("pyinstaller: {0:N0} s" -f $sw.Elapsed.TotalSeconds)

Write-Host "== smoke test"
& "$App\wildlife-cli.exe" --version
if ($LASTEXITCODE -ne 0) { throw "wildlife-cli --version failed" }
& "$App\wildlife-cli.exe" self-test
if ($LASTEXITCODE -ne 0) { throw "self-test failed" }

function Sign-Files([string[]] $Files) {
    if (-not $env:WINDOWS_CERT_PFX) { return }
    $ts = if ($env:WINDOWS_TIMESTAMP_URL) { $env:WINDOWS_TIMESTAMP_URL } else { "http://timestamp.digicert.com" }
    & signtool.exe sign /f $env:WINDOWS_CERT_PFX /p $env:WINDOWS_CERT_PASSWORD /fd SHA256 /tr $ts /td SHA256 $Files
    if ($LASTEXITCODE -ne 0) { throw "signtool failed" }
}
if ($env:WINDOWS_CERT_PFX) {
    Write-Host "== signing executables"
    Sign-Files (Get-ChildItem $App -Filter *.exe | ForEach-Object FullName)
} else {
    Write-Host "WINDOWS_CERT_PFX not set: unsigned build (SmartScreen will warn on first start)"
}

$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $Iscc)) { throw "Inno Setup 6 (ISCC.exe) not found" }
& $Iscc "/DVERSION=$Version" "/DSOURCE_DIR=$App" "/DOUTPUT_DIR=$Dist" (Join-Path $PSScriptRoot "wildlife_desktop.iss")
if ($LASTEXITCODE -ne 0) { throw "iscc failed" }
$Setup = Join-Path $Dist "WildlifeDesktop-$Version-windows-x64-setup.exe"
Sign-Files @($Setup)

Write-Host "== installer smoke test (silent per-user install, self-test, uninstall)"
$Target = Join-Path $env:TEMP "wd-smoke-install"
& $Setup /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CURRENTUSER "/DIR=$Target" | Out-Null
& "$Target\wildlife-cli.exe" self-test
if ($LASTEXITCODE -ne 0) { throw "installed self-test failed" }
& "$Target\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES | Out-Null
Get-Item $Setup | Format-List Name, Length
