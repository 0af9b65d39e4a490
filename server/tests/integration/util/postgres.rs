//! A throwaway PostgreSQL server: Debian's `postgresql` package (scripts/deps.sh
//! installs it), a fresh cluster in a temp folder on a free loopback port, no fsync,
//! stopped and removed when dropped. `initdb` and `pg_ctl` refuse to run as root, so
//! as root they run as the `postgres` user (`runuser`) on a folder it owns.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::free_loopback_addr;

pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

/// The newest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/deps.sh test installs Debian's postgresql)")
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("pg_ctl").exists())
        .collect();
    versions.sort_by_key(|p| p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()?.parse::<u32>().ok()));
    versions.pop().expect("a PostgreSQL server under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// `program args…`, as the `postgres` user when we are root; panics on failure.
fn run_as_owner(program: &Path, args: &[&str]) {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let output = command.args(args).stdin(Stdio::null()).output().expect("run a PostgreSQL tool");
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Postgres {
    /// A new cluster, started; a user `arena` (trusted on loopback) owns database `arena`.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!("arena-pg-{}-{}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let status = Command::new("chown").args(["postgres:postgres"]).arg(&dir).status().unwrap();
            assert!(status.success(), "chown the PostgreSQL folder");
        }
        let data = dir.join("data");
        run_as_owner(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "arena",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        let pg = Postgres { port: free_loopback_addr().port(), dir, bin };
        pg.resume();
        run_as_owner(
            &pg.bin.join("createdb"),
            &["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "arena", "arena"],
        );
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://arena@127.0.0.1:{}/arena", self.port)
    }

    /// Start (again) on the same port and data.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        run_as_owner(
            &self.bin.join("pg_ctl"),
            &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &options, "-w", "-t", "30", "start"],
        );
    }

    /// Stop at once, as a crash or an outage would (no checkpoint).
    pub fn halt(&self) {
        let data = self.dir.join("data");
        run_as_owner(&self.bin.join("pg_ctl"), &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let _ = std::panic::catch_unwind(|| self.halt());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
