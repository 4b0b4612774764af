//! The front door's HTTP/1.1 server: hyper's own, straight on the listener. `tollgate serve` has one handler,
//! so a router, extractors and boxed handlers only cost time (about 5,600 instructions a request, measured with
//! callgrind against axum's). One task per connection, Nagle off (answers are one write each), upgrades kept
//! for WebSocket handshakes; a stop lets open connections finish the request in hand and close.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::watch};

/// Who is at the other end of a connection.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The address as text, made once per connection rather than per request.
    pub ip: Arc<str>,
}

/// Serves `listener` until `stop` resolves, then waits for the open connections to close.
pub async fn serve<H, F>(listener: TcpListener, handle: H, stop: impl Future<Output = ()>)
where
    H: Fn(Request<Body>, Peer) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let (closing, closed) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: the listener itself is still good.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let peer = Peer { addr, ip: addr.ip().to_string().into() };
        let handle = handle.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let answer = handle(request.map(Body::new), peer.clone());
            async move { Ok::<_, std::convert::Infallible>(answer.await) }
        });
        let connection =
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = closed.changed() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    drop(closed);
    let _ = closing.send(true);
    // Every connection task holds a receiver: this resolves when the last one has closed.
    closing.closed().await;
}
