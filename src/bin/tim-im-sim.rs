//! `tim-im-sim`: the simulator of account_check and query_online_status as a standalone
//! server, for local runs and benchmarks. Runs until interrupted.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tim_account_exporter::sim::{Fault, SimAccount, SimApp, SimOptions, SimPresence, Simulator};
use tim_account_exporter::telemetry::{self, LogFormat, LogLevel};

#[derive(Debug, Parser)]
#[command(
    name = "tim-im-sim",
    version,
    about = "A simulator of Tencent Cloud IM account_check and query_online_status"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// An app as SDKAPPID:ADMIN:KEY; repeat for several.
    #[arg(long = "app", required = true, value_name = "SDKAPPID:ADMIN:KEY")]
    apps: Vec<SimApp>,
    /// Delay before every reply (e.g. 50ms).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// Probability (0 to 1) that a request gets an injected fault.
    #[arg(long = "fault-rate", default_value_t = 0.0)]
    fault_rate: f64,
    /// Faults to inject, comma-separated: timeout, http502, malformed, not-json, oversized,
    /// oversized-chunked, code:N, item-error, missing-item, extra-item, reorder, conflict,
    /// bad-status.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http502,malformed,code:70169,code:60007,item-error,reorder"
    )]
    faults: Vec<Fault>,
    /// account_check calls per app in any one-second window before ErrorCode 60007.
    #[arg(long = "rate-limit", default_value_t = 100)]
    rate_limit: u32,
    /// query_online_status calls per app in any one-second window before ErrorCode 60007.
    #[arg(long = "presence-rate-limit", default_value_t = 200)]
    presence_rate_limit: u32,
    /// Accounts reported as not imported (all other accounts are imported), comma-separated.
    #[arg(long = "not-imported", value_delimiter = ',')]
    not_imported: Vec<String>,
    /// Accounts reported offline (all other imported accounts are online), comma-separated.
    #[arg(long, value_delimiter = ',')]
    offline: Vec<String>,
    /// Accounts reported as reachable by push only, comma-separated.
    #[arg(long = "push-online", value_delimiter = ',')]
    push_online: Vec<String>,
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(args.log_level, LogFormat::Logfmt);
    if !(0.0..=1.0).contains(&args.fault_rate) {
        eprintln!("--fault-rate must be between 0 and 1");
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let sdkappids: Vec<u64> = args.apps.iter().map(|a| a.sdkappid).collect();
    let options = SimOptions {
        apps: args.apps,
        latency: args.latency,
        fault_rate: args.fault_rate,
        fault_kinds: args.faults,
        rate_limit: args.rate_limit,
        presence_rate_limit: args.presence_rate_limit,
        ..SimOptions::default()
    };
    let simulator = match Simulator::serve(listener, options) {
        Ok(simulator) => simulator,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    for sdkappid in &sdkappids {
        for id in &args.not_imported {
            simulator.set_account(*sdkappid, id, SimAccount::NotImported);
        }
        for id in &args.offline {
            simulator.set_presence(*sdkappid, id, SimPresence::offline());
        }
        for id in &args.push_online {
            simulator.set_presence(*sdkappid, id, SimPresence::push_online());
        }
    }
    tracing::info!(address = %simulator.addr(), apps = ?sdkappids, "simulator listening; stats at /sim/stats?sdkappid=N[&api=query_online_status]");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
