//! Request validation, as REST APIs' request validators do it: a route's required parameters, then its body
//! against the model for the body's media type (both compiled at load, `config/validation.rs`). A body is
//! bounded before its schema sees it: over [`MAX_BODY_BYTES`], or nested deeper than [`MAX_DEPTH`], it is refused
//! as it is, so no request makes validation expensive. Findings are worded in `report.rs`.

mod report;

use serde_json::Value;

use crate::{
    config::validation::{ParamLocation, RequiredParameter, RouteValidation},
    error::{FieldError, Invalid},
    request::GatewayRequest,
};

/// The largest body a model is checked against (API Gateway's payload limit is 10 MB; parsing and checking
/// a body costs about its size in CPU, and Lambda bills it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The deepest nesting of arrays and objects a validated body may have.
pub const MAX_DEPTH: usize = 64;
/// The most failing fields an answer lists; the first ones found, in document order.
pub const MAX_REPORTED: usize = 100;

/// Checks that each required parameter is present and not blank.
pub fn parameters(spec: &RouteValidation, request: &GatewayRequest, path: &[(String, String)]) -> Result<(), Invalid> {
    let missing: Vec<&RequiredParameter> = spec.parameters.iter().filter(|p| !present(p, request, path)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|p| p.name.as_str()).collect();
    let detail = format!("Missing required request parameters: [{}]", names.join(", "));
    let errors = missing
        .iter()
        .take(MAX_REPORTED)
        .map(|p| FieldError {
            pointer: format!("/{}/{}", p.location.name(), escape_pointer(&p.name)),
            reason: format!("required {} parameter is missing or blank", p.location.name()),
        })
        .collect();
    Err(Invalid {
        summary: detail.clone(),
        detail,
        errors,
        truncated: missing.len() > MAX_REPORTED,
        problem_details: spec.problem_details,
    })
}

fn present(parameter: &RequiredParameter, request: &GatewayRequest, path: &[(String, String)]) -> bool {
    let filled = |v: &[u8]| !v.iter().all(u8::is_ascii_whitespace);
    let name = parameter.name.as_str();
    match parameter.location {
        ParamLocation::Path => path.iter().any(|(n, v)| n == name && filled(v.as_bytes())),
        ParamLocation::QueryString => {
            form_urlencoded::parse(request.raw_query.as_bytes()).any(|(k, v)| k == name && filled(v.as_bytes()))
        }
        ParamLocation::Header => request.headers.get_all(name).iter().any(|v| filled(v.as_bytes())),
    }
}

/// Checks the body against the model for its media type, if the route has one. An empty body is JSON `null`.
pub fn body(spec: &RouteValidation, request: &GatewayRequest) -> Result<(), Invalid> {
    let content_type = request.header("content-type");
    let Some((_, model)) = spec.model_for(content_type) else { return Ok(()) };
    let media_type = content_type.and_then(|t| t.split(';').next()).map_or("application/json", str::trim);
    let refuse = |summary: String, reason: String| Invalid {
        detail: format!("[{reason}]"),
        summary,
        errors: vec![FieldError { pointer: String::new(), reason }],
        truncated: false,
        problem_details: spec.problem_details,
    };
    let body = &request.body;
    if body.len() > MAX_BODY_BYTES {
        return Err(refuse(
            format!("Request body is over {MAX_BODY_BYTES} bytes, the most a model is checked against"),
            format!("body of {} bytes is over the validation limit of {MAX_BODY_BYTES} bytes", body.len()),
        ));
    }
    let too_deep = || {
        refuse(
            format!("Request body nests deeper than {MAX_DEPTH} levels, the most a model is checked against"),
            format!("body nests arrays and objects deeper than {MAX_DEPTH} levels"),
        )
    };
    let instance = if body.is_empty() {
        Value::Null
    } else {
        // serde_json refuses nesting past 128 levels itself, so even a hostile body parses on a bounded stack.
        serde_json::from_slice(body).map_err(|e| {
            if e.to_string().starts_with("recursion limit exceeded") {
                too_deep()
            } else {
                refuse("Request body is not JSON".to_owned(), format!("body is not JSON: {e}"))
            }
        })?
    };
    if depth_over(&instance, MAX_DEPTH) {
        return Err(too_deep());
    }
    report::check(model, &instance, media_type, spec.problem_details)
}

