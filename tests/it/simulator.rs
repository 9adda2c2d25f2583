//! The simulator checks requests as the real service does, and the client's requests pass those checks.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tim_account_exporter::sim::{Fault, SimAccount, SimOptions, SimPresence, SimStats, Simulator};
use tim_account_exporter::state::Status;
use tim_account_exporter::tim::wire::MAX_REPLY_BYTES;
use tim_account_exporter::tim::{usersig, ACCOUNT_CHECK_PATH, QUERY_ONLINE_STATUS_PATH};

use crate::support::*;

async fn post(url: String, body: &str) -> Value {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|body| serde_json::from_slice(&body).unwrap())
        .unwrap()
}

/// The URL of an API path on the simulator (the path constants differ in their leading slash).
fn api_url(sim: &Simulator, path: &str) -> String {
    format!("{}/{}", sim.endpoint(), path.trim_start_matches('/'))
}

/// A URL of `path` signed for the test app, with a fresh `random`.
fn signed_url(sim: &Simulator, path: &str) -> String {
    let sig = usersig::generate(SDKAPPID, ADMIN, KEY, unix_now(), 3600);
    format!(
        "{}?sdkappid={SDKAPPID}&identifier={ADMIN}&usersig={sig}&random={}&contenttype=json",
        api_url(sim, path),
        rand::random::<u32>()
    )
}

/// A query_online_status body for these UserIDs.
fn presence_body(ids: &[&str], detail: u8) -> String {
    json!({ "To_Account": ids, "IsNeedDetail": detail }).to_string()
}

/// A body with `count` UserIDs in the API's request shape.
fn body_of(api_path: &str, count: usize) -> String {
    let ids: Vec<String> = (0..count).map(|i| format!("u{i}")).collect();
    if api_path == ACCOUNT_CHECK_PATH {
        let items: Vec<Value> = ids.iter().map(|id| json!({ "UserID": id })).collect();
        json!({ "CheckItem": items }).to_string()
    } else {
        json!({ "To_Account": ids }).to_string()
    }
}

async fn post_presence(sim: &Simulator, ids: &[&str], detail: u8) -> Value {
    post(
        signed_url(sim, QUERY_ONLINE_STATUS_PATH),
        &presence_body(ids, detail),
    )
    .await
}

