//! `tollgate keys|plans|usage|tables`: the meter function's operations, on either store, from a terminal.
//! Tables for people; `--json` for scripts.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tollgate_core::{
    admin::{Admin, AdminError, KeyPatch, NewKey, PlanInput},
    clock::{Clock as _, SystemClock},
    settings::Settings,
    store::Page,
    usage::{ApiKey, FailMode, Period, Plan, Quota, Throttle},
};

use crate::store::{Opened, StoreArgs};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its value is printed this once and never stored.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Add the key to this plan (repeatable).
        #[arg(long = "plan")]
        plans: Vec<String>,
        /// Import this value (20-128 letters, digits, '-', '_') instead of generating one.
        #[arg(long)]
        value: Option<String>,
        /// Refuse the key after this instant (RFC 3339).
        #[arg(long)]
        expires: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long)]
        disabled: bool,
    },
    List,
    Get {
        id: String,
    },
    /// Change a key's name, description, or enabled flag.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
    /// Give the key a new value; the old one works for --grace-seconds more. Usage and quota carry over.
    Roll {
        id: String,
        #[arg(long, default_value_t = 3_600)]
        grace_seconds: u64,
    },
    Disable {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Create a plan from flags, or from a JSON document (the meter API's shape) with --file.
    Create {
        #[command(flatten)]
        plan: PlanArgs,
    },
    List,
    Get {
        id: String,
    },
    /// Replace a plan's settings.
    Update {
        id: String,
        #[command(flatten)]
        plan: PlanArgs,
    },
    Delete {
        id: String,
    },
    AddKey {
        plan: String,
        key: String,
    },
    RemoveKey {
        plan: String,
        key: String,
    },
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[arg(long, conflicts_with_all = ["name", "stages", "rate", "quota_limit"])]
    file: Option<PathBuf>,
    #[arg(long)]
    id: Option<String>,
    #[arg(long, required_unless_present = "file")]
    name: Option<String>,
    /// Stage the plan applies to (repeatable).
    #[arg(long = "stage")]
    stages: Vec<String>,
    /// Requests per second.
    #[arg(long, requires = "burst")]
    rate: Option<f64>,
    #[arg(long, requires = "rate")]
    burst: Option<u32>,
    #[arg(long, requires = "quota_period")]
    quota_limit: Option<u64>,
    #[arg(long, value_parser = ["DAY", "WEEK", "MONTH"])]
    quota_period: Option<String>,
    #[arg(long, default_value_t = 0)]
    quota_offset: u64,
    /// WebSocket APIs: connections one key may hold open at once.
    #[arg(long)]
    max_connections: Option<u32>,
    /// Refuse requests (500) when the store fails, instead of serving them and counting later.
    #[arg(long)]
    fail_closed: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Used and remaining per key per day, as API Gateway's GetUsage.
    Show {
        plan: String,
        #[arg(long)]
        start: chrono::NaiveDate,
        #[arg(long)]
        end: chrono::NaiveDate,
        #[arg(long)]
        key: Option<String>,
    },
    /// Grant a key extra requests in this quota period.
    Grant { plan: String, key: String, extra: u64 },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Flush a stage's response cache, or only its entries tagged TAG; every instance misses within a second.
    Flush {
        #[arg(long)]
        stage: String,
        #[arg(long)]
        tag: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TablesCommand {
    /// Create the DynamoDB table (and turn on TTL where the server supports it).
    Create,
}

/// Where and how to print.
#[derive(Debug, Clone, Args)]
pub struct Output {
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

fn now_ms() -> i64 {
    SystemClock.now_ms()
}

pub async fn keys(command: KeysCommand, store: &StoreArgs, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let opened = store.open(settings).await?;
    let shared = opened.shared();
    let admin = Admin::new(shared.as_ref(), now_ms());
    match command {
        KeysCommand::Create { name, description, plans, value, expires, disabled } => {
            let new = NewKey {
                name,
                description,
                enabled: !disabled,
                expires_at_ms: expires.map(|e| e.timestamp_millis()),
                plans,
                value,
                ..NewKey::default()
            };
            let (key, value) = admin.create_key(new).await?;
            if out.json {
                println!("{}", serde_json::json!({ "key": key, "value": value }));
            } else {
                print_keys(&[key]);
                println!("\nvalue (shown once, store it now): {value}");
            }
        }
        KeysCommand::List => {
            let keys = all(|after| {
                let admin = &admin;
                async move { admin.list_keys(100, after.as_deref()).await }
            })
            .await?;
            if out.json { println!("{}", serde_json::to_string(&keys)?) } else { print_keys(&keys) }
        }
        KeysCommand::Get { id } => show_key(&admin.key(&id).await?, out)?,
        KeysCommand::Update { id, name, description, enable, disable } => {
            let enabled = if enable {
                Some(true)
            } else if disable {
                Some(false)
            } else {
                None
            };
            let patch = KeyPatch { name, description, enabled, ..KeyPatch::default() };
            show_key(&admin.update_key(&id, patch).await?, out)?;
        }
        KeysCommand::Roll { id, grace_seconds } => {
            let (key, value) = admin.roll_key(&id, grace_seconds, None).await?;
            if out.json {
                println!("{}", serde_json::json!({ "key": key, "value": value }));
            } else {
                println!("new value (shown once): {value}\nold values work for {grace_seconds} s more");
            }
        }
        KeysCommand::Disable { id } => {
            show_key(&admin.update_key(&id, KeyPatch { enabled: Some(false), ..KeyPatch::default() }).await?, out)?;
        }
        KeysCommand::Delete { id } => {
            admin.delete_key(&id).await?;
            println!("deleted key {id}");
        }
    }
    Ok(())
}

pub async fn plans(command: PlansCommand, store: &StoreArgs, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let opened = store.open(settings).await?;
    let shared = opened.shared();
    let admin = Admin::new(shared.as_ref(), now_ms());
    match command {
        PlansCommand::Create { plan } => show_plan(&admin.create_plan(plan.input()?).await?, out)?,
        PlansCommand::Update { id, plan } => show_plan(&admin.update_plan(&id, plan.input()?).await?, out)?,
        PlansCommand::List => {
            let plans = all(|after| {
                let admin = &admin;
                async move { admin.list_plans(100, after.as_deref()).await }
            })
            .await?;
            if out.json { println!("{}", serde_json::to_string(&plans)?) } else { print_plans(&plans) }
        }
        PlansCommand::Get { id } => show_plan(&admin.plan(&id).await?, out)?,
        PlansCommand::Delete { id } => {
            admin.delete_plan(&id).await?;
            println!("deleted plan {id}");
        }
        PlansCommand::AddKey { plan, key } => show_key(&admin.add_key_to_plan(&key, &plan).await?, out)?,
        PlansCommand::RemoveKey { plan, key } => show_key(&admin.remove_key_from_plan(&key, &plan).await?, out)?,
    }
    Ok(())
}

pub async fn usage(command: UsageCommand, store: &StoreArgs, settings: &Settings, out: &Output) -> anyhow::Result<()> {
    let opened = store.open(settings).await?;
    let shared = opened.shared();
    let admin = Admin::new(shared.as_ref(), now_ms());
    match command {
        UsageCommand::Show { plan, start, end, key } => {
            let report = admin.usage(&plan, start, end, key.as_deref()).await?;
            if out.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{:<12} {:<12} {:>10} {:>10}", "KEY", "DAY", "USED", "REMAINING");
                for (key, days) in &report.values {
                    for (i, (used, remaining)) in days.iter().enumerate() {
                        let day = start + chrono::Days::new(u64::try_from(i).unwrap_or(0));
                        let remaining = remaining.map_or_else(|| "-".to_owned(), |r| r.to_string());
                        println!("{key:<12} {day:<12} {used:>10} {remaining:>10}");
                    }
                }
            }
        }
        UsageCommand::Grant { plan, key, extra } => {
            let remaining = admin.grant(&plan, &key, extra).await?;
            if out.json {
                println!("{}", serde_json::json!({ "remaining": remaining }));
            } else {
                println!("key {key} now has {remaining} requests left this period");
            }
        }
    }
    Ok(())
}

pub async fn cache(command: CacheCommand, store: &StoreArgs, settings: &Settings) -> anyhow::Result<()> {
    let CacheCommand::Flush { stage, tag } = command;
    let opened = store.open(settings).await?;
    let generations = opened.shared().flush(&stage, tag.as_deref()).await.context("cannot flush the cache")?;
    match tag {
        Some(tag) => {
            println!("flushed stage {stage}'s entries tagged {tag} (tag generation {})", generations.tag(&tag))
        }
        None => println!("flushed stage {stage}'s cache (generation {})", generations.stage),
    }
    Ok(())
}

pub async fn tables(command: TablesCommand, store: &StoreArgs, settings: &Settings) -> anyhow::Result<()> {
    let TablesCommand::Create = command;
    let Opened::Dynamo(dynamo) = store.open(settings).await? else {
        anyhow::bail!("tables create needs --table (and --endpoint for a local DynamoDB server)");
    };
    let warning = dynamo.create_table().await.context("cannot create the table")?;
    println!("table {} is ready", dynamo.table());
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    Ok(())
}

impl PlanArgs {
    fn input(self) -> anyhow::Result<PlanInput> {
        if let Some(file) = self.file {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            return serde_json::from_str(&text).with_context(|| format!("{} is not a plan document", file.display()));
        }
        let period = match self.quota_period.as_deref() {
            Some("DAY") => Some(Period::Day),
            Some("WEEK") => Some(Period::Week),
            Some("MONTH") => Some(Period::Month),
            _ => None,
        };
        Ok(PlanInput {
            id: self.id,
            name: self.name.unwrap_or_default(),
            stages: self.stages,
            throttle: self.rate.zip(self.burst).map(|(rate_limit, burst_limit)| Throttle { rate_limit, burst_limit }),
            quota: self.quota_limit.zip(period).map(|(limit, period)| Quota {
                limit,
                period,
                offset: self.quota_offset,
            }),
            max_connections: self.max_connections,
            on_store_error: if self.fail_closed { FailMode::Closed } else { FailMode::Open },
            ..PlanInput::default()
        })
    }
}

async fn all<T, F, Fut>(mut page: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, AdminError>>,
{
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let p = page(after).await?;
        items.extend(p.items);
        match p.next {
            Some(next) => after = Some(next),
            None => return Ok(items),
        }
    }
}

fn show_key(key: &ApiKey, out: &Output) -> anyhow::Result<()> {
    if out.json {
        println!("{}", serde_json::to_string(key)?)
    } else {
        print_keys(std::slice::from_ref(key))
    }
    Ok(())
}

fn show_plan(plan: &Plan, out: &Output) -> anyhow::Result<()> {
    if out.json {
        println!("{}", serde_json::to_string(plan)?)
    } else {
        print_plans(std::slice::from_ref(plan))
    }
    Ok(())
}

fn print_keys(keys: &[ApiKey]) {
    println!("{:<12} {:<24} {:<8} {:<24} PLANS", "ID", "NAME", "ENABLED", "CREATED");
    for k in keys {
        let created =
            chrono::DateTime::from_timestamp_millis(k.created_at_ms).unwrap_or_default().format("%Y-%m-%d %H:%M");
        println!("{:<12} {:<24} {:<8} {:<24} {}", k.id, k.name, k.enabled, created, k.plans.join(","));
    }
}

fn print_plans(plans: &[Plan]) {
    println!("{:<12} {:<20} {:<16} {:<18} {:<20} ON STORE ERROR", "ID", "NAME", "STAGES", "THROTTLE", "QUOTA");
    for p in plans {
        let throttle =
            p.throttle.map_or_else(|| "-".to_owned(), |t| format!("{}/s burst {}", t.rate_limit, t.burst_limit));
        let quota = p.quota.map_or_else(|| "-".to_owned(), |q| format!("{} per {:?}", q.limit, q.period));
        let fail = match p.on_store_error {
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        };
        println!("{:<12} {:<20} {:<16} {:<18} {:<20} {fail}", p.id, p.name, p.stages.join(","), throttle, quota);
    }
}
