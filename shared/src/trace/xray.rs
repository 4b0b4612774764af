//! Sending a request's spans to the X-Ray daemon: a UDP datagram per document, each the daemon's header line
//! `{"format": "json", "version": 1}` and the document's JSON. On Lambda the function's segment is Lambda's, so
//! the gateway's work goes as an independent subsegment under it, its spans nested; elsewhere (`tollgate
//! serve`) the gateway sends its own segment, as API Gateway's stage does.
//!
//! A send never waits and never fails the request: the socket is non-blocking, and a document that cannot go
//! (too big, no daemon, a full buffer) is counted and logged at debug.

use std::{
    borrow::Cow,
    net::{SocketAddr, ToSocketAddrs, UdpSocket},
    sync::atomic::{AtomicU64, Ordering},
};

use serde::Serialize;

use super::{Origin, Span, SpanId, SpanKind, TraceContext};
use crate::clock::Micros;

/// What precedes every document in a datagram.
const HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";
/// The daemon's datagram limit.
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// Why the daemon's address could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmitterError {
    #[error("AWS_XRAY_DAEMON_ADDRESS {0:?} names no host:port")]
    Address(String),
    #[error("cannot open a UDP socket to the X-Ray daemon: {0}")]
    Socket(#[from] std::io::Error),
}

/// The gateway's own segment, for requests whose trace did not come from Lambda.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// `{api name}/{stage}`, as API Gateway names its stage's segment.
    pub name: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    pub status: u16,
    pub start_us: Micros,
    pub end_us: Micros,
}

/// A connected, non-blocking UDP socket to the daemon. Built once at cold start.
#[derive(Debug)]
pub struct XrayEmitter {
    socket: UdpSocket,
    sent: AtomicU64,
    failed: AtomicU64,
}

impl XrayEmitter {
    /// Connects to `address` as Lambda gives it: `host:port`, or `tcp:host:port udp:host:port` (the UDP one is
    /// used). Resolves the name once, here.
    pub fn connect(address: &str) -> Result<Self, EmitterError> {
        let udp = address.split_whitespace().find_map(|part| part.strip_prefix("udp:")).unwrap_or(address.trim());
        let bad = || EmitterError::Address(address.to_owned());
        let target: SocketAddr = udp.to_socket_addrs().map_err(|_| bad())?.next().ok_or_else(bad)?;
        let local: SocketAddr = if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = UdpSocket::bind(local)?;
        socket.connect(target)?;
        socket.set_nonblocking(true)?;
        Ok(Self { socket, sent: AtomicU64::new(0), failed: AtomicU64::new(0) })
    }

    /// Sends the document of one traced request. Should it not fit in a datagram, its spans go as independent
    /// subsegments instead, each in its own.
    pub fn emit(&self, ctx: &TraceContext, segment: &Segment<'_>, spans: &[Span]) {
        let mut doc = document(ctx, segment, spans);
        if self.send(&doc) {
            return;
        }
        let children = std::mem::take(&mut doc.subsegments);
        for mut child in children {
            child.kind = Some("subsegment");
            child.trace_id.clone_from(&doc.trace_id);
            child.parent_id = Some(doc.id.clone());
            self.send(&child);
        }
        self.send(&doc);
    }

    /// Documents sent, and documents that could not be.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }

    /// Sends one document; `false` when it was too big to (the caller may split it), counted as failed.
    fn send(&self, document: &impl Serialize) -> bool {
        let mut datagram = Vec::with_capacity(1024);
        datagram.extend_from_slice(HEADER);
        let written = serde_json::to_writer(&mut datagram, document);
        let outcome = match written {
            Err(e) => Err(e.to_string()),
            Ok(()) if datagram.len() > MAX_DATAGRAM => {
                Err(format!("{} bytes, over the daemon's 64 KB", datagram.len()))
            }
            Ok(()) => self.socket.send(&datagram).map(drop).map_err(|e| e.to_string()),
        };
        match outcome {
            Ok(()) => _ = self.sent.fetch_add(1, Ordering::Relaxed),
            Err(why) => {
                let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::debug!(%why, failed, "an X-Ray document was not sent");
            }
        }
        datagram.len() <= MAX_DATAGRAM
    }
}

