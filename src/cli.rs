//! The command line: flags in the Prometheus style, and what each mode does.
//!
//! `--config.check` validates, `--once` checks every app once and prints the result, and
//! without either the exporter runs as a daemon. `--demo` swaps the configuration for the
//! built-in demo against the simulator.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};

use crate::config::{self, Config};
use crate::daemon::{self, ConfigSource};
use crate::output::{self, EXIT_USAGE};
use crate::report::Summary;
use crate::shard::Shard;
use crate::telemetry::{self, LogFormat, LogLevel};
use crate::web::LiveWebConfig;
use crate::{cycle, demo};

#[derive(Debug, Parser)]
#[command(
    name = "tim-account-exporter",
    version,
    about = "Watches critical accounts of Tencent Cloud IM apps and reports drift"
)]
pub struct Args {
    /// The configuration file.
    #[arg(
        long = "config.file",
        value_name = "PATH",
        default_value = "config.yaml"
    )]
    pub config_file: PathBuf,
    /// Validate the configuration (secret sources and watch-list files included), then exit:
    /// 0 when valid, 2 when not.
    #[arg(long = "config.check")]
    pub config_check: bool,
    /// Check every app once, print the result and exit: 0 all as expected, 1 drift,
    /// 3 no drift but unknown accounts, 2 configuration or usage error.
    #[arg(long)]
    pub once: bool,
    /// The format of the `--once` result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Use the built-in demo configuration against a simulator on loopback.
    #[arg(long)]
    pub demo: bool,
    /// An address to serve /metrics, the status page and the API on; repeat it to serve on
    /// several. `:9731` means every interface, port 0 picks a free port.
    #[arg(
        long = "web.listen-address",
        value_name = "[HOST]:PORT",
        default_value = ":9731"
    )]
    pub listen_addresses: Vec<String>,
    /// Serve on the sockets systemd passes (socket activation) instead of
    /// --web.listen-address.
    #[arg(long = "web.systemd-socket")]
    pub systemd_socket: bool,
    /// A web configuration file (exporter-toolkit format) for TLS, client certificates,
    /// basic auth, security headers and a rate limit. Without it: plain HTTP, no auth.
    #[arg(long = "web.config.file", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,
    /// Only log messages at or above this level.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
    /// The format of log lines on standard error.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,
    /// This replica's shard, 0-based, when --total-shards is more than 1.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub shard: u32,
    /// How many replicas share the UserIDs; 1 is no sharding.
    #[arg(long = "total-shards", value_name = "M", default_value_t = 1)]
    pub total_shards: u32,
    /// Take the shard from the trailing -<ordinal> of a StatefulSet pod's name (wins over
    /// --shard).
    #[arg(long = "shard.pod-name", value_name = "NAME")]
    pub shard_pod_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Parses the command line and runs; the process's exit code.
pub fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::init(args.log_level, args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let code = runtime.block_on(run(args));
    // A blocking task (a DNS lookup) must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    ExitCode::from(code)
}

