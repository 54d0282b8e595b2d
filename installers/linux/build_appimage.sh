#!/usr/bin/env bash
# Linux package: pyinstaller build.spec (onedir) -> smoke test -> AppDir -> AppImage
# (appimagetool, if found) or a .tar.gz of the onedir folder -> smoke test of the package.
#
#   installers/linux/build_appimage.sh
#
# Env: DIST_DIR / BUILD_DIR (default dist, build), SKIP_PYINSTALLER=1 (reuse DIST_DIR/WildlifeDesktop),
#      APPIMAGETOOL (path to appimagetool; else looked up on PATH), WILDLIFE_BUILD_LITE,
#      WILDLIFE_BUNDLED_PACKS (see installers/README.md), SMOKE_IMAGES (a folder for a GUI screenshot).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"  # ROOT, DIST_DIR, BUILD_DIR, VERSION, ARCH, run_pyinstaller, smoke_cli
APP="$DIST_DIR/WildlifeDesktop"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"

run_pyinstaller

echo "== smoke test (onedir)"
smoke_cli "$APP"
if [ -n "${SMOKE_IMAGES:-}" ]; then
  WILDLIFE_DESKTOP_HOME="$(mktemp -d)" "$APP/WildlifeDesktop" "$SMOKE_IMAGES" --screenshot "$BUILD_DIR/smoke-gui.png"
  test -s "$BUILD_DIR/smoke-gui.png"
fi
du -sh "$APP"

echo "== AppDir"
APPDIR="$BUILD_DIR/AppDir"
rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/lib" "$APPDIR/usr/bin" "$APPDIR/usr/share/applications" \
         "$APPDIR/usr/share/icons/hicolor/256x256/apps" "$APPDIR/usr/share/icons/hicolor/512x512/apps"
cp -a "$APP" "$APPDIR/usr/lib/wildlife-desktop"
ln -s ../lib/wildlife-desktop/WildlifeDesktop "$APPDIR/usr/bin/WildlifeDesktop"
ln -s ../lib/wildlife-desktop/wildlife-cli "$APPDIR/usr/bin/wildlife-cli"
install -m 755 installers/linux/AppRun "$APPDIR/AppRun"
install -m 644 installers/linux/wildlife-desktop.desktop "$APPDIR/wildlife-desktop.desktop"
install -m 644 installers/linux/wildlife-desktop.desktop "$APPDIR/usr/share/applications/wildlife-desktop.desktop"
install -m 644 resources/app.png "$APPDIR/wildlife-desktop.png"
mkdir -p "$APPDIR/usr/share/metainfo"
install -m 644 installers/linux/wildlife-desktop.metainfo.xml "$APPDIR/usr/share/metainfo/wildlife-desktop.appdata.xml"
install -m 644 resources/app-256.png "$APPDIR/usr/share/icons/hicolor/256x256/apps/wildlife-desktop.png"
install -m 644 resources/app.png "$APPDIR/usr/share/icons/hicolor/512x512/apps/wildlife-desktop.png"
ln -sf wildlife-desktop.png "$APPDIR/.DirIcon"

TOOL="${APPIMAGETOOL:-$(command -v appimagetool || true)}"
if [ -n "$TOOL" ]; then
  OUT="$DIST_DIR/WildlifeDesktop-$VERSION-$ARCH.AppImage"
  ARCH="$ARCH" "$TOOL" --no-appstream "$APPDIR" "$OUT"
  echo "== smoke test (AppImage)"
  "$OUT" --appimage-extract-and-run self-test
else
  OUT="$DIST_DIR/WildlifeDesktop-$VERSION-linux-$ARCH.tar.gz"
  echo "appimagetool not found (set APPIMAGETOOL): writing $OUT instead"
  tar -C "$BUILD_DIR" -czf "$OUT" --transform "s,^AppDir,WildlifeDesktop-$VERSION," AppDir
  echo "== smoke test (tar.gz, unpacked elsewhere)"
  tmp="$(mktemp -d)"
  tar -C "$tmp" -xzf "$OUT"
  "$tmp/WildlifeDesktop-$VERSION/AppRun" self-test
  rm -rf "$tmp"
fi
ls -l "$OUT"
