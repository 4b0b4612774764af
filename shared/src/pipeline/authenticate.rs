//! Stage 5, authenticate: the route's authorizer, a JWT verified in process or a Lambda authorizer (cached).
//! Its result reaches the integration in `requestContext.authorizer`; a Lambda authorizer's
//! `usageIdentifierKey` is the API key for `apiKeys.source: AUTHORIZER`.

use std::{collections::BTreeMap, sync::Arc};

use super::{Exchange, Stage};
use crate::{
    auth::{
        jwks::KeyRing,
        jwt::{JwtAuthorizer, JwtError},
        lambda::{Call, LambdaAuthError, LambdaAuthorizer},
        method_arn,
    },
    clients::MissingClient,
    clock::SharedClock,
    config::{AuthorizerSpec, Definition, IdentityScope, IdentitySource},
    error::GatewayError,
    request::ApiContext,
    trace::{self, SpanKind},
};

enum Authorizer {
    Jwt { verifier: Box<JwtAuthorizer>, identity: IdentitySource },
    Lambda(LambdaAuthorizer),
}

/// A route's authorizer and the scopes it requires.
struct Guard {
    /// The authorizer's name in the definition: its span's.
    name: String,
    authorizer: Arc<Authorizer>,
    scopes: Vec<String>,
}

pub(super) struct Authenticate {
    /// Per route, in definition order.
    routes: Vec<Option<Guard>>,
    context: Arc<ApiContext>,
    /// Times the authorizer's span.
    clock: SharedClock,
}

impl Authenticate {
    pub(super) fn new(
        definition: &Definition,
        backends: &crate::backends::Backends,
        context: Arc<ApiContext>,
    ) -> Result<Self, MissingClient> {
        let clock = backends.clock();
        let mut built: BTreeMap<&str, Arc<Authorizer>> = BTreeMap::new();
        for (name, spec) in &definition.authorizers {
            let needed_by = || format!("authorizer {name:?}");
            let authorizer = match spec {
                AuthorizerSpec::Jwt(jwt) => {
                    let client = MissingClient::require(backends.http.as_ref(), "HTTP", needed_by)?;
                    let keys = KeyRing::new(jwt.issuer.clone(), jwt.jwks_uri.clone(), client, Arc::clone(&clock));
                    let verifier = JwtAuthorizer::new(
                        jwt.issuer.clone(),
                        jwt.audiences.clone(),
                        jwt.leeway_seconds,
                        keys,
                        Arc::clone(&clock),
                    );
                    Authorizer::Jwt { verifier: Box::new(verifier), identity: jwt.identity.clone() }
                }
                AuthorizerSpec::Lambda(lambda) => {
                    let invoker = MissingClient::require(backends.lambda.as_ref(), "Lambda", needed_by)?;
                    Authorizer::Lambda(LambdaAuthorizer::new(lambda.clone(), invoker, Arc::clone(&clock)))
                }
            };
            built.insert(name, Arc::new(authorizer));
        }
        let routes = definition
            .routes
            .iter()
            .map(|r| {
                let name = r.authorizer.as_deref()?;
                let authorizer = Arc::clone(built.get(name)?);
                Some(Guard { name: name.to_owned(), authorizer, scopes: r.authorization_scopes.clone() })
            })
            .collect();
        Ok(Self { routes, context, clock })
    }
}

impl Stage for Authenticate {
    async fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let matched = ex.matched()?;
        let Some(guard) = self.routes.get(matched.route).and_then(Option::as_ref) else { return Ok(()) };
        let ctx = self.context.as_ref();
        // The authorizer is a span of a recorded request; a Lambda authorizer's invocation continues from it.
        let hop = ex.hop(self.clock.as_ref());
        let authorized = match guard.authorizer.as_ref() {
            Authorizer::Jwt { verifier, identity } => {
                let scope =
                    IdentityScope { route_key: &matched.key, stage: &ctx.stage, stage_variables: &ctx.stage_variables };
                let value = identity.resolve(&ex.request, scope);
                let verified = verifier.authorize(value.as_deref(), &guard.scopes);
                trace::record(hop.as_ref(), &guard.name, || SpanKind::Authorizer, |_| None, verified)
                    .await
                    .map_err(jwt_error)?
            }
            Authorizer::Lambda(lambda) => {
                let preset = ex.authorizer_event.as_ref();
                let arn = preset.map_or_else(
                    || {
                        method_arn(
                            &ctx.arn_prefix,
                            &ctx.api_id,
                            &ctx.stage,
                            ex.request.method.as_str(),
                            &ex.request.raw_path,
                        )
                    },
                    |p| p.arn.clone(),
                );
                let trace = hop.as_ref().and_then(|h| h.headers.xray_text());
                let call = Call { request: &ex.request, matched, context: ctx, arn: &arn, preset, trace };
                trace::record(hop.as_ref(), &guard.name, || SpanKind::Authorizer, |_| None, lambda.authorize(call))
                    .await
                    .map_err(lambda_error)?
            }
        };
        ex.authorized = Some(authorized);
        Ok(())
    }
}

fn jwt_error(e: JwtError) -> GatewayError {
    match e {
        JwtError::Missing => GatewayError::Unauthorized { challenge: Some("Bearer".to_owned()), detail: e.to_string() },
        JwtError::Invalid { description, detail } => GatewayError::Unauthorized {
            challenge: Some(format!(r#"Bearer scope="" error="invalid_token" error_description="{description}""#)),
            detail,
        },
        JwtError::InsufficientScope => GatewayError::InsufficientScope,
    }
}

fn lambda_error(e: LambdaAuthError) -> GatewayError {
    match e {
        LambdaAuthError::Unauthorized(why) => GatewayError::Unauthorized { challenge: None, detail: why.to_owned() },
        LambdaAuthError::Denied { explicit } => GatewayError::AuthorizerDenied { explicit },
        LambdaAuthError::NotAuthorized => GatewayError::Forbidden("the Lambda authorizer answered isAuthorized: false"),
        LambdaAuthError::Failure(why) => GatewayError::AuthorizerFailure(why),
    }
}
