#!/usr/bin/env bash
# Set up on first use, then run the test suite (arguments go to pytest, e.g. -k certs).
# The default suite leaves out the tests marked slow (bundle, container): `scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
export QT_QPA_PLATFORM=offscreen
if [ $# -eq 0 ]; then set -- -m "not slow"; fi
exec .venv/bin/python -m pytest "$@"
