//! Authorizer costs: JWT verifications per algorithm (a fresh token each time, so no cache), a verified-token
//! cache hit, and a Lambda authorizer's cache hit against its miss (the function runs in process, so the miss
//! shows the gateway's own cost of building the event and reading the policy), each beside an
//! unauthenticated route measured in the same run.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate_core::{
    Gateway,
    auth::{jwks::KeyRing, jwt::JwtAuthorizer},
    backends::Backends,
    clients::{HttpClient, InvokeFuture, InvokeOutput, Invoker},
    clock::{Clock as _, SystemClock},
    config::Definition,
};
use tollgate_tests::{
    get,
    issuer::{Issuer, SigningKey},
};

struct AllowAll;

impl Invoker for AllowAll {
    fn invoke<'a>(&'a self, _function: &'a str, _payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            let reply = json!({
                "principalId": "u",
                "policyDocument": {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]},
                "context": {"tier": "gold"}
            });
            Ok(InvokeOutput { payload: reply.to_string().into_bytes(), function_error: None })
        })
    }
}

fn lambda_gateway(ttl: u64) -> Gateway {
    let yaml = format!(
        r#"
authorizers:
  custom: {{ type: lambda, function: f, payloadFormatVersion: "1.0", identitySources: ["$request.header.X-Token"], resultTtlSeconds: {ttl} }}
routes:
  GET /open: {{ integration: {{ type: mock }} }}
  GET /guarded: {{ authorizer: custom, integration: {{ type: mock }} }}
"#
    );
    let definition = Definition::from_yaml(&yaml, None).expect("definition");
    Gateway::new(&definition, &Backends { lambda: Some(Arc::new(AllowAll)), ..Backends::default() }).expect("gateway")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let keys = [
        SigningKey::load("rsa.pem", "rs256", Algorithm::RS256),
        SigningKey::load("rsa.pem", "ps256", Algorithm::PS256),
        SigningKey::load("ec256.pem", "es256", Algorithm::ES256),
        SigningKey::load("ec384.pem", "es384", Algorithm::ES384),
        SigningKey::load("ed25519.pem", "eddsa", Algorithm::EdDSA),
    ];
    let issuer = rt.block_on(Issuer::start(&keys.iter().collect::<Vec<_>>()));
    let clock = Arc::new(SystemClock);
    let ring = KeyRing::new(issuer.url.clone(), None, HttpClient::new().expect("client"), clock.clone());
    let verifier = JwtAuthorizer::new(issuer.url.clone(), vec!["api".into()], 0, ring, clock);
    let now = SystemClock.now_ms() / 1_000;
    let serial = AtomicU64::new(0);
    let token = |key: &SigningKey| {
        let jti = serial.fetch_add(1, Ordering::Relaxed);
        key.sign(&json!({"iss": issuer.url, "aud": "api", "sub": "u", "exp": now + 3_600, "jti": jti}))
    };

    let mut group = c.benchmark_group("jwt");
    for key in &keys {
        group.bench_function(format!("verify_{}", key.kid), |b| {
            b.to_async(&rt).iter_batched(
                || token(key),
                |t| {
                    let verifier = &verifier;
                    async move { verifier.verify(&t).await.expect("valid") }
                },
                BatchSize::SmallInput,
            )
        });
    }
    let hot = token(&keys[0]);
    group.bench_function("cache_hit", |b| b.to_async(&rt).iter(|| verifier.verify(&hot)));
    group.finish();

    let cached = lambda_gateway(300);
    let uncached = lambda_gateway(0);
    let mut group = c.benchmark_group("lambda_authorizer");
    group.bench_function("no_authorizer", |b| b.to_async(&rt).iter(|| cached.handle_request(get("/open", &[]))));
    group.bench_function("cache_hit", |b| {
        b.to_async(&rt).iter(|| cached.handle_request(get("/guarded", &[("x-token", "t")])))
    });
    group.bench_function("cache_miss", |b| {
        b.to_async(&rt).iter(|| uncached.handle_request(get("/guarded", &[("x-token", "t")])))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
