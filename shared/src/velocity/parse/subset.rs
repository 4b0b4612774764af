//! What a reference may use, checked at load: `$util` and `$input` members, methods and their argument counts,
//! and the JSONPath and regular expressions that rendering evaluates.

use super::error;
use crate::velocity::{
    ParseError, ParseErrorKind,
    ast::{Expr, Part, Ref},
    render::{java_replacement, json_path, literal_regex},
};

const UTIL: &[&str] = &["escapeJavaScript", "urlEncode", "urlDecode", "base64Encode", "base64Decode", "parseJson"];
/// The Java methods real templates call, with the argument counts each takes.
const METHODS: &[(&str, &[usize])] = &[
    ("size", &[0]),
    ("length", &[0]),
    ("isEmpty", &[0]),
    ("keySet", &[0]),
    ("values", &[0]),
    ("toString", &[0]),
    ("trim", &[0]),
    ("toLowerCase", &[0]),
    ("toUpperCase", &[0]),
    ("get", &[1]),
    ("contains", &[1]),
    ("containsKey", &[1]),
    ("equals", &[1]),
    ("startsWith", &[1]),
    ("endsWith", &[1]),
    ("indexOf", &[1]),
    ("split", &[1]),
    ("substring", &[1, 2]),
    ("replace", &[2]),
    ("replaceAll", &[2]),
];

/// Refuses, at load, what rendering could only get wrong: unknown `$util` and `$input` members, methods outside
/// the subset, JSONPath and regular expressions beyond what the engine evaluates.
pub(super) fn check(reference: &Ref) -> Result<(), ParseError> {
    let unsupported = |construct: String, reason: &str| {
        Err(error(reference.line, construct, ParseErrorKind::Unsupported, reason.to_owned()))
    };
    let first = reference.parts.first();
    let member = |part: Option<&Part>| match part {
        Some(Part::Prop(name) | Part::Call(name, _)) => name.clone(),
        _ => String::new(),
    };
    match (reference.root.as_str(), first) {
        ("util", Some(Part::Call(name, args))) if UTIL.contains(&name.as_str()) && args.len() == 1 => {}
        ("util", part) => {
            return unsupported(format!("$util.{}", member(part)), "not a one-argument $util function API Gateway has");
        }
        ("input", Some(Part::Prop(name))) if name == "body" => {}
        ("input", Some(Part::Call(name, args))) if name == "params" && args.len() <= 1 => {}
        ("input", Some(Part::Call(name, args))) if (name == "json" || name == "path") && args.len() == 1 => {
            if let Some(Expr::Str(path)) = args.first()
                && let Err(why) = json_path(path)
            {
                return unsupported(format!("JSONPath {path}"), &why);
            }
        }
        ("input", part) => {
            return unsupported(format!("$input.{}", member(part)), "not an $input member API Gateway has");
        }
        _ => {}
    }
    let own = usize::from(matches!(reference.root.as_str(), "util" | "input"));
    for part in reference.parts.iter().skip(own) {
        let Part::Call(method, args) = part else { continue };
        match METHODS.iter().find(|(name, _)| name == method) {
            Some((_, counts)) if counts.contains(&args.len()) => {}
            Some(_) => return unsupported(format!(".{method}()"), "takes a different number of arguments"),
            None => return unsupported(format!(".{method}()"), "a method outside Tollgate's Velocity subset"),
        }
        let literal_ok = match (method.as_str(), args.as_slice()) {
            ("split" | "replaceAll", [Expr::Str(regex), ..]) => literal_regex(regex).is_some_and(|l| !l.is_empty()),
            _ => true,
        };
        let replacement_ok = match (method.as_str(), args.as_slice()) {
            ("replaceAll", [_, Expr::Str(with)]) => java_replacement(with).is_some(),
            _ => true,
        };
        if !literal_ok || !replacement_ok {
            return unsupported(format!(".{method}()"), "a regular expression beyond literal text");
        }
    }
    Ok(())
}
