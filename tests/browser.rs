//! CORS and compression as a real browser sees them: headless Chromium (Debian's package) loads a page from one
//! origin, and the page's script calls `tollgate serve` on another port. The browser's own CORS enforcement
//! decides what the script may read; the page writes what it saw into the DOM, and the test reads it with
//! `--dump-dom`.
//!
//! Chromium is looked for at `TOLLGATE_CHROMIUM`, else `/usr/bin/chromium`. Without it the test says so and
//! passes, unless `TOLLGATE_REQUIRE_BROWSER` is set (CI sets it, after installing Chromium).

use axum::{Router, response::Html, routing::get};
use serde_json::{Value, json};
use tollgate_core::{
    clock::{Clock as _, SystemClock},
    usage::{Period, Quota},
};
use tollgate_tests::{
    chromium,
    client::new_key,
    issuer::{Issuer, SigningKey},
};

/// The page: each check runs in turn and records what the script could see.
const PAGE: &str = r#"<!doctype html>
<html><head><title>tollgate browser test</title></head>
<body><pre id="results">running</pre>
<script>
const gw = "__GATEWAY__";
const results = {};
async function check(name, run) {
  try { results[name] = await run(); } catch (e) { results[name] = "blocked: " + e.name; }
}
(async () => {
  await check("put", async () => {
    const r = await fetch(gw + "/items/7", {
      method: "PUT", credentials: "include",
      headers: { "Content-Type": "application/json", "X-Custom": "from-the-page" },
      body: JSON.stringify({ name: "rex" }),
    });
    const event = await r.json();
    return [r.status, JSON.parse(event.body).name, event.headers["x-custom"]].join(" ");
  });
  await check("jwt_missing", async () => {
    const r = await fetch(gw + "/me", { credentials: "include" });
    return r.status + " " + await r.text();
  });
  await check("jwt_valid", async () => {
    const r = await fetch(gw + "/me", { headers: { Authorization: "Bearer __TOKEN__" } });
    return r.status + " " + await r.text();
  });
  await check("quota", async () => {
    const seen = [];
    for (let i = 0; i < 2; i++) {
      const r = await fetch(gw + "/paid", { headers: { "X-Api-Key": "__KEY__" } });
      seen.push(r.status + " " + await r.text() + " remaining=" + r.headers.get("ratelimit-remaining"));
    }
    return seen.join(" | ");
  });
  await check("compressed", async () => {
    const url = gw + "/big";
    const r = await fetch(url);
    const pets = await r.json();
    const timing = performance.getEntriesByName(url)[0];
    return [r.status, pets.length, pets[99].name, timing.encodedBodySize < timing.decodedBodySize].join(" ");
  });
  await check("disallowed_origin", async () => {
    const r = await fetch(gw + "/private");
    return "read " + r.status;
  });
  document.getElementById("results").textContent = JSON.stringify(results);
})();
</script></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_reads_what_cors_allows_and_nothing_else() {
    let Some(chromium) = chromium() else { return };
    let key = SigningKey::load("rsa.pem", "rsa-1", jsonwebtoken::Algorithm::RS256);
    let issuer = Issuer::start(&[&key]).await;
    // The page's origin: its port must be known before the gateway's CORS names it.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let page_origin = format!("http://{}", listener.local_addr().expect("addr"));
    let pets: Vec<Value> = (0..100).map(|i| json!({ "id": i, "name": format!("pet {i}") })).collect();
    let yaml = format!(
        r#"
stages:
  test: {{}}
minimumCompressionSize: 512
cors:
  allowOrigins: ["{page_origin}"]
  allowMethods: [GET, PUT]
  allowHeaders: [content-type, x-custom, x-api-key, authorization]
  exposeHeaders: [ratelimit-remaining]
  allowCredentials: true
authorizers:
  users: {{ type: jwt, issuer: "{issuer}", audiences: [api] }}
routes:
  PUT /items/{{id}}:
    integration: {{ type: lambda, function: echo }}
  GET /me:
    authorizer: users
    integration: {{ type: mock, statusCode: 200, body: "hello user-1" }}
  GET /paid:
    apiKeyRequired: true
    integration: {{ type: mock, statusCode: 200, body: "paid" }}
  GET /big:
    integration:
      type: mock
      statusCode: 200
      headers: {{ content-type: application/json, timing-allow-origin: "*" }}
      body: '{pets}'
  GET /private:
    cors: {{ allowOrigins: ["https://other.example"] }}
    integration: {{ type: mock, statusCode: 200, body: "private" }}
local:
  functions:
    echo: {{ command: ["{echo}"] }}
"#,
        issuer = issuer.url,
        pets = Value::from(pets),
        echo = env!("CARGO_BIN_EXE_echo-function"),
    );
    let (server, dir) = tollgate_tests::serve_on(&yaml, None).await;
    let gateway = format!("http://{}", server.addr);
    let quota = Some(Quota { limit: 1, period: Period::Day, offset: 0 });
    let (_, api_key) = new_key(&dir.path().join("store.json"), "test", quota).await;
    let now = SystemClock.now_ms() / 1000;
    let token = key.sign(&json!({ "iss": issuer.url, "aud": "api", "sub": "user-1", "exp": now + 600, "iat": now }));
    let page = PAGE.replace("__GATEWAY__", &gateway).replace("__TOKEN__", &token).replace("__KEY__", &api_key);
    let app = Router::new().route("/", get(move || std::future::ready(Html(page.clone()))));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // Virtual time runs the page until it is idle (pending fetches hold it), up to this budget.
    let args = ["--disable-quic", "--virtual-time-budget=30000", "--dump-dom"];
    let output = tollgate_tests::headless(&chromium, &format!("{page_origin}/"), &args).await;
    let dom = String::from_utf8_lossy(&output.stdout);
    let text = dom
        .split_once(r#"<pre id="results">"#)
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(inside, _)| {
            inside.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        })
        .unwrap_or_else(|| panic!("no results in the page: {dom}\n{}", String::from_utf8_lossy(&output.stderr)));
    let results: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the page did not finish ({e}): {text}"));
    assert_eq!(results["put"], "200 rex from-the-page", "a preflighted PUT with a custom header and credentials");
    assert_eq!(results["jwt_missing"], r#"401 {"message":"Unauthorized"}"#, "the 401 is readable");
    assert_eq!(results["jwt_valid"], "200 hello user-1");
    assert_eq!(
        results["quota"], r#"200 paid remaining=0 | 429 {"message":"Limit Exceeded"} remaining=0"#,
        "the 429 is readable, the exposed header too, and the preflights before it were not counted"
    );
    assert_eq!(results["compressed"], "200 100 pet 99 true", "compressed on the wire, decoded by the browser");
    assert_eq!(results["disallowed_origin"], "blocked: TypeError", "the browser hides what CORS does not allow");
    // The gateway did answer /private; it was the browser that refused the page a look.
    let direct = reqwest::Client::new()
        .get(format!("{gateway}/private"))
        .header("origin", &page_origin)
        .send()
        .await
        .expect("direct request");
    assert_eq!(direct.status(), 200);
    assert!(direct.headers().get("access-control-allow-origin").is_none());
}
