//! The real `arena-server` binary as a child process, and the resident memory of a process.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A server process on a free loopback port.
pub struct ServerProcess {
    pub child: Child,
    pub addr: std::net::SocketAddr,
    /// Its stdout after the line that named its URL, one log line per message.
    pub log: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// Its stdout up to and including the line that named its URL.
    pub start_log: Vec<String>,
    /// The fresh data folder [`server_command`] gave it, removed with it.
    data_dir: Option<PathBuf>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(data_dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
}

/// Starts `arena-server --addr 127.0.0.1:0 args…` and waits up to 15 s for it to print the URL it serves.
/// Its data folder is a fresh one under the temp folder, not `arena-data` in the crate.
pub async fn spawn_server(args: &[&str]) -> ServerProcess {
    let mut command = server_command();
    command.args(["--addr", "127.0.0.1:0"]).args(args).env("NO_COLOR", "1");
    spawn_command(command).await
}

/// `arena-server` logging at info, with a fresh data folder under the temp folder
/// (through ARENA_DATA_DIR, so a `--data-dir` argument still wins).
pub fn server_command() -> Command {
    let data_dir = std::env::temp_dir().join(format!("arena-data-{}-{}", std::process::id(), rand::random::<u32>()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_arena-server"));
    command.env("ARENA_DATA_DIR", data_dir).env("RUST_LOG", "info");
    command
}

/// The data folder `command` names through ARENA_DATA_DIR (as [`server_command`] sets it), to remove after.
pub fn data_dir_of(command: &Command) -> Option<PathBuf> {
    let (_, dir) = command.as_std().get_envs().find(|(name, _)| *name == "ARENA_DATA_DIR")?;
    dir.map(PathBuf::from)
}

/// Starts `command` with its stdout piped and waits up to 15 s for it to print the URL it serves.
pub async fn spawn_command(mut command: Command) -> ServerProcess {
    let data_dir = data_dir_of(&command);
    let mut child =
        command.stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true).spawn().expect("start arena-server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, log) = tokio::sync::mpsc::unbounded_channel();
    let mut start_log = Vec::new();
    let addr = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            start_log.push(line.clone());
            if let Some(rest) = line.split("open http://").nth(1).or_else(|| line.split("open https://").nth(1)) {
                return rest.split('/').next().unwrap().parse().unwrap();
            }
        }
        panic!("the server exited before printing its URL");
    })
    .await
    .expect("the server printed its URL");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    ServerProcess { child, addr, log, start_log, data_dir }
}

/// The resident memory of process `pid` in bytes (`std::process::id()` for the servers
/// a test runs in-process).
pub fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/<pid>/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/<pid>/status");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS in kB");
    kib * 1024
}