/// Runs the mode the arguments ask for and returns the exit code.
pub async fn run(args: Args) -> u8 {
    let shard = match Shard::from_flags(
        args.shard,
        args.total_shards,
        args.shard_pod_name.as_deref(),
    ) {
        Ok(shard) => shard,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
    };
    // The demo's simulator must outlive the checks, so it is held here.
    let (config, demo_running) = if args.demo {
        match demo::start(shard).await {
            Ok(demo) => (demo.config.clone(), Some(demo)),
            Err(e) => {
                eprintln!("{e}");
                return EXIT_USAGE;
            }
        }
    } else {
        match load(&args, shard) {
            Some(config) => (config, None),
            None => return EXIT_USAGE,
        }
    };
    let web_config = match &args.web_config_file {
        Some(path) => match LiveWebConfig::load(path) {
            Ok(live) => Some(Arc::new(live)),
            Err(problems) => {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                if !args.config_check {
                    tracing::error!(
                        problems = problems.len(),
                        "web configuration is invalid; nothing was served"
                    );
                }
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    if let Some(live) = &web_config {
        for warning in &live.active().config.warnings {
            if args.config_check {
                eprintln!("warning: {warning}");
            } else {
                tracing::warn!(warning = %warning, "web configuration warning");
            }
        }
    }
    if args.config_check {
        let accounts: usize = config
            .apps
            .iter()
            .map(|a| a.distinct_user_ids().len())
            .sum();
        let presence: usize = config
            .apps
            .iter()
            .map(|a| a.presence_user_ids().len())
            .sum();
        let lists: usize = config.apps.iter().map(|a| a.watchlists.len()).sum();
        let scope = if shard.is_sharded() {
            format!(" ({shard}: its own accounts and its share of each rate limit)")
        } else {
            String::new()
        };
        println!(
            "configuration is valid{scope}: apps: {}, watch lists: {lists}, distinct accounts: {accounts}, with presence: {presence}",
            config.apps.len()
        );
        for app in &config.apps {
            println!(
                "app {}: {}",
                app.name,
                crate::metrics::ExpectedSeries::of(app)
            );
        }
        if let (Some(path), Some(live)) = (&args.web_config_file, &web_config) {
            println!(
                "web configuration {} is valid: {}",
                path.display(),
                describe(&live.active().config)
            );
        }
        return output::EXIT_OK;
    }
    if !args.once {
        let source = match &demo_running {
            Some(_) => ConfigSource::Fixed(config.clone()),
            None => ConfigSource::File(args.config_file.clone()),
        };
        return serve(&args, source, config, web_config, demo_running.is_some()).await;
    }
    let reports = match cycle::check_all(&config).await {
        Ok(reports) => reports,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
    };
    print!(
        "{}",
        match args.output {
            OutputFormat::Table => output::render_table(&reports, shard),
            OutputFormat::Json => output::render_json(&reports, shard),
        }
    );
    output::exit_code(Summary::of(&reports))
}

/// Runs the daemon until SIGTERM or SIGINT.
async fn serve(
    args: &Args,
    source: ConfigSource,
    config: Config,
    web_config: Option<Arc<LiveWebConfig>>,
    demo: bool,
) -> u8 {
    let signals = match daemon::Signals::install() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("cannot listen for signals: {e}");
            return EXIT_USAGE;
        }
    };
    let listeners = if args.systemd_socket {
        crate::web::systemd_sockets()
    } else {
        crate::web::bind_all(&args.listen_addresses).await
    };
    let listeners = match listeners {
        Ok(listeners) => listeners,
        Err(e) => {
            eprintln!("{e}");
            tracing::error!(error = %e, "cannot listen");
            return EXIT_USAGE;
        }
    };
    let security = web_config.as_ref().map_or_else(
        || "plain HTTP".to_owned(),
        |live| describe(&live.active().config),
    );
    if let Some(live) = &web_config {
        crate::web::log_system_roots(&live.active().config);
    }
    for listener in &listeners {
        let address = listener
            .local_addr()
            .map_or_else(|e| e.to_string(), |a| a.to_string());
        tracing::info!(address = %address, version = crate::metrics::VERSION, web = %security, "listening");
    }
    if demo {
        let port = listeners[0]
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default();
        let scheme = if web_config
            .as_ref()
            .is_some_and(|live| live.active().tls.is_some())
        {
            "https"
        } else {
            "http"
        };
        tracing::info!(url = %format!("{scheme}://localhost:{port}/"),
            "demo running against the built-in simulator; open the URL, Ctrl-C to stop");
    }
    match daemon::run_with(source, config, listeners, web_config, signals).await {
        Ok(()) => output::EXIT_OK,
        Err(e) => {
            tracing::error!(error = %e, "the exporter failed");
            eprintln!("{e}");
            EXIT_USAGE
        }
    }
}

/// What a web configuration turns on, in a few words for the log and `--config.check`.
fn describe(web: &crate::webconfig::WebConfig) -> String {
    let mut parts = Vec::new();
    match &web.tls {
        Some(tls) => parts.push(format!(
            "TLS {}-{}, client certificates: {}",
            tls.min_version.as_str(),
            tls.max_version.as_str(),
            tls.client_auth
        )),
        None => parts.push("plain HTTP".to_owned()),
    }
    match web.basic_auth_users.len() {
        0 => parts.push("no basic auth".to_owned()),
        users => parts.push(format!("basic auth: {users} users")),
    }
    if let Some(limit) = &web.rate_limit {
        parts.push(format!(
            "rate limit: 1 per {} (burst {})",
            humantime::format_duration(limit.interval),
            limit.burst
        ));
    }
    parts.join(", ")
}

/// Loads the shard's part of the configuration, printing its problems (or its warnings)
/// to standard error.
fn load(args: &Args, shard: Shard) -> Option<Config> {
    match config::load_for_shard(&args.config_file, shard) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                if args.config_check {
                    eprintln!("warning: {warning}");
                } else {
                    tracing::warn!(warning = %warning, "configuration warning");
                }
            }
            Some(loaded.config)
        }
        Err(err) => {
            for problem in &err.problems {
                eprintln!("{problem}");
            }
            if !args.config_check {
                tracing::error!(
                    problems = err.problems.len(),
                    "configuration is invalid; nothing was checked"
                );
            }
            None
        }
    }
}
