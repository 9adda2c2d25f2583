//! Table tests of configuration validation: each bad config and the message it gets.

use std::path::PathBuf;

use super::super::{from_yaml, AccountSeries, ConfigError, Expect, Loaded, Sources};

fn env(name: &str) -> Option<String> {
    (name == "TIM_TEST_KEY").then(|| "key-from-env".to_owned())
}

fn load_in(dir: PathBuf, yaml: &str) -> Result<Loaded, ConfigError> {
    from_yaml(
        yaml,
        &Sources {
            base_dir: dir,
            env: &env,
        },
    )
}

fn load(yaml: &str) -> Result<Loaded, ConfigError> {
    load_in(PathBuf::from("/nonexistent"), yaml)
}

/// A valid app, with `extra` lines added to it and `lists` as its watch lists.
fn app(extra: &str, lists: &str) -> String {
    format!(
        "apps:\n  - name: prod-sg\n    sdkappid: 1400000000\n    region: singapore\n    admin: administrator\n    secret_key: k\n{extra}    watchlists:\n{lists}"
    )
}

const LIST: &str = "      - name: vip\n        user_ids: [ops_bot, support_01]\n";

#[test]
fn a_minimal_config_gets_the_defaults() {
    let loaded = load(&app("", LIST)).unwrap();
    let app = &loaded.config.apps[0];
    assert_eq!(app.endpoint, "https://adminapisgp.im.qcloud.com");
    assert_eq!(app.interval.as_secs(), 60);
    assert_eq!(app.timeout.as_secs(), 5);
    assert_eq!(app.retries, 2);
    assert_eq!(app.rate_limit.get(), 50);
    assert_eq!(app.usersig_ttl.as_secs(), 86_400);
    assert_eq!(app.watchlists[0].expect, Expect::Imported);
    assert_eq!(app.watchlists[0].account_series, AccountSeries::All);
    assert_eq!(app.watchlists[0].user_ids, ["ops_bot", "support_01"]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn defaults_and_app_overrides_layer() {
    let yaml = format!(
        "defaults:\n  interval: 2m\n  retries: 5\n  rate_limit: 80\n{}",
        app("    interval: 30s\n    usersig_ttl: 1h\n", LIST)
    );
    let app = &load(&yaml).unwrap().config.apps[0];
    assert_eq!(app.interval.as_secs(), 30);
    assert_eq!(app.retries, 5);
    assert_eq!(app.rate_limit.get(), 80);
    assert_eq!(app.usersig_ttl.as_secs(), 3600);
}

#[test]
fn bad_configs_and_their_messages() {
    let long_id = "x".repeat(40);
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "the configuration is empty"),
        ("apps: []\n".into(), "apps: at least one app is needed"),
        ("apps:\n  - name: a\n    colour: red\n".into(), "unknown field `colour`"),
        ("defaults:\n  intervall: 1m\napps: []\n".into(), "unknown field `intervall`"),
        ("apps: [\n".into(), "line 2 column 1"),
        (app("", &format!("      - name: vip\n        user_ids: [ok, {long_id}]\n")),
            "apps[0].watchlists[0].user_ids[1]: UserID is 40 bytes, the limit is 32"),
        (app("", "      - name: vip\n        user_ids: [' padded']\n"),
            "apps[0].watchlists[0].user_ids[0]: UserID \" padded\" has surrounding whitespace"),
        (app("", "      - name: vip\n        user_ids: ['']\n"), "apps[0].watchlists[0].user_ids[0]: UserID is empty"),
        (app("", "      - name: vip\n        user_ids: []\n"), "apps[0].watchlists[0]: the watch list has no UserIDs"),
        (app("", "      - name: vip\n        expect: present\n        user_ids: [a]\n"),
            "apps[0].watchlists[0].expect: \"present\" is not one of imported, not_imported"),
        (app("", "      - name: \"v\\nip\"\n        user_ids: [a]\n"),
            "apps[0].watchlists[0].name: \"v\\nip\" must not contain control characters"),
        (app("", &format!("{LIST}{LIST}")), "apps[0].watchlists[1].name: watch list name \"vip\" is used twice"),
        (app("", ""), "apps[0].watchlists: at least one watch list is needed"),
        (app("    interval: soon\n", LIST), "apps[0].interval: \"soon\" is not a duration"),
        (app("    interval: 500ms\n    timeout: 100ms\n", LIST), "apps[0].interval: 500ms is shorter than the minimum of 1s"),
        (app("    interval: 18446744073709551615s\n", LIST),
            "apps[0].interval: 584542046090years 7months 15days 17h 5m 3s is longer than the maximum of 24h"),
        (format!("defaults:\n  interval: 25h\n{}", app("", LIST)), "defaults.interval: 1day 1h is longer than the maximum of 24h"),
        (app("    interval: 5s\n    timeout: 5s\n", LIST), "apps[0].timeout: 5s must be shorter than the interval (5s)"),
        (app("    timeout: 0s\n", LIST), "apps[0].timeout: 0s is shorter than the minimum of 100ms"),
        (app("    timeout: 99ms\n", LIST), "apps[0].timeout: 99ms is shorter than the minimum of 100ms"),
        (app("    retries: 11\n", LIST), "apps[0].retries: 11 is out of range 0..=10"),
        (app("    retries: -1\n", LIST), "apps[0].retries: -1 is out of range 0..=10"),
        (app("    rate_limit: 0\n", LIST), "apps[0].rate_limit: 0 is out of range 1..=100"),
        (app("    rate_limit: 101\n", LIST), "apps[0].rate_limit: 101 is out of range 1..=100"),
        (app("    usersig_ttl: 4m\n", LIST), "apps[0].usersig_ttl: 4m is shorter than the minimum of 5m"),
        (app("    usersig_ttl: 51years\n", LIST), "apps[0].usersig_ttl: is longer than the maximum of 50 years"),
        (app("    usersig_ttl: 18446744073709551615s\n", LIST), "apps[0].usersig_ttl: is longer than the maximum of 50 years"),
        (app("    usersig_ttl: 99999999999999999999999h\n", LIST), "apps[0].usersig_ttl: \"99999999999999999999999h\" is not a duration"),
        (app("    interval: 99999999999999999999999h\n", LIST), "apps[0].interval: \"99999999999999999999999h\" is not a duration"),
        (app("    timeout: 18446744073709551615s\n", LIST), "apps[0].timeout: 584542046090years 7months 15days 17h 5m 3s must be shorter than the interval (1m)"),
        (app("    interval: 24h\n    timeout: 24h\n", LIST), "apps[0].timeout: 1day must be shorter than the interval (1day)"),
        (app("    retries: 4294967296\n", LIST), "apps[0].retries: 4294967296 is out of range 0..=10"),
        (app("    retries: 9223372036854775807\n", LIST), "apps[0].retries: 9223372036854775807 is out of range 0..=10"),
        (app("    rate_limit: 4294967297\n", LIST), "apps[0].rate_limit: 4294967297 is out of range 1..=100"),
        (app("    rate_limit: -9223372036854775808\n", LIST), "apps[0].rate_limit: -9223372036854775808 is out of range 1..=100"),
        (app("    presence_rate_limit: 4294967296\n", LIST), "apps[0].presence_rate_limit: 4294967296 is out of range 1..=200"),
        (app("    rate_limit: 18446744073709551616\n", LIST), "apps[0].rate_limit: invalid type: integer `18446744073709551616` as u128, expected i64"),
        (app("    retries: 2.5\n", LIST), "apps[0].retries: invalid type: floating point `2.5`, expected i64"),
        (app("", LIST).replace("sdkappid: 1400000000", "sdkappid: 18446744073709551616"), "apps[0].sdkappid: invalid"),
        (format!("defaults:\n  rate_limit: 200\n{}", app("", LIST)), "defaults.rate_limit: 200 is out of range"),
        (app("    presence_rate_limit: 0\n", LIST),
            "apps[0].presence_rate_limit: 0 is out of range 1..=200 (query_online_status allows 200 calls/s)"),
        (app("    presence_rate_limit: 201\n", LIST), "apps[0].presence_rate_limit: 201 is out of range 1..=200"),
        (format!("defaults:\n  presence_rate_limit: -3\n{}", app("", LIST)), "defaults.presence_rate_limit: -3 is out of range 1..=200"),
        (app("", "      - name: vip\n        presence: away\n        user_ids: [a]\n"),
            "apps[0].watchlists[0].presence: \"away\" is not one of online, reachable"),
        (app("", "      - name: gone\n        expect: not_imported\n        presence: online\n        user_ids: [a]\n"),
            "apps[0].watchlists[0].presence: an account expected not_imported cannot be online"),
        (app("", "      - name: vip\n        presence: true\n        user_ids: [a]\n"),
            "apps[0].watchlists[0].presence: \"true\" is not one of online, reachable"),
        (app("", "      - name: vip\n        account_series: some\n        user_ids: [a]\n"),
            "apps[0].watchlists[0].account_series: \"some\" is not one of all, problems, none"),
        (app("", LIST).replace("singapore", "mumbai"), "apps[0].region: unknown region \"mumbai\""),
        (app("", LIST).replace("name: prod-sg", "name: prod sg"), "apps[0].name: \"prod sg\" must be one or more of"),
        (app("", LIST).replace("sdkappid: 1400000000", "sdkappid: 0"), "apps[0].sdkappid: must be a positive number"),
        (app("", LIST).replace("sdkappid: 1400000000", "sdkappid: -5"), "apps[0].sdkappid: invalid type: integer `-5`, expected u64 at line 3"),
        (app("", LIST).replace("admin: administrator", "admin: ''"), "apps[0].admin: UserID is empty"),
        (app("    endpoint: http://adminapisgp.im.qcloud.com\n", LIST),
            "apps[0].endpoint: \"http://adminapisgp.im.qcloud.com/\" must use https://"),
        (app("    endpoint: ftp://127.0.0.1\n", LIST), "has scheme ftp:, expected https://"),
        (app("    endpoint: https://h/?a=b\n", LIST), "must be a base URL without query or fragment"),
        (app("    endpoint: not a url\n", LIST), "apps[0].endpoint: not a URL"),
        (app("    endpoint: https://:pw@h\n", LIST), "apps[0].endpoint: must not contain a user or password"),
        (app("    endpoint: http://u:hunter2@example.com\n", LIST), "apps[0].endpoint: must not contain a user or password"),
        (app("    secret_key_env: TIM_TEST_KEY\n", LIST),
            "apps[0]: exactly one of secret_key_file, secret_key_env and secret_key is needed, 2 given"),
        (app("", LIST).replace("    secret_key: k\n", ""), "exactly one of secret_key_file, secret_key_env and secret_key is needed, 0 given"),
        (app("", LIST).replace("secret_key: k", "secret_key_env: TIM_UNSET_KEY"),
            "apps[0].secret_key_env: environment variable TIM_UNSET_KEY is not set"),
        (app("", LIST).replace("secret_key: k", "secret_key: '  '"), "apps[0].secret_key: the secret key is empty"),
        (app("", LIST).replace("secret_key: k", "secret_key_file: missing.key"),
            "apps[0].secret_key_file: cannot read /nonexistent/missing.key"),
        (app("", "      - name: vip\n        user_ids_file: ids.txt\n"),
            "apps[0].watchlists[0].user_ids_file: cannot read /nonexistent/ids.txt"),
        (format!("{}{}", app("", LIST), &app("", LIST)["apps:\n".len()..]), "apps[1].name: app name \"prod-sg\" is used twice"),
    ];
    for (yaml, expected) in cases {
        let err = load(&yaml).expect_err(&yaml);
        assert!(
            err.problems.iter().any(|p| p.contains(expected)),
            "config:\n{yaml}\nexpected a problem containing {expected:?}, got {:?}",
            err.problems
        );
    }
}

