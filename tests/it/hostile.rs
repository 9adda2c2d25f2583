//! Idle, slow and oversized clients cannot stop `/metrics` from answering: the daemon
//! (the binary) bounds connections, header read time and header size.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn config_file(
    sim: &tim_account_exporter::sim::Simulator,
) -> (tempfile::TempDir, std::path::PathBuf) {
    write_config(&app_yaml(
        &sim.endpoint(),
        "",
        &list_yaml("vip", "imported", &["alice".into()]),
    ))
}

#[tokio::test]
async fn five_hundred_idle_and_slow_connections_do_not_stop_scrapes() {
    let sim = start_sim().await;
    let (_dir, path) = config_file(&sim);
    let config = path.display().to_string();
    let mut daemon = DaemonProcess::start(&["--config.file", &config]);
    get_until(&daemon.url("/-/ready"), Duration::from_secs(20), |s, _| {
        s == 200
    })
    .await;

    // 250 connections that say nothing, 250 that start a request and never finish it.
    let mut held = Vec::new();
    for i in 0..500 {
        let mut stream = TcpStream::connect(daemon.addr).await.expect("connects");
        if i % 2 == 1 {
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
                .await
                .unwrap();
        }
        held.push(stream);
    }
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(daemon.url("/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("a scrape is answered while 500 connections are held");
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("tim_account_status{"));
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(held);
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(6)), Some(0));
}

#[tokio::test]
async fn clients_that_send_nothing_or_never_finish_their_headers_are_cut_off() {
    let sim = start_sim().await;
    let (_dir, path) = config_file(&sim);
    let config = path.display().to_string();
    let daemon = DaemonProcess::start(&["--config.file", &config]);
    let mut stream = TcpStream::connect(daemon.addr).await.unwrap();
    let mut idle = TcpStream::connect(daemon.addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: slow\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let limit = tim_account_exporter::web::HEADER_READ_TIMEOUT + Duration::from_secs(5);
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(limit, stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the slow connection was not closed");
    let mut nothing = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut nothing)).await;
    assert!(closed.is_ok(), "the idle connection was not closed");
    assert!(
        started.elapsed()
            >= tim_account_exporter::web::HEADER_READ_TIMEOUT - Duration::from_secs(1),
        "closed after {:?}",
        started.elapsed()
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "no answer to an unfinished request"
    );
}

#[tokio::test]
async fn oversized_request_headers_are_refused() {
    let sim = start_sim().await;
    let (_dir, path) = config_file(&sim);
    let config = path.display().to_string();
    let daemon = DaemonProcess::start(&["--config.file", &config]);
    let mut stream = TcpStream::connect(daemon.addr).await.unwrap();
    let huge = "x".repeat(tim_account_exporter::web::MAX_HEADER_BYTES * 2);
    let request = format!("GET /metrics HTTP/1.1\r\nHost: big\r\nX-Big: {huge}\r\n\r\n");
    // The server may stop reading before all of it is written.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("200 OK"), "{answer}");
    // A scrape right after is answered as usual.
    let (status, _) = (
        reqwest::get(daemon.url("/metrics")).await.unwrap().status(),
        (),
    );
    assert_eq!(status, 200);
}
