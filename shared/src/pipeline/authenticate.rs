//! Stage 4, authenticate: the route's authorizer, a JWT verified in process or a Lambda authorizer (cached).
//! Its result reaches the integration in `requestContext.authorizer`; a Lambda authorizer's
//! `usageIdentifierKey` becomes the API key for `apiKeys.source: AUTHORIZER`.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use super::{Exchange, Flow, IntegrationContext};
use crate::{
    auth::{
        Authorized,
        identity::{IdentityScope, IdentitySource},
        jwks::KeyRing,
        jwt::{JwtAuthorizer, JwtError},
        lambda::{Call, EventKind, LambdaAuthError, LambdaAuthorizer},
        method_arn,
    },
    clock::SharedClock,
    config::{AuthorizerFile, Definition},
    error::GatewayError,
    integration::{Backends, MissingBackend},
};

enum Authorizer {
    Jwt { verifier: Box<JwtAuthorizer>, identity: IdentitySource },
    Lambda(LambdaAuthorizer),
}

pub(super) struct Authenticate {
    /// Per route, in definition order: its authorizer and required scopes.
    routes: Vec<Option<(Arc<Authorizer>, Vec<String>)>>,
}

impl Authenticate {
    pub(super) fn new(
        definition: &Definition,
        backends: &Backends,
        clock: &SharedClock,
    ) -> Result<Self, MissingBackend> {
        let mut built: BTreeMap<&str, Arc<Authorizer>> = BTreeMap::new();
        for (name, file) in &definition.authorizers {
            let missing = |kind| MissingBackend { route: format!("authorizer {name}"), kind };
            let authorizer = match file {
                AuthorizerFile::Jwt { issuer, audiences, jwks_uri, identity_source, leeway_seconds } => {
                    let client = backends.http.clone().ok_or_else(|| missing("HTTP"))?;
                    let keys = KeyRing::new(issuer.clone(), jwks_uri.clone(), client, Arc::clone(clock));
                    Authorizer::Jwt {
                        verifier: Box::new(JwtAuthorizer::new(
                            issuer.clone(),
                            audiences.clone(),
                            *leeway_seconds,
                            keys,
                            Arc::clone(clock),
                        )),
                        // Checked when the definition was loaded.
                        identity: IdentitySource::parse(identity_source)
                            .map_err(|_| missing("valid identity source"))?,
                    }
                }
                AuthorizerFile::Lambda {
                    function,
                    payload_format_version,
                    event_type,
                    identity_sources,
                    result_ttl_seconds,
                    simple_responses,
                    timeout_ms,
                } => {
                    let kind = match (payload_format_version.as_str(), event_type.as_deref()) {
                        ("1.0", Some("TOKEN")) => EventKind::Token,
                        ("1.0", _) => EventKind::RequestV1,
                        _ => EventKind::V2 { simple: *simple_responses },
                    };
                    let identity = identity_sources
                        .iter()
                        .map(|s| IdentitySource::parse(s))
                        .collect::<Result<_, _>>()
                        .map_err(|_| missing("valid identity source"))?;
                    Authorizer::Lambda(LambdaAuthorizer::new(
                        function.clone(),
                        kind,
                        identity,
                        *result_ttl_seconds,
                        Duration::from_millis(*timeout_ms),
                        backends.lambda.clone().ok_or_else(|| missing("Lambda"))?,
                        Arc::clone(clock),
                    ))
                }
            };
            built.insert(name, Arc::new(authorizer));
        }
        let routes = definition
            .routes
            .iter()
            .map(|r| {
                let authorizer = r.authorizer.as_deref().and_then(|n| built.get(n)).cloned();
                authorizer.map(|a| (a, r.authorization_scopes.clone()))
            })
            .collect();
        Ok(Self { routes })
    }

    pub(super) async fn run(
        &self,
        ex: &mut Exchange,
        context: &IntegrationContext,
        route_key: &str,
    ) -> Result<Flow, GatewayError> {
        let Some(matched) = ex.matched.as_ref() else { return Ok(Flow::Continue) };
        let Some((authorizer, scopes)) = self.routes.get(matched.route).and_then(Option::as_ref) else {
            return Ok(Flow::Continue);
        };
        let authorized = match authorizer.as_ref() {
            Authorizer::Jwt { verifier, identity } => {
                let scope =
                    IdentityScope { route_key, stage: &context.stage, stage_variables: &context.stage_variables };
                let value = identity.resolve(&ex.request, scope);
                verifier.authorize(value.as_deref(), scopes).await.map_err(jwt_error)?
            }
            Authorizer::Lambda(lambda) => {
                let preset = ex.authorizer_event.as_ref();
                let arn = preset.map_or_else(
                    || method_arn(&context.api_id, &context.stage, ex.request.method.as_str(), &ex.request.raw_path),
                    |p| p.arn.clone(),
                );
                let call = Call { request: &ex.request, matched, route_key, context, arn: &arn, preset };
                lambda.authorize(call).await.map_err(lambda_error)?
            }
        };
        if let Authorized::Lambda { usage_identifier_key: Some(key), .. } = &authorized {
            ex.usage_identifier_key = Some(key.clone());
        }
        ex.authorized = Some(authorized);
        Ok(Flow::Continue)
    }
}

fn jwt_error(e: JwtError) -> GatewayError {
    match e {
        JwtError::Missing => GatewayError::Unauthorized { challenge: Some("Bearer".to_owned()), detail: e.to_string() },
        JwtError::Invalid(why) => {
            let description = why.replace('"', "'");
            GatewayError::Unauthorized {
                challenge: Some(format!(r#"Bearer error="invalid_token" error_description="{description}""#)),
                detail: why,
            }
        }
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
