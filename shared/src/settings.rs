//! The process's settings: every environment variable Tollgate reads, read once at cold start into one typed
//! value. Nothing else in the core reads the environment (the AWS SDK reads its own `AWS_*` variables).
//! Which variables each function needs is in `docs/operations.md`.

use std::{collections::HashMap, path::PathBuf};

/// Where the definition is when nothing says otherwise: bundled beside the function's binary.
pub const DEFAULT_CONFIG: &str = "gateway.yaml";
/// The region execute-api ARNs name when the environment names none.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The account execute-api ARNs name when `TOLLGATE_ACCOUNT_ID` is unset: Lambda does not tell a function its
/// account.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// `TOLLGATE_CONFIG`: the definition file (default `gateway.yaml`).
    pub config: Option<PathBuf>,
    /// `TOLLGATE_STAGE`: the stage to serve, when the definition has several.
    pub stage: Option<String>,
    /// `TOLLGATE_TABLE`: the DynamoDB table of keys, plans and metering state.
    pub table: Option<String>,
    /// `TOLLGATE_CONNECTIONS_TABLE`: the DynamoDB table of WebSocket connections.
    pub connections_table: Option<String>,
    /// `TOLLGATE_WS_ENDPOINT`: the `@connections` endpoint, instead of the one each event names (custom domains).
    pub ws_endpoint: Option<String>,
    /// `TOLLGATE_ACCOUNT_ID`: the account in execute-api ARNs.
    pub account_id: Option<String>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID` is set: the SDK has credentials in the environment.
    pub has_access_key: bool,
    /// `AWS_ENDPOINT_URL_LAMBDA`: Lambda is a local Invoke API (`cargo lambda watch`, tests).
    pub lambda_endpoint: Option<String>,
    /// `AWS_LAMBDA_RUNTIME_API`: set by Lambda (and local Runtime APIs) for a function process.
    pub runtime_api: Option<String>,
    /// `AWS_XRAY_DAEMON_ADDRESS`: where Lambda's X-Ray daemon listens (`host:port`, UDP), for traced stages.
    pub xray_daemon: Option<String>,
    /// `TOLLGATE_LOG`: a level and `target=level` directives.
    pub log: Option<String>,
    /// `TOLLGATE_ACCESS_LOG_SAMPLE_RATE`: the access log's sample rate (0-1) for a definition that sets none;
    /// `template.yaml` deploys 0.1, so that the default bill stays within its goal (README, cost table).
    pub access_log_sample_rate: Option<f64>,
    /// `TOLLGATE_JWT_*`: the standalone JWT authorizer function's settings.
    pub jwt: JwtSettings,
    /// Values that were set but could not be read (see [`Settings::check`]).
    pub invalid: Vec<SettingsError>,
}

/// The standalone JWT authorizer's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtSettings {
    /// `TOLLGATE_JWT_ISSUER`.
    pub issuer: Option<String>,
    /// `TOLLGATE_JWT_AUDIENCES`, comma-separated.
    pub audiences: Vec<String>,
    /// `TOLLGATE_JWT_JWKS_URI`.
    pub jwks_uri: Option<String>,
    /// `TOLLGATE_JWT_LEEWAY_SECONDS` (0 when unset).
    pub leeway_seconds: u64,
    /// `TOLLGATE_JWT_SCOPES`, comma-separated: any one of them is required.
    pub scopes: Vec<String>,
}

/// A setting a function cannot start without, or one it cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{name} must be set: {why}")]
    Missing { name: &'static str, why: &'static str },
    #[error("{name}={value:?}: {why}")]
    Invalid { name: &'static str, value: String, why: &'static str },
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))))
    }

    /// Reads the given variables (tests, and the environment a local function is given). Empty values count as
    /// unset; values that cannot be read are kept in `invalid`.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: HashMap<String, String> = vars.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        let get = |name: &str| vars.get(name).cloned();
        let list = |name: &str| -> Vec<String> {
            get(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut invalid = Vec::new();
        let leeway_seconds = match get("TOLLGATE_JWT_LEEWAY_SECONDS") {
            None => 0,
            Some(value) => value.parse().unwrap_or_else(|_| {
                invalid.push(SettingsError::Invalid {
                    name: "TOLLGATE_JWT_LEEWAY_SECONDS",
                    value,
                    why: "a whole number of seconds",
                });
                0
            }),
        };
        let access_log_sample_rate = get("TOLLGATE_ACCESS_LOG_SAMPLE_RATE").and_then(|value| {
            let rate = value.trim().parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r));
            if rate.is_none() {
                invalid.push(SettingsError::Invalid {
                    name: "TOLLGATE_ACCESS_LOG_SAMPLE_RATE",
                    value,
                    why: "a number from 0 to 1",
                });
            }
            rate
        });
        Self {
            config: get("TOLLGATE_CONFIG").map(PathBuf::from),
            stage: get("TOLLGATE_STAGE"),
            table: get("TOLLGATE_TABLE"),
            connections_table: get("TOLLGATE_CONNECTIONS_TABLE"),
            ws_endpoint: get("TOLLGATE_WS_ENDPOINT"),
            account_id: get("TOLLGATE_ACCOUNT_ID"),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            has_access_key: vars.contains_key("AWS_ACCESS_KEY_ID"),
            lambda_endpoint: get("AWS_ENDPOINT_URL_LAMBDA"),
            runtime_api: get("AWS_LAMBDA_RUNTIME_API"),
            xray_daemon: get("AWS_XRAY_DAEMON_ADDRESS"),
            log: get("TOLLGATE_LOG"),
            access_log_sample_rate,
            jwt: JwtSettings {
                issuer: get("TOLLGATE_JWT_ISSUER"),
                audiences: list("TOLLGATE_JWT_AUDIENCES"),
                jwks_uri: get("TOLLGATE_JWT_JWKS_URI"),
                leeway_seconds,
                scopes: list("TOLLGATE_JWT_SCOPES"),
            },
            invalid,
        }
    }

    /// The first value that was set but could not be read.
    pub fn check(&self) -> Result<(), SettingsError> {
        self.invalid.first().map_or(Ok(()), |e| Err(e.clone()))
    }

    /// The definition file to load.
    pub fn config_path(&self) -> PathBuf {
        self.config.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }

    /// The keys-and-plans table, for functions that cannot start without it.
    pub fn require_table(&self) -> Result<&str, SettingsError> {
        self.table.as_deref().ok_or(SettingsError::Missing {
            name: "TOLLGATE_TABLE",
            why: "the DynamoDB table of API keys, usage plans and metering state",
        })
    }

    pub fn require_connections_table(&self) -> Result<&str, SettingsError> {
        self.connections_table
            .as_deref()
            .ok_or(SettingsError::Missing { name: "TOLLGATE_CONNECTIONS_TABLE", why: "the connections table" })
    }

    /// The account and region execute-api ARNs name.
    pub fn account(&self) -> AwsAccount {
        AwsAccount {
            region: self.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            id: self.account_id.clone().unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned()),
        }
    }
}

/// Where the gateway runs, as execute-api ARNs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAccount {
    pub region: String,
    pub id: String,
}

impl AwsAccount {
    /// `arn:aws:execute-api:{region}:{account}:`, what every execute-api ARN starts with.
    pub fn execute_api_arn_prefix(&self) -> String {
        format!("arn:aws:execute-api:{}:{}:", self.region, self.id)
    }
}

impl Default for AwsAccount {
    fn default() -> Self {
        Self { region: DEFAULT_REGION.to_owned(), id: DEFAULT_ACCOUNT_ID.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn reads_each_variable_once_into_types() {
        let s = Settings::from_vars(vars(&[
            ("TOLLGATE_STAGE", "prod"),
            ("TOLLGATE_TABLE", ""),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("TOLLGATE_JWT_AUDIENCES", "a, b,,"),
            ("TOLLGATE_JWT_LEEWAY_SECONDS", "30"),
            ("TOLLGATE_ACCESS_LOG_SAMPLE_RATE", "0.1"),
        ]));
        s.check().expect("all readable");
        assert_eq!(s.stage.as_deref(), Some("prod"));
        assert_eq!(s.table, None, "empty is unset");
        assert_eq!(s.jwt.audiences, ["a", "b"]);
        assert_eq!(s.jwt.leeway_seconds, 30);
        assert_eq!(s.access_log_sample_rate, Some(0.1));
        assert_eq!(s.account(), AwsAccount { region: "eu-west-1".into(), id: DEFAULT_ACCOUNT_ID.into() });
        assert_eq!(s.config_path(), PathBuf::from("gateway.yaml"));
        assert!(s.require_table().expect_err("missing").to_string().contains("TOLLGATE_TABLE"));
        let bad = Settings::from_vars(vars(&[("TOLLGATE_JWT_LEEWAY_SECONDS", "soon")])).check().expect_err("invalid");
        assert!(bad.to_string().contains("TOLLGATE_JWT_LEEWAY_SECONDS"));
        for rate in ["1.5", "-0.1", "NaN", "tenth"] {
            let bad = Settings::from_vars(vars(&[("TOLLGATE_ACCESS_LOG_SAMPLE_RATE", rate)]));
            let error = bad.check().expect_err(rate).to_string();
            assert!(error.contains("TOLLGATE_ACCESS_LOG_SAMPLE_RATE") && error.contains("0 to 1"), "{error}");
            assert_eq!(bad.access_log_sample_rate, None);
        }
    }
}
