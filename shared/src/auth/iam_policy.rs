//! IAM policy documents as Lambda authorizers return them, evaluated the way API Gateway does for
//! `execute-api:Invoke` on a method ARN: an explicit Deny wins, then any Allow, else an implicit deny.
//! Resources may use `*` and `?` wildcards. The whole policy is what gets cached, and it is evaluated again
//! for each route, so a policy cached from one route neither wrongly allows nor wrongly denies another.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct IamPolicy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    /// Conditions are not evaluated: an Allow with one never matches, a Deny with one always does.
    conditional: bool,
}

/// The outcome for one ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StatementFile {
    effect: String,
    #[serde(default)]
    action: Option<OneOrMany>,
    #[serde(default)]
    resource: Option<OneOrMany>,
    #[serde(default)]
    condition: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

impl IamPolicy {
    /// Reads a `policyDocument`; an error says what is malformed (API Gateway then answers 500).
    pub fn parse(document: &Value) -> Result<Self, String> {
        let statements = match document.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => return Err("policyDocument has no Statement".to_owned()),
        };
        let statements = statements
            .into_iter()
            .map(|s| {
                let s: StatementFile = serde_json::from_value(s).map_err(|e| format!("bad policy statement: {e}"))?;
                let allow = match s.effect.as_str() {
                    "Allow" => true,
                    "Deny" => false,
                    other => return Err(format!("statement Effect {other:?} is not Allow or Deny")),
                };
                Ok(Statement {
                    allow,
                    actions: s.action.map(OneOrMany::into_vec).unwrap_or_default(),
                    resources: s.resource.map(OneOrMany::into_vec).unwrap_or_default(),
                    conditional: s.condition.is_some(),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { statements })
    }

    pub fn evaluate(&self, arn: &str) -> Effect {
        let applies = |s: &Statement| {
            s.actions.iter().any(|a| glob(a, "execute-api:Invoke")) && s.resources.iter().any(|r| glob(r, arn))
        };
        if self.statements.iter().any(|s| !s.allow && applies(s)) {
            return Effect::ExplicitDeny;
        }
        if self.statements.iter().any(|s| s.allow && !s.conditional && applies(s)) {
            return Effect::Allow;
        }
        Effect::ImplicitDeny
    }
}

/// IAM wildcard match: `*` any run of characters, `?` any one; everything else literally (ASCII
/// case-insensitive for actions is not needed: `execute-api:Invoke` is matched as written or by wildcards).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets/42";

    fn policy(v: &Value) -> IamPolicy {
        IamPolicy::parse(v).expect("policy")
    }

    #[test]
    fn deny_wins_wildcards_match_and_other_routes_are_judged_on_their_own() {
        let p = policy(&serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*:*:api/prod/GET/pets/*"},
                {"Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": ["arn:aws:execute-api:*:*:api/prod/GET/pets/13"]}
            ]
        }));
        assert_eq!(p.evaluate(ARN), Effect::Allow);
        assert_eq!(p.evaluate("arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets/13"), Effect::ExplicitDeny);
        assert_eq!(p.evaluate("arn:aws:execute-api:us-east-1:123456789012:api/prod/POST/pets"), Effect::ImplicitDeny);
        let single =
            policy(&serde_json::json!({"Statement": {"Action": "execute-api:*", "Effect": "Allow", "Resource": "*"}}));
        assert_eq!(single.evaluate(ARN), Effect::Allow);
        let conditional = policy(
            &serde_json::json!({"Statement": [{"Action": "*", "Effect": "Allow", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": ["1.2.3.4"]}}}]}),
        );
        assert_eq!(conditional.evaluate(ARN), Effect::ImplicitDeny);
        assert!(IamPolicy::parse(&serde_json::json!({"Statement": [{"Effect": "Maybe"}]})).is_err());
        assert!(IamPolicy::parse(&serde_json::json!({})).is_err());
        assert!(glob("a?c*", "abcdef") && !glob("a?c", "abcd") && glob("*", ""));
    }
}
