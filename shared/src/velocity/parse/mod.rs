//! Template text to nodes, once, at cold start. Everything outside the subset is refused here with its line, so
//! rendering never meets a construct it would have to guess at.
//!
//! Whitespace follows Velocity 1.7, which API Gateway runs (AWS's documented outputs depend on it): `#set` takes
//! the indentation before it, and every directive takes the spaces, tabs and one newline right after its
//! closing `)` (or after `#else` / `#end`); indentation before other directives stays.
//!
//! This file holds the parser's state, text and directives; expressions and references are in `expr.rs`, and
//! what the subset refuses in a reference (members, methods, JSONPath, patterns) in `subset.rs`.

mod expr;
mod subset;

use super::{
    MAX_NESTING, ParseError, ParseErrorKind,
    ast::{Expr, Node, Part},
};

const DIRECTIVES: &[&str] = &[
    "set", "if", "elseif", "else", "end", "foreach", "break", "stop", "macro", "include", "parse", "evaluate", "define",
];
const REFUSED: &[&str] = &["break", "stop", "macro", "include", "parse", "evaluate", "define"];

pub(super) fn parse(text: &str) -> Result<Vec<Node>, ParseError> {
    let lines = line_starts(text);
    let mut parser = Parser { src: text, pos: 0, lines: &lines, line_base: 0, depth: 0, in_string: false };
    match parser.block()? {
        (nodes, Stop::Eof) => Ok(nodes),
        (_, Stop::End(line)) => Err(error(line, "#end", ParseErrorKind::Syntax, "has no #if or #foreach to close")),
        (_, Stop::Else(line) | Stop::ElseIf(_, line)) => {
            Err(error(line, "#else", ParseErrorKind::Syntax, "is outside an #if"))
        }
    }
}

fn error(line: usize, construct: impl Into<String>, kind: ParseErrorKind, reason: impl Into<String>) -> ParseError {
    ParseError { line, construct: construct.into(), kind, reason: reason.into() }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at + 1)).collect()
}

/// Velocity 1.x identifiers may hold hyphens (`$elem.partition-key`, `header.X-Test-Header`).
fn ident(text: &str) -> Option<&str> {
    text.chars().next().filter(|c| c.is_ascii_alphabetic() || *c == '_')?;
    let len = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(text.len());
    Some(&text[..len])
}

/// The directive `#name` or `#{name}` at the start of `text`, and its length.
fn directive(text: &str) -> Option<(&str, usize)> {
    let rest = text.strip_prefix('#')?;
    if let Some(inner) = rest.strip_prefix('{') {
        let name = ident(inner)?;
        inner[name.len()..].starts_with('}').then_some((name, name.len() + 3))
    } else {
        let len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        (len > 0).then_some((&rest[..len], len + 1))
    }
}

enum Stop {
    Eof,
    End(usize),
    Else(usize),
    ElseIf(Expr, usize),
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    lines: &'a [usize],
    /// Lines before `src` starts (a string literal is parsed on its own).
    line_base: usize,
    depth: usize,
    in_string: bool,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn line(&self) -> usize {
        self.line_base + self.lines.partition_point(|&start| start <= self.pos)
    }

