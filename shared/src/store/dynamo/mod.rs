//! The DynamoDB store: one table, `pk`/`sk` strings, one sparse index (`gsi1`) for listing keys and plans,
//! and a `ttl` attribute. Item shapes and access patterns are in `docs/keys-and-plans.md` ("Table design").
//! Every write that can race is a conditional update; nothing uses transactions (they cost double and dynalite
//! lacks them). One file per record kind: key values and records (`records.rs`), throttle buckets
//! (`buckets.rs`), quota counters (`quotas.rs`), WebSocket connections (`connections.rs`), the dashboard's
//! answers per day (`traffic.rs`); the table itself in `table.rs`.

mod buckets;
mod cache;
mod connections;
mod quotas;
mod records;
mod table;
mod traffic;

pub use cache::MAX_SHARED_ENTRY_BYTES;

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use aws_sdk_dynamodb::{
    Client,
    config::{
        http::HttpResponse,
        interceptors::InterceptorContext,
        retry::{ClassifyRetry, RetryAction, RetryPartition},
    },
    error::{ProvideErrorMetadata, SdkError},
    operation::update_item::builders::UpdateItemFluentBuilder,
    types::{AttributeValue, ReturnValue},
};
use chrono::NaiveDate;

use super::{
    Cadence, DayTraffic, Kind, Page, QuotaCounter, QuotaRecord, QuotaTake, Slice, Store, StoreError, StoreFuture,
    Traffic,
    cache::{CacheStore, Generations},
};
use crate::{clock::Micros, settings::Settings, usage::KeyHash};

/// The name of the listing index.
pub const INDEX: &str = "gsi1";
/// The sort key of items that have only one item per partition.
const ONLY: &str = "-";

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
    /// Per bucket, whether its last known state was "behind now" (try the congested update first).
    congested: Mutex<HashSet<String>>,
    /// The attribute of quota counters where this client's takes leave their token (`quotas.rs`).
    take_slot: String,
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
    pub async fn connect(options: &DynamoOptions, settings: &Settings) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(500))
            .operation_attempt_timeout(Duration::from_millis(1_000))
            .operation_timeout(Duration::from_millis(2_500))
            .build();
        let mut loader = crate::clients::aws::loader(settings, options.endpoint.is_some())
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2));
        if let Some(url) = &options.endpoint {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let mut client = aws_sdk_dynamodb::config::Builder::from(&config);
        if let Some(url) = &options.endpoint {
            // The SDK's retries draw on a retry quota shared by every client in a partition (by default, every
            // DynamoDB client of the process); a local server is a server of its own and gets a quota of its own.
            client = client.retry_partition(RetryPartition::new(format!("dynamodb {url}")));
        }
        Self::from_client(Client::from_conf(client.build()), &options.table)
    }

    pub fn from_client(client: Client, table: &str) -> Self {
        Self { client, table: table.to_owned(), congested: Mutex::new(HashSet::new()), take_slot: quotas::take_slot() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn update(&self, request: Update<'_>) -> Result<Option<Item>, Lost> {
        match self.update_call(request).send().await {
            Ok(out) => Ok(out.attributes),
            Err(e) if is_condition_failure(&e) => Err(Lost::Condition),
            Err(e) => Err(Lost::Error(sdk_error(&e))),
        }
    }

    /// An unconditional update that must not be applied twice, sent at most once (see [`RetryOnlyRefused`]).
    async fn update_once(&self, request: Update<'_>) -> Result<Option<Item>, StoreError> {
        let once = aws_sdk_dynamodb::config::Builder::default().retry_classifier(RetryOnlyRefused);
        match self.update_call(request).customize().config_override(once).send().await {
            Ok(out) => Ok(out.attributes),
            Err(e) => Err(once_error(&e)),
        }
    }

    fn update_call(&self, request: Update<'_>) -> UpdateItemFluentBuilder {
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
        call
    }

    /// Every item of partition `pk` whose sort key is between `from` and `to`, inclusive, page by page
    /// (consistent reads: a report must see the takes it follows).
    async fn query_between(&self, pk: &str, from: &str, to: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| sdk_error(&e))?;
            items.extend(out.items.unwrap_or_default());
            start_key = out.last_evaluated_key;
            if start_key.is_none() {
                return Ok(items);
            }
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

fn detail<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("")),
        None => aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
    }
}

/// Throttling and transport trouble are "unavailable" (the fail mode applies); anything else is a failure.
fn sdk_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> StoreError {
    let code = e.code();
    let detail = detail(e);
    match (e, code) {
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

// ---- writes applied at most once ----
//
// A quota's give-backs, debt charges and grants are unconditional adds: applied twice, a give-back would admit
// more than the quota. The SDK retries a request whose answer was lost (a timeout, a dropped connection, a 5xx)
// even when DynamoDB had applied it, so these writes opt out of that: they are retried only after DynamoDB
// refused them with a 4xx (throttled, invalid: nothing applied), and a failure that may have come after the
// write was applied is reported as `StoreError::OutcomeUnknown`, for the caller to settle in the direction that
// never over-admits (`metering::quota`). Making them idempotent instead would need a ledger of applied request
// tokens in the counter item, growing with every writer, or transactions' client request tokens (twice the
// cost, and dynalite lacks them).

/// Allows a retry only after DynamoDB answered with a 4xx, which applies nothing; forbids it otherwise.
#[derive(Debug)]
struct RetryOnlyRefused;

impl ClassifyRetry for RetryOnlyRefused {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(answer) if answer.status().is_client_error() => RetryAction::NoActionIndicated,
            _ => RetryAction::RetryForbidden,
        }
    }

    fn name(&self) -> &'static str {
        "RetryOnlyRefused"
    }
}

