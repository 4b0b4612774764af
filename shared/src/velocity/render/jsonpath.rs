//! The JSONPath subset of `$input.path` and `$input.json`: `$`, `.name`, `['name']`, `[n]`, `[*]`, `..`. A path
//! written in the template is checked at load; one computed at run time when it is used.

use super::{Renderer, value::Value};
use crate::velocity::RenderError;

/// One step of the JSONPath subset: `.name`, `['name']`, `[n]`, `[*]` / `.*`, and `..` before any of them.
#[derive(Debug)]
pub(in crate::velocity) enum Step {
    Key(String),
    Index(i64),
    Wild,
    Deep(Box<Step>),
}

pub(in crate::velocity) fn json_path(path: &str) -> Result<Vec<Step>, String> {
    let Some(mut rest) = path.trim().strip_prefix('$') else { return Err("does not start with $".to_owned()) };
    let mut steps = Vec::new();
    while !rest.is_empty() {
        let deep = rest.starts_with("..");
        let after = if deep { &rest[2..] } else { rest.strip_prefix('.').unwrap_or(rest) };
        let dotted = after.len() < rest.len();
        let (step, tail) = if let Some(inner) = after.strip_prefix('[') {
            let end = inner.find(']').ok_or("has a [ without ]")?;
            let (inside, tail) = (inner[..end].trim(), &inner[end + 1..]);
            let quoted = ['\'', '"'].iter().find_map(|q| inside.strip_prefix(*q).and_then(|s| s.strip_suffix(*q)));
            let step = match (inside, quoted) {
                ("*", _) => Step::Wild,
                (_, Some(key)) if !key.contains(['\'', '"']) => Step::Key(key.to_owned()),
                _ => Step::Index(
                    inside
                        .parse()
                        .map_err(|_| format!("[{inside}]: filters, slices and unions are outside the subset"))?,
                ),
            };
            (step, tail)
        } else if dotted {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || name.contains(['(', ')', '?', '@', '\'', '"', ' ']) {
                return Err(format!("{name:?}: functions and filters are outside the subset"));
            }
            (if name == "*" { Step::Wild } else { Step::Key(name.to_owned()) }, &after[end..])
        } else {
            return Err(format!("unexpected {rest:?}"));
        };
        steps.push(if deep { Step::Deep(Box::new(step)) } else { step });
        rest = tail;
    }
    Ok(steps)
}

impl Renderer<'_> {
    /// What `steps` select from `root`. A definite path gives its value (null when missing); `[*]` and `..` give a
    /// list of matches.
    pub(super) fn query(&self, root: Value, steps: &[Step]) -> Result<Value, RenderError> {
        let (mut current, mut definite) = (vec![root], true);
        for step in steps {
            let mut next = Vec::new();
            for value in &current {
                self.select(value, step, &mut next)?;
            }
            definite &= matches!(step, Step::Key(_) | Step::Index(_));
            current = next;
        }
        Ok(if definite { current.into_iter().next().unwrap_or(Value::Null) } else { Value::list(current, true) })
    }

    fn select(&self, value: &Value, step: &Step, out: &mut Vec<Value>) -> Result<(), RenderError> {
        self.spend(1)?;
        match (step, value) {
            (Step::Key(key), Value::Map(map)) => out.extend(map.get(key).cloned()),
            (Step::Index(n), Value::List(list)) => {
                let len = i64::try_from(list.items.len()).unwrap_or(i64::MAX);
                let at = if *n < 0 { len + n } else { *n };
                out.extend(usize::try_from(at).ok().and_then(|at| list.items.get(at)).cloned());
            }
            (Step::Wild, Value::List(list)) => out.extend(list.items.iter().cloned()),
            (Step::Wild, Value::Map(map)) => out.extend(map.entries.iter().map(|(_, v)| v.clone())),
            (Step::Deep(inner), _) => {
                self.select(value, inner, out)?;
                let children: Vec<&Value> = match value {
                    Value::List(list) => list.items.iter().collect(),
                    Value::Map(map) => map.entries.iter().map(|(_, v)| v).collect(),
                    _ => Vec::new(),
                };
                for child in children {
                    self.select(child, step, out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
