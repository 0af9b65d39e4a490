//! The installed binary's manners: plain logs in a pipe, `--check`, the data folder,
//! and the built-in client served wherever it runs from.

use std::process::Output;
use std::time::Duration;

use crate::util::http::http_get;
use crate::util::process::{data_dir_of, server_command, spawn_command};

const MSGPACK: &str = "/node_modules/@msgpack/msgpack/dist.esm/index.mjs";

/// A folder under the temp folder, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("arena-{name}-{}-{}", std::process::id(), rand::random::<u32>()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `arena-server --check args…` run to its end (it must never serve).
async fn check(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = server_command();
    command.arg("--check").args(args).envs(env.iter().copied()).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(15), command.output()).await.expect("--check exits at once");
    // --check creates the data folder it checks.
    if let Some(data_dir) = data_dir_of(&command) {
        let _ = std::fs::remove_dir_all(data_dir);
    }
    output.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let mut command = server_command();
    command.args(["--addr", "127.0.0.1:0"]).env_remove("NO_COLOR");
    let mut server = spawn_command(command).await;
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;
    let mut lines = server.start_log.clone();
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(5), server.log.recv()).await {
        lines.push(line);
    }
    // The start line carries a level and fields, which a terminal would see coloured.
    assert!(lines.iter().any(|l| l.contains("INFO") && l.contains("tick_rate_hz=30")), "{lines:#?}");
    for line in &lines {
        assert!(!line.contains("\x1b["), "colour codes in a piped log: {line:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_a_good_config_without_binding_and_names_the_flag_of_a_bad_one() {
    // A port already taken: --check must not try to bind it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let good = check(&["--addr", &addr], &[("ARENA_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef")]).await;
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{}{}", stdout, String::from_utf8_lossy(&good.stderr));
    assert!(stdout.contains("configuration OK"), "{stdout}");

    let bad = check(&[], &[("ARENA_ADMIN_TOKEN", "short")]).await;
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "a 5-byte admin token passed --check");
    assert!(stderr.contains("--admin-token") && stderr.contains("32 bytes"), "{stderr}");
    assert!(!String::from_utf8_lossy(&bad.stdout).contains("configuration OK"));

    let bad = check(&["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"], &[]).await;
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "a missing certificate passed --check");
    assert!(stderr.contains("--tls-cert") && stderr.contains("/nonexistent/cert.pem"), "{stderr}");

    let bad = check(&["--internal-url", "http://10.0.0.1:8080"], &[]).await;
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && stderr.contains("--internal-url") && stderr.contains("--redis-url"), "{stderr}");
    let cluster = [
        "--redis-url",
        "redis://127.0.0.1:1",
        "--database-url",
        "postgres://127.0.0.1:1/none",
        "--internal-ca",
        "/nonexistent/nodes-ca.pem",
    ];
    let bad = check(&cluster, &[("ARENA_JWT_SECRET", "0123456789abcdef0123456789abcdef")]).await;
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "a missing node CA passed --check");
    assert!(stderr.contains("--internal-ca") && stderr.contains("/nonexistent/nodes-ca.pem"), "{stderr}");

    let settings = TempDir::new("bad-settings");
    std::fs::create_dir_all(&settings.0).unwrap();
    let file = settings.0.join("settings.toml");
    std::fs::write(&file, "arena_width = \"wide\"\n").unwrap();
    let bad = check(&["--settings", file.to_str().unwrap()], &[]).await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("settings.toml"), "{:?}", bad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_is_created_at_start_or_its_flag_named() {
    let data = TempDir::new("data");
    let nested = data.0.join("a/b");
    let made = check(&["--data-dir", nested.to_str().unwrap()], &[]).await;
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert!(nested.is_dir());

    let blocked = data.0.join("file");
    std::fs::write(&blocked, "not a folder").unwrap();
    let refused = check(&["--data-dir", blocked.join("data").to_str().unwrap()], &[]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("--data-dir") && stderr.contains("cannot create"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_client_is_served_from_anywhere() {
    let mut command = server_command();
    command.args(["--addr", "127.0.0.1:0"]).env("NO_COLOR", "1").current_dir("/");
    let server = spawn_command(command).await;
    let index = http_get(server.addr, "/").await;
    assert_eq!(index.status, 200, "{}", index.body);
    assert!(index.body.contains("importmap"));
    let module = http_get(server.addr, MSGPACK).await;
    assert_eq!(module.status, 200);
    assert_eq!(module.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert_eq!(http_get(server.addr, "/settings.toml").await.status, 404);
}
