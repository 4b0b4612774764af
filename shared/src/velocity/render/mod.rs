//! Rendering: the interpreter loop over the nodes (text, references, `#set`, `#if`, `#foreach`), the overrides a
//! template sets, and the work accounting. Every loop, string and traversal is counted against the limits in
//! `velocity/mod.rs`, so a hostile body ends in a `RenderError`.
//!
//! The rest of rendering, one concern a file: `value.rs` (values as Velocity sees them, and how they print),
//! `expr.rs` (expressions, operators, equality, references), `methods.rs` (the Java methods), `util.rs`
//! (`$util`), `input.rs` (`$input`), `jsonpath.rs` (the JSONPath subset).

mod expr;
mod input;
mod jsonpath;
mod methods;
mod util;
mod value;

use std::{cell::Cell, collections::HashMap, rc::Rc};

use self::value::{Obj, Value, int};
pub(super) use self::{
    jsonpath::json_path,
    methods::{java_replacement, literal_regex},
};
use super::{
    MAX_ITERATIONS, MAX_OUTPUT, MAX_VALUE_DEPTH, MAX_WORK, RenderError, RenderInput, Rendered,
    ast::{Expr, Node, Part, Ref},
};

pub(super) fn render(nodes: &[Node], input: &RenderInput<'_>) -> Result<Rendered, RenderError> {
    let mut context = match input.context.map(Value::from_json) {
        Some(Value::Map(map)) => Rc::unwrap_or_clone(map),
        _ => Obj::new(),
    };
    // The overrides exist from the start, so `#set($context.responseOverride.status = 400)` has somewhere to go.
    let overrides: [(&str, &[&str]); 2] =
        [("responseOverride", &["header"]), ("requestOverride", &["header", "path", "querystring"])];
    for (name, members) in overrides {
        if context.get(name).is_none() {
            let mut obj = Obj::new();
            for member in members {
                obj.insert((*member).to_owned(), Value::Map(Rc::new(Obj::new())));
            }
            context.insert(name.to_owned(), Value::Map(Rc::new(obj)));
        }
    }
    let mut vars = HashMap::new();
    vars.insert("context".to_owned(), Value::Map(Rc::new(context)));
    vars.insert("stageVariables".to_owned(), Obj::from_pairs(input.stage_variables));
    let mut renderer = Renderer {
        input,
        vars,
        body: None,
        out: String::new(),
        iterations: 0,
        work: Cell::new(0),
        line: 1,
        result: Rendered::default(),
    };
    renderer.nodes(nodes)?;
    renderer.result.body = renderer.out;
    Ok(renderer.result)
}

struct Renderer<'a> {
    input: &'a RenderInput<'a>,
    vars: HashMap<String, Value>,
    /// The body as JSON, parsed on first use.
    body: Option<Value>,
    out: String,
    iterations: usize,
    /// Bytes produced and values visited, against `MAX_WORK`.
    work: Cell<usize>,
    /// The line of the reference or directive being evaluated, for errors.
    line: usize,
    result: Rendered,
}

