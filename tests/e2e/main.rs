//! End-to-end tests: the real `evhost` binary, the real example libraries from
//! target/plugins (`make build`), one temporary working folder per test.

mod abi10;
mod bad_input;
mod check_and_run;
mod cluster;
mod commits;
mod config;
mod crash_loss;
mod crashes;
mod cross_language;
mod delivery;
mod disk_log;
mod file_and_webhook;
mod file_repair;
mod fixture;
mod http;
mod http_limits;
mod inspect;
mod lifecycle;
mod log_format;
mod lost;
mod nats;
mod nats_client;
mod objects;
mod objects_limits;
mod plugin_kind;
mod plugin_text;
mod report;
mod schedule;
mod services;
mod signals;
mod stuck;
mod support;