#[tokio::test]
async fn requests_are_checked_like_the_service_does() {
    let sim = start_sim().await;
    let good_sig = usersig::generate(SDKAPPID, ADMIN, KEY, unix_now(), 3600);
    let url = |path: &str,
               sdkappid: &str,
               identifier: &str,
               sig: &str,
               random: &str,
               contenttype: &str| {
        format!(
            "{}?sdkappid={sdkappid}&identifier={identifier}&usersig={sig}&random={random}&contenttype={contenttype}",
            api_url(&sim, path)
        )
    };
    let id = SDKAPPID.to_string();
    let other_admin_sig = usersig::generate(SDKAPPID, "someone", KEY, unix_now(), 3600);
    let expired = usersig::generate(SDKAPPID, ADMIN, KEY, unix_now() - 7200, 3600);
    let wrong_key = usersig::generate(SDKAPPID, ADMIN, "wrong", unix_now(), 3600);
    let other_app = usersig::generate(SDKAPPID + 1, ADMIN, KEY, unix_now(), 3600);
    // The query string, the UserSig and the admin are checked alike for both APIs.
    for path in [ACCOUNT_CHECK_PATH, QUERY_ONLINE_STATUS_PATH] {
        let body = body_of(path, 1);
        let cases: Vec<(String, i64)> = vec![
            (url(path, &id, ADMIN, &good_sig, "1", "json"), 0),
            (url(path, "999", ADMIN, &good_sig, "1", "json"), 70020),
            (url(path, &id, ADMIN, &good_sig, "1", "xml"), 60025),
            (
                url(path, &id, ADMIN, &good_sig, "4294967296", "json"),
                60002,
            ),
            (url(path, &id, ADMIN, &good_sig, "", "json"), 60002),
            (url(path, &id, ADMIN, "", "1", "json"), 70002),
            (url(path, &id, ADMIN, "garbage", "1", "json"), 70003),
            (url(path, &id, ADMIN, &expired, "1", "json"), 70001),
            (url(path, &id, ADMIN, &wrong_key, "1", "json"), 70009),
            (url(path, &id, ADMIN, &other_app, "1", "json"), 70014),
            (url(path, &id, ADMIN, &other_admin_sig, "1", "json"), 70013),
            (
                url(path, &id, "someone", &other_admin_sig, "1", "json"),
                60010,
            ),
        ];
        for (url, code) in cases {
            let reply = post(url.clone(), &body).await;
            assert_eq!(reply["ErrorCode"], code, "{url}: {reply}");
            let status = if code == 0 { "OK" } else { "FAIL" };
            assert_eq!(reply["ActionStatus"], status);
        }
    }
    // Then each API's body.
    let check = url(ACCOUNT_CHECK_PATH, &id, ADMIN, &good_sig, "1", "json");
    let presence = url(QUERY_ONLINE_STATUS_PATH, &id, ADMIN, &good_sig, "1", "json");
    let cases: Vec<(&String, String, i64)> = vec![
        (&check, "{not json".into(), 60003),
        (&check, body_of(ACCOUNT_CHECK_PATH, 0), 70206),
        (&check, body_of(ACCOUNT_CHECK_PATH, 100), 0),
        (&check, body_of(ACCOUNT_CHECK_PATH, 101), 70206),
        (&check, r#"{"CheckItem":[{"UserID":5}]}"#.into(), 60015),
        (&presence, "{not json".into(), 60003),
        (&presence, "{}".into(), 70402),
        (&presence, body_of(QUERY_ONLINE_STATUS_PATH, 0), 70402),
        (&presence, body_of(QUERY_ONLINE_STATUS_PATH, 500), 0),
        (&presence, body_of(QUERY_ONLINE_STATUS_PATH, 501), 70402),
        (
            &presence,
            r#"{"To_Account":["a"],"IsNeedDetail":2}"#.into(),
            70402,
        ),
        (&presence, r#"{"To_Account":[5]}"#.into(), 60015),
    ];
    for (url, body, code) in cases {
        let reply = post(url.clone(), &body).await;
        assert_eq!(reply["ErrorCode"], code, "{url} {body:.80}: {reply}");
        let status = if code == 0 { "OK" } else { "FAIL" };
        assert_eq!(reply["ActionStatus"], status);
    }
    let reply = post(
        format!("{}/v4/im_open_login_svc/nope?sdkappid={id}", sim.endpoint()),
        "{}",
    )
    .await;
    assert_eq!(reply["ErrorCode"], 60009);
}

#[tokio::test]
async fn presence_is_answered_in_the_documented_shape() {
    let sim = start_sim().await;
    sim.set_presence(SDKAPPID, "u2", SimPresence::push_online());
    sim.set_presence(SDKAPPID, "u3", SimPresence::offline());
    sim.set_account(SDKAPPID, "gone", SimAccount::NotImported);
    sim.set_presence(SDKAPPID, "gone", SimPresence::online());
    let ids = ["u1", "u2", "u3", "gone"];
    assert_eq!(
        post_presence(&sim, &ids, 1).await,
        json!({
            "ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0,
            "QueryResult": [
                {"To_Account": "u1", "Status": "Online",
                 "Detail": [{"Platform": "Android", "Status": "Online"}]},
                {"To_Account": "u2", "Status": "PushOnline",
                 "Detail": [{"Platform": "iPhone", "Status": "PushOnline"}]},
                {"To_Account": "u3", "Status": "Offline"}
            ],
            "ErrorList": [{"To_Account": "gone", "ErrorCode": 70107}]
        })
    );
    let without_detail = json!([
        {"To_Account": "u1", "Status": "Online"},
        {"To_Account": "u2", "Status": "PushOnline"},
        {"To_Account": "u3", "Status": "Offline"}
    ]);
    assert_eq!(
        post_presence(&sim, &ids, 0).await["QueryResult"],
        without_detail
    );
    let reply = post(
        signed_url(&sim, QUERY_ONLINE_STATUS_PATH),
        &json!({ "To_Account": ids }).to_string(),
    )
    .await;
    assert_eq!(reply["QueryResult"], without_detail);
    // Presence never changes what account_check says.
    let reply = post(
        signed_url(&sim, ACCOUNT_CHECK_PATH),
        r#"{"CheckItem":[{"UserID":"u3"},{"UserID":"gone"}]}"#,
    )
    .await;
    assert_eq!(reply["ResultItem"][0]["AccountStatus"], "Imported");
    assert_eq!(reply["ResultItem"][1]["AccountStatus"], "NotImported");

    let sim = Simulator::start(SimOptions {
        default_presence: SimPresence::offline(),
        ..sim_options()
    })
    .await
    .unwrap();
    let reply = post_presence(&sim, &["anyone"], 1).await;
    assert_eq!(
        reply["QueryResult"],
        json!([{"To_Account": "anyone", "Status": "Offline"}])
    );
}

#[tokio::test]
async fn each_api_has_its_own_rate_limit() {
    let sim = Simulator::start(SimOptions {
        rate_limit: 2,
        presence_rate_limit: 2,
        ..sim_options()
    })
    .await
    .unwrap();
    let check = || {
        post(
            signed_url(&sim, ACCOUNT_CHECK_PATH),
            r#"{"CheckItem":[{"UserID":"a"}]}"#,
        )
    };
    let mut codes = Vec::new();
    for _ in 0..2 {
        codes.push(check().await["ErrorCode"].clone());
    }
    for _ in 0..3 {
        codes.push(post_presence(&sim, &["a"], 0).await["ErrorCode"].clone());
    }
    codes.push(check().await["ErrorCode"].clone());
    // All six calls fell in one second, else the limits were not tested.
    let (check_stats, presence_stats) = (sim.stats(SDKAPPID), sim.presence_stats(SDKAPPID));
    assert_eq!(check_stats.max_requests_in_one_second, 3);
    assert_eq!(presence_stats.max_requests_in_one_second, 3);
    assert_eq!(codes, [0, 0, 0, 0, 60007, 60007]);
    let expected: HashMap<i64, usize> = [(0, 2), (60007, 1)].into();
    assert_eq!(check_stats.error_codes, expected);
    assert_eq!(presence_stats.error_codes, expected);
}

/// The statuses in `QueryResult` and the codes in `ErrorList`, as `user status` strings.
fn answered(reply: &Value) -> (Vec<String>, Vec<String>) {
    let list = |key: &str, field: &str| -> Vec<String> {
        reply[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {reply}"))
            .iter()
            .map(|item| {
                let value = &item[field];
                let value = value.as_str().map_or(value.to_string(), str::to_owned);
                format!("{} {value}", item["To_Account"].as_str().unwrap())
            })
            .collect()
    };
    (
        list("QueryResult", "Status"),
        list("ErrorList", "ErrorCode"),
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn every_fault_applies_to_presence() {
    let sim = Simulator::start(SimOptions {
        hang: Duration::from_secs(2),
        ..sim_options()
    })
    .await
    .unwrap();
    sim.set_presence(SDKAPPID, "b", SimPresence::push_online());
    sim.push_presence_faults(SDKAPPID, Fault::ONE_OF_EACH);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let body = presence_body(&["a", "b"], 0);
    let (a_and_b, none) = (strings(&["a Online", "b PushOnline"]), Vec::<String>::new());
    for fault in Fault::ONE_OF_EACH {
        let request = http
            .post(signed_url(&sim, QUERY_ONLINE_STATUS_PATH))
            .header("content-type", "application/json")
            .body(body.clone());
        if fault == Fault::Timeout {
            let error = request
                .timeout(Duration::from_millis(300))
                .send()
                .await
                .unwrap_err();
            assert!(error.is_timeout(), "{fault}: {error}");
            continue;
        }
        let mut response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if fault == Fault::OversizedChunked {
            assert_eq!(status, 200);
            assert!(response.content_length().is_none());
            let mut read = Vec::new();
            while read.len() <= MAX_REPLY_BYTES {
                read.extend_from_slice(&response.chunk().await.unwrap().expect("endless"));
            }
            assert!(read.starts_with(br#"{"ActionStatus":"OK""#), "{fault}");
            continue;
        }
        let bytes = response.bytes().await.unwrap();
        let parsed = serde_json::from_slice::<Value>(&bytes);
        match fault {
            Fault::Http502 => assert_eq!(status, 502),
            Fault::NotJson => assert!(bytes.starts_with(b"<html>") && status == 200),
            Fault::Malformed => {
                assert!(parsed.is_err() && bytes.starts_with(b"{") && status == 200)
            }
            Fault::Oversized => {
                assert!(bytes.len() > MAX_REPLY_BYTES);
                assert_eq!(answered(&parsed.unwrap()), (a_and_b.clone(), none.clone()));
            }
            Fault::Code(code) => {
                let reply = parsed.unwrap();
                assert_eq!(
                    (reply["ActionStatus"].as_str(), reply["ErrorCode"].as_i64()),
                    (Some("FAIL"), Some(code))
                );
            }
            item_fault => {
                let expected = match item_fault {
                    Fault::ItemError => (strings(&["b PushOnline"]), strings(&["a 70500"])),
                    Fault::MissingItem => (strings(&["b PushOnline"]), none.clone()),
                    Fault::ExtraItem => (
                        strings(&["a Online", "b PushOnline", "sim_unrequested_user Online"]),
                        none.clone(),
                    ),
                    Fault::Reorder => (strings(&["b PushOnline", "a Online"]), none.clone()),
                    Fault::Conflict => (
                        strings(&["a Online", "b PushOnline", "a Offline"]),
                        none.clone(),
                    ),
                    Fault::BadStatus => (strings(&["a Busy", "b PushOnline"]), none.clone()),
                    other => panic!("no expectation for {other}"),
                };
                assert_eq!(answered(&parsed.unwrap()), expected, "{fault}");
            }
        }
    }
    // The queue is used up, and account_check had a queue of its own.
    assert_eq!(
        answered(&post_presence(&sim, &["a", "b"], 0).await),
        (a_and_b, none)
    );
    let reply = post(
        signed_url(&sim, ACCOUNT_CHECK_PATH),
        r#"{"CheckItem":[{"UserID":"a"},{"UserID":"b"}]}"#,
    )
    .await;
    assert_eq!(reply["ResultItem"].as_array().map(Vec::len), Some(2));
    assert_eq!(sim.stats(SDKAPPID).error_codes, [(0, 1)].into());
}

/// The status and body of `/sim/stats?{query}`.
async fn stats_served(sim: &Simulator, query: &str) -> (u16, String) {
    let response = reqwest::get(format!("{}/sim/stats?{query}", sim.endpoint()))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn stats_are_kept_per_api() {
    let sim = start_sim().await;
    post(
        signed_url(&sim, ACCOUNT_CHECK_PATH),
        &body_of(ACCOUNT_CHECK_PATH, 3),
    )
    .await;
    for count in [5, 2, 501] {
        post(
            signed_url(&sim, QUERY_ONLINE_STATUS_PATH),
            &body_of(QUERY_ONLINE_STATUS_PATH, count),
        )
        .await;
    }
    let check = sim.stats(SDKAPPID);
    assert_eq!((check.requests, check.items, check.max_items), (1, 3, 3));
    assert_eq!(check.error_codes, [(0, 1)].into());
    let presence = sim.presence_stats(SDKAPPID);
    assert_eq!(
        (presence.requests, presence.items, presence.max_items),
        (3, 7, 5)
    );
    assert_eq!(presence.error_codes, [(0, 2), (70402, 1)].into());
    assert_eq!((presence.distinct_randoms, presence.json_requests), (3, 3));
    // The HTTP endpoint: account_check by default, either API by name.
    let json_of = |stats: &SimStats| serde_json::to_value(stats).unwrap();
    for (query, stats) in [
        (format!("sdkappid={SDKAPPID}"), &check),
        (format!("sdkappid={SDKAPPID}&api=account_check"), &check),
        (
            format!("sdkappid={SDKAPPID}&api=query_online_status"),
            &presence,
        ),
    ] {
        let (status, text) = stats_served(&sim, &query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json_of(stats),
            "{query}"
        );
    }
    assert_eq!(
        stats_served(&sim, &format!("sdkappid={SDKAPPID}&api=kick"))
            .await
            .0,
        400
    );
    sim.reset_stats(SDKAPPID);
    assert_eq!(sim.stats(SDKAPPID), SimStats::default());
    assert_eq!(sim.presence_stats(SDKAPPID), SimStats::default());
}

#[tokio::test]
async fn wrong_credentials_are_unknown_and_not_retried() {
    let sim = start_sim().await;
    let yaml = app_yaml(
        &sim.endpoint(),
        "    retries: 3\n",
        &list_yaml("vip", "imported", &["a".into()]),
    );
    for (from, to, code) in [
        (KEY, "another-key", "70009"),
        ("sdkappid: 1400000000", "sdkappid: 1400000009", "70020"),
        ("admin: administrator", "admin: someone", "60010"),
    ] {
        let app = app_config(&yaml.replace(from, to));
        let before = sim.stats(SDKAPPID).requests;
        let report = run_cycle(&app).await;
        assert_eq!(status_of(&report, "a"), Status::Unknown);
        assert_eq!(error_code_of(&report, "a").as_deref(), Some(code));
        assert!(sim.stats(SDKAPPID).requests - before <= 1);
        assert_eq!(report.attempts.len(), 1);
    }
}

#[tokio::test]
async fn the_client_request_is_the_documented_one() {
    // The simulator answers 0 only when every parameter, the UserSig and the body are right.
    let sim = start_sim().await;
    sim.push_faults(SDKAPPID, [Fault::Http502, Fault::Code(70169)]);
    let report = run_cycle(&simple_app(&sim, "", &ids("u", 3))).await;
    assert!(report.success);
    let stats = sim.stats(SDKAPPID);
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.error_codes.get(&0), Some(&1));
    // A fresh random for every attempt, and the JSON content type on each.
    assert_eq!(stats.distinct_randoms, 3);
    assert_eq!(stats.json_requests, 3);
    let sigs = sim.usersigs_seen();
    assert_eq!(sigs.len(), 1);
    assert!(usersig::verify(&sigs[0], SDKAPPID, ADMIN, KEY, unix_now()).is_ok());
}
