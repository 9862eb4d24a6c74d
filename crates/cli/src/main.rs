//! `opentrail`: the command-line entry point (serve, generate, import, history, validate-logs,
//! bench).

mod bench;
mod bench_history;
mod bench_import;
mod bench_lake;
mod bench_trails;
mod client;
mod generate;
mod history;
mod import;
mod serve;
mod validate_logs;

use clap::{Parser, Subcommand};

/// AWS CloudTrail that you run yourself.
///
/// opentrail records API activity as CloudTrail events and speaks the AWS CloudTrail API, so
/// the aws CLI, boto3 and every AWS SDK work against it unchanged (--endpoint-url).
#[derive(Parser)]
#[command(name = "opentrail", version, propagate_version = true)]
struct Cli {
    /// Log filter, e.g. `info`, `debug`, `opentrail_server=debug` (also RUST_LOG).
    #[arg(long, global = true, env = "RUST_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: the CloudTrail API, native ingest, the journal.
    Serve(serve::ServeArgs),
    /// Generate realistic CloudTrail activity: to AWS-style log files, NDJSON, or a server.
    Generate(generate::GenerateArgs),
    /// Import existing CloudTrail log files (a folder or an S3 location) into an event data
    /// store of a running server, with progress; exits non-zero unless it completed.
    Import(import::ImportArgs),
    /// Work with the event history of a running server (export).
    History(history::HistoryArgs),
    /// Check a trail's log files against its signed digests, as `aws cloudtrail
    /// validate-logs` does (same arguments, output and exit codes), on a server, a data
    /// directory or any S3 location.
    ValidateLogs(validate_logs::ValidateLogsArgs),
    /// Measure performance (writes figures to stdout as JSON lines; see BENCHMARKS.md).
    Bench(bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Command::ValidateLogs(args) = cli.command {
        // Its exit codes are the aws CLI's: 0 valid, 1 invalid, 255 could not run.
        return std::process::ExitCode::from(runtime.block_on(validate_logs::run(args)));
    }
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Generate(args) => generate::run(args).await,
            Command::History(args) => history::run(args).await,
            Command::Import(args) => import::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::ValidateLogs(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
