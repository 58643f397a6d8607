//! `client-pause`: the leader's own thread stops calling (a GC pause, a
//! stop-the-world). It changes nothing outside the runner: the stalled
//! party simply makes no call until the pause ends, so its connection and
//! backend stay idle and healthy. There is nothing to undo.

/// The marker of a client pause in force (see [`Stall`](super::Stall)):
/// the stalled party waits for the end of the pause before its next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPause;
