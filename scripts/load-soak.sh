#!/usr/bin/env bash
# Soak load: `tollgate serve` under CONNECTIONS (default 1000) connections for DURATION seconds (default 60),
# each connection cycling through a mix of routes (mock, HTTP integration, metered with an API key and a quota,
# JWT-authorized against a loopback issuer). Fails on any error answer or transport error, and on resident memory
# that grows more than a fifth after the warm-up. The baseline, in the same run, is the same connections against
# the HTTP backend directly. Everything listens on loopback; the run is bounded by DURATION.
# Release builds: the gateway as users run it, and the load driver (tests/bin/load_mix.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${DURATION:-60}"
connections="${CONNECTIONS:-1000}"
# Both ends of every connection are on this machine: two descriptors each, and some headroom.
ulimit -n "$(( connections * 2 + 1024 ))"
cargo build --release -p tollgate --bin tollgate -p tollgate-tests --bin load-mix
target/release/load-mix target/release/tollgate "$duration" "$connections"
