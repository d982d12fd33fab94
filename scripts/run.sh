#!/usr/bin/env bash
# Set up on first use, then run Flask HTTPS Launcher: the window, or `serve` headless where there
# is no display. Arguments go to flask-launcher (e.g. scripts/run.sh serve --redirect-https).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh app
exec .venv/bin/flask-launcher "$@"
