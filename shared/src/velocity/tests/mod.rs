//! The engine's tests, by topic: AWS's documented examples (`examples.rs`), the language as API Gateway runs it
//! (`language.rs`), what the subset refuses at load (`refusals.rs`), hostile input against the limits
//! (`hostile.rs`), and the real definitions in the corpus (`corpus.rs`). The helpers they share are here.

mod corpus;
mod examples;
mod hostile;
mod language;
mod refusals;

use super::{RenderError, RenderInput, Rendered, Template};

fn template(text: &str) -> Template {
    Template::parse(text).expect("template parses")
}

fn render_with(text: &str, input: &RenderInput<'_>) -> Rendered {
    template(text).render(input).expect("template renders")
}

fn render(text: &str, body: &str) -> String {
    render_with(text, &RenderInput { body, ..RenderInput::default() }).body
}

fn render_err(text: &str, body: &str) -> RenderError {
    template(text).render(&RenderInput { body, ..RenderInput::default() }).expect_err("render fails")
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn templates_are_shareable() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Template>();
}
