//! The real `arena-server` binary: drain on SIGTERM, and a hostile crowd that must
//! not hurt a normal player or grow the server's memory.

use std::time::{Duration, Instant};

use arena_bots::{ArenaClient, BotConfig, run_bot};
use arena_protocol::close_code;
use fastwebsockets::{Frame, Payload};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::util::http::{create_room, http_get};
use crate::util::process::{resident_bytes, spawn_server};
use crate::util::ws::playing;
use crate::util::{WAIT, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_players_logs_rounds_and_exits_zero() {
    let results_log = std::env::temp_dir().join(format!("arena-drain-{}.jsonl", std::process::id()));
    let mut server = spawn_server(&["--results-log", results_log.to_str().unwrap()]).await;
    let room = create_room(server.addr, r#"{"name": "Drained"}"#).await;
    let url = format!("ws://{}/ws?room={}&name=p", server.addr, room.id);
    let mut players = Vec::new();
    for _ in 0..2 {
        players.push(playing(&url).await);
    }
    assert_eq!(http_get(server.addr, "/ready").await.status, 200);

    let pid = server.child.id().unwrap();
    let killed = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await.unwrap();
    assert!(killed.success());
    for player in &mut players {
        let (code, reason) = player.recv_close(WAIT).await.unwrap();
        assert_eq!((code, reason.as_str()), (close_code::GOING_AWAY, "server shutting down"));
    }
    let status =
        tokio::time::timeout(Duration::from_secs(15), server.child.wait()).await.expect("exited in time").unwrap();
    assert!(status.success(), "exit status {status}");

    let log = std::fs::read_to_string(&results_log).unwrap();
    let line = log.lines().find(|l| l.contains(&room.id)).expect("the round in progress was logged");
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(record["reason"], "room_closed");
    assert_eq!(record["players"].as_array().unwrap().len(), 2);
    // Read the log to its end: the task forwarding its lines may not have sent the last ones yet.
    let mut summary = false;
    while let Some(line) = tokio::time::timeout(WAIT, server.log.recv()).await.expect("the log ended in time") {
        summary |= line.contains("drained");
    }
    assert!(summary, "the log ends with a drain summary");
    let _ = std::fs::remove_file(results_log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_crowd_costs_a_normal_player_nothing_and_memory_stays_bounded() {
    let server =
        spawn_server(&["--slow-client-timeout-s", "1", "--handshake-timeout-s", "1", "--input-rate", "60"]).await;
    let pid = server.child.id().unwrap();
    let room = create_room(server.addr, r#"{"name": "Crowd", "capacity": 1000}"#).await;
    let ws = format!("ws://{}/ws?room={}", server.addr, room.id);
    // Warm up: one player's worth of allocations before measuring.
    let warm = run_bot(BotConfig::new(format!("{ws}&name=warmup"), Duration::from_secs(1)), Instant::now()).await;
    assert!(warm.connected);
    let rss_before = resident_bytes(pid);

    let player =
        tokio::spawn(run_bot(BotConfig::new(format!("{ws}&name=normal"), Duration::from_secs(8)), Instant::now()));
    let mut hostile = Vec::new();
    // Garbage senders, each closed with a protocol code.
    for i in 0..60u8 {
        let ws = ws.clone();
        hostile.push(tokio::spawn(async move {
            let mut c = ArenaClient::connect(&ws).await.unwrap();
            c.send_frame(Frame::binary(Payload::Owned(vec![0xc1, i, 0xff]))).await.unwrap();
            let (code, _) = c.recv_close(WAIT).await.unwrap();
            assert_eq!(code, close_code::INVALID_PAYLOAD);
        }));
    }
    // Clients that never read: the server must drop them, not buffer for them.
    let mut never_read = Vec::new();
    for _ in 0..40 {
        never_read.push(ArenaClient::connect(&ws).await.unwrap());
    }
    // Connect-and-vanish churn: TCP only, half a request head, and upgrades dropped at once.
    for round in 0..300 {
        let addr = server.addr;
        let ws = ws.clone();
        hostile.push(tokio::spawn(async move {
            match round % 3 {
                0 => drop(tokio::net::TcpStream::connect(addr).await),
                1 => {
                    if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                        let _ = s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgr").await;
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                    }
                }
                _ => drop(ArenaClient::connect(&ws).await),
            }
        }));
    }
    for task in hostile {
        task.await.unwrap();
    }
    let stats = player.await.unwrap();
    drop(never_read);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = resident_bytes(pid);
    eprintln!("hostile suite: server RSS before {} KiB, after {} KiB", rss_before >> 10, rss_after >> 10);

    assert!(stats.connected && stats.protocol_errors.is_empty(), "{:?}", stats.protocol_errors);
    let rate = stats.snapshot_rate_hz().unwrap();
    assert!(rate >= 0.75 * 30.0, "the normal player got {rate:.1} snapshots/s");
    // Wide margin: a leak per hostile connection would show as hundreds of MiB.
    assert!(rss_after < rss_before + (64 << 20), "RSS grew from {rss_before} to {rss_after} bytes");
    let health = http_get(server.addr, "/health").await;
    assert_eq!(health.status, 200);
}

/// Room threads ask for a nice value below the I/O workers' (`--room-thread-nice`)
/// where the system allows it (CAP_SYS_NICE or RLIMIT_NICE, as this test process
/// finds by trying); where it does not, they run at the default and the log says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_threads_run_ahead_of_the_io_workers_where_the_system_allows() {
    let allowed = std::thread::spawn(|| {
        // SAFETY: setpriority only reads its arguments (0: this thread, on Linux).
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -7) == 0 }
    })
    .join()
    .unwrap();
    let mut server = spawn_server(&["--room-thread-nice", "-7"]).await;
    let pid = server.child.id().unwrap();
    let room = create_room(server.addr, r#"{"name": "Ahead"}"#).await;
    // The kernel keeps 15 bytes of a thread's name.
    let room_thread: String = format!("room-{}", room.id).chars().take(15).collect();
    // The server starts at whatever nice value this test runs at.
    let baseline = threads_and_nice(pid).into_iter().find(|(name, _)| name == "arena-server").expect("main thread").1;
    let expected = if allowed { -7 } else { baseline };
    eventually(&format!("{room_thread} at nice {expected}"), WAIT, async || {
        threads_and_nice(pid).iter().any(|(name, nice)| *name == room_thread && *nice == expected)
    })
    .await;
    let seen = threads_and_nice(pid);
    let workers: Vec<_> = seen.iter().filter(|(name, _)| name.starts_with("tokio-rt-worker")).collect();
    assert!(
        !workers.is_empty() && workers.iter().all(|(_, nice)| *nice == baseline),
        "the I/O workers keep {baseline}: {seen:?}"
    );
    if !allowed {
        let warned = tokio::time::timeout(WAIT, async {
            while let Some(line) = server.log.recv().await {
                if line.contains("room threads run at the default priority") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(warned, Ok(true), "a refused priority is logged");
    }
}

/// Each thread of process `pid`: its name and nice value.
fn threads_and_nice(pid: u32) -> Vec<(String, i64)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let (Ok(comm), Ok(stat)) =
            (std::fs::read_to_string(task.path().join("comm")), std::fs::read_to_string(task.path().join("stat")))
        else {
            continue;
        };
        // Fields after the parenthesized name; the nice value is the stat file's 19th.
        let nice = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(16)?.parse().ok());
        if let Some(nice) = nice {
            threads.push((comm.trim_end().to_string(), nice));
        }
    }
    threads
}
