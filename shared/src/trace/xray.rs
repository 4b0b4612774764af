//! Sending a request's spans to the X-Ray daemon: one UDP datagram per document, each the daemon's header line
//! `{"format": "json", "version": 1}` and the document's JSON. On Lambda the function's segment is Lambda's, so
//! the gateway's work goes as independent subsegments under it; elsewhere (`tollgate serve`) the gateway sends
//! its own segment too, as API Gateway's stage does.
//!
//! A send never waits and never fails the request: the socket is non-blocking, and a document that cannot go
//! (too big, no daemon, a full buffer) is counted and logged at debug.

use std::{
    net::{SocketAddr, ToSocketAddrs, UdpSocket},
    sync::atomic::{AtomicU64, Ordering},
};

use serde_json::{Value, json};

use super::{Origin, Span, SpanKind, TraceContext};
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

    /// Sends the documents of one traced request: its spans, and the gateway's segment unless Lambda's is.
    pub fn emit(&self, ctx: &TraceContext, segment: &Segment<'_>, spans: &[Span]) {
        for document in documents(ctx, segment, spans) {
            self.send(&document);
        }
    }

    /// Documents sent, and documents that could not be.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }

    fn send(&self, document: &Value) {
        let mut datagram = HEADER.to_vec();
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
    }
}

/// The documents for one request: subsegments (independent, with `type`, `parent_id` and `trace_id`), and the
/// gateway's segment first when the trace did not come from Lambda.
pub fn documents(ctx: &TraceContext, segment: &Segment<'_>, spans: &[Span]) -> Vec<Value> {
    let trace_id = ctx.xray.root.xray();
    let parent_id = ctx.segment.to_string();
    let mut out = Vec::with_capacity(spans.len() + 1);
    if ctx.origin != Origin::Lambda {
        let mut doc = json!({
            "name": segment.name,
            "id": parent_id,
            "trace_id": trace_id,
            "start_time": seconds(segment.start_us),
            "end_time": seconds(segment.end_us.max(segment.start_us)),
            "origin": "AWS::ApiGateway::Stage",
            "http": {
                "request": { "method": segment.method, "url": segment.url },
                "response": { "status": segment.status },
            },
        });
        if let Some(caller) = ctx.xray.parent {
            doc["parent_id"] = json!(caller.to_string());
        }
        flag(&mut doc, Some(segment.status), false);
        out.push(doc);
    }
    for span in spans {
        let mut doc = json!({
            "type": "subsegment",
            "name": span.name,
            "id": span.id.to_string(),
            "trace_id": trace_id,
            "parent_id": parent_id,
            "start_time": seconds(span.start_us),
            "end_time": seconds(span.end_us.max(span.start_us)),
        });
        match &span.kind {
            SpanKind::Authorizer => {}
            SpanKind::Store { operation } => {
                // X-Ray draws an AWS service's node for `aws` subsegments: DynamoDB is one, the embedded store not.
                if span.name == "DynamoDB" {
                    doc["namespace"] = json!("aws");
                }
                doc["annotations"] = json!({ "operation": operation });
            }
            SpanKind::Lambda { function } => {
                doc["namespace"] = json!("aws");
                doc["aws"] = json!({ "operation": "Invoke", "function_name": function });
            }
            SpanKind::Http { method, url } => {
                doc["namespace"] = json!("remote");
                doc["http"] = json!({ "request": { "method": method, "url": url } });
                if let Some(status) = span.status {
                    doc["http"]["response"] = json!({ "status": status });
                }
            }
        }
        flag(&mut doc, span.status, span.fault);
        out.push(doc);
    }
    out
}

/// X-Ray's three failure flags: `throttle` (429) with `error` (4xx), and `fault` (5xx, or no answer).
fn flag(doc: &mut Value, status: Option<u16>, fault: bool) {
    let status = status.unwrap_or(0);
    if fault || status >= 500 {
        doc["fault"] = json!(true);
    } else if (400..500).contains(&status) {
        doc["error"] = json!(true);
        if status == 429 {
            doc["throttle"] = json!(true);
        }
    }
}

/// X-Ray's times: seconds since the epoch, with microseconds.
fn seconds(us: Micros) -> f64 {
    us as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::trace::{SpanId, TraceContext};

    const NOW: Micros = 1_700_000_000_250_000;

    fn span(kind: SpanKind, status: Option<u16>) -> Span {
        Span { id: SpanId::new(7), name: "s".into(), kind, start_us: NOW, end_us: NOW + 1_500, status, fault: false }
    }

    #[test]
    fn a_started_trace_sends_the_segment_then_subsegments_under_it() {
        let ctx = TraceContext::continue_from(&HeaderMap::new(), None, NOW);
        let segment =
            Segment { name: "api/prod", method: "GET", url: "/x", status: 429, start_us: NOW, end_us: NOW + 2_000 };
        let spans = [
            span(SpanKind::Http { method: "GET".into(), url: "http://b/x".into() }, Some(503)),
            span(SpanKind::Store { operation: "take_slice" }, None),
        ];
        let docs = documents(&ctx, &segment, &spans);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0]["id"], ctx.segment.to_string());
        assert!(docs[0].get("parent_id").is_none() && docs[0].get("type").is_none());
        assert_eq!(
            (docs[0]["throttle"].clone(), docs[0]["start_time"].clone()),
            (json!(true), json!(1_700_000_000.25))
        );
        for sub in &docs[1..] {
            assert_eq!((sub["type"].as_str(), sub["parent_id"].as_str()), (Some("subsegment"), docs[0]["id"].as_str()));
            assert_eq!(sub["trace_id"], docs[0]["trace_id"]);
        }
        assert_eq!((docs[1]["fault"].clone(), docs[1]["namespace"].clone()), (json!(true), json!("remote")));
        assert_eq!(docs[2]["annotations"]["operation"], "take_slice");
    }

    #[test]
    fn on_lambda_only_subsegments_go_under_lambda_s_segment() {
        let lambda = "Root=1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2;Parent=2222222222222222;Sampled=1";
        let ctx = TraceContext::continue_from(&HeaderMap::new(), Some(lambda), NOW);
        let segment = Segment { name: "api/prod", method: "GET", url: "/", status: 200, start_us: NOW, end_us: NOW };
        let docs = documents(&ctx, &segment, &[span(SpanKind::Lambda { function: "f".into() }, None)]);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["parent_id"], "2222222222222222");
        assert_eq!(docs[0]["trace_id"], "1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2");
    }

    #[test]
    fn datagrams_carry_the_header_line_and_oversized_ones_are_counted_not_sent() {
        let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let emitter = XrayEmitter::connect(&format!("tcp:127.0.0.1:1 udp:{}", daemon.local_addr().expect("addr")))
            .expect("connects");
        emitter.send(&json!({ "name": "n" }));
        emitter.send(&json!({ "name": "x".repeat(MAX_DATAGRAM) }));
        assert_eq!(emitter.counts(), (1, 1));
        let mut buf = vec![0; MAX_DATAGRAM + 100];
        let n = daemon.recv(&mut buf).expect("a datagram");
        assert_eq!(&buf[..n], b"{\"format\": \"json\", \"version\": 1}\n{\"name\":\"n\"}");
        assert!(matches!(XrayEmitter::connect("nowhere"), Err(EmitterError::Address(_))));
    }
}
