//! Native TLS (`--tls-cert`/`--tls-key`): HTTPS and WSS on one port, plain HTTP cut,
//! the certificate reloaded from its files, and the plain-HTTP redirect.

use std::time::Duration;

use arena_bots::{LoadConfig, Placement, run_load};
use arena_protocol::ServerMsg;
use arena_protocol::lobby::RoomList;
use rcgen::KeyPair;
use rustls_pki_types::CertificateDer;
use tokio::net::TcpStream;

use crate::util::http::http_get;
use crate::util::pki::{TestPki, https_request};
use crate::util::{TestServer, WAIT, eventually, free_loopback_addr};

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn health_answers_over_https() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    let (answer, _) = https_request(&pki, server.addr, &get("/health")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn matchmaking_over_native_tls_hands_out_wss_urls() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    let request = "POST /api/matchmake HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                   Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    let (answer, _) = https_request(&pki, server.addr, request).await.unwrap();
    assert!(answer.contains("\"ws_url\":\"wss://"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_bot_plays_over_wss_with_the_ca_it_is_given() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    arena_bots::connect::trust_ca(&pki.ca_path()).unwrap();
    let url = format!("wss://localhost:{}/ws", server.addr.port());
    let mut client = arena_bots::ArenaClient::connect(&url).await.unwrap();
    client.recv_until(WAIT, |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.unwrap();
    drop(client);
    server.shutdown().await;
}

/// `arena-bots --url wss://… --ca … --rooms 2` and `--matchmake`: the lobby API calls go over HTTPS too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_make_rooms_and_matchmake_over_https() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    arena_bots::connect::trust_ca(&pki.ca_path()).unwrap();
    let url = format!("wss://localhost:{}/ws", server.addr.port());
    for placement in [Placement::Rooms(2), Placement::Matchmake] {
        let config =
            LoadConfig { placement: placement.clone(), ..LoadConfig::new(url.clone(), 4, Duration::from_secs(1)) };
        let run = run_load(config, Default::default()).await.expect("the lobby API answers over https");
        assert_eq!(run.totals.connected, 4, "{placement:?}: {:?}", run.totals.errors);
        assert!(run.totals.snapshots > 0, "{placement:?}: the bots played");
    }
    let (list, _) = https_request(&pki, server.addr, &get("/api/rooms")).await.unwrap();
    let list: RoomList = serde_json::from_str(list.split_once("\r\n\r\n").unwrap().1).unwrap();
    let names: Vec<&str> = list.rooms.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"bots 0") && names.contains(&"bots 1"), "--rooms 2 made its rooms over https: {names:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_sent_to_the_tls_port_is_cut_not_left_hanging() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    let answer = tokio::time::timeout(WAIT, http_get(server.addr, "/health")).await.expect("cut, not left hanging");
    assert_ne!(answer.status, 200, "plain HTTP must not be served on the TLS port");
    server.shutdown().await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_bad_one_is_not() {
    let pki = TestPki::new();
    let first = CertificateDer::from(std::fs::read(pki.cert()).map(|pem| pem_der(&pem)).unwrap());
    let server = TestServer::start_with(pki.config(&[])).await;
    let (_, seen) = https_request(&pki, server.addr, &get("/health")).await.unwrap();
    assert_eq!(seen, first);

    let renewed = pki.issue();
    eventually("the renewed certificate to be served", Duration::from_secs(15), async || {
        https_request(&pki, server.addr, &get("/health")).await.is_ok_and(|(_, seen)| seen == renewed)
    })
    .await;

    // A key that does not fit (and then a broken file) keeps the renewed pair.
    std::fs::write(pki.key(), KeyPair::generate().unwrap().serialize_pem()).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    std::fs::write(pki.cert(), "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (answer, seen) = https_request(&pki, server.addr, &get("/health")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(seen, renewed, "a bad pair must not replace the one in use");
    server.shutdown().await;
}

#[tokio::test]
async fn the_redirect_port_sends_plain_http_to_https() {
    let pki = TestPki::new();
    let redirect = free_loopback_addr();
    let server = TestServer::start_with(pki.config(&["--http-redirect-addr", &redirect.to_string()])).await;
    eventually("the redirect listener", WAIT, async || TcpStream::connect(redirect).await.is_ok()).await;
    let response =
        crate::util::http::http_request(redirect, "GET /play?room=a HTTP/1.1\r\nHost: localhost:80\r\n\r\n").await;
    assert_eq!(response.status, 308, "{}", response.headers);
    let expected = format!("https://localhost:{}/play?room=a", server.addr.port());
    assert_eq!(response.header("location"), Some(expected.as_str()));
    server.shutdown().await;
}

/// The DER inside a one-certificate PEM file.
fn pem_der(pem: &[u8]) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem).unwrap().to_vec()
}
