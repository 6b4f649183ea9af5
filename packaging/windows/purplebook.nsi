; Purplebook Windows installer (NSIS 3). Built by `make dist` through
; packaging/windows/build.sh, which passes:
;   -DVERSION=<git describe>  -DVERSION_NUM=<a.b.c.d>
;   -DBINARY=<purplebook.exe> -DOUTFILE=<setup.exe>
;   -DLICENSE=<LICENSE>       -DNOTICES=<THIRD_PARTY_NOTICES.md>
;                             installed as LICENSE.txt and THIRD_PARTY_NOTICES.txt
;   -DSIGN=<command>          optional: signs the uninstaller ("%1" = file)
;
; Installs purplebook.exe to Program Files\Purplebook, keeps the data in
; %ProgramData%\Purplebook (SYSTEM and Administrators only), registers and
; starts the Windows service "purplebook" with `purplebook.exe service
; install` + `service start`, adds a Start-menu shortcut to
; http://127.0.0.1:8420/ and shows how to finish the first-run setup.

!ifndef VERSION
  !error "pass -DVERSION=..."
!endif
!ifndef LICENSE
  !error "pass -DLICENSE=... and -DNOTICES=..."
!endif
!ifndef VERSION_NUM
  !define VERSION_NUM "0.0.0.0"
!endif
!ifndef OUTFILE
  !define OUTFILE "purplebook-${VERSION}-setup.exe"
!endif

!define PRODUCT "Purplebook"
!define URL "http://127.0.0.1:8420/"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Purplebook"
!define APP_KEY "Software\Purplebook"

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel admin
Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\Purplebook"
InstallDirRegKey HKLM "${APP_KEY}" "InstallDir"
BrandingText "${PRODUCT} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

!ifdef SIGN
  !uninstfinalize '${SIGN}'
!endif

VIProductVersion "${VERSION_NUM}"
VIFileVersion "${VERSION_NUM}"
VIAddVersionKey /LANG=1033 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "${PRODUCT} installer"
VIAddVersionKey /LANG=1033 "CompanyName" "${PRODUCT}"
VIAddVersionKey /LANG=1033 "LegalCopyright" "${PRODUCT} contributors. Apache License 2.0"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"
!include "FileFunc.nsh"

Var DataDir
Var Token
Var FinishText
Var Fresh

!define MUI_ICON "purplebook.ico"
!define MUI_UNICON "purplebook.ico"
!define MUI_ABORTWARNING

!define MUI_WELCOMEPAGE_TEXT "This installs ${PRODUCT} ${VERSION} as a Windows service that starts with Windows and serves the web app at ${URL} on this computer only.$\r$\n$\r$\nThe data stays in %ProgramData%\Purplebook, readable by administrators only."
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_TITLE "${PRODUCT} is running"
!define MUI_FINISHPAGE_TEXT "$FinishText"
!define MUI_FINISHPAGE_TEXT_LARGE
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "Open ${PRODUCT} in the browser"
!define MUI_FINISHPAGE_RUN_FUNCTION OpenBrowser
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${PRODUCT} needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  ; An upgrade keeps the data directory of the installed version.
  ReadRegStr $DataDir HKLM "${APP_KEY}" "DataDir"
  ${If} $DataDir == ""
    StrCpy $DataDir "$APPDATA\Purplebook" ; %ProgramData% with SetShellVarContext all
  ${EndIf}
FunctionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
  ReadRegStr $DataDir HKLM "${APP_KEY}" "DataDir"
  ${If} $DataDir == ""
    StrCpy $DataDir "$APPDATA\Purplebook"
  ${EndIf}
FunctionEnd

; Runs purplebook.exe with the given arguments, output into the details list.
; Leaves the exit code in $0.
!macro Purplebook ARGS
  DetailPrint `purplebook ${ARGS}`
  nsExec::ExecToLog '"$INSTDIR\purplebook.exe" ${ARGS}'
  Pop $0
!macroend

Section "Purplebook" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"

  ; Upgrade: stop the running service so its executable can be replaced.
  ${If} ${FileExists} "$INSTDIR\purplebook.exe"
    !insertmacro Purplebook "service stop"
  ${EndIf}

  File "/oname=purplebook.exe" "${BINARY}"
  File "/oname=LICENSE.txt" "${LICENSE}"
  File "/oname=THIRD_PARTY_NOTICES.txt" "${NOTICES}"
  Delete "$INSTDIR\NOTICES.txt" ; the notices of versions before the licence
  File "/oname=purplebook.ico" "purplebook.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; Data directory: SYSTEM and Administrators only (by SID, any language),
  ; inherited by the database, evidence, keys and the setup token.
  StrCpy $Fresh "1"
  ${If} ${FileExists} "$DataDir\purplebook.db"
    StrCpy $Fresh "0"
  ${EndIf}
  CreateDirectory "$DataDir"
  DetailPrint "Restricting $DataDir to SYSTEM and Administrators"
  nsExec::ExecToLog 'icacls "$DataDir" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F'
  Pop $0
  ; A token left by an earlier run would be stale once the service restarts.
  Delete "$DataDir\setup-token"

  ; Register the service once; an upgrade keeps its settings.
  nsExec::ExecToStack '"$INSTDIR\purplebook.exe" service status'
  Pop $0 ; exit code
  Pop $1 ; output, e.g. "purplebook (windows-service): not installed"
  DetailPrint "service status: $1"
  Push $1
  Push "not installed"
  Call StrContains
  Pop $2
  ${If} $2 == "1"
  ${OrIf} $0 != 0
    !insertmacro Purplebook 'service install --data-dir "$DataDir"'
    ${If} $0 != 0
      MessageBox MB_ICONEXCLAMATION "Registering the Purplebook service failed (see the details). You can retry from an Administrator terminal:$\r$\n$\"$INSTDIR\purplebook.exe$\" service install" /SD IDOK
    ${EndIf}
  ${EndIf}
  !insertmacro Purplebook "service start"

  ; Start menu: opens the local URL in the default browser.
  CreateShortCut "$SMPROGRAMS\Purplebook.lnk" "$WINDIR\explorer.exe" '"${URL}"' "$INSTDIR\purplebook.ico" 0 SW_SHOWNORMAL "" "Open Purplebook (${URL})"

  ; Add/Remove Programs.
  WriteRegStr HKLM "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${APP_KEY}" "DataDir" "$DataDir"
  WriteRegStr HKLM "${APP_KEY}" "Version" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PRODUCT}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\purplebook.ico"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "URLInfoAbout" "${URL}"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" "$0"

  Call ReadSetupToken
