//! The soak load behind `scripts/load-soak.sh`: a `tollgate serve` process (the binary given) under a fixed
//! number of connections for a fixed time, each connection cycling through a mix of routes: a mock, an HTTP
//! integration, a metered route (API key, usage plan with a quota) and a JWT-authorized route. It counts answers
//! that are not the expected 200 and transport errors, samples the server's resident memory every second, and
//! counts the bytes it logs. The baseline, in the same run, is the same connections against the HTTP backend
//! directly.
//!
//! `load-mix TOLLGATE_BINARY [SECONDS] [CONNECTIONS]`; exits non-zero on any error or on memory that keeps
//! growing after the warm-up.

use std::{
    path::PathBuf,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use jsonwebtoken::Algorithm;
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tollgate_core::{
    clock::{Clock as _, SystemClock},
    usage::{Period, Quota},
};
use tollgate_tests::{
    client::new_key,
    issuer::{Issuer, SigningKey},
    spawn_http,
};

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    wrong_status: AtomicU64,
    transport: AtomicU64,
}

impl Tally {
    fn errors(&self) -> u64 {
        self.wrong_status.load(Ordering::Relaxed) + self.transport.load(Ordering::Relaxed)
    }
}

/// One request of the mix: a path and its headers.
type Call = (String, Vec<(&'static str, String)>);

/// `connections` connections (one client each, so one socket each) sending `calls` in turn until `until`.
async fn drive(base: String, calls: Arc<Vec<Call>>, connections: usize, until: Instant) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        let (base, calls, tally) = (base.clone(), Arc::clone(&calls), Arc::clone(&tally));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().http1_only().pool_max_idle_per_host(1).build().expect("client");
            let mut i = c;
            while Instant::now() < until {
                let (path, headers) = &calls[i % calls.len()];
                i += 1;
                let mut request = client.get(format!("{base}{path}"));
                for (name, value) in headers {
                    request = request.header(*name, value);
                }
                match request.send().await {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(_) => tally.ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => tally.transport.fetch_add(1, Ordering::Relaxed),
                    },
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        if tally.wrong_status.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("{path}: {status} {body}");
                        }
                        0
                    }
                    Err(e) => {
                        if tally.transport.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("{path}: {e}");
                        }
                        0
                    }
                };
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    tally
}

