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
