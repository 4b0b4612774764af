//! The HTTP client: one pooled HTTP/1.1 client per process for http:// and https:// (hyper on rustls with
//! ring, the TLS stack the AWS SDK's client uses), shared by HTTP integrations and JWT key fetches. Warm
//! invocations reuse its connections.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, ResponseFuture, connect::HttpConnector};

/// Idle pooled connections are closed after this long, before the usual 60 s server-side keep-alive limits.
const POOL_IDLE: Duration = Duration::from_secs(55);

/// A pooled HTTP/1.1 client for http:// and https:// backends. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new() -> Result<Self, std::io::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match builder.with_provider_and_native_roots(provider.clone()) {
            Ok(b) => b,
            // No system certificates: http:// backends still work, https:// ones fail at handshake.
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(std::io::Error::other)?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            ),
        };
        // Nagle off: a request goes out in one write, and waiting to coalesce only adds latency.
        let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let connector = builder.https_or_http().enable_http1().wrap_connector(tcp);
        let inner = Client::builder(hyper_util::rt::TokioExecutor::new()).pool_idle_timeout(POOL_IDLE).build(connector);
        Ok(Self { inner })
    }

    /// Sends a request on a pooled connection.
    pub fn send(&self, request: Request<Full<Bytes>>) -> ResponseFuture {
        self.inner.request(request)
    }

    /// A GET whose answer must be a 200 within `timeout` and at most `limit` bytes (key documents, for
    /// authorizers). The error says which of those failed.
    pub async fn fetch(&self, url: &str, timeout: Duration, limit: usize) -> Result<Bytes, String> {
        let request = Request::get(url)
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("bad URL {url:?}: {e}"))?;
        let exchange = async {
            let response = self.send(request).await.map_err(|e| error_chain(&e))?;
            if response.status() != http::StatusCode::OK {
                return Err(format!("{url} answered {}", response.status()));
            }
            read_body(response.into_body(), limit)
                .await
                .map_err(|e| format!("{url}: body over {limit} bytes or unreadable: {e}"))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("{url} took over {} ms", timeout.as_millis()))?
    }
}

/// Reads a response body of at most `limit` bytes.
pub async fn read_body(body: hyper::body::Incoming, limit: usize) -> Result<Bytes, String> {
    Limited::new(body, limit).collect().await.map(http_body_util::Collected::to_bytes).map_err(|e| e.to_string())
}

/// An error with its causes, for logs: `a: b: c`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
