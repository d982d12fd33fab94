#!/usr/bin/env bash
# The container tests (slow): build the image from Containerfile on a local Debian base and run
# it with podman; also the window over VNC. Installs what they need first when root:
#   Debian: podman runc debootstrap iproute2 (and the test set-up of scripts/bootstrap.sh)
#   PyPI:   vncdotool (the VNC client), when the test extra does not already bring it
#   scripts/container-test.sh            (extra arguments go to pytest, e.g. -k vnc)
# The tests skip, saying why, where podman cannot run (not root, no podman).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test

pkgs=(podman runc debootstrap iproute2)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "note: missing ${missing[*]}: the container tests will be skipped" >&2
  fi
fi
if ! .venv/bin/python -c 'import vncdotool' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check vncdotool
fi

export QT_QPA_PLATFORM=offscreen
start=$SECONDS
status=0
.venv/bin/python -m pytest -m slow -rs tests/test_container.py tests/test_vnc.py "$@" || status=$?
echo "container tests took $((SECONDS - start)) s" >&2
exit $status
