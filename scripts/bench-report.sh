#!/usr/bin/env bash
# Runs the criterion benches and prints each median beside its same-run baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p tollgate-core --bench pipeline -- --quiet >/dev/null
# The browser bench prints compression ratios and reply sizes on stderr.
cargo bench -p tollgate-core --bench browser -- --quiet 2>&1 >/dev/null | grep -E "^(ratio|reply) "
cargo bench -p tollgate-core --bench openapi -- --quiet >/dev/null
python3 - <<'PY'
import json
def median_us(group, name):
    with open(f"target/criterion/{group}/{name}/new/estimates.json") as f:
        return json.load(f)["median"]["point_estimate"] / 1000
one, many = median_us("pipeline", "1-route"), median_us("pipeline", "500-routes")
base, full = median_us("event", "baseline-json-only"), median_us("event", "gateway-500-routes")
print(f"pipeline, 1 route:      {one:6.2f} us (baseline)")
print(f"pipeline, 500 routes:   {many:6.2f} us ({many / one:.2f}x)")
print(f"event JSON only:        {base:6.2f} us (baseline: what any Rust HTTP function pays)")
print(f"event through gateway:  {full:6.2f} us ({full / base:.2f}x)")
none = median_us("cors", "baseline-no-cors")
print(f"no CORS, simple request: {none:6.2f} us (baseline)")
for name in ["simple-request", "preflight"]:
    t = median_us("cors", name)
    print(f"CORS {name:18} {t:6.2f} us ({t / none:.2f}x)")
plain = median_us("reply", "baseline-plain")
print(f"100 KB JSON reply, plain: {plain:7.1f} us (baseline)")
gz = median_us("reply", "gzip")
print(f"100 KB JSON reply, gzip:  {gz:7.1f} us ({gz / plain:.2f}x)")
import os
for entry in sorted(os.listdir("target/criterion/codec")):
    if entry == "report":
        continue
    t = median_us("codec", entry)
    print(f"codec {entry:16} {t:7.1f} us ({t / plain:.2f}x the plain reply)")
parse = median_us("openapi", "parse")
print(f"OpenAPI fixture parsed:   {parse:7.1f} us (baseline)")
for name in ["import", "load", "export"]:
    t = median_us("openapi", name)
    print(f"OpenAPI {name:17} {t:7.1f} us ({t / parse:.2f}x)")
PY
