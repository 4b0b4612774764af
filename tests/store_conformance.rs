//! The same named tests against both stores: the embedded one, and DynamoDB (dynalite on loopback). A store
//! that passes these behaves the same to the meter, the admin API and the CLI.

use std::sync::Arc;

use chrono::NaiveDate;
use tollgate_core::{
    admin::{Admin, NewKey, PlanInput},
    store::{
        Cadence, DayTraffic, Kind, QuotaCounter, Slice, Store, StoreError, Traffic,
        cache::Generations,
        connections::{Connection, ConnectionStore},
        embedded::EmbeddedStore,
    },
    usage::{KeyHash, Period, Quota},
};
use tollgate_tests::{T0_SECS, dynalite};

async fn dynamo() -> Arc<dyn Store> {
    Arc::new(dynalite::shared().table().await)
}

fn embedded() -> Arc<dyn Store> {
    Arc::new(EmbeddedStore::in_memory())
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $( #[tokio::test] async fn $test() { super::$test(super::embedded()).await } )*
        }
        mod dynamodb {
            $( #[tokio::test] async fn $test() { super::$test(super::dynamo().await).await } )*
        }
    };
}

conformance!(
    key_values_are_unique_and_expire,
    records_are_versioned,
    listing_pages_in_id_order,
    throttle_slices_follow_gcra,
    quota_never_goes_below_zero,
    quota_counts_use_per_day_and_grants,
    unlimited_quota_only_counts,
    rolled_keys_keep_their_id_and_usage,
    one_plan_per_stage_per_key,
    cache_entries_expire_and_flushes_move_generations,
    traffic_adds_up_per_day_and_stage,
);

// ===== WebSocket connections =====

async fn dynamo_connections() -> Arc<dyn ConnectionStore> {
    Arc::new(dynalite::shared().table().await)
}

fn embedded_connections() -> Arc<dyn ConnectionStore> {
    Arc::new(EmbeddedStore::in_memory())
}

