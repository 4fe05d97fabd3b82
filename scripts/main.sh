#!/usr/bin/env bash
# Builds (see setup.sh), then runs the main job: `kimera serve` on the embedded
# RocksDB in ./kimera-data with the sample config kimera.toml and a seeded
# workload of 200 operations per second. /metrics is at
# http://127.0.0.1:8080/metrics; Ctrl-C stops it cleanly (a restart resumes).
#
# Environment: KIMERA_BUILD_DIR (default build), KIMERA_WORKLOAD (ops/s, default
# 200), KIMERA_METRICS_PORT (overrides the config's port), KIMERA_DB (folder).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
BUILD_DIR=${KIMERA_BUILD_DIR:-build}
args=(--config kimera.toml)
if [[ -n ${KIMERA_DB:-} ]]; then
  args+=(--db "$KIMERA_DB")
fi

exec "$BUILD_DIR/cli/kimera" "${args[@]}" serve --workload "${KIMERA_WORKLOAD:-200}"
