//! The values of parameter mapping: text and references (`$request.header.x`, `${context.requestId}`,
//! `$request.body.a[0]`), split once at load. Which references a side may use is decided here; what they read
//! per request is in `integration/parameter_mapping.rs`.

use std::collections::BTreeMap;

use super::{Piece, Side, Step, header_name};
use crate::config::gateway_responses::{CONTEXT_VARS, context_var};

/// Splits a value into text and references: `$request.header.x` or `${request.header.x}` (braces let a reference
/// sit against text that would otherwise continue its name). A `$` that starts no name is text.
pub(super) fn parse_value(
    text: &str,
    side: Side,
    params: &[&str],
    vars: &BTreeMap<String, String>,
) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (expression, consumed) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced.find('}').ok_or_else(|| format!("unclosed \"${{\" in {text:?}"))?;
                if braced[..end].is_empty() {
                    return Err(format!("empty \"${{}}\" in {text:?}"));
                }
                (&braced[..end], end + 2)
            }
            None => {
                // A full stop after a reference ends a sentence, not the reference.
                let expression = after[..unbraced_len(after)].trim_end_matches('.');
                (expression, expression.len())
            }
        };
        if !expression.starts_with(|c: char| c.is_ascii_alphabetic()) {
            literal.push('$');
            rest = after;
            continue;
        }
        match reference(expression, side, params, vars)? {
            Piece::Text(value) => literal.push_str(&value),
            piece => {
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
            }
        }
        rest = &after[consumed..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// How far an unbraced reference runs: names (letters, digits, `_`, `-`, `.`) and `[n]` indexes.
fn unbraced_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut at = 0;
    loop {
        while bytes.get(at).is_some_and(|b| b.is_ascii_alphanumeric() || b"_-.".contains(b)) {
            at += 1;
        }
        let digits = bytes.get(at + 1..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count());
        if bytes.get(at) == Some(&b'[') && digits > 0 && bytes.get(at + 1 + digits) == Some(&b']') {
            at += digits + 2;
            continue;
        }
        return at;
    }
}

/// One reference, without its `$` or braces. Stage variables are known at load, so they come back as text.
fn reference(expression: &str, side: Side, params: &[&str], vars: &BTreeMap<String, String>) -> Result<Piece, String> {
    let (root, rest) = expression.split_once('.').unwrap_or((expression, ""));
    let own = match side {
        Side::Request => "request",
        Side::Response => "response",
    };
    match root {
        "context" => context(rest),
        "stageVariables" => vars
            .get(rest)
            .map(|v| Piece::Text(v.clone()))
            .ok_or_else(|| format!("stage variable {rest:?} is not defined in this stage")),
        _ if root == own => {
            let (kind, name) = rest.split_once('.').unwrap_or((rest, ""));
            let piece = match (kind, side) {
                ("header", _) if !name.is_empty() => Piece::Header(header_name(name)?),
                ("querystring", Side::Request) if !name.is_empty() => Piece::Query(name.to_owned()),
                ("path", Side::Request) if name.is_empty() => Piece::Path,
                ("path", Side::Request) if params.contains(&name) => Piece::PathParam(name.to_owned()),
                ("path", Side::Request) => {
                    return Err(format!(
                        "${expression}: {name:?} is not a path parameter of this route (write ${{request.path.x}} \
                         to end a reference before text)"
                    ));
                }
                ("body", _) => Piece::Body(json_path(name).map_err(|e| format!("${expression}: {e}"))?),
                _ => return Err(format!("${expression} is not a value: {}", sources(side))),
            };
            Ok(piece)
        }
        "request" | "response" => Err(format!("${expression}: ${root} is not available here: {}", sources(side))),
        _ => Err(format!("${expression} is not a value: {}", sources(side))),
    }
}

fn sources(side: Side) -> &'static str {
    match side {
        Side::Request => {
            "use $request.header.<name>, $request.querystring.<name>, $request.path, $request.path.<name>, \
             $request.body, $request.body.<JSONPath>, $context.<name>, $stageVariables.<name> or text"
        }
        Side::Response => {
            "use $response.header.<name>, $response.body, $response.body.<JSONPath>, $context.<name>, \
             $stageVariables.<name> or text"
        }
    }
}

/// `$context.<name>`: the variables of the gateway's one table, or the authorizer's values.
fn context(name: &str) -> Result<Piece, String> {
    if let Some(key) = name.strip_prefix("authorizer.") {
        let valid = !key.is_empty()
            && key.split('.').all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !valid {
            return Err(format!("$context.{name}: authorizer values are $context.authorizer.<key> or .claims.<claim>"));
        }
        return Ok(Piece::Authorizer(key.to_owned()));
    }
    // The gateway's own error answers have these; an integration's request and response do not.
    if name.starts_with("error.") {
        return Err(format!("$context.{name} belongs to the gateway's error answers, not to parameter mapping"));
    }
    context_var(name).map(Piece::Context).map_err(|_| {
        let known: Vec<_> = CONTEXT_VARS.iter().map(|(n, _)| *n).filter(|n| !n.starts_with("error.")).collect();
        format!(
            "$context.{name} is not a context variable parameter mapping can read (known: {}, authorizer.<key>, \
             authorizer.claims.<claim>)",
            known.join(", ")
        )
    })
}

/// The JSONPath subset after `$request.body.`: names and indexes (`a.b[0].c`). Recursive descent, wildcards and
/// filters are refused, as API Gateway refuses the first and the last.
fn json_path(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    if text.is_empty() {
        return Ok(steps);
    }
    if text.starts_with('.') || text.contains("..") {
        return Err("recursive descent (..) is not supported".to_owned());
    }
    if text.contains(['*', '?', '(', ')']) {
        return Err("wildcards and filter expressions are not supported".to_owned());
    }
    for segment in text.split('.') {
        let (name, mut indexes) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        if name.is_empty() && indexes.is_empty() {
            return Err(format!("{text:?} has an empty step"));
        }
        if !name.is_empty() {
            steps.push(Step::Key(name.to_owned()));
        }
        while let Some(inner) = indexes.strip_prefix('[') {
            let end = inner.find(']').ok_or_else(|| format!("unclosed '[' in {text:?}"))?;
            let index = inner[..end].parse().map_err(|_| format!("[{}] is not an array index", &inner[..end]))?;
            steps.push(Step::Index(index));
            indexes = &inner[end + 1..];
        }
        if !indexes.is_empty() {
            return Err(format!("{segment:?}: text after ']'"));
        }
    }
    Ok(steps)
}
