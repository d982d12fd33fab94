#!/usr/bin/env bash
# The container tests (slow): build the image from Containerfile on a local Debian base and run
# it with podman, and deploy/kubernetes.yaml with podman kube play; also the window over VNC.
# Installs what they need first when root:
#   Debian: podman runc catatonit debootstrap iproute2 (and the test set-up of scripts/bootstrap.sh;
#           catatonit: podman builds the pods' infra image from it, with no registry)
#   PyPI:   vncdotool (the VNC client), when the test extra does not already bring it
#   scripts/container-test.sh            (extra arguments go to pytest, e.g. -k vnc)
# The tests skip, saying why, where podman cannot run (not root, no podman).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/bootstrap.sh test

ensure_debs "the container tests" podman runc catatonit debootstrap iproute2 \
  || echo "note: the container tests will be skipped" >&2
if ! .venv/bin/python -c 'import vncdotool' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check vncdotool
fi

export QT_QPA_PLATFORM=offscreen
start=$SECONDS
status=0
.venv/bin/python -m pytest -m slow -rs tests/test_container.py tests/test_vnc.py "$@" || status=$?
echo "container tests took $((SECONDS - start)) s" >&2
exit $status
