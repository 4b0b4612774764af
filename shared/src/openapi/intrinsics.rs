//! CloudFormation intrinsic functions and Terraform template placeholders, filled from the caller's parameters.
//!
//! `Ref`, `Fn::Sub` (both forms), `Fn::GetAtt`, `Fn::Join` and `Fn::Select` are evaluated. What cannot be
//! (a parameter nobody gave, `Fn::If`, `Fn::ImportValue`) becomes the text `${Name}` in place, so the mapping
//! still sees where it was (a function ARN written `${OrdersFunction.Arn}` still names `OrdersFunction`), and is
//! listed with its JSON pointer for the report. Terraform's `${name}` is filled in every string and key when a
//! parameter of that name is given; left, it is reported too. `${stageVariables.x}` is API Gateway's own and left
//! alone, as are placeholders inside mapping templates (Velocity's `${x}`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{report::Unresolved, token};

/// Pseudo-parameters with one answer wherever the template is deployed in the commercial partition.
const PSEUDO: [(&str, &str); 2] = [("AWS::Partition", "aws"), ("AWS::URLSuffix", "amazonaws.com")];

/// Resolves everything under `value` (at `base`), returning what stayed unresolved.
pub(super) fn resolve(value: &mut Value, params: &BTreeMap<String, String>, base: &str) -> Vec<Unresolved> {
    let mut resolver = Resolver { params, unresolved: Vec::new() };
    resolver.walk(value, &mut base.to_owned(), false);
    resolver.unresolved
}

struct Resolver<'a> {
    params: &'a BTreeMap<String, String>,
    unresolved: Vec<Unresolved>,
}

impl Resolver<'_> {
    fn walk(&mut self, value: &mut Value, pointer: &mut String, in_template: bool) {
        if let Some(resolved) = self.intrinsic(value, pointer) {
            // Its arguments were walked already; `${!Literal}` in what it made is text now.
            *value = resolved;
            return;
        }
        match value {
            Value::String(text) => {
                if !in_template && let Some(filled) = self.terraform(text, pointer) {
                    *text = filled;
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    self.walk(item, pointer, in_template);
                    pointer.truncate(len);
                }
            }
            Value::Object(object) => {
                let entries = std::mem::take(object);
                for (key, mut item) in entries {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&token(&key));
                    let key = self.terraform(&key, pointer).unwrap_or(key);
                    let template = in_template || key.ends_with("Templates");
                    self.walk(&mut item, pointer, template);
                    pointer.truncate(len);
                    object.insert(key, item);
                }
            }
            _ => {}
        }
    }

    /// The value of a one-key object naming an intrinsic function; `None` for any other value.
    fn intrinsic(&mut self, value: &Value, pointer: &str) -> Option<Value> {
        let object = value.as_object().filter(|o| o.len() == 1)?;
        let (name, argument) = object.iter().next()?;
        let argument = &mut argument.clone();
        if name != "Ref" && !name.starts_with("Fn::") {
            return None;
        }
        // Arguments first: intrinsics nest (`Fn::Join` of `Ref`s).
        if name != "Fn::Sub" {
            self.walk(argument, &mut format!("{pointer}/{}", token(name)), true);
        }
        Some(match (name.as_str(), &*argument) {
            ("Ref", Value::String(target)) => Value::String(self.lookup(target, pointer)),
            ("Fn::GetAtt", Value::Array(parts)) if parts.len() == 2 => {
                let name = format!("{}.{}", text(&parts[0]), text(&parts[1]));
                Value::String(self.lookup(&name, pointer))
            }
            ("Fn::Sub", Value::String(template)) => Value::String(self.sub(template, &Map::new(), pointer)),
            ("Fn::Sub", Value::Array(parts)) if parts.len() == 2 => {
                let mut variables = parts[1].clone();
                self.walk(&mut variables, &mut format!("{pointer}/Fn::Sub/1"), true);
                let variables = variables.as_object().cloned().unwrap_or_default();
                Value::String(self.sub(&text(&parts[0]), &variables, pointer))
            }
            ("Fn::Join", Value::Array(parts)) if parts.len() == 2 && parts[1].is_array() => {
                let items: Vec<String> = parts[1].as_array().into_iter().flatten().map(text).collect();
                Value::String(items.join(&text(&parts[0])))
            }
            ("Fn::Select", Value::Array(parts)) if parts.len() == 2 => {
                let index = text(&parts[0]).parse::<usize>().ok();
                match (index, &parts[1]) {
                    (Some(i), Value::Array(items)) if i < items.len() => items[i].clone(),
                    _ => Value::String(self.unresolvable(name, pointer)),
                }
            }
            _ => Value::String(self.unresolvable(name, pointer)),
        })
    }

    fn lookup(&mut self, name: &str, pointer: &str) -> String {
        if let Some(value) = self.params.get(name) {
            return value.clone();
        }
        if let Some((_, value)) = PSEUDO.iter().find(|(n, _)| *n == name) {
            return (*value).to_owned();
        }
        self.unresolved.push(Unresolved { pointer: pointer.to_owned(), name: name.to_owned() });
        format!("${{{name}}}")
    }

    fn unresolvable(&mut self, function: &str, pointer: &str) -> String {
        self.unresolved.push(Unresolved { pointer: pointer.to_owned(), name: function.to_owned() });
        format!("${{{function}}}")
    }

    /// `Fn::Sub`: `${Name}`, `${Name.Attr}` from the variables or the parameters; `${!Literal}` is `${Literal}`.
    fn sub(&mut self, template: &str, variables: &Map<String, Value>, pointer: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let Some(end) = rest[at..].find('}') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let name = &rest[at + 2..at + end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(value) = variables.get(name) {
                out.push_str(&text(value));
            } else if name.starts_with("stageVariables.") {
                out.push_str(&format!("${{{name}}}"));
            } else {
                out.push_str(&self.lookup(name, pointer));
            }
            rest = &rest[at + end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Terraform's `${name}`: filled when a parameter has the name, reported when not; `$${` is a literal `${`.
    /// `None` when the text has no placeholder.
    fn terraform(&mut self, text: &str, pointer: &str) -> Option<String> {
        if !text.contains("${") {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            if rest[..at].ends_with('$') {
                out.push_str(&rest[..at + 2]);
                rest = &rest[at + 2..];
                continue;
            }
            out.push_str(&rest[..at]);
            let Some(end) = rest[at..].find('}') else {
                // An unclosed `${` is text (found by the openapi fuzz target: the text before it was doubled).
                rest = &rest[at..];
                break;
            };
            let name = &rest[at + 2..at + end];
            let placeholder = &rest[at..at + end + 1];
            match self.params.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    let identifier = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && name.chars().next().is_some_and(|c| !c.is_ascii_digit());
                    if identifier && !self.unresolved.iter().any(|u| u.pointer == pointer && u.name == name) {
                        self.unresolved.push(Unresolved { pointer: pointer.to_owned(), name: name.to_owned() });
                    }
                    out.push_str(placeholder);
                }
            }
            rest = &rest[at + end + 1..];
        }
        out.push_str(rest);
        (out != text).then_some(out)
    }
}

