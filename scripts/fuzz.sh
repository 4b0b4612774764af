#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through cargo-fuzz) of every parser and decision an attacker can reach:
# the targets are in fuzz/fuzz_targets/, one per concern.
#
# cargo-fuzz normally wants a nightly toolchain, which this project cannot install. Stable Rust works with
# RUSTC_BOOTSTRAP=1 (for the -Z flags cargo-fuzz passes) and no sanitizer (-s none): coverage guidance still
# works, and in safe Rust what we hunt is panics, aborts, timeouts and runaway memory, which need none.
#
#   scripts/fuzz.sh                 the long campaign: RUNS executions per target (default 10,000,000)
#   scripts/fuzz.sh --smoke         CI: each target for SECONDS seconds (default 8) with a fixed seed
#   scripts/fuzz.sh event route     only these targets
#
# Seeds come from events/, the example and test definitions, and the fixtures; corpora grow in
# fuzz/corpus/<target> (not committed). A crash is saved in fuzz/artifacts/<target>/ and fails the script:
# make it a regression test. Bounded: every run has a count or a time limit, and each input a 10 s timeout.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
export CARGO_INCREMENTAL=0
if ! cargo fuzz --version 2>/dev/null | grep -q "0.13"; then
  cargo install cargo-fuzz --version 0.13.2 --locked --quiet
fi

smoke=false
targets=()
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=true ;;
    *) targets+=("$arg") ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  targets=(event route definition iam_policy lambda_reply coding templates)
fi

seed() {
  local target=$1 dir=corpus/$1
  mkdir -p "$dir"
  case "$target" in
    event) cp ../events/*.json "$dir"/ ;;
    definition)
      cp ../examples/hello/gateway.yaml "$dir/example.yaml"
      cp ../deploy/gateway.yaml "$dir/deploy.yaml"
      cp ../tests/fixtures/*.yaml "$dir"/
      ;;
    iam_policy | lambda_reply) cp ../events/authorizer-response-*.json "$dir"/ ;;
    route) printf '\x00/pets/42' >"$dir/pets"; printf '\x83/files/a%%2Fb/c' >"$dir/files" ;;
    coding) printf 'gzip;q=0.5, deflate' >"$dir/accept" ;;
    templates) printf '{"m":$context.error.messageString,"id":"${context.requestId}"}' >"$dir/template" ;;
  esac
}

cargo fuzz build -s none
for target in "${targets[@]}"; do
  seed "$target"
  if $smoke; then
    limit=(-max_total_time="${SECONDS_PER_TARGET:-8}" -seed=1)
  else
    limit=(-runs="${RUNS:-10000000}")
  fi
  # Compressed inputs are small: a bomb of a few KB already reaches the cap.
  max_len=65536
  if [ "$target" = coding ]; then max_len=4096; fi
  log=$(mktemp)
  if ! cargo fuzz run -s none "$target" "corpus/$target" -- "${limit[@]}" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target FAILED: see fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]* second' || true)
  echo "$target: $runs executions ${took:+$took(s) }- coverage $cov edges, $features features - no crash"
  rm -f "$log"
done
