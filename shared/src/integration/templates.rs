//! REST non-proxy integrations (`proxy: false`). The request template chosen by the request's content type
//! renders what the backend gets (the Lambda function's event, or the HTTP backend's body); the integration
//! response chosen by `selectionPattern` maps what it answers: status, header mappings, response template
//! (`docs/mapping-templates.md`). Templates were parsed at load; a request only renders them.
//!
//! Failures, as API Gateway answers them: an unmapped content type the passthrough behaviour refuses is a 415; a
//! body that is not JSON where it must be (a template reads it as JSON, or it is a Lambda event) is a 400 "Could
//! not parse request body into json"; a template failing at run time, or an answer no response matches without a
//! default, is a 500 "Internal server error", whose reason goes to the access log and never to the client.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, header};
use http_body_util::Full;
use serde_json::Value;

use super::{Integration, IntegrationCall};
use crate::{
    config::mapping::{HeaderSource, MappingSpec, Passthrough, ResponseSpec},
    error::GatewayError,
    event::proxy::{self, Recipient, TemplateParams},
    request::{GatewayRequest, GatewayResponse},
    velocity::{RenderError, RenderInput, RequestOverride, Template},
};

/// A Lambda or HTTP integration behind its mapping.
pub struct Mapped {
    backend: Integration,
    mapping: Arc<MappingSpec>,
    /// The stage's variables as templates read them, made at the first request (they never change).
    stage_variables: OnceLock<Vec<(String, String)>>,
}

/// What the backend answered, before an integration response maps it.
struct Answer {
    /// What patterns are matched against: the Lambda function's `errorMessage` (`""` when it did not fail), or the
    /// HTTP status.
    selector: String,
    headers: HeaderMap,
    body: Bytes,
}

/// Everything a template reads besides the body.
struct Inputs<'a> {
    params: TemplateParams,
    stage_variables: &'a [(String, String)],
}

impl Inputs<'_> {
    fn render(&self, template: &Template, body: &[u8]) -> Result<crate::velocity::Rendered, RenderError> {
        let body = String::from_utf8_lossy(body);
        template.render(&RenderInput {
            body: &body,
            path: &self.params.path,
            querystring: &self.params.querystring,
            header: &self.params.header,
            context: Some(&self.params.context),
            stage_variables: self.stage_variables,
        })
    }
}

impl Mapped {
    pub fn new(backend: Integration, mapping: Arc<MappingSpec>) -> Self {
        Self { backend, mapping, stage_variables: OnceLock::new() }
    }

    /// Whether a backend is behind the mapping (not a mock).
    pub fn is_backend(&self) -> bool {
        self.backend.is_backend()
    }

