//! The room list pushed to `/ws/lobby` watchers when it changes. One encoding per change, shared by every watcher through a watch
//! channel, so thousands of idle watchers cost nothing while the lobby is quiet.

use std::sync::Arc;
use std::time::Duration;

use arena_protocol::lobby::LobbyRoom;
use arena_protocol::{ServerMsg, encode};
use bytes::Bytes;
use tokio::sync::watch;

use super::api::list_rooms;
use super::cluster::Cluster;
use super::directory::Directory;

/// How often the room list is compared with the last one sent.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The newest encoded room list; None once the server is stopping.
#[derive(Debug)]
pub struct RoomListFeed {
    latest: watch::Sender<Option<Bytes>>,
}

impl Default for RoomListFeed {
    fn default() -> Self {
        RoomListFeed { latest: watch::Sender::new(Some(Bytes::from(encode(&ServerMsg::Lobby(Vec::new()))))) }
    }
}

impl RoomListFeed {
    /// A watcher's view: the current list at once, then each change.
    pub fn subscribe(&self) -> watch::Receiver<Option<Bytes>> {
        let mut rx = self.latest.subscribe();
        rx.mark_changed();
        rx
    }

    pub fn watchers(&self) -> usize {
        self.latest.receiver_count()
    }

    /// Publish `rooms` if they differ from what was sent last.
    fn publish(&self, rooms: Vec<LobbyRoom>) {
        let bytes = Bytes::from(encode(&ServerMsg::Lobby(rooms)));
        self.latest.send_if_modified(|latest| {
            let changed = latest.as_ref().is_some_and(|latest| *latest != bytes);
            if changed {
                *latest = Some(bytes);
            }
            changed
        });
    }

    /// The server is stopping: every watcher is told so and closed.
    pub fn close(&self) {
        self.latest.send_replace(None);
    }
}

/// Compare the room list with the last one sent, once a second, while the server runs.
pub async fn run(feed: Arc<RoomListFeed>, directory: Arc<Directory>, cluster: Option<Arc<Cluster>>) {
    let mut every = tokio::time::interval(CHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        // Nobody watching: no need to build the list.
        if feed.watchers() == 0 {
            continue;
        }
        let rooms = list_rooms(&directory, cluster.as_deref());
        feed.publish(rooms.iter().map(LobbyRoom::from).collect());
    }
}
