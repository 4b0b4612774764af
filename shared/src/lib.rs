//! Tollgate's core: everything the Lambda functions in `functions/` and `tollgate serve` run. Each function is a
//! thin adapter over one entry point here: the router over [`Gateway`], the three WebSocket functions over
//! [`websocket::WebSocketApi`], the admin (`meter`) function over [`admin::api::AdminApi`], the authorizer
//! functions over [`auth::standalone`].
//!
//! Modules are layered: a module imports only modules below it (`tests/layers.rs` checks this; the layers are
//! listed in `docs/architecture.md`).

pub mod admin;
pub mod auth;
pub mod backends;
pub mod cache;
pub mod clients;
pub mod clock;
pub mod coding;
pub mod config;
pub mod error;
pub mod event;
pub mod function;
pub mod gateway;
pub mod integration;
pub mod logging;
pub mod metering;
pub mod metrics;
pub mod openapi;
pub mod pipeline;
pub mod request;
pub mod route_key;
pub mod route_table;
pub mod settings;
pub mod store;
pub mod trace;
pub mod usage;
pub mod validate;
pub mod velocity;
pub mod websocket;

pub use gateway::Gateway;
