//! WebSocket connections on DynamoDB (the connections table; same key schema as the usage table):
//!
//! | item | pk | sk | gsi1pk | gsi1sk |
//! |---|---|---|---|---|
//! | connection | `CONN#{id}` | `-` | `MEMBERS#{stage}` | `{id}` |
//! | subscription | `CONN#{id}` | `SUB#{channel}` | `MEMBERS#{stage}#{channel}` | `{id}` |
//! | a key's connection slots | `SLOTS#{keyId}` | `-` | – | – |
//!
//! A connection and its subscriptions share a partition, so `$disconnect` finds them with one consistent
//! Query; a channel's members (or a stage's connections) are a Query on `gsi1`, page by page. Every item has a
//! TTL just past the longest a connection can live, so what a lost `$disconnect` leaves behind goes away.

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, ReturnValue, Select, WriteRequest};

use super::{DynamoStore, INDEX, Item, ONLY, is_condition_failure, s, sdk_error, text};
use crate::store::{
    Page, StoreError, StoreFuture,
    connections::{Connection, ConnectionStore},
    decode, encode,
};

/// DynamoDB's BatchWriteItem takes at most 25 requests.
const BATCH: usize = 25;

fn conn_pk(id: &str) -> String {
    format!("CONN#{id}")
}

fn sub_sk(channel: &str) -> String {
    format!("SUB#{channel}")
}

fn members_pk(stage: &str, channel: Option<&str>) -> String {
    match channel {
        None => format!("MEMBERS#{stage}"),
        Some(c) => format!("MEMBERS#{stage}#{c}"),
    }
}

fn slots_pk(key_id: &str) -> String {
    format!("SLOTS#{key_id}")
}

fn ttl_of(connection: &Connection) -> AttributeValue {
    AttributeValue::N((connection.expires_at_ms / 1_000 + 1).to_string())
}

