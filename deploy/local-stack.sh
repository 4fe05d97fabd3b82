#!/usr/bin/env bash
# Starts the monitoring stack without Docker, from Debian's packages, on loopback only:
#   kimera serve (build/cli/kimera)  +  prometheus  +  prometheus-alertmanager
# with free ports, the repository's deploy/prometheus.yml, rules and alertmanager.yml.
# Ctrl-C (or SIGTERM) stops everything it started.
#
#   sudo apt-get install -y prometheus prometheus-alertmanager   # once
#   deploy/local-stack.sh                 # kimera + prometheus + alertmanager
#   deploy/local-stack.sh --no-kimera     # only the monitoring side; scrapes KIMERA_TARGET
#                                         # (default 127.0.0.1:${KIMERA_METRICS_PORT:-8080})
#
# Environment:
#   KIMERA_BIN      kimera binary (default build/cli/kimera)
#   KIMERA_ARGS     arguments after the binary (default: serve --config kimera.toml --workload 200)
#   KIMERA_TARGET   host:port to scrape with --no-kimera
#   STACK_DIR       working directory for configs, data and logs (default: a new temp dir, removed
#                   on exit unless KEEP_STACK_DIR=1)
# Grafana is not a Debian package: point any Grafana at the printed Prometheus URL and import
# grafana/dashboards/kimera-entropy.json (or use grafana/push_dashboard.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_KIMERA=1
for arg in "$@"; do
  case "$arg" in
    --no-kimera) RUN_KIMERA=0 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

need() { command -v "$1" >/dev/null 2>&1 || { echo "missing $1: apt-get install -y $2" >&2; exit 1; }; }
need prometheus prometheus
need prometheus-alertmanager prometheus-alertmanager
need python3 python3

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

if [[ -n "${STACK_DIR:-}" ]]; then
  mkdir -p "$STACK_DIR"
else
  STACK_DIR="$(mktemp -d -t kimera-stack.XXXXXX)"
fi
mkdir -p "$STACK_DIR/prometheus-data" "$STACK_DIR/alertmanager-data" "$STACK_DIR/rules" "$STACK_DIR/kimera-data"

PROM_PORT="$(free_port)"
AM_PORT="$(free_port)"
AM_CLUSTER_PORT="$(free_port)"
if [[ "$RUN_KIMERA" == 1 ]]; then
  KIMERA_PORT="$(free_port)"
  KIMERA_TARGET="127.0.0.1:$KIMERA_PORT"
else
  KIMERA_TARGET="${KIMERA_TARGET:-127.0.0.1:${KIMERA_METRICS_PORT:-8080}}"
fi

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping local stack"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${KEEP_STACK_DIR:-0}" != 1 && "$STACK_DIR" == /tmp/kimera-stack.* ]]; then
    rm -rf "$STACK_DIR"
  else
    echo "kept $STACK_DIR"
  fi
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# The repository's config with the ports rewritten; rules copied next to it so the relative
# rule_files paths resolve.
cp "$ROOT"/deploy/rules/*.yml "$STACK_DIR/rules/"
sed -e "s#127.0.0.1:8080#$KIMERA_TARGET#" \
    -e "s#127.0.0.1:9093#127.0.0.1:$AM_PORT#" \
    -e "s#127.0.0.1:9090#127.0.0.1:$PROM_PORT#" \
    "$ROOT/deploy/prometheus.yml" > "$STACK_DIR/prometheus.yml"
cp "$ROOT/deploy/alertmanager.yml" "$STACK_DIR/alertmanager.yml"

wait_http() {  # url seconds
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    if python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.25
  done
  return 1
}

if [[ "$RUN_KIMERA" == 1 ]]; then
  KIMERA_BIN="${KIMERA_BIN:-$ROOT/build/cli/kimera}"
  [[ -x "$KIMERA_BIN" ]] || { echo "no kimera binary at $KIMERA_BIN: meson setup build && meson compile -C build (or use --no-kimera)" >&2; exit 1; }
  read -r -a KARGS <<< "${KIMERA_ARGS:-serve --config $ROOT/kimera.toml --workload 200}"
  (cd "$STACK_DIR/kimera-data" && \
   KIMERA_METRICS_ENABLED=1 KIMERA_METRICS_PORT="$KIMERA_PORT" exec "$KIMERA_BIN" "${KARGS[@]}") \
     > "$STACK_DIR/kimera.log" 2>&1 &
  PIDS+=("$!")
  wait_http "http://$KIMERA_TARGET/metrics" 30 || { echo "kimera did not answer on $KIMERA_TARGET; log:" >&2; tail -20 "$STACK_DIR/kimera.log" >&2; exit 1; }
fi

prometheus \
  --config.file="$STACK_DIR/prometheus.yml" \
  --storage.tsdb.path="$STACK_DIR/prometheus-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" \
  --web.enable-lifecycle \
  > "$STACK_DIR/prometheus.log" 2>&1 &
PIDS+=("$!")

prometheus-alertmanager \
  --config.file="$STACK_DIR/alertmanager.yml" \
  --storage.path="$STACK_DIR/alertmanager-data" \
  --web.listen-address="127.0.0.1:$AM_PORT" \
  --cluster.listen-address="127.0.0.1:$AM_CLUSTER_PORT" \
  > "$STACK_DIR/alertmanager.log" 2>&1 &
PIDS+=("$!")

wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 30 || { echo "prometheus did not start; log:" >&2; tail -20 "$STACK_DIR/prometheus.log" >&2; exit 1; }
wait_http "http://127.0.0.1:$AM_PORT/-/ready" 30 || { echo "alertmanager did not start; log:" >&2; tail -20 "$STACK_DIR/alertmanager.log" >&2; exit 1; }

cat <<EOF
local stack up (logs and data in $STACK_DIR)
  kimera /metrics   http://$KIMERA_TARGET/metrics$([[ "$RUN_KIMERA" == 1 ]] || echo "   (not started here: --no-kimera)")
  prometheus        http://127.0.0.1:$PROM_PORT
  alertmanager      http://127.0.0.1:$AM_PORT
Ctrl-C stops everything.
EOF

# Exit (and clean up) when any started process dies, or wait for Ctrl-C.
while true; do
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited; see the logs in $STACK_DIR" >&2
      KEEP_STACK_DIR=1
      exit 1
    fi
  done
  sleep 1
done
