//! The admin JSON API the meter function serves (described by `functions/meter/openapi.yaml`): keys, plans,
//! key-plan association and usage, over [`Admin`]. Errors are API Gateway-shaped: `{"message": "..."}`.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::{Deserialize, de::DeserializeOwned};

use std::sync::Arc;

use super::{Admin, AdminError, KeyPatch, NewKey, PlanInput};
use crate::{
    clock::{SharedClock, SystemClock},
    event::{self, GatewayEvent, GatewayEventResponse},
    function::FunctionError,
    request::{GatewayRequest, GatewayResponse},
    settings::Settings,
    store::{
        Page, Store, StoreError,
        dynamo::{DynamoOptions, DynamoStore},
    },
};

/// The `meter` function (its deployed name): the admin API over the DynamoDB table `TOLLGATE_TABLE`.
pub struct AdminFunction {
    api: AdminApi,
    store: Arc<dyn Store>,
    clock: SharedClock,
}

impl AdminFunction {
    pub fn new(store: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self { api: AdminApi::new(), store, clock }
    }

    pub async fn from_settings(settings: &Settings) -> Result<Self, FunctionError> {
        let options = DynamoOptions { table: settings.require_table()?.to_owned(), endpoint: None };
        let store = Arc::new(DynamoStore::connect(&options, settings).await);
        Ok(Self::new(store, Arc::new(SystemClock)))
    }

    /// Answers one event as Lambda delivers it (JSON text); text that is no event is `InvalidEvent`.
    pub async fn handle_json(&self, event: &str) -> Result<GatewayEventResponse, FunctionError> {
        let event = GatewayEvent::from_json(event).map_err(|e| FunctionError::new("InvalidEvent", e.to_string()))?;
        Ok(self.handle(event).await)
    }

    /// Answers one Function URL (or API Gateway) event in its own format.
    pub async fn handle(&self, event: GatewayEvent) -> GatewayEventResponse {
        let origin = event.origin();
        let request = event.into_request(self.clock.as_ref());
        let response = self.api.handle(self.store.as_ref(), &request, self.clock.now_ms()).await;
        event::render(origin, response)
    }
}

/// The operations, matched by method and path.
#[derive(Debug, Clone, Copy)]
enum Op {
    CreateKey,
    ListKeys,
    GetKey,
    UpdateKey,
    RollKey,
    DisableKey,
    DeleteKey,
    CreatePlan,
    ListPlans,
    GetPlan,
    UpdatePlan,
    DeletePlan,
    AddKey,
    RemoveKey,
    Usage,
    Grant,
    FlushCache,
}

pub struct AdminApi {
    routes: matchit::Router<Vec<(Method, Op)>>,
}

impl Default for AdminApi {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RollBody {
    #[serde(default = "default_grace")]
    grace_seconds: u64,
    #[serde(default)]
    value: Option<String>,
}

fn default_grace() -> u64 {
    3_600
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    extra: u64,
}

impl AdminApi {
    pub fn new() -> Self {
        let table: [(&str, Vec<(Method, Op)>); 10] = [
            ("/keys", vec![(Method::POST, Op::CreateKey), (Method::GET, Op::ListKeys)]),
            (
                "/keys/{id}",
                vec![(Method::GET, Op::GetKey), (Method::PATCH, Op::UpdateKey), (Method::DELETE, Op::DeleteKey)],
            ),
            ("/keys/{id}/roll", vec![(Method::POST, Op::RollKey)]),
            ("/keys/{id}/disable", vec![(Method::POST, Op::DisableKey)]),
            ("/plans", vec![(Method::POST, Op::CreatePlan), (Method::GET, Op::ListPlans)]),
            (
                "/plans/{id}",
                vec![(Method::GET, Op::GetPlan), (Method::PUT, Op::UpdatePlan), (Method::DELETE, Op::DeletePlan)],
            ),
            ("/plans/{id}/keys/{key}", vec![(Method::PUT, Op::AddKey), (Method::DELETE, Op::RemoveKey)]),
            ("/plans/{id}/usage", vec![(Method::GET, Op::Usage)]),
            ("/plans/{id}/keys/{key}/grant", vec![(Method::POST, Op::Grant)]),
            // A stage's response cache, or only its entries with `?tag=`: every instance misses within a second.
            ("/stages/{id}/cache/flush", vec![(Method::POST, Op::FlushCache)]),
        ];
        let mut routes = matchit::Router::new();
        for (path, ops) in table {
            // The table above is fixed and its paths distinct; a failure here is a programming error.
            routes.insert(path, ops).expect("admin routes are distinct");
        }
        Self { routes }
    }

    /// Answers one admin request at `now_ms`.
    pub async fn handle(&self, store: &dyn Store, request: &GatewayRequest, now_ms: i64) -> GatewayResponse {
        // The operator's page, read-only; the Function URL's IAM auth guards it as it guards every route here.
        if request.raw_path == "/dashboard" && request.method == Method::GET {
            let admin = Admin::new(store, now_ms);
            return match admin.dashboard(crate::usage::period::day_of(now_ms)).await {
                Ok(dashboard) => html(&super::pages::dashboard_page(&dashboard)),
                Err(e) => failure(&e),
            };
        }
        match self.dispatch(store, request, now_ms).await {
            Ok((status, body)) => json(status, &body),
            Err(e) => failure(&e),
        }
    }

