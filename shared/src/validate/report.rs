//! Part of validation: a model's findings, worded as API Gateway's validator words them. Its
//! `$context.error.validationErrorString` reads `[object has missing required properties (["name"])]`: one
//! message per finding (missing properties of one object together), in brackets. The other keywords follow the
//! same validator's wording; what it has no words for keeps boon's (the engine's). `docs/validation.md` lists them all.

use boon::{ErrorKind, ValidationError};
use serde_json::Value;

use super::{MAX_REPORTED, escape_pointer};
use crate::{
    config::validation::Model,
    error::{FieldError, Invalid},
};

/// The most characters of a value a message quotes.
const MAX_QUOTED_CHARS: usize = 100;

/// Checks `instance` against `model`; the failures, worded, when it does not match. Findings are ordered by
/// where they are in the body, whatever order the keywords ran in.
pub(super) fn check(model: &Model, instance: &Value, media_type: &str, problem_details: bool) -> Result<(), Invalid> {
    let Err(error) = model.validate(instance) else { return Ok(()) };
    let mut leaves = Vec::new();
    collect(&error, &mut leaves);
    let mut found: Vec<(String, &ValidationError<'_, '_>)> =
        leaves.into_iter().map(|e| (e.instance_location.to_string(), e)).collect();
    found.sort_by(|a, b| document_order(&a.0, &b.0));
    let (mut messages, mut errors) = (Vec::new(), Vec::new());
    for (at, error) in &found {
        let value = instance.pointer(at).unwrap_or(&Value::Null);
        // Properties one object misses, or has where `additionalProperties` forbids them: one finding, and
        // one field each.
        let grouped = match &error.kind {
            ErrorKind::Required { want } => Some((true, want.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())),
            ErrorKind::AdditionalProperties { got } => Some((false, got.iter().map(|n| n.to_string()).collect())),
            _ => None,
        };
        if let Some((missing, names)) = grouped {
            for name in &names {
                let pointer = format!("{at}/{}", escape_pointer(name));
                errors.push(FieldError { pointer, reason: properties(missing, std::slice::from_ref(name)) });
            }
            messages.push(properties(missing, &names));
            continue;
        }
        let reason = reason(error, value).unwrap_or_else(|| error.kind.to_string());
        errors.push(FieldError { pointer: at.clone(), reason: reason.clone() });
        messages.push(reason);
    }
    let truncated = errors.len() > MAX_REPORTED;
    errors.truncate(MAX_REPORTED);
    messages.truncate(MAX_REPORTED);
    let listed = if truncated { format!(" (the first {MAX_REPORTED} failures)") } else { String::new() };
    Err(Invalid {
        detail: format!("[{}]", messages.join(", ")),
        summary: format!("Request body does not match model schema for content type {media_type}{listed}"),
        errors,
        truncated,
        problem_details,
    })
}

/// The findings themselves: what wraps them (the model, a `$ref`, `allOf`) is looked through; `anyOf`, `oneOf`
/// and `not` are one finding each, as their branches' failures are not the body's.
fn collect<'a, 's, 'v>(error: &'a ValidationError<'s, 'v>, out: &mut Vec<&'a ValidationError<'s, 'v>>) {
    let wrapper = matches!(
        error.kind,
        ErrorKind::Group | ErrorKind::Schema { .. } | ErrorKind::Reference { .. } | ErrorKind::AllOf
    );
    if wrapper && !error.causes.is_empty() {
        for cause in &error.causes {
            collect(cause, out);
        }
    } else {
        out.push(error);
    }
}

/// JSON pointers in document order: array indexes by number (`/3` before `/100`), names as text.
fn document_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |token: &str| (token.parse::<usize>().ok(), token.to_owned());
    a.split('/').map(key).cmp(b.split('/').map(key))
}

fn properties(missing: bool, names: &[String]) -> String {
    let names = Value::from(names.to_vec());
    if missing {
        format!("object has missing required properties ({names})")
    } else {
        format!("object instance has properties which are not allowed by the schema: {names}")
    }
}

/// The message for a failed keyword, in API Gateway's validator's words; `None` where it has none.
fn reason(error: &ValidationError<'_, '_>, value: &Value) -> Option<String> {
    use ErrorKind as K;
    let shown = quoted(value);
    let branches = error.causes.len();
    Some(match &error.kind {
        K::Type { want, .. } => {
            let allowed: Vec<String> = want.iter().map(|t| t.to_string()).collect();
            format!(
                "instance type ({}) does not match any allowed primitive type (allowed: {})",
                type_name(value),
                Value::from(allowed)
            )
        }
        K::Enum { want } => {
            format!(
                "instance value ({shown}) not found in enum (possible values: {})",
                quoted(&Value::from(want.to_vec()))
            )
        }
        K::Minimum { got, want } => {
            format!("numeric instance is lower than the required minimum (minimum: {want}, found: {got})")
        }
        K::Maximum { got, want } => {
            format!("numeric instance is greater than the required maximum (maximum: {want}, found: {got})")
        }
        K::ExclusiveMinimum { want, .. } => {
            format!("numeric instance is not strictly greater than the required minimum {want}")
        }
        K::ExclusiveMaximum { want, .. } => {
            format!("numeric instance is not strictly lower than the required maximum {want}")
        }
        K::MinLength { got, want } => format!("string {shown} is too short (length: {got}, required minimum: {want})"),
        K::MaxLength { got, want } => format!("string {shown} is too long (length: {got}, maximum allowed: {want})"),
        K::Pattern { want, .. } => format!("ECMA 262 regex {} does not match input string {shown}", Value::from(*want)),
        K::Format { want, .. } => format!("string {shown} is not a valid {}", format_name(want)),
        K::MinItems { got, want } => {
            format!("array is too short: must have at least {want} elements but instance has {got} elements")
        }
        K::MaxItems { got, want } => {
            format!("array is too long: must have at most {want} elements but instance has {got} elements")
        }
        K::UniqueItems { .. } => "array must not contain duplicate elements".to_owned(),
        K::MinProperties { got, want } => {
            format!("object has too few properties (found {got}, required minimum: {want})")
        }
        K::MaxProperties { got, want } => {
            format!("object has too many properties (found {got}, maximum allowed: {want})")
        }
        K::MultipleOf { got, want } => format!("remainder of division is not zero ({got} / {want})"),
        K::Not => "instance matched a schema which it should not have".to_owned(),
        K::AnyOf => format!("instance failed to match at least one required schema among {branches}"),
        K::OneOf(None) => format!("instance failed to match exactly one schema (matched 0 out of {branches})"),
        _ => return None,
    })
}

