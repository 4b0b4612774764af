#!/usr/bin/env bash
# Load test: requests/s through `tollgate serve` against nginx `return 200` in the same run, on loopback.
# Needs nginx and wrk (apt-get install -y nginx-light wrk) and release builds:
#   cargo build --release -p tollgate --bins --example plain_http
# Bounded: each wrk run lasts DURATION seconds (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${DURATION:-10}"
connections="${CONNECTIONS:-32}"
work="$(mktemp -d)"
cleanup() { kill "${serve_pid:-}" "${plain_pid:-}" 2>/dev/null || true; nginx -s stop -c "$work/nginx.conf" -p "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/nginx.conf" <<CONF
worker_processes 1;
error_log $work/error.log;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:18080; location / { return 200 '{"ok":true}'; } }
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
TOLLGATE_LOG=warn target/release/tollgate serve --config "$work/gateway.yaml" --port 18081 > "$work/serve.out" &
serve_pid=$!
for _ in $(seq 1 50); do grep -q serving "$work/serve.out" 2>/dev/null && break; sleep 0.1; done

target/release/examples/plain_http 18082 &
plain_pid=$!
sleep 0.3

rps() { wrk -t1 -c"$connections" -d"${duration}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
base=$(rps http://127.0.0.1:18080/x)
plain=$(rps http://127.0.0.1:18082/x)
mock=$(rps http://127.0.0.1:18081/mock)
proxy=$(rps http://127.0.0.1:18081/proxy/x)
echo "nginx return 200:              ${base} req/s (baseline)"
echo "axum 200 (serve's HTTP stack): ${plain} req/s ($(python3 -c "print(f'{$plain/$base:.2f}')")x)"
echo "tollgate serve, mock route:    ${mock} req/s ($(python3 -c "print(f'{$mock/$base:.2f}')")x)"
echo "tollgate serve, HTTP to nginx: ${proxy} req/s ($(python3 -c "print(f'{$proxy/$base:.2f}')")x)"