#[test]
fn a_cycle_must_fit_in_the_interval() {
    let many: Vec<String> = (0..1000).map(|i| format!("u{i}")).collect();
    let lists = format!(
        "      - name: vip\n        user_ids: [{}]\n",
        many.join(", ")
    );
    // Ten calls at 1/s: the last starts after 9 × 1.02 s = 9.18 s, plus a 5 s timeout.
    let err = load(&app(
        "    rate_limit: 1\n    interval: 14s\n    timeout: 5s\n",
        &lists,
    ))
    .unwrap_err();
    assert_eq!(
        err.problems,
        ["apps[0]: 1000 distinct UserIDs need 10 account_check calls per cycle; at rate_limit 1 the last starts after 9s 180ms and may take the timeout of 5s, which does not fit in the interval of 14s; raise rate_limit or interval"]
    );
    assert!(load(&app(
        "    rate_limit: 1\n    interval: 15s\n    timeout: 5s\n",
        &lists
    ))
    .is_ok());
}

#[test]
fn presence_is_checked_per_list_and_paced_on_its_own() {
    let lists = "      - name: bots\n        presence: online\n        user_ids: [a, b]\n      - name: agents\n        presence: reachable\n        user_ids: [b, c]\n      - name: vip\n        user_ids: [c, d]\n";
    let loaded = load(&format!(
        "defaults:\n  presence_rate_limit: 120\n{}",
        app("", lists)
    ))
    .unwrap();
    let app = &loaded.config.apps[0];
    assert_eq!(app.presence_rate_limit.get(), 120);
    assert_eq!(app.rate_limit.get(), 50);
    let presence: Vec<_> = app.watchlists.iter().map(|l| l.presence).collect();
    assert_eq!(
        presence,
        [
            Some(crate::config::PresenceExpect::Online),
            Some(crate::config::PresenceExpect::Reachable),
            None
        ]
    );
    assert_eq!(app.presence_user_ids(), ["a", "b", "c"], "once each");
    assert!(app.checks_presence());
    let plain = load(&app_plain()).unwrap();
    assert_eq!(
        plain.config.apps[0].presence_rate_limit.get(),
        50,
        "the default"
    );
    assert!(!plain.config.apps[0].checks_presence());
}

