//! The `objects` plugin (being written).
