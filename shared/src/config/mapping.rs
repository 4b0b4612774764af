//! REST non-proxy integrations (`proxy: false`): request templates by content type, the passthrough behaviour,
//! and integration responses chosen by `selectionPattern`, each with its status, header mappings and response
//! templates (`docs/mapping-templates.md`). Everything is checked and parsed here, once, at load: every template
//! is parsed (a construct outside the Velocity subset stops the load, naming it and its line) and every pattern
//! compiled, so a request never parses anything.

use std::{collections::BTreeMap, sync::Arc};

use http::{HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;

use super::template::substitute_stage_variables;
use crate::velocity::Template;

/// What happens to a request whose content type has no request template (API Gateway's `passthroughBehavior`;
/// OpenAPI exports spell it in lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Passthrough {
    /// The body goes to the backend as it is.
    #[default]
    #[serde(rename = "WHEN_NO_MATCH", alias = "when_no_match")]
    WhenNoMatch,
    /// As it is when the integration has no request template at all; otherwise 415.
    #[serde(rename = "WHEN_NO_TEMPLATES", alias = "when_no_templates")]
    WhenNoTemplates,
    /// Always 415.
    #[serde(rename = "NEVER", alias = "never")]
    Never,
}

/// One integration response, as the file writes it (`responses.<pattern or default>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntegrationResponseFile {
    /// The method response's status; `200` or `"200"` (OpenAPI exports quote it).
    pub status_code: StatusFile,
    /// `method.response.header.X` to `'literal'`, `integration.response.header.Y`,
    /// `integration.response.multivalueheader.Y`, `integration.response.body[.a.b]`, `context.a.b` or
    /// `stageVariables.v`.
    #[serde(default)]
    pub response_parameters: BTreeMap<String, String>,
    /// Media type to the template rendering the body; none: the integration's body as it is.
    #[serde(default)]
    pub response_templates: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusFile {
    Number(u16),
    Text(String),
}

/// The mapping settings a `lambda` or `http` integration may carry, borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub struct MappingFile<'a> {
    pub proxy: bool,
    pub passthrough_behavior: Option<Passthrough>,
    pub request_templates: &'a BTreeMap<String, String>,
    pub responses: Option<&'a BTreeMap<String, IntegrationResponseFile>>,
}

impl super::file::IntegrationFile {
    /// The mapping settings of an integration (a mock's are there when it has templates or responses).
    pub fn mapping(&self) -> Option<MappingFile<'_>> {
        match self {
            Self::Lambda { proxy, passthrough_behavior, request_templates, responses, .. }
            | Self::Http { proxy, passthrough_behavior, request_templates, responses, .. } => Some(MappingFile {
                proxy: *proxy,
                passthrough_behavior: *passthrough_behavior,
                request_templates,
                responses: responses.as_ref(),
            }),
            Self::Mock { passthrough_behavior, request_templates, responses, .. } => {
                let templated = passthrough_behavior.is_some() || !request_templates.is_empty() || responses.is_some();
                Some(MappingFile {
                    proxy: !templated,
                    passthrough_behavior: *passthrough_behavior,
                    request_templates,
                    responses: responses.as_ref(),
                })
            }
        }
    }
}

impl super::spec::IntegrationSpec {
    /// A REST non-proxy integration's mapping; `None` for a proxy integration or a mock.
    pub fn mapping(&self) -> Option<&Arc<MappingSpec>> {
        match self {
            Self::Lambda { mapping, .. } | Self::Http { mapping, .. } | Self::Mock { mapping, .. } => mapping.as_ref(),
        }
    }
}

impl MappingFile<'_> {
    /// Whether any mapping setting is written.
    pub fn is_set(&self) -> bool {
        !self.proxy
            || self.passthrough_behavior.is_some()
            || !self.request_templates.is_empty()
            || self.responses.is_some()
    }
}

/// A non-proxy integration's mapping, ready to run.
#[derive(Debug)]
pub struct MappingSpec {
    pub passthrough: Passthrough,
    /// Media type (lower case) to its template.
    pub request_templates: Vec<(String, Template)>,
    /// The responses with a `selectionPattern`, tried in the order of their patterns' text.
    pub selected: Vec<ResponseSpec>,
    /// The response when no pattern matches (`default`); none: API Gateway's configuration error, a 500.
    pub default: Option<ResponseSpec>,
}

