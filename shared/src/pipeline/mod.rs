//! The request pipeline: a fixed list of stages, one file each, sharing one [`Exchange`] per request.
//!
//! Every stage has one shape, [`Stage`] (or its sync twin [`SyncStage`]): it reads and writes the exchange and
//! either goes on (`Ok`) or ends the request with an error that already knows API Gateway's answer. What a stage
//! needs beyond the exchange it holds itself, built once from the definition. Stages never call each other;
//! [`Pipeline::run`] below reads as the life of a request (also in `docs/architecture.md`).

mod access_log;
mod admit;
mod api_key;
mod authenticate;
pub mod cache;
mod compress;
mod cors;
mod decompress;
mod exchange;
mod gateway_responses;
mod integrate;
mod limits;
mod metrics;
mod parameter_mapping;
mod policy;
mod respond;
mod route;
mod trace;
mod traffic;
mod usage_page;
mod validate;

use std::sync::Arc;

use crate::{
    auth::lambda::PresetEvent,
    backends::Backends,
    cache::ResponseCache,
    clients::MissingClient,
    config::Definition,
    error::{GatewayError, RateLimit},
    metering::{Caller, Meter},
    metrics::{Metrics, traffic::TrafficTally},
    request::{Authorized, GatewayRequest, GatewayResponse},
};

pub use admit::{MAX_BODY_BYTES, MAX_HEADER_BYTES};
pub use exchange::Exchange;
pub use respond::{MAX_REPLY_BYTES, error_response, identify};

/// One step in the life of a request.
pub(crate) trait Stage {
    /// Does the stage's one job on the exchange; an error ends the request with API Gateway's answer for it.
    async fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError>;
}

/// [`Stage`] for steps that never wait.
pub(crate) trait SyncStage {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError>;
}

/// What the stages before the integration established about an admitted caller.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    pub authorized: Option<Authorized>,
    pub caller: Option<Caller>,
    pub rate_limit: Option<RateLimit>,
}

/// Why a pipeline could not be built from a definition.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Routes(#[from] crate::route_table::RouteTableError),
    #[error(transparent)]
    Client(#[from] MissingClient),
    #[error("routes require API keys or throttles, and no usage-plan store was configured")]
    NoStore,
}

/// The pipeline of one definition and stage. Build once (cold start), run per request.
pub struct Pipeline {
    admit: admit::Admit,
    preflight: cors::Preflight,
    usage_page: usage_page::UsagePage,
    route: Arc<route::MatchRoute>,
    policy: policy::CheckPolicy,
    authenticate: authenticate::Authenticate,
    api_key: api_key::IdentifyKey,
    limits: limits::ApplyLimits,
    decompress: decompress::Decompress,
    validate: validate::Validate,
    cache_lookup: cache::CacheLookup,
    integrate: integrate::Integrate,
    cache_store: cache::CacheStore,
    map_response: parameter_mapping::MapResponse,
    respond: respond::Respond,
    cors_headers: cors::CorsHeaders,
    compress: compress::Compress,
    access_log: access_log::AccessLog,
    tracing: trace::Tracing,
    metrics: metrics::RecordMetrics,
    traffic: traffic::CountTraffic,
    meter: Option<Arc<Meter>>,
    cache: Option<Arc<ResponseCache>>,
}

