//! Durations and sizes in plugin configs, read with the grammar the host reads its own with
//! (it lives in `evhost_cloudevents::units`). Put [`Duration`] or [`Size`] in your `Config`
//! and read it in your check, naming the key:
//! `config.timeout.get().map_err(|e| Error::config(e.for_key("timeout")))?`.

pub use evhost_cloudevents::units::{parse_duration, parse_size, Duration, Size, UnitError};
