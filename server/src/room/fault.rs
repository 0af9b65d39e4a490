//! Fault injection for testing fault isolation (reachable only with `--fault-injection`).

use bevy_ecs::prelude::*;

/// Present when an operator asked this room's next tick to fail.
#[derive(Resource, Debug)]
pub struct InjectedFault;

/// Panics inside the tick, as a bug in a game rule would.
pub fn panic_if_injected(fault: Option<Res<InjectedFault>>) {
    if fault.is_some() {
        panic!("fault injected by an operator (--fault-injection)");
    }
}
