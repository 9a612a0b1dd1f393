//! CloudEvents and units, written once for the host, the Rust SDK and every first-party
//! plugin. It depends on neither the host nor the SDK, so both can depend on it.

pub mod units;
