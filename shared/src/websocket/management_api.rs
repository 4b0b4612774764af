//! The `@connections` API through the AWS SDK (API Gateway's Management API), for the functions on Lambda.
//! One client per endpoint (a stage's `https://{domainName}/{stage}`), built at its first use; credentials
//! and region come from the environment, and `tollgate serve` answers the same calls locally.

use std::{collections::HashMap, sync::Mutex};

use aws_sdk_apigatewaymanagement::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    primitives::Blob,
};

use super::fanout::{Endpoint, OpenFuture, PostError, PostFuture, Poster};

pub struct ManagementApi {
    config: aws_config::SdkConfig,
    clients: Mutex<HashMap<Endpoint, Client>>,
}

impl std::fmt::Debug for ManagementApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementApi").finish_non_exhaustive()
    }
}

impl ManagementApi {
    pub fn new(config: aws_config::SdkConfig) -> Self {
        Self { config, clients: Mutex::default() }
    }

    fn client(&self, endpoint: &Endpoint) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(endpoint.clone())
            .or_insert_with(|| {
                let config =
                    aws_sdk_apigatewaymanagement::config::Builder::from(&self.config).endpoint_url(&endpoint.0).build();
                Client::from_conf(config)
            })
            .clone()
    }
}

/// Maps the service's error codes (status 410, 413, 429) to the poster's errors.
fn post_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> PostError {
    let detail = aws_sdk_apigatewaymanagement::error::DisplayErrorContext(e).to_string();
    match e.code() {
        Some("GoneException") => PostError::Gone,
        Some("PayloadTooLargeException") => PostError::TooLarge(detail),
        Some("LimitExceededException") => PostError::Throttled(detail),
        _ => PostError::Failed(detail),
    }
}

impl Poster for ManagementApi {
    fn post<'a>(&'a self, endpoint: &'a Endpoint, connection: &'a str, data: &'a [u8]) -> PostFuture<'a> {
        Box::pin(async move {
            let client = self.client(endpoint);
            match client.post_to_connection().connection_id(connection).data(Blob::new(data)).send().await {
                Ok(_) => Ok(()),
                Err(e) => Err(post_error(&e)),
            }
        })
    }

    fn delete<'a>(&'a self, endpoint: &'a Endpoint, connection: &'a str) -> PostFuture<'a> {
        Box::pin(async move {
            let client = self.client(endpoint);
            match client.delete_connection().connection_id(connection).send().await {
                Ok(_) => Ok(()),
                Err(e) => Err(post_error(&e)),
            }
        })
    }

    fn is_open<'a>(&'a self, endpoint: &'a Endpoint, connection: &'a str) -> OpenFuture<'a> {
        Box::pin(async move {
            let client = self.client(endpoint);
            match client.get_connection().connection_id(connection).send().await {
                Ok(_) => Ok(true),
                Err(e) => match post_error(&e) {
                    PostError::Gone => Ok(false),
                    other => Err(other),
                },
            }
        })
    }
}
