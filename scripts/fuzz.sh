#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through cargo-fuzz) of every parser and decision an attacker can reach:
# the targets are in fuzz/fuzz_targets/, one per concern.
#
# cargo-fuzz normally wants a nightly toolchain, which this project cannot install. Stable Rust works with
# RUSTC_BOOTSTRAP=1 (for the -Z flags cargo-fuzz passes) and no sanitizer (-s none): coverage guidance still
# works, and in safe Rust what we hunt is panics, aborts, timeouts and runaway memory, which need none.
#
#   scripts/fuzz.sh                 the long campaign: RUNS executions per target (default 10,000,000)
#   scripts/fuzz.sh --smoke         CI: each target for SECONDS_PER_TARGET seconds (default 6) with a fixed
#                                   seed, on a fresh corpus of the seeds alone (repeatable, whatever
#                                   fuzz/corpus holds)
#   scripts/fuzz.sh event route     only these targets
#
# Seeds come from events/, the example and test definitions, and the fixtures; corpora grow in
# fuzz/corpus/<target> (not committed). A crash is saved in fuzz/artifacts/<target>/ and fails the script:
# make it a regression test. Bounded: every run has a count or a time limit, and each input a 10 s timeout.
# No target reaches the network: functions, @connections, stores and JWT keys are all in process.
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
  targets=(event route definition iam_policy lambda_reply coding templates jwt websocket admin validation velocity openapi)
fi

# base64url without padding, of stdin.
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# The public halves of the JWT test keys as a JWKS (kids as the jwt target names them), from their PEM files.
test_jwks() {
  local keys=../tests/fixtures/keys ed x y n
  ed=$(openssl pkey -in $keys/ed25519.pem -pubout -outform DER | tail -c 32 | b64url)
  printf '{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"%s"}' "$ed"
  for curve in 256:32:P-256 384:48:P-384; do
    IFS=: read -r bits size name <<<"$curve"
    x=$(openssl pkey -in $keys/ec$bits.pem -pubout -outform DER | tail -c $((2 * size)) | head -c "$size" | b64url)
    y=$(openssl pkey -in $keys/ec$bits.pem -pubout -outform DER | tail -c "$size" | b64url)
    printf ',{"kty":"EC","crv":"%s","kid":"ec%s","alg":"ES%s","use":"sig","x":"%s","y":"%s"}' "$name" "$bits" "$bits" "$x" "$y"
  done
  n=$(openssl rsa -in $keys/rsa.pem -noout -modulus 2>/dev/null | cut -d= -f2 | xxd -r -p | b64url)
  printf ',{"kty":"RSA","kid":"rsa","e":"AQAB","n":"%s"},{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]}' "$n"
}