fn app_plain() -> String {
    app("", LIST)
}

#[test]
fn the_presence_calls_of_a_cycle_must_fit_too() {
    let many: Vec<String> = (0..2000).map(|i| format!("u{i}")).collect();
    let lists = format!(
        "      - name: bots\n        presence: reachable\n        user_ids: [{}]\n",
        many.join(", ")
    );
    // Four presence calls at 1/s: the last starts after 3.06 s, plus a 5 s timeout > 8 s;
    // the 20 account_check calls at 100/s fit.
    let err = load(&app(
        "    rate_limit: 100\n    presence_rate_limit: 1\n    interval: 8s\n    timeout: 5s\n",
        &lists,
    ))
    .unwrap_err();
    assert_eq!(
        err.problems,
        ["apps[0]: 2000 distinct UserIDs with presence need 4 query_online_status calls per cycle; at presence_rate_limit 1 the last starts after 3s 60ms and may take the timeout of 5s, which does not fit in the interval of 8s; raise presence_rate_limit or interval"]
    );
    assert!(load(&app(
        "    rate_limit: 100\n    presence_rate_limit: 2\n    interval: 8s\n    timeout: 5s\n",
        &lists
    ))
    .is_ok());
}

#[test]
fn a_client_is_shared_exactly_when_its_settings_are_equal() {
    let old = load(&app("", LIST)).unwrap().config.apps.remove(0);
    let settings = |extra: &str, lists: &str| {
        load(&app(extra, lists)).unwrap().config.apps[0].client_settings()
    };
    let other_lists = "      - name: bots\n        presence: online\n        user_ids: [x]\n";
    assert_eq!(
        old.client_settings(),
        settings("    interval: 2m\n", other_lists)
    );
    for changed in [
        "    rate_limit: 7\n",
        "    presence_rate_limit: 7\n",
        "    timeout: 9s\n",
        "    retries: 0\n",
        "    usersig_ttl: 2h\n",
    ] {
        assert_ne!(old.client_settings(), settings(changed, LIST), "{changed}");
    }
    let rekeyed = load(&app("", LIST).replace("secret_key: k", "secret_key: k2"))
        .unwrap()
        .config
        .apps
        .remove(0);
    assert_ne!(old.client_settings(), rekeyed.client_settings());
}

