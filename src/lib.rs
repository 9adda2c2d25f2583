//! tim-account-exporter: watches critical accounts of Tencent Cloud IM apps.

pub mod config;
pub mod tim;
