//! End-to-end tests: the real `evhost` binary, the real example libraries from
//! target/plugins (`make build`), one temporary working folder per test.

mod bad_input;
mod cross_language;
mod delivery;
mod file_and_webhook;
mod http;
mod http_limits;
mod inspect;
mod lifecycle;
mod objects;
mod objects_limits;
mod schedule;
mod support;
