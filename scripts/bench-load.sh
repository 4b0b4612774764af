#!/usr/bin/env bash
# Load test on loopback: requests/s through `tollgate serve` against two nginx baselines measured in the same
# run, round after round (the machine is noisy; compare within a round):
#   - mock route against nginx `return 200`;
#   - HTTP integration (serve proxying to that nginx) against nginx proxying to it, with upstream keep-alive.
# Needs nginx and wrk (apt-get install -y nginx-light wrk) and release builds:
#   cargo build --release -p tollgate --bins --example plain_http
# BEFORE=/path/to/an/older/tollgate adds that build beside the current one, on the same routes, in every round.
# SERVE_WORKERS (default 1) sets serve's tokio worker threads (TOKIO_WORKER_THREADS): nginx runs one worker.
# Bounded: each wrk run lasts DURATION seconds (default 8), ROUNDS rounds (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${DURATION:-8}"
rounds="${ROUNDS:-3}"
connections="${CONNECTIONS:-32}"
workers="${SERVE_WORKERS:-1}"
before="${BEFORE:-}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  nginx -s stop -c "$work/nginx.conf" -p "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/nginx.conf" <<CONF
worker_processes 1;
error_log $work/error.log;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:18080; keepalive 32; }
  server { listen 127.0.0.1:18080; location / { return 200 '{"ok":true}'; } }
  server {
    listen 127.0.0.1:18083;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"

cat > "$work/gateway.yaml" <<YAML
stages:
  bench: { variables: { upstream: "127.0.0.1:18080" } }
routes:
  GET /mock:
    integration: { type: mock, statusCode: 200, headers: { content-type: application/json }, body: '{"ok":true}' }
  GET /proxy/{proxy+}:
    integration: { type: http, url: "http://\${stageVariables.upstream}/{proxy}" }
YAML

# serve BINARY PORT: starts a gateway and waits for its "serving" line. Access logs off, as nginx's are.
serve() {
  TOKIO_WORKER_THREADS="$workers" TOLLGATE_LOG=warn "$1" serve --config "$work/gateway.yaml" --port "$2" \
    --store "$work/store-$2.json" > "$work/serve-$2.out" &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q serving "$work/serve-$2.out" 2>/dev/null && return; sleep 0.1; done
  echo "serve on $2 did not start" >&2; exit 1
}
serve target/release/tollgate 18081
[ -n "$before" ] && serve "$before" 18085
target/release/examples/plain_http 18082 &
pids+=($!)
sleep 0.3

rps() { wrk -t1 -c"$connections" -d"${duration}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "serve: $workers tokio worker(s); wrk -t1 -c$connections -d${duration}s; $rounds rounds"
for round in $(seq 1 "$rounds"); do
  base=$(rps http://127.0.0.1:18080/x)
  plain=$(rps http://127.0.0.1:18082/x)
  mock=$(rps http://127.0.0.1:18081/mock)
  proxy_base=$(rps http://127.0.0.1:18083/x)
  proxy=$(rps http://127.0.0.1:18081/proxy/x)
  echo "round $round"
  echo "  nginx return 200:                ${base} req/s (baseline 1)"
  echo "  axum 200 (serve's HTTP stack):   ${plain} req/s ($(ratio "$plain" "$base")x)"
  echo "  tollgate serve, mock route:      ${mock} req/s ($(ratio "$mock" "$base")x)"
  if [ -n "$before" ]; then
    old_mock=$(rps http://127.0.0.1:18085/mock)
    echo "  BEFORE, mock route:              ${old_mock} req/s ($(ratio "$old_mock" "$base")x)"
  fi
  echo "  nginx proxy to nginx, keep-alive: ${proxy_base} req/s (baseline 2)"
  echo "  tollgate serve, HTTP to nginx:   ${proxy} req/s ($(ratio "$proxy" "$proxy_base")x)"
  if [ -n "$before" ]; then
    old_proxy=$(rps http://127.0.0.1:18085/proxy/x)
    echo "  BEFORE, HTTP to nginx:           ${old_proxy} req/s ($(ratio "$old_proxy" "$proxy_base")x)"
  fi
done
