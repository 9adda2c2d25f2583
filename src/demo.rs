//! The demo: a built-in configuration of two apps in two regions, checked against the
//! simulator started in-process on loopback. Needs no credentials.
//!
//! The simulator holds a mix of imported, missing and must-stay-removed accounts, bots
//! online, push-online and offline, and injects a low rate of transient faults, so every state shows up.

use std::time::Duration;

use crate::config::{self, Config, ConfigError, Sources};
use crate::shard::Shard;
use crate::sim::{Fault, SimAccount, SimApp, SimOptions, SimPresence, Simulator};
use crate::tim::Secret;

const PROD_SG: u64 = 1_400_000_001;
const PROD_EU: u64 = 1_400_000_002;

/// The demo configuration; `{endpoint}`, `{key_sg}` and `{key_eu}` are filled in at start.
const DEMO_CONFIG: &str = r#"
defaults:
  interval: 15s
  timeout: 4s
  retries: 2
  rate_limit: 20
apps:
  - name: prod-sg
    sdkappid: 1400000001
    region: singapore
    endpoint: "{endpoint}"
    admin: administrator
    secret_key: "{key_sg}"
    watchlists:
      - name: ops-bots
        user_ids: [ops_bot, alert_bot, deploy_bot]
      - name: support
        user_ids: [support_01, support_02, support_03, support_04, support_05]
      - name: removed
        expect: not_imported
        user_ids: [banned_spammer, ex_employee_42]
      - name: bots-online
        presence: reachable
        user_ids: [ops_bot, alert_bot, deploy_bot]
  - name: prod-eu
    sdkappid: 1400000002
    region: frankfurt
    endpoint: "{endpoint}"
    admin: admin
    secret_key: "{key_eu}"
    watchlists:
      - name: system-senders
        user_ids: [system_notice, billing_bot, security_alerts]
      - name: removed
        expect: not_imported
        user_ids: [test_user_1, test_user_2]
"#;

/// A running demo: the simulator and the configuration pointing at it.
#[derive(Debug)]
pub struct Demo {
    pub simulator: Simulator,
    pub config: Config,
}

fn random_key() -> String {
    (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// Starts the simulator on `127.0.0.1:0` and builds the demo configuration for it, or
/// `shard`'s part of it.
pub async fn start(shard: Shard) -> Result<Demo, DemoError> {
    let (key_sg, key_eu) = (random_key(), random_key());
    let options = SimOptions {
        apps: vec![
            SimApp {
                sdkappid: PROD_SG,
                admin: "administrator".to_owned(),
                key: Secret::new(key_sg.clone()),
            },
            SimApp {
                sdkappid: PROD_EU,
                admin: "admin".to_owned(),
                key: Secret::new(key_eu.clone()),
            },
        ],
        latency: Duration::from_millis(40),
        fault_rate: 0.05,
        fault_kinds: Fault::TRANSIENT.to_vec(),
        ..SimOptions::default()
    };
    let simulator = Simulator::start(options).await.map_err(DemoError::Listen)?;
    // Drift: a support agent that is gone, and a removed account that is back.
    simulator.set_account(PROD_SG, "support_04", SimAccount::NotImported);
    simulator.set_account(PROD_SG, "banned_spammer", SimAccount::NotImported);
    simulator.set_account(PROD_SG, "ex_employee_42", SimAccount::Imported);
    simulator.set_account(PROD_EU, "test_user_1", SimAccount::NotImported);
    simulator.set_account(PROD_EU, "test_user_2", SimAccount::NotImported);
    // Presence: a bot that is logged out (drift against `reachable`), and one on a phone
    // whose connection dropped but that push still reaches (no drift).
    simulator.set_presence(PROD_SG, "deploy_bot", SimPresence::offline());
    simulator.set_presence(PROD_SG, "alert_bot", SimPresence::push_online());
    // An account the service cannot answer for: always unknown, never "not imported".
    simulator.set_account(PROD_EU, "security_alerts", SimAccount::ItemError(70500));
    let text = DEMO_CONFIG
        .replace("{endpoint}", &simulator.endpoint())
        .replace("{key_sg}", &key_sg)
        .replace("{key_eu}", &key_eu);
    let no_env = |_: &str| None;
    let loaded = config::from_yaml_for_shard(
        &text,
        &Sources {
            base_dir: std::env::temp_dir(),
            env: &no_env,
        },
        shard,
    )
    .map_err(DemoError::Config)?;
    Ok(Demo {
        simulator,
        config: loaded.config,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start the simulator: {0}")]
    Listen(std::io::Error),
    #[error("the demo configuration is invalid: {0}")]
    Config(ConfigError),
}
