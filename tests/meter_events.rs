//! The meter function's handler, fed recorded Function URL events (IAM-authorized, as its URL is) in order:
//! create a plan, create a key in it, list keys, read usage, and the bad inputs.

use tollgate_core::{
    event::{self, GatewayEvent, GatewayEventResponse},
    store::embedded::EmbeddedStore,
    usage::admin_api::AdminApi,
};
use tollgate_tests::event_text;

/// What the meter Lambda does with one event (its `main` is this, plus the runtime).
async fn replay(api: &AdminApi, store: &EmbeddedStore, name: &str) -> (u16, serde_json::Value) {
    let event: GatewayEvent = serde_json::from_str(&event_text(name)).expect("a Function URL event");
    let origin = event.origin();
    let request = event.into_request();
    let response = api.handle(store, &request, 1_795_428_000_000).await;
    let rendered = serde_json::to_value(event::render(origin, response.clone())).expect("json");
    assert!(matches!(event::render(origin, response), GatewayEventResponse::Http(_)), "answered as a Function URL");
    let status = u16::try_from(rendered["statusCode"].as_u64().expect("status")).expect("u16");
    let body = serde_json::from_str(rendered["body"].as_str().expect("body")).expect("JSON body");
    (status, body)
}

#[tokio::test]
async fn admin_api_replays_recorded_events() {
    let api = AdminApi::new();
    let store = EmbeddedStore::in_memory();
    let (status, plan) = replay(&api, &store, "meter-create-plan.json").await;
    assert_eq!(status, 201, "{plan}");
    assert_eq!(plan["id"], "gold");
    assert_eq!(plan["quota"]["period"], "MONTH");

    let (status, created) = replay(&api, &store, "meter-create-key.json").await;
    assert_eq!(status, 201, "{created}");
    assert!(created["value"].as_str().expect("value").len() >= 40, "the value is shown once, at creation");
    assert_eq!(created["key"]["plans"], serde_json::json!(["gold"]));
    let key_id = created["key"]["id"].as_str().expect("id").to_owned();

    let (status, listed) = replay(&api, &store, "meter-list-keys.json").await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"][0]["id"], key_id.as_str());
    assert!(!listed.to_string().contains(created["value"].as_str().expect("value")), "values are never listed");

    let (status, usage) = replay(&api, &store, "meter-usage.json").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["usagePlanId"], "gold");
    assert_eq!(usage["values"][key_id.as_str()], serde_json::json!([[0, 10000], [0, 10000], [0, 10000]]));

    for (event, want) in [
        ("meter-bad-body.json", 400),
        ("meter-unknown-field.json", 400),
        ("meter-no-such-route.json", 404),
        ("meter-create-plan.json", 409),
    ] {
        let (status, body) = replay(&api, &store, event).await;
        assert_eq!(status, want, "{event}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{event}: API Gateway's error shape");
    }
}