/// A failed at-most-once write: not applied when DynamoDB answered with a 4xx or no connection was made;
/// otherwise it may have been.
fn once_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    e: &SdkError<E, HttpResponse>,
) -> StoreError {
    let not_applied = match e {
        SdkError::ServiceError(answer) => answer.raw().status().is_client_error(),
        SdkError::ConstructionFailure(_) => true,
        SdkError::DispatchFailure(failure) => failure.as_connector_error().is_some_and(|c| never_connected(c)),
        _ => false,
    };
    if not_applied { sdk_error(e) } else { StoreError::OutcomeUnknown(detail(e)) }
}

/// Whether the HTTP client failed to connect at all (so nothing was sent).
fn never_connected(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(hyper_util::client::legacy::Error::is_connect)
        {
            return true;
        }
        next = error.source();
    }
    false
}

impl CacheStore for DynamoStore {
    fn get_entry<'a>(&'a self, key: &'a str, now_ms: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(cache::get_entry(self, key, now_ms))
    }

    fn put_entry<'a>(&'a self, key: &'a str, entry: &'a [u8], expires_at_ms: i64) -> StoreFuture<'a, ()> {
        Box::pin(cache::put_entry(self, key, entry, expires_at_ms))
    }

    fn delete_entry<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(cache::delete_entry(self, key))
    }

    fn generations<'a>(&'a self, stage: &'a str) -> StoreFuture<'a, Generations> {
        Box::pin(cache::generations(self, stage))
    }

    fn flush<'a>(&'a self, stage: &'a str, tag: Option<&'a str>) -> StoreFuture<'a, Generations> {
        Box::pin(cache::flush(self, stage, tag))
    }
}

impl Store for DynamoStore {
    fn name(&self) -> &'static str {
        "DynamoDB"
    }

    fn insert_key_value<'a>(&'a self, hash: &'a KeyHash, key_id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(records::insert_key_value(self, hash, key_id))
    }

    fn find_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, Option<(String, Option<i64>)>> {
        Box::pin(records::find_key_value(self, hash))
    }

    fn expire_key_value<'a>(&'a self, hash: &'a KeyHash, not_after_ms: i64) -> StoreFuture<'a, ()> {
        Box::pin(records::expire_key_value(self, hash, not_after_ms))
    }

    fn delete_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, ()> {
        Box::pin(records::delete_key_value(self, hash))
    }

    fn put_record<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
        doc: &'a str,
        version: u64,
        expected: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(records::put_record(self, kind, id, doc, version, expected))
    }

    fn get_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(records::get_record(self, kind, id))
    }

    fn list_records<'a>(&'a self, kind: Kind, limit: u32, after: Option<&'a str>) -> StoreFuture<'a, Page<String>> {
        Box::pin(records::list_records(self, kind, limit, after))
    }

    fn delete_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(records::delete_record(self, kind, id))
    }

    fn take_slice<'a>(
        &'a self,
        bucket: &'a str,
        cadence: Cadence,
        want: u32,
        now_us: Micros,
    ) -> StoreFuture<'a, Slice> {
        Box::pin(buckets::take_slice(self, bucket, cadence, want, now_us))
    }

    fn take_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        want: u64,
        day: NaiveDate,
    ) -> StoreFuture<'a, QuotaTake> {
        Box::pin(quotas::take_quota(self, counter, allowance, want, day))
    }

    fn adjust_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        delta: i64,
        day: NaiveDate,
    ) -> StoreFuture<'a, ()> {
        Box::pin(quotas::adjust_quota(self, counter, allowance, delta, day))
    }

    fn grant_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        extra: u64,
    ) -> StoreFuture<'a, i64> {
        Box::pin(quotas::grant_quota(self, counter, allowance, extra))
    }

    fn quota_records<'a>(
        &'a self,
        plan: &'a str,
        key: &'a str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreFuture<'a, Vec<QuotaRecord>> {
        Box::pin(quotas::quota_records(self, plan, key, from, to))
    }

    fn add_traffic<'a>(&'a self, stage: &'a str, day: NaiveDate, counts: Traffic) -> StoreFuture<'a, ()> {
        Box::pin(traffic::add_traffic(self, stage, day, counts))
    }

    fn traffic<'a>(&'a self, from: NaiveDate, to: NaiveDate) -> StoreFuture<'a, Vec<DayTraffic>> {
        Box::pin(traffic::traffic(self, from, to))
    }
}
