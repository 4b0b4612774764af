//! Traces: which trace a request continues (the caller's `X-Amzn-Trace-Id` or Lambda's `_X_AMZN_TRACE_ID`,
//! W3C `traceparent`), the headers each backend call carries on, and, with tracing on, the spans of the
//! authorizer, the store calls and the integration, sent to the X-Ray daemon when the request ends.
//!
//! A [`TraceContext`] is made per request from its headers. Spans are recorded into a [`Recorder`]; code that
//! cannot be handed one (the store, under the metering engine) records through the task-local one
//! [`Recorder::scope`] sets, and records nothing when none is set. Nothing here waits or fails a request.

pub mod header;
pub mod xray;

use std::sync::{Arc, Mutex};

use http::{HeaderMap, HeaderValue};

pub use header::{HeaderError, SpanId, TraceId, TraceParent, XrayHeader};

use crate::clock::{Clock, Micros};

pub const X_AMZN_TRACE_ID: &str = "x-amzn-trace-id";
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// A new random id: 128 bits from the process's fast generator (never a per-call system call).
pub fn random() -> u128 {
    uuid::Uuid::new_v4().as_u128()
}

/// Where a request's trace came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Lambda's `_X_AMZN_TRACE_ID`: its function segment is the gateway's, so only subsegments are sent.
    Lambda,
    /// The caller's `X-Amzn-Trace-Id`.
    Caller,
    /// Started here (none was given, or it did not parse).
    Started,
}

/// The trace one request continues.
#[derive(Debug, Clone)]
pub struct TraceContext {
    pub origin: Origin,
    /// The X-Ray trace as it came (its Root, the sender's Parent, its sampling decision).
    pub xray: XrayHeader,
    /// The W3C trace: the caller's `traceparent`, or one on the X-Ray trace's id.
    pub w3c: TraceParent,
    /// The caller's `tracestate`, passed on unchanged with a `traceparent` that parsed; dropped otherwise.
    pub tracestate: Option<HeaderValue>,
    /// No usable `traceparent` came: the W3C trace follows the X-Ray one, sampling included.
    pub w3c_started: bool,
    /// The id the gateway's own documents hang under: Lambda's function segment, or the gateway's segment.
    pub segment: SpanId,
}

impl TraceContext {
    /// The trace a request with `headers` continues; `lambda` is the invocation's `_X_AMZN_TRACE_ID` on Lambda.
    /// What does not parse is replaced by a trace started at `now_us`.
    pub fn continue_from(headers: &HeaderMap, lambda: Option<&str>, now_us: Micros) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let ids = random();
        let from_lambda = lambda.and_then(|t| XrayHeader::parse(t).ok()).filter(|h| h.parent.is_some());
        let (origin, xray) = match (from_lambda, text(X_AMZN_TRACE_ID).map(XrayHeader::parse)) {
            (Some(lambda), _) => (Origin::Lambda, lambda),
            (None, Some(Ok(caller))) => (Origin::Caller, caller),
            (None, _) => {
                let root = TraceId::start(now_us / 1_000_000, ids);
                (Origin::Started, XrayHeader { root, parent: None, sampled: None })
            }
        };
        let segment = match (origin, xray.parent) {
            (Origin::Lambda, Some(parent)) => parent,
            _ => SpanId::new((ids >> 64) as u64),
        };
        let (w3c, tracestate, w3c_started) = match text(TRACEPARENT).map(TraceParent::parse) {
            Some(Ok(parent)) => (parent, headers.get(TRACESTATE).cloned(), false),
            _ => {
                let flags = u8::from(xray.sampled == Some(true));
                (TraceParent { trace_id: xray.root, parent: segment, flags }, None, true)
            }
        };
        Self { origin, xray, w3c, tracestate, w3c_started, segment }
    }

    /// Whether documents are sent for this request when tracing is on: unless the sender decided not to
    /// sample it. Lambda only records a trace it sampled, so its decision is final.
    pub fn sampled(&self) -> bool {
        self.xray.sampled != Some(false)
    }

    /// The headers a backend call continues the trace with, from span `span` (a new id per hop). With
    /// `recording` (tracing on and sampled) the X-Ray header names the span as Parent; otherwise the X-Ray
    /// header goes on as it came, since no document will ever name that span.
    pub fn propagate(&self, span: SpanId, recording: bool) -> Propagation {
        let xray = if recording {
            XrayHeader { parent: Some(span), sampled: Some(true), ..self.xray.clone() }
        } else {
            self.xray.clone()
        };
        // A W3C trace the caller gave keeps its flags; one started here says what X-Ray decided.
        let flags =
            if self.w3c_started { u8::from(recording || self.xray.sampled == Some(true)) } else { self.w3c.flags };
        let traceparent = TraceParent { parent: span, flags, ..self.w3c };
        Propagation {
            xray: value(&xray.to_string()),
            traceparent: value(&traceparent.to_string()),
            tracestate: self.tracestate.clone(),
        }
    }
}

