; Inno Setup script for Wildlife Desktop (Windows x64).
;   iscc /DVERSION=0.1.0 installers\windows\wildlife_desktop.iss
; Optional: /DSOURCE_DIR=<onedir folder> (default ..\..\dist\WildlifeDesktop), /DOUTPUT_DIR=<folder>.
; Installs per user by default (no admin needed at a field station); "for all users" on request.
; The AppId GUID is fixed forever: it is how upgrades and the uninstaller find earlier installs.

#ifndef VERSION
  #error Pass the version: iscc /DVERSION=x.y.z wildlife_desktop.iss
#endif
#ifndef SOURCE_DIR
  #define SOURCE_DIR "..\..\dist\WildlifeDesktop"
#endif
#ifndef OUTPUT_DIR
  #define OUTPUT_DIR "..\..\dist"
#endif

[Setup]
AppId={{E8F755F8-3241-4B11-961A-AB9644C1EA8B}
AppName=Wildlife Desktop
AppVersion={#VERSION}
AppVerName=Wildlife Desktop {#VERSION}
AppPublisher=Wildlife Desktop contributors
VersionInfoVersion={#VERSION}
DefaultDirName={autopf}\Wildlife Desktop
DefaultGroupName=Wildlife Desktop
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OUTPUT_DIR}
OutputBaseFilename=WildlifeDesktop-{#VERSION}-windows-x64-setup
SetupIconFile=..\..\resources\app.ico
UninstallDisplayIcon={app}\WildlifeDesktop.exe
UninstallDisplayName=Wildlife Desktop {#VERSION}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes
ChangesAssociations=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[InstallDelete]
; An upgrade must not leave the previous version's DLLs/modules behind (mixed-version crashes).
; User data never lives here (it is in %LOCALAPPDATA%\WildlifeDesktop, or data\ in portable copies).
Type: filesandordirs; Name: "{app}\_internal"
Type: files; Name: "{app}\*.exe"

[Files]
Source: "{#SOURCE_DIR}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Wildlife Desktop"; Filename: "{app}\WildlifeDesktop.exe"
Name: "{group}\Wildlife Desktop self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\wildlife-cli.exe"" self-test"
Name: "{group}\{cm:UninstallProgram,Wildlife Desktop}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Wildlife Desktop"; Filename: "{app}\WildlifeDesktop.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\WildlifeDesktop.exe"; Description: "{cm:LaunchProgram,Wildlife Desktop}"; Flags: nowait postinstall skipifsilent