/// One integration response, checked.
#[derive(Debug)]
pub struct ResponseSpec {
    /// Matched against the whole Lambda `errorMessage` or HTTP status (Java's `matches`); `None` for the default.
    pub pattern: Option<regex_lite::Regex>,
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderSource)>,
    /// Media type (lower case) to its template.
    pub templates: Vec<(String, Template)>,
}

/// Where a mapped response header takes its value from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSource {
    /// `'text'`, and `stageVariables.v` (substituted at load).
    Literal(HeaderValue),
    /// `integration.response.header.Y`: its last value.
    Header(HeaderName),
    /// `integration.response.multivalueheader.Y`: every value, joined with `,`.
    MultiHeader(HeaderName),
    /// `integration.response.body` and `integration.response.body.a.b`: the body, or a field of its JSON.
    Body(Vec<String>),
    /// `context.a.b`: a `$context` variable.
    Context(Vec<String>),
}

impl MappingSpec {
    /// The response for `selector` (the Lambda function's `errorMessage`, `""` without an error, or the HTTP
    /// status): the first pattern that matches it whole, else the default.
    pub fn select(&self, selector: &str) -> Option<&ResponseSpec> {
        self.selected
            .iter()
            .find(|r| r.pattern.as_ref().is_some_and(|p| p.is_match(selector)))
            .or(self.default.as_ref())
    }
}

/// Checks a `lambda` or `http` integration's mapping settings: `None` for a proxy integration (which may have
/// none of them), the parsed mapping for `proxy: false`, which only a REST API has.
pub fn compile(
    file: MappingFile<'_>,
    vars: &BTreeMap<String, String>,
    rest: bool,
) -> Result<Option<Arc<MappingSpec>>, String> {
    if file.proxy {
        // Name the first setting written, for the error.
        let set = [
            ("passthroughBehavior", file.passthrough_behavior.is_some()),
            ("requestTemplates", !file.request_templates.is_empty()),
            ("responses", file.responses.is_some()),
        ];
        return match set.iter().find(|(_, present)| *present) {
            Some((name, _)) => Err(format!("{name} needs a non-proxy integration (proxy: false)")),
            None => Ok(None),
        };
    }
    if !rest {
        return Err(
            "proxy: false (mapping templates) is a REST API setting: HTTP APIs proxy every integration".to_owned()
        );
    }
    let request_templates = templates(file.request_templates, "requestTemplates")?;
    let mut selected = Vec::new();
    let mut default = None;
    match file.responses {
        // No responses written: one default 200 that passes the body through, as the console creates.
        None => default = Some(ResponseSpec::passthrough()),
        Some(responses) => {
            for (key, response) in responses {
                let what = format!("responses[{key:?}]");
                let pattern = (key != "default").then(|| whole_match("selectionPattern", key)).transpose()?;
                let spec = response_spec(response, pattern, vars).map_err(|e| format!("{what}: {e}"))?;
                if spec.pattern.is_some() { selected.push(spec) } else { default = Some(spec) }
            }
        }
    }
    Ok(Some(Arc::new(MappingSpec {
        passthrough: file.passthrough_behavior.unwrap_or_default(),
        request_templates,
        selected,
        default,
    })))
}

impl ResponseSpec {
    fn passthrough() -> Self {
        Self { pattern: None, status: StatusCode::OK, headers: Vec::new(), templates: Vec::new() }
    }
}

/// A Java regex (`what`: `selectionPattern`, `identityValidationExpression`) matching the whole text, as
/// `String.matches` does.
pub(super) fn whole_match(what: &str, pattern: &str) -> Result<regex_lite::Regex, String> {
    let refuse = |why: &str| format!("{what} {pattern:?} is not a supported regular expression: {why}");
    if let Some(java_only) = java_only(pattern) {
        return Err(refuse(java_only));
    }
    regex_lite::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| refuse(&e.to_string()))
}

/// Java syntax that regex-lite would read differently rather than refuse: possessive quantifiers (`a++` is
/// `(a+)+` there) and atomic groups.
fn java_only(pattern: &str) -> Option<&'static str> {
    let bytes = pattern.as_bytes();
    let mut in_class = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // An escaped character is a literal (or a class like `\d`): skip it.
            b'\\' => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' | b'+' | b'?' | b'}' if !in_class && bytes.get(i + 1) == Some(&b'+') => {
                return Some("possessive quantifiers are Java's only");
            }
            b'(' if !in_class && bytes[i + 1..].starts_with(b"?>") => return Some("atomic groups are Java's only"),
            _ => {}
        }
        i += 1;
    }
    None
}