#[test]
fn every_problem_is_reported_at_once() {
    let yaml = app(
        "    retries: 99\n    rate_limit: 0\n",
        "      - name: vip\n        user_ids: ['', ok, ' x']\n",
    )
    .replace("singapore", "atlantis");
    let err = load(&yaml).unwrap_err();
    let problems: Vec<&str> = err
        .problems
        .iter()
        .map(|p| p.split(':').next().unwrap())
        .collect();
    assert_eq!(
        problems,
        [
            "apps[0].retries",
            "apps[0].rate_limit",
            "apps[0].region",
            "apps[0].watchlists[0].user_ids[0]",
            "apps[0].watchlists[0].user_ids[2]",
        ],
        "{:?}",
        err.problems
    );
}

#[test]
fn problems_in_defaults_are_reported_once_under_defaults() {
    let yaml = format!(
        "defaults:\n  interval: 2s\n  usersig_ttl: 1m\n{}{}",
        app("", LIST),
        &app("", LIST).replace("prod-sg", "prod-eu")["apps:\n".len()..]
    );
    let err = load(&yaml).unwrap_err();
    assert_eq!(
        err.problems,
        [
            "defaults.timeout: 5s must be shorter than the interval (2s)",
            "defaults.usersig_ttl: 1m is shorter than the minimum of 5m",
        ]
    );
    // An app that overrides only the interval is not blamed for the inherited timeout.
    let yaml = format!(
        "defaults:\n  timeout: 0s\n{}",
        app("    interval: 30s\n", LIST)
    );
    assert_eq!(
        load(&yaml).unwrap_err().problems,
        ["defaults.timeout: 0s is shorter than the minimum of 100ms"]
    );
    let yaml = format!(
        "defaults:\n  timeout: 2s\n{}",
        app("    interval: 30s\n", LIST)
    );
    assert_eq!(load(&yaml).unwrap().warnings.len(), 1);
    // An app that overrides a value is checked against what it inherits.
    let yaml = format!(
        "defaults:\n  interval: 10s\n{}",
        app("    timeout: 12s\n", LIST)
    );
    assert_eq!(
        load(&yaml).unwrap_err().problems,
        ["apps[0].timeout: 12s must be shorter than the interval (10s)"]
    );
}

