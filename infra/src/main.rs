use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tollgate::{
    admin::{self, CacheCommand, KeysCommand, Output, PlansCommand, TablesCommand, UsageCommand},
    dashboard::{self, DashboardCommand},
    openapi::{self, ExportCommand, ImportArgs, ImportCommand},
    serve::{ServeOptions, Server},
    store::StoreArgs,
};

/// Tollgate: an API gateway that runs on AWS Lambda, and whole on one machine.
#[derive(Parser)]
#[command(name = "tollgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    output: Output,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a gateway definition on 127.0.0.1, through the router Lambda's own handler.
    Serve {
        /// The gateway definition (gateway.yaml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Port to listen on; 0 picks a free one.
        #[arg(long, short, default_value_t = 3000)]
        port: u16,
        /// Stage to serve; needed when the definition has several.
        #[arg(long, env = "TOLLGATE_STAGE")]
        stage: Option<String>,
        /// The file is an OpenAPI or Swagger document (or a template holding one): import it and serve that.
        #[arg(long, conflicts_with = "config")]
        openapi: Option<PathBuf>,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Import an OpenAPI or Swagger document with API Gateway's extensions as a definition, with a report of
    /// what runs.
    Import {
        #[command(flatten)]
        command: ImportCommand,
        /// The stage the definition gets.
        #[arg(long)]
        stage: Option<String>,
    },
    /// Export a definition as OpenAPI 3 or Swagger 2 with API Gateway's extensions.
    Export(ExportCommand),
    /// API keys: create, list, get, update, roll, disable, delete.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Usage plans: create, list, get, update, delete, add-key, remove-key.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// Usage per key per day, and extra quota grants.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// The operator's usage page (requests per day, quota per key, top keys, keys near their quota), served on
    /// 127.0.0.1 from either store, or written to a file with --out.
    Dashboard(DashboardCommand),
    /// DynamoDB table set-up.
    #[command(subcommand)]
    Tables(TablesCommand),
    /// The response cache: flush a stage, or the entries with a tag.
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = tollgate_core::settings::Settings::from_env();
    tollgate_core::logging::init(tollgate_core::logging::Output::Cli, settings.log.as_deref());
    settings.check()?;
    let cli = Cli::parse();
    match cli.command {
        Command::Import { command, stage } => openapi::run_import(&command, stage.as_deref(), cli.output.json),
        Command::Export(command) => openapi::run_export(&command),
        Command::Serve { config, port, stage, openapi, import } => {
            let (config, openapi) = match (config, openapi) {
                (_, Some(file)) => (file, Some(import.options(None))),
                (Some(config), None) => (config, None),
                (None, None) => anyhow::bail!("serve needs --config FILE or --openapi FILE"),
            };
            let options =
                ServeOptions { config, port, stage, store: cli.store, settings, clock: None, openapi, lines: None };
            let server = Server::start(&options).await?;
            // The one line a person (or a script) waits for before sending requests.
            println!("tollgate serving on http://{}", server.addr);
            server.run_until_stopped().await
        }
        Command::Keys(c) => admin::keys(c, &cli.store, &settings, &cli.output).await,
        Command::Plans(c) => admin::plans(c, &cli.store, &settings, &cli.output).await,
        Command::Usage(c) => admin::usage(c, &cli.store, &settings, &cli.output).await,
        Command::Dashboard(c) => dashboard::run(c, &cli.store, &settings).await,
        Command::Tables(c) => admin::tables(c, &cli.store, &settings).await,
        Command::Cache(c) => admin::cache(c, &cli.store, &settings).await,
    }
}
