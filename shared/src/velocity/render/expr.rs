//! Expressions: literals, operators with Velocity 1.7's arithmetic and `==`, Java's `equals`, and references
//! (`$root.prop.call(args)[index]`), which reach `$input`, `$util` and the Java methods from here.

use std::rc::Rc;

use super::{
    Renderer,
    value::{Obj, Value, number},
};
use crate::velocity::{
    MAX_ITERATIONS, RenderError,
    ast::{Expr, Op, Part, Ref},
};

impl Renderer<'_> {
    pub(super) fn eval(&mut self, expr: &Expr) -> Result<Value, RenderError> {
        Ok(match expr {
            Expr::Ref(reference) => self.reference(reference)?,
            Expr::Str(s) => Value::Str(s.as_str().into()),
            Expr::Interpolated(nodes) => {
                let outer = std::mem::take(&mut self.out);
                let rendered = self.nodes(nodes);
                let inner = std::mem::replace(&mut self.out, outer);
                rendered?;
                Value::Str(inner.into())
            }
            Expr::Int(n) => Value::Int(*n),
            Expr::Float(f) => Value::Float(*f),
            Expr::Bool(b) => Value::Bool(*b),
            Expr::List(items) => {
                let items = items.iter().map(|item| self.eval(item)).collect::<Result<Vec<_>, _>>()?;
                self.checked(Value::list(items, false))?
            }
            Expr::Map(entries) => {
                let mut obj = Obj::new();
                for (key, value) in entries {
                    let key = self.eval(key)?;
                    let key = self.display(&key)?;
                    let value = self.eval(value)?;
                    obj.insert(key, value);
                }
                self.checked(Value::Map(Rc::new(obj)))?
            }
            Expr::Range(from, to) => {
                let (Value::Int(from), Value::Int(to)) = (self.eval(from)?, self.eval(to)?) else {
                    return Ok(Value::Null);
                };
                if from.abs_diff(to) >= MAX_ITERATIONS as u64 {
                    return Err(RenderError::TooManyIterations);
                }
                let items: Vec<Value> = if from <= to {
                    (from..=to).map(Value::Int).collect()
                } else {
                    (to..=from).rev().map(Value::Int).collect()
                };
                Value::list(items, false)
            }
            Expr::Not(inner) => Value::Bool(!self.eval(inner)?.truthy()),
            Expr::Neg(inner) => match self.eval(inner)? {
                Value::Int(n) => n.checked_neg().map_or(Value::Null, Value::Int),
                Value::Float(f) => Value::Float(-f),
                _ => Value::Null,
            },
            Expr::Binary(op, left, right) => self.binary(*op, left, right)?,
        })
    }

    fn binary(&mut self, op: Op, left: &Expr, right: &Expr) -> Result<Value, RenderError> {
        match op {
            Op::And => return Ok(Value::Bool(self.eval(left)?.truthy() && self.eval(right)?.truthy())),
            Op::Or => return Ok(Value::Bool(self.eval(left)?.truthy() || self.eval(right)?.truthy())),
            _ => {}
        }
        let (x, y) = (self.eval(left)?, self.eval(right)?);
        let ordering = match (&x, &y) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            _ => number(&x).zip(number(&y)).and_then(|(a, b)| a.partial_cmp(&b)),
        };
        Ok(match op {
            Op::Eq => Value::Bool(self.velocity_eq(&x, &y)?),
            Op::Ne => Value::Bool(!self.velocity_eq(&x, &y)?),
            // Velocity compares only numbers; anything else is false.
            Op::Lt => Value::Bool(ordering.is_some_and(|o| o.is_lt())),
            Op::Gt => Value::Bool(ordering.is_some_and(|o| o.is_gt())),
            Op::Le => Value::Bool(ordering.is_some_and(|o| o.is_le())),
            Op::Ge => Value::Bool(ordering.is_some_and(|o| o.is_ge())),
            Op::Add if matches!((&x, &y), (Value::Str(_), _) | (_, Value::Str(_))) => {
                if matches!((&x, &y), (Value::Null, _) | (_, Value::Null)) {
                    return Ok(Value::Null);
                }
                let joined = self.display(&x)? + &self.display(&y)?;
                self.new_str(joined)?
            }
            _ => self.arithmetic(op, &x, &y)?,
        })
    }

    /// Integer arithmetic stays integer (`7 / 2` is 3); a float makes it float. Division by zero is null, as in
    /// Velocity; an overflow, which Velocity would widen to a big integer, is refused rather than wrapped.
    fn arithmetic(&self, op: Op, x: &Value, y: &Value) -> Result<Value, RenderError> {
        if let (Value::Int(a), Value::Int(b)) = (x, y) {
            let (a, b) = (*a, *b);
            if matches!(op, Op::Div | Op::Mod) && b == 0 {
                return Ok(Value::Null);
            }
            let result = match op {
                Op::Add => a.checked_add(b),
                Op::Sub => a.checked_sub(b),
                Op::Mul => a.checked_mul(b),
                Op::Div => a.checked_div(b),
                _ => a.checked_rem(b),
            };
            return result.map(Value::Int).ok_or_else(|| self.failed("integer overflow"));
        }
        let (Some(a), Some(b)) = (number(x), number(y)) else { return Ok(Value::Null) };
        Ok(match op {
            Op::Div | Op::Mod if b == 0.0 => Value::Null,
            Op::Add => Value::Float(a + b),
            Op::Sub => Value::Float(a - b),
            Op::Mul => Value::Float(a * b),
            Op::Div => Value::Float(a / b),
            _ => Value::Float(a % b),
        })
    }

    /// Velocity 1.7's `==`: numbers by value, same kinds by `equals`, other kinds by their text.
    fn velocity_eq(&self, x: &Value, y: &Value) -> Result<bool, RenderError> {
        Ok(match (x, y) {
            (Value::Null, Value::Null) => true,
            (Value::Null, _) | (_, Value::Null) => false,
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => number(x) == number(y),
            _ if std::mem::discriminant(x) == std::mem::discriminant(y) => self.java_equals(x, y)?,
            _ => self.display(x)? == self.display(y)?,
        })
    }

    /// Java's `equals`: strict about kinds (`1` is not `1.0`), deep for lists and maps (maps ignore order).
    pub(super) fn java_equals(&self, x: &Value, y: &Value) -> Result<bool, RenderError> {
        self.spend(1)?;
        Ok(match (x, y) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                if a.items.len() != b.items.len() {
                    return Ok(false);
                }
                for (p, q) in a.items.iter().zip(&b.items) {
                    if !self.java_equals(p, q)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Map(a), Value::Map(b)) => {
                if a.entries.len() != b.entries.len() {
                    return Ok(false);
                }
                for (key, p) in &a.entries {
                    match b.get(key) {
                        Some(q) if self.java_equals(p, q)? => {}
                        _ => return Ok(false),
                    }
                }
                true
            }
            _ => false,
        })
    }

    pub(super) fn reference(&mut self, reference: &Ref) -> Result<Value, RenderError> {
        self.line = reference.line;
        let (mut value, rest) = match reference.root.as_str() {
            "input" => (self.input_member(reference.parts.first())?, reference.parts.get(1..).unwrap_or(&[])),
            "util" => (self.util(reference.parts.first())?, reference.parts.get(1..).unwrap_or(&[])),
            root => (self.vars.get(root).cloned().unwrap_or(Value::Null), &reference.parts[..]),
        };
        for part in rest {
            // A property or method of null is null, as in Velocity.
            if matches!(value, Value::Null) {
                break;
            }
            value = match part {
                Part::Prop(name) => match &value {
                    Value::Map(map) => map.get(name).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                },
                Part::Index(index) => {
                    let index = self.eval(index)?;
                    self.line = reference.line;
                    self.index(&value, &index)?
                }
                Part::Call(method, args) => {
                    let args = args.iter().map(|arg| self.eval(arg)).collect::<Result<Vec<_>, _>>()?;
                    self.line = reference.line;
                    self.method(&value, method, &args)?
                }
            };
        }
        Ok(value)
    }

    pub(super) fn index(&self, value: &Value, index: &Value) -> Result<Value, RenderError> {
        match (value, index) {
            (Value::List(list), Value::Int(n)) => {
                let len = i64::try_from(list.items.len()).unwrap_or(i64::MAX);
                let at = if *n < 0 { len + n } else { *n };
                usize::try_from(at)
                    .ok()
                    .and_then(|at| list.items.get(at))
                    .cloned()
                    .ok_or_else(|| self.failed(format!("index {n} is outside a list of {len}")))
            }
            (Value::Map(map), Value::Str(key)) => Ok(map.get(key).cloned().unwrap_or(Value::Null)),
            _ => Ok(Value::Null),
        }
    }
}