#[test]
fn files_resolve_against_the_config_folder() {
    let dir = std::env::temp_dir().join(format!("tim-config-test-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/app.key"), "file-secret\n").unwrap();
    std::fs::write(
        dir.join("vip.txt"),
        "# on-call bots\nops_bot\n\n  support_02  \r\nsupport_01\n",
    )
    .unwrap();
    std::fs::write(dir.join("empty.key"), "\n").unwrap();
    let yaml = app(
        "",
        "      - name: vip\n        user_ids: [support_01]\n        user_ids_file: vip.txt\n",
    )
    .replace("secret_key: k", "secret_key_file: keys/app.key");
    let loaded = load_in(dir.clone(), &yaml).unwrap();
    let app = &loaded.config.apps[0];
    assert_eq!(app.secret_key.expose(), "file-secret");
    assert_eq!(
        app.watchlists[0].user_ids,
        ["support_01", "ops_bot", "support_02"]
    );
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0]
        .contains("user_ids_file (vip.txt) line 5: UserID \"support_01\" is listed twice"));

    let err = load_in(dir.clone(), &yaml.replace("keys/app.key", "empty.key")).unwrap_err();
    assert_eq!(
        err.problems,
        ["apps[0].secret_key_file: the secret key is empty"]
    );

    // Files past their limits, and files without end.
    std::fs::write(dir.join("big.key"), "k".repeat(64 * 1024 + 1)).unwrap();
    let err = load_in(dir.clone(), &yaml.replace("keys/app.key", "big.key")).unwrap_err();
    assert_eq!(
        err.problems,
        [format!(
            "apps[0].secret_key_file: cannot read {}: the file is larger than the limit of 64 KiB",
            dir.join("big.key").display()
        )]
    );
    let err = load_in(dir.clone(), &yaml.replace("keys/app.key", "/dev/zero")).unwrap_err();
    assert_eq!(
        err.problems,
        ["apps[0].secret_key_file: cannot read /dev/zero: the file is larger than the limit of 64 KiB"]
    );
    let err = load_in(dir.clone(), &yaml.replace("vip.txt", "/dev/zero")).unwrap_err();
    assert_eq!(
        err.problems,
        ["apps[0].watchlists[0].user_ids_file: cannot read /dev/zero: the file is larger than the limit of 64 MiB"]
    );
    std::fs::write(dir.join("latin1.txt"), b"ops_bot\n\xe9t\xe9\n").unwrap();
    let err = load_in(dir.clone(), &yaml.replace("vip.txt", "latin1.txt")).unwrap_err();
    assert_eq!(
        err.problems,
        [format!(
            "apps[0].watchlists[0].user_ids_file: cannot read {}: the file is not UTF-8 text",
            dir.join("latin1.txt").display()
        )]
    );
    let config = dir.join("huge.yaml");
    let mut huge = yaml.clone();
    huge.push_str(&format!("# {}\n", "-".repeat(16 << 20)));
    std::fs::write(&config, huge).unwrap();
    let err = super::super::load(&config).unwrap_err();
    assert_eq!(
        err.problems,
        [format!(
            "cannot read {}: the file is larger than the limit of 16 MiB",
            config.display()
        )]
    );

    std::fs::write(dir.join("bad.txt"), format!("ok\n{}\n", "y".repeat(33))).unwrap();
    let err = load_in(dir.clone(), &yaml.replace("vip.txt", "bad.txt")).unwrap_err();
    assert_eq!(
        err.problems,
        ["apps[0].watchlists[0].user_ids_file (bad.txt) line 2: UserID is 33 bytes, the limit is 32"]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn secret_files_may_live_in_the_credentials_directory_of_systemd() {
    let credentials = std::env::temp_dir().join(format!("tim-credentials-{}", std::process::id()));
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(credentials.join("prod-sg.key"), "credential-secret\n").unwrap();
    let dir = credentials.display().to_string();
    let env = |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| dir.clone());
    let sources = Sources {
        base_dir: PathBuf::from("/nonexistent"),
        env: &env,
    };
    for file in [
        "$CREDENTIALS_DIRECTORY/prod-sg.key",
        "${CREDENTIALS_DIRECTORY}/prod-sg.key",
    ] {
        let yaml = app("", LIST).replace("secret_key: k", &format!("secret_key_file: {file}"));
        let loaded = from_yaml(&yaml, &sources).unwrap();
        assert_eq!(
            loaded.config.apps[0].secret_key.expose(),
            "credential-secret"
        );
    }

    // Outside systemd the variable is unset: a clear problem, not a path under "/".
    let yaml = app("", LIST).replace(
        "secret_key: k",
        "secret_key_file: ${CREDENTIALS_DIRECTORY}/prod-sg.key",
    );
    assert_eq!(
        load(&yaml).unwrap_err().problems,
        [
            "apps[0].secret_key_file: ${CREDENTIALS_DIRECTORY}/prod-sg.key names \
          $CREDENTIALS_DIRECTORY, which is not set: systemd sets it for a service with \
          LoadCredential="
        ]
    );
    // Only a leading $CREDENTIALS_DIRECTORY/ is special.
    let yaml = app("", LIST).replace(
        "secret_key: k",
        "secret_key_file: keys/$CREDENTIALS_DIRECTORY",
    );
    let problems = load(&yaml).unwrap_err().problems;
    assert!(
        problems[0].contains("cannot read /nonexistent/keys/$CREDENTIALS_DIRECTORY"),
        "{problems:?}"
    );
    std::fs::remove_dir_all(credentials).unwrap();
}

