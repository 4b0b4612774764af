//! API Gateway's CloudWatch metrics, published as Embedded Metric Format lines (`emf.rs`). An instance gathers
//! what its requests did per series (API and stage, plus the route, plus the key when `perKey` is on) and
//! writes one line per series at most every `flushSeconds`, checked at the end of each request: on Lambda that
//! is the end of an invocation, the last moment the instance is sure to run. [`Metrics::flush`] writes the rest
//! (`tollgate serve` on shutdown, tests).
//!
//! Names, units and dimensions are API Gateway's: `ApiId` for HTTP and WebSocket APIs, `ApiName` for REST
//! APIs; `Stage`; then `Route` (HTTP, WebSocket) or `Method` and `Resource` (REST).

pub mod emf;
pub mod traffic;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
};

use self::emf::{Histogram, Name};
use crate::{
    clock::{Micros, SharedClock},
    config::metrics::MetricsSpec,
    logging::LineSink,
    request::ApiType,
};

const fn count(name: &'static str) -> Name {
    Name { name, unit: "Count" }
}
const fn millis(name: &'static str) -> Name {
    Name { name, unit: "Milliseconds" }
}

/// Every metric, in the order documents list them; the constants below index it.
pub const NAMES: [Name; 12] = [
    count("Count"),
    count("4XXError"),
    count("5XXError"),
    millis("Latency"),
    millis("IntegrationLatency"),
    count("CacheHitCount"),
    count("CacheMissCount"),
    count("ConnectCount"),
    count("MessageCount"),
    count("IntegrationError"),
    count("ClientError"),
    count("ExecutionError"),
];
const COUNT: usize = 0;
const ERROR_4XX: usize = 1;
const ERROR_5XX: usize = 2;
const LATENCY: usize = 3;
const INTEGRATION_LATENCY: usize = 4;
const CACHE_HIT: usize = 5;
const CACHE_MISS: usize = 6;
const CONNECT_COUNT: usize = 7;
const MESSAGE_COUNT: usize = 8;
const INTEGRATION_ERROR: usize = 9;
const CLIENT_ERROR: usize = 10;
const EXECUTION_ERROR: usize = 11;

/// What one HTTP request did, as its metrics see it.
#[derive(Debug, Clone, Copy)]
pub struct RequestSample<'a> {
    /// The matched route key (`GET /pets/{id}`); `None` when no route matched.
    pub route: Option<&'a str>,
    pub method: &'a str,
    /// The caller's API key id, for the per-key dimension.
    pub key_id: Option<&'a str>,
    pub status: u16,
    pub latency_ms: f64,
    /// Absent when no backend was called (mock, cache hit, refusal), as in API Gateway.
    pub integration_ms: Option<f64>,
    /// On cached routes: whether the cache answered.
    pub cache_hit: Option<bool>,
}

/// What a WebSocket event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsOutcome {
    Connect,
    Message,
    /// Refused before the integration (4xx, bad frame, no route, throttled).
    ClientError,
    /// The gateway failed (store, posting).
    ExecutionError,
    /// The integration failed.
    IntegrationError,
}

/// Where a series sits below API and stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// No route matched: published under API and stage only.
    Stage,
    Route(String),
    Resource {
        method: String,
        resource: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    place: Place,
    key_id: Option<String>,
}

/// One histogram per metric of [`NAMES`]; a metric nothing recorded is left out of the document.
type Series = [Histogram; NAMES.len()];

#[derive(Debug)]
struct Window {
    started_us: Micros,
    series: BTreeMap<SeriesKey, Series>,
}

/// One instance's metrics: gathered per request, written as EMF through a [`LineSink`].
#[derive(Debug)]
pub struct Metrics {
    spec: MetricsSpec,
    api_type: ApiType,
    /// `ApiId` or `ApiName`, and its value.
    api: (&'static str, String),
    stage: String,
    clock: SharedClock,
    sink: Arc<dyn LineSink>,
    window: Mutex<Window>,
}

impl Metrics {
    /// `websocket`: the API is a WebSocket API (named by `ApiId` whatever the definition's type).
    pub fn new(
        spec: MetricsSpec,
        api_type: ApiType,
        api: &str,
        stage: &str,
        websocket: bool,
        clock: SharedClock,
        sink: Arc<dyn LineSink>,
    ) -> Self {
        let api_type = if websocket { ApiType::Http } else { api_type };
        let api_dimension = if api_type == ApiType::Rest { "ApiName" } else { "ApiId" };
        let started_us = clock.now_us();
        Self {
            spec,
            api_type,
            api: (api_dimension, api.to_owned()),
            stage: stage.to_owned(),
            clock,
            sink,
            window: Mutex::new(Window { started_us, series: BTreeMap::new() }),
        }
    }

    /// Counts one HTTP request, then flushes if `flushSeconds` have passed since the last flush.
    pub fn record_request(&self, sample: &RequestSample<'_>) {
        let place = match sample.route {
            None => Place::Stage,
            Some(route) if self.api_type == ApiType::Rest => {
                let (method, resource) = route.split_once(' ').unwrap_or((sample.method, route));
                Place::Resource { method: method.to_owned(), resource: resource.to_owned() }
            }
            Some(route) => Place::Route(route.to_owned()),
        };
        let bit = |on: bool| if on { 1.0 } else { 0.0 };
        self.add(place, sample.key_id, |series| {
            series[COUNT].add(1.0);
            series[ERROR_4XX].add(bit((400..500).contains(&sample.status)));
            series[ERROR_5XX].add(bit(sample.status >= 500));
            series[LATENCY].add(sample.latency_ms);
            if let Some(ms) = sample.integration_ms {
                series[INTEGRATION_LATENCY].add(ms);
            }
            if let Some(hit) = sample.cache_hit {
                series[CACHE_HIT].add(bit(hit));
                series[CACHE_MISS].add(bit(!hit));
            }
        });
    }