    async fn dispatch(
        &self,
        store: &dyn Store,
        request: &GatewayRequest,
        now_ms: i64,
    ) -> Result<(StatusCode, serde_json::Value), AdminError> {
        let found = self.routes.at(&request.raw_path).map_err(|_| AdminError::NotFound("Not Found".into()))?;
        let op = found.value.iter().find(|(m, _)| *m == request.method).map(|(_, op)| *op).ok_or_else(|| {
            AdminError::BadRequest(format!("{} is not allowed on {}", request.method, request.raw_path))
        })?;
        let id = found.params.get("id").unwrap_or_default();
        let key = found.params.get("key").unwrap_or_default();
        let query: Vec<(String, String)> = form_urlencoded::parse(request.raw_query.as_bytes()).into_owned().collect();
        let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let limit = param("limit")
            .map(str::parse::<u32>)
            .transpose()
            .map_err(|_| AdminError::BadRequest("limit must be a number".into()))?
            .unwrap_or(25);
        let admin = Admin::new(store, now_ms);
        let ok = |v: serde_json::Value| Ok((StatusCode::OK, v));
        match op {
            Op::CreateKey => {
                let (key, value) = admin.create_key(body::<NewKey>(request)?).await?;
                Ok((StatusCode::CREATED, serde_json::json!({ "key": key, "value": value })))
            }
            Op::ListKeys => ok(page(&admin.list_keys(limit, param("position")).await?)),
            Op::GetKey => ok(to_json(&admin.key(id).await?)),
            Op::UpdateKey => ok(to_json(&admin.update_key(id, body::<KeyPatch>(request)?).await?)),
            Op::RollKey => {
                let roll = if request.body.is_empty() {
                    RollBody { grace_seconds: default_grace(), value: None }
                } else {
                    body::<RollBody>(request)?
                };
                let (key, value) = admin.roll_key(id, roll.grace_seconds, roll.value).await?;
                ok(serde_json::json!({ "key": key, "value": value }))
            }
            Op::DisableKey => {
                ok(to_json(&admin.update_key(id, KeyPatch { enabled: Some(false), ..KeyPatch::default() }).await?))
            }
            Op::DeleteKey => {
                admin.delete_key(id).await?;
                Ok((StatusCode::ACCEPTED, serde_json::json!({})))
            }
            Op::CreatePlan => {
                Ok((StatusCode::CREATED, to_json(&admin.create_plan(body::<PlanInput>(request)?).await?)))
            }
            Op::ListPlans => ok(page(&admin.list_plans(limit, param("position")).await?)),
            Op::GetPlan => ok(to_json(&admin.plan(id).await?)),
            Op::UpdatePlan => ok(to_json(&admin.update_plan(id, body::<PlanInput>(request)?).await?)),
            Op::DeletePlan => {
                admin.delete_plan(id).await?;
                Ok((StatusCode::ACCEPTED, serde_json::json!({})))
            }
            Op::AddKey => ok(to_json(&admin.add_key_to_plan(key, id).await?)),
            Op::RemoveKey => ok(to_json(&admin.remove_key_from_plan(key, id).await?)),
            Op::Usage => {
                let date = |name: &str| {
                    param(name)
                        .ok_or_else(|| AdminError::BadRequest(format!("{name} is required (YYYY-MM-DD)")))?
                        .parse::<chrono::NaiveDate>()
                        .map_err(|_| AdminError::BadRequest(format!("{name} must be YYYY-MM-DD")))
                };
                ok(to_json(&admin.usage(id, date("startDate")?, date("endDate")?, param("keyId")).await?))
            }
            Op::Grant => {
                let remaining = admin.grant(id, key, body::<GrantBody>(request)?.extra).await?;
                ok(serde_json::json!({ "remaining": remaining }))
            }
            Op::FlushCache => {
                let tag = param("tag").filter(|t| !t.is_empty());
                let generations = store.flush(id, tag).await?;
                ok(serde_json::json!({ "stage": id, "tag": tag, "generation": generations.stage }))
            }
        }
    }
}

fn body<T: DeserializeOwned>(request: &GatewayRequest) -> Result<T, AdminError> {
    serde_json::from_slice(&request.body).map_err(|e| AdminError::BadRequest(format!("invalid request body: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn page<T: serde::Serialize>(page: &Page<T>) -> serde_json::Value {
    serde_json::json!({ "items": to_json(&page.items), "position": page.next })
}

fn json(status: StatusCode, body: &serde_json::Value) -> GatewayResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    GatewayResponse::new(status, headers, Bytes::from(body.to_string()))
}

/// An admin error as `{"message": ...}` with its status; internal details stay in the log.
fn failure(e: &AdminError) -> GatewayResponse {
    let status = match e {
        AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::Conflict(_) => StatusCode::CONFLICT,
        AdminError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
        AdminError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::error!(error = %e, "admin request failed");
    }
    let message =
        if status == StatusCode::INTERNAL_SERVER_ERROR { "Internal server error".to_owned() } else { e.to_string() };
    json(status, &serde_json::json!({ "message": message }))
}

fn html(page: &str) -> GatewayResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    GatewayResponse::new(StatusCode::OK, headers, Bytes::from(page.to_owned()))
}
