#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run the whole suite:
# lint, format, layer and no-cycle contracts, types on core/scene/phantom, and pytest (GUI
# tests under Xvfb).
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k loader`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in xvfb xauth libxcb-icccm4 libxcb-keysyms1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -c packaging/constraints.txt -e ".[test,bench]"

echo "== ruff"; .venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
echo "== import-linter"; .venv/bin/lint-imports
echo "== mypy (core, scene, phantom)"; .venv/bin/mypy

# Qt + VTK need a real X display (see ../shared/env-notes.md); offscreen breaks VTK widgets.
export QT_API=pyside6 QT_QPA_PLATFORM=xcb VTK_SMP_BACKEND_IN_USE=STDThread
unset PYVISTA_OFF_SCREEN VTK_DEFAULT_OPENGL_WINDOW
echo "== pytest"
# pytest exits 5 when no test was collected, so an empty run fails too.
exec xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python -m pytest "$@"