    fn err(&self, construct: impl Into<String>, kind: ParseErrorKind, reason: impl Into<String>) -> ParseError {
        error(self.line(), construct, kind, reason)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err("nesting", ParseErrorKind::TooDeep, format!("is deeper than {MAX_NESTING}")));
        }
        Ok(())
    }

    fn block(&mut self) -> Result<(Vec<Node>, Stop), ParseError> {
        self.enter()?;
        let (mut nodes, mut text) = (Vec::new(), String::new());
        let stop = loop {
            let rest = self.rest();
            let Some(at) = rest.find(['#', '$', '\\']) else {
                text.push_str(rest);
                self.pos = self.src.len();
                break Stop::Eof;
            };
            text.push_str(&rest[..at]);
            self.pos += at;
            match self.peek() {
                Some(b'$') => match self.reference()? {
                    Some(reference) => {
                        flush(&mut text, &mut nodes);
                        nodes.push(Node::Ref(reference));
                    }
                    None => {
                        text.push('$');
                        self.pos += 1;
                    }
                },
                Some(b'\\') => self.backslashes(&mut text, &mut nodes)?,
                _ => {
                    if let Some(stop) = self.hash(&mut text, &mut nodes)? {
                        break stop;
                    }
                }
            }
        };
        flush(&mut text, &mut nodes);
        self.depth -= 1;
        Ok((nodes, stop))
    }

    fn backslashes(&mut self, text: &mut String, nodes: &mut Vec<Node>) -> Result<(), ParseError> {
        let slashes = self.rest().bytes().take_while(|b| *b == b'\\').count();
        self.pos += slashes;
        if self.peek() == Some(b'$') {
            if let Some(reference) = self.reference()? {
                flush(text, nodes);
                nodes.push(Node::Escaped { slashes, reference });
                return Ok(());
            }
        } else if let Some((name, len)) = directive(self.rest()).filter(|(name, _)| DIRECTIVES.contains(name)) {
            // `\#end` is the text `#end`; `\\#end` is a backslash and the directive.
            text.push_str(&"\\".repeat(slashes / 2));
            if slashes % 2 == 1 {
                text.push('#');
                text.push_str(name);
                self.pos += len;
            }
            return Ok(());
        }
        text.push_str(&"\\".repeat(slashes));
        Ok(())
    }

    /// `#` at `pos`: a comment, a directive, or text. Returns the stop that ends the current block, if any.
    fn hash(&mut self, text: &mut String, nodes: &mut Vec<Node>) -> Result<Option<Stop>, ParseError> {
        let line = self.line();
        let rest = self.rest();
        if self.in_string && (rest.starts_with("##") || rest.starts_with("#*")) {
            return Err(self.err(&rest[..2], ParseErrorKind::Unsupported, "a comment inside a string literal"));
        }
        if rest.starts_with("##") {
            // A line comment takes its newline with it.
            self.pos += rest.find('\n').map_or(rest.len(), |at| at + 1);
            return Ok(None);
        }
        for (open, close) in [("#*", "*#"), ("#[[", "]]#")] {
            if let Some(body) = rest.strip_prefix(open) {
                let Some(end) = body.find(close) else {
                    return Err(self.err(open, ParseErrorKind::Syntax, format!("has no closing {close}")));
                };
                if open == "#[[" {
                    text.push_str(&body[..end]);
                }
                self.pos += open.len() + end + close.len();
                return Ok(None);
            }
        }
        let Some((name, len)) = directive(rest).filter(|(name, _)| DIRECTIVES.contains(name)) else {
            // `#fff`, `#1`: text, as in Velocity. `#name(` would be a macro call, which the subset lacks.
            if let Some((name, len)) = directive(rest)
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && rest[len..].starts_with('(')
            {
                return Err(self.err(format!("#{name}"), ParseErrorKind::Unsupported, "a macro call"));
            }
            text.push('#');
            self.pos += 1;
            return Ok(None);
        };
        let construct = format!("#{name}");
        if self.in_string {
            return Err(self.err(construct, ParseErrorKind::Unsupported, "a directive inside a string literal"));
        }
        if REFUSED.contains(&name) {
            return Err(self.err(construct, ParseErrorKind::Unsupported, "outside Tollgate's Velocity subset"));
        }
        self.pos += len;
        match name {
            "set" => {
                // Velocity's #set token starts with the spaces before it, when they start a token: at a line's
                // start or right after a reference or directive (mid-line they belong to the text before).
                let kept = text.trim_end_matches([' ', '\t']).len();
                if kept == 0 || text[..kept].ends_with(['\n', '\r']) {
                    text.truncate(kept);
                }
                flush(text, nodes);
                let node = self.set_args()?;
                nodes.push(node);
            }
            "if" => {
                flush(text, nodes);
                let cond = self.paren_expr(&construct)?;
                self.gobble();
                let node = self.if_rest(cond, line)?;
                nodes.push(node);
            }
            "foreach" => {
                flush(text, nodes);
                let node = self.foreach(line)?;
                nodes.push(node);
            }
            "elseif" => {
                let cond = self.paren_expr(&construct)?;
                self.gobble();
                return Ok(Some(Stop::ElseIf(cond, line)));
            }
            "else" => {
                self.gobble();
                return Ok(Some(Stop::Else(line)));
            }
            _ => {
                self.gobble();
                return Ok(Some(Stop::End(line)));
            }
        }
        Ok(None)
    }

    /// Spaces and tabs up to a newline, and the newline; nothing when other text follows on the line.
    fn gobble(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if let Some(newline) = ["\r\n", "\n", "\r"].into_iter().find(|nl| trimmed.starts_with(nl)) {
            self.pos += rest.len() - trimmed.len() + newline.len();
        }
    }

    fn if_rest(&mut self, mut cond: Expr, line: usize) -> Result<Node, ParseError> {
        let mut arms = Vec::new();
        loop {
            let (body, stop) = self.block()?;
            arms.push((cond, body));
            match stop {
                Stop::ElseIf(next, _) => cond = next,
                Stop::End(_) => return Ok(Node::If { arms, otherwise: Vec::new() }),
                Stop::Else(_) => {
                    return match self.block()? {
                        (otherwise, Stop::End(_)) => Ok(Node::If { arms, otherwise }),
                        (_, Stop::Eof) => Err(error(line, "#if", ParseErrorKind::Syntax, "has no #end")),
                        (_, Stop::Else(at) | Stop::ElseIf(_, at)) => {
                            Err(error(at, "#else", ParseErrorKind::Syntax, "follows #else"))
                        }
                    };
                }
                Stop::Eof => return Err(error(line, "#if", ParseErrorKind::Syntax, "has no #end")),
            }
        }
    }

    fn foreach(&mut self, line: usize) -> Result<Node, ParseError> {
        self.open("#foreach")?;
        self.ws();
        let var = match self.reference()? {
            Some(var) if var.parts.is_empty() && !matches!(var.root.as_str(), "input" | "util") => var.root,
            _ => return Err(self.err("#foreach", ParseErrorKind::Syntax, "needs a $variable before `in`")),
        };
        self.ws();
        if !self.word("in") {
            return Err(self.err("#foreach", ParseErrorKind::Syntax, "needs `in` after its variable"));
        }
        let items = self.expr()?;
        self.close("#foreach")?;
        self.gobble();
        match self.block()? {
            (body, Stop::End(_)) => Ok(Node::Foreach { var, items, body, line }),
            (_, Stop::Eof) => Err(error(line, "#foreach", ParseErrorKind::Syntax, "has no #end")),
            (_, Stop::Else(at) | Stop::ElseIf(_, at)) => {
                Err(error(at, "#else", ParseErrorKind::Syntax, "inside #foreach has no #if"))
            }
        }
    }

    fn set_args(&mut self) -> Result<Node, ParseError> {
        self.open("#set")?;
        self.ws();
        let Some(target) = self.reference()? else {
            return Err(self.err("#set", ParseErrorKind::Syntax, "needs a $reference to assign"));
        };
        let keys: Vec<&str> =
            target.parts.iter().filter_map(|p| if let Part::Prop(k) = p { Some(k.as_str()) } else { None }).collect();
        if keys.len() != target.parts.len() {
            return Err(self.err(&target.text, ParseErrorKind::Unsupported, "#set assigns a variable or a property"));
        }
        let override_ok = match keys.as_slice() {
            ["responseOverride", "status"] | ["responseOverride", "header", _] => true,
            ["requestOverride", "header" | "path" | "querystring", _] => true,
            [first, ..] => !first.ends_with("Override"),
            [] => true,
        };
        if target.root == "context" && !override_ok {
            return Err(self.err(&target.text, ParseErrorKind::Unsupported, "not an override API Gateway has"));
        }
        self.ws();
        if self.peek() != Some(b'=') {
            return Err(self.err("#set", ParseErrorKind::Syntax, "needs `=` after its target"));
        }
        self.pos += 1;
        let value = self.expr()?;
        self.close("#set")?;
        self.gobble();
        Ok(Node::Set { target, value })
    }

    fn open(&mut self, construct: &str) -> Result<(), ParseError> {
        self.pos += self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
        if self.peek() != Some(b'(') {
            return Err(self.err(construct, ParseErrorKind::Syntax, "needs `(`"));
        }
        self.pos += 1;
        Ok(())
    }

    fn close(&mut self, construct: &str) -> Result<(), ParseError> {
        self.ws();
        if self.peek() != Some(b')') {
            return Err(self.err(construct, ParseErrorKind::Syntax, "needs `)` after its expression"));
        }
        self.pos += 1;
        Ok(())
    }

    fn paren_expr(&mut self, construct: &str) -> Result<Expr, ParseError> {
        self.open(construct)?;
        let expr = self.expr()?;
        self.close(construct)?;
        Ok(expr)
    }

    fn ws(&mut self) {
        self.pos += self.rest().len() - self.rest().trim_start_matches([' ', '\t', '\r', '\n']).len();
    }

    /// The keyword `word` (not the start of a longer identifier); consumed when there.
    fn word(&mut self, word: &str) -> bool {
        let rest = self.rest();
        let whole = rest
            .strip_prefix(word)
            .is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        if whole {
            self.pos += word.len();
        }
        whole
    }
}

fn flush(text: &mut String, nodes: &mut Vec<Node>) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    }
}
