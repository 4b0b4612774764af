//! The load test's second baseline: the HTTP stack `tollgate serve` is built on (axum on hyper and tokio),
//! answering `200 {"ok":true}` with no gateway in between. Usage: plain_http PORT

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(18082);
    let app = axum::Router::new().fallback(|| async { ([("content-type", "application/json")], r#"{"ok":true}"#) });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
