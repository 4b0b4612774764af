//! The admin API (what the `meter` function serves) against the embedded store in memory: any sequence of
//! requests (methods, paths, queries and JSON bodies), or any bytes as the Lambda event that carries one.
//! Nothing may panic; every answer is a status with a JSON body.
//!
//! Input: requests separated by NUL bytes, each `METHOD /path?query` on its first line and the body after it.
//! In paths and bodies `{key}` and `{plan}` stand for the last key and plan created (the store generates key
//! ids at random; a fixed plan `gold` and a key in it exist from the start, with some usage recorded). An input
//! that starts with `{` is one whole event for the function instead (Function URL / HTTP API 2.0 / REST 1.0).
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use tollgate_core::{
    admin::{
        Admin, NewKey, PlanInput,
        api::{AdminApi, AdminFunction},
    },
    clock::ManualClock,
    request::GatewayRequest,
    store::{QuotaCounter, Store, embedded::EmbeddedStore},
    usage::{Period, Quota},
};

/// 2023-11-14T22:13:20Z, the tests' instant: quota periods and usage days are fixed.
const NOW_MS: i64 = 1_700_000_000_000;
/// At most this many requests per input: enough for create, change, list, report, delete.
const MAX_REQUESTS: usize = 16;

struct Fixture {
    rt: tokio::runtime::Runtime,
    api: AdminApi,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        rt: tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"),
        api: AdminApi::new(),
    })
}

/// A fresh store per input (inputs must not see each other's keys): plan `gold` with a daily quota, and a key
/// in it that has used some of it over the last days. Returns the key's id.
async fn stocked(store: &EmbeddedStore) -> String {
    let admin = Admin::new(store, NOW_MS);
    let plan = PlanInput {
        id: Some("gold".into()),
        name: "Gold".into(),
        stages: vec!["prod".into()],
        quota: Some(Quota { limit: 1_000, period: Period::Day, offset: 10 }),
        max_connections: Some(2),
        ..PlanInput::default()
    };
    admin.create_plan(plan).await.expect("plan");
    let key = NewKey {
        name: "k".into(),
        value: Some("fuzz-key-value-0123456789abcdef".into()),
        plans: vec!["gold".into()],
        ..NewKey::default()
    };
    let (key, _) = admin.create_key(key).await.expect("key");
    let mut day = tollgate_core::usage::period::day_of(NOW_MS);
    for used in [7, 14, 21] {
        let counter = QuotaCounter { plan: "gold", key: &key.id, period_start: day };
        store.take_quota(counter, Some(1_000), used, day).await.expect("usage");
        day = day.pred_opt().expect("a day before");
    }
    key.id
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    if data.first() == Some(&b'{') {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let store = Arc::new(EmbeddedStore::in_memory());
        fx.rt.block_on(async {
            stocked(&store).await;
            let function = AdminFunction::new(store, Arc::new(ManualClock::at(NOW_MS * 1_000)));
            let _ = function.handle_json(text).await;
        });
        return;
    }
    let store = EmbeddedStore::in_memory();
    fx.rt.block_on(async {
        let mut key = stocked(&store).await;
        let mut plan = "gold".to_owned();
        for (n, request) in data.split(|b| *b == 0).take(MAX_REQUESTS).enumerate() {
            let (line, body) = match request.iter().position(|b| *b == b'\n') {
                Some(at) => (&request[..at], &request[at + 1..]),
                None => (request, &b""[..]),
            };
            let Ok(line) = std::str::from_utf8(line) else { continue };
            let (method, target) = line.split_once(' ').unwrap_or((line, "/"));
            let Ok(method) = http::Method::from_bytes(method.as_bytes()) else { continue };
            let target = target.replace("{key}", &key).replace("{plan}", &plan);
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let body = match std::str::from_utf8(body) {
                Ok(text) => text.replace("{key}", &key).replace("{plan}", &plan).into_bytes(),
                Err(_) => body.to_vec(),
            };
            let mut req = GatewayRequest::new(method, path);
            req.raw_query = query.to_owned();
            req.body = body.into();
            // Time moves a minute per request: rolled values' grace periods run out within an input.
            let now = NOW_MS + 60_000 * i64::try_from(n).unwrap_or(0);
            let response = fx.api.handle(&store, &req, now).await;
            assert!(response.status.as_u16() >= 200, "a status");
            let answer: serde_json::Value = serde_json::from_slice(&response.body).expect("the answer is JSON");
            if response.status == http::StatusCode::CREATED {
                if let Some(id) = answer["key"]["id"].as_str() {
                    key = id.to_owned();
                } else if let Some(id) = answer["id"].as_str() {
                    plan = id.to_owned();
                }
            }
        }
    });
});
