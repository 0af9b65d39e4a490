//! `arena-server replay-sample`: one round of house bots stepped as fast as the CPU
//! allows (not in real time) and recorded with the server's own encoder, every third
//! tick and the kill feed, into a replay folder with its description, as a room would
//! have left it: what the measurements of loading and seeking a long replay open.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use arena_protocol::lobby::MatchRules;
use arena_protocol::replay::{FORMAT_VERSION, MAGIC, ReplayEncoder, ReplayEnd, ReplayHeader};
use arena_protocol::{NetId, PROTOCOL_VERSION, PlayerId, PlayerInfo, RoundStart, ServerMsg, encode};
use clap::Parser;
use glam::Vec2;

use super::store::{ReplayMeta, ReplayPlayer, file_path, meta_path};
use crate::room::world::RoomWorld;
use crate::settings::{Difficulty, GameSettings};

/// Record a round of house bots, simulated faster than real time, into a replay folder.
#[derive(Clone, Debug, Parser)]
#[command(name = "arena-server replay-sample")]
pub struct SampleArgs {
    /// The replay folder (a server started with `--replay-dir` there lists it). Required.
    #[arg(long)]
    pub dir: PathBuf,
    /// House bots in the room. Default: 50.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub players: u32,
    /// Seconds of play recorded. Default: 300 (a 5-minute round).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=7_200))]
    pub seconds: u32,
}

/// Ticks a second of the sampled room, and ticks between recorded frames (10 Hz), as rooms record.
const TICK_RATE_HZ: u16 = 30;
const FRAME_EVERY: u32 = 3;

/// What was written.
#[derive(Debug, serde::Serialize)]
pub struct SampleReport {
    pub id: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub frames: u32,
    /// Wall time to simulate and record the round.
    pub took_s: f64,
}

pub fn run(args: SampleArgs) -> anyhow::Result<SampleReport> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let settings = GameSettings::default();
    let rules = MatchRules { score_limit: u32::MAX / 2, time_limit_s: args.seconds + 60 };
    let mut world = RoomWorld::new(settings.clone(), rules, TICK_RATE_HZ, 16);
    let mut players = Vec::new();
    for n in 0..args.players {
        let player_id = PlayerId(*crate::identity::BOT_IDS.start() + n);
        let net_id: NetId = world.add_bot(player_id, Difficulty::Normal);
        players.push(PlayerInfo { player_id, net_id, name: format!("bot-{n}"), bot: true });
    }
    let started_at_ms = crate::ops::unix_ms_after(std::time::Duration::ZERO);
    let id = format!("{:012x}{:08x}", started_at_ms & 0xffff_ffff_ffff, rand::random::<u32>());
    let header = ReplayHeader {
        magic: MAGIC.into(),
        format_version: FORMAT_VERSION,
        protocol_version: PROTOCOL_VERSION,
        room_id: "sample".into(),
        room_name: format!("Sample: {} house bots, {} s", args.players, args.seconds),
        private: false,
        round: RoundStart { round: 1, score_limit: rules.score_limit, time_limit_s: rules.time_limit_s },
        started_at_ms,
        tick_rate_hz: TICK_RATE_HZ,
        recorded_rate_hz: TICK_RATE_HZ / FRAME_EVERY as u16,
        arena_size: Vec2::new(settings.arena_width, settings.arena_height),
        player_radius: settings.player_radius,
        projectile_radius: settings.projectile_radius,
        player_speed: settings.player_speed,
        max_health: settings.max_health,
        players: players.clone(),
    };
    let path = file_path(&args.dir, &id);
    let file = std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut encoder = ReplayEncoder::new(std::io::BufWriter::new(file), &header)?;
    let ticks = args.seconds * u32::from(TICK_RATE_HZ);
    let (mut frames, mut first, mut last) = (0, None, world.tick());
    for n in 0..ticks {
        last = world.step();
        let Some(frame) = world.take_snapshot() else { continue };
        if n % FRAME_EVERY == 0 {
            first.get_or_insert(last);
            encoder.frame(last, &frame.entities)?;
            frames += 1;
            // A segment of the file a second, as the server's writer writes a room's batches.
            if frames % u32::from(crate::replay::RECORDED_RATE_HZ) == 0 {
                encoder.end_segment()?;
            }
        }
        for kill in world.take_kills() {
            encoder.event(last, &encode(&ServerMsg::Kill(kill.kill)))?;
        }
    }
    let ended_at_ms = started_at_ms + u64::from(args.seconds) * 1000;
    let end = ReplayEnd { tick: last, reason: "time_limit".into(), ended_at_ms };
    encoder.finish(&end)?.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let bytes = std::fs::metadata(&path)?.len();
    let meta = ReplayMeta {
        id: id.clone(),
        room_id: header.room_id,
        room_name: header.room_name,
        private: false,
        round: 1,
        reason: end.reason,
        started_at_ms,
        ended_at_ms,
        duration_s: last.since(first.unwrap_or(last)) as f32 / f32::from(TICK_RATE_HZ),
        bytes,
        frames,
        players: players
            .into_iter()
            .map(|p| ReplayPlayer { player_id: p.player_id, name: p.name, bot: true })
            .collect(),
        node: None,
        url: None,
    };
    std::fs::write(meta_path(&args.dir, &id), serde_json::to_vec(&meta)?)?;
    Ok(SampleReport { id, path, bytes, frames, took_s: started.elapsed().as_secs_f64() })
}
