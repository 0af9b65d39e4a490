//! Churn against a scripted server on a loopback port: refusals are retried, counted and given up on.

use std::time::{Duration, Instant};

use arena_protocol::{NetId, PlayerId, RoundStart, ServerMsg, Welcome, encode};
use fastwebsockets::{Frame, OpCode, Payload};
use hyper::Request;
use hyper::body::Incoming as Body;
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::TcpListener;

use super::*;
use crate::bot::join::join;
use crate::bot::retry::LossCause;

/// Play time that does not run out during a test.
const LONG: Duration = Duration::from_secs(30);

/// How the scripted server answers one connection.
#[derive(Clone, Copy)]
enum Answer {
    Welcome,
    Refuse(u16),
}

fn welcome() -> Welcome {
    Welcome {
        protocol_version: arena_protocol::PROTOCOL_VERSION,
        player_id: PlayerId(7),
        net_id: NetId(7),
        room_id: "r".into(),
        room_name: "room r".into(),
        tick_rate_hz: 30,
        snapshot_rate_hz: 30,
        arena_size: glam::Vec2::new(1000.0, 1000.0),
        player_radius: 16.0,
        projectile_radius: 4.0,
        player_speed: 200.0,
        max_health: 100,
        spectator: false,
        round: RoundStart { round: 1, score_limit: 10, time_limit_s: 300 },
    }
}

/// A server that answers its connections in `script` order; returns its `ws://` URL.
async fn scripted_server(script: Vec<Answer>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws?v=1&name=bot-0&token=t", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for answer in script {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(move |mut request: Request<Body>| async move {
                let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut request)?;
                tokio::spawn(async move {
                    let mut ws = upgrade.await.unwrap();
                    let frame = match answer {
                        Answer::Welcome => Frame::binary(Payload::Owned(encode(&ServerMsg::Welcome(welcome())))),
                        Answer::Refuse(code) => Frame::close(code, format!("refused with {code}").as_bytes()),
                    };
                    ws.write_frame(frame).await.unwrap();
                    // Hold the connection until the bot drops it.
                    while ws.read_frame().await.is_ok_and(|f| f.opcode != OpCode::Close) {}
                });
                Ok::<_, fastwebsockets::WebSocketError>(response)
            });
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::spawn(connection.with_upgrades());
        }
    });
    url
}

/// Join the scripted server, then churn once with `retries` allowed and `play` time left.
async fn churn_once(script: Vec<Answer>, retries: u32, play: Duration) -> (Result<(), String>, Reconnections) {
    let mut config = BotConfig::new(scripted_server(script).await, play);
    config.reconnect_retries = retries;
    let mut rng = StdRng::seed_from_u64(1);
    let (client, welcome) = join(&config, &config.url).await.expect("first join");
    let connection = Connection::new(client, welcome, &config, &mut rng);
    let mut tally = Reconnections::default();
    let deadline = Instant::now() + config.duration;
    let back = drop_and_rejoin(&config, connection, deadline, &mut rng, &mut tally).await;
    (back.map(|_| ()).map_err(|lost| lost.error), tally)
}

#[tokio::test]
async fn a_full_room_is_retried_with_back_off_until_it_takes_the_bot_back() {
    let script = vec![Answer::Welcome, Answer::Refuse(4001), Answer::Refuse(4001), Answer::Welcome];
    let started = Instant::now();
    let (back, tally) = churn_once(script, 5, LONG).await;
    assert_eq!(back, Ok(()));
    assert!(started.elapsed() >= Duration::from_millis(750), "waited 250 ms, then 500 ms");
    assert_eq!((tally.attempted, tally.granted_first_try, tally.granted_after_retry), (1, 0, 1));
    assert_eq!((tally.retries, tally.refused_total(), tally.reclaimed), (2, 2, 1));
    assert_eq!(tally.refused[&4001].example, "refused with 4001");
}

#[tokio::test]
async fn a_refusal_that_is_not_retryable_loses_the_bot_at_once() {
    let (back, tally) = churn_once(vec![Answer::Welcome, Answer::Refuse(1008)], 5, LONG).await;
    assert_eq!(
        back.unwrap_err(),
        "reconnect: no welcome: closed with 1008: refused with 1008 (not retryable, 0 retries)"
    );
    assert_eq!((tally.attempted, tally.granted(), tally.retries), (1, 0, 0));
    assert_eq!(tally.lost, [(LossCause::NotRetryable, 1)].into());
}

#[tokio::test]
async fn with_no_retries_the_first_refusal_loses_the_bot_as_before() {
    let (back, tally) = churn_once(vec![Answer::Welcome, Answer::Refuse(4001), Answer::Welcome], 0, LONG).await;
    assert!(back.is_err());
    assert_eq!(tally.lost, [(LossCause::RetriesExhausted, 1)].into());
    assert_eq!(tally.refused_total(), 1);
}

#[tokio::test]
async fn no_retry_is_due_after_the_end_of_play() {
    let script = vec![Answer::Welcome, Answer::Refuse(4001), Answer::Welcome];
    let (back, tally) = churn_once(script, 5, Duration::from_millis(100)).await;
    assert!(back.unwrap_err().ends_with("(play time ended, 0 retries)"));
    assert_eq!(tally.lost, [(LossCause::PlayTimeEnded, 1)].into());
}