# Seeds for a target's corpus in $2; the control bytes in front are the target's (see its header comment).
seed() {
  local target=$1 dir=$2
  mkdir -p "$dir"
  case "$target" in
    event) cp ../events/*.json "$dir"/ ;;
    definition)
      cp ../examples/hello/gateway.yaml "$dir/example.yaml"
      cp ../deploy/gateway.yaml "$dir/deploy.yaml"
      cp ../tests/fixtures/*.yaml "$dir"/
      ;;
    openapi)
      cp ../tests/fixtures/openapi/*.yaml "$dir"/
      # The real definitions, when the corpus is beside the repository (a clone has none).
      if [ -d ../../shared/corpus/openapi ]; then cp ../../shared/corpus/openapi/0* "$dir"/; fi
      ;;
    iam_policy | lambda_reply) cp ../events/authorizer-response-*.json "$dir"/ ;;
    route) printf '\x00/pets/42' >"$dir/pets"; printf '\x83/files/a%%2Fb/c' >"$dir/files" ;;
    coding) printf 'gzip;q=0.5, deflate' >"$dir/accept" ;;
    templates) printf '{"m":$context.error.messageString,"id":"${context.requestId}"}' >"$dir/template" ;;
    velocity)
      # The first byte is the template's length in fours (padded with spaces); the rest is the body.
      local t n
      t="#set(\$root = \$input.path('\$'))#foreach(\$i in \$root.items)\$i.name#if(\$foreach.hasNext),#end#end"
      t+="\$util.escapeJavaScript(\$input.params('q'))\$input.json('\$.items[0]')"
      t+="#if(\$root.error)#set(\$context.responseOverride.status = 400)#end"
      n=$(( (${#t} + 3) / 4 ))
      {
        printf "\\x$(printf %02x "$n")"
        printf "%-$((n * 4))s" "$t"
        printf '%s' '{"items":[{"name":"a"},{"name":"b"}],"error":"x"}'
      } >"$dir/template"
      ;;
    jwt)
      local claims='{"iss":"https://issuer.example.com","aud":"api","sub":"user-1","exp":1700000600,"nbf":1699999990,"iat":1699999990,"scope":"pets:read pets:write"}'
      local header='{"alg":"EdDSA","kid":"ed","typ":"JWT"}'
      printf '\x12%s' "$claims" >"$dir/claims"
      printf '\x0e%s' "$claims" >"$dir/claims-rsa-kid"
      printf '\x2a{"iss":"https://issuer.example.com","aud":["web","x"],"exp":1700000000.5,"scp":["admin"]}' >"$dir/claims-list"
      printf '\x82{"iss":"https://issuer.example.com","client_id":"api","exp":1699999000}' >"$dir/claims-expired"
      printf '\x03%s\x00%s' "$header" "$claims" >"$dir/header"
      printf '\x00Bearer %s.%s.c2ln' "$(printf '%s' "$header" | b64url)" "$(printf '%s' "$claims" | b64url)" >"$dir/token"
      # What API Gateway hands on as a JWT's claims (the recorded HTTP API events).
      for event in ../events/http-api-path-with-space.json ../events/http-api-stage-in-path.json; do
        command -v jq >/dev/null || break
        printf '\x02%s' "$(jq -c .requestContext.authorizer.jwt.claims "$event")" >"$dir/event-$(basename "$event")"
      done
      # The issuer's keys, checked with a token under each (Ed25519, P-256, P-384, RSA).
      if command -v openssl >/dev/null; then
        local jwks
        jwks=$(test_jwks)
        for control in 01 05 09 0d; do printf "\x$control%s" "$jwks" >"$dir/jwks-$control"; done
      fi
      ;;
    websocket)
      for event in ../events/ws-*.json; do
        local name control
        name=$(basename "$event" .json)
        case "$name" in
          ws-connect*) control='\x24' ;;
          ws-disconnect) control='\x44' ;;
          *)
            control='\x05'
            if command -v jq >/dev/null; then { printf '\x00'; jq -j .body "$event"; } >"$dir/$name-body"; fi
            ;;
        esac
        { printf "$control"; cat "$event"; } >"$dir/$name"
      done
      # A handshake with the API key and the authorizer's token.
      command -v jq >/dev/null && { printf '\x26'; jq -c '.headers["x-api-key"] = "fuzz-key-value-0123456789abcdef"
        | .queryStringParameters = {"token": "t"}' ../events/ws-connect.json; } >"$dir/ws-connect-key"
      printf '\x00{"action":"publish","channel":"news","data":{"n":1}}' >"$dir/publish"
      printf '\x00{"action":"send","connectionId":"gone0001=","data":"hi"}' >"$dir/send"
      printf '\x01{"msg":{"kind":"ask"}}\x00{"statusCode":200,"body":"hi"}' >"$dir/lambda"
      printf '\x02{"action":"echo","data":"x"}' >"$dir/metered"
      printf '\x03$request.body.type.name\n{"type":{"name":"shout"},"channel":"news","data":"x"}' >"$dir/expression"
      ;;
    admin)
      cp ../events/meter-*.json "$dir"/
      printf 'POST /keys\n{"name":"a","tags":{"team":"pets"},"plans":["{plan}"]}\x00PATCH /keys/{key}\n{"expiresAtMs":null,"enabled":false}\x00POST /keys/{key}/roll\n{"graceSeconds":60}\x00GET /keys?limit=1' >"$dir/keys"
      printf 'POST /plans\n{"id":"p1","name":"P","stages":["prod","dev"],"throttle":{"rateLimit":10,"burstLimit":5},"routeThrottles":{"GET /pets":{"rateLimit":1,"burstLimit":1}},"quota":{"limit":100,"period":"WEEK","offset":5}}\x00PUT /plans/{plan}/keys/{key}\x00POST /plans/{plan}/keys/{key}/grant\n{"extra":5}\x00GET /plans/gold/usage?startDate=2023-11-10&endDate=2023-11-14&keyId={key}' >"$dir/plans"
      printf 'POST /stages/prod/cache/flush?tag=pets\x00DELETE /keys/{key}\x00DELETE /plans/gold' >"$dir/delete"
      # The ends of what a counter and the calendar hold (each once a panic: see docs/fuzzing.md).
      printf 'POST /plans/gold/keys/{key}/grant\n{"extra":18446744073709551615}\x00GET /plans/gold/usage?startDate=%%2B262142-12-31&endDate=%%2B262142-12-31' >"$dir/limits"
      printf 'POST /plans\n{"id":"w","name":"W","quota":{"limit":5,"period":"WEEK"}}\x00GET /plans/w/usage?startDate=-262143-01-01&endDate=-262143-01-01' >"$dir/first-week"
      ;;
    validation)
      local pet='{"name":"Rex","age":3,"tag":"good","tags":["a","bc"],"owner":{"email":"rex@example.com"},"kind":"dog","weight":2.5,"id":"0b6e8f4e-4a5c-4b8e-9f0e-2d1c3b4a5f6e"}'
      printf '\x18%s' "$pet" >"$dir/pet"
      printf '\x02{"name":"","age":-1,"tag":"Not A Tag","tags":["a","a"],"extra":true}' >"$dir/bad-pet"
      printf '\x0c[1,"x"]' >"$dir/any"
      printf '\x06' >"$dir/empty"
      printf '\x10%s' "$(printf '[%.0s' {1..70})" >"$dir/deep"
      printf '\x11{"type":"object","required":["a"],"properties":{"a":{"type":"string","pattern":"^a+$"},"b":{"$ref":"Pet"}}}\x00{"a":"aaa","b":%s}' "$pet" >"$dir/model"
      printf '\x19{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","items":{"$ref":"Tag"},"minContains":1,"contains":{"const":"ok"}}\x00["ok","NotOk"]' >"$dir/model-2020"
      # Bodies of recorded events.
      if command -v jq >/dev/null; then
        for event in ../events/function-url-json-body.json ../events/meter-create-plan.json; do
          { printf '\x10'; jq -j .body "$event"; } >"$dir/body-$(basename "$event")"
        done
      fi
      ;;
  esac
}

# Built once, then each target's binary runs as `cargo fuzz run` would run it, without rebuilding in between:
# a failed build fails here, before any target, and never passes for a crash.
if ! cargo fuzz build -s none; then
  echo "the fuzz targets do not build" >&2
  exit 1
fi
bin=target/$(rustc -vV | sed -n 's/^host: //p')/release
for target in "${targets[@]}"; do
  if $smoke; then
    corpus=$(mktemp -d)
    limit=(-max_total_time="${SECONDS_PER_TARGET:-6}" -seed=1)
  else
    corpus=corpus/$target
    limit=(-runs="${RUNS:-10000000}")
  fi
  seed "$target" "$corpus"
  # Compressed inputs are small: a bomb of a few KB already reaches the cap.
  max_len=65536
  if [ "$target" = coding ]; then max_len=4096; fi
  log=$(mktemp)
  mkdir -p "artifacts/$target"
  if ! "$bin/$target" -artifact_prefix="artifacts/$target/" "$corpus" "${limit[@]}" -max_len="$max_len" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
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
  if $smoke; then rm -rf "$corpus"; fi
done