SectionEnd

; Waits for the service to write the first-run setup token (it does when no
; account exists yet) and composes the finish page.
Function ReadSetupToken
  StrCpy $Token ""
  StrCpy $R0 0
  ${If} $Fresh == "1"
    StrCpy $R1 40 ; 20 s for a first start (creates the database)
  ${Else}
    StrCpy $R1 10 ; 5 s after an upgrade (usually no token: setup was done)
  ${EndIf}
  ${Do}
    ${If} ${FileExists} "$DataDir\setup-token"
    ${OrIf} $R0 >= $R1
      ${ExitDo}
    ${EndIf}
    Sleep 500
    IntOp $R0 $R0 + 1
  ${Loop}
  ${If} ${FileExists} "$DataDir\setup-token"
    Sleep 200 ; the server writes it atomically, but give it a moment
    ClearErrors
    FileOpen $R2 "$DataDir\setup-token" r
    ${IfNot} ${Errors}
      FileRead $R2 $Token
      FileClose $R2
    ${EndIf}
    ; Strip the line end.
    ${Do}
      StrCpy $R3 $Token 1 -1
      ${If} $R3 == "$\n"
      ${OrIf} $R3 == "$\r"
      ${OrIf} $R3 == " "
        StrCpy $Token $Token -1
      ${Else}
        ${ExitDo}
      ${EndIf}
    ${Loop}
  ${EndIf}

  ${If} $Token != ""
    StrCpy $FinishText "Purplebook runs as a Windows service and starts with Windows. Start menu: Purplebook.$\r$\n$\r$\nFirst run: create the administrator account. Your browser opens the setup page with this one-time setup token filled in:$\r$\n$\r$\n    $Token$\r$\n$\r$\nThe token is valid until setup is done or the service restarts. Administrators can read the current one in$\r$\n$DataDir\setup-token"
  ${ElseIf} $Fresh == "1"
    StrCpy $FinishText "Purplebook runs as a Windows service and starts with Windows. Start menu: Purplebook.$\r$\n$\r$\nFirst run: open ${URL}setup and enter the one-time setup token. Administrators can read it in$\r$\n$DataDir\setup-token$\r$\n(for example: open Notepad as administrator and open that file).$\r$\n$\r$\nIf the page does not load, see Event Viewer > Windows Logs > Application, source purplebook."
  ${Else}
    StrCpy $FinishText "Purplebook ${VERSION} runs as a Windows service and starts with Windows. Start menu: Purplebook.$\r$\n$\r$\nYour data in $DataDir was kept; the database schema is upgraded at start."
  ${EndIf}
FunctionEnd

Function OpenBrowser
  ${If} $Token != ""
    ExecShell "open" "${URL}setup?token=$Token"
  ${Else}
    ExecShell "open" "${URL}"
  ${EndIf}
FunctionEnd

; StrContains: Push haystack, Push needle, Call; Pop "1" or "0".
; Changes no register.
Function StrContains
  Exch $R1 ; needle
  Exch
  Exch $R2 ; haystack
  Push $R3
  Push $R4
  Push $R5
  Push $R6
  StrLen $R3 $R1
  StrCpy $R4 0
  StrCpy $R5 "0"
  ${Do}
    StrCpy $R6 $R2 $R3 $R4
    ${If} $R6 == ""
      ${ExitDo}
    ${EndIf}
    ${If} $R6 == $R1
      StrCpy $R5 "1"
      ${ExitDo}
    ${EndIf}
    IntOp $R4 $R4 + 1
  ${Loop}
  StrCpy $R1 $R5 ; result
  Pop $R6
  Pop $R5
  Pop $R4
  Pop $R3
  Pop $R2
  Exch $R1 ; restore $R1, leave the result on the stack
FunctionEnd

Section "Uninstall"
  ; Stops the service when it runs, then removes it.
  DetailPrint "purplebook service uninstall"
  nsExec::ExecToLog '"$INSTDIR\purplebook.exe" service uninstall'
  Pop $0

  Delete "$SMPROGRAMS\Purplebook.lnk"
  Delete "$INSTDIR\purplebook.exe"
  Delete "$INSTDIR\LICENSE.txt"
  Delete "$INSTDIR\THIRD_PARTY_NOTICES.txt"
  Delete "$INSTDIR\NOTICES.txt" ; written by versions before the licence
  Delete "$INSTDIR\purplebook.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "${APP_KEY}"

  ${If} ${FileExists} "$DataDir\*.*"
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "Also delete the Purplebook data (database, evidence files, backups) in$\r$\n$DataDir ?$\r$\n$\r$\nChoose No to keep it for a later installation." /SD IDNO IDNO keep
      RMDir /r "$DataDir"
      DetailPrint "Deleted $DataDir"
      Goto done
    keep:
      DetailPrint "Kept $DataDir"
    done:
  ${EndIf}
SectionEnd
