//! The `file` plugin (being written).