fn response_spec(
    file: &IntegrationResponseFile,
    pattern: Option<regex_lite::Regex>,
    vars: &BTreeMap<String, String>,
) -> Result<ResponseSpec, String> {
    let status = match &file.status_code {
        StatusFile::Number(n) => Some(*n),
        StatusFile::Text(t) => t.trim().parse().ok(),
    }
    .and_then(|n| StatusCode::from_u16(n).ok())
    .filter(|s| (100..=599).contains(&s.as_u16()))
    .ok_or("statusCode must be an HTTP status, 100-599")?;
    let mut headers = Vec::with_capacity(file.response_parameters.len());
    for (target, source) in &file.response_parameters {
        let name = target
            .strip_prefix("method.response.header.")
            .ok_or_else(|| format!("responseParameters: {target:?} must be method.response.header.<name>"))?;
        let name = HeaderName::try_from(name).map_err(|_| format!("responseParameters: bad header name {name:?}"))?;
        let source = header_source(source, vars).map_err(|e| format!("responseParameters[{target:?}]: {e}"))?;
        headers.push((name, source));
    }
    Ok(ResponseSpec { pattern, status, headers, templates: templates(&file.response_templates, "responseTemplates")? })
}

fn header_source(text: &str, vars: &BTreeMap<String, String>) -> Result<HeaderSource, String> {
    let header = |name: &str| HeaderName::try_from(name).map_err(|_| format!("bad header name {name:?}"));
    let path = |rest: &str| -> Result<Vec<String>, String> {
        let parts: Vec<String> = rest.split('.').map(str::to_owned).collect();
        if parts.iter().any(String::is_empty) { Err(format!("{text:?} has an empty name")) } else { Ok(parts) }
    };
    if let Some(literal) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return HeaderValue::try_from(literal)
            .map(HeaderSource::Literal)
            .map_err(|_| format!("{literal:?} is not a valid header value"));
    }
    if let Some(name) = text.strip_prefix("stageVariables.") {
        let value = substitute_stage_variables(&format!("${{stageVariables.{name}}}"), vars)?;
        return HeaderValue::try_from(value)
            .map(HeaderSource::Literal)
            .map_err(|_| format!("stage variable {name:?} is not a valid header value"));
    }
    if let Some(name) = text.strip_prefix("integration.response.header.") {
        return header(name).map(HeaderSource::Header);
    }
    if let Some(name) = text.strip_prefix("integration.response.multivalueheader.") {
        return header(name).map(HeaderSource::MultiHeader);
    }
    if text == "integration.response.body" {
        return Ok(HeaderSource::Body(Vec::new()));
    }
    if let Some(rest) = text.strip_prefix("integration.response.body.") {
        return path(rest).map(HeaderSource::Body);
    }
    if let Some(rest) = text.strip_prefix("context.") {
        return path(rest).map(HeaderSource::Context);
    }
    Err(format!(
        "{text:?}: use 'literal', integration.response.header.<name>, integration.response.multivalueheader.<name>, \
         integration.response.body[.<field>...], context.<name> or stageVariables.<name>"
    ))
}