impl Pipeline {
    pub fn new(definition: &Definition, backends: &Backends) -> Result<Self, BuildError> {
        let tracing = trace::Tracing::new(definition, backends);
        // On a traced stage every store call of a recorded request is a span.
        let store = backends.store.clone().map(|store| tracing.store(store));
        let meter = match (&store, definition.uses_store()) {
            (Some(store), _) => {
                Some(Arc::new(Meter::new(Arc::clone(store), backends.clock(), definition.api_keys.cache_seconds)))
            }
            (None, true) => return Err(BuildError::NoStore),
            (None, false) => None,
        };
        let context = Arc::new(definition.api_context(&backends.account));
        let route = Arc::new(route::MatchRoute::new(&definition.routes, definition.api_type)?);
        let cors = cors::CorsRules::new(definition);
        let cache = definition.cache.clone().map(|settings| {
            let store = store.clone().map(|s| s as Arc<dyn crate::store::cache::CacheStore>);
            Arc::new(ResponseCache::new(&definition.stage, settings, store, backends.clock()))
        });
        Ok(Self {
            admit: admit::Admit,
            preflight: cors::Preflight { rules: cors.clone(), routes: Arc::clone(&route) },
            usage_page: usage_page::UsagePage::new(definition, meter.clone()),
            route,
            policy: policy::CheckPolicy::new(definition, Arc::clone(&context)),
            authenticate: authenticate::Authenticate::new(definition, backends, Arc::clone(&context))?,
            api_key: api_key::IdentifyKey::new(definition, meter.clone()),
            limits: limits::ApplyLimits::new(definition, meter.clone()),
            decompress: decompress::Decompress { enabled: definition.minimum_compression_size.is_some() },
            validate: validate::Validate::new(definition),
            cache_lookup: cache::CacheLookup::new(definition, cache.clone()),
            cache_store: cache::CacheStore {
                cache: cache.clone(),
                per_route: definition.routes.iter().map(|r| r.cache.clone()).collect(),
            },
            integrate: integrate::Integrate::new(definition, backends, Arc::clone(&context))?,
            map_response: parameter_mapping::MapResponse::new(definition, Arc::clone(&context)),
            respond: respond::Respond {
                api: definition.api_type,
                customise: gateway_responses::Customise {
                    responses: definition.gateway_responses.clone(),
                    context: Arc::clone(&context),
                },
            },
            cors_headers: cors::CorsHeaders { rules: cors },
            compress: compress::Compress { minimum_size: definition.minimum_compression_size },
            access_log: access_log::AccessLog {
                spec: definition.access_log.clone(),
                context,
                account_id: backends.account.id.clone(),
                sink: backends.lines(),
            },
            tracing,
            metrics: metrics::RecordMetrics {
                metrics: definition.metrics.clone().map(|spec| {
                    let (api, stage) = (&definition.api_name, &definition.stage);
                    let (clock, sink) = (backends.clock(), backends.lines());
                    Arc::new(Metrics::new(spec, definition.api_type, api, stage, false, clock, sink))
                }),
            },
            traffic: traffic::CountTraffic {
                tally: store.map(|store| Arc::new(TrafficTally::new(&definition.stage, store, backends.clock()))),
            },
            meter,
            cache,
        })
    }

    /// This instance's response cache, when the stage caches anything.
    pub fn cache(&self) -> Option<&Arc<ResponseCache>> {
        self.cache.as_ref()
    }