/// A scalar as text (`Fn::Join` of numbers, a `Fn::Sub` variable).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolved(mut value: Value, params: &[(&str, &str)]) -> (Value, Vec<String>) {
        let params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let unresolved = resolve(&mut value, &params, "");
        (value, unresolved.into_iter().map(|u| format!("{} {}", u.pointer, u.name)).collect())
    }

    #[test]
    fn cloudformation_functions_resolve_from_parameters() {
        let (value, unresolved) = resolved(
            json!({
                "title": {"Fn::Sub": "${AWS::StackName}-API"},
                "uri": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/functions/${Fn.Arn}/invocations"},
                "role": {"Fn::GetAtt": ["Role", "Arn"]},
                "queue": {"Ref": "Queue"},
                "joined": {"Fn::Join": ["-", [{"Ref": "AWS::Region"}, "b", 3]]},
                "picked": {"Fn::Select": ["1", ["a", {"Ref": "Queue"}]]},
                "vars": {"Fn::Sub": ["${A}/${!Literal}/${stageVariables.fn}", {"A": {"Ref": "Queue"}}]},
                "if": {"Fn::If": ["IsProd", "a", "b"]}
            }),
            &[("AWS::StackName", "shop"), ("AWS::Region", "eu-west-1"), ("Queue", "q1")],
        );
        assert_eq!(value["title"], "shop-API");
        assert_eq!(value["uri"], "arn:aws:apigateway:eu-west-1:lambda:path/functions/${Fn.Arn}/invocations");
        assert_eq!(value["role"], "${Role.Arn}");
        assert_eq!(value["queue"], "q1");
        assert_eq!(value["joined"], "eu-west-1-b-3");
        assert_eq!(value["picked"], "q1");
        assert_eq!(value["vars"], "q1/${Literal}/${stageVariables.fn}");
        assert_eq!(value["if"], "${Fn::If}");
        assert_eq!(unresolved, ["/if Fn::If", "/role Role.Arn", "/uri Fn.Arn"]);
    }

    #[test]
    fn terraform_placeholders_fill_strings_and_keys_but_not_templates() {
        let (value, unresolved) = resolved(
            json!({
                "paths": {"/${path_key}": {"uri": "arn:aws:apigateway:${region}:lambda:path/${fn}", "money": "$${cost}"}},
                "requestTemplates": {"application/json": "${input}"}
            }),
            &[("path_key", "oev"), ("region", "us-east-1")],
        );
        assert_eq!(value["paths"]["/oev"]["uri"], "arn:aws:apigateway:us-east-1:lambda:path/${fn}");
        assert_eq!(value["paths"]["/oev"]["money"], "$${cost}", "escaped, left for Terraform");
        assert_eq!(value["requestTemplates"]["application/json"], "${input}");
        assert_eq!(unresolved, ["/paths/~1${path_key}/uri fn"]);
        let (value, _) = resolved(json!({"title": "API ${x} and ${unclosed"}), &[("x", "one")]);
        assert_eq!(value["title"], "API one and ${unclosed", "an unclosed placeholder is text, once");
    }
}