/// The one document for a request, its spans nested in it: the gateway's segment, or on Lambda the gateway's
/// subsegment under the function's segment (an independent document with `type`, `parent_id` and `trace_id`).
/// One datagram per request: each send is a system call, the largest part of tracing's cost.
pub fn document<'a>(ctx: &TraceContext, segment: &Segment<'a>, spans: &'a [Span]) -> Document<'a> {
    let (kind, id, parent_id) = match ctx.origin {
        Origin::Lambda => (Some("subsegment"), SpanId::new(super::random() as u64), Some(ctx.segment)),
        Origin::Caller | Origin::Started => (None, ctx.segment, ctx.xray.parent),
    };
    let mut doc = Document {
        kind,
        name: segment.name.into(),
        id: id.to_string(),
        trace_id: Some(ctx.xray.root.xray()),
        parent_id: parent_id.map(|p| p.to_string()),
        start_time: seconds(segment.start_us),
        end_time: seconds(segment.end_us.max(segment.start_us)),
        origin: kind.is_none().then_some("AWS::ApiGateway::Stage"),
        http: Some(Http {
            request: Some(HttpRequest { method: segment.method, url: segment.url }),
            response: Some(HttpResponse { status: segment.status }),
        }),
        subsegments: spans.iter().map(subsegment).collect(),
        ..Document::default()
    };
    doc.flag(Some(segment.status), false);
    doc
}

fn subsegment(span: &Span) -> Document<'_> {
    let mut doc = Document {
        name: span.name.as_str().into(),
        id: span.id.to_string(),
        start_time: seconds(span.start_us),
        end_time: seconds(span.end_us.max(span.start_us)),
        ..Document::default()
    };
    match &span.kind {
        SpanKind::Authorizer => {}
        SpanKind::Store { operation } => {
            // X-Ray draws an AWS service's node for `aws` subsegments: DynamoDB is one, the embedded store not.
            doc.namespace = (span.name == "DynamoDB").then_some("aws");
            doc.annotations = Some(Annotations { operation });
        }
        SpanKind::Lambda { function } => {
            doc.namespace = Some("aws");
            doc.aws = Some(Aws { operation: "Invoke", function_name: function });
        }
        SpanKind::Http { method, url } => {
            doc.namespace = Some("remote");
            let response = span.status.map(|status| HttpResponse { status });
            doc.http = Some(Http { request: Some(HttpRequest { method, url }), response });
        }
    }
    doc.flag(span.status, span.fault);
    doc
}

/// An X-Ray segment or subsegment document (the fields Tollgate sends).
#[derive(Debug, Default, Serialize)]
pub struct Document<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub name: Cow<'a, str>,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub start_time: f64,
    pub end_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<Http<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aws: Option<Aws<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<Annotations>,
    #[serde(skip_serializing_if = "is_false")]
    fault: bool,
    #[serde(skip_serializing_if = "is_false")]
    error: bool,
    #[serde(skip_serializing_if = "is_false")]
    throttle: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subsegments: Vec<Document<'a>>,
}

impl Document<'_> {
    /// X-Ray's three failure flags: `throttle` (429) with `error` (4xx), and `fault` (5xx, or no answer).
    fn flag(&mut self, status: Option<u16>, fault: bool) {
        let status = status.unwrap_or(0);
        self.fault = fault || status >= 500;
        self.error = !self.fault && (400..500).contains(&status);
        self.throttle = status == 429;
    }
}

#[derive(Debug, Serialize)]
struct Http<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<HttpRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<HttpResponse>,
}

#[derive(Debug, Serialize)]
struct HttpRequest<'a> {
    method: &'a str,
    url: &'a str,
}

#[derive(Debug, Serialize)]
struct HttpResponse {
    status: u16,
}

#[derive(Debug, Serialize)]
struct Aws<'a> {
    operation: &'static str,
    function_name: &'a str,
}

