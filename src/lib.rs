//! tim-account-exporter: watches lists of critical accounts of Tencent Cloud IM apps with
//! `account_check` and exports what it sees to Prometheus.
//!
//! Data flows one way, and the modules are listed in that order:
//! `config` (validated YAML) → `scheduler` (one loop per app) → `cycle` (one check of one
//! app) → `tim` (the REST client) → `report` (what a cycle found) → `state` (what is known
//! now) → `metrics`, `web` and `output` (what is shown). `daemon` wires the long-running
//! mode together; `sim` is a test double of the REST API, `demo` wires it to a built-in
//! configuration, `cli` and `telemetry` are the binary's front. `shard`
//! says which UserIDs a replica checks when several share the work. `webconfig` reads the
//! web configuration file (TLS, basic auth); `yaml` is the one place YAML text is parsed.

pub mod config;
pub mod cycle;
pub mod metrics;
pub mod output;
pub mod report;
pub mod scheduler;
pub mod shard;
pub mod state;
pub mod tim;
pub mod web;
pub mod webconfig;

mod files;
mod yaml;

pub mod cli;
pub mod daemon;
pub mod demo;
pub mod sim;
pub mod telemetry;
