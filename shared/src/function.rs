//! What every Tollgate Lambda function shares at its edge: starting up (settings, logging, then the function's
//! own set-up, whose failure is reported to the Runtime API as an init error with its message), and errors with
//! named types, so CloudWatch and API Gateway see `errorType: "Unauthorized"` rather than a Rust type path.

use std::future::Future;

use bytes::Bytes;
use http_body_util::Full;

use crate::{clients::HttpClient, logging, settings::Settings};

/// An error a function answers an invocation (or fails its init) with: Lambda reports `errorType` and
/// `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct FunctionError {
    pub kind: &'static str,
    pub message: String,
}

impl FunctionError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        Self { error_type: error.kind.to_owned(), error_message: error.message }
    }
}

impl From<crate::settings::SettingsError> for FunctionError {
    fn from(error: crate::settings::SettingsError) -> Self {
        Self::new("InvalidSettings", error.to_string())
    }
}

/// Starts a function: reads the settings, starts logging, and runs `set_up` once. When any of it fails, the
/// failure goes to the Runtime API's `/runtime/init/error` (Lambda then shows its message instead of only
/// "Runtime exited") and is returned, so `main` exits.
pub async fn start<T, F>(set_up: impl FnOnce(Settings) -> F) -> Result<T, FunctionError>
where
    F: Future<Output = Result<T, FunctionError>>,
{
    let settings = Settings::from_env();
    logging::init(logging::Output::Lambda, settings.log.as_deref());
    let runtime_api = settings.runtime_api.clone();
    let ready = match settings.check() {
        Ok(()) => set_up(settings).await,
        Err(e) => Err(e.into()),
    };
    match ready {
        Ok(ready) => Ok(ready),
        Err(error) => {
            tracing::error!(error_type = error.kind, error = %error.message, "init failed");
            report_init_error(runtime_api.as_deref(), &error).await;
            Err(error)
        }
    }
}

/// Tells the Runtime API that init failed, and why. Best effort: the process exits either way.
async fn report_init_error(runtime_api: Option<&str>, error: &FunctionError) {
    let Some(api) = runtime_api else { return };
    let body = serde_json::json!({ "errorType": error.kind, "errorMessage": error.message }).to_string();
    let request = http::Request::post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)));
    let sent = match (HttpClient::new(), request) {
        (Ok(client), Ok(request)) => client.send(request).await.map(|_| ()).map_err(|e| e.to_string()),
        (Err(e), _) => Err(e.to_string()),
        (_, Err(e)) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        eprintln!("cannot report the init error to the Runtime API: {e}");
    }
}
