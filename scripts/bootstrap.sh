#!/usr/bin/env bash
# Set up everything a fresh clone needs, idempotently: Debian packages (as root; otherwise print
# the apt-get line), a virtual environment in .venv, and the Python dependencies.
#   scripts/bootstrap.sh app     what running the app needs
#   scripts/bootstrap.sh test    what the tests need (adds chromium, certutil, fonts, test extras)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
purpose="${1:-app}"

# Qt's libraries for the offscreen platform, plus the xcb ones a real window needs (docs/architecture.md, "Qt on a server").
qt_pkgs=(libgl1 libegl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0
         libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
         libxcb-xkb1 libxkbcommon-x11-0 fonts-dejavu-core)
# The tests also drive real browsers (Chromium, Firefox ESR) with a real NSS trust store, a real X
# server, h2load, real nginx and Caddy in front of the app, and (already on Debian's images, named
# so a slimmer machine gets them too) curl, iproute2 for network namespaces, e2fsprogs for chattr.
test_pkgs=(chromium firefox-esr libnss3-tools ca-certificates openssl xvfb xauth nghttp2-client nginx caddy
           curl iproute2 e2fsprogs zbar-tools)
pkgs=("${qt_pkgs[@]}")
[ "$purpose" = test ] && pkgs+=("${test_pkgs[@]}")

ensure_debs "$purpose" "${pkgs[@]}" || true

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is needed (found: $("$python" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get install -y -qq python3-venv >/dev/null && "$python" -m venv .venv
    else
      echo "error: cannot create a virtual environment: sudo apt-get install -y python3-venv" >&2
      exit 1
    fi
  fi
fi

extras=""
[ "$purpose" = test ] && extras="[test]"
stamp=".venv/.installed-$purpose"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing Python dependencies into .venv ..." >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -U pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
  echo "$want" > "$stamp"
fi
