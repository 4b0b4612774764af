//! Lambda authorizer policies: a policy cached for one ARN is judged afresh for every other.

use super::*;

const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:";

/// A Lambda authorizer run in process: answers every event with the same policy, and counts its invocations.
struct PolicyFunction {
    reply: Vec<u8>,
    calls: AtomicUsize,
}

impl Invoker for PolicyFunction {
    fn invoke<'a>(&'a self, _function: &'a str, _payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let payload = self.reply.clone();
        Box::pin(async move { Ok(InvokeOutput { payload, function_error: None }) })
    }
}

/// A request target: method and path segments.
type Target = (&'static str, Vec<&'static str>);

fn gen_target() -> impl Strategy<Value = Target> {
    (prop::sample::select(vec!["GET", "POST"]), prop::collection::vec(prop::sample::select(STATICS.to_vec()), 0..=3))
}

fn path_of(target: &Target) -> String {
    format!("/{}", target.1.join("/"))
}

fn arn_of(target: &Target) -> String {
    method_arn(ARN_PREFIX, "api", "prod", target.0, &path_of(target))
}

/// Two targets, often neighbours (the same path with another method, or the same method on another path),
/// where a policy written for one is most likely to be wrongly stretched to the other.
fn gen_targets() -> impl Strategy<Value = (Target, Target)> {
    (gen_target(), gen_target(), 0u8..3).prop_map(|(a, b, how)| match how {
        0 => (a, b),
        1 => ((a.0, b.1.clone()), b),
        _ => ((b.0, a.1.clone()), b),
    })
}

/// Resource patterns: `*`, an exact ARN, an ARN with one character turned into `?` or `*` or cut short by
/// `*`, or one assembled from wildcard pieces. `near` are the ARNs the test will ask about: patterns are
/// often made from them, so statements match them often, exactly or nearly.
fn gen_resource(near: &[String]) -> impl Strategy<Value = String> + use<> {
    let arn = prop_oneof![gen_target().prop_map(|t| arn_of(&t)), prop::sample::select(near.to_vec())];
    let mutated = (arn.clone(), any::<Index>(), prop::bool::weighted(0.75), 0u8..3).prop_map(|(arn, at, tail, how)| {
        // Mostly in the method and path, where ARNs of one API differ.
        let i = if tail { arn.len() - 1 - at.index(arn.len().min(12)) } else { at.index(arn.len()) };
        match how {
            0 => format!("{}?{}", &arn[..i], &arn[i + 1..]),
            1 => format!("{}*{}", &arn[..i], &arn[i + 1..]),
            _ => format!("{}*", &arn[..i]),
        }
    });
    let assembled = (
        prop::sample::select(vec![
            ARN_PREFIX,
            "arn:aws:execute-api:*:*:",
            "arn:aws:execute-api:us-east-1:*:",
            "arn:aws:execute-api:eu-west-1:123456789012:",
        ]),
        prop::sample::select(vec!["api/prod/", "api/*/", "*/prod/", "other/prod/"]),
        prop::sample::select(vec!["GET", "POST", "*", "?ET", "P*"]),
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*", "?"]), 0..=3),
    )
        .prop_map(|(prefix, stage, method, path)| format!("{prefix}{stage}{method}/{}", path.join("/")));
    prop_oneof![
        1 => Just("*".to_owned()),
        3 => arn,
        4 => mutated,
        3 => assembled,
    ]
}

#[derive(Debug, Clone)]
struct GenStatement {
    allow: bool,
    actions: Vec<&'static str>,
    resources: Vec<String>,
    /// Has a `Condition`, which Tollgate does not evaluate: an Allow with one never applies, a Deny always.
    conditional: bool,
}

fn gen_statement(near: &[String]) -> impl Strategy<Value = GenStatement> + use<> {
    let action = prop::sample::select(vec![
        "execute-api:Invoke",
        "execute-api:*",
        "*",
        "execute-api:Inv?ke",
        "execute-api:ManageConnections",
        "s3:GetObject",
    ]);
    (
        prop::bool::weighted(0.7),
        prop::collection::vec(action, 1..=2),
        prop::collection::vec(gen_resource(near), 1..=3),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(allow, actions, resources, conditional)| GenStatement {
            allow,
            actions,
            resources,
            conditional,
        })
}

impl GenStatement {
    fn to_json(&self) -> Value {
        // One value is written as a string, several as a list: authorizers send both.
        let one_or_many = |items: Vec<Value>| if items.len() == 1 { items[0].clone() } else { Value::Array(items) };
        let mut statement = json!({
            "Effect": if self.allow { "Allow" } else { "Deny" },
            "Action": one_or_many(self.actions.iter().map(|a| json!(a)).collect()),
            "Resource": one_or_many(self.resources.iter().map(|r| json!(r)).collect()),
        });
        if self.conditional {
            statement["Condition"] = json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}});
        }
        statement
    }
}

/// IAM's wildcard match, written independently of the gateway's: `*` any run of characters, `?` any one.
fn glob_reference(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // matched[j]: the pattern so far matches the first j characters of the text.
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for &c in p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match c {
                b'*' => matched[j] || (j > 0 && next[j - 1]),
                _ => j > 0 && matched[j - 1] && (c == b'?' || c == t[j - 1]),
            };
        }
        matched = next;
    }
    matched[t.len()]
}

