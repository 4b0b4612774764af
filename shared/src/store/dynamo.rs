//! The DynamoDB store: one table, `pk`/`sk` strings, one sparse index (`gsi1`) for listing keys and plans,
//! and a `ttl` attribute. Item shapes and access patterns are in the README ("Table design"). Every write that
//! can race is a conditional update; nothing uses transactions (they cost double and dynalite lacks them).

mod connections;

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{
        AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
        ProjectionType, ReturnValue, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    },
};
use chrono::NaiveDate;

use super::{
    Cadence, Kind, Page, QuotaCounter, QuotaRecord, QuotaTake, Slice, Store, StoreError, StoreFuture, day_label,
    gcra_retry_limit, parse_day_label,
};
use crate::{clock::Micros, store::embedded::gcra_take, usage::KeyHash};

/// The name of the listing index.
pub const INDEX: &str = "gsi1";
/// The sort key of items that have only one item per partition.
const ONLY: &str = "-";
/// How long quota counters are kept after their period starts: a year of usage history, and then some.
const QUOTA_KEEP_SECS: i64 = 400 * 86_400;
/// How long an idle throttle bucket is kept past its last token.
const BUCKET_KEEP_SECS: i64 = 3_600;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
    /// Per bucket, whether its last known state was "behind now" (try the congested update first).
    congested: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore").field("table", &self.table).finish_non_exhaustive()
    }
}

/// How the store reaches DynamoDB.
#[derive(Debug, Clone, Default)]
pub struct DynamoOptions {
    pub table: String,
    /// A local DynamoDB API server (dynalite); `None` uses the environment's (AWS_ENDPOINT_URL_DYNAMODB too).
    pub endpoint: Option<String>,
}

impl DynamoStore {
    /// A client with short timeouts: the meter must fail fast enough for its fail mode to matter.
    pub async fn connect(options: &DynamoOptions) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(500))
            .operation_attempt_timeout(Duration::from_millis(1_000))
            .operation_timeout(Duration::from_millis(2_500))
            .build();
        let mut loader = crate::integration::sdk_config_loader()
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2));
        if let Some(url) = &options.endpoint {
            loader = loader.endpoint_url(url);
            // A local server checks no signature; without this the SDK spends seconds hunting credentials.
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "tollgate",
                    "local",
                    None,
                    None,
                    "tollgate-local",
                ));
            }
            if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
                loader = loader.region(aws_config::Region::new("us-east-1"));
            }
        }
        let config = loader.load().await;
        Self::from_client(Client::new(&config), &options.table)
    }

    pub fn from_client(client: Client, table: &str) -> Self {
        Self { client, table: table.to_owned(), congested: Mutex::new(HashSet::new()) }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table and its index, waits until it is active, and turns on TTL. Returns a warning when
    /// the server cannot set TTL (dynalite cannot); `template.yaml` sets it on AWS.
    pub async fn create_table(&self) -> Result<Option<String>, StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
        let index = GlobalSecondaryIndex::builder()
            .index_name(INDEX)
            .key_schema(key("gsi1pk", KeyType::Hash).map_err(build_error)?)
            .key_schema(key("gsi1sk", KeyType::Range).map_err(build_error)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(build_error)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk").map_err(build_error)?)
            .attribute_definitions(attr("sk").map_err(build_error)?)
            .attribute_definitions(attr("gsi1pk").map_err(build_error)?)
            .attribute_definitions(attr("gsi1sk").map_err(build_error)?)
            .key_schema(key("pk", KeyType::Hash).map_err(build_error)?)
            .key_schema(key("sk", KeyType::Range).map_err(build_error)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(sdk_error(&e)),
        }
        // The SDK's waiter polls every 20 s; a local table is active within milliseconds.
        for _ in 0..600 {
            let described =
                self.client.describe_table().table_name(&self.table).send().await.map_err(|e| sdk_error(&e))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ttl =
            TimeToLiveSpecification::builder().attribute_name("ttl").enabled(true).build().map_err(build_error)?;
        match self.client.update_time_to_live().table_name(&self.table).time_to_live_specification(ttl).send().await {
            Ok(_) => Ok(None),
            Err(e) if matches!(e.code(), Some("UnknownOperationException" | "ValidationException")) => {
                Ok(Some(format!(
                    "the server did not turn on TTL ({}); expired items stay until deleted",
                    e.code().unwrap_or("")
                )))
            }
            Err(e) => Err(sdk_error(&e)),
        }
    }

    async fn update(&self, request: Update<'_>) -> Result<Option<Item>, Lost> {
        let mut call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(request.pk))
            .key("sk", s(request.sk))
            .update_expression(request.expression)
            .set_expression_attribute_values(Some(request.values))
            .return_values(ReturnValue::UpdatedNew);
        if !request.names.is_empty() {
            call = call.set_expression_attribute_names(Some(request.names));
        }
        if let Some(condition) = request.condition {
            call = call.condition_expression(condition);
        }
        match call.send().await {
            Ok(out) => Ok(out.attributes),
            Err(e) if is_condition_failure(&e) => Err(Lost::Condition),
            Err(e) => Err(Lost::Error(sdk_error(&e))),
        }
    }

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&e))?;
        Ok(out.item)
    }

    fn remember_congestion(&self, bucket: &str, congested: bool) {
        if let Ok(mut set) = self.congested.lock() {
            if congested {
                set.insert(bucket.to_owned());
            } else {
                set.remove(bucket);
            }
        }
    }
}

