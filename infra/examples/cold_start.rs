//! Cold start: from process start to the first response, under a Lambda Runtime API (tollgate's local one),
//! for the router and for a baseline function measured in the same run, interleaved.
//!
//! Usage (release builds of the router, examples/hello-backend and this program):
//!   cold_start target/release/router target/release/hello-backend deploy/gateway.yaml prod 20
//! Arguments: ROUTER BASELINE DEFINITION STAGE [RUNS]. The router serves `GET /health` of DEFINITION (a
//! mock in both example definitions); the baseline answers the same event.

use std::{collections::BTreeMap, path::PathBuf, time::Instant};

use tollgate::local_lambda::LocalFunction;

const EVENT: &str = r#"{"version":"2.0","routeKey":"$default","rawPath":"/health","rawQueryString":"","headers":{"host":"x.lambda-url.us-east-1.on.aws"},"requestContext":{"accountId":"anonymous","apiId":"x","domainName":"x.lambda-url.us-east-1.on.aws","domainPrefix":"x","http":{"method":"GET","path":"/health","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","userAgent":"bench"},"requestId":"cold","routeKey":"$default","stage":"$default","time":"01/Jan/2026:00:00:00 +0000","timeEpoch":1767225600000},"isBase64Encoded":false}"#;

async fn once(binary: &str, env: &BTreeMap<String, String>) -> anyhow::Result<f64> {
    let started = Instant::now();
    let function = LocalFunction::start("cold", &[binary.to_owned()], env, &std::env::current_dir()?).await?;
    let out = function.invoke(EVENT.as_bytes().to_vec(), None).await?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(out.function_error.is_none(), "{}", String::from_utf8_lossy(&out.payload));
    Ok(elapsed)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [router, baseline, definition, stage, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: cold_start ROUTER_BINARY BASELINE_BINARY DEFINITION STAGE [RUNS]");
    };
    let runs: usize = rest.first().map_or(Ok(20), |r| r.parse())?;
    let definition = PathBuf::from(definition).canonicalize()?;
    let router_env = BTreeMap::from([
        ("TOLLGATE_CONFIG".to_owned(), definition.display().to_string()),
        ("TOLLGATE_STAGE".to_owned(), stage.clone()),
        ("TOLLGATE_LOG".to_owned(), "warn".to_owned()),
    ]);
    let (mut r, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        r.push(once(router, &router_env).await?);
        b.push(once(baseline, &BTreeMap::new()).await?);
    }
    let (rm, bm) = (median(r), median(b));
    println!("cold start, median of {runs}: router {rm:.1} ms, baseline {bm:.1} ms, ratio {:.2}x", rm / bm);
    Ok(())
}
