//! `${stageVariables.name}` substitution (done once, at load) and `{param}` templates (filled per request).

use std::collections::BTreeMap;

/// Replaces every `${stageVariables.x}`; an unknown variable or an unclosed `${` is an error.
pub fn substitute_stage_variables(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed \"${{\" in {text:?}"))?;
        let name = after[..end]
            .strip_prefix("stageVariables.")
            .ok_or_else(|| format!("only ${{stageVariables.name}} may be used, found \"${{{}}}\"", &after[..end]))?;
        let value = vars.get(name).ok_or_else(|| format!("stage variable {name:?} is not defined in this stage"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A piece of a URL template: text, or a path parameter to fill in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Param(String),
}

/// Splits `https://host/files/{proxy}` into text and `{param}` pieces. Every parameter must be one of `known`.
pub fn parse_params(text: &str, known: &[&str]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_owned()));
        }
        let end = rest[start..].find('}').ok_or_else(|| format!("unclosed '{{' in {text:?}"))? + start;
        let name = &rest[start + 1..end];
        if !known.contains(&name) {
            return Err(format!("{{{name}}} is not a path parameter of this route"));
        }
        pieces.push(Piece::Param(name.to_owned()));
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_reports_unknown_variables() {
        let vars = BTreeMap::from([("host".to_owned(), "api.internal".to_owned())]);
        assert_eq!(
            substitute_stage_variables("https://${stageVariables.host}/x", &vars).as_deref(),
            Ok("https://api.internal/x")
        );
        assert!(substitute_stage_variables("${stageVariables.nope}", &vars).is_err());
        assert!(substitute_stage_variables("${context.x}", &vars).is_err());
        assert!(substitute_stage_variables("${stageVariables.host", &vars).is_err());
    }

    #[test]
    fn splits_params() {
        let pieces = parse_params("http://h/a/{id}/b", &["id"]).expect("valid");
        assert_eq!(pieces[1], Piece::Param("id".into()));
        assert!(parse_params("http://h/{nope}", &["id"]).is_err());
    }
}
