//! The simulator checks requests as the real service does, and the client's requests pass those checks.

use tim_account_exporter::sim::Fault;
use tim_account_exporter::state::Status;
use tim_account_exporter::tim::{usersig, ACCOUNT_CHECK_PATH};

use crate::support::*;

async fn post(url: String, body: &str) -> serde_json::Value {
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

#[tokio::test]
async fn requests_are_checked_like_the_service_does() {
    let sim = start_sim().await;
    let good_sig = usersig::generate(SDKAPPID, ADMIN, KEY, unix_now(), 3600);
    let url = |sdkappid: &str, identifier: &str, sig: &str, random: &str, contenttype: &str| {
        format!(
            "{}{ACCOUNT_CHECK_PATH}?sdkappid={sdkappid}&identifier={identifier}&usersig={sig}&random={random}&contenttype={contenttype}",
            sim.endpoint()
        )
    };
    let id = SDKAPPID.to_string();
    let body = r#"{"CheckItem":[{"UserID":"a"}]}"#;
    let hundred_one = format!(
        r#"{{"CheckItem":[{}]}}"#,
        (0..101)
            .map(|i| format!(r#"{{"UserID":"u{i}"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let other_admin_sig = usersig::generate(SDKAPPID, "someone", KEY, unix_now(), 3600);
    let expired = usersig::generate(SDKAPPID, ADMIN, KEY, unix_now() - 7200, 3600);
    let wrong_key = usersig::generate(SDKAPPID, ADMIN, "wrong", unix_now(), 3600);
    let other_app = usersig::generate(SDKAPPID + 1, ADMIN, KEY, unix_now(), 3600);
    let cases: Vec<(String, &str, i64)> = vec![
        (url(&id, ADMIN, &good_sig, "1", "json"), body, 0),
        (url("999", ADMIN, &good_sig, "1", "json"), body, 70020),
        (url(&id, ADMIN, &good_sig, "1", "xml"), body, 60025),
        (
            url(&id, ADMIN, &good_sig, "4294967296", "json"),
            body,
            60002,
        ),
        (url(&id, ADMIN, &good_sig, "", "json"), body, 60002),
        (url(&id, ADMIN, "", "1", "json"), body, 70002),
        (url(&id, ADMIN, "garbage", "1", "json"), body, 70003),
        (url(&id, ADMIN, &expired, "1", "json"), body, 70001),
        (url(&id, ADMIN, &wrong_key, "1", "json"), body, 70009),
        (url(&id, ADMIN, &other_app, "1", "json"), body, 70014),
        (url(&id, ADMIN, &other_admin_sig, "1", "json"), body, 70013),
        (
            url(&id, "someone", &other_admin_sig, "1", "json"),
            body,
            60010,
        ),
        (url(&id, ADMIN, &good_sig, "1", "json"), "{not json", 60003),
        (
            url(&id, ADMIN, &good_sig, "1", "json"),
            r#"{"CheckItem":[]}"#,
            70206,
        ),
        (url(&id, ADMIN, &good_sig, "1", "json"), &hundred_one, 70206),
        (
            url(&id, ADMIN, &good_sig, "1", "json"),
            r#"{"CheckItem":[{"UserID":5}]}"#,
            60015,
        ),
    ];
    for (url, body, code) in cases {
        let reply = post(url.clone(), body).await;
        assert_eq!(reply["ErrorCode"], code, "{url} {body}: {reply}");
        let status = if code == 0 { "OK" } else { "FAIL" };
        assert_eq!(reply["ActionStatus"], status);
    }
    let reply = post(
        format!("{}/v4/im_open_login_svc/nope?sdkappid={id}", sim.endpoint()),
        body,
    )
    .await;
    assert_eq!(reply["ErrorCode"], 60009);
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