/// Media type to parsed template; each key must be a media type, each template inside the subset.
fn templates(map: &BTreeMap<String, String>, what: &str) -> Result<Vec<(String, Template)>, String> {
    let mut out = Vec::with_capacity(map.len());
    for (media_type, text) in map {
        let key = media_type.trim().to_ascii_lowercase();
        let valid = key.split_once('/').is_some_and(|(kind, sub)| {
            let token =
                |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
            token(kind) && token(sub)
        });
        if !valid {
            return Err(format!("{what}: {media_type:?} is not a media type (type/subtype)"));
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err(format!("{what}: {media_type:?} is given twice"));
        }
        let template = Template::parse(text).map_err(|e| format!("{what}[{media_type:?}]: {e}"))?;
        out.push((key, template));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responses(yaml: &str) -> BTreeMap<String, IntegrationResponseFile> {
        serde_yaml_ng::from_str(yaml).expect("responses")
    }

    fn mapping<'a>(
        templates: &'a BTreeMap<String, String>,
        responses: Option<&'a BTreeMap<String, IntegrationResponseFile>>,
    ) -> MappingFile<'a> {
        MappingFile { proxy: false, passthrough_behavior: None, request_templates: templates, responses }
    }

    #[test]
    fn patterns_match_whole_and_the_default_catches_the_rest() {
        let file = responses(
            "default: { statusCode: 200 }\n\".*not found.*\": { statusCode: \"404\" }\n\
             \"4\\\\d{2}\": { statusCode: 400 }\n",
        );
        let none = BTreeMap::new();
        let spec = compile(mapping(&none, Some(&file)), &BTreeMap::new(), true).expect("valid").expect("non-proxy");
        let status = |s: &str| spec.select(s).map(|r| r.status.as_u16());
        assert_eq!(status("the order was not found"), Some(404));
        assert_eq!(status("404"), Some(400));
        assert_eq!(status("4040"), Some(200), "a pattern matches the whole text, as Java's matches() does");
        assert_eq!(status("line one\nnot found"), Some(200), "'.' does not cross a line, as in Java");
        assert_eq!(status(""), Some(200), "no error: the default");
        for literal in ["[a+]+", "a\\++", "x{2}"] {
            assert!(whole_match("selectionPattern", literal).is_ok(), "{literal} is not possessive");
        }
    }

    #[test]
    fn refusals_name_the_setting() {
        let none = BTreeMap::new();
        let vars = BTreeMap::from([("v".to_owned(), "x".to_owned())]);
        let cases: [(MappingFile<'_>, &str); 2] = [
            (
                MappingFile { proxy: true, passthrough_behavior: Some(Passthrough::Never), ..mapping(&none, None) },
                "proxy: false",
            ),
            (mapping(&none, None), "REST API setting"),
        ];
        for (file, problem) in cases {
            let err = compile(file, &vars, problem != "REST API setting").expect_err(problem);
            assert!(err.contains(problem), "{err}");
        }
        for (yaml, problem) in [
            (
                "\"a++\": { statusCode: 200 }",
                "selectionPattern \"a++\" is not a supported regular expression: possessive",
            ),
            ("\"(?>a)\": { statusCode: 200 }", "atomic"),
            ("\"(a)\\\\1\": { statusCode: 200 }", "not a supported regular expression"),
            ("\"(?<=x)y\": { statusCode: 200 }", "not a supported regular expression"),
            ("default: { statusCode: 99 }", "statusCode"),
            ("default: { statusCode: 200, responseParameters: { x-a: \"'v'\" } }", "method.response.header"),
            ("default: { statusCode: 200, responseParameters: { method.response.header.X: body } }", "use 'literal'"),
            (
                "default: { statusCode: 200, responseParameters: { method.response.header.X: stageVariables.w } }",
                "\"w\"",
            ),
            ("default: { statusCode: 200, responseTemplates: { json: x } }", "not a media type"),
            (
                "default: { statusCode: 200, responseTemplates: { application/json: \"a\\n#macro(m)x#end\" } }",
                "line 2: #macro",
            ),
        ] {
            let file = responses(yaml);
            let err = compile(mapping(&none, Some(&file)), &vars, true).expect_err(problem);
            assert!(err.contains(problem), "{problem}: {err}");
        }
    }

    #[test]
    fn header_sources() {
        let vars = BTreeMap::from([("v".to_owned(), "x".to_owned())]);
        let cases = [
            ("'text'", HeaderSource::Literal(HeaderValue::from_static("text"))),
            ("stageVariables.v", HeaderSource::Literal(HeaderValue::from_static("x"))),
            ("integration.response.header.X-A", HeaderSource::Header(HeaderName::from_static("x-a"))),
            ("integration.response.multivalueheader.X-A", HeaderSource::MultiHeader(HeaderName::from_static("x-a"))),
            ("integration.response.body", HeaderSource::Body(Vec::new())),
            (
                "integration.response.body.errorMessage.code",
                HeaderSource::Body(vec!["errorMessage".into(), "code".into()]),
            ),
            ("context.requestId", HeaderSource::Context(vec!["requestId".into()])),
        ];
        for (text, expected) in cases {
            assert_eq!(header_source(text, &vars), Ok(expected), "{text}");
        }
    }
}
