//! HTTP backends on loopback that fail as real ones do: one never answers, one answers bytes that are not
//! HTTP, one port has nothing listening, one answers more than a Lambda function may return.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;

pub struct FaultyBackends {
    /// Accepts requests and never answers them.
    pub hang: SocketAddr,
    /// Answers every connection with bytes that are not HTTP.
    pub garbage: SocketAddr,
    /// Nothing listens here: connections are refused.
    pub closed: SocketAddr,
    /// Answers 7 MB of text: more than the router may return through Lambda (6 MB).
    pub huge: SocketAddr,
}

impl FaultyBackends {
    /// Starts them; they stop when the test's runtime ends.
    pub async fn start() -> Self {
        let hang = crate::spawn_http(axum::Router::new().fallback(std::future::pending::<&'static str>)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let garbage = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"this is not HTTP at all\r\n\r\n").await;
            }
        });
        // Bind, note the port, close.
        let closed = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind").local_addr().expect("addr");
        let huge = crate::spawn_http(axum::Router::new().fallback(|| async { "x".repeat(7 * 1024 * 1024) })).await;
        Self { hang, garbage, closed, huge }
    }

    /// Stage variables naming them, for a definition's `variables:`.
    pub fn variables(&self) -> String {
        format!(
            r#"hang: "{}", garbage: "{}", closed: "{}", huge: "{}""#,
            self.hang, self.garbage, self.closed, self.huge
        )
    }
}
