//! Quota counters (`QUOTA#{plan}#{key}` / `{period start}`): what remains of a period's allowance, extra
//! granted, and use per day. Takes are conditional decrements that never go below zero.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{DynamoStore, Lost, Update, n, num, s, text, values};
use crate::store::{QuotaCounter, QuotaRecord, QuotaTake, StoreError, day_label, gcra_retry_limit, parse_day_label};

/// How long quota counters are kept after their period starts: a year of usage history, and then some.
const QUOTA_KEEP_SECS: i64 = 400 * 86_400;

/// How many token attributes a quota counter may hold (`tk0` ..): each client writes its takes' tokens to one,
/// picked at random when it starts, so that a retry is rarely confused by another instance's take in between,
/// and the item stays small (8 × 20 bytes) however many instances write to it.
const TAKE_SLOTS: u8 = 8;

pub(super) fn take_slot() -> String {
    let random = uuid::Uuid::new_v4();
    format!("tk{}", random.as_bytes()[0] % TAKE_SLOTS)
}

fn quota_pk(plan: &str, key: &str) -> String {
    format!("QUOTA#{plan}#{key}")
}

fn epoch_secs(day: NaiveDate) -> i64 {
    crate::usage::period::midnight_ms(day) / 1_000
}

pub(super) async fn take_quota(
    store: &DynamoStore,
    counter: QuotaCounter<'_>,
    allowance: Option<u64>,
    want: u64,
    day: NaiveDate,
) -> Result<QuotaTake, StoreError> {
    let pk = quota_pk(counter.plan, counter.key);
    let sk = counter.period_start.to_string();
    let ttl = epoch_secs(counter.period_start) + QUOTA_KEEP_SECS;
    let names = || HashMap::from([("#ttl".to_owned(), "ttl".to_owned()), ("#day".to_owned(), day_label(day))]);
    let Some(allowance) = allowance else {
        // Unlimited: count only.
        store
            .update(Update {
                pk: &pk,
                sk: &sk,
                expression: "SET #ttl = if_not_exists(#ttl, :ttl) ADD #day :n",
                condition: None,
                names: names(),
                values: values([(":n", n(want)), (":ttl", n(ttl))]),
            })
            .await?;
        return Ok(QuotaTake { granted: want, remaining: None });
    };
    // A counter that does not exist yet starts at the allowance, so never ask for more than that.
    let mut ask = want.min(allowance);
    for _ in 0..gcra_retry_limit() {
        if ask == 0 {
            break;
        }
        // The SDK retries a take whose answer was lost, and a retry of one DynamoDB had applied would take again:
        // a block lost to everyone (under-admission, never over). So each take leaves a token in this client's
        // slot of the counter, and a retry that finds its own token there fails its condition and knows it was
        // applied. Another take through the same slot in between overwrites the token, and then the retry takes
        // again, as it would without one.
        let token = format!("{:016x}", uuid::Uuid::new_v4().as_u64_pair().0);
        let mut names = names();
        names.insert("#tok".to_owned(), store.take_slot.clone());
        let done = store
            .update(Update {
                pk: &pk,
                sk: &sk,
                expression: "SET remaining = if_not_exists(remaining, :allow) - :n, \
                                 #day = if_not_exists(#day, :zero) + :n, #ttl = if_not_exists(#ttl, :ttl), \
                                 #tok = :tok",
                condition: Some(
                    "(attribute_not_exists(remaining) OR remaining >= :n) AND \
                     (attribute_not_exists(#tok) OR #tok <> :tok)",
                ),
                names,
                values: values([
                    (":allow", n(allowance)),
                    (":n", n(ask)),
                    (":zero", n(0)),
                    (":ttl", n(ttl)),
                    (":tok", s(token.as_str())),
                ]),
            })
            .await;
        match done {
            Ok(item) => {
                let remaining = item.as_ref().and_then(|i| num(i, "remaining"));
                return Ok(QuotaTake { granted: ask, remaining });
            }
            Err(Lost::Error(e)) => return Err(e),
            Err(Lost::Condition) => {
                let item = store.get(&pk, &sk).await?;
                let remaining = item.as_ref().and_then(|i| num(i, "remaining"));
                if item.as_ref().and_then(|i| text(i, &store.take_slot)) == Some(token.as_str()) {
                    // An earlier attempt of this very take was applied; its answer was lost.
                    return Ok(QuotaTake { granted: ask, remaining });
                }
                // Fewer left than asked: ask for what is left.
                let left = remaining.unwrap_or(0);
                if left <= 0 {
                    return Ok(QuotaTake { granted: 0, remaining: Some(left) });
                }
                ask = ask.min(u64::try_from(left).unwrap_or(0));
            }
        }
    }
    Ok(QuotaTake { granted: 0, remaining: None })
}

