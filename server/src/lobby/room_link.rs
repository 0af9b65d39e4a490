//! The lobby's side of a room's link: the room asks the directory whether it may
//! close and tells it when it has ended.

use std::sync::Arc;

use super::directory::Directory;
use crate::room::RoomLink;

pub struct DirectoryLink {
    pub directory: Arc<Directory>,
    pub room_id: String,
}

impl RoomLink for DirectoryLink {
    fn close_if_empty(&self) -> bool {
        self.directory.close_if_empty(&self.room_id)
    }

    fn ended(&self) {
        self.directory.remove(&self.room_id);
    }
}
