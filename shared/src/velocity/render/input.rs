//! `$input`: the body as text (`$input.body`), as JSON through a path (`$input.path`, `$input.json`), and the
//! request's parameters (`$input.params()`, `$input.params(name)`).

use std::rc::Rc;

use super::{
    Renderer,
    jsonpath::json_path,
    value::{Obj, Value, parse_json},
};
use crate::velocity::{RenderError, ast::Part};

impl Renderer<'_> {
    fn body(&mut self) -> Result<Value, RenderError> {
        if let Some(body) = &self.body {
            return Ok(body.clone());
        }
        let text = self.input.body;
        self.spend(text.len())?;
        // API Gateway reads an empty body as `{}`.
        let body = if text.trim().is_empty() {
            Value::Map(Rc::new(Obj::new()))
        } else {
            parse_json(text).map_err(|e| RenderError::BodyNotJson(e.to_string()))?
        };
        self.body = Some(body.clone());
        Ok(body)
    }

    pub(super) fn input_member(&mut self, part: Option<&Part>) -> Result<Value, RenderError> {
        let Some(Part::Call(name, args)) = part else {
            // `$input.body`; an empty body reads as `{}` in API Gateway.
            let body = if self.input.body.is_empty() { "{}" } else { self.input.body };
            return Ok(Value::Str(body.into()));
        };
        let arg = match args.first() {
            Some(arg) => Some(self.eval(arg)?),
            None => None,
        };
        let Some(arg) = arg else {
            let input = self.input;
            let mut params = Obj::new();
            for (kind, pairs) in [("path", input.path), ("querystring", input.querystring), ("header", input.header)] {
                params.insert(kind.to_owned(), Obj::from_pairs(pairs));
            }
            return Ok(Value::Map(Rc::new(params)));
        };
        let arg = self.display(&arg)?;
        if name == "params" {
            // Path, then query string, then header (headers in any case); missing is the empty string.
            let input = self.input;
            let found = [input.path, input.querystring]
                .iter()
                .find_map(|pairs| pairs.iter().find(|(k, _)| *k == arg))
                .or_else(|| input.header.iter().find(|(k, _)| k.eq_ignore_ascii_case(&arg)));
            return Ok(Value::Str(found.map_or("", |(_, v)| v.as_str()).into()));
        }
        let steps = json_path(&arg).map_err(|why| self.failed(format!("JSONPath {arg:?}: {why}")))?;
        let body = self.body()?;
        let found = self.query(body, &steps)?;
        if name == "path" || matches!(found, Value::Null) {
            return Ok(found);
        }
        let mut json = String::new();
        found.write_json(&mut json)?;
        self.new_str(json)
    }
}