pub(super) async fn adjust_quota(
    store: &DynamoStore,
    counter: QuotaCounter<'_>,
    allowance: Option<u64>,
    delta: i64,
    day: NaiveDate,
) -> Result<(), StoreError> {
    let pk = quota_pk(counter.plan, counter.key);
    let sk = counter.period_start.to_string();
    let ttl = epoch_secs(counter.period_start) + QUOTA_KEEP_SECS;
    let names = HashMap::from([("#ttl".to_owned(), "ttl".to_owned()), ("#day".to_owned(), day_label(day))]);
    let (expression, vals) = match allowance {
        Some(allowance) => (
            "SET remaining = if_not_exists(remaining, :allow) + :n, #ttl = if_not_exists(#ttl, :ttl) \
                 ADD #day :neg",
            values([(":allow", n(allowance)), (":n", n(delta)), (":neg", n(-delta)), (":ttl", n(ttl))]),
        ),
        None => ("SET #ttl = if_not_exists(#ttl, :ttl) ADD #day :neg", values([(":neg", n(-delta)), (":ttl", n(ttl))])),
    };
    // Sent at most once (mod.rs, "writes applied at most once"): a give-back applied twice over-admits.
    store.update_once(Update { pk: &pk, sk: &sk, expression, condition: None, names, values: vals }).await?;
    Ok(())
}

pub(super) async fn grant_quota(
    store: &DynamoStore,
    counter: QuotaCounter<'_>,
    allowance: Option<u64>,
    extra: u64,
) -> Result<i64, StoreError> {
    let pk = quota_pk(counter.plan, counter.key);
    let sk = counter.period_start.to_string();
    let ttl = epoch_secs(counter.period_start) + QUOTA_KEEP_SECS;
    // Sent at most once, like adjust_quota: a grant applied twice would grant twice.
    let item = store
        .update_once(Update {
            pk: &pk,
            sk: &sk,
            expression: "SET remaining = if_not_exists(remaining, :allow) + :x, \
                             #ttl = if_not_exists(#ttl, :ttl) ADD extra :x",
            condition: None,
            names: HashMap::from([("#ttl".to_owned(), "ttl".to_owned())]),
            values: values([(":allow", n(allowance.unwrap_or(0))), (":x", n(extra)), (":ttl", n(ttl))]),
        })
        .await?;
    item.as_ref().and_then(|i| num(i, "remaining")).ok_or_else(|| StoreError::Failed("no remaining".into()))
}

pub(super) async fn quota_records(
    store: &DynamoStore,
    plan: &str,
    key: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<QuotaRecord>, StoreError> {
    let items = store.query_between(&quota_pk(plan, key), &from.to_string(), &to.to_string()).await?;
    Ok(items
        .iter()
        .map(|item| QuotaRecord {
            period_start: text(item, "sk").and_then(|d| d.parse().ok()),
            remaining: num(item, "remaining"),
            extra: num(item, "extra").unwrap_or(0),
            used_by_day: item.keys().filter_map(|name| Some((parse_day_label(name)?, num(item, name)?))).collect(),
        })
        .collect())
}
