//! Key values (`VALUE#{hash}`: which key a value opens, until when) and records (`KEY#{id}`, `PLAN#{id}`: JSON
//! documents with a version, listed through `gsi1`).

use std::collections::HashMap;

use super::{DynamoStore, INDEX, Lost, ONLY, Update, is_condition_failure, n, num, s, sdk_error, text, values};
use crate::{
    store::{Kind, Page, StoreError},
    usage::KeyHash,
};

fn value_pk(hash: &KeyHash) -> String {
    format!("VALUE#{}", hash.as_str())
}

fn record_pk(kind: Kind, id: &str) -> String {
    format!("{}#{id}", kind.label())
}

pub(super) async fn insert_key_value(store: &DynamoStore, hash: &KeyHash, key_id: &str) -> Result<(), StoreError> {
    let put = store
        .client
        .put_item()
        .table_name(&store.table)
        .item("pk", s(value_pk(hash)))
        .item("sk", s(ONLY))
        .item("keyId", s(key_id))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match put {
        Ok(_) => Ok(()),
        Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict("that key value is already in use".to_owned())),
        Err(e) => Err(sdk_error(&e)),
    }
}

pub(super) async fn find_key_value(
    store: &DynamoStore,
    hash: &KeyHash,
) -> Result<Option<(String, Option<i64>)>, StoreError> {
    let Some(item) = store.get(&value_pk(hash), ONLY).await? else { return Ok(None) };
    let key_id = text(&item, "keyId").ok_or_else(|| StoreError::Failed("key value without keyId".into()))?;
    Ok(Some((key_id.to_owned(), num(&item, "notAfter"))))
}

pub(super) async fn expire_key_value(store: &DynamoStore, hash: &KeyHash, not_after_ms: i64) -> Result<(), StoreError> {
    let pk = value_pk(hash);
    // TTL deletes it a day after it stops working; reads check notAfter themselves (TTL is lazy).
    let ttl = not_after_ms / 1_000 + 86_400;
    store
        .update(Update {
            pk: &pk,
            sk: ONLY,
            expression: "SET notAfter = :at, #ttl = :ttl",
            condition: Some("attribute_exists(pk)"),
            names: HashMap::from([("#ttl".to_owned(), "ttl".to_owned())]),
            values: values([(":at", n(not_after_ms)), (":ttl", n(ttl))]),
        })
        .await
        .map_err(|lost| match lost {
            Lost::Condition => StoreError::NotFound("key value".to_owned()),
            Lost::Error(e) => e,
        })?;
    Ok(())
}

pub(super) async fn delete_key_value(store: &DynamoStore, hash: &KeyHash) -> Result<(), StoreError> {
    store
        .client
        .delete_item()
        .table_name(&store.table)
        .key("pk", s(value_pk(hash)))
        .key("sk", s(ONLY))
        .send()
        .await
        .map_err(|e| sdk_error(&e))?;
    Ok(())
}

pub(super) async fn put_record(
    store: &DynamoStore,
    kind: Kind,
    id: &str,
    doc: &str,
    version: u64,
    expected: Option<u64>,
) -> Result<(), StoreError> {
    let mut put = store
        .client
        .put_item()
        .table_name(&store.table)
        .item("pk", s(record_pk(kind, id)))
        .item("sk", s(ONLY))
        .item("gsi1pk", s(kind.label()))
        .item("gsi1sk", s(id))
        .item("doc", s(doc))
        .item("ver", n(version));
    put = match expected {
        None => put.condition_expression("attribute_not_exists(pk)"),
        Some(v) => put.condition_expression("ver = :expected").expression_attribute_values(":expected", n(v)),
    };
    match put.send().await {
        Ok(_) => Ok(()),
        Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict(match expected {
            None => format!("{} {id} already exists", kind.label()),
            Some(_) => format!("{} {id} does not exist or was changed meanwhile", kind.label()),
        })),
        Err(e) => Err(sdk_error(&e)),
    }
}

pub(super) async fn get_record(store: &DynamoStore, kind: Kind, id: &str) -> Result<Option<String>, StoreError> {
    let item = store.get(&record_pk(kind, id), ONLY).await?;
    Ok(item.and_then(|i| text(&i, "doc").map(str::to_owned)))
}

pub(super) async fn list_records(
    store: &DynamoStore,
    kind: Kind,
    limit: u32,
    after: Option<&str>,
) -> Result<Page<String>, StoreError> {
    let mut query = store
        .client
        .query()
        .table_name(&store.table)
        .index_name(INDEX)
        .expression_attribute_values(":kind", s(kind.label()))
        .limit(i32::try_from(limit.clamp(1, 500)).unwrap_or(500));
    query = match after {
        Some(after) => query
            .key_condition_expression("gsi1pk = :kind AND gsi1sk > :after")
            .expression_attribute_values(":after", s(after)),
        None => query.key_condition_expression("gsi1pk = :kind"),
    };
    let out = query.send().await.map_err(|e| sdk_error(&e))?;
    let items = out.items.unwrap_or_default();
    let next = out.last_evaluated_key.and_then(|k| text(&k, "gsi1sk").map(str::to_owned));
    Ok(Page { items: items.iter().filter_map(|i| text(i, "doc").map(str::to_owned)).collect(), next })
}

pub(super) async fn delete_record(store: &DynamoStore, kind: Kind, id: &str) -> Result<(), StoreError> {
    let out = store
        .client
        .delete_item()
        .table_name(&store.table)
        .key("pk", s(record_pk(kind, id)))
        .key("sk", s(ONLY))
        .condition_expression("attribute_exists(pk)")
        .send()
        .await;
    match out {
        Ok(_) => Ok(()),
        Err(e) if is_condition_failure(&e) => Err(StoreError::NotFound(format!("{} {id}", kind.label()))),
        Err(e) => Err(sdk_error(&e)),
    }
}