/// API Gateway's evaluation of `execute-api:Invoke` on `arn`: an explicit Deny wins, then any Allow, else an
/// implicit deny (with Tollgate's documented treatment of conditions).
fn reference_effect(statements: &[GenStatement], arn: &str) -> Effect {
    let applies = |s: &GenStatement| {
        s.actions.iter().any(|a| glob_reference(a, "execute-api:Invoke"))
            && s.resources.iter().any(|r| glob_reference(r, arn))
    };
    if statements.iter().any(|s| !s.allow && applies(s)) {
        Effect::ExplicitDeny
    } else if statements.iter().any(|s| s.allow && !s.conditional && applies(s)) {
        Effect::Allow
    } else {
        Effect::ImplicitDeny
    }
}

/// The effect an authorizer's answer stands for; `None` for anything else (a failure).
fn effect_of(result: &Result<Authorized, LambdaAuthError>) -> Option<Effect> {
    match result {
        Ok(Authorized::Lambda { .. }) => Some(Effect::Allow),
        Err(LambdaAuthError::Denied { explicit: true }) => Some(Effect::ExplicitDeny),
        Err(LambdaAuthError::Denied { explicit: false }) => Some(Effect::ImplicitDeny),
        _ => None,
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// **A policy cached for one ARN never allows another unless a statement matches it.** A Lambda authorizer
    /// (TOKEN, REQUEST 1.0 or 2.0 with a policy answer) with a cache TTL answers one caller with a generated
    /// IAM policy (Allow and Deny statements, actions and resources with `*` and `?`, some conditional). The
    /// caller is authorized for ARN A, then, within the TTL, for ARN B with the same identity. The function
    /// must run once (the cache is used), and each decision must be the policy's evaluation for that ARN,
    /// both as `IamPolicy::evaluate` says and as an independent reference says: caching the policy rather
    /// than A's decision is what keeps an Allow for one route from opening another. Past the TTL the function
    /// runs again.
    #[test]
    fn cached_policy_is_judged_afresh_for_each_arn(
        (a, b, statements) in gen_targets().prop_flat_map(|(a, b)| {
            let near = [arn_of(&a), arn_of(&b)];
            (Just(a), Just(b), prop::collection::vec(gen_statement(&near), 0..=4))
        }),
        kind in prop::sample::select(vec![EventKind::Token, EventKind::RequestV1, EventKind::V2 { simple: false }]),
        ttl_seconds in 1u64..=3_600,
        within in any::<Index>(),
        after in 0..MICROS_PER_SEC,
    ) {
        let document = json!({
            "Version": "2012-10-17",
            "Statement": statements.iter().map(GenStatement::to_json).collect::<Vec<_>>(),
        });
        let reply = json!({"principalId": "user", "policyDocument": document});
        let policy = IamPolicy::parse(&document).expect("a generated policy parses");
        let function = Arc::new(PolicyFunction { reply: reply.to_string().into_bytes(), calls: AtomicUsize::new(0) });
        let clock = ManualClock::at(T0);
        let spec = LambdaAuthorizerSpec {
            function: "authorizer".to_owned(),
            kind,
            identity: vec![IdentitySource::Header("authorization".to_owned())],
            ttl_seconds,
            timeout: Duration::from_secs(5),
            validation: None,
        };
        let invoker = Arc::clone(&function) as Arc<dyn Invoker>;
        let authorizer = LambdaAuthorizer::new(spec, invoker, Arc::new(clock.clone()));
        let context = ApiContext {
            api_id: "api".to_owned(),
            stage: "prod".to_owned(),
            arn_prefix: ARN_PREFIX.to_owned(),
            ..ApiContext::default()
        };
        let rt = runtime();
        let authorize = |target: &Target| {
            let method = Method::from_bytes(target.0.as_bytes()).expect("method");
            let mut request = GatewayRequest::new(method, path_of(target));
            request.headers.insert("authorization", HeaderValue::from_static("Bearer one-caller"));
            let key = format!("{} {}", target.0, path_of(target));
            let matched =
                Matched { route: 0, key: Arc::from(key.as_str()), params: Vec::new(), raw_params: Vec::new() };
            let arn = arn_of(target);
            let call = Call { request: &request, matched: &matched, context: &context, arn: &arn, preset: None, trace: None };
            rt.block_on(authorizer.authorize(call))
        };
        let ttl_us = i64::try_from(ttl_seconds).expect("small") * MICROS_PER_SEC;

        let (arn_a, arn_b) = (arn_of(&a), arn_of(&b));
        let first = authorize(&a);
        prop_assert_eq!(effect_of(&first), Some(policy.evaluate(&arn_a)), "A {}: {:?}", arn_a, first);
        prop_assert_eq!(policy.evaluate(&arn_a), reference_effect(&statements, &arn_a), "A {}", arn_a);
        prop_assert_eq!(function.calls.load(Ordering::SeqCst), 1);

        clock.advance_us(i64::try_from(within.index(usize::try_from(ttl_us).expect("small"))).expect("small"));
        let second = authorize(&b);
        prop_assert_eq!(function.calls.load(Ordering::SeqCst), 1, "the cached answer was not used");
        let expected = reference_effect(&statements, &arn_b);
        prop_assert_eq!(policy.evaluate(&arn_b), expected, "B {}", arn_b);
        prop_assert_eq!(effect_of(&second), Some(expected), "B {} after A {}: {:?}", arn_b, arn_a, second);
        if second.is_ok() {
            let matching = statements.iter().any(|s| {
                s.allow && !s.conditional && reference_effect(std::slice::from_ref(s), &arn_b) == Effect::Allow
            });
            prop_assert!(matching, "B {} allowed although no Allow statement matches it", arn_b);
        }

        clock.set_us(T0 + ttl_us + after);
        let third = authorize(&b);
        prop_assert_eq!(function.calls.load(Ordering::SeqCst), 2, "the answer outlived its TTL");
        prop_assert_eq!(effect_of(&third), Some(expected), "B {} after the TTL: {:?}", arn_b, third);
    }
}
