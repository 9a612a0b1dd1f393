//! The `schedule` plugin (being written).
