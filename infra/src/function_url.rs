//! What a Lambda Function URL does around the router: turns an HTTP request into its payload 2.0 event
//! (behaviour reference §11) and the function's 2.0 response back into HTTP.

use std::net::SocketAddr;

use aws_lambda_events::{
    apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse},
    encodings::Body,
};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header, request::Parts};
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use tollgate_core::event::{body, join_values, time::request_time};

/// Builds the event a Function URL would deliver for this request, received at `now_ms`.
pub fn to_event(
    parts: &Parts,
    payload: &Bytes,
    peer: SocketAddr,
    local: SocketAddr,
    now_ms: i64,
) -> ApiGatewayV2httpRequest {
    let mut headers = HeaderMap::with_capacity(parts.headers.keys_len() + 4);
    let mut cookies = Vec::new();
    for name in parts.headers.keys() {
        let values = parts.headers.get_all(name);
        if name == header::COOKIE {
            // Function URLs deliver cookies as an array, one entry per cookie, and keep the header too.
            for v in values.iter().filter_map(|v| v.to_str().ok()) {
                cookies.extend(v.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
            }
        }
        // Repeated headers arrive joined with ","; a single value is shared, not copied.
        if let Some(v) = join_values(values.iter(), b",") {
            headers.insert(name.clone(), v);
        }
    }
    let trace = format!("Root=1-{:08x}-{}", now_ms / 1_000, &uuid::Uuid::new_v4().simple().to_string()[..24]);
    // Like other AWS front doors, append the peer to any X-Forwarded-For the client sent.
    let peer_ip = peer.ip().to_string();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(previous) => format!("{previous}, {peer_ip}"),
        None => peer_ip.clone(),
    };
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-forwarded-port", local.port().to_string()),
        ("x-amzn-trace-id", trace),
    ] {
        if let Ok(v) = HeaderValue::try_from(value) {
            headers.insert(name, v);
        }
    }
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let query: Vec<(String, String)> = form_pairs(&raw_query);
    let domain = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_owned();

    let mut ev = ApiGatewayV2httpRequest::default();
    ev.version = Some("2.0".to_owned());
    ev.route_key = Some("$default".to_owned());
    ev.raw_path = Some(parts.uri.path().to_owned());
    ev.raw_query_string = Some(raw_query);
    ev.cookies = (!cookies.is_empty()).then_some(cookies);
    ev.query_string_parameters = query_map(query);
    let (text, is_base64) = body::encode(&headers, payload);
    ev.body = (!payload.is_empty()).then_some(text);
    ev.is_base64_encoded = is_base64;
    ev.headers = headers;

    let ctx = &mut ev.request_context;
    ctx.route_key = Some("$default".to_owned());
    ctx.stage = Some("$default".to_owned());
    ctx.account_id = Some("anonymous".to_owned());
    ctx.apiid = Some("tollgate-serve".to_owned());
    ctx.domain_prefix = domain.split('.').next().map(str::to_owned);
    ctx.domain_name = Some(domain);
    ctx.request_id = Some(uuid::Uuid::new_v4().to_string());
    ctx.time_epoch = now_ms;
    ctx.time = Some(request_time(ctx.time_epoch));
    ctx.http.method = parts.method.clone();
    ctx.http.path = Some(parts.uri.path().to_owned());
    ctx.http.protocol = Some(format!("{:?}", parts.version));
    ctx.http.source_ip = Some(peer_ip);
    ctx.http.user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    ev
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// `queryStringParameters`: repeated keys joined with ",".
fn query_map(pairs: Vec<(String, String)>) -> aws_lambda_events::query_map::QueryMap {
    let mut joined: Vec<(String, String)> = Vec::new();
    for (k, v) in pairs {
        match joined.iter_mut().find(|(key, _)| *key == k) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            None => joined.push((k, v)),
        }
    }
    joined.into_iter().map(|(k, v)| (k, vec![v])).collect::<std::collections::HashMap<_, _>>().into()
}

/// The HTTP response a Function URL sends for a 2.0 response.
pub fn to_http(response: ApiGatewayV2httpResponse) -> Response<axum::body::Body> {
    let status = u16::try_from(response.status_code)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let bytes = match response.body {
        Some(Body::Text(text)) if response.is_base64_encoded => STANDARD.decode(text).unwrap_or_default(),
        Some(Body::Text(text)) => text.into_bytes(),
        Some(Body::Binary(bytes)) => bytes,
        _ => Vec::new(),
    };
    let mut out = Response::new(axum::body::Body::from(bytes));
    *out.status_mut() = status;
    *out.headers_mut() = response.headers;
    for cookie in response.cookies {
        if let Ok(v) = HeaderValue::try_from(cookie) {
            out.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    out
}
