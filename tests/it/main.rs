//! Behaviour through real interfaces: the client against the simulator over loopback HTTP,
//! the daemon on port 0, the binary as a user runs it, and a real Prometheus.

/// Shared helpers: the simulator, configurations pointing at it, the daemon, the binary.
mod support;

/// `account_series` (all, problems, none) through `/metrics` and promtool, accounts
/// entering and leaving the scrape with drift.
mod account_series;
/// The whole alert chain: the simulator, the exporter, Prometheus with the shipped rules and
/// Alertmanager with the shipped routing; a drift pages once and resolves, an outage pages
/// as failing checks and never as drift.
mod alert_chain;
/// Batching (at most 100 per call, fewest calls) and de-duplication across watch lists.
mod batching;
/// The command line: `--config.check`, `--once` and its exit codes and outputs, `--demo`.
mod cli;
/// The daemon on port 0: the metrics contract, drift, reload, readiness, the page.
mod daemon;
/// The files under deploy/: systemd, alert rules, Alertmanager, dashboard, image.
mod deploy;
/// `/metrics` made once per change: every scrape current after a cycle or a reload, plain
/// and gzip; concurrent scrapes agree.
mod exposition;
/// Every injected fault, retries, and the rule that a failure is never "not imported".
mod faults;
/// A panic in an app's loop: counted, the app unknown meanwhile, the loop restarted, the
/// rest unharmed.
mod healing;
/// The Helm chart: lint, the rendered objects against the Kubernetes schemas, pod security
/// and checksums, the rendered config through `--config.check`, the values schema, the alerts,
/// and the sharded StatefulSet.
mod helm;
/// Idle, slow and oversized clients cannot starve `/metrics`.
mod hostile;
/// Helpers for the real monitoring tools: the deploy files, Prometheus and Alertmanager
/// servers, and a catcher of notifications.
mod monitoring;
/// The Debian package's made files and metadata: man page and completions against
/// `--help`, the packaged units against deploy/systemd/, the assets and the changelog.
mod package;
/// Presence checks: batching at 500, sharing, both rate bounds, faults never offline, the
/// outputs, and drift that starts and ends.
mod presence;
/// A real Prometheus scrapes the daemon; promtool checks a scrape.
mod prometheus;
/// The per-app call rate bound, retries included.
mod rate;
/// Secrets never reach logs, errors, output or what the daemon serves.
mod secrets;
/// Sharding across replicas: three shards against one simulator add up to one unsharded
/// exporter and share each app's rate; the shard flags in every mode.
mod sharding;
/// The binary as a service: port 0, SIGHUP, SIGTERM and SIGINT.
mod signals;
/// The simulator refuses bad requests the way the service does.
mod simulator;
/// Minutes of faults, reloads and 50 clients: no failed request, no false not_imported
/// or offline, a fast p99; memory reported.
mod soak;
/// The web configuration corpus against `promtool check web-config`, with its exceptions.
mod web_config;
/// `--web.config.file` served: TLS, client certificates, basic auth, rate limit, rotation
/// without a restart, and a real Prometheus scraping over TLS.
mod web_security;
