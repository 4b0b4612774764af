//! Expressions and references: `$root.prop.call(args)[index]`, literals, and the operators by precedence.

use super::{Parser, error, ident, line_starts, subset::check};
use crate::velocity::{
    ParseError, ParseErrorKind,
    ast::{Expr, Node, Op, Part, Ref},
};

const OPERATORS: &[(usize, &str, Op)] = &[
    (0, "||", Op::Or),
    (0, "or", Op::Or),
    (1, "&&", Op::And),
    (1, "and", Op::And),
    (2, "==", Op::Eq),
    (2, "!=", Op::Ne),
    (2, "eq", Op::Eq),
    (2, "ne", Op::Ne),
    (3, "<=", Op::Le),
    (3, ">=", Op::Ge),
    (3, "<", Op::Lt),
    (3, ">", Op::Gt),
    (3, "le", Op::Le),
    (3, "ge", Op::Ge),
    (3, "lt", Op::Lt),
    (3, "gt", Op::Gt),
    (4, "+", Op::Add),
    (4, "-", Op::Sub),
    (5, "*", Op::Mul),
    (5, "/", Op::Div),
    (5, "%", Op::Mod),
];

impl Parser<'_> {
    /// A reference at `pos` (on `$`), or `None` (and `pos` unmoved) when `$` starts none.
    pub(super) fn reference(&mut self) -> Result<Option<Ref>, ParseError> {
        if self.peek() != Some(b'$') {
            return Ok(None);
        }
        let (start, line) = (self.pos, self.line());
        let mut at = start + 1;
        at += usize::from(self.src.as_bytes().get(at) == Some(&b'!'));
        let braced = self.src.as_bytes().get(at) == Some(&b'{');
        at += usize::from(braced);
        let Some(root) = ident(self.src.get(at..).unwrap_or("")) else { return Ok(None) };
        let root = root.to_owned();
        self.pos = at + root.len();
        let mut parts = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') => {
                    let Some(name) = ident(self.src.get(self.pos + 1..).unwrap_or("")) else { break };
                    let name = name.to_owned();
                    self.pos += 1 + name.len();
                    if self.peek() == Some(b'(') {
                        self.pos += 1;
                        let args = self.args()?;
                        parts.push(Part::Call(name, args));
                    } else {
                        parts.push(Part::Prop(name));
                    }
                }
                Some(b'[') => {
                    // In text `$a[` may be prose; an index that does not parse leaves it as text.
                    let (saved_pos, saved_depth) = (self.pos, self.depth);
                    self.pos += 1;
                    match self.index() {
                        Ok(index) => parts.push(Part::Index(index)),
                        Err(_) if !braced => {
                            (self.pos, self.depth) = (saved_pos, saved_depth);
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                _ => break,
            }
        }
        if braced {
            if self.peek() != Some(b'}') {
                return Err(self.err(format!("${{{root}"), ParseErrorKind::Syntax, "has no closing }"));
            }
            self.pos += 1;
        }
        let reference = Ref { root, parts, text: self.src.get(start..self.pos).unwrap_or_default().to_owned(), line };
        check(&reference)?;
        Ok(Some(reference))
    }

    fn index(&mut self) -> Result<Expr, ParseError> {
        let index = self.expr()?;
        self.ws();
        if self.peek() != Some(b']') {
            return Err(self.err("[", ParseErrorKind::Syntax, "needs a closing ]"));
        }
        self.pos += 1;
        Ok(index)
    }

    fn args(&mut self) -> Result<Vec<Expr>, ParseError> {
        let mut args = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(args);
                }
                _ => return Err(self.err("(", ParseErrorKind::Syntax, "arguments need a closing )")),
            }
        }
    }

    pub(super) fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let expr = self.binary(0)?;
        self.depth -= 1;
        Ok(expr)
    }

    fn binary(&mut self, level: usize) -> Result<Expr, ParseError> {
        if level == 6 {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        loop {
            self.ws();
            let found = OPERATORS
                .iter()
                .filter(|(l, ..)| *l == level)
                .find_map(|&(_, token, op)| self.operator(token).then_some(op));
            let Some(op) = found else { return Ok(left) };
            let right = self.binary(level + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    /// Consumes the operator `token` when it is next.
    fn operator(&mut self, token: &str) -> bool {
        if token.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return self.word(token);
        }
        let here = self.rest().starts_with(token);
        if here {
            self.pos += token.len();
        }
        here
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.ws();
        let not = if self.peek() == Some(b'!') {
            self.pos += 1;
            true
        } else {
            self.word("not")
        };
        if not || self.peek() == Some(b'-') {
            self.pos += usize::from(!not);
            self.enter()?;
            let inner = Box::new(self.unary()?);
            self.depth -= 1;
            return Ok(if not { Expr::Not(inner) } else { Expr::Neg(inner) });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some(b'$') => match self.reference()? {
                Some(reference) => Ok(Expr::Ref(reference)),
                None => Err(self.err("$", ParseErrorKind::Syntax, "is not a reference")),
            },
            Some(quote @ (b'"' | b'\'')) => self.string(quote),
            Some(b'0'..=b'9') => self.number(),
            Some(b'(') => {
                self.pos += 1;
                let inner = self.expr()?;
                self.close("(")?;
                Ok(inner)
            }
            Some(b'[') => self.list(),
            Some(b'{') => self.map(),
            _ if self.word("true") => Ok(Expr::Bool(true)),
            _ if self.word("false") => Ok(Expr::Bool(false)),
            _ => {
                let found = self.rest().chars().next().map_or_else(|| "end of template".to_owned(), String::from);
                Err(self.err(found, ParseErrorKind::Syntax, "is not an expression"))
            }
        }
    }

    fn number(&mut self) -> Result<Expr, ParseError> {
        let rest = self.rest();
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let mut len = digits(rest);
        // `1..3` is a range, so a fraction needs a digit after its point.
        let fraction = rest[len..].strip_prefix('.').map_or(0, digits);
        if fraction > 0 {
            len += 1 + fraction;
        }
        let literal = &rest[..len];
        let parsed =
            if fraction > 0 { literal.parse().ok().map(Expr::Float) } else { literal.parse().ok().map(Expr::Int) };
        let expr = parsed.ok_or_else(|| self.err(literal, ParseErrorKind::Syntax, "is out of range"))?;
        self.pos += len;
        Ok(expr)
    }

    fn string(&mut self, quote: u8) -> Result<Expr, ParseError> {
        let line = self.line();
        let q = char::from(quote);
        let mut content = String::new();
        let mut at = self.pos + 1;
        loop {
            let rest = self.src.get(at..).unwrap_or("");
            let Some(found) = rest.find([q, '\\']) else {
                return Err(error(line, format!("{q}"), ParseErrorKind::Syntax, "string literal is not closed"));
            };
            content.push_str(&rest[..found]);
            let tail = &rest[found..];
            if let Some(escaped) = tail.strip_prefix('\\') {
                // Velocity keeps escapes as written; they only keep the quote after them from ending the string.
                let len = 1 + escaped.chars().next().map_or(0, char::len_utf8);
                content.push_str(&tail[..len]);
                at += found + len;
            } else if tail[1..].starts_with(q) {
                content.push(q);
                at += found + 2;
            } else {
                at += found + 1;
                break;
            }
        }
        self.pos = at;
        if quote == b'\'' || !content.contains(['$', '#', '\\']) {
            return Ok(Expr::Str(content));
        }
        let lines = line_starts(&content);
        let mut inner =
            Parser { src: &content, pos: 0, lines: &lines, line_base: line - 1, depth: self.depth, in_string: true };
        let (nodes, _) = inner.block()?;
        if nodes.iter().all(|node| matches!(node, Node::Text(_))) {
            let text = nodes.iter().map(|node| if let Node::Text(t) = node { t.as_str() } else { "" }).collect();
            return Ok(Expr::Str(text));
        }
        Ok(Expr::Interpolated(nodes))
    }

    fn list(&mut self) -> Result<Expr, ParseError> {
        self.pos += 1;
        self.ws();
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Expr::List(items));
        }
        let first = self.expr()?;
        self.ws();
        if self.rest().starts_with("..") {
            self.pos += 2;
            let last = self.index()?;
            return Ok(Expr::Range(Box::new(first), Box::new(last)));
        }
        items.push(first);
        loop {
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    items.push(self.expr()?);
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Expr::List(items));
                }
                _ => return Err(self.err("[", ParseErrorKind::Syntax, "list needs a closing ]")),
            }
        }
    }

    fn map(&mut self) -> Result<Expr, ParseError> {
        self.pos += 1;
        self.ws();
        let mut entries = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Expr::Map(entries));
        }
        loop {
            let key = self.expr()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("{", ParseErrorKind::Syntax, "map entries need `key : value`"));
            }
            self.pos += 1;
            entries.push((key, self.expr()?));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Expr::Map(entries));
                }
                _ => return Err(self.err("{", ParseErrorKind::Syntax, "map needs a closing }")),
            }
        }
    }
}
