//! The meter Lambda: Tollgate's admin API (`openapi.yaml` beside this crate) over the DynamoDB table named by
//! `TOLLGATE_TABLE`. Its Function URL uses `AuthType: AWS_IAM`, so only signed requests reach it.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tollgate_core::{
    event::{self, GatewayEvent},
    store::{
        Store,
        dynamo::{DynamoOptions, DynamoStore},
    },
    usage::admin_api::AdminApi,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_core::logging::init(tollgate_core::logging::Output::Lambda);
    let table = std::env::var("TOLLGATE_TABLE").map_err(|_| "TOLLGATE_TABLE must name the DynamoDB table")?;
    let store: Arc<dyn Store> = Arc::new(DynamoStore::connect(&DynamoOptions { table, endpoint: None }).await);
    let api = Arc::new(AdminApi::new());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<GatewayEvent>| {
        let (store, api) = (Arc::clone(&store), Arc::clone(&api));
        async move {
            let origin = event.payload.origin();
            let request = event.payload.into_request();
            let response = api.handle(store.as_ref(), &request, chrono::Utc::now().timestamp_millis()).await;
            Ok::<_, Error>(event::render(origin, response))
        }
    }))
    .await
}
