//! tim-account-exporter: watches lists of critical accounts of Tencent Cloud IM apps with
//! `account_check` and reports drift from what is expected.
//!
//! Data flows one way, and the modules are listed in that order:
//! `config` (validated YAML) → `cycle` (one check of one app) → `tim` (the REST client)
//! → `report` (what a cycle found) → `output` (table and JSON). `sim` is a test double of
//! the REST API, `demo` wires it to a built-in configuration, `cli` and `telemetry` are
//! the binary's front.

pub mod config;
pub mod cycle;
pub mod output;
pub mod report;
pub mod tim;

pub mod cli;
pub mod demo;
pub mod sim;
pub mod telemetry;