impl Renderer<'_> {
    fn spend(&self, units: usize) -> Result<(), RenderError> {
        let total = self.work.get().saturating_add(units);
        self.work.set(total);
        if total > MAX_WORK { Err(RenderError::TooMuchWork) } else { Ok(()) }
    }

    fn failed(&self, what: impl Into<String>) -> RenderError {
        RenderError::Failed { line: self.line, what: what.into() }
    }

    fn emit(&mut self, text: &str) -> Result<(), RenderError> {
        if self.out.len() + text.len() > MAX_OUTPUT {
            return Err(RenderError::OutputTooLarge);
        }
        self.spend(text.len())?;
        self.out.push_str(text);
        Ok(())
    }

    fn new_str(&self, text: String) -> Result<Value, RenderError> {
        if text.len() > MAX_OUTPUT {
            return Err(RenderError::OutputTooLarge);
        }
        self.spend(text.len())?;
        Ok(Value::Str(text.into()))
    }

    fn checked(&self, value: Value) -> Result<Value, RenderError> {
        if value.depth() > MAX_VALUE_DEPTH { Err(RenderError::TooDeep) } else { Ok(value) }
    }

    /// What the value prints as. API Gateway prints null (and undefined references) as nothing.
    fn display(&self, value: &Value) -> Result<String, RenderError> {
        let mut out = String::new();
        match value {
            Value::Null => {}
            Value::Str(s) => out.push_str(s),
            _ => value.write_text(&mut out)?,
        }
        self.spend(out.len())?;
        Ok(out)
    }

    fn nodes(&mut self, nodes: &[Node]) -> Result<(), RenderError> {
        for node in nodes {
            match node {
                Node::Text(text) => self.emit(text)?,
                Node::Ref(reference) => {
                    let value = self.reference(reference)?;
                    let text = self.display(&value)?;
                    self.emit(&text)?;
                }
                Node::Escaped { slashes, reference } => {
                    let value = self.reference(reference)?;
                    let null = matches!(value, Value::Null);
                    self.emit(&"\\".repeat(if null { *slashes } else { slashes / 2 }))?;
                    if null || slashes % 2 == 1 {
                        self.emit(&reference.text)?;
                    } else {
                        let text = self.display(&value)?;
                        self.emit(&text)?;
                    }
                }
                Node::Set { target, value } => self.set(target, value)?,
                Node::If { arms, otherwise } => {
                    let mut chosen = otherwise;
                    for (cond, body) in arms {
                        if self.eval(cond)?.truthy() {
                            chosen = body;
                            break;
                        }
                    }
                    self.nodes(chosen)?;
                }
                Node::Foreach { var, items, body, line } => self.foreach(var, items, body, *line)?,
            }
        }
        Ok(())
    }

    fn foreach(&mut self, var: &str, items: &Expr, body: &[Node], line: usize) -> Result<(), RenderError> {
        self.line = line;
        let items: Vec<Value> = match self.eval(items)? {
            Value::List(list) => list.items.clone(),
            Value::Map(map) => map.entries.iter().map(|(_, value)| value.clone()).collect(),
            // Velocity skips what it cannot iterate.
            _ => Vec::new(),
        };
        let names = [var, "foreach", "velocityCount", "velocityHasNext"];
        let saved: Vec<Option<Value>> = names.iter().map(|name| self.vars.get(*name).cloned()).collect();
        let parent = saved.get(1).cloned().flatten();
        let count = items.len();
        for (i, item) in items.into_iter().enumerate() {
            self.iterations += 1;
            if self.iterations > MAX_ITERATIONS {
                return Err(RenderError::TooManyIterations);
            }
            let mut state = Obj::new();
            for (key, value) in [
                ("index", int(i)),
                ("count", int(i + 1)),
                ("hasNext", Value::Bool(i + 1 < count)),
                ("first", Value::Bool(i == 0)),
                ("last", Value::Bool(i + 1 == count)),
            ] {
                state.insert(key.to_owned(), value);
            }
            if let Some(parent) = &parent {
                state.insert("parent".to_owned(), parent.clone());
            }
            self.vars.insert("foreach".to_owned(), Value::Map(Rc::new(state)));
            self.vars.insert("velocityCount".to_owned(), int(i + 1));
            self.vars.insert("velocityHasNext".to_owned(), Value::Bool(i + 1 < count));
            self.vars.insert(var.to_owned(), item);
            self.nodes(body)?;
        }
        // Velocity restores the loop variable (and `$foreach`) as they were before the loop.
        for (name, old) in names.iter().zip(saved) {
            match old {
                Some(value) => self.vars.insert((*name).to_owned(), value),
                None => self.vars.remove(*name),
            };
        }
        Ok(())
    }

    fn set(&mut self, target: &Ref, value: &Expr) -> Result<(), RenderError> {
        self.line = target.line;
        let value = self.eval(value)?;
        // Velocity 1.7 leaves the target as it was when the value is null.
        if matches!(value, Value::Null) {
            return Ok(());
        }
        self.line = target.line;
        let keys: Vec<&str> =
            target.parts.iter().filter_map(|p| if let Part::Prop(k) = p { Some(k.as_str()) } else { None }).collect();
        if target.root == "context" {
            self.record_override(&keys, &value)?;
        }
        let Some((last, path)) = keys.split_last() else {
            self.vars.insert(target.root.clone(), value);
            return Ok(());
        };
        // `$input.path('$')` hands out the body itself in API Gateway: a change made through it shows in a later
        // `$input.json('$')`. Values here are shared until written, so the body follows the variable's write.
        let body_root = match (self.vars.get(&target.root), &self.body) {
            (Some(Value::Map(var)), Some(Value::Map(body))) => Rc::ptr_eq(var, body),
            _ => false,
        };
        let Some(root) = self.vars.get_mut(&target.root) else { return Ok(()) };
        set_path(root, path, last, value)?;
        if body_root {
            self.body = Some(root.clone());
        }
        Ok(())
    }

    fn record_override(&mut self, keys: &[&str], value: &Value) -> Result<(), RenderError> {
        let line = self.line;
        let twice = |name: &str| RenderError::OverriddenTwice { line, name: name.to_owned() };
        let texts = match value {
            Value::List(list) => list.items.iter().map(|item| self.display(item)).collect::<Result<Vec<_>, _>>()?,
            _ => vec![self.display(value)?],
        };
        let overrides = &mut self.result;
        let slot = match keys {
            ["responseOverride", "status"] => {
                let status = match value {
                    Value::Int(n) => u16::try_from(*n).ok(),
                    Value::Str(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .filter(|status| (100..=599).contains(status));
                let status = status.ok_or_else(|| RenderError::BadStatus { line, value: texts.join(",") })?;
                if overrides.response_override.status.replace(status).is_some() {
                    return Err(twice("responseOverride.status"));
                }
                return Ok(());
            }
            ["responseOverride", "header", _] => &mut overrides.response_override.headers,
            ["requestOverride", "header", _] => &mut overrides.request_override.headers,
            ["requestOverride", "path", _] => &mut overrides.request_override.path,
            ["requestOverride", "querystring", _] => &mut overrides.request_override.querystring,
            _ => return Ok(()),
        };
        let name = keys.last().copied().unwrap_or_default();
        // Overrides are final: API Gateway answers 5XX when a template sets one twice.
        if slot.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            return Err(twice(&keys.join(".")));
        }
        slot.extend(texts.into_iter().map(|text| (name.to_owned(), text)));
        Ok(())
    }
}

/// `#set($a.b.c = v)`: puts `c` into the map at `$a.b`, copying shared maps first (other variables holding them
/// keep what they saw). A path through something other than a map changes nothing, as in Velocity.
fn set_path(target: &mut Value, path: &[&str], last: &str, value: Value) -> Result<(), RenderError> {
    let Value::Map(map) = target else { return Ok(()) };
    let map = Rc::make_mut(map);
    match path.split_first() {
        None => map.insert(last.to_owned(), value),
        Some((first, rest)) => {
            let Some(child) = map.get_mut(first) else { return Ok(()) };
            set_path(child, rest, last, value)?;
            let depth = child.depth();
            map.depth = map.depth.max(1 + depth);
        }
    }
    if map.depth > MAX_VALUE_DEPTH { Err(RenderError::TooDeep) } else { Ok(()) }
}