/// One conditional update.
struct Update<'a> {
    pk: &'a str,
    sk: &'a str,
    expression: &'a str,
    condition: Option<&'a str>,
    names: HashMap<String, String>,
    values: Item,
}

/// Why an update did not happen.
enum Lost {
    Condition,
    Error(StoreError),
}

impl From<Lost> for StoreError {
    fn from(lost: Lost) -> Self {
        match lost {
            Lost::Condition => StoreError::Conflict("the item changed meanwhile".to_owned()),
            Lost::Error(e) => e,
        }
    }
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: impl Into<i128>) -> AttributeValue {
    AttributeValue::N(number.into().to_string())
}

fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn num(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(e.to_string())
}

/// Throttling and transport trouble are "unavailable" (the fail mode applies); anything else is a failure.
fn sdk_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> StoreError {
    let code = e.code().map(str::to_owned);
    let detail = match &code {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("")),
        None => aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
    };
    match (e, code.as_deref()) {
        (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_), _)
        | (
            _,
            Some(
                "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "ThrottlingException"
                | "InternalServerError"
                | "ServiceUnavailable",
            ),
        ) => StoreError::Unavailable(detail),
        _ => StoreError::Failed(detail),
    }
}

fn value_pk(hash: &KeyHash) -> String {
    format!("VALUE#{}", hash.as_str())
}

fn record_pk(kind: Kind, id: &str) -> String {
    format!("{}#{id}", kind.label())
}

fn quota_pk(plan: &str, key: &str) -> String {
    format!("QUOTA#{plan}#{key}")
}

fn epoch_secs(day: NaiveDate) -> i64 {
    crate::usage::period::midnight_ms(day) / 1_000
}