/// Whether `value` nests arrays and objects more than `max` deep (a scalar is depth 0).
fn depth_over(value: &Value, max: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match node {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(members) => Box::new(members.values()),
            _ => continue,
        };
        if depth + 1 > max {
            return true;
        }
        stack.extend(children.filter(|c| c.is_array() || c.is_object()).map(|c| (c, depth + 1)));
    }
    false
}

/// One JSON pointer segment (RFC 6901): `~` and `/` escaped.
fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::validation::{ApiValidation, RequestValidatorFile};

    fn spec(models: Value, route_params: &[(&str, bool)], problem_details: bool) -> RouteValidation {
        let models: BTreeMap<String, Value> = serde_json::from_value(models).expect("models");
        let all =
            RequestValidatorFile { validate_request_body: true, validate_request_parameters: true, problem_details };
        let api =
            ApiValidation::compile(&models, &BTreeMap::from([("all".to_owned(), all)]), Some("all")).expect("compiles");
        let params = route_params.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        let request_models = BTreeMap::from([("application/json".to_owned(), "Pet".to_owned())]);
        let spec = api.route(None, &params, &request_models, &["id"]).expect("route").expect("some");
        (*spec).clone()
    }

    fn request(query: &str, headers: &[(&str, &str)], body: &str) -> GatewayRequest {
        let mut request = GatewayRequest::new(http::Method::POST, "/pets/7");
        request.raw_query = query.to_owned();
        for (k, v) in headers {
            request.headers.append(http::HeaderName::from_bytes(k.as_bytes()).expect("name"), v.parse().expect("v"));
        }
        request.body = body.to_owned().into();
        request
    }

    fn pet() -> Value {
        serde_json::json!({ "Pet": { "type": "object", "required": ["name", "age"],
            "properties": { "name": { "type": "string" }, "age": { "type": "integer", "minimum": 0 } } } })
    }

    #[test]
    fn required_parameters_are_present_and_not_blank() {
        let spec = spec(pet(), &[("querystring.limit", true), ("header.x-id", true), ("path.id", true)], false);
        let path = [("id".to_owned(), "7".to_owned())];
        assert!(parameters(&spec, &request("limit=5", &[("X-Id", "a")], ""), &path).is_ok());
        let missing =
            parameters(&spec, &request("limit=%20&other=1", &[("x-id", "  ")], ""), &path).expect_err("blank");
        assert_eq!(missing.detail, "Missing required request parameters: [limit, x-id]");
        let pointers: Vec<_> = missing.errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/querystring/limit", "/header/x-id"]);
    }

    #[test]
    fn bodies_are_bounded_parsed_and_checked() {
        let spec = spec(pet(), &[], true);
        let with = |body: &str| body_of(&spec, body);
        assert!(with(r#"{"name":"rex","age":3}"#).is_ok());
        let invalid = with(r#"{"age":-1}"#).expect_err("two failures");
        assert_eq!(
            invalid.detail,
            r#"[object has missing required properties (["name"]), numeric instance is lower than the required minimum (minimum: 0, found: -1)]"#
        );
        let pointers: Vec<_> = invalid.errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/name", "/age"]);
        assert!(with("{not json").expect_err("not JSON").detail.starts_with("[body is not JSON: "));
        assert!(with("").expect_err("empty is null").detail.contains("instance type (null)"));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(with(&deep).expect_err("deep").detail.contains("deeper than 64"));
        let deeper = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(with(&deeper).expect_err("past serde's limit").detail.contains("deeper than 64"));
        let huge = format!(r#"{{"name":"{}","age":1}}"#, "x".repeat(MAX_BODY_BYTES));
        assert!(with(&huge).expect_err("huge").detail.contains("over the validation limit"));
        let ok_depth = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(!with(&ok_depth).expect_err("not an object").detail.contains("deeper"));
    }

    fn body_of(spec: &RouteValidation, body: &str) -> Result<(), Invalid> {
        super::body(spec, &request("", &[("content-type", "application/json")], body))
    }

    #[test]
    fn other_media_types_are_not_checked() {
        let spec = spec(pet(), &[], false);
        assert!(super::body(&spec, &request("", &[("content-type", "text/plain")], "anything")).is_ok());
        assert!(super::body(&spec, &request("", &[], "{}")).is_err(), "no Content-Type is JSON");
    }
}
