//! Loading for one shard: the shard's own UserIDs, its share of the rates, and the
//! capacity check on that share.

use std::path::PathBuf;

use super::{from_yaml_for_shard, ConfigError, Loaded, Sources};
use crate::shard::Shard;

fn load(yaml: &str, shard: Shard) -> Result<Loaded, ConfigError> {
    let no_env = |_: &str| None;
    from_yaml_for_shard(
        yaml,
        &Sources {
            base_dir: PathBuf::from("/nonexistent"),
            env: &no_env,
        },
        shard,
    )
}

fn app(settings: &str, ids: &[String]) -> String {
    format!(
        "apps:\n  - name: prod-sg\n    sdkappid: 1400000000\n    region: singapore\n    admin: administrator\n    secret_key: k\n{settings}    watchlists:\n      - name: vip\n        user_ids: [{}]\n      - name: bots\n        presence: online\n        user_ids: [ops_bot, alert_bot]\n",
        ids.join(", ")
    )
}

fn ids(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("u{i}")).collect()
}

#[test]
fn each_shard_keeps_its_own_user_ids_and_a_share_of_the_rates() {
    let all = ids(300);
    let yaml = app("    rate_limit: 100\n    presence_rate_limit: 50\n", &all);
    let mut seen = Vec::new();
    for ordinal in 0..3 {
        let shard = Shard::new(ordinal, 3).unwrap();
        let config = load(&yaml, shard).unwrap().config;
        assert_eq!(config.shard, shard);
        let app = &config.apps[0];
        assert_eq!(app.rate_limit.get(), 33);
        assert_eq!(app.presence_rate_limit.get(), 16);
        // Both lists are kept, each with only this shard's UserIDs (possibly none).
        assert_eq!(app.watchlists.len(), 2);
        for list in &app.watchlists {
            assert!(list.user_ids.iter().all(|id| shard.owns(id)), "{list:?}");
        }
        seen.extend(app.distinct_user_ids().into_iter().map(str::to_owned));
    }
    // Together the shards hold every UserID exactly once.
    seen.sort();
    let mut expected: Vec<String> = all;
    expected.extend(["ops_bot".to_owned(), "alert_bot".to_owned()]);
    expected.sort();
    assert_eq!(seen, expected);
    // alert_bot is shard 2's among 3 (see the fixed vectors), ops_bot shard 0's.
    let bots = |ordinal| {
        load(&yaml, Shard::new(ordinal, 3).unwrap())
            .unwrap()
            .config
            .apps[0]
            .watchlists[1]
            .user_ids
            .clone()
    };
    assert_eq!(bots(0), ["ops_bot"]);
    assert!(bots(1).is_empty());
    assert_eq!(bots(2), ["alert_bot"]);
    let unsharded = load(&yaml, Shard::NONE).unwrap().config;
    assert_eq!(unsharded.apps[0].rate_limit.get(), 100);
    assert_eq!(unsharded.apps[0].distinct_user_ids().len(), 302);
}

#[test]
fn every_user_id_is_validated_whichever_shard_owns_it() {
    let mut all = ids(10);
    all.push("x".repeat(40));
    for ordinal in 0..3 {
        let err = load(&app("", &all), Shard::new(ordinal, 3).unwrap()).unwrap_err();
        assert!(
            err.problems[0].contains("UserID is 40 bytes"),
            "{:?}",
            err.problems
        );
    }
}

#[test]
fn the_capacity_check_uses_the_shards_share() {
    // 1,000 UserIDs at rate_limit 5 in an 8 s interval fit unsharded (10 calls, the last
    // starting after 1.836 s, then a 5 s timeout). Among 3 shards each has a third of the
    // UserIDs (4 calls for a shard with more than 300) but only 1 call/s: the last starts
    // after 3.03 s, which with the timeout does not fit.
    let yaml = app(
        "    rate_limit: 5\n    interval: 8s\n    timeout: 5s\n",
        &ids(1000),
    );
    assert!(load(&yaml, Shard::NONE).is_ok());
    let mut refused = 0;
    for ordinal in 0..3 {
        let shard = Shard::new(ordinal, 3).unwrap();
        let mine = ids(1000)
            .iter()
            .map(String::as_str)
            .chain(["ops_bot", "alert_bot"])
            .filter(|id| shard.owns(id))
            .count();
        match load(&yaml, shard) {
            Ok(_) => assert!(mine <= 300, "shard {ordinal} holds {mine}"),
            Err(err) => {
                refused += 1;
                assert_eq!(
                    err.problems,
                    [format!("apps[0]: {mine} distinct UserIDs need 4 account_check calls per cycle; at rate_limit 1 (shard {ordinal} of 3's share) the last starts after 3s 60ms and may take the timeout of 5s, which does not fit in the interval of 8s; raise rate_limit or interval")]
                );
            }
        }
    }
    assert!(refused > 0);
}

#[test]
fn a_rate_below_the_number_of_shards_is_warned_about() {
    let yaml = app("    rate_limit: 2\n", &ids(10));
    let loaded = load(&yaml, Shard::new(0, 3).unwrap()).unwrap();
    assert_eq!(
        loaded.warnings,
        ["apps[0].rate_limit: 2 is less than the 3 shards: each paces at 1 call/s, 3 together"]
    );
    assert_eq!(loaded.config.apps[0].rate_limit.get(), 1);
    assert!(load(&yaml, Shard::NONE).unwrap().warnings.is_empty());
}
