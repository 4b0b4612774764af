//! Stage 18, traffic: counts the answer on today's row of the operator's dashboard (requests, 4xx, 5xx, 429;
//! `crate::metrics::traffic`). The count never waits; the store hears of it at most once a minute, after an
//! answer is made ([`CountTraffic::settle`]).

use std::sync::Arc;

use super::{Exchange, SyncStage};
use crate::{error::GatewayError, metrics::traffic::TrafficTally};

pub(super) struct CountTraffic {
    /// `None` without a store: there is no dashboard to count for.
    pub tally: Option<Arc<TrafficTally>>,
}

impl SyncStage for CountTraffic {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let Some(tally) = &self.tally else { return Ok(()) };
        // A preflight the gateway answered is not an API request, as for the metrics.
        if !ex.preflight {
            tally.record(ex.response.as_ref().map_or(500, |r| r.status.as_u16()));
        }
        Ok(())
    }
}

impl CountTraffic {
    /// Adds the counts to the store once a minute has passed since the last time.
    pub(super) async fn settle(&self) {
        if let Some(tally) = &self.tally {
            tally.settle().await;
        }
    }
}