/// Our own ids are hex and `=;-`: always a valid header value.
fn value(text: &str) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The trace headers one backend call carries.
#[derive(Debug, Clone)]
pub struct Propagation {
    pub xray: HeaderValue,
    pub traceparent: HeaderValue,
    pub tracestate: Option<HeaderValue>,
}

impl Propagation {
    /// Sets the headers on an outgoing HTTP request, replacing the caller's.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(X_AMZN_TRACE_ID, self.xray.clone());
        headers.insert(TRACEPARENT, self.traceparent.clone());
        match &self.tracestate {
            Some(state) => _ = headers.insert(TRACESTATE, state.clone()),
            None => _ = headers.remove(TRACESTATE),
        }
    }

    /// The X-Ray header, for a Lambda invocation's trace header.
    pub fn xray_text(&self) -> Option<&str> {
        self.xray.to_str().ok()
    }
}

/// What a span timed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanKind {
    /// The route's authorizer (a JWT check, or a Lambda authorizer's invocation).
    Authorizer,
    /// One call to the store (keys, plans, metering state, the shared cache); `operation` names it.
    Store { operation: &'static str },
    /// A Lambda function invoked (the integration's or an authorizer's).
    Lambda { function: String },
    /// An HTTP backend.
    Http { method: String, url: String },
}

/// One timed piece of a request's work.
#[derive(Debug, Clone)]
pub struct Span {
    pub id: SpanId,
    pub name: String,
    pub kind: SpanKind,
    pub start_us: Micros,
    pub end_us: Micros,
    /// The backend's HTTP status, when it answered one.
    pub status: Option<u16>,
    /// It failed (X-Ray's `fault`): no answer, or the call's own error.
    pub fault: bool,
}

/// The spans of one request. Clones share the list.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Span>>>);

tokio::task_local! {
    static CURRENT: Option<Recorder>;
}

impl Recorder {
    pub fn record(&self, span: Span) {
        if let Ok(mut spans) = self.0.lock() {
            spans.push(span);
        }
    }

    /// Takes the spans recorded so far.
    pub fn take(&self) -> Vec<Span> {
        self.0.lock().map(|mut spans| std::mem::take(&mut *spans)).unwrap_or_default()
    }

    /// The task's current recorder, when a request being recorded runs on it.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok().flatten()
    }
}

/// Runs `work` with `recorder` as the task's current one (see [`timed`]); `None` records nothing. One path for
/// both, so the work's future is polled from one place (the pipeline's is most of the router's code).
pub async fn scope<F: Future>(recorder: Option<Recorder>, work: F) -> F::Output {
    CURRENT.scope(recorder, work).await
}

/// One backend call continuing a request's trace (an integration, an authorizer): the headers it carries, and,
/// when the request is recorded, where its span goes. Each hop has its own span id.
pub struct Hop<'a> {
    pub headers: Propagation,
    pub span: SpanId,
    recorder: Option<&'a Recorder>,
    clock: &'a dyn Clock,
}

impl<'a> Hop<'a> {
    /// A hop of `ctx`; `recorder` is the request's when its spans are sent.
    pub fn new(ctx: &TraceContext, recorder: Option<&'a Recorder>, clock: &'a dyn Clock) -> Self {
        let span = SpanId::new(random() as u64);
        Self { headers: ctx.propagate(span, recorder.is_some()), span, recorder, clock }
    }
}

/// A span being timed: where it goes and when it began. Not generic, so each traced call adds little code.
struct Started {
    recorder: Recorder,
    id: SpanId,
    start_us: Micros,
}

impl Started {
    fn at(recorder: Recorder, id: SpanId, clock: &dyn Clock) -> Self {
        Self { recorder, id, start_us: clock.now_us() }
    }

    fn end(self, clock: &dyn Clock, name: &str, kind: SpanKind, status: Option<u16>, fault: bool) {
        let (id, start_us, end_us) = (self.id, self.start_us, clock.now_us());
        self.recorder.record(Span { id, name: name.to_owned(), kind, start_us, end_us, status, fault });
    }
}

/// Runs `call` as `hop`'s backend call, recording it as the hop's span when the request is recorded;
/// `status` reads the backend's HTTP status from a result. Without a hop it only runs `call`.
pub async fn record<T, E>(
    hop: Option<&Hop<'_>>,
    name: &str,
    kind: impl FnOnce() -> SpanKind,
    status: impl FnOnce(&T) -> Option<u16>,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = hop.and_then(|h| Some(Started::at(h.recorder?.clone(), h.span, h.clock)));
    // One await for both cases: two would make two copies of the call's code.
    let result = call.await;
    if let (Some(started), Some(hop)) = (started, hop) {
        let (status, fault) = match &result {
            Ok(answer) => (status(answer), false),
            Err(_) => (None, true),
        };
        started.end(hop.clock, name, kind(), status, fault);
    }
    result
}

