//! The `tollgate` command line: the local front door, and administration of keys, plans, usage and tables.

pub mod admin;
pub mod dashboard;
pub mod function_url;
pub mod http1;
pub mod local_lambda;
pub mod openapi;
pub mod serve;
pub mod store;
pub mod websocket;
