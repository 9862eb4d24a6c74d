//! `opentrail serve`: configuration precedence (file, environment, flags), the start-up banner,
//! and signal handling.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use opentrail_server::config::SyncSetting;
use opentrail_server::{Config, Overrides, RootSource, Server};

/// Flags of `serve`. Each also reads the environment variable shown; flags win over the
/// environment, which wins over the configuration file.
#[derive(Args)]
pub struct ServeArgs {
    /// TOML configuration file [default: ./opentrail.toml when it exists].
    #[arg(long, env = "OPENTRAIL_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:4599].
    #[arg(long, env = "OPENTRAIL_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory for all data [default: ./opentrail-data].
    #[arg(long, env = "OPENTRAIL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The AWS account id this server is [default: 123456789012].
    #[arg(long, env = "OPENTRAIL_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Default region for activity that names none [default: us-east-1].
    #[arg(long, env = "OPENTRAIL_REGION")]
    region: Option<String>,
    /// Feed realistic demo activity of a simulated AWS account into the server.
    #[arg(long)]
    demo: bool,
    /// Accept requests signed with any access key (local SDK testing only; warned at start).
    #[arg(long, env = "OPENTRAIL_ACCEPT_ANY_ACCESS_KEY")]
    accept_any_access_key: Option<bool>,
    /// When the journal syncs to disk: before answering (always) or on a timer (periodic).
    #[arg(long, env = "OPENTRAIL_JOURNAL_SYNC", value_enum)]
    journal_sync: Option<SyncArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum SyncArg {
    Always,
    Periodic,
}

/// Builds the configuration from file, environment and flags.
fn load_config(args: &ServeArgs) -> anyhow::Result<Config> {
    let default_file = PathBuf::from("opentrail.toml");
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None if default_file.exists() => Config::from_file(&default_file)?,
        None => Config::default(),
    };
    config.apply(Overrides {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        account_id: args.account_id.clone(),
        region: args.region.clone(),
        accept_any_access_key: args.accept_any_access_key,
        demo: args.demo.then_some(true),
        journal_sync: args.journal_sync.map(|s| match s {
            SyncArg::Always => SyncSetting::Always,
            SyncArg::Periodic => SyncSetting::Periodic,
        }),
    });
    Ok(config)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    let server = Server::bind(config).await.context("starting the server")?;
    let addr = server.local_addr()?;
    print_banner(&server, addr);
    server.run(shutdown_signal()).await?;
    Ok(())
}

fn print_banner(server: &Server, addr: SocketAddr) {
    let state = server.state();
    let config = &state.config;
    let root = state.credentials.root();
    let endpoint = format!("http://{addr}");
    let creds_note = match state.credentials.root_source() {
        RootSource::Environment => {
            "from OPENTRAIL_ACCESS_KEY_ID / OPENTRAIL_SECRET_ACCESS_KEY".to_owned()
        }
        RootSource::File(p) => format!("profile \"opentrail\" in {}", p.display()),
        RootSource::Generated(p) => format!(
            "generated now; saved as profile \"opentrail\" in {}",
            p.display()
        ),
    };
    // The banner goes to stdout, never to the log: it is the one place the secret is shown.
    println!(
        "\nopentrail {version} is running\n\
         \n  endpoint      {endpoint}\
         \n  account       {account}\
         \n  region        {region} (any region works: each request's signature names its own)\
         \n  data          {data}\
         \n  access key    {key}\
         \n  secret key    {secret}\
         \n                ({creds_note})\
         \n  demo          {demo}\
         \n\nUse it with the aws CLI or boto3:\
         \n  export AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION={region}\
         \n  aws cloudtrail list-trails --endpoint-url {endpoint}\
         \n\nHealth: {endpoint}/health   Metrics: {endpoint}/metrics   Stop: Ctrl-C\n",
        version = env!("CARGO_PKG_VERSION"),
        account = config.account_id,
        region = config.region,
        data = config.data_dir.display(),
        key = root.access_key_id,
        secret = root.secret(),
        demo = if config.demo.enabled {
            format!("on ({} events/day simulated)", config.demo.events_per_day)
        } else {
            "off (start with --demo for simulated activity)".to_owned()
        },
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