/// Runs `call` and, when the task has a current recorder, records it as a span of `kind` named `name`, timed
/// on `clock`. Without one it only runs `call`: no clock read, no id.
pub async fn timed<T, E>(
    clock: &dyn Clock,
    name: &str,
    kind: SpanKind,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Recorder::current().map(|r| Started::at(r, SpanId::new(random() as u64), clock));
    let result = call.await;
    if let Some(started) = started {
        started.end(clock, name, kind, None, result.is_err());
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const NOW: Micros = 1_700_000_000_000_000;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), HeaderValue::from_str(v).expect("v"))).collect()
    }

    #[test]
    fn lambda_s_trace_wins_then_the_caller_s_then_a_new_one() {
        let caller = format!("Root={ROOT};Parent=1111111111111111;Sampled=1");
        let lambda = "Root=1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2;Parent=2222222222222222;Sampled=1";
        let on_lambda = TraceContext::continue_from(&headers(&[(X_AMZN_TRACE_ID, &caller)]), Some(lambda), NOW);
        assert_eq!(on_lambda.origin, Origin::Lambda);
        assert_eq!(on_lambda.segment.to_string(), "2222222222222222", "subsegments hang under Lambda's segment");
        let called = TraceContext::continue_from(&headers(&[(X_AMZN_TRACE_ID, &caller)]), None, NOW);
        assert_eq!((called.origin, called.xray.root.xray()), (Origin::Caller, ROOT.to_owned()));
        assert_ne!(called.segment.to_string(), "1111111111111111", "the gateway's own segment");
        // A Lambda trace without a Parent (no active tracing) does not make subsegment parents up.
        let bare = TraceContext::continue_from(&HeaderMap::new(), Some(&format!("Root={ROOT}")), NOW);
        assert_eq!(bare.origin, Origin::Started);
        let started = TraceContext::continue_from(&headers(&[(X_AMZN_TRACE_ID, "Root=nonsense")]), None, NOW);
        assert_eq!(started.origin, Origin::Started);
        assert!(started.xray.root.xray().starts_with(&format!("1-{:08x}-", NOW / 1_000_000)));
        assert_eq!(started.w3c.trace_id, started.xray.root, "one id in both formats");
    }

    #[test]
    fn each_hop_gets_a_new_parent_and_tracestate_only_with_its_traceparent() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let given = headers(&[
            (X_AMZN_TRACE_ID, &format!("Root={ROOT};Parent=1111111111111111")),
            (TRACEPARENT, parent),
            (TRACESTATE, "vendor=abc,other=1"),
        ]);
        let ctx = TraceContext::continue_from(&given, None, NOW);
        let span = SpanId::new(0xabc);
        let recording = ctx.propagate(span, true);
        assert_eq!(recording.xray, format!("Root={ROOT};Parent=0000000000000abc;Sampled=1"));
        assert_eq!(recording.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000abc-01");
        assert_eq!(recording.tracestate.as_ref().expect("kept"), "vendor=abc,other=1");
        // Not recording: the X-Ray header goes on as it came.
        assert_eq!(ctx.propagate(span, false).xray, format!("Root={ROOT};Parent=1111111111111111"));
        // A malformed traceparent is replaced, and its tracestate dropped.
        let mut out = headers(&[(TRACEPARENT, "00-zz"), (TRACESTATE, "vendor=abc")]);
        let ctx = TraceContext::continue_from(&out, None, NOW);
        ctx.propagate(span, false).apply(&mut out);
        let traceparent = out.get(TRACEPARENT).and_then(|v| v.to_str().ok()).expect("set");
        assert_eq!(traceparent, format!("00-{}-0000000000000abc-00", ctx.xray.root.w3c()));
        assert!(!out.contains_key(TRACESTATE));
        assert!(out.get(X_AMZN_TRACE_ID).is_some_and(|v| v.to_str().is_ok_and(|t| t.starts_with("Root=1-"))));
    }

    #[tokio::test]
    async fn spans_are_recorded_only_inside_a_scope() {
        let clock = crate::clock::ManualClock::at(NOW);
        let call = || async { Ok::<_, ()>(1) };
        let kind = || SpanKind::Store { operation: "get_entry" };
        assert_eq!(timed(&clock, "store", kind(), call()).await, Ok(1), "no recorder: just the call");
        let recorder = Recorder::default();
        scope(Some(recorder.clone()), async { timed(&clock, "store", kind(), call()).await }).await.expect("ok");
        let spans = recorder.take();
        assert_eq!(spans.len(), 1);
        assert_eq!((spans[0].start_us, spans[0].kind.clone()), (NOW, kind()));
    }
}