    pub async fn call(&self, call: IntegrationCall<'_>) -> Result<GatewayResponse, GatewayError> {
        let recipient = Recipient::Integration { authorized: call.authorized, api_key: call.api_key };
        let params = proxy::template_params(call.request, call.matched, call.context, recipient)
            .map_err(|e| GatewayError::Internal(format!("cannot build $context: {e}")))?;
        let stage_variables = self
            .stage_variables
            .get_or_init(|| call.context.stage_variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        let inputs = Inputs { params, stage_variables };
        let (payload, overrides) = self.request(call.request, &inputs)?;
        let answer = match &self.backend {
            Integration::Lambda(lambda) => {
                // The payload is the function's event, and Lambda takes JSON only (it refuses anything else,
                // and the function never runs); an empty one is the empty object.
                let payload = if payload.is_empty() { Bytes::from_static(b"{}") } else { payload };
                serde_json::from_slice::<serde::de::IgnoredAny>(&payload)
                    .map_err(|e| GatewayError::BodyNotJson(e.to_string()))?;
                match lambda.invoke_raw(&call, payload.to_vec()).await? {
                    Ok(result) => Answer { selector: String::new(), headers: HeaderMap::new(), body: result.into() },
                    Err(error) => {
                        Answer { selector: error_message(&error), headers: HeaderMap::new(), body: error.into() }
                    }
                }
            }
            Integration::Http(http) => {
                let mut outgoing = http.build(call.request, call.matched)?;
                *outgoing.body_mut() = Full::new(payload);
                apply_overrides(&mut outgoing, &overrides)?;
                let answer = http.send(&call, outgoing).await?;
                Answer { selector: answer.status.as_str().to_owned(), headers: answer.headers, body: answer.body }
            }
            // REST's mock: what the request template rendered names the status, and integration responses are
            // selected by it, as an HTTP backend's status selects them.
            Integration::Mock(_) => {
                let status = serde_json::from_slice::<Value>(&payload).ok().and_then(|v| v.get("statusCode")?.as_u64());
                let status = status.ok_or_else(|| {
                    GatewayError::MappingFailed("a mock's request template must render {\"statusCode\": N}".into())
                })?;
                Answer { selector: status.to_string(), headers: HeaderMap::new(), body: Bytes::new() }
            }
            Integration::Mapped(_) => {
                return Err(GatewayError::Internal("a mapping is over one integration".into()));
            }
        };
        self.respond(call.request, &answer, &inputs)
    }

    /// The payload for the backend: the request template for the request's content type rendered, or the body
    /// itself when the passthrough behaviour lets it through; and the template's `requestOverride`.
    fn request(&self, request: &GatewayRequest, inputs: &Inputs<'_>) -> Result<(Bytes, RequestOverride), GatewayError> {
        // API Gateway reads a request without a Content-Type as JSON.
        let media_type = essence(request.header(header::CONTENT_TYPE.as_str())).unwrap_or("application/json");
        let templates = &self.mapping.request_templates;
        let Some((_, template)) = templates.iter().find(|(t, _)| t.eq_ignore_ascii_case(media_type)) else {
            return match self.mapping.passthrough {
                Passthrough::WhenNoMatch => Ok((request.body.clone(), RequestOverride::default())),
                Passthrough::WhenNoTemplates if templates.is_empty() => {
                    Ok((request.body.clone(), RequestOverride::default()))
                }
                Passthrough::WhenNoTemplates | Passthrough::Never => {
                    Err(GatewayError::UnsupportedMediaType(format!("no request template for {media_type}")))
                }
            };
        };
        match inputs.render(template, &request.body) {
            Ok(rendered) => Ok((Bytes::from(rendered.body), rendered.request_override)),
            // The client's body is at fault, not the template.
            Err(RenderError::BodyNotJson(why)) => Err(GatewayError::BodyNotJson(why)),
            Err(e) => Err(GatewayError::MappingFailed(format!("request template for {media_type}: {e}"))),
        }
    }

    /// The method response: the integration response the answer selects, its header mappings, and its template
    /// for the caller's `Accept` rendered over the answer's body (with the template's `responseOverride`).
    fn respond(
        &self,
        request: &GatewayRequest,
        answer: &Answer,
        inputs: &Inputs<'_>,
    ) -> Result<GatewayResponse, GatewayError> {
        let response = self.mapping.select(&answer.selector).ok_or_else(|| {
            let selector = &answer.selector;
            GatewayError::MappingFailed(format!("no integration response matches {selector:?} and none is the default"))
        })?;
        let mut headers = HeaderMap::with_capacity(response.headers.len() + 1);
        for (name, source) in &response.headers {
            if let Some(value) = mapped_value(source, answer, &inputs.params.context) {
                headers.insert(name.clone(), value);
            }
        }
        let Some((media_type, template)) = response_template(response, request.header(header::ACCEPT.as_str())) else {
            return Ok(GatewayResponse::new(response.status, headers, answer.body.clone()));
        };
        let rendered = inputs.render(template, &answer.body).map_err(|e| {
            let status = response.status.as_u16();
            GatewayError::MappingFailed(format!("response template {media_type} of the {status} response: {e}"))
        })?;
        if !headers.contains_key(header::CONTENT_TYPE)
            && let Ok(value) = HeaderValue::try_from(media_type)
        {
            headers.insert(header::CONTENT_TYPE, value);
        }
        let overridden = &rendered.response_override;
        for (name, _) in &overridden.headers {
            headers.remove(header_name(name)?);
        }
        for (name, value) in &overridden.headers {
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|_| GatewayError::MappingFailed(format!("responseOverride.header.{name}: not header text")))?;
            headers.append(header_name(name)?, value);
        }
        let status = match overridden.status {
            Some(status) => http::StatusCode::from_u16(status)
                .map_err(|_| GatewayError::MappingFailed(format!("responseOverride.status {status}")))?,
            None => response.status,
        };
        Ok(GatewayResponse::new(status, headers, rendered.body))
    }
}

