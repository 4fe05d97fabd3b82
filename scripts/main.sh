#!/usr/bin/env bash
# Builds (see setup.sh), imports the bundled sample identities into
# ./kimera-data, and prints each identity's entropy and effective tau.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
BUILD_DIR=${KIMERA_BUILD_DIR:-build}
KIMERA="$BUILD_DIR/cli/kimera"
DB=${KIMERA_DB:-./kimera-data}

"$KIMERA" --db "$DB" import samples/identities.jsonl
echo
"$KIMERA" --db "$DB" export | python3 scripts/entropy_table.py
