#!/usr/bin/env bash
# macOS disk image: pyinstaller build.spec -> WildlifeDesktop.app -> smoke test -> optional codesign
# + notarization (env-gated) -> hdiutil DMG -> smoke test of the mounted DMG.
#
#   installers/macos/build_dmg.sh
#
# Signing (all optional; unsigned if MACOS_SIGN_IDENTITY is unset):
#   MACOS_SIGN_IDENTITY   "Developer ID Application: Name (TEAMID)" (in the login/CI keychain)
#   MACOS_NOTARY_PROFILE  a `xcrun notarytool store-credentials` profile name; or instead
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   (app-specific password)
# Other env: DIST_DIR, BUILD_DIR, SKIP_PYINSTALLER=1, WILDLIFE_BUILD_LITE, WILDLIFE_BUNDLED_PACKS.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"  # ROOT, DIST_DIR, BUILD_DIR, VERSION, ARCH, run_pyinstaller, smoke_cli
APP="$DIST_DIR/WildlifeDesktop.app"
DMG="$DIST_DIR/WildlifeDesktop-$VERSION-macos-$ARCH.dmg"

# app.icns from the PNG (iconutil ships with macOS)
if [ ! -f resources/app.icns ]; then
  ICONSET="$BUILD_DIR/app.iconset"
  rm -rf "$ICONSET"; mkdir -p "$ICONSET"
  for s in 16 32 128 256 512; do
    sips -z $s $s resources/app.png --out "$ICONSET/icon_${s}x${s}.png" >/dev/null
    d=$((s * 2))
    if [ $d -le 512 ]; then sips -z $d $d resources/app.png --out "$ICONSET/icon_${s}x${s}@2x.png" >/dev/null; fi
  done
  cp resources/app.png "$ICONSET/icon_512x512@2x.png"
  iconutil -c icns "$ICONSET" -o resources/app.icns
fi

run_pyinstaller

echo "== smoke test (.app)"
smoke_cli "$APP/Contents/MacOS"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  echo "== codesign (hardened runtime)"
  # inside-out: every Mach-O first, then the executables, then the bundle
  find "$APP/Contents/MacOS" "$APP/Contents/Frameworks" -type f \( -name "*.so" -o -name "*.dylib" -o -perm -u+x \) -print0 |
    xargs -0 -n 20 codesign --force --timestamp --options runtime \
      --entitlements installers/macos/entitlements.plist --sign "$MACOS_SIGN_IDENTITY"
  codesign --force --timestamp --options runtime --entitlements installers/macos/entitlements.plist \
    --sign "$MACOS_SIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
else
  echo "MACOS_SIGN_IDENTITY not set: unsigned build (Gatekeeper: right-click > Open on first start)"
fi

echo "== DMG"
STAGE="$BUILD_DIR/dmg"
rm -rf "$STAGE" "$DMG"; mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "Wildlife Desktop $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
  if [ -n "${MACOS_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
  elif [ -n "${APPLE_ID:-}" ]; then
    xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
      --password "$APPLE_APP_PASSWORD" --wait
  fi
  if [ -n "${MACOS_NOTARY_PROFILE:-}${APPLE_ID:-}" ]; then
    xcrun stapler staple "$DMG"
  fi
fi

echo "== smoke test (mounted DMG)"
MNT="$(mktemp -d)"
hdiutil attach "$DMG" -nobrowse -readonly -mountpoint "$MNT" >/dev/null
trap 'hdiutil detach "$MNT" -quiet || true' EXIT
smoke_cli "$MNT/WildlifeDesktop.app/Contents/MacOS"
ls -l "$DMG"
