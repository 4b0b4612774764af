//! Log bytes per request, and what CloudWatch Logs charges for them ($0.50 per GB ingested), for each logging
//! setting, against the default access line measured in the same run. Bytes are counted, not timed, so one run
//! is exact; `cargo bench -p tollgate-tests --bench log_bytes` prints the table docs/observability.md quotes.
//!
//! The workload: 12,000 requests through the real pipeline (Lambda, mock and unmatched routes; 97% 2xx, 2% 404,
//! 1% 503), UUID request ids, on a manual clock at a steady rate per instance. The default access line is
//! counted as the router writes it on Lambda (`logging::init(Output::Lambda)`'s JSON layer, without a time);
//! formatted lines and EMF documents as written to stdout. Each line costs one byte more (its newline).

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tollgate_core::{
    Gateway,
    backends::Backends,
    clock::{MICROS_PER_SEC, ManualClock},
    config::Definition,
    logging::Captured,
    request::GatewayRequest,
};
use tollgate_tests::{EchoFunction, get, test_clock};

const REQUESTS: u64 = 12_000;
/// CloudWatch Logs ingestion, USD per GB; a GB taken as 10^9 bytes, the higher of the two readings.
const USD_PER_GB: f64 = 0.50;
const GB: f64 = 1e9;
/// What Lambda's own START, END and REPORT lines weigh per invocation (JSON format), cut by SystemLogLevel WARN.
const PLATFORM_BYTES: f64 = 280.0;

const ROUTES: &str = r#"
name: pets
stages:
  prod: {}
routes:
  GET /pets/{id}:
    integration: { type: lambda, function: pets }
  POST /pets:
    integration: { type: lambda, function: pets }
  GET /health:
    integration: { type: mock, statusCode: 200, body: "ok" }
  GET /orders/{id}:
    integration: { type: mock, statusCode: 503 }
"#;

/// Bytes the tracing layer writes (the default access line).
static TRACED: AtomicU64 = AtomicU64::new(0);

struct Counting;
impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        TRACED.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn request(i: u64) -> GatewayRequest {
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        i * 2_654_435_761 % (1 << 32),
        i % 65_536,
        i % 4096,
        (i * 7) % 4096,
        i * 97
    );
    let (method, path) = match i % 100 {
        0..=1 => ("GET", "/nowhere".to_owned()),
        2 => ("GET", format!("/orders/{i}")),
        3..=30 => ("GET", "/health".to_owned()),
        31..=45 => ("POST", "/pets".to_owned()),
        _ => ("GET", format!("/pets/{}", i % 5_000)),
    };
    let mut request = get(&path, &[("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")]);
    request.method = method.parse().expect("method");
    request.request_id = id;
    request.source_ip = "203.0.113.42".to_owned();
    request
}

/// Log bytes per request for `settings` (YAML lines before the routes) at `rate` requests/s on one instance.
fn bytes_per_request(rt: &tokio::runtime::Runtime, settings: &str, rate: u64) -> f64 {
    let clock: ManualClock = test_clock();
    let lines = Arc::new(Captured::default());
    let definition = Definition::from_yaml(&format!("{settings}\n{ROUTES}"), None).expect("definition");
    let backends = Backends {
        lambda: Some(Arc::new(EchoFunction)),
        clock: Some(Arc::new(clock.clone())),
        lines: Some(Arc::clone(&lines) as _),
        ..Backends::default()
    };
    let gateway = Gateway::new(&definition, &backends).expect("gateway");
    TRACED.store(0, Ordering::Relaxed);
    let mut written = 0u64;
    rt.block_on(async {
        for i in 0..REQUESTS {
            gateway.handle_request(request(i)).await;
            clock.advance_us(MICROS_PER_SEC / rate as i64);
            written += lines.take().iter().map(|l| l.len() as u64 + 1).sum::<u64>();
        }
    });
    // What the instance gathered last is written when it next flushes; count it as this run's.
    if let Some(metrics) = gateway.metrics() {
        metrics.flush();
    }
    written += lines.take().iter().map(|l| l.len() as u64 + 1).sum::<u64>();
    (written + TRACED.load(Ordering::Relaxed)) as f64 / REQUESTS as f64
}

fn usd_per_million(bytes: f64) -> f64 {
    bytes * 1e6 / GB * USD_PER_GB
}

fn main() {
    // The router's own JSON layer (shared/src/logging.rs, Output::Lambda), writing into a byte counter.
    use tracing_subscriber::{layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_writer(|| Counting);
    let _ = tracing_subscriber::registry().with(tollgate_core::logging::filter(None)).with(layer).try_init();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    let off = "metrics: { enabled: false }";
    let baseline = bytes_per_request(&rt, off, 100);
    let rows: Vec<(String, f64)> = vec![
        ("default access line, metrics off (baseline)".into(), baseline),
        (
            "compact access line".into(),
            bytes_per_request(&rt, &format!("{off}\naccessLog: {{ format: compact }}"), 100),
        ),
        ("clf access line".into(), bytes_per_request(&rt, &format!("{off}\naccessLog: {{ format: clf }}"), 100)),
        (
            "json preset access line".into(),
            bytes_per_request(&rt, &format!("{off}\naccessLog: {{ format: json }}"), 100),
        ),
        (
            "default line sampled at 0.1".into(),
            bytes_per_request(&rt, &format!("{off}\naccessLog: {{ sampleRate: 0.1 }}"), 100),
        ),
        (
            "compact line sampled at 0.1".into(),
            bytes_per_request(&rt, &format!("{off}\naccessLog: {{ format: compact, sampleRate: 0.1 }}"), 100),
        ),
    ];
    // Metrics alone: the access line sampled to nothing but errors is subtracted out by measuring it alone.
    let errors_only = "accessLog: { format: compact, sampleRate: 0 }";
    let errors_bytes = bytes_per_request(&rt, &format!("{off}\n{errors_only}"), 100);
    let emf = |flush: u32, rate: u64| {
        bytes_per_request(&rt, &format!("metrics: {{ flushSeconds: {flush} }}\n{errors_only}"), rate) - errors_bytes
    };
    let mut metric_rows: Vec<(String, f64)> = vec![("EMF, one line per request (flushSeconds: 0)".into(), emf(0, 100))];
    for rate in [1, 10, 100] {
        metric_rows.push((format!("EMF aggregated, flushSeconds 60, {rate} req/s per instance"), emf(60, rate)));
    }
    let default_total = baseline + emf(60, 10);

    println!("| setting | bytes per request | against the default line | USD per million requests |");
    println!("|---|---|---|---|");
    for (name, bytes) in rows.iter().chain(&metric_rows) {
        println!("| {name} | {bytes:.1} | {:.3}× | ${:.4} |", bytes / baseline, usd_per_million(*bytes));
    }
    println!(
        "| Lambda's START/END/REPORT lines (not measured here; cut by SystemLogLevel WARN) | {PLATFORM_BYTES:.0} | {:.3}× | ${:.4} |",
        PLATFORM_BYTES / baseline,
        usd_per_million(PLATFORM_BYTES)
    );
    println!(
        "| defaults: default line + EMF aggregated at 10 req/s per instance | {default_total:.1} | {:.3}× | ${:.4} |",
        default_total / baseline,
        usd_per_million(default_total)
    );
}
