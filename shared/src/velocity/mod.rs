//! REST mapping templates: the subset of Velocity (1.7, the version API Gateway runs) that real templates use.
//! No maintained Rust Velocity engine exists, so this is Tollgate's own, kept small.
//!
//! A template is parsed once, at cold start ([`Template::parse`]); a construct outside the subset is refused
//! there, naming it and its line, so a template is never rendered wrongly. Rendering ([`Template::render`]) is
//! bounded (iterations, output, work, nesting) and never panics: a template that fails at run time gives a
//! [`RenderError`], which the caller answers with a 500 and logs.
//!
//! The subset: `#set`, `#if` / `#elseif` / `#else`, `#foreach` (with `$foreach.index`, `.count`, `.hasNext`,
//! `.first`, `.last`, `$velocityCount`), `##` and `#* *#` comments, `#[[ ]]#`, `\$` escapes; references with
//! properties, indexes (`$a[0]`, `$m['k']`) and the common Java methods (`size`, `length`, `isEmpty`, `get`,
//! `keySet`, `values`, `contains`, `containsKey`, `toString`, `equals`, `substring`, `indexOf`, `startsWith`,
//! `endsWith`, `trim`, `toLowerCase`, `toUpperCase`, `replace`, and `replaceAll` / `split` with literal
//! patterns); literals (strings, numbers, booleans, lists, ranges, maps); `== != < > <= >= && || !` and their
//! word forms; `+ - * / %`. API Gateway's variables: `$input.body`, `.json(path)`, `.path(path)`, `.params()`,
//! `.params(name)`; `$util.escapeJavaScript`, `urlEncode`, `urlDecode`, `base64Encode`, `base64Decode`,
//! `parseJson`; `$context.*` (with `responseOverride.status` / `.header.*` and `requestOverride.header.*` /
//! `.path.*` / `.querystring.*`), `$stageVariables.*`. JSONPath: `$`, `.name`, `['name']`, `[n]`, `[*]`, `..`.
//!
//! Where API Gateway differs from stock Velocity, API Gateway wins: a null or undefined reference renders as
//! nothing (not as its own text), an empty body reads as `{}`, `$input.params(name)` of a missing parameter is
//! the empty string, JSON arrays print as JSON and maps as Java's `{k=v}`. A JSONPath that matches nothing is
//! null for both `$input.path` and `$input.json`. Whitespace is Velocity 1.7's, which AWS's documented outputs
//! show: a directive takes the newline right after it, and `#set` its indentation too (see `parse/mod.rs`).
//!
//! Layout: `ast.rs` is the syntax tree; `parse/` turns text into it (directives and text in `mod.rs`,
//! expressions and references in `expr.rs`, the load-time refusals in `subset.rs`); `render/` runs it (the
//! interpreter loop and work accounting in `mod.rs`, then `expr.rs`, `value.rs`, `methods.rs`, `util.rs`,
//! `input.rs`, `jsonpath.rs`).

mod ast;
mod parse;
mod render;

/// `#foreach` iterations per render, all loops together.
pub const MAX_ITERATIONS: usize = 10_000;
/// Output bytes per render (API Gateway's payload limit); also the longest string a template may build.
pub const MAX_OUTPUT: usize = 10 * 1024 * 1024;
/// Work per render: bytes produced and values visited. Several passes over a 10 MB body fit.
pub const MAX_WORK: usize = 128 * 1024 * 1024;
/// Nesting of directives and expressions in a template's text.
pub const MAX_NESTING: usize = 64;
/// Nesting of values a render builds (a body's own nesting is bounded by the JSON parser, at 128).
pub const MAX_VALUE_DEPTH: usize = 200;

/// A parsed mapping template: `Send` and `Sync`, rendered any number of times from any thread.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<ast::Node>,
}

impl Template {
    /// Parses `text`, refusing anything outside the subset with the construct and its line.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse(text).map(|nodes| Self { nodes })
    }

    /// Renders the template for one request or integration response.
    pub fn render(&self, input: &RenderInput<'_>) -> Result<Rendered, RenderError> {
        render::render(&self.nodes, input)
    }
}

/// What API Gateway exposes to a template. Parameters are name and value pairs in the order the request had
/// them (templates iterate `keySet()`); the body is read as JSON only when `$input.path` / `.json` need it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderInput<'a> {
    /// The request (or integration response) body as text.
    pub body: &'a str,
    pub path: &'a [(String, String)],
    pub querystring: &'a [(String, String)],
    pub header: &'a [(String, String)],
    /// `$context`: an object (anything else reads as an empty one). Its keys iterate in serde_json's order.
    pub context: Option<&'a serde_json::Value>,
    pub stage_variables: &'a [(String, String)],
}

/// A rendered template: the body, and the overrides it set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub body: String,
    pub response_override: ResponseOverride,
    pub request_override: RequestOverride,
}

/// `$context.responseOverride`: set in an integration response's template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseOverride {
    pub status: Option<u16>,
    /// A list value gives one header per item.
    pub headers: Vec<(String, String)>,
}

/// `$context.requestOverride`: set in an integration request's template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOverride {
    pub headers: Vec<(String, String)>,
    pub path: Vec<(String, String)>,
    pub querystring: Vec<(String, String)>,
}

/// Why a template cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping template line {line}: {construct}: {reason}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    /// The construct as written, e.g. `#macro`, `$util.toJson`, `.matches()`.
    pub construct: String,
    pub kind: ParseErrorKind,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Valid Velocity, outside the subset.
    Unsupported,
    /// Not valid Velocity.
    Syntax,
    /// Nested deeper than [`MAX_NESTING`].
    TooDeep,
}

/// Why a render failed; API Gateway answers these with a 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("more than {MAX_ITERATIONS} #foreach iterations")]
    TooManyIterations,
    #[error("output over {MAX_OUTPUT} bytes")]
    OutputTooLarge,
    #[error("more work than a render may do ({MAX_WORK} units)")]
    TooMuchWork,
    #[error("values nested deeper than {MAX_VALUE_DEPTH}")]
    TooDeep,
    /// `$input.path` or `$input.json` on a body that is not JSON.
    #[error("the body is not JSON: {0}")]
    BodyNotJson(String),
    /// What Java would throw on: an index out of range, bad base64 or JSON given to `$util`, a pattern or
    /// JSONPath computed at run time that is outside the subset, an integer overflow.
    #[error("mapping template line {line}: {what}")]
    Failed { line: usize, what: String },
    /// API Gateway's overrides are final; setting one twice is a 5XX there too.
    #[error("mapping template line {line}: {name} is overridden twice")]
    OverriddenTwice { line: usize, name: String },
    #[error("mapping template line {line}: {value:?} is not an HTTP status code")]
    BadStatus { line: usize, value: String },
}

#[cfg(test)]
mod tests;