impl Store for DynamoStore {
    fn insert_key_value<'a>(&'a self, hash: &'a KeyHash, key_id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(value_pk(hash)))
                .item("sk", s(ONLY))
                .item("keyId", s(key_id))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match put {
                Ok(_) => Ok(()),
                Err(e) if is_condition_failure(&e) => {
                    Err(StoreError::Conflict("that key value is already in use".to_owned()))
                }
                Err(e) => Err(sdk_error(&e)),
            }
        })
    }

    fn find_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, Option<(String, Option<i64>)>> {
        Box::pin(async move {
            let Some(item) = self.get(&value_pk(hash), ONLY).await? else { return Ok(None) };
            let key_id = text(&item, "keyId").ok_or_else(|| StoreError::Failed("key value without keyId".into()))?;
            Ok(Some((key_id.to_owned(), num(&item, "notAfter"))))
        })
    }

    fn expire_key_value<'a>(&'a self, hash: &'a KeyHash, not_after_ms: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let pk = value_pk(hash);
            // TTL deletes it a day after it stops working; reads check notAfter themselves (TTL is lazy).
            let ttl = not_after_ms / 1_000 + 86_400;
            self.update(Update {
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
        })
    }

    fn delete_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(value_pk(hash)))
                .key("sk", s(ONLY))
                .send()
                .await
                .map_err(|e| sdk_error(&e))?;
            Ok(())
        })
    }

    fn put_record<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
        doc: &'a str,
        version: u64,
        expected: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
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
        })
    }

    fn get_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let item = self.get(&record_pk(kind, id), ONLY).await?;
            Ok(item.and_then(|i| text(&i, "doc").map(str::to_owned)))
        })
    }

    fn list_records<'a>(&'a self, kind: Kind, limit: u32, after: Option<&'a str>) -> StoreFuture<'a, Page<String>> {
        Box::pin(async move {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
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
        })
    }

    fn delete_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let out = self
                .client
                .delete_item()
                .table_name(&self.table)
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
        })
    }

    fn take_slice<'a>(
        &'a self,
        bucket: &'a str,
        cadence: Cadence,
        want: u32,
        now_us: Micros,
    ) -> StoreFuture<'a, Slice> {
        Box::pin(async move {
            let pk = format!("BUCKET#{bucket}");
            let step = cadence.interval_us;
            // No slice holds more than a burst: every token must conform when granted.
            let burst = u32::try_from(cadence.tolerance_us / step + 1).unwrap_or(u32::MAX);
            let want = want.clamp(1, burst.max(1));
            let ttl = now_us / 1_000_000 + cadence.tolerance_us / 1_000_000 + BUCKET_KEEP_SECS;
            let names = || HashMap::from([("#ttl".to_owned(), "ttl".to_owned())]);
            let mut congested = self.congested.lock().map(|set| set.contains(bucket)).unwrap_or(false);
            for _ in 0..gcra_retry_limit() {
                if !congested {
                    // The bucket is idle (its arrival time is behind now): the slice starts now.
                    let done = self
                        .update(Update {
                            pk: &pk,
                            sk: ONLY,
                            expression: "SET tat = :end, #ttl = :ttl",
                            condition: Some("attribute_not_exists(tat) OR tat <= :now"),
                            names: names(),
                            values: values([
                                (":end", n(now_us + i64::from(want) * step)),
                                (":now", n(now_us)),
                                (":ttl", n(ttl)),
                            ]),
                        })
                        .await;
                    match done {
                        Ok(_) => {
                            self.remember_congestion(bucket, false);
                            return Ok(Slice::Granted { start_us: now_us, count: want });
                        }
                        // Not idle after all: fall through to the congested update.
                        Err(Lost::Condition) => {}
                        Err(Lost::Error(e)) => return Err(e),
                    }
                }
                // The bucket runs ahead of now: extend it, if all `want` tokens still conform.
                let limit = now_us + cadence.tolerance_us - i64::from(want.saturating_sub(1)) * step;
                let done = self
                    .update(Update {
                        pk: &pk,
                        sk: ONLY,
                        expression: "SET tat = tat + :span, #ttl = :ttl",
                        condition: Some("tat > :now AND tat <= :limit"),
                        names: names(),
                        values: values([
                            (":span", n(i64::from(want) * step)),
                            (":now", n(now_us)),
                            (":limit", n(limit)),
                            (":ttl", n(ttl)),
                        ]),
                    })
                    .await;
                match done {
                    Ok(Some(item)) => {
                        self.remember_congestion(bucket, true);
                        let end = num(&item, "tat").ok_or_else(|| StoreError::Failed("bucket without tat".into()))?;
                        return Ok(Slice::Granted { start_us: end - i64::from(want) * step, count: want });
                    }
                    Ok(None) => return Err(StoreError::Failed("update returned no attributes".to_owned())),
                    Err(Lost::Error(e)) => return Err(e),
                    Err(Lost::Condition) => {}
                }
                // Neither fits: read the bucket and take exactly what conforms, or learn when it will.
                let item = self.get(&pk, ONLY).await?;
                let seen = item.as_ref().and_then(|i| num(i, "tat"));
                let (slice, new_tat) = gcra_take(seen, cadence, want, now_us);
                let (Slice::Granted { .. }, Some(new_tat), Some(seen)) = (slice, new_tat, seen) else {
                    if seen.is_none_or(|t| t <= now_us) {
                        congested = false;
                        continue;
                    }
                    self.remember_congestion(bucket, true);
                    return Ok(slice);
                };
                if seen <= now_us {
                    congested = false;
                    continue;
                }
                let done = self
                    .update(Update {
                        pk: &pk,
                        sk: ONLY,
                        expression: "SET tat = :new, #ttl = :ttl",
                        condition: Some("tat = :seen"),
                        names: names(),
                        values: values([(":new", n(new_tat)), (":seen", n(seen)), (":ttl", n(ttl))]),
                    })
                    .await;
                match done {
                    Ok(_) => {
                        self.remember_congestion(bucket, true);
                        return Ok(slice);
                    }
                    Err(Lost::Condition) => congested = true,
                    Err(Lost::Error(e)) => return Err(e),
                }
            }
            // Lost every race: others are taking this bucket's tokens right now. Try again one interval later.
            Ok(Slice::Refused { retry_at_us: now_us + step })
        })
    }

    fn take_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        want: u64,
        day: NaiveDate,
    ) -> StoreFuture<'a, QuotaTake> {
        Box::pin(async move {
            let pk = quota_pk(counter.plan, counter.key);
            let sk = counter.period_start.to_string();
            let ttl = epoch_secs(counter.period_start) + QUOTA_KEEP_SECS;
            let names = || HashMap::from([("#ttl".to_owned(), "ttl".to_owned()), ("#day".to_owned(), day_label(day))]);
            let Some(allowance) = allowance else {
                // Unlimited: count only.
                self.update(Update {
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
                let done = self
                    .update(Update {
                        pk: &pk,
                        sk: &sk,
                        expression: "SET remaining = if_not_exists(remaining, :allow) - :n, \
                                     #day = if_not_exists(#day, :zero) + :n, #ttl = if_not_exists(#ttl, :ttl)",
                        condition: Some("attribute_not_exists(remaining) OR remaining >= :n"),
                        names: names(),
                        values: values([(":allow", n(allowance)), (":n", n(ask)), (":zero", n(0)), (":ttl", n(ttl))]),
                    })
                    .await;
                match done {
                    Ok(item) => {
                        let remaining = item.as_ref().and_then(|i| num(i, "remaining"));
                        return Ok(QuotaTake { granted: ask, remaining });
                    }
                    Err(Lost::Error(e)) => return Err(e),
                    Err(Lost::Condition) => {
                        // Fewer left than asked: ask for what is left.
                        let item = self.get(&pk, &sk).await?;
                        let left = item.as_ref().and_then(|i| num(i, "remaining")).unwrap_or(0);
                        if left <= 0 {
                            return Ok(QuotaTake { granted: 0, remaining: Some(left) });
                        }
                        ask = ask.min(u64::try_from(left).unwrap_or(0));
                    }
                }
            }
            Ok(QuotaTake { granted: 0, remaining: None })
        })
    }

    fn adjust_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        delta: i64,
        day: NaiveDate,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
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
                None => (
                    "SET #ttl = if_not_exists(#ttl, :ttl) ADD #day :neg",
                    values([(":neg", n(-delta)), (":ttl", n(ttl))]),
                ),
            };
            self.update(Update { pk: &pk, sk: &sk, expression, condition: None, names, values: vals }).await?;
            Ok(())
        })
    }

    fn grant_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        extra: u64,
    ) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let pk = quota_pk(counter.plan, counter.key);
            let sk = counter.period_start.to_string();
            let ttl = epoch_secs(counter.period_start) + QUOTA_KEEP_SECS;
            let item = self
                .update(Update {
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
        })
    }

    fn quota_records<'a>(
        &'a self,
        plan: &'a str,
        key: &'a str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreFuture<'a, Vec<QuotaRecord>> {
        Box::pin(async move {
            let mut records = Vec::new();
            let mut start_key = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                    .expression_attribute_values(":pk", s(quota_pk(plan, key)))
                    .expression_attribute_values(":from", s(from.to_string()))
                    .expression_attribute_values(":to", s(to.to_string()))
                    .consistent_read(true)
                    .set_exclusive_start_key(start_key)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&e))?;
                for item in out.items.unwrap_or_default() {
                    records.push(QuotaRecord {
                        period_start: text(&item, "sk").and_then(|d| d.parse().ok()),
                        remaining: num(&item, "remaining"),
                        extra: num(&item, "extra").unwrap_or(0),
                        used_by_day: item
                            .keys()
                            .filter_map(|name| Some((parse_day_label(name)?, num(&item, name)?)))
                            .collect(),
                    });
                }
                start_key = out.last_evaluated_key;
                if start_key.is_none() {
                    return Ok(records);
                }
            }
        })
    }
}
