//! Property tests for the invariants the README promises: the route table agrees with a naive reference
//! matcher on API Gateway's priority rules; GCRA never admits more than `burst + rate × w` over any window;
//! quota blocks never sum above the allowance; a policy cached for one ARN never allows another unless a
//! statement matches it. Time is a [`ManualClock`] throughout: nothing sleeps and nothing reads the wall clock.
//!
//! Failure persistence is off, so a failing run writes no regression file: proptest prints the minimal input,
//! which is what a bug report (or a new unit test) needs.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::NaiveDate;
use http::{HeaderValue, Method};
use proptest::{prelude::*, sample::Index};
use serde_json::{Value, json};
use tollgate_core::{
    auth::{
        iam_policy::{Effect, IamPolicy},
        lambda::{Call, LambdaAuthError, LambdaAuthorizer},
        method_arn,
    },
    clients::{InvokeFuture, InvokeOutput, Invoker},
    clock::{Clock as _, MICROS_PER_SEC, ManualClock, Micros},
    config::{Definition, EventKind, IdentitySource, LambdaAuthorizerSpec, RouteKey, RouteSpec},
    metering::{
        Limit, Meter, Refusal,
        quota::{BLOCK_LIFETIME_US, QuotaScope, QuotaSlot, QuotaVerdict},
        throttle::cadence_of,
    },
    request::{ApiContext, Authorized, GatewayRequest, Matched},
    route_table::RouteTable,
    store::{QuotaCounter, Store, embedded::EmbeddedStore},
    usage::{FailMode, Period, Plan, Quota, Throttle},
};

/// Every clock starts here (2023-11-14T22:13:20Z, a Tuesday, under two hours before a UTC midnight).
const T0: Micros = 1_700_000_000 * MICROS_PER_SEC;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// A single-threaded runtime with a timer (Lambda invocations are wrapped in a timeout), built per case.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a current-thread runtime")
}

/// Static segment texts of routes, and most segments of request paths, so that matches are frequent.
pub(crate) const STATICS: [&str; 3] = ["a", "b", "c"];

mod policy;
mod quota;
mod routes;
mod throttle;
