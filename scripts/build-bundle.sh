#!/usr/bin/env bash
# Build the PyInstaller one-folder bundle: dist/flask-launcher/flask-launcher (see build.spec).
#   scripts/build-bundle.sh          (what `make bundle` runs)
# Sets up .venv first (scripts/bootstrap.sh app) and adds PyInstaller (the `bundle` extra).
# Prints the bundle's size and the build time on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh app
if ! .venv/bin/python -c 'import PyInstaller' 2>/dev/null; then
  echo "Installing PyInstaller into .venv (the bundle extra) ..." >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[bundle]"
fi
start=$SECONDS
.venv/bin/python -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build build.spec
took=$((SECONDS - start))
dist/flask-launcher/flask-launcher --version >/dev/null
size="$(du -sh dist/flask-launcher | cut -f1)"
echo "bundle: dist/flask-launcher/flask-launcher ($size) built in ${took} s"
