#!/usr/bin/env bash
# Pushes grafana/dashboards/kimera-entropy.json to a running Grafana through its HTTP API
# (POST /api/dashboards/db, overwriting the dashboard with the same uid).
#
#   GRAFANA_URL=https://grafana.example.org GRAFANA_API_KEY=... grafana/push_dashboard.sh [FOLDER_UID]
#
# GRAFANA_API_KEY is a service-account token (or legacy API key) with Editor rights. It is passed
# to curl through a header file readable only by this user, so it never appears in the process
# list, in the output or in logs. Do not run this script with `bash -x`.
set -euo pipefail
set +x

: "${GRAFANA_URL:?set GRAFANA_URL, e.g. http://127.0.0.1:3000}"
: "${GRAFANA_API_KEY:?set GRAFANA_API_KEY (a Grafana service-account token)}"
FOLDER_UID="${1:-}"
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DASHBOARD="$DIR/dashboards/kimera-entropy.json"
command -v curl >/dev/null || { echo "missing curl: apt-get install -y curl" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
umask 077
AUTH_HEADER="Authorization: Bearer ${GRAFANA_API_KEY}"
printf '%s\n' "$AUTH_HEADER" > "$TMP/auth"   # curl reads headers from a file: key not in argv
unset AUTH_HEADER

python3 - "$DASHBOARD" "$FOLDER_UID" > "$TMP/payload.json" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1], encoding="utf-8"))
dash.pop("id", None)
payload = {"dashboard": dash, "overwrite": True,
           "message": "kimera: push_dashboard.sh"}
if sys.argv[2]:
    payload["folderUid"] = sys.argv[2]
json.dump(payload, sys.stdout)
PY

code="$(curl -sS -o "$TMP/response.json" -w '%{http_code}' \
  -X POST "${GRAFANA_URL%/}/api/dashboards/db" \
  -H @"$TMP/auth" \
  -H 'Content-Type: application/json' \
  --data-binary @"$TMP/payload.json")"

if [[ "$code" == 200 ]]; then
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("pushed: %s (version %s) %s" % (r.get("uid"), r.get("version"), sys.argv[2].rstrip("/") + r.get("url", "")))' \
    "$TMP/response.json" "$GRAFANA_URL"
else
  echo "Grafana answered HTTP $code:" >&2
  cat "$TMP/response.json" >&2; echo >&2
  exit 1
fi