    /// This instance's CloudWatch metrics, unless the definition turns them off.
    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.metrics.as_ref()
    }

    /// This instance's counts of answers per day, when there is a store to add them to.
    pub fn traffic(&self) -> Option<&Arc<TrafficTally>> {
        self.traffic.tally.as_ref()
    }

    /// This instance's meter, when the definition meters anything.
    pub fn meter(&self) -> Option<&Arc<Meter>> {
        self.meter.as_ref()
    }

    /// Runs one request through every stage and returns the response to send.
    pub async fn run(&self, request: GatewayRequest) -> GatewayResponse {
        let mut ex = Exchange::new(request);
        self.tracing.begin(&mut ex);
        // A recorded request's store calls find its recorder on the task.
        let recorder = ex.recorder.clone();
        let processed = crate::trace::scope(recorder, self.process(&mut ex)).await;
        if let Err(error) = processed {
            ex.error = Some(error);
        }
        let response = self.finish(ex);
        // Once a minute a request's end also adds the instance's daily counts to the store.
        self.traffic.settle().await;
        response
    }

    /// Answers `request` with `error` without running it through the stages (a front end refused it before the
    /// gateway could read it all), with the ids and access-log line any answer gets.
    pub fn refuse(&self, request: GatewayRequest, error: GatewayError) -> GatewayResponse {
        let mut ex = Exchange::new(request);
        ex.error = Some(error);
        self.finish(ex)
    }

    /// Runs the stages before the integration only (WebSocket `$connect`): what they established about the
    /// caller, or the shaped refusal to send instead. A Lambda authorizer gets `authorizer_event`.
    pub async fn admit(
        &self,
        request: GatewayRequest,
        authorizer_event: Option<PresetEvent>,
    ) -> Result<Admission, GatewayResponse> {
        let mut ex = Exchange::new(request);
        ex.authorizer_event = authorizer_event;
        self.tracing.begin(&mut ex);
        let admitted = async {
            self.admit.run(&mut ex)?;
            self.identify(&mut ex).await?;
            self.limits.run(&mut ex).await
        };
        match admitted.await {
            Ok(()) => ex.response = Some(GatewayResponse::new(http::StatusCode::OK, http::HeaderMap::new(), "")),
            Err(error) => ex.error = Some(error),
        }
        let admission =
            Admission { authorized: ex.authorized.take(), caller: ex.caller.take(), rate_limit: ex.rate_limit };
        let admitted = ex.error.is_none();
        let response = self.finish(ex);
        self.traffic.settle().await;
        if admitted { Ok(admission) } else { Err(response) }
    }

    /// The life of a request, up to its answer.
    async fn process(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        // 1. Refuse what API Gateway would refuse before spending anything on it (400, 413).
        self.admit.run(ex)?;
        // 2. A CORS preflight is answered here: nothing after may refuse or count it (204).
        self.preflight.run(ex)?;
        if ex.preflight {
            return Ok(());
        }
        // The key holder's usage page, before routing: it is no route of the API, and never metered (403).
        self.usage_page.run(ex).await?;
        if ex.response.is_some() {
            return Ok(());
        }
        // 3-6. Route, policy, authorizer, API key: who calls what.
        self.identify(ex).await?;
        // 7. Read a compressed body, now that the caller is known (400, 413, 415).
        self.decompress.run(ex)?;
        // 8. The route's request validator, before metering: a request refused anyway is never charged (400).
        self.validate.run(ex)?;
        // 9. Throttles, then the key's quota (429).
        self.limits.run(ex).await?;
        // 10. The cached answer, if the route has one (403 for a refresh the caller may not make).
        self.cache_lookup.run(ex).await?;
        // 11. The route's backend, unless the cache answered: Lambda, HTTP or mock (502, 504, 413).
        self.integrate.run(ex).await?;
        // 12. Keep the backend's answer for the next caller.
        self.cache_store.run(ex).await?;
        // The route's responseParameters, on every answer, cached or not: each is mapped for its own request.
        self.map_response.run(ex)
    }

    /// The stages that establish who is calling which route, cheapest refusal first.
    async fn identify(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        // 3. Select the route in API Gateway's order; every later stage is per route (404).
        self.route.run(ex)?;
        // 4. The resource policy's source-IP rules, the API's then the route's (403).
        self.policy.run(ex)?;
        // 5. The route's authorizer: a JWT verified in process, or a Lambda authorizer, cached (401, 403, 500).
        self.authenticate.run(ex).await?;
        // 6. The caller's API key and the usage plan covering this stage, where the route requires one (403).
        self.api_key.run(ex).await
    }

    /// The stages that run for every request, however it ended.
    fn finish(&self, mut ex: Exchange) -> GatewayResponse {
        // 13. The answer: API Gateway's (or the definition's) error answer, ids, rate-limit headers.
        let _ = self.respond.run(&mut ex);
        // 14. CORS headers for an allowed origin, errors included.
        let _ = self.cors_headers.run(&mut ex);
        // 15. Compress the body when the client accepts it.
        let _ = self.compress.run(&mut ex);
        // 16. One access-log line (or none, for a success the sample rate skips).
        let _ = self.access_log.run(&mut ex);
        // 17. Count it in this instance's metrics; an EMF line once flushSeconds have passed.
        let _ = self.metrics.run(&mut ex);
        // 18. Count it on today's row of the dashboard; the store hears of it once a minute.
        let _ = self.traffic.run(&mut ex);
        // The request's X-Ray documents, when it was recorded; never waits.
        self.tracing.end(&ex);
        ex.response.unwrap_or_else(|| error_response(&GatewayError::Internal("no response".into()), self.respond.api))
    }
}
