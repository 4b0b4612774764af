//! The meter Lambda: Tollgate's admin API (`openapi.yaml` beside this crate) over the DynamoDB table named by
//! `TOLLGATE_TABLE`. Its Function URL uses `AuthType: AWS_IAM`, so only signed requests reach it. (Its name is
//! the deployed one; inside the core it is `admin::api`, and "metering" is the per-request engine.)

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use tollgate_core::{admin::api::AdminFunction, function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let admin = Arc::new(function::start(async |settings| AdminFunction::from_settings(&settings).await).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let admin = Arc::clone(&admin);
        async move { admin.handle_json(event.payload.get()).await }
    }))
    .await
}