#[test]
fn secrets_from_the_environment_and_never_in_debug() {
    let yaml = app("", LIST).replace("secret_key: k", "secret_key_env: TIM_TEST_KEY");
    let loaded = load(&yaml).unwrap();
    assert_eq!(loaded.config.apps[0].secret_key.expose(), "key-from-env");
    assert!(!format!("{:?}", loaded.config).contains("key-from-env"));
}

#[test]
fn warnings_do_not_stop_loading() {
    let yaml = format!(
        "{}      - name: removed\n        expect: not_imported\n        user_ids: [ops_bot, banned]\n",
        app("    timeout: 2s\n", "      - name: vip\n        user_ids: [ops_bot, ops_bot]\n")
    );
    let loaded = load(&yaml).unwrap();
    let warnings = loaded.warnings.join("\n");
    assert!(
        warnings.contains("apps[0].timeout: 2s is not longer than the server's own timeout"),
        "{warnings}"
    );
    assert!(
        warnings.contains("apps[0].watchlists[0].user_ids[1]: UserID \"ops_bot\" is listed twice"),
        "{warnings}"
    );
    assert!(
        warnings
            .contains("expected imported in watch list \"vip\" but not_imported in \"removed\""),
        "{warnings}"
    );
    let app = &loaded.config.apps[0];
    assert_eq!(app.distinct_user_ids(), ["ops_bot", "banned"]);
}

