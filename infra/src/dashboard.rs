//! `tollgate dashboard`: the operator's usage page (the meter function's `GET /dashboard`) on this machine, over
//! either store. It is read again on every load, so a reload shows what a running gateway has counted since.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context as _;
use axum::{
    Router,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tollgate_core::{
    admin::{Admin, pages},
    clock::{SharedClock, SystemClock},
    settings::Settings,
    store::Store,
    usage::period,
};

use crate::store::StoreArgs;

#[derive(Debug, clap::Args)]
pub struct DashboardCommand {
    /// Port to listen on (127.0.0.1 only); 0 picks a free one.
    #[arg(long, short, default_value_t = 3001)]
    pub port: u16,
    /// Write the page to this file once instead of serving it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The page as the store holds it now.
pub async fn render(store: &dyn Store, clock: &SharedClock) -> anyhow::Result<String> {
    let now_ms = clock.now_ms();
    let dashboard = Admin::new(store, now_ms).dashboard(period::day_of(now_ms)).await?;
    Ok(pages::dashboard_page(&dashboard))
}

/// A running dashboard. Dropping it stops the server.
pub struct DashboardServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl DashboardServer {
    /// Serves the page at `/` on 127.0.0.1:`port`, read from `store` at `clock`'s time on each request.
    pub async fn start(store: Arc<dyn Store>, clock: SharedClock, port: u16) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        let addr = listener.local_addr()?;
        let app = Router::new().route(
            "/",
            get(move || {
                let (store, clock) = (Arc::clone(&store), Arc::clone(&clock));
                async move { page(store.as_ref(), &clock).await }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, task })
    }

    /// Serves until Ctrl-C.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tokio::signal::ctrl_c().await?;
        Ok(())
    }
}

impl Drop for DashboardServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn page(store: &dyn Store, clock: &SharedClock) -> Response {
    match render(store, clock).await {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dashboard failed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read usage: {e}")).into_response()
        }
    }
}

/// `tollgate dashboard`: serve the page, or write it to `--out`.
pub async fn run(command: DashboardCommand, store: &StoreArgs, settings: &Settings) -> anyhow::Result<()> {
    let store = store.open(settings).await?.shared();
    let clock: SharedClock = Arc::new(SystemClock);
    if let Some(out) = command.out {
        let html = render(store.as_ref(), &clock).await?;
        std::fs::write(&out, html).with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote {}", out.display());
        return Ok(());
    }
    let server = DashboardServer::start(store, clock, command.port).await?;
    // The one line a person waits for before opening the page.
    println!("tollgate dashboard on http://{}/", server.addr);
    server.run_until_stopped().await
}