impl DynamoStore {
    /// Deletes items by key, 25 per call, retrying what DynamoDB leaves unprocessed.
    async fn delete_all(&self, keys: Vec<(String, String)>) -> Result<(), StoreError> {
        for chunk in keys.chunks(BATCH) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|(pk, sk)| {
                    let delete = DeleteRequest::builder().key("pk", s(pk)).key("sk", s(sk)).build();
                    delete.map(|d| WriteRequest::builder().delete_request(d).build())
                })
                .collect::<Result<_, _>>()
                .map_err(|e| StoreError::Failed(e.to_string()))?;
            for attempt in 0..4 {
                if requests.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&e))?;
                requests = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(StoreError::Unavailable(format!("{} deletes left unprocessed", requests.len())));
            }
        }
        Ok(())
    }

    /// Deletes one item and returns what it held (`None`: there was nothing).
    async fn delete_returning(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error(&e))?;
        Ok(out.attributes.filter(|a| !a.is_empty()))
    }

    /// Every item of a connection's partition (its record and subscriptions), read consistently.
    async fn connection_items(&self, id: &str, subscriptions_only: bool) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(conn_pk(id)))
                .set_exclusive_start_key(start.take());
            query = if subscriptions_only {
                query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :sub)")
                    .expression_attribute_values(":sub", s("SUB#"))
            } else {
                query.key_condition_expression("pk = :pk")
            };
            let out = query.send().await.map_err(|e| sdk_error(&e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

impl ConnectionStore for DynamoStore {
    fn put_connection<'a>(&'a self, connection: &'a Connection) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(conn_pk(&connection.id)))
                .item("sk", s(ONLY))
                .item("gsi1pk", s(members_pk(&connection.stage, None)))
                .item("gsi1sk", s(&connection.id))
                .item("doc", s(encode(connection)?))
                .item("ttl", ttl_of(connection))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match put {
                Ok(_) => Ok(()),
                Err(e) if is_condition_failure(&e) => {
                    Err(StoreError::Conflict(format!("connection {} exists", connection.id)))
                }
                Err(e) => Err(sdk_error(&e)),
            }
        })
    }

    fn get_connection<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Connection>> {
        Box::pin(async move {
            let Some(item) = self.get(&conn_pk(id), ONLY).await? else { return Ok(None) };
            text(&item, "doc").map(decode).transpose()
        })
    }

    fn remove_connection<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Connection>> {
        Box::pin(async move {
            // The record goes first: a subscribe racing with this sees it gone and takes its own item back.
            let old = self.delete_returning(conn_pk(id), ONLY.to_owned()).await?;
            let connection = old.as_ref().and_then(|a| text(a, "doc")).map(decode).transpose()?;
            let keys = self
                .connection_items(id, true)
                .await?
                .iter()
                .filter_map(|item| Some((text(item, "pk")?.to_owned(), text(item, "sk")?.to_owned())))
                .collect();
            self.delete_all(keys).await?;
            Ok(connection)
        })
    }

    fn subscribe<'a>(&'a self, connection: &'a Connection, channel: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let pk = conn_pk(&connection.id);
            let sk = sub_sk(channel);
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("sk", s(&sk))
                .item("gsi1pk", s(members_pk(&connection.stage, Some(channel))))
                .item("gsi1sk", s(&connection.id))
                .item("channel", s(channel))
                .item("ttl", ttl_of(connection))
                .send()
                .await
                .map_err(|e| sdk_error(&e))?;
            // No transactions: check the connection after subscribing. If `$disconnect` removed it meanwhile,
            // it may have missed this item, so take it back.
            if self.get(&pk, ONLY).await?.is_none() {
                self.delete_all(vec![(pk, sk)]).await?;
                return Err(StoreError::NotFound(format!("connection {}", connection.id)));
            }
            Ok(())
        })
    }

    fn unsubscribe<'a>(&'a self, id: &'a str, channel: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.delete_returning(conn_pk(id), sub_sk(channel)).await?.is_some()) })
    }

    fn channels<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let items = self.connection_items(id, true).await?;
            Ok(items.iter().filter_map(|i| text(i, "channel").map(str::to_owned)).collect())
        })
    }

    fn members<'a>(
        &'a self,
        stage: &'a str,
        channel: Option<&'a str>,
        limit: u32,
        after: Option<&'a str>,
    ) -> StoreFuture<'a, Page<String>> {
        Box::pin(async move {
            let gsi1pk = members_pk(stage, channel);
            let start = after.map(|id| {
                let sk = channel.map_or_else(|| ONLY.to_owned(), sub_sk);
                Item::from([
                    ("pk".to_owned(), s(conn_pk(id))),
                    ("sk".to_owned(), s(sk)),
                    ("gsi1pk".to_owned(), s(&gsi1pk)),
                    ("gsi1sk".to_owned(), s(id)),
                ])
            });
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX)
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", s(&gsi1pk))
                .projection_expression("gsi1sk")
                .select(Select::SpecificAttributes)
                .limit(i32::try_from(limit.clamp(1, 1_000)).unwrap_or(1_000))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error(&e))?;
            let items: Vec<String> =
                out.items.unwrap_or_default().iter().filter_map(|i| text(i, "gsi1sk").map(str::to_owned)).collect();
            let next =
                out.last_evaluated_key.filter(|k| !k.is_empty()).and_then(|k| text(&k, "gsi1sk").map(str::to_owned));
            Ok(Page { items, next })
        })
    }

    fn claim_slot<'a>(&'a self, key_id: &'a str, connection: &'a str, limit: u32) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let claimed = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(slots_pk(key_id)))
                .key("sk", s(ONLY))
                .update_expression("ADD ids :me")
                .condition_expression("attribute_not_exists(ids) OR size(ids) < :limit OR contains(ids, :id)")
                .expression_attribute_values(":me", AttributeValue::Ss(vec![connection.to_owned()]))
                .expression_attribute_values(":id", s(connection))
                .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
                .send()
                .await;
            match claimed {
                Ok(_) => Ok(true),
                Err(e) if is_condition_failure(&e) => Ok(false),
                Err(e) => Err(sdk_error(&e)),
            }
        })
    }

    fn release_slot<'a>(&'a self, key_id: &'a str, connection: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(slots_pk(key_id)))
                .key("sk", s(ONLY))
                .update_expression("DELETE ids :me")
                .expression_attribute_values(":me", AttributeValue::Ss(vec![connection.to_owned()]))
                .send()
                .await
                .map_err(|e| sdk_error(&e))?;
            Ok(())
        })
    }

    fn slots<'a>(&'a self, key_id: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let item = self.get(&slots_pk(key_id), ONLY).await?;
            let mut ids: Vec<String> =
                item.and_then(|mut i| i.remove("ids")).and_then(|v| v.as_ss().ok().cloned()).unwrap_or_default();
            ids.sort();
            Ok(ids)
        })
    }
}
