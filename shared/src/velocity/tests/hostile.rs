//! Hostile templates and bodies end in an error at the limits, never in a hang, a crash or unbounded memory.

use serde_json::json;

use super::render_err;
use crate::velocity::{MAX_ITERATIONS, ParseErrorKind, RenderError, Template};

#[test]
fn hostile_input_is_bounded() {
    let many: Vec<serde_json::Value> = (0..MAX_ITERATIONS + 1).map(|i| json!(i)).collect();
    let many = serde_json::to_string(&many).expect("serializes");
    assert_eq!(render_err("#foreach($i in $input.path('$'))#end", &many), RenderError::TooManyIterations);
    assert_eq!(
        render_err("#foreach($i in [1..100])#foreach($j in [1..101])#end#end", ""),
        RenderError::TooManyIterations
    );
    assert_eq!(render_err("#foreach($i in [0..1000000])#end", ""), RenderError::TooManyIterations);

    let deep_directives = format!("{}{}", "#if(true)".repeat(1000), "#end".repeat(1000));
    assert_eq!(Template::parse(&deep_directives).map(|_| ()).expect_err("too deep").kind, ParseErrorKind::TooDeep);
    let parens = format!("$a.get({}1{})", "(".repeat(5000), ")".repeat(5000));
    for deep in [parens, format!("#set($a = {})", "[".repeat(5000)), format!("#if({}true)#end", "!".repeat(5000))] {
        let kind = Template::parse(&deep).map(|_| ()).expect_err("too deep").kind;
        assert_eq!(kind, ParseErrorKind::TooDeep);
    }

    let deep_body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(render_err("$input.path('$')", &deep_body), RenderError::BodyNotJson(_)));
    assert_eq!(render_err("#set($a = [])#foreach($i in [1..5000])#set($a = [$a])#end", ""), RenderError::TooDeep);
    let nested_set = "#set($m = {})#foreach($i in [1..5000])#set($m.x = $m)#end";
    assert_eq!(render_err(nested_set, ""), RenderError::TooDeep);

    // Output that doubles, a shared structure that prints as 2^60 items, output over the limit, and work that
    // never reaches the output: each stops.
    let doubling = "#set($s = \"x\")#foreach($i in [1..100])#set($s = \"$s$s\")#end";
    assert_eq!(render_err(doubling, ""), RenderError::OutputTooLarge);
    assert_eq!(
        render_err("#set($a = [1])#foreach($i in [1..60])#set($a = [$a, $a])#end$a", ""),
        RenderError::OutputTooLarge
    );
    let body = format!("\"{}\"", "x".repeat(4096));
    assert_eq!(render_err("#foreach($i in [1..5000])$input.body#end", &body), RenderError::OutputTooLarge);
    let body = format!("[{}1]", format!("\"{}\",", "x".repeat(1024)).repeat(1024));
    assert_eq!(render_err("#foreach($i in [1..5000])#set($x = $input.json('$'))#end", &body), RenderError::TooMuchWork);
}
