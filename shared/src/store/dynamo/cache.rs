//! The response cache's shared tier: entries (`CACHE#{key}`, the encoded entry as a binary attribute, `ttl`)
//! and a stage's generations (`CACHEGEN#{stage}`: `gen`, and `tag.{name}` per flushed tag). Entry reads are
//! eventually consistent (half a read unit up to 4 KB): a cache may be a moment behind, and it is read on every
//! hit. Entries over DynamoDB's 400 KB item limit are not written here (the cache keeps them per instance).

use std::collections::HashMap;

use aws_sdk_dynamodb::{primitives::Blob, types::AttributeValue};

use super::{DynamoStore, Lost, ONLY, Update, n, num, s, sdk_error, values};
use crate::store::{StoreError, cache::Generations};

/// What an entry item may carry, leaving room under DynamoDB's 400 KB for its key and attributes.
pub const MAX_SHARED_ENTRY_BYTES: usize = 390 * 1024;

fn entry_pk(key: &str) -> String {
    format!("CACHE#{key}")
}

fn generations_pk(stage: &str) -> String {
    format!("CACHEGEN#{stage}")
}

pub(super) async fn get_entry(store: &DynamoStore, key: &str, now_ms: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(&store.table)
        .key("pk", s(entry_pk(key)))
        .key("sk", s(ONLY))
        .send()
        .await
        .map_err(|e| sdk_error(&e))?;
    let Some(item) = out.item else { return Ok(None) };
    // TTL deletion is lazy: an expired item may still be there.
    if num(&item, "expiresAt").is_none_or(|at| at <= now_ms) {
        return Ok(None);
    }
    Ok(item.get("entry").and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec()))
}

pub(super) async fn put_entry(
    store: &DynamoStore,
    key: &str,
    entry: &[u8],
    expires_at_ms: i64,
) -> Result<(), StoreError> {
    if entry.len() > MAX_SHARED_ENTRY_BYTES {
        return Ok(());
    }
    store
        .client
        .put_item()
        .table_name(&store.table)
        .item("pk", s(entry_pk(key)))
        .item("sk", s(ONLY))
        .item("entry", AttributeValue::B(Blob::new(entry)))
        .item("expiresAt", n(expires_at_ms))
        .item("ttl", n(expires_at_ms / 1_000 + 1))
        .send()
        .await
        .map_err(|e| sdk_error(&e))?;
    Ok(())
}

pub(super) async fn delete_entry(store: &DynamoStore, key: &str) -> Result<(), StoreError> {
    store
        .client
        .delete_item()
        .table_name(&store.table)
        .key("pk", s(entry_pk(key)))
        .key("sk", s(ONLY))
        .send()
        .await
        .map_err(|e| sdk_error(&e))?;
    Ok(())
}

fn read_generations(item: &HashMap<String, AttributeValue>) -> Generations {
    let stage = num(item, "gen").and_then(|g| u64::try_from(g).ok()).unwrap_or(0);
    let tags = item
        .iter()
        .filter_map(|(name, value)| {
            let tag = name.strip_prefix("tag.")?;
            let n = value.as_n().ok()?.parse().ok()?;
            Some((tag.to_owned(), n))
        })
        .collect();
    Generations { stage, tags }
}

pub(super) async fn generations(store: &DynamoStore, stage: &str) -> Result<Generations, StoreError> {
    Ok(store.get(&generations_pk(stage), ONLY).await?.as_ref().map(read_generations).unwrap_or_default())
}

pub(super) async fn flush(store: &DynamoStore, stage: &str, tag: Option<&str>) -> Result<Generations, StoreError> {
    let pk = generations_pk(stage);
    let counter = tag.map_or_else(|| "gen".to_owned(), |t| format!("tag.{t}"));
    store
        .update(Update {
            pk: &pk,
            sk: ONLY,
            expression: "ADD #counter :one",
            condition: None,
            names: HashMap::from([("#counter".to_owned(), counter)]),
            values: values([(":one", n(1))]),
        })
        .await
        .map_err(|lost| match lost {
            Lost::Condition => StoreError::Failed("unconditional update lost a condition".to_owned()),
            Lost::Error(e) => e,
        })?;
    // The whole item: the update returns only what it changed.
    generations(store, stage).await
}