macro_rules! connections_conformance {
    ($($test:ident),* $(,)?) => {
        mod embedded_connections {
            $( #[tokio::test] async fn $test() { super::$test(super::embedded_connections()).await } )*
        }
        mod dynamodb_connections {
            $( #[tokio::test] async fn $test() { super::$test(super::dynamo_connections().await).await } )*
        }
    };
}

connections_conformance!(
    connections_are_recorded_once_and_leave_with_their_subscriptions,
    channel_members_page_in_id_order_per_stage,
    key_slots_cap_open_connections,
);

fn connection(id: &str, stage: &str) -> Connection {
    Connection {
        id: id.to_owned(),
        stage: stage.to_owned(),
        connected_at_ms: 1_700_000_000_000,
        source_ip: "192.0.2.7".to_owned(),
        user_agent: Some("test".to_owned()),
        key_id: Some("key1".to_owned()),
        key_hash: Some(KeyHash::of("a-key-value-abcdefghijklmnop")),
        authorizer: serde_json::json!({ "principalId": "u1", "tier": "gold" }).as_object().cloned(),
        identity_expires_at_ms: Some(1_700_000_600_000),
        expires_at_ms: 1_700_007_800_000,
    }
}

async fn connections_are_recorded_once_and_leave_with_their_subscriptions(store: Arc<dyn ConnectionStore>) {
    let c = connection("AbC123_-x=", "prod");
    store.put_connection(&c).await.expect("put");
    assert!(matches!(store.put_connection(&c).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_connection(&c.id).await.expect("get"), Some(c.clone()));
    store.subscribe(&c, "news").await.expect("subscribe");
    store.subscribe(&c, "news").await.expect("subscribing again is fine");
    store.subscribe(&c, "sport #1 / ünïcode").await.expect("subscribe");
    let mut channels = store.channels(&c.id).await.expect("channels");
    channels.sort();
    assert_eq!(channels, ["news", "sport #1 / ünïcode"]);
    assert!(store.unsubscribe(&c.id, "news").await.expect("unsubscribe"));
    assert!(!store.unsubscribe(&c.id, "news").await.expect("not subscribed any more"));
    assert_eq!(store.members("prod", Some("news"), 10, None).await.expect("members").items, Vec::<String>::new());
    assert_eq!(
        store.members("prod", Some("sport #1 / ünïcode"), 10, None).await.expect("members").items,
        std::slice::from_ref(&c.id)
    );

    assert_eq!(store.remove_connection(&c.id).await.expect("remove"), Some(c.clone()));
    assert_eq!(store.remove_connection(&c.id).await.expect("removing twice is fine"), None);
    assert_eq!(store.get_connection(&c.id).await.expect("get"), None);
    assert!(store.channels(&c.id).await.expect("channels").is_empty());
    assert!(store.members("prod", Some("sport #1 / ünïcode"), 10, None).await.expect("members").items.is_empty());
    assert!(store.members("prod", None, 10, None).await.expect("members").items.is_empty());
    // A subscribe that runs after the disconnect (out of order) leaves nothing behind.
    assert!(matches!(store.subscribe(&c, "late").await, Err(StoreError::NotFound(_))));
    assert!(store.members("prod", Some("late"), 10, None).await.expect("members").items.is_empty());
}

async fn channel_members_page_in_id_order_per_stage(store: Arc<dyn ConnectionStore>) {
    let mut ids: Vec<String> = (0..57).map(|n| format!("conn-{n:03}=")).collect();
    for id in &ids {
        let c = connection(id, "prod");
        store.put_connection(&c).await.expect("put");
        store.subscribe(&c, "room").await.expect("subscribe");
    }
    let other = connection("other-stage=", "dev");
    store.put_connection(&other).await.expect("put");
    store.subscribe(&other, "room").await.expect("subscribe");
    ids.sort();
    for channel in [Some("room"), None] {
        let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
        loop {
            let page = store.members("prod", channel, 20, after.as_deref()).await.expect("page");
            pages += 1;
            assert!(page.items.len() <= 20);
            seen.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ids, "{channel:?}: every member once, in order, this stage only");
        assert!((3..=4).contains(&pages), "{pages} pages");
    }
    assert_eq!(store.members("dev", Some("room"), 20, None).await.expect("dev").items, ["other-stage="]);
}

async fn key_slots_cap_open_connections(store: Arc<dyn ConnectionStore>) {
    assert!(store.claim_slot("key1", "c1", 2).await.expect("claim"));
    assert!(store.claim_slot("key1", "c2", 2).await.expect("claim"));
    assert!(!store.claim_slot("key1", "c3", 2).await.expect("full"));
    assert!(store.claim_slot("key1", "c2", 2).await.expect("a holder claiming again keeps its slot"));
    assert!(store.claim_slot("key2", "c3", 2).await.expect("keys are separate"));
    assert_eq!(store.slots("key1").await.expect("slots"), ["c1", "c2"]);
    store.release_slot("key1", "c1").await.expect("release");
    store.release_slot("key1", "c1").await.expect("releasing twice is fine");
    assert!(store.claim_slot("key1", "c3", 2).await.expect("a slot is free"));
    assert_eq!(store.slots("key1").await.expect("slots"), ["c2", "c3"]);
    assert!(store.slots("nobody").await.expect("slots").is_empty());
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

async fn key_values_are_unique_and_expire(store: Arc<dyn Store>) {
    let h = KeyHash::of("value-one-abcdefghijklmnop");
    store.insert_key_value(&h, "k1").await.expect("insert");
    assert!(matches!(store.insert_key_value(&h, "k2").await, Err(StoreError::Conflict(_))));
    assert_eq!(store.find_key_value(&h).await.expect("find"), Some(("k1".to_owned(), None)));
    store.expire_key_value(&h, 1_234).await.expect("expire");
    assert_eq!(store.find_key_value(&h).await.expect("find"), Some(("k1".to_owned(), Some(1_234))));
    store.delete_key_value(&h).await.expect("delete");
    store.delete_key_value(&h).await.expect("deleting twice is fine");
    assert_eq!(store.find_key_value(&h).await.expect("find"), None);
    assert!(matches!(store.expire_key_value(&h, 1).await, Err(StoreError::NotFound(_))));
}

async fn records_are_versioned(store: Arc<dyn Store>) {
    store.put_record(Kind::Plan, "p1", r#"{"v":1}"#, 1, None).await.expect("create");
    assert!(matches!(store.put_record(Kind::Plan, "p1", "{}", 1, None).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.put_record(Kind::Plan, "p1", "{}", 3, Some(2)).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.put_record(Kind::Plan, "nope", "{}", 2, Some(1)).await, Err(StoreError::Conflict(_))));
    store.put_record(Kind::Plan, "p1", r#"{"v":2}"#, 2, Some(1)).await.expect("update");
    assert_eq!(store.get_record(Kind::Plan, "p1").await.expect("get").as_deref(), Some(r#"{"v":2}"#));
    // Kinds are separate namespaces.
    assert_eq!(store.get_record(Kind::Key, "p1").await.expect("get"), None);
    store.delete_record(Kind::Plan, "p1").await.expect("delete");
    assert!(matches!(store.delete_record(Kind::Plan, "p1").await, Err(StoreError::NotFound(_))));
}

async fn listing_pages_in_id_order(store: Arc<dyn Store>) {
    for id in ["g", "a", "e", "c", "b", "f", "d"] {
        store.put_record(Kind::Key, id, &format!(r#""{id}""#), 1, None).await.expect("put");
    }
    store.put_record(Kind::Plan, "zz", "\"plan\"", 1, None).await.expect("put");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = store.list_records(Kind::Key, 3, after.as_deref()).await.expect("list");
        assert!(page.items.len() <= 3);
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = ["a", "b", "c", "d", "e", "f", "g"].iter().map(|id| format!(r#""{id}""#)).collect();
    assert_eq!(seen, expected);
}

async fn throttle_slices_follow_gcra(store: Arc<dyn Store>) {
    // 10 tokens/s (100 ms apart), burst 5 (tolerance 400 ms).
    let cadence = Cadence { interval_us: 100_000, tolerance_us: 400_000 };
    let t = 1_000_000_000;
    assert_eq!(store.take_slice("b", cadence, 3, t).await.expect("take"), Slice::Granted { start_us: t, count: 3 });
    // Two more fit within the burst; the third would not conform yet.
    assert_eq!(
        store.take_slice("b", cadence, 3, t).await.expect("take"),
        Slice::Granted { start_us: t + 300_000, count: 2 }
    );
    assert_eq!(store.take_slice("b", cadence, 1, t).await.expect("take"), Slice::Refused { retry_at_us: t + 100_000 });
    assert_eq!(
        store.take_slice("b", cadence, 1, t + 100_000).await.expect("take"),
        Slice::Granted { start_us: t + 500_000, count: 1 }
    );
    // Idle long enough, the bucket is full again and the slice starts now.
    let later = t + 10_000_000;
    assert_eq!(
        store.take_slice("b", cadence, 5, later).await.expect("take"),
        Slice::Granted { start_us: later, count: 5 }
    );
    // Buckets are independent.
    assert_eq!(store.take_slice("other", cadence, 1, t).await.expect("take"), Slice::Granted { start_us: t, count: 1 });
}

async fn quota_never_goes_below_zero(store: Arc<dyn Store>) {
    let c = QuotaCounter { plan: "p", key: "k", period_start: day("2026-11-23") };
    let d = day("2026-11-23");
    let take = |want| store.take_quota(c, Some(10), want, d);
    assert_eq!(take(4).await.expect("take").granted, 4);
    let t = take(8).await.expect("take");
    assert_eq!((t.granted, t.remaining), (6, Some(0)));
    assert_eq!(take(1).await.expect("take").granted, 0);
    store.adjust_quota(c, Some(10), 3, d).await.expect("give back");
    assert_eq!(take(5).await.expect("take").granted, 3);
    // A new period is a new counter.
    let next = QuotaCounter { period_start: day("2026-11-24"), ..c };
    assert_eq!(store.take_quota(next, Some(10), 20, day("2026-11-24")).await.expect("take").granted, 10);
}

async fn quota_counts_use_per_day_and_grants(store: Arc<dyn Store>) {
    let c = QuotaCounter { plan: "p", key: "k", period_start: day("2026-11-01") };
    store.take_quota(c, Some(100), 7, day("2026-11-02")).await.expect("take");
    store.take_quota(c, Some(100), 5, day("2026-11-03")).await.expect("take");
    store.adjust_quota(c, Some(100), 2, day("2026-11-03")).await.expect("give back");
    // Served while the store was down, charged later: may go below zero.
    store.adjust_quota(c, Some(100), -1, day("2026-11-03")).await.expect("charge");
    assert_eq!(store.grant_quota(c, Some(100), 50).await.expect("grant"), 100 - 7 - 3 - 1 + 50);
    let records = store.quota_records("p", "k", day("2026-10-01"), day("2026-11-30")).await.expect("records");
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.period_start, Some(day("2026-11-01")));
    assert_eq!(r.extra, 50);
    assert_eq!(r.remaining, Some(139));
    assert_eq!(r.used_by_day.get(&day("2026-11-02")), Some(&7));
    assert_eq!(r.used_by_day.get(&day("2026-11-03")), Some(&4));
    assert!(store.quota_records("p", "k", day("2026-12-01"), day("2026-12-31")).await.expect("none").is_empty());
}

async fn unlimited_quota_only_counts(store: Arc<dyn Store>) {
    let c = QuotaCounter { plan: "p", key: "k", period_start: day("2026-11-23") };
    let t = store.take_quota(c, None, 500, day("2026-11-23")).await.expect("take");
    assert_eq!((t.granted, t.remaining), (500, None));
    store.adjust_quota(c, None, 100, day("2026-11-23")).await.expect("give back");
    let records = store.quota_records("p", "k", day("2026-11-23"), day("2026-11-23")).await.expect("records");
    assert_eq!(records[0].used_by_day.get(&day("2026-11-23")), Some(&400));
    assert_eq!(records[0].remaining, None);
}

async fn traffic_adds_up_per_day_and_stage(store: Arc<dyn Store>) {
    let t = |requests, client_errors, server_errors, throttled| Traffic {
        requests,
        client_errors,
        server_errors,
        throttled,
    };
    // Two instances' minutes on one day and stage add up; stages and days stay apart.
    store.add_traffic("prod", day("2026-11-29"), t(10, 3, 1, 2)).await.expect("add");
    store.add_traffic("prod", day("2026-11-29"), t(5, 1, 0, 0)).await.expect("add");
    store.add_traffic("$default", day("2026-11-29"), t(1, 0, 1, 0)).await.expect("add");
    store.add_traffic("prod", day("2026-11-30"), t(7, 0, 0, 0)).await.expect("add");
    store.add_traffic("prod", day("2026-12-01"), t(9, 9, 0, 9)).await.expect("add");
    let row = |d, stage: &str, traffic| DayTraffic { day: day(d), stage: stage.to_owned(), traffic };
    assert_eq!(
        store.traffic(day("2026-11-29"), day("2026-11-30")).await.expect("read"),
        [
            row("2026-11-29", "$default", t(1, 0, 1, 0)),
            row("2026-11-29", "prod", t(15, 4, 1, 2)),
            row("2026-11-30", "prod", t(7, 0, 0, 0))
        ],
        "by day then stage, the days asked for and no other"
    );
    assert_eq!(store.traffic(day("2026-12-01"), day("2026-12-01")).await.expect("read").len(), 1);
    assert!(store.traffic(day("2026-11-01"), day("2026-11-28")).await.expect("read").is_empty());
}

async fn rolled_keys_keep_their_id_and_usage(store: Arc<dyn Store>) {
    let now = T0_SECS * 1_000;
    let admin = Admin::new(store.as_ref(), now);
    let plan = PlanInput {
        name: "gold".into(),
        stages: vec!["prod".into()],
        quota: Some(Quota { limit: 100, period: Period::Month, offset: 0 }),
        ..PlanInput::default()
    };
    let plan = admin.create_plan(plan).await.expect("plan");
    let new = NewKey { name: "alice".into(), plans: vec![plan.id.clone()], enabled: true, ..NewKey::default() };
    let (key, old_value) = admin.create_key(new).await.expect("key");
    assert!(old_value.len() >= 40);
    let (rolled, new_value) = admin.roll_key(&key.id, 60, None).await.expect("roll");
    assert_eq!(rolled.id, key.id);
    assert_ne!(old_value, new_value);
    let old = store.find_key_value(&KeyHash::of(&old_value)).await.expect("find").expect("old value");
    assert_eq!(old, (key.id.clone(), Some(now + 60_000)));
    let new = store.find_key_value(&KeyHash::of(&new_value)).await.expect("find").expect("new value");
    assert_eq!(new, (key.id.clone(), None));
    // Quota belongs to the key, so it carries over: the extra granted before the roll is still there.
    let remaining = admin.grant(&plan.id, &key.id, 5).await.expect("grant");
    assert_eq!(remaining, 105);
    // Imported values must follow the rules, and be unique.
    let dup = NewKey { name: "bob".into(), value: Some(new_value.clone()), ..NewKey::default() };
    assert!(admin.create_key(dup).await.is_err());
    let short = NewKey { name: "bob".into(), value: Some("short".into()), ..NewKey::default() };
    assert!(admin.create_key(short).await.is_err());
    admin.delete_key(&key.id).await.expect("delete");
    assert_eq!(store.find_key_value(&KeyHash::of(&new_value)).await.expect("find"), None);
    assert!(admin.key(&key.id).await.is_err());
}

async fn one_plan_per_stage_per_key(store: Arc<dyn Store>) {
    let admin = Admin::new(store.as_ref(), 0);
    let a = admin.create_plan(PlanInput { name: "a".into(), stages: vec!["prod".into()], ..PlanInput::default() });
    let a = a.await.expect("plan a");
    let b = admin.create_plan(PlanInput {
        name: "b".into(),
        stages: vec!["prod".into(), "dev".into()],
        ..PlanInput::default()
    });
    let b = b.await.expect("plan b");
    let (key, _) =
        admin.create_key(NewKey { name: "k".into(), enabled: true, ..NewKey::default() }).await.expect("key");
    admin.add_key_to_plan(&key.id, &a.id).await.expect("join a");
    assert!(admin.add_key_to_plan(&key.id, &b.id).await.is_err(), "both cover prod");
    admin.remove_key_from_plan(&key.id, &a.id).await.expect("leave a");
    admin.add_key_to_plan(&key.id, &b.id).await.expect("join b");
    assert!(admin.add_key_to_plan(&key.id, "no-such-plan").await.is_err());
    let bad = PlanInput {
        name: "bad".into(),
        quota: Some(Quota { limit: 0, period: Period::Day, offset: 0 }),
        ..PlanInput::default()
    };
    assert!(admin.create_plan(bad).await.is_err());
}

/// The embedded store's file: what one process writes, another sees, and all of it survives a restart.
async fn cache_entries_expire_and_flushes_move_generations(store: Arc<dyn Store>) {
    // Names no other test uses: the DynamoDB table is shared by the tests of this process.
    let stage = "cache-conformance".to_owned();
    let key = format!("{stage}-k");
    assert_eq!(store.get_entry(&key, 1_000).await.expect("get"), None);
    let binary = [0u8, 159, 146, 150, 255];
    store.put_entry(&key, &binary, 5_000).await.expect("put");
    assert_eq!(store.get_entry(&key, 4_999).await.expect("get").as_deref(), Some(&binary[..]));
    // Expired is gone, whether or not the item still exists (TTL deletion is lazy).
    assert_eq!(store.get_entry(&key, 5_000).await.expect("get"), None);
    store.put_entry(&key, b"again", 9_000).await.expect("replace");
    assert_eq!(store.get_entry(&key, 1_000).await.expect("get").as_deref(), Some(&b"again"[..]));
    store.delete_entry(&key).await.expect("delete");
    store.delete_entry(&key).await.expect("deleting again is fine");
    assert_eq!(store.get_entry(&key, 1_000).await.expect("get"), None);

    assert_eq!(store.generations(&stage).await.expect("none yet"), Generations::default());
    let after = store.flush(&stage, None).await.expect("flush");
    assert_eq!((after.stage, after.tag("pets")), (1, 0));
    store.flush(&stage, Some("pets")).await.expect("tag");
    let after = store.flush(&stage, Some("pets")).await.expect("tag again");
    assert_eq!((after.stage, after.tag("pets"), after.tag("owners")), (1, 2, 0));
    assert_eq!(store.generations(&stage).await.expect("read"), after);
    // Stages are apart.
    assert_eq!(store.generations(&format!("{stage}-other")).await.expect("other"), Generations::default());
}

#[tokio::test]
async fn embedded_store_survives_restart_and_shares_its_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.json");
    let first = EmbeddedStore::open(&path).expect("open");
    let second = EmbeddedStore::open(&path).expect("open again");
    let admin = Admin::new(&first, 0);
    let (key, value) =
        admin.create_key(NewKey { name: "k".into(), enabled: true, ..NewKey::default() }).await.expect("key");
    let c = QuotaCounter { plan: "p", key: &key.id, period_start: day("2026-11-23") };
    first.take_quota(c, Some(10), 4, day("2026-11-23")).await.expect("take");
    // The other process sees both at once.
    assert_eq!(second.find_key_value(&KeyHash::of(&value)).await.expect("find").map(|v| v.0), Some(key.id.clone()));
    assert_eq!(second.take_quota(c, Some(10), 10, day("2026-11-23")).await.expect("take").granted, 6);
    drop((first, second));
    let reopened = EmbeddedStore::open(&path).expect("reopen");
    assert!(Admin::new(&reopened, 0).key(&key.id).await.is_ok());
    assert_eq!(reopened.take_quota(c, Some(10), 1, day("2026-11-23")).await.expect("take").granted, 0);
    std::fs::write(&path, "not json").expect("corrupt");
    assert!(EmbeddedStore::open(&path).is_err(), "a corrupt file is refused at open, not at a request");
}
