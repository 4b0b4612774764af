//! WebSocket load through `tollgate serve` on loopback, real clients, bounded loops (run with
//! `cargo bench -p tollgate-tests --bench websocket`):
//!
//! * broadcast latency to 1,000 connections: from sending `broadcast` until the last client has the frame,
//!   against one message's round trip (`send` to itself) in the same run;
//! * messages per second: clients sending `send`-to-self and waiting for each echo, against the same clients
//!   on a bare axum WebSocket echo server in the same process (what the socket layer alone costs).
//!
//! Server and clients share the process and its 2 worker threads, so both sides' work is in every figure.

use std::time::{Duration, Instant};

use axum::{
    Router,
    extract::ws::{Message as AxumMessage, WebSocketUpgrade},
    routing::get,
};
use futures_util::{SinkExt as _, StreamExt as _, stream::SplitSink};
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::mpsc};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Client, Message>;

const CONNECTIONS: usize = 1_000;
const BROADCASTS: usize = 30;
const ROUND_TRIPS: usize = 300;
const SENDERS: usize = 50;
const MESSAGES_EACH: usize = 200;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let (server, _dir) = tollgate_tests::serve("websocket: {}\n").await;
    let url = format!("ws://{}/", server.addr);

    // 1,000 clients; each one's frames go to a reader task that reports (client, arrival time, text).
    let (tx, mut arrivals) = mpsc::unbounded_channel::<(usize, Instant, String)>();
    let mut sinks: Vec<Sink> = Vec::with_capacity(CONNECTIONS);
    for chunk in 0..CONNECTIONS / 100 {
        let clients = futures_util::future::join_all((0..100).map(|_| connect_async(url.as_str()))).await;
        for (i, client) in clients.into_iter().enumerate() {
            let (sink, mut stream) = client.expect("connect").0.split();
            sinks.push(sink);
            let (tx, n) = (tx.clone(), chunk * 100 + i);
            tokio::spawn(async move {
                while let Some(Ok(Message::Text(text))) = stream.next().await {
                    if tx.send((n, Instant::now(), text.to_string())).is_err() {
                        break;
                    }
                }
            });
        }
    }
    println!("{CONNECTIONS} connections open ({} on the server)", server.open_sockets());

    // Each sender learns its id from the error frame a message without a route gets.
    let mut ids = Vec::with_capacity(SENDERS);
    for (n, sink) in sinks.iter_mut().enumerate().take(SENDERS) {
        sink.send(Message::text("whoami")).await.expect("send");
        let (from, _, text) = arrivals.recv().await.expect("error frame");
        assert_eq!(from, n);
        let error: Value = serde_json::from_str(&text).expect("JSON");
        ids.push(error["connectionId"].as_str().expect("id").to_owned());
    }

    // Baseline: one message's round trip through the gateway (send to itself).
    let mut round_trips = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS {
        let started = Instant::now();
        let message = json!({ "action": "send", "connectionId": ids[0], "data": format!("rt{i}") });
        sinks[0].send(Message::text(message.to_string())).await.expect("send");
        let (_, at, _) = arrivals.recv().await.expect("echo");
        round_trips.push(at - started);
    }

    // Broadcast to every connection.
    let mut broadcasts = Vec::with_capacity(BROADCASTS);
    for i in 0..BROADCASTS {
        let started = Instant::now();
        let message = json!({ "action": "broadcast", "data": format!("b{i}") });
        sinks[0].send(Message::text(message.to_string())).await.expect("send");
        let mut last = started;
        for _ in 0..CONNECTIONS {
            let (_, at, text) = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
                .await
                .expect("every client in time")
                .expect("frame");
            assert_eq!(text, format!("b{i}"));
            last = last.max(at);
        }
        broadcasts.push(last - started);
    }

    // Throughput: SENDERS clients, each sending and awaiting its own echo, MESSAGES_EACH times.
    let started = Instant::now();
    let mut pending = vec![0usize; SENDERS];
    for (n, sink) in sinks.iter_mut().enumerate().take(SENDERS) {
        let message = json!({ "action": "send", "connectionId": ids[n], "data": "m" });
        sink.send(Message::text(message.to_string())).await.expect("send");
        pending[n] = 1;
    }
    let mut done = 0;
    while done < SENDERS {
        let (n, _, _) = arrivals.recv().await.expect("echo");
        if pending[n] < MESSAGES_EACH {
            pending[n] += 1;
            let message = json!({ "action": "send", "connectionId": ids[n], "data": "m" });
            sinks[n].send(Message::text(message.to_string())).await.expect("send");
        } else {
            done += 1;
        }
    }
    let gateway_rate = (SENDERS * MESSAGES_EACH) as f64 / started.elapsed().as_secs_f64();
    let echo_rate = bare_echo_rate().await;

    let rt = median(&mut round_trips);
    let (b50, b95) = (median(&mut broadcasts), percentile(&mut broadcasts, 0.95));
    println!("round trip of one message (baseline): median {:.3} ms", ms(rt));
    println!(
        "broadcast to {CONNECTIONS} connections: median {:.2} ms, p95 {:.2} ms ({:.1}x one round trip; goal <= 50 ms)",
        ms(b50),
        ms(b95),
        b50.as_secs_f64() / rt.as_secs_f64()
    );
    println!(
        "messages/s through tollgate serve: {gateway_rate:.0}; bare axum echo: {echo_rate:.0} ({:.2}x of bare)",
        gateway_rate / echo_rate
    );
    drop(sinks);
}

/// The same clients and loop against an axum WebSocket echo server: the socket layer's own cost.
async fn bare_echo_rate() -> f64 {
    let app = Router::new().route(
        "/",
        get(|ws: WebSocketUpgrade| async {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(message)) = socket.recv().await {
                    if let AxumMessage::Text(_) = message
                        && socket.send(message).await.is_err()
                    {
                        break;
                    }
                }
            })
        }),
    );
    let addr = tollgate_tests::spawn_http(app).await;
    let url = format!("ws://{addr}/");
    let mut clients: Vec<Client> = Vec::with_capacity(SENDERS);
    for _ in 0..SENDERS {
        clients.push(connect_async(url.as_str()).await.expect("connect").0);
    }
    let started = Instant::now();
    futures_util::future::join_all(clients.iter_mut().map(|client| async move {
        for _ in 0..MESSAGES_EACH {
            let message = json!({ "action": "send", "connectionId": "x", "data": "m" });
            client.send(Message::text(message.to_string())).await.expect("send");
            client.next().await.expect("open").expect("echo");
        }
    }))
    .await;
    (SENDERS * MESSAGES_EACH) as f64 / started.elapsed().as_secs_f64()
}

fn median(samples: &mut [Duration]) -> Duration {
    percentile(samples, 0.5)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}
