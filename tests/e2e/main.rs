//! End-to-end tests: the real `evhost` binary, the real example libraries from
//! target/plugins (`make build`), one temporary working folder per test.

mod bad_input;
mod crashes;
mod cross_language;
mod delivery;
mod file_and_webhook;
mod fixture;
mod http;
mod inspect;
mod lifecycle;
mod objects;
mod plugin_text;
mod schedule;
mod stuck;
mod support;