    /// Counts one WebSocket outcome on `route` (`$connect`, `$default`, an action's key).
    pub fn record_ws(&self, route: &str, key_id: Option<&str>, outcome: WsOutcome) {
        let name = match outcome {
            WsOutcome::Connect => CONNECT_COUNT,
            WsOutcome::Message => MESSAGE_COUNT,
            WsOutcome::ClientError => CLIENT_ERROR,
            WsOutcome::ExecutionError => EXECUTION_ERROR,
            WsOutcome::IntegrationError => INTEGRATION_ERROR,
        };
        self.add(Place::Route(route.to_owned()), key_id, |series| series[name].add(1.0));
    }

    fn add(&self, place: Place, key_id: Option<&str>, update: impl FnOnce(&mut Series)) {
        let key = SeriesKey { place, key_id: key_id.filter(|_| self.spec.per_key).map(str::to_owned) };
        let now = self.clock.now_us();
        let due = {
            let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
            update(window.series.entry(key).or_default());
            let due = now - window.started_us >= i64::from(self.spec.flush_seconds) * crate::clock::MICROS_PER_SEC;
            due.then(|| take(&mut window, now))
        };
        if let Some(series) = due {
            self.write(now, &series);
        }
    }

    /// Writes everything gathered since the last flush, whatever the time.
    pub fn flush(&self) {
        let now = self.clock.now_us();
        let series = take(&mut self.window.lock().unwrap_or_else(PoisonError::into_inner), now);
        self.write(now, &series);
    }

    /// Renders outside the lock, so requests finishing meanwhile do not wait on the write.
    fn write(&self, now_us: Micros, series: &BTreeMap<SeriesKey, Series>) {
        for (key, metrics) in series {
            let mut dimensions: Vec<(&str, &str)> = vec![(self.api.0, &self.api.1), ("Stage", &self.stage)];
            let mut sets = vec![vec![0, 1]];
            match &key.place {
                Place::Stage => {}
                Place::Route(route) => {
                    dimensions.push(("Route", route));
                    sets.push(vec![0, 1, 2]);
                }
                Place::Resource { method, resource } => {
                    dimensions.push(("Method", method));
                    dimensions.push(("Resource", resource));
                    sets.push(vec![0, 1, 2, 3]);
                }
            }
            if let Some(id) = &key.key_id {
                dimensions.push(("ApiKeyId", id));
                sets.push(vec![0, 1, dimensions.len() - 1]);
            }
            let metrics: Vec<(Name, &Histogram)> =
                NAMES.iter().zip(metrics).filter(|(_, h)| h.count() > 0).map(|(n, h)| (*n, h)).collect();
            let line = emf::document(&self.spec.namespace, now_us / 1_000, &dimensions, &sets, &metrics);
            self.sink.write_line(&line);
        }
    }
}

fn take(window: &mut Window, now_us: Micros) -> BTreeMap<SeriesKey, Series> {
    window.started_us = now_us;
    std::mem::take(&mut window.series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock::ManualClock, logging::Captured};

    fn metrics(api_type: ApiType, per_key: bool) -> (Metrics, Arc<Captured>) {
        let sink = Arc::new(Captured::default());
        let spec = MetricsSpec { per_key, ..MetricsSpec::default() };
        let clock = Arc::new(ManualClock::at(0));
        (Metrics::new(spec, api_type, "pets", "prod", false, clock, Arc::clone(&sink) as _), sink)
    }

    fn sample(route: Option<&str>) -> RequestSample<'_> {
        RequestSample {
            route,
            method: "GET",
            key_id: Some("k1"),
            status: 200,
            latency_ms: 1.0,
            integration_ms: None,
            cache_hit: Some(true),
        }
    }

    #[test]
    fn rest_apis_are_named_and_split_by_method_and_resource() {
        let (m, sink) = metrics(ApiType::Rest, false);
        m.record_request(&sample(Some("POST /pets/{id}")));
        m.flush();
        let doc: serde_json::Value = serde_json::from_str(&sink.take()[0]).expect("json");
        assert_eq!((doc["ApiName"].as_str(), doc["Method"].as_str()), (Some("pets"), Some("POST")));
        assert_eq!(doc["Resource"], "/pets/{id}");
        let sets = &doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
        assert_eq!(*sets, serde_json::json!([["ApiName", "Stage"], ["ApiName", "Stage", "Method", "Resource"]]));
        assert_eq!(
            (doc["CacheHitCount"]["Sum"].as_f64(), doc["CacheMissCount"]["Sum"].as_f64()),
            (Some(1.0), Some(0.0))
        );
        assert!(doc.get("ApiKeyId").is_none(), "no key dimension unless perKey");
    }

    #[test]
    fn per_key_adds_a_key_dimension_set() {
        let (m, sink) = metrics(ApiType::Http, true);
        m.record_request(&sample(Some("GET /pets")));
        m.record_request(&RequestSample { key_id: Some("k2"), ..sample(Some("GET /pets")) });
        m.record_ws("$default", None, WsOutcome::Message);
        m.flush();
        let docs: Vec<serde_json::Value> = sink.take().iter().map(|l| serde_json::from_str(l).expect("json")).collect();
        assert_eq!(docs.len(), 3, "a series per route and key");
        let keyed = docs.iter().find(|d| d["ApiKeyId"] == "k2").expect("k2");
        assert_eq!(
            keyed["_aws"]["CloudWatchMetrics"][0]["Dimensions"][2],
            serde_json::json!(["ApiId", "Stage", "ApiKeyId"])
        );
        m.flush();
        assert!(sink.take().is_empty(), "an empty window writes nothing");
    }
}
