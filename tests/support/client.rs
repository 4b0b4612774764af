//! A real HTTP client's view of `tollgate serve`: what an answer holds, and API keys made in a served gateway's
//! store file as `tollgate keys create` makes them.

use std::path::Path;

use tollgate_core::{
    admin::{Admin, NewKey, PlanInput},
    clock::{Clock as _, SystemClock},
    store::embedded::EmbeddedStore,
    usage::Quota,
};

/// An answer as the client received it.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// Sends `request` and reads the whole answer.
    pub async fn of(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body").to_vec();
        Self { status, headers, body }
    }

    /// The first value of `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of `name`, as one comma-separated value.
    pub fn all(&self, name: &str) -> String {
        self.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(", ")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (an error body, or the event an echo function received).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("a JSON body ({e}): {}", self.text()))
    }
}

/// A key for a new plan on `stage` with `quota`, in the store file of a served gateway: (id, value). Key
/// records carry creation times, and the server reads the system clock too.
pub async fn new_key(store_file: &Path, stage: &str, quota: Option<Quota>) -> (String, String) {
    new_key_at(store_file, stage, quota, "k", SystemClock.now_ms()).await
}

/// [`new_key`] named `name`, made at `now_ms`: for a gateway served on a manual clock.
pub async fn new_key_at(
    store_file: &Path,
    stage: &str,
    quota: Option<Quota>,
    name: &str,
    now_ms: i64,
) -> (String, String) {
    let store = EmbeddedStore::open(store_file).expect("the server's store file");
    let admin = Admin::new(&store, now_ms);
    let plan = PlanInput { name: format!("plan of {name}"), stages: vec![stage.into()], quota, ..Default::default() };
    let plan = admin.create_plan(plan).await.expect("plan");
    let new = NewKey { name: name.into(), enabled: true, plans: vec![plan.id], ..Default::default() };
    let (key, value) = admin.create_key(new).await.expect("key");
    (key.id, value)
}
