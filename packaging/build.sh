#!/usr/bin/env bash
# Build the AnnulusView desktop app (PyInstaller, one folder) and check it.
#
#   bash packaging/build.sh           build dist/AnnulusView/, run its --self-test with a clean
#                                     environment, write dist/AnnulusView-<version>-<os>-<arch>.tar.gz
#   bash packaging/build.sh --check   a few seconds, no build: fail when packaging/bundle.py and
#                                     the spec no longer match the package (the CI step)
#
# Linux and macOS; Windows runs the same spec with the steps in packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

if [ "${1:-}" = "--check" ]; then
  exec "$PY" packaging/check_bundle.py
fi
if [ $# -gt 0 ]; then
  echo "usage: bash packaging/build.sh [--check]" >&2
  exit 2
fi

[ -x "$PY" ] || { echo "build.sh: no venv at .venv (run bash tests/run.sh or make one)" >&2; exit 2; }
start=$(date +%s)
echo "== pinned PyInstaller into the venv"
"$PY" -m pip install -q -c packaging/constraints.txt pyinstaller pyinstaller-hooks-contrib altgraph

echo "== check the spec against the package"
"$PY" packaging/check_bundle.py

echo "== PyInstaller (one folder)"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/annulusview.spec
cp packaging/annulusview.desktop resources/icons/annulusview.png dist/AnnulusView/
build_s=$(( $(date +%s) - start ))

echo "== self-test of the frozen app (clean environment: no venv on PATH, no display)"
env -i PATH=/usr/bin:/bin HOME="$HOME" DISPLAY= dist/AnnulusView/AnnulusView --self-test

version=$("$PY" -c "import annulusview; print(annulusview.__version__)")
os_name=$(uname -s | tr '[:upper:]' '[:lower:]')
archive="dist/AnnulusView-${version}-${os_name}-$(uname -m).tar.gz"
echo "== archive"
tar -C dist -czf "$archive" AnnulusView
folder_mb=$(du -sm dist/AnnulusView | cut -f1)
archive_mb=$(du -sm "$archive" | cut -f1)
echo "build.sh: built dist/AnnulusView/ in ${build_s} s: ${folder_mb} MB unpacked, ${archive} ${archive_mb} MB"
