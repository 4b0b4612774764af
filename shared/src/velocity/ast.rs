//! The syntax tree: `parse/` builds it once, at cold start, and `render/` walks it on every request.

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Ref(Ref),
    /// `\$ref`: Velocity shows the reference's own text when it has a value, the backslash too when not.
    Escaped {
        slashes: usize,
        reference: Ref,
    },
    Set {
        target: Ref,
        value: Expr,
    },
    If {
        arms: Vec<(Expr, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    Foreach {
        var: String,
        items: Expr,
        body: Vec<Node>,
        line: usize,
    },
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Ref(Ref),
    Str(String),
    /// A double-quoted string with references in it.
    Interpolated(Vec<Node>),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Range(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// `$root.prop.call(args)[index]`, with its text as written (for escapes) and its line (for errors).
#[derive(Debug, Clone)]
pub(super) struct Ref {
    pub(super) root: String,
    pub(super) parts: Vec<Part>,
    pub(super) text: String,
    pub(super) line: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Part {
    Prop(String),
    Call(String, Vec<Expr>),
    Index(Expr),
}
