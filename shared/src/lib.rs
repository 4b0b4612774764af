//! Tollgate's core: the gateway definition, the route table, the request pipeline and its integrations, and
//! the Lambda event edge. The functions in `functions/` and `tollgate serve` are thin adapters over [`Gateway`].

pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod event;
pub mod gateway;
pub mod integration;
pub mod logging;
pub mod pipeline;
pub mod request;
pub mod route_table;
pub mod store;
pub mod usage;
pub mod websocket;

pub use gateway::Gateway;