#[test]
fn loopback_endpoints_may_use_http() {
    for (endpoint, expected) in [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.9.9.9:1", "http://127.9.9.9:1"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        (
            "http://localhost:9000/prefix/",
            "http://localhost:9000/prefix",
        ),
        ("https://proxy.example.com", "https://proxy.example.com"),
    ] {
        let yaml = app(&format!("    endpoint: {endpoint}\n"), LIST);
        assert_eq!(load(&yaml).unwrap().config.apps[0].endpoint, expected);
    }
}

#[test]
fn numeric_looking_user_ids_are_strings() {
    let yaml = app("", "      - name: vip\n        user_ids: [10001, 007]\n");
    assert_eq!(
        load(&yaml).unwrap().config.apps[0].watchlists[0].user_ids,
        ["10001", "007"]
    );
}

#[test]
fn account_series_is_set_per_watch_list() {
    let lists = "      - name: a\n        account_series: all\n        user_ids: [x]\n      - name: p\n        account_series: problems\n        user_ids: [x]\n      - name: n\n        account_series: none\n        user_ids: [x]\n      - name: d\n        user_ids: [x]\n";
    let app = &load(&app("", lists)).unwrap().config.apps[0];
    let modes: Vec<_> = app.watchlists.iter().map(|l| l.account_series).collect();
    assert_eq!(
        modes,
        [
            AccountSeries::All,
            AccountSeries::Problems,
            AccountSeries::None,
            AccountSeries::All
        ]
    );
}
