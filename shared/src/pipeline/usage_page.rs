//! Before routing: the key holder's usage page (`usagePage` in the definition). A `GET` of its path with an
//! `x-api-key` answers that key's own usage and remaining quota, as JSON or, for `Accept: text/html` or
//! `?format=html`, as a page. The key is the only way in, so no caller can name another key; a missing or
//! unknown key gets API Gateway's 403. The page is not a route: no authorizer, throttle or quota applies, and
//! it is never counted.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::{Exchange, Stage};
use crate::{
    admin::{Admin, pages},
    config::Definition,
    error::GatewayError,
    metering::Meter,
    request::GatewayResponse,
    usage::period,
};

pub(super) struct UsagePage {
    /// `None`: off, or nothing to read usage from.
    path: Option<String>,
    meter: Option<Arc<Meter>>,
    stage: String,
}

impl UsagePage {
    pub(super) fn new(definition: &Definition, meter: Option<Arc<Meter>>) -> Self {
        Self { path: definition.usage_page.clone(), meter, stage: definition.stage.clone() }
    }
}

impl Stage for UsagePage {
    async fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let (Some(path), Some(meter)) = (&self.path, &self.meter) else { return Ok(()) };
        if ex.request.method != Method::GET || ex.request.raw_path != *path {
            return Ok(());
        }
        let value = ex.request.header("x-api-key").filter(|v| !v.is_empty());
        let value = value.ok_or(GatewayError::Forbidden("no API key for the usage page"))?;
        let caller = meter.identify(value, &self.stage).await?;
        let now_ms = meter.now_us() / 1_000;
        let admin = Admin::new(meter.store().as_ref(), now_ms);
        let usage = admin
            .key_usage(&caller.key, &caller.plan, period::day_of(now_ms))
            .await
            .map_err(|e| GatewayError::Internal(format!("usage page: {e}")))?;
        let html = form_urlencoded::parse(ex.request.raw_query.as_bytes()).any(|(k, v)| k == "format" && v == "html")
            || ex.request.header("accept").is_some_and(|a| a.contains("text/html"));
        let (body, kind) = if html {
            (pages::key_page(&usage), "text/html; charset=utf-8")
        } else {
            (pages::key_json(&usage).to_string(), "application/json")
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        // One key's private numbers: no shared cache may keep them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        ex.response = Some(GatewayResponse::new(StatusCode::OK, headers, body));
        Ok(())
    }
}
