//! Tests of the first-party plugin(s) (being written).
