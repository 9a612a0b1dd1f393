//! End-to-end tests: the real `evhost` binary, the real example libraries from
//! target/plugins (`make build`), one temporary working folder per test.

mod bad_input;
mod cross_language;
mod delivery;
mod inspect;
mod lifecycle;
mod support;
