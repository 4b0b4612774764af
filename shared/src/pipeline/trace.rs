//! Tracing around the stages: each request's trace context is made before the first stage, and, on a traced
//! stage (`tracing.enabled`) with an X-Ray daemon to send to, its spans are recorded while the stages run and
//! sent once its answer is known (`docs/tracing.md`). Stages that call out make their own hops from the
//! exchange's context; the store records through the task's recorder.

use std::sync::Arc;

use super::Exchange;
use crate::{
    backends::Backends,
    clock::SharedClock,
    config::Definition,
    store::{Store, traced::Traced},
    trace::{Recorder, TraceContext, xray},
};

pub(super) struct Tracing {
    /// Set when the stage is traced and the daemon's address was usable.
    emitter: Option<xray::XrayEmitter>,
    clock: SharedClock,
    /// The gateway's segment: `{api}/{stage}`, as API Gateway names its stage's.
    segment_name: String,
}

impl Tracing {
    pub(super) fn new(definition: &Definition, backends: &Backends) -> Self {
        let emitter = match (definition.tracing, backends.xray_daemon.as_deref()) {
            (true, Some(address)) => xray::XrayEmitter::connect(address)
                .inspect_err(|e| tracing::warn!(error = %e, "tracing is on but no X-Ray documents will be sent"))
                .ok(),
            (true, None) => {
                tracing::warn!("tracing is on but AWS_XRAY_DAEMON_ADDRESS is unset: trace headers only");
                None
            }
            (false, _) => None,
        };
        Self { emitter, clock: backends.clock(), segment_name: format!("{}/{}", definition.api_name, definition.stage) }
    }

    /// The store, wrapped so its calls are recorded when documents are sent.
    pub(super) fn store(&self, store: Arc<dyn Store>) -> Arc<dyn Store> {
        match self.emitter {
            Some(_) => Arc::new(Traced::new(store, Arc::clone(&self.clock))),
            None => store,
        }
    }

    /// The trace the request continues; a recorder when its documents will be sent.
    pub(super) fn begin(&self, ex: &mut Exchange) {
        let now_us = self.clock.now_us();
        let ctx = TraceContext::continue_from(&ex.request.headers, ex.request.lambda_trace.as_deref(), now_us);
        if self.emitter.is_some() && ctx.sampled() {
            ex.recorder = Some(Recorder::default());
            ex.trace_start_us = now_us;
        }
        ex.trace = Some(ctx);
    }

    /// Sends the request's documents, when it was recorded.
    pub(super) fn end(&self, ex: &Exchange) {
        let (Some(emitter), Some(recorder), Some(ctx)) = (&self.emitter, &ex.recorder, &ex.trace) else { return };
        let url =
            format!("https://{}{}", ex.request.domain_name.as_deref().unwrap_or("localhost"), ex.request.raw_path);
        let segment = xray::Segment {
            name: &self.segment_name,
            method: ex.request.method.as_str(),
            url: &url,
            status: ex.response.as_ref().map_or(500, |r| r.status.as_u16()),
            start_us: ex.trace_start_us,
            end_us: self.clock.now_us(),
        };
        emitter.emit(ctx, &segment, &recorder.take());
    }
}
