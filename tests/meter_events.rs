//! The meter function's handler, fed recorded Function URL events (IAM-authorized, as its URL is) in order:
//! create a plan, create a key in it, list keys, read usage, and the bad inputs.

use std::sync::Arc;

use tollgate_core::{
    admin::api::AdminFunction,
    clock::{MICROS_PER_SEC, ManualClock},
    event::{GatewayEvent, GatewayEventResponse},
    store::embedded::EmbeddedStore,
};
use tollgate_tests::event_text;

/// What the meter Lambda does with one event: its handler, over an embedded store, at 2026-11-23 10:00 UTC.
async fn replay(function: &AdminFunction, name: &str) -> (u16, serde_json::Value) {
    let event: GatewayEvent = serde_json::from_str(&event_text(name)).expect("a Function URL event");
    let answer = function.handle(event).await;
    assert!(matches!(answer, GatewayEventResponse::Http(_)), "answered as a Function URL");
    let rendered = serde_json::to_value(answer).expect("json");
    let status = u16::try_from(rendered["statusCode"].as_u64().expect("status")).expect("u16");
    let body = serde_json::from_str(rendered["body"].as_str().expect("body")).expect("JSON body");
    (status, body)
}

#[tokio::test]
async fn admin_api_replays_recorded_events() {
    let clock = ManualClock::at(1_795_428_000 * MICROS_PER_SEC);
    let function = AdminFunction::new(Arc::new(EmbeddedStore::in_memory()), Arc::new(clock));
    let (status, plan) = replay(&function, "meter-create-plan.json").await;
    assert_eq!(status, 201, "{plan}");
    assert_eq!(plan["id"], "gold");
    assert_eq!(plan["quota"]["period"], "MONTH");

    let (status, created) = replay(&function, "meter-create-key.json").await;
    assert_eq!(status, 201, "{created}");
    assert!(created["value"].as_str().expect("value").len() >= 40, "the value is shown once, at creation");
    assert_eq!(created["key"]["plans"], serde_json::json!(["gold"]));
    let key_id = created["key"]["id"].as_str().expect("id").to_owned();

    let (status, listed) = replay(&function, "meter-list-keys.json").await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"][0]["id"], key_id.as_str());
    assert!(!listed.to_string().contains(created["value"].as_str().expect("value")), "values are never listed");

    let (status, usage) = replay(&function, "meter-usage.json").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["usagePlanId"], "gold");
    assert_eq!(usage["values"][key_id.as_str()], serde_json::json!([[0, 10000], [0, 10000], [0, 10000]]));

    for (event, want) in [
        ("meter-bad-body.json", 400),
        ("meter-unknown-field.json", 400),
        ("meter-no-such-route.json", 404),
        ("meter-create-plan.json", 409),
    ] {
        let (status, body) = replay(&function, event).await;
        assert_eq!(status, want, "{event}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{event}: API Gateway's error shape");
    }
}