/// The validator's name for a value's type: `integer` for a number without a fraction part.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn format_name(format: &str) -> &str {
    match format {
        "email" => "email address",
        "ipv4" => "IPv4 address",
        "ipv6" => "IPv6 address",
        "uri" => "URI",
        "uuid" => "UUID",
        other => other,
    }
}

/// `value` as JSON, cut to [`MAX_QUOTED_CHARS`] characters (and `...`) so an answer never echoes a whole body.
fn quoted(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::config::validation::{ApiValidation, RequestValidatorFile};

    fn findings(schema: Value, instance: &Value) -> Invalid {
        let models = BTreeMap::from([("M".to_owned(), schema)]);
        let body = RequestValidatorFile { validate_request_body: true, ..Default::default() };
        let api = ApiValidation::compile(&models, &BTreeMap::from([("v".to_owned(), body)]), Some("v")).expect("ok");
        let route = api
            .route(None, &BTreeMap::new(), &BTreeMap::from([("$default".to_owned(), "M".to_owned())]), &[])
            .expect("route")
            .expect("checked");
        check(&route.models[0].1, instance, "application/json", false).expect_err("invalid")
    }

    #[test]
    fn each_keyword_in_the_validators_words() {
        let cases = [
            (
                json!({"type": "string"}),
                json!(5),
                r#"instance type (integer) does not match any allowed primitive type (allowed: ["string"])"#,
            ),
            (
                json!({"enum": ["a", "b"]}),
                json!("c"),
                r#"instance value ("c") not found in enum (possible values: ["a","b"])"#,
            ),
            (
                json!({"maximum": 10}),
                json!(11),
                "numeric instance is greater than the required maximum (maximum: 10, found: 11)",
            ),
            (json!({"maxLength": 2}), json!("abc"), r#"string "abc" is too long (length: 3, maximum allowed: 2)"#),
            (json!({"minLength": 2}), json!("é"), r#"string "é" is too short (length: 1, required minimum: 2)"#),
            (
                json!({"pattern": "^[a-z]+$"}),
                json!("A1"),
                r#"ECMA 262 regex "^[a-z]+$" does not match input string "A1""#,
            ),
            (json!({"format": "email"}), json!("nope"), r#"string "nope" is not a valid email address"#),
            (
                json!({"minItems": 1}),
                json!([]),
                "array is too short: must have at least 1 elements but instance has 0 elements",
            ),
            (
                json!({"additionalProperties": false}),
                json!({"x": 1, "y": 2}),
                r#"object instance has properties which are not allowed by the schema: ["x","y"]"#,
            ),
            (
                json!({"properties": {"a": {}}, "additionalProperties": false}),
                json!({"a": 1, "x/y": 1}),
                r#"object instance has properties which are not allowed by the schema: ["x/y"]"#,
            ),
            (json!({"required": ["a", "b"]}), json!({}), r#"object has missing required properties (["a","b"])"#),
            (
                json!({"minimum": 0, "exclusiveMinimum": true}),
                json!(0),
                "numeric instance is not strictly greater than the required minimum 0",
            ),
            (
                json!({"maxItems": 2}),
                json!([1, 2, 3]),
                "array is too long: must have at most 2 elements but instance has 3 elements",
            ),
            (json!({"uniqueItems": true}), json!([1, 1]), "array must not contain duplicate elements"),
            (json!({"minProperties": 1}), json!({}), "object has too few properties (found 0, required minimum: 1)"),
            (json!({"multipleOf": 2}), json!(7), "remainder of division is not zero (7 / 2)"),
            (json!({"not": {"type": "string"}}), json!("s"), "instance matched a schema which it should not have"),
            (
                json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
                json!(1),
                "instance failed to match at least one required schema among 2",
            ),
            (
                json!({"oneOf": [{"type": "string"}, {"type": "null"}]}),
                json!(1),
                "instance failed to match exactly one schema (matched 0 out of 2)",
            ),
            (json!({"format": "ipv4"}), json!("1.2.3"), r#"string "1.2.3" is not a valid IPv4 address"#),
            (json!({"format": "uuid"}), json!("x"), r#"string "x" is not a valid UUID"#),
            (json!({"format": "date-time"}), json!("x"), r#"string "x" is not a valid date-time"#),
        ];
        for (schema, instance, message) in cases {
            assert_eq!(findings(schema, &instance).detail, format!("[{message}]"));
        }
    }

    #[test]
    fn long_values_are_cut_and_findings_capped() {
        let long = "x".repeat(500);
        let detail = findings(json!({"maxLength": 1}), &json!(long)).detail;
        assert!(detail.len() < 200 && detail.contains("..."), "{detail}");
        let many = findings(json!({"items": {"type": "string"}}), &json!(vec![1; 500]));
        assert!(many.truncated && many.errors.len() == MAX_REPORTED);
        assert_eq!(many.errors[3].pointer, "/3");
    }
}
