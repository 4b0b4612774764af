//! Part of respond: an error's answer, customised by the definition's `gatewayResponses` (checked and parsed in
//! `config/gateway_responses.rs`). The type's settings (or `DEFAULT_4XX`/`DEFAULT_5XX`'s) set the status, add
//! headers, and replace the body with the template for the client's media type. A JSON template whose result is
//! not JSON falls back to the default body, and the log says why: a client never gets half a body.

use std::{borrow::Cow, sync::Arc};

use http::{HeaderValue, header};

use super::Exchange;
use crate::{
    config::gateway_responses::{ContextScope, ContextVar, GatewayResponseSpec, GatewayResponses, Piece, ValueSource},
    error::GatewayError,
    request::{ApiContext, GatewayResponse},
};

pub(super) struct Customise {
    pub(super) responses: GatewayResponses,
    pub(super) context: Arc<ApiContext>,
}

impl Customise {
    /// Applies the settings for `error`'s response type to its default answer, `response`.
    pub(super) fn apply(&self, error: &GatewayError, ex: &Exchange, response: &mut GatewayResponse) {
        if self.responses.is_empty() {
            return;
        }
        let kind = error.response_type(self.context.api_type);
        let Some((spec, status)) = self.responses.for_answer(kind, response.status) else { return };
        response.status = status;
        let values = Values { error, ex, context: &self.context };
        for (name, source) in &spec.headers {
            let value = match source {
                ValueSource::Literal(v) => Some(v.clone()),
                other => values.of_source(other).and_then(|v| HeaderValue::try_from(v.as_ref()).ok()),
            };
            if let Some(value) = value {
                response.headers.insert(name.clone(), value);
            }
        }
        let Some((content_type, template)) = pick_template(spec, ex) else { return };
        let json = is_json(content_type);
        let body: String = template.iter().map(|piece| values.of_piece(piece, json)).collect();
        if is_json(content_type) && serde_json::from_str::<serde::de::IgnoredAny>(&body).is_err() {
            tracing::warn!(
                responseType = error.response_type(self.context.api_type).name(),
                rendered = %body,
                "the gateway response template did not render JSON; the default body was sent"
            );
            return;
        }
        if let Ok(value) = HeaderValue::try_from(content_type) {
            response.headers.insert(header::CONTENT_TYPE, value);
        }
        response.body = body.into();
    }
}

/// The template for the first media type the client accepts, else `application/json`'s, else the first.
fn pick_template<'s>(spec: &'s GatewayResponseSpec, ex: &Exchange) -> Option<(&'s str, &'s [Piece])> {
    let accepted = ex.request.header("accept").unwrap_or("");
    let wanted = accepted.split(',').filter_map(|t| t.split(';').next()).map(str::trim);
    let found = wanted
        .filter_map(|w| spec.templates.iter().find(|(ct, _)| ct.eq_ignore_ascii_case(w)))
        .next()
        .or_else(|| spec.templates.iter().find(|(ct, _)| ct == "application/json"))
        .or_else(|| spec.templates.first());
    found.map(|(ct, pieces)| (ct.as_str(), pieces.as_slice()))
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// What `$context` and the request hold for this answer.
struct Values<'a> {
    error: &'a GatewayError,
    ex: &'a Exchange,
    context: &'a ApiContext,
}

impl Values<'_> {
    /// In a JSON template the validation detail is escaped as for a JSON string: its quotes
    /// (`(["name"])`) would otherwise break the body, as they do in API Gateway's answer.
    fn of_piece<'s>(&'s self, piece: &'s Piece, json: bool) -> Cow<'s, str> {
        match piece {
            Piece::Text(text) => Cow::Borrowed(text),
            Piece::Context(ContextVar::ErrorValidationErrorString) if json => {
                let quoted = serde_json::Value::from(self.error.validation_error_string()).to_string();
                Cow::Owned(quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or_default().to_owned())
            }
            Piece::Context(var) => self.context_value(*var),
        }
    }

    fn of_source<'s>(&'s self, source: &'s ValueSource) -> Option<Cow<'s, str>> {
        let request = &self.ex.request;
        match source {
            ValueSource::Literal(v) => v.to_str().ok().map(Cow::Borrowed),
            ValueSource::RequestHeader(name) => {
                request.headers.get(name).and_then(|v| v.to_str().ok()).map(Cow::Borrowed)
            }
            ValueSource::Query(name) => form_urlencoded::parse(request.raw_query.as_bytes())
                .filter(|(k, _)| k == name)
                .last()
                .map(|(_, v)| Cow::Owned(v.into_owned())),
            ValueSource::PathParam(name) => self
                .ex
                .route
                .as_ref()
                .and_then(|m| m.params.iter().find(|(n, _)| n == name))
                .map(|(_, v)| Cow::Borrowed(v.as_str())),
            ValueSource::Context(var) => Some(self.context_value(*var)),
        }
    }

    fn context_value(&self, var: ContextVar) -> Cow<'_, str> {
        let api = self.context.api_type;
        match var {
            ContextVar::ErrorMessage => self.error.message(api),
            ContextVar::ErrorMessageString => Cow::Owned(serde_json::Value::from(self.error.message(api)).to_string()),
            ContextVar::ErrorResponseType => Cow::Borrowed(self.error.response_type(api).name()),
            ContextVar::ErrorValidationErrorString => Cow::Borrowed(self.error.validation_error_string()),
            // The request's own variables are worked out in one place, shared with parameter mapping.
            other => {
                let route_key = self.ex.route.as_ref().map(|m| &*m.key);
                let scope = ContextScope { request: &self.ex.request, route_key, api: self.context };
                other.request_value(scope).unwrap_or_default()
            }
        }
    }
}
