//! The `tollgate` command line: the local front door and, over time, table and key administration.

pub mod function_url;
pub mod local_lambda;
pub mod serve;
