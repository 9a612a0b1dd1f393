//! Isolated plugins (`isolate = true`): an instance runs in a worker process of its own, the
//! same `evhost` binary started as `evhost worker --fd 3`, so that a crash, a hang or a leak
//! there never takes the host down. The worker loads the library with the host's own
//! loader; the plugin sees the same ABI and cannot tell, but by its process id.
//!
//! - [`protocol`]: the frames host and worker exchange over a Unix socket pair, after a
//!   version handshake; [`events`]: a batch of events as bytes, both ways.
//! - [`spawn`]: starting a worker (socket, RLIMIT_DATA, parent-death signal); [`process`]:
//!   one worker as the host sees it (calls with a timeout, kill, reap); [`death`]: how it
//!   ended, in words.
//! - [`isolated`]: the host's side of an isolated instance, restarts and failure;
//!   [`producer`]: serving a producer's emits; [`worker`]: the worker process itself.

pub mod death;
pub mod events;
pub mod isolated;
pub mod process;
pub mod producer;
pub mod protocol;
pub mod spawn;
pub mod worker;

pub use isolated::Isolated;
