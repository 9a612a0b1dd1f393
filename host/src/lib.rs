//! evhost: a sidecar that hosts event producer and consumer plugins through one stable C
//! ABI (`include/evhost.h`). The data path runs through one folder per stage:
//! [`config`] → [`loader`] → [`log`] → [`delivery`]; [`run`] holds the lifecycle, and
//! [`admin`] shows it to operators.

pub mod admin;
pub mod config;
pub mod delivery;
pub mod diagnostic;
pub mod files;
pub mod hosted;
pub mod inspect;
pub mod isolate;
pub mod kit;
pub mod loader;
pub mod log;
pub mod logging;
pub mod report;
pub mod run;
pub mod scaffold;
pub mod sd_notify;
pub mod selection;
pub mod signals;
pub mod startup;
pub mod stats;
