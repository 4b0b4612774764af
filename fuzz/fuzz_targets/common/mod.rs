//! What the gateway targets share: one gateway per API type for a definition, built once per process, and the
//! runtime to drive them.

use tollgate_core::{Gateway, backends::Backends, config::Definition};

/// A current-thread runtime and a gateway of each API type (HTTP, then REST) for `definition`.
pub fn gateways(definition: &str) -> (tokio::runtime::Runtime, Vec<Gateway>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let gateways = ["HTTP", "REST"]
        .into_iter()
        .map(|kind| {
            let definition = Definition::from_yaml(&format!("type: {kind}\n{definition}"), None).expect("definition");
            Gateway::new(&definition, &Backends::default()).expect("gateway")
        })
        .collect();
    (rt, gateways)
}
