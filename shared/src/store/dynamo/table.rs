//! Creating the table: its key schema, the listing index and TTL (what `tollgate tables create` and the tests
//! do; `template.yaml` declares the same on AWS).

use std::time::Duration;

use aws_sdk_dynamodb::{
    error::ProvideErrorMetadata,
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    },
};

use super::{DynamoStore, INDEX, build_error, sdk_error};
use crate::store::StoreError;

impl DynamoStore {
    /// Creates the table and its index, waits until it is active, and turns on TTL. Returns a warning when
    /// the server cannot set TTL (dynalite cannot); `template.yaml` sets it on AWS.
    pub async fn create_table(&self) -> Result<Option<String>, StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
        let index = GlobalSecondaryIndex::builder()
            .index_name(INDEX)
            .key_schema(key("gsi1pk", KeyType::Hash).map_err(build_error)?)
            .key_schema(key("gsi1sk", KeyType::Range).map_err(build_error)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(build_error)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk").map_err(build_error)?)
            .attribute_definitions(attr("sk").map_err(build_error)?)
            .attribute_definitions(attr("gsi1pk").map_err(build_error)?)
            .attribute_definitions(attr("gsi1sk").map_err(build_error)?)
            .key_schema(key("pk", KeyType::Hash).map_err(build_error)?)
            .key_schema(key("sk", KeyType::Range).map_err(build_error)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(sdk_error(&e)),
        }
        // The SDK's waiter polls every 20 s; a local table is active within milliseconds.
        for _ in 0..600 {
            let described =
                self.client.describe_table().table_name(&self.table).send().await.map_err(|e| sdk_error(&e))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ttl =
            TimeToLiveSpecification::builder().attribute_name("ttl").enabled(true).build().map_err(build_error)?;
        match self.client.update_time_to_live().table_name(&self.table).time_to_live_specification(ttl).send().await {
            Ok(_) => Ok(None),
            Err(e) if matches!(e.code(), Some("UnknownOperationException" | "ValidationException")) => {
                Ok(Some(format!(
                    "the server did not turn on TTL ({}); expired items stay until deleted",
                    e.code().unwrap_or("")
                )))
            }
            Err(e) => Err(sdk_error(&e)),
        }
    }
}
