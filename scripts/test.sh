#!/usr/bin/env bash
# Builds (see setup.sh) and runs every test suite except the slow ones.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
meson test -C "${KIMERA_BUILD_DIR:-build}" --print-errorlogs --no-suite slow "$@"
