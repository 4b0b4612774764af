//! What a Lambda Function URL does around the router, without the JSON in between: an HTTP request becomes the
//! gateway request the router would decode from the Function URL's payload 2.0 event (behaviour reference §11),
//! and the gateway's response becomes the HTTP response a Function URL sends for the router's 2.0 reply.
//! Building the event and rendering the reply, only to read each back at once, cost `tollgate serve` a third
//! of its time; the tests below hold the direct path to the event path, field for field.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, header, request::Parts};
use bytes::Bytes;
use tollgate_core::{
    event::join_values,
    request::{GatewayRequest, GatewayResponse},
};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// The request the router sees for this HTTP request from `peer_ip` to `local_port`, received at `now_ms`.
pub fn to_request(
    mut parts: Parts,
    body: Bytes,
    peer_ip: &str,
    local_port: &HeaderValue,
    now_ms: i64,
) -> GatewayRequest {
    let text = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (user_agent, host) = (text(header::USER_AGENT), text(header::HOST));
    let mut malformed = None;
    // Usually no name repeats and there is no cookie: then the map as parsed is the event's.
    let plain = parts.headers.keys_len() == parts.headers.len() && !parts.headers.contains_key(header::COOKIE);
    let mut headers =
        if plain { std::mem::take(&mut parts.headers) } else { function_url_headers(&parts.headers, &mut malformed) };
    let id = uuid::Uuid::new_v4();
    add_forwarding(&mut headers, peer_ip, local_port, now_ms, &id);
    let mut text_id = uuid::Uuid::encode_buffer();
    GatewayRequest {
        raw_query: parts.uri.query().unwrap_or("").to_owned(),
        headers,
        body,
        source_ip: peer_ip.to_owned(),
        user_agent,
        request_id: id.hyphenated().encode_lower(&mut text_id).to_owned(),
        time_epoch_ms: now_ms,
        domain_name: Some(host.unwrap_or_else(|| "localhost".to_owned())),
        protocol: format!("{:?}", parts.version),
        malformed,
        ..GatewayRequest::new(parts.method, parts.uri.path())
    }
}

/// What AWS front doors add to a request they pass on (HTTP and WebSocket handshakes alike): the peer appended
/// to any `X-Forwarded-For` the client sent, the protocol and port it arrived on, and `X-Amzn-Trace-Id`: the
/// caller's when it started a trace, else a new one from `id`.
pub fn add_forwarding(headers: &mut HeaderMap, peer_ip: &str, local_port: &HeaderValue, now_ms: i64, id: &uuid::Uuid) {
    headers.reserve(4);
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(previous) => HeaderValue::try_from(format!("{previous}, {peer_ip}")),
        None => HeaderValue::try_from(peer_ip),
    };
    if let Ok(v) = forwarded_for {
        headers.insert(X_FORWARDED_FOR, v);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    headers.insert(X_FORWARDED_PORT, local_port.clone());
    let continues = headers.get(&X_AMZN_TRACE_ID).and_then(|v| v.to_str().ok()).is_some_and(|t| t.contains("Root=1-"));
    if !continues {
        let mut text = uuid::Uuid::encode_buffer();
        let trace = format!("Root=1-{:08x}-{}", now_ms / 1_000, &id.simple().encode_lower(&mut text)[8..]);
        if let Ok(v) = HeaderValue::try_from(trace) {
            headers.insert(X_AMZN_TRACE_ID, v);
        }
    }
}

/// Headers as a Function URL's event carries them and the router reads them back: repeated values joined
/// with ",", and cookies (lifted out as a list) joined with "; ".
fn function_url_headers(received: &HeaderMap, malformed: &mut Option<String>) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(received.keys_len() + 4);
    let mut cookies: Vec<&str> = Vec::new();
    for name in received.keys() {
        let values = received.get_all(name);
        if name == header::COOKIE {
            for v in values.iter().filter_map(|v| v.to_str().ok()) {
                cookies.extend(v.split(';').map(str::trim).filter(|c| !c.is_empty()));
            }
        }
        // A single value is shared, not copied.
        if let Some(v) = join_values(values.iter(), b",") {
            headers.insert(name.clone(), v);
        }
    }
    if !cookies.is_empty() {
        match HeaderValue::try_from(cookies.join("; ")) {
            Ok(v) => {
                headers.insert(header::COOKIE, v);
            }
            Err(_) => *malformed = Some("cookies are not valid header text".to_owned()),
        }
    }
    headers
}