#[derive(Debug, Serialize)]
struct Annotations {
    operation: &'static str,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// X-Ray's times: seconds since the epoch, with microseconds.
fn seconds(us: Micros) -> f64 {
    us as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use serde_json::{Value, json};

    use super::*;
    use crate::trace::{SpanId, TraceContext};

    const NOW: Micros = 1_700_000_000_250_000;

    fn span(kind: SpanKind, status: Option<u16>) -> Span {
        Span { id: SpanId::new(7), name: "s".into(), kind, start_us: NOW, end_us: NOW + 1_500, status, fault: false }
    }

    fn json_of(doc: &Document<'_>) -> Value {
        serde_json::to_value(doc).expect("serializes")
    }

    #[test]
    fn a_started_trace_sends_its_segment_with_the_spans_nested() {
        let ctx = TraceContext::continue_from(&HeaderMap::new(), None, NOW);
        let segment =
            Segment { name: "api/prod", method: "GET", url: "/x", status: 429, start_us: NOW, end_us: NOW + 2_000 };
        let spans = [
            span(SpanKind::Http { method: "GET".into(), url: "http://b/x".into() }, Some(503)),
            span(SpanKind::Store { operation: "take_slice" }, None),
        ];
        let doc = json_of(&document(&ctx, &segment, &spans));
        assert_eq!(doc["id"], ctx.segment.to_string());
        assert!(doc.get("parent_id").is_none() && doc.get("type").is_none(), "{doc}");
        assert_eq!((doc["throttle"].clone(), doc["error"].clone()), (json!(true), json!(true)));
        assert_eq!(doc["start_time"], json!(1_700_000_000.25));
        let subs = doc["subsegments"].as_array().expect("nested");
        assert_eq!((subs[0]["fault"].clone(), subs[0]["namespace"].clone()), (json!(true), json!("remote")));
        assert_eq!(subs[0]["http"]["response"]["status"], 503);
        assert_eq!(subs[1]["annotations"]["operation"], "take_slice");
        assert!(subs[1].get("namespace").is_none(), "the embedded store is no AWS service");
    }

    #[test]
    fn on_lambda_the_gateway_is_a_subsegment_of_lambda_s_segment() {
        let lambda = "Root=1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2;Parent=2222222222222222;Sampled=1";
        let ctx = TraceContext::continue_from(&HeaderMap::new(), Some(lambda), NOW);
        let segment = Segment { name: "api/prod", method: "GET", url: "/", status: 200, start_us: NOW, end_us: NOW };
        let doc = json_of(&document(&ctx, &segment, &[span(SpanKind::Lambda { function: "f".into() }, None)]));
        assert_eq!((doc["type"].as_str(), doc["parent_id"].as_str()), (Some("subsegment"), Some("2222222222222222")));
        assert_eq!(doc["trace_id"], "1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2");
        assert!(doc.get("origin").is_none() && doc.get("fault").is_none(), "{doc}");
        assert_eq!(doc["subsegments"][0]["aws"], json!({ "operation": "Invoke", "function_name": "f" }));
    }

    #[test]
    fn datagrams_carry_the_header_line_and_a_document_too_big_is_split() {
        let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let address = format!("tcp:127.0.0.1:1 udp:{}", daemon.local_addr().expect("addr"));
        let emitter = XrayEmitter::connect(&address).expect("connects");
        assert!(emitter.send(&json!({ "name": "n" })));
        let mut buf = vec![0; MAX_DATAGRAM + 100];
        let n = daemon.recv(&mut buf).expect("a datagram");
        assert_eq!(&buf[..n], b"{\"format\": \"json\", \"version\": 1}\n{\"name\":\"n\"}");
        // Two 40 KB spans do not fit one datagram: each goes on its own, then the segment.
        let ctx = TraceContext::continue_from(&HeaderMap::new(), None, NOW);
        let segment = Segment { name: "api/prod", method: "GET", url: "/", status: 200, start_us: NOW, end_us: NOW };
        let mut big = span(SpanKind::Authorizer, None);
        big.name = "x".repeat(40_000);
        emitter.emit(&ctx, &segment, &[big.clone(), big]);
        assert_eq!(emitter.counts(), (4, 1), "the whole counted once as not sent");
        for _ in 0..2 {
            let n = daemon.recv(&mut buf).expect("a subsegment");
            let doc: Value = serde_json::from_slice(&buf[HEADER.len()..n]).expect("JSON");
            assert_eq!(
                (doc["type"].as_str(), doc["parent_id"].as_str()),
                (Some("subsegment"), Some(&*ctx.segment.to_string()))
            );
        }
        assert!(matches!(XrayEmitter::connect("nowhere"), Err(EmitterError::Address(_))));
    }
}
