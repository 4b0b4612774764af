//! Which store a command works on: the embedded file (the default, what `tollgate serve` uses) or a DynamoDB
//! table, on AWS or on a local server such as dynalite.

use std::{path::PathBuf, sync::Arc};

use tollgate_core::{
    settings::Settings,
    store::{
        Store,
        connections::ConnectionStore,
        dynamo::{DynamoOptions, DynamoStore},
        embedded::EmbeddedStore,
    },
};

/// Where the embedded store lives unless told otherwise (relative to the working directory).
pub const DEFAULT_STORE: &str = ".tollgate/store.json";

#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The embedded store's file (used unless --table is given).
    #[arg(long, env = "TOLLGATE_STORE", default_value = DEFAULT_STORE, global = true)]
    pub store: PathBuf,
    /// Use this DynamoDB table instead of the embedded store.
    #[arg(long, env = "TOLLGATE_TABLE", global = true)]
    pub table: Option<String>,
    /// A local DynamoDB API server, e.g. http://127.0.0.1:4567 (dynalite).
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB", global = true)]
    pub endpoint: Option<String>,
}

impl Default for StoreArgs {
    fn default() -> Self {
        Self { store: PathBuf::from(DEFAULT_STORE), table: None, endpoint: None }
    }
}

/// An opened store.
pub enum Opened {
    Embedded(Arc<EmbeddedStore>),
    Dynamo(Arc<DynamoStore>),
}

impl Opened {
    /// Where `tollgate serve` keeps WebSocket connections: the embedded store's memory, or the same table.
    pub fn connections(&self) -> Arc<dyn ConnectionStore> {
        match self {
            Self::Embedded(s) => Arc::clone(s) as Arc<dyn ConnectionStore>,
            Self::Dynamo(s) => Arc::clone(s) as Arc<dyn ConnectionStore>,
        }
    }

    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Embedded(s) => Arc::clone(s) as Arc<dyn Store>,
            Self::Dynamo(s) => Arc::clone(s) as Arc<dyn Store>,
        }
    }
}

impl StoreArgs {
    pub async fn open(&self, settings: &Settings) -> anyhow::Result<Opened> {
        Ok(match &self.table {
            Some(table) => {
                let options = DynamoOptions { table: table.clone(), endpoint: self.endpoint.clone() };
                Opened::Dynamo(Arc::new(DynamoStore::connect(&options, settings).await))
            }
            None => Opened::Embedded(Arc::new(EmbeddedStore::open(&self.store)?)),
        })
    }
}