/// Reads `from` to its end, adding what it read to `total`.
async fn count_bytes(mut from: impl tokio::io::AsyncRead + Unpin, total: Arc<AtomicU64>) {
    let mut buffer = vec![0_u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        total.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let binary = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("usage: load-mix TOLLGATE [SECS] [CONNS]"))?);
    let seconds: u64 = args.next().map_or(Ok(60), |s| s.parse())?;
    let connections: usize = args.next().map_or(Ok(1_000), |s| s.parse())?;

    // The HTTP backend and the JWT issuer, on loopback in this process.
    let backend = spawn_http(axum::Router::new().fallback(|| async { r#"{"ok":true}"# })).await;
    let key = SigningKey::load("rsa.pem", "rsa-1", Algorithm::RS256);
    let issuer = Issuer::start(&[&key]).await;

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("gateway.yaml");
    let store = dir.path().join("store.json");
    std::fs::write(
        &config,
        format!(
            r#"
stages:
  load: {{ variables: {{ backend: "{backend}" }} }}
authorizers:
  users: {{ type: jwt, issuer: "{issuer}", audiences: [api] }}
routes:
  GET /mock: {{ integration: {{ type: mock, statusCode: 200, body: '{{"ok":true}}' }} }}
  GET /http/{{proxy+}}: {{ integration: {{ type: http, url: "http://${{stageVariables.backend}}/{{proxy}}" }} }}
  GET /metered: {{ apiKeyRequired: true, integration: {{ type: mock, statusCode: 200, body: metered }} }}
  GET /me: {{ authorizer: users, integration: {{ type: mock, statusCode: 200, body: me }} }}
"#,
            issuer = issuer.url
        ),
    )?;
    // Far more quota than the run can use: what is measured is the metering, not its refusals.
    let quota = Quota { limit: 1_000_000_000, period: Period::Month, offset: 0 };
    let (_, api_key) = new_key(&store, "load", Some(quota)).await;
    // The server reads the system clock, so the tokens are made on it too.
    let now = SystemClock.now_ms() / 1_000;
    let tokens: Vec<String> = (0..8)
        .map(|i| key.sign(&json!({"iss": issuer.url, "aud": "api", "sub": format!("user-{i}"), "exp": now + 3_600})))
        .collect();
    let mut calls: Vec<Call> = vec![
        ("/mock".into(), vec![]),
        ("/http/items".into(), vec![]),
        ("/metered".into(), vec![("x-api-key", api_key)]),
    ];
    calls.extend(tokens.into_iter().map(|t| ("/me".to_owned(), vec![("authorization", format!("Bearer {t}"))])));
    let calls = Arc::new(calls);

    // Baseline: the same connections against the backend directly.
    let baseline_secs = 10.min(seconds);
    let direct = Arc::new(vec![("/items".to_owned(), vec![])]);
    let started = Instant::now();
    let base =
        drive(format!("http://{backend}"), direct, connections, started + Duration::from_secs(baseline_secs)).await;
    let base_rps = base.ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();

    let mut child = tokio::process::Command::new(&binary)
        .args(["serve", "--port", "0", "--stage", "load", "--config"])
        .arg(&config)
        .arg("--store")
        .arg(&store)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let mut out = BufReader::new(child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?);
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if out.read_line(&mut line).await? == 0 {
            anyhow::bail!("serve exited before serving");
        }
        if let Some(url) = line.trim().strip_prefix("tollgate serving on ") {
            break url.to_owned();
        }
    };
    // Drain and count what the server logs: access-log lines (stderr) and anything else it prints.
    let logged = Arc::new(AtomicU64::new(0));
    let err = child.stderr.take().ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    tokio::spawn(count_bytes(out, Arc::clone(&logged)));
    tokio::spawn(count_bytes(err, Arc::clone(&logged)));

    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let load = tokio::spawn(drive(addr, Arc::clone(&calls), connections, until));
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < until {
        tick.tick().await;
        samples.push(rss_kib(pid));
    }
    let tally = load.await?;
    let elapsed = started.elapsed().as_secs_f64();
    let _ = child.kill().await;

    let served = tally.ok.load(Ordering::Relaxed);
    let rps = served as f64 / elapsed;
    let warm = samples.get(samples.len() / 6).copied().unwrap_or(0);
    let last = samples.last().copied().unwrap_or(0);
    let peak = samples.iter().copied().max().unwrap_or(0);
    println!(
        "connections: {connections}, {seconds} s, mix: mock, HTTP, metered (API key + quota), JWT ({} calls)",
        calls.len()
    );
    println!("baseline (the backend directly, {baseline_secs} s): {base_rps:.0} req/s");
    println!(
        "tollgate serve: {served} answers, {rps:.0} req/s ({:.2}x the baseline), errors: {} wrong status, {} transport",
        rps / base_rps,
        tally.wrong_status.load(Ordering::Relaxed),
        tally.transport.load(Ordering::Relaxed)
    );
    println!(
        "memory (RSS): {} MiB after the warm-up, {} MiB at the end ({:.2}x), peak {} MiB",
        warm / 1024,
        last / 1024,
        last as f64 / warm.max(1) as f64,
        peak / 1024
    );
    let log_bytes = logged.load(Ordering::Relaxed);
    println!("logged: {log_bytes} bytes, {:.0} per request", log_bytes as f64 / served.max(1) as f64);
    if tally.errors() > 0 {
        anyhow::bail!("{} errors", tally.errors());
    }
    // Flat: the end within a fifth of the warmed-up size (allocator noise), not a leak's steady climb.
    if last as f64 > warm as f64 * 1.2 {
        anyhow::bail!("memory grew from {warm} KiB to {last} KiB");
    }
    Ok(())
}
