//! HTTP backends on loopback that fail as real ones do: one never answers, one answers bytes that are not
//! HTTP, one port has nothing listening, one answers more than a Lambda function may return; and
//! [`RawBackend`]s that misbehave mid-answer (trickle, cut off, close after reading the request) and count what
//! they were sent.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Notify,
};

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

/// What a [`RawBackend`] does once it has read a whole request.
#[derive(Debug, Clone, Copy)]
pub enum Misbehaviour {
    /// Never answers (the connection stays open).
    Stall,
    /// Answers a 200 whose 64-byte body comes one byte every `0` (longer than any timeout a test sets).
    Trickle(Duration),
    /// Promises 1,000 bytes, sends 10, and closes.
    CutOff,
    /// Closes the connection without a byte: the request was received (and acted on, for all the caller
    /// knows), the answer lost.
    Close,
}

/// A plain-TCP HTTP/1.1 server that reads each request in full, counts it, and then misbehaves.
pub struct RawBackend {
    pub addr: SocketAddr,
    received: Arc<AtomicUsize>,
    arrived: Arc<Notify>,
}

impl RawBackend {
    pub async fn start(misbehaviour: Misbehaviour) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (received, arrived) = (Arc::new(AtomicUsize::new(0)), Arc::new(Notify::new()));
        let (count, notify) = (Arc::clone(&received), Arc::clone(&arrived));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (count, notify) = (Arc::clone(&count), Arc::clone(&notify));
                tokio::spawn(async move {
                    let Some(mut socket) = read_request(socket).await else { return };
                    count.fetch_add(1, Ordering::SeqCst);
                    notify.notify_waiters();
                    misbehave(&mut socket, misbehaviour).await;
                });
            }
        });
        Self { addr, received, arrived }
    }

    /// How many whole requests it has read.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    /// Waits until it has read at least `n` requests.
    pub async fn wait_for(&self, n: usize) {
        loop {
            let arrived = self.arrived.notified();
            if self.received() >= n {
                return;
            }
            arrived.await;
        }
    }
}

/// Reads one request's head and its `Content-Length` body; `None` if the peer goes away first.
async fn read_request(mut socket: TcpStream) -> Option<TcpStream> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some(socket)
}

async fn misbehave(socket: &mut TcpStream, misbehaviour: Misbehaviour) {
    match misbehaviour {
        Misbehaviour::Stall => std::future::pending::<()>().await,
        Misbehaviour::Trickle(every) => {
            let _ =
                socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 64\r\n\r\n").await;
            for _ in 0..64 {
                // The delay is the fault being injected, not a test waiting for something.
                tokio::time::sleep(every).await;
                if socket.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
        Misbehaviour::CutOff => {
            let _ =
                socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n").await;
            let _ = socket.write_all(b"0123456789").await;
            let _ = socket.shutdown().await;
        }
        Misbehaviour::Close => {}
    }
}
