//! What the gateway reaches outside itself: the clients its integrations and authorizers call, the store of
//! keys, plans and metering state, the clock it reads, and the AWS account its ARNs name. Built once per process
//! (cold start); a definition gets only the clients it uses. Tests and `tollgate serve` fill it themselves.

use std::sync::Arc;

use crate::{
    clients::{HttpClient, Invoker, SdkInvoker},
    clock::{SharedClock, SystemClock},
    config::Definition,
    logging::{LineSink, Stdout},
    settings::{AwsAccount, Settings, SettingsError},
    store::{
        Store,
        dynamo::{DynamoOptions, DynamoStore},
    },
};

#[derive(Clone, Default)]
pub struct Backends {
    pub lambda: Option<Arc<dyn Invoker>>,
    pub http: Option<HttpClient>,
    /// Keys, plans and metering state, for definitions that require API keys or throttle.
    pub store: Option<Arc<dyn Store>>,
    /// The clock everything reads; the system clock when `None` (tests inject one).
    pub clock: Option<SharedClock>,
    /// The account and region in execute-api ARNs.
    pub account: AwsAccount,
    /// The X-Ray daemon's address (`AWS_XRAY_DAEMON_ADDRESS`), where a traced stage sends its documents.
    pub xray_daemon: Option<String>,
    /// Where EMF and formatted access-log lines go; stdout (Lambda's) when `None`.
    pub lines: Option<Arc<dyn LineSink>>,
}

/// Why the clients could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BackendsError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot set up the HTTP client: {0}")]
    Http(#[from] std::io::Error),
}

impl Backends {
    /// Builds the clients `definition` needs from `settings`: the AWS SDK's Lambda client, the HTTP client, and
    /// the DynamoDB store named by `TOLLGATE_TABLE` (with `AWS_ENDPOINT_URL_DYNAMODB` honoured, for a local
    /// server).
    pub async fn for_definition(definition: &Definition, settings: &Settings) -> Result<Self, BackendsError> {
        let lambda = if definition.lambda_functions().next().is_some() {
            Some(Arc::new(SdkInvoker::new(settings).await) as Arc<dyn Invoker>)
        } else {
            None
        };
        let http = if definition.uses_http() { Some(HttpClient::new()?) } else { None };
        let store = if definition.uses_store() {
            let options = DynamoOptions { table: settings.require_table()?.to_owned(), endpoint: None };
            Some(Arc::new(DynamoStore::connect(&options, settings).await) as Arc<dyn Store>)
        } else {
            None
        };
        Ok(Self {
            lambda,
            http,
            store,
            clock: None,
            account: settings.account(),
            xray_daemon: settings.xray_daemon.clone(),
            lines: None,
        })
    }

    /// Where whole log lines go: the injected sink, else stdout.
    pub fn lines(&self) -> Arc<dyn LineSink> {
        self.lines.clone().unwrap_or_else(|| Arc::new(Stdout))
    }

    /// The clock to read: the injected one, else the system's.
    pub fn clock(&self) -> SharedClock {
        self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock))
    }
}