/// The HTTP response a Function URL sends for the router's reply: payload 2.0 headers are single strings, so
/// repeated headers are joined with ", "; cookies stay one `Set-Cookie` each.
pub fn to_response(response: GatewayResponse) -> Response<axum::body::Body> {
    let GatewayResponse { status, headers, body } = response;
    let mut out = Response::new(axum::body::Body::from(body));
    *out.status_mut() = status;
    let target = out.headers_mut();
    target.reserve(headers.keys_len());
    for name in headers.keys() {
        let values = headers.get_all(name);
        if name == header::SET_COOKIE {
            values.iter().for_each(|v| _ = target.append(header::SET_COOKIE, v.clone()));
        } else if let Some(v) = join_values(values.iter(), b", ") {
            target.insert(name.clone(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! The direct path against the event path: what the Function URL event would carry, decoded by the router's
    //! own decoder, and the 2.0 reply rendered by the router and sent by a Function URL.

    use aws_lambda_events::{
        apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse},
        encodings::Body,
    };
    use base64::{Engine, engine::general_purpose::STANDARD};
    use tollgate_core::{
        clock::ManualClock,
        event::{GatewayEvent, Origin, body, render},
    };

    use std::net::SocketAddr;

    use super::*;

    const NOW_MS: i64 = 1_700_000_000_123;

    /// The payload 2.0 event a Function URL delivers for the request (what `tollgate serve` used to build).
    /// `direct` gives what both paths make up anew per request (the request id, the trace id).
    fn function_url_event(
        parts: &Parts,
        payload: &Bytes,
        direct: &GatewayRequest,
        peer: SocketAddr,
    ) -> ApiGatewayV2httpRequest {
        let mut ev = ApiGatewayV2httpRequest::default();
        ev.version = Some("2.0".to_owned());
        ev.route_key = Some("$default".to_owned());
        ev.raw_path = Some(parts.uri.path().to_owned());
        ev.raw_query_string = Some(parts.uri.query().unwrap_or("").to_owned());
        let cookies: Vec<String> = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned))
            .collect();
        ev.cookies = (!cookies.is_empty()).then_some(cookies);
        let mut headers = direct.headers.clone();
        // A Function URL keeps the client's own Cookie header beside the list.
        if let Some(v) = join_values(parts.headers.get_all(header::COOKIE).iter(), b",") {
            headers.insert(header::COOKIE, v);
        }
        let (text, is_base64) = body::encode(&headers, payload);
        ev.body = (!payload.is_empty()).then_some(text);
        ev.is_base64_encoded = is_base64;
        ev.headers = headers;
        let ctx = &mut ev.request_context;
        ctx.route_key = Some("$default".to_owned());
        ctx.stage = Some("$default".to_owned());
        ctx.domain_name = direct.domain_name.clone();
        ctx.request_id = Some(direct.request_id.clone());
        ctx.time_epoch = NOW_MS;
        ctx.http.method = parts.method.clone();
        ctx.http.path = Some(parts.uri.path().to_owned());
        ctx.http.protocol = Some(format!("{:?}", parts.version));
        ctx.http.source_ip = Some(peer.ip().to_string());
        ctx.http.user_agent = direct.user_agent.clone();
        ev
    }

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::post("/pets/a%20b?x=1&x=2&y=%F0%9F%90%88").version(http::Version::HTTP_11);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_request_is_what_the_router_decodes_from_the_function_url_event() {
        let peer: SocketAddr = "192.0.2.7:50000".parse().expect("addr");
        let port = HeaderValue::from_static("3000");
        let clock = ManualClock::at(NOW_MS * 1_000);
        for (headers, payload) in [
            (
                vec![
                    ("host", "localhost:3000"),
                    ("user-agent", "curl/8"),
                    ("x-many", "1"),
                    ("x-many", "2"),
                    ("cookie", "a=1; b=2"),
                    ("cookie", "c=3"),
                    ("x-forwarded-for", "203.0.113.9"),
                    ("content-type", "application/json"),
                ],
                Bytes::from_static(b"{\"json\":true}"),
            ),
            (vec![("content-type", "image/png")], Bytes::from_static(&[0, 159, 146, 150, 255])),
            (vec![], Bytes::new()),
        ] {
            let parts = parts(&headers);
            let direct = to_request(parts.clone(), payload.clone(), &peer.ip().to_string(), &port, NOW_MS);
            let event = function_url_event(&parts, &payload, &direct, peer);
            let decoded = GatewayEvent::Http(Box::new(event)).into_request(&clock);
            assert_eq!(direct.method, decoded.method);
            assert_eq!(direct.raw_path, decoded.raw_path);
            assert_eq!(direct.raw_query, decoded.raw_query);
            // Trace ids are random: compare everything else.
            let without_trace = |h: &HeaderMap| {
                let mut h = h.clone();
                h.remove("x-amzn-trace-id");
                h
            };
            assert_eq!(without_trace(&direct.headers), without_trace(&decoded.headers), "{headers:?}");
            assert_eq!(direct.body, decoded.body);
            assert_eq!(
                (&direct.source_ip, &direct.user_agent, &direct.request_id, direct.time_epoch_ms),
                (&decoded.source_ip, &decoded.user_agent, &decoded.request_id, decoded.time_epoch_ms)
            );
            assert_eq!((&direct.domain_name, &direct.protocol), (&decoded.domain_name, &decoded.protocol));
            assert_eq!(direct.malformed, decoded.malformed);
        }
    }

    #[test]
    fn a_trace_the_caller_started_continues_and_others_start_here() {
        let port = HeaderValue::from_static("3000");
        let given = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
        let request = to_request(parts(&[("x-amzn-trace-id", given)]), Bytes::new(), "192.0.2.7", &port, NOW_MS);
        assert_eq!(request.header("x-amzn-trace-id"), Some(given));
        for not_a_trace in [vec![], vec![("x-amzn-trace-id", "hello")]] {
            let request = to_request(parts(&not_a_trace), Bytes::new(), "192.0.2.7", &port, NOW_MS);
            let trace = request.header("x-amzn-trace-id").expect("a trace starts");
            assert!(trace.starts_with(&format!("Root=1-{:08x}-", NOW_MS / 1000)), "{trace}");
            assert_eq!(trace.len(), "Root=1-".len() + 8 + 1 + 24, "{trace}");
        }
    }

    /// What a Function URL sends for a 2.0 reply (what `tollgate serve` used to do after rendering one).
    fn sent_for(reply: ApiGatewayV2httpResponse) -> Response<axum::body::Body> {
        let bytes = match reply.body {
            Some(Body::Text(text)) if reply.is_base64_encoded => STANDARD.decode(text).expect("base64"),
            Some(Body::Text(text)) => text.into_bytes(),
            Some(Body::Binary(bytes)) => bytes,
            _ => Vec::new(),
        };
        let mut out = Response::new(axum::body::Body::from(bytes));
        *out.status_mut() = http::StatusCode::from_u16(u16::try_from(reply.status_code).expect("u16")).expect("status");
        *out.headers_mut() = reply.headers;
        for cookie in reply.cookies {
            out.headers_mut().append(header::SET_COOKIE, HeaderValue::try_from(cookie).expect("cookie"));
        }
        out
    }

    #[tokio::test]
    async fn a_response_is_what_a_function_url_sends_for_the_rendered_reply() {
        let mut headers = HeaderMap::new();
        headers.append("x-many", HeaderValue::from_static("1"));
        headers.append("x-many", HeaderValue::from_static("2"));
        headers.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
        headers.append(header::SET_COOKIE, HeaderValue::from_static("b=2"));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        for body in [Bytes::from_static(&[0, 159, 255]), Bytes::new()] {
            let response = GatewayResponse::new(http::StatusCode::CREATED, headers.clone(), body);
            let direct = to_response(response.clone());
            let tollgate_core::event::GatewayEventResponse::Http(reply) = render(Origin::Http, response) else {
                panic!("a 2.0 reply");
            };
            let sent = sent_for(*reply);
            assert_eq!(direct.status(), sent.status());
            assert_eq!(direct.headers(), sent.headers());
            let bytes = |r: Response<axum::body::Body>| async {
                axum::body::to_bytes(r.into_body(), usize::MAX).await.expect("body")
            };
            assert_eq!(bytes(direct).await, bytes(sent).await);
        }
    }
}
