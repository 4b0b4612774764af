//! The clients Tollgate calls out through, each built once per process (cold start), never per request: the
//! AWS SDK's set-up, Lambda invocation, and the HTTP client.

pub mod aws;
pub mod http;
pub mod lambda;

pub use self::http::HttpClient;
pub use lambda::{InvokeError, InvokeFailure, InvokeFuture, InvokeOutput, Invoker, SdkInvoker, invoke};

/// Something in the definition needs a client that was not provided.
#[derive(Debug, thiserror::Error)]
#[error("{needed_by} needs a {kind} client and none was configured")]
pub struct MissingClient {
    /// What needs it: `route "GET /x"`, `authorizer "users"`.
    pub needed_by: String,
    pub kind: &'static str,
}

impl MissingClient {
    /// The client itself, or the error naming who needed it.
    pub fn require<T: Clone>(
        client: Option<&T>,
        kind: &'static str,
        needed_by: impl FnOnce() -> String,
    ) -> Result<T, Self> {
        client.cloned().ok_or_else(|| Self { needed_by: needed_by(), kind })
    }
}
