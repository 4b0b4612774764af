//! AWS SDK set-up, in one place: every SDK client Tollgate builds (Lambda, DynamoDB, the API Gateway
//! Management API) starts from [`loader`].

use crate::settings::{DEFAULT_REGION, Settings};

/// The SDK configuration loader: the environment's settings, with an HTTPS client on rustls + ring (the SDK's
/// default links aws-lc-rs, which would make the router binary 40% larger).
///
/// The region is the settings' (`AWS_REGION`). `local`: the endpoint is a local server (dynalite, `cargo lambda
/// watch`, `tollgate serve`), which checks no signature. Without credentials in the environment the SDK would
/// spend seconds looking for them, so it gets placeholder ones, and a region when the settings name none.
pub fn loader(settings: &Settings, local: bool) -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let https = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https);
    match (&settings.region, local) {
        (Some(region), _) => loader = loader.region(aws_config::Region::new(region.clone())),
        (None, true) => loader = loader.region(aws_config::Region::new(DEFAULT_REGION)),
        (None, false) => {}
    }
    if local && !settings.has_access_key {
        loader = loader.credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "tollgate",
            "local",
            None,
            None,
            "tollgate-local",
        ));
    }
    loader
}
