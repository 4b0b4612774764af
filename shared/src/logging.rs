//! Log set-up for every binary: one JSON object per line (fields flattened, no ANSI codes), filtered by
//! `TOLLGATE_LOG`. On Lambda lines go to stdout without a time (CloudWatch adds it); the CLI writes to
//! stderr, with times, so stdout stays for what a script reads.
//!
//! `TOLLGATE_LOG` takes a level and `target=level` directives (`info,tollgate_core::websocket=debug`), read by
//! tracing-subscriber's `Targets`. Its regex-based `EnvFilter` (span and field filters) added about 0.4 MB to
//! every function for a feature logs here do not use.

use tracing_subscriber::{filter::Targets, layer::SubscriberExt as _, util::SubscriberInitExt as _};

/// Where a binary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Lambda,
    Cli,
}

/// The filter `TOLLGATE_LOG` names (`Settings::log`); `info` when it is unset or unreadable.
pub fn filter(directives: Option<&str>) -> Targets {
    let default = || Targets::new().with_default(tracing::Level::INFO);
    match directives {
        Some(text) => text.parse().unwrap_or_else(|e| {
            eprintln!("TOLLGATE_LOG={text:?} is not a filter ({e}); logging at info");
            default()
        }),
        None => default(),
    }
}

/// Installs the process's subscriber, filtered by `directives` (`TOLLGATE_LOG`). A second call (tests) leaves
/// the first in place.
pub fn init(output: Output, directives: Option<&str>) {
    let json = tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(false).with_ansi(false);
    let registry = tracing_subscriber::registry().with(filter(directives));
    let _ = match output {
        Output::Lambda => registry.with(json.without_time()).try_init(),
        Output::Cli => registry.with(json.with_writer(std::io::stderr)).try_init(),
    };
}

/// Where whole log lines go that must reach CloudWatch exactly as written: EMF documents (CloudWatch parses
/// the line itself as JSON) and access-log lines in a chosen format. `tracing` would wrap them in its own
/// JSON object, which EMF does not read and which costs bytes per line.
pub trait LineSink: Send + Sync + std::fmt::Debug {
    /// Writes `line` and a newline as one write, so concurrent lines never interleave.
    fn write_line(&self, line: &str);
}

/// Standard output: what Lambda sends to CloudWatch Logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

/// Standard error: the CLI's log stream (`tollgate serve`), leaving stdout to what a script reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

fn write_to(mut out: impl std::io::Write, line: &str) {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    // A log line that cannot be written (closed pipe) is dropped: logging never fails a request.
    let _ = out.write_all(&buf);
}

impl LineSink for Stdout {
    fn write_line(&self, line: &str) {
        write_to(std::io::stdout().lock(), line);
    }
}

impl LineSink for Stderr {
    fn write_line(&self, line: &str) {
        write_to(std::io::stderr().lock(), line);
    }
}

/// Keeps every line in memory: tests read back what would have reached CloudWatch, and benchmarks count its
/// bytes.
#[derive(Debug, Default)]
pub struct Captured(std::sync::Mutex<Vec<String>>);

impl Captured {
    /// The lines written so far, and forgets them.
    pub fn take(&self) -> Vec<String> {
        self.0.lock().map(|mut lines| std::mem::take(&mut *lines)).unwrap_or_default()
    }
}

impl LineSink for Captured {
    fn write_line(&self, line: &str) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line.to_owned());
        }
    }
}