/// A `Content-Type` or `Accept` value's first media type, without parameters.
fn essence(value: Option<&str>) -> Option<&str> {
    let first = value?.split(',').next()?.split(';').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// The response template for the caller: the one for the first media type it accepts (REST APIs honour only the
/// first), else `application/json`'s, else the first written.
fn response_template<'a>(response: &'a ResponseSpec, accept: Option<&str>) -> Option<(&'a str, &'a Template)> {
    let find = |wanted: &str| response.templates.iter().find(|(t, _)| t.eq_ignore_ascii_case(wanted));
    essence(accept)
        .and_then(find)
        .or_else(|| find("application/json"))
        .or_else(|| response.templates.first())
        .map(|(t, template)| (t.as_str(), template))
}

/// A failed function's `errorMessage` (`""` when its error document has none).
fn error_message(document: &[u8]) -> String {
    serde_json::from_slice::<Value>(document)
        .ok()
        .and_then(|d| d.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

fn header_name(name: &str) -> Result<HeaderName, GatewayError> {
    HeaderName::try_from(name)
        .map_err(|_| GatewayError::MappingFailed(format!("responseOverride.header.{name}: not a header name")))
}

/// A mapped response header's value; `None` when its source is absent or is not header text.
fn mapped_value(source: &HeaderSource, answer: &Answer, context: &Value) -> Option<HeaderValue> {
    match source {
        HeaderSource::Literal(value) => Some(value.clone()),
        HeaderSource::Header(name) => answer.headers.get_all(name).iter().next_back().cloned(),
        HeaderSource::MultiHeader(name) => {
            let values: Vec<&str> = answer.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
            (!values.is_empty()).then(|| HeaderValue::try_from(values.join(",")).ok()).flatten()
        }
        HeaderSource::Body(path) if path.is_empty() => HeaderValue::from_bytes(&answer.body).ok(),
        HeaderSource::Body(path) => text_of(walk(&serde_json::from_slice(&answer.body).ok()?, path)?),
        HeaderSource::Context(path) => text_of(walk(context, path)?),
    }
}

/// The value at `path`. A string holding JSON is read as that JSON on the way, as API Gateway reads a Lambda
/// custom error's `errorMessage` for body-to-header mappings.
fn walk(value: &Value, path: &[String]) -> Option<Value> {
    let mut current = value.clone();
    for key in path {
        if let Value::String(text) = &current {
            current = serde_json::from_str(text).ok()?;
        }
        current = current.get(key.as_str())?.clone();
    }
    Some(current)
}

fn text_of(value: Value) -> Option<HeaderValue> {
    match value {
        Value::Null => None,
        Value::String(text) => HeaderValue::try_from(text).ok(),
        other => HeaderValue::try_from(other.to_string()).ok(),
    }
}

/// A request template's `requestOverride` on the HTTP backend's request: headers replaced, query parameters
/// replaced or added. (Path overrides are not applied: the URL is the integration's.)
fn apply_overrides(outgoing: &mut Request<Full<Bytes>>, overrides: &RequestOverride) -> Result<(), GatewayError> {
    let bad = |what: &str| GatewayError::MappingFailed(format!("requestOverride.{what} is not valid"));
    for (name, value) in &overrides.headers {
        let name = HeaderName::try_from(name.as_str()).map_err(|_| bad(&format!("header.{name}")))?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|_| bad(&format!("header.{name}")))?;
        outgoing.headers_mut().insert(name, value);
    }
    if overrides.querystring.is_empty() {
        return Ok(());
    }
    let uri = outgoing.uri().clone();
    let mut query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    query.retain(|(name, _)| !overrides.querystring.iter().any(|(n, _)| n == name));
    query.extend(overrides.querystring.iter().cloned());
    let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish();
    let rebuilt = format!("{}?{encoded}", uri.to_string().split('?').next().unwrap_or_default());
    *outgoing.uri_mut() = rebuilt.parse().map_err(|_| bad("querystring"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_and_templates_are_chosen_as_api_gateway_does() {
        assert_eq!(essence(Some("Application/JSON; charset=utf-8")), Some("Application/JSON"));
        assert_eq!(essence(Some("text/html, application/json")), Some("text/html"));
        assert_eq!(essence(Some(" ")), None);
        let template = |text: &str| Template::parse(text).expect("template");
        let response = ResponseSpec {
            pattern: None,
            status: http::StatusCode::OK,
            headers: Vec::new(),
            templates: vec![("application/xml".into(), template("x")), ("application/json".into(), template("j"))],
        };
        let chosen = |accept| response_template(&response, accept).map(|(t, _)| t);
        assert_eq!(chosen(Some("application/xml;q=1, application/json")), Some("application/xml"));
        assert_eq!(chosen(Some("application/json, application/xml")), Some("application/json"));
        assert_eq!(chosen(Some("text/html, application/xml")), Some("application/json"), "only the first counts");
        assert_eq!(chosen(None), Some("application/json"));
    }

    #[test]
    fn header_values_come_from_the_answer_and_the_context() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        let error = r#"{"errorMessage":"{\"code\":\"E42\",\"n\":7}","errorType":"Error"}"#;
        let answer = Answer { selector: String::new(), headers, body: Bytes::from_static(error.as_bytes()) };
        let context = serde_json::json!({"requestId": "r-1", "identity": {"sourceIp": "192.0.2.1"}});
        let value = |source: HeaderSource| mapped_value(&source, &answer, &context);
        let name = HeaderName::from_static("x-a");
        assert_eq!(value(HeaderSource::Header(name.clone())), Some(HeaderValue::from_static("2")));
        assert_eq!(value(HeaderSource::MultiHeader(name)), Some(HeaderValue::from_static("1,2")));
        let path = |p: &str| p.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(value(HeaderSource::Body(path("errorMessage.code"))), Some(HeaderValue::from_static("E42")));
        assert_eq!(value(HeaderSource::Body(path("errorMessage.n"))), Some(HeaderValue::from_static("7")));
        assert_eq!(value(HeaderSource::Body(path("missing"))), None);
        assert_eq!(
            value(HeaderSource::Context(path("identity.sourceIp"))),
            Some(HeaderValue::from_static("192.0.2.1"))
        );
        assert_eq!(error_message(error.as_bytes()), r#"{"code":"E42","n":7}"#);
        assert_eq!(error_message(b"not json"), "");
    }

    #[test]
    fn request_overrides_replace_headers_and_query_parameters() {
        let mut outgoing = Request::builder()
            .uri("http://backend/a?x=1&y=2")
            .header("x-h", "old")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let overrides = RequestOverride {
            headers: vec![("x-h".into(), "new".into())],
            querystring: vec![("y".into(), "a b".into()), ("z".into(), "3".into())],
            path: Vec::new(),
        };
        apply_overrides(&mut outgoing, &overrides).expect("applied");
        assert_eq!(outgoing.headers()["x-h"], "new");
        assert_eq!(outgoing.uri().to_string(), "http://backend/a?x=1&y=a+b&z=3");
    }
}
