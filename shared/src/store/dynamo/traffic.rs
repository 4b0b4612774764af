//! The dashboard's answers per day (`TRAFFIC` / `{day}#{stage}`): four counters each instance adds to about
//! once a minute, never per request. One partition holds every day, which is small (a row a day per stage) and
//! written far below a partition's limits.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{DynamoStore, Update, n, num, text, values};
use crate::store::{DayTraffic, StoreError, Traffic, traffic_until};

const PK: &str = "TRAFFIC";
/// Kept as long as quota counters: a year of history, and then some.
const KEEP_SECS: i64 = 400 * 86_400;

pub(super) async fn add_traffic(
    store: &DynamoStore,
    stage: &str,
    day: NaiveDate,
    traffic: Traffic,
) -> Result<(), StoreError> {
    let sk = format!("{day}#{stage}");
    let ttl = crate::usage::period::midnight_ms(day) / 1_000 + KEEP_SECS;
    // Sent at most once (mod.rs): an ADD applied twice would count an instance's minute twice.
    store
        .update_once(Update {
            pk: PK,
            sk: &sk,
            expression: "ADD requests :r, clientErrors :c, serverErrors :s, throttled :t \
                         SET #ttl = if_not_exists(#ttl, :ttl)",
            condition: None,
            names: HashMap::from([("#ttl".to_owned(), "ttl".to_owned())]),
            values: values([
                (":r", n(traffic.requests)),
                (":c", n(traffic.client_errors)),
                (":s", n(traffic.server_errors)),
                (":t", n(traffic.throttled)),
                (":ttl", n(ttl)),
            ]),
        })
        .await?;
    Ok(())
}

pub(super) async fn traffic(
    store: &DynamoStore,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayTraffic>, StoreError> {
    let items = store.query_between(PK, &from.to_string(), &traffic_until(to)).await?;
    Ok(items
        .iter()
        .filter_map(|item| {
            let (day, stage) = text(item, "sk")?.split_once('#')?;
            let count = |name| num(item, name).and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
            let traffic = Traffic {
                requests: count("requests"),
                client_errors: count("clientErrors"),
                server_errors: count("serverErrors"),
                throttled: count("throttled"),
            };
            Some(DayTraffic { day: day.parse().ok()?, stage: stage.to_owned(), traffic })
        })
        .collect())
}
