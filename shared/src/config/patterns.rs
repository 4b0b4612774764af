//! Request models' `pattern`s, read and compiled as the schema engine (boon) will, before it sees them: boon 0.6
//! takes some patterns as valid while reading a schema and then fails compiling them, which it reports as its own
//! bug with a `debug_assert!` (found by the `validation` fuzz target). Such a model is refused here, at load.

use serde_json::Value;

use super::validation::DATA_KEYWORDS;

/// Refuses a `pattern` that parses but names what the regex engine does not have (`\p{Nope}`): boon 0.6 reads
/// such a pattern as valid, then fails compiling it and reports that as its own bug, with a `debug_assert!` that
/// panics in debug builds (found by the `validation` fuzz target). A pattern that does not parse is left to boon,
/// which names it.
pub(super) fn check_patterns(schema: &Value) -> Result<(), String> {
    let mut stack = vec![schema];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(object) => {
                for (key, value) in object {
                    match (key.as_str(), value) {
                        ("pattern", Value::String(pattern)) => check_pattern(pattern)?,
                        (key, _) if DATA_KEYWORDS.contains(&key) => {}
                        (_, value) => stack.push(value),
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    Ok(())
}

/// Reads and compiles `pattern` as boon does: ECMA's `\cX` control escapes become the control character, `\d`,
/// `\w` and `\s` their ASCII (ECMA) classes, then the regex crate compiles it; where that fails (an unknown
/// class, a program over the size limit) boon would call it its own bug. Costs one more compile per pattern, once,
/// at cold start.
fn check_pattern(pattern: &str) -> Result<(), String> {
    use regex_syntax::ast::{self, ClassPerl, ClassPerlKind, ClassSetItem, ErrorKind, parse::Parser};
    /// The span and ECMA replacement of every Perl class in the tree.
    struct Perl(Vec<(usize, usize, &'static str)>);
    impl Perl {
        fn add(&mut self, perl: &ClassPerl) {
            let with = match (&perl.kind, perl.negated) {
                (ClassPerlKind::Digit, false) => "[0-9]",
                (ClassPerlKind::Digit, true) => "[^0-9]",
                (ClassPerlKind::Word, false) => "[A-Za-z0-9_]",
                (ClassPerlKind::Word, true) => "[^A-Za-z0-9_]",
                (ClassPerlKind::Space, false) => "[ \t\n\r\u{000b}\u{000c}\u{00a0}\u{feff}\u{2003}\u{2029}]",
                (ClassPerlKind::Space, true) => "[^ \t\n\r\u{000b}\u{000c}\u{00a0}\u{feff}\u{2003}\u{2029}]",
            };
            self.0.push((perl.span.start.offset, perl.span.end.offset, with));
        }
    }
    impl ast::Visitor for Perl {
        type Output = Vec<(usize, usize, &'static str)>;
        type Err = ();
        fn finish(self) -> Result<Self::Output, ()> {
            Ok(self.0)
        }
        fn visit_pre(&mut self, ast: &ast::Ast) -> Result<(), ()> {
            if let ast::Ast::ClassPerl(perl) = ast {
                self.add(perl);
            }
            Ok(())
        }
        fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), ()> {
            if let ClassSetItem::Perl(perl) = item {
                self.add(perl);
            }
            Ok(())
        }
    }
    let mut text = pattern.to_owned();
    let tree = loop {
        match Parser::new().parse(&text) {
            Ok(tree) => break tree,
            Err(e)
                if *e.kind() == ErrorKind::EscapeUnrecognized
                    && &text[e.span().start.offset..e.span().end.offset] == "\\c" =>
            {
                let (start, end) = (e.span().start.offset, e.span().end.offset);
                match text[end..].chars().next().filter(char::is_ascii_alphabetic) {
                    Some(letter) => {
                        text = format!("{}{}{}", &text[..start], ((letter as u8) % 32) as char, &text[end + 1..])
                    }
                    None => return Ok(()),
                }
            }
            // Not a regex at all: boon says so itself.
            Err(_) => return Ok(()),
        }
    };
    let mut spans = ast::visit(&tree, Perl(Vec::new())).unwrap_or_default();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (start, end, with) in spans {
        text.replace_range(start..end, with);
    }
    regex::Regex::new(&text).map(drop).map_err(|e| {
        let why = e.to_string();
        format!("pattern {pattern:?}: {}", why.lines().last().unwrap_or(&why).trim_start_matches("error: "))
    })
}
