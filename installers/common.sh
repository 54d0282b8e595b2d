# Sourced by installers/linux/build_appimage.sh and installers/macos/build_dmg.sh (not run alone):
# the repository paths, the version, the PyInstaller step and the CLI smoke test they share.
# Env: DIST_DIR / BUILD_DIR (default dist, build), SKIP_PYINSTALLER=1 (reuse the last build).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIST_DIR="${DIST_DIR:-$ROOT/dist}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
VERSION="$("$PYTHON" -c 'import re; print(re.search(r"__version__\s*=\s*\"([^\"]+)\"", open("wildlife_desktop/__init__.py").read()).group(1))')"
ARCH="$(uname -m)"

# pyinstaller build.spec into DIST_DIR, timed (skipped with SKIP_PYINSTALLER=1).
run_pyinstaller() {
  if [ "${SKIP_PYINSTALLER:-0}" != "1" ]; then
    local start
    start=$(date +%s)
    pyinstaller --noconfirm --distpath "$DIST_DIR" --workpath "$BUILD_DIR/pyinstaller" build.spec
    echo "pyinstaller: $(( $(date +%s) - start )) s"
  fi
}

# The frozen CLI in folder $1 reports its version and passes its self-test.
smoke_cli() {
  "$1/wildlife-cli" --version
  "$1/wildlife-cli" self-test
}
