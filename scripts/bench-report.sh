#!/usr/bin/env bash
# Runs the criterion benches and prints each median beside its same-run baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p tollgate-core --bench pipeline -- --quiet >/dev/null
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
PY
