//! `evhost test-plugin`, the conformance kit: it passes every plugin the project ships
//! (each with a config that works, the servers they need started), and it catches each
//! deliberately broken fixture plugin with the right explanation.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::postgres_server::PgServer;
use crate::services::Nats;
use crate::support::{free_port, plugin, root, Env, Output};

/// A whole library's checks take a few seconds (each producer runs for about 3 s).
const KIT_LIMIT: Duration = Duration::from_secs(180);

/// `evhost test-plugin ARGS` in `env`'s folder, to the end.
fn kit(env: &Env, args: &[&str]) -> Output {
    let mut all = vec!["test-plugin"];
    all.extend_from_slice(args);
    env.start(&all).wait_within(KIT_LIMIT)
}

/// Runs the kit on each plugin of `library` with its config; every check must pass (or be
/// a warning), none skipped for want of a config.
fn passes(env: &Env, library: &str, configs: &[(&str, Value)]) {
    let path = plugin(library);
    let listed = plugins_of(env, &path);
    for name in &listed {
        assert!(
            configs.iter().any(|(n, _)| n == name),
            "{library} carries plugin \"{name}\", which tests/e2e/kit.rs gives no config: add one"
        );
    }
    for (name, config) in configs {
        let out = kit(env, &["--plugin", name, "--config", &config.to_string(), &path.display().to_string()]);
        let table = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
        assert_eq!(out.code(), 0, "the kit failed {library} plugin \"{name}\"\n{table}");
        assert!(!out.stdout.contains("not run"), "checks of {library} \"{name}\" did not run\n{table}");
        assert!(out.stdout.contains(", 0 failed"), "{table}");
    }
}

fn plugins_of(env: &Env, library: &Path) -> Vec<String> {
    let out = env.evhost(&["inspect", "--json", &library.display().to_string()]);
    out.expect_code(0);
    let json: Value = serde_json::from_str(&out.stdout).expect("inspect --json is JSON");
    json["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| p["name"].as_str().expect("a name").to_string())
        .collect()
}

/// The example plugins' configs, the same for each language.
fn examples(env: &Env) -> Vec<(&'static str, Value)> {
    vec![
        ("sequence", json!({ "count": 100_000 })),
        ("digest", json!({ "path": env.path("digest.json") })),
        ("count", json!({})),
        ("print", json!({})),
        ("types", json!({})),
    ]
}

#[test]
fn the_example_plugins_pass_in_every_language() {
    let env = Env::new();
    for library in ["libevh_example_c.so", "libevh_example_rust.so", "libevh_example_go.so"] {
        let listed = plugins_of(&env, &plugin(library));
        let configs: Vec<_> = examples(&env).into_iter().filter(|(name, _)| listed.iter().any(|l| l == name)).collect();
        passes(&env, library, &configs);
    }
    passes(&env, "libevh_example_cpp.so", &[("digest", json!({ "path": env.path("digest.json") }))]);
}

#[test]
fn the_first_party_plugins_pass() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("bucket")).expect("a folder to watch");
    let receiver = Receiver::start();
    passes(&env, "libevh_file.so", &[("file", json!({ "path": env.path("events.jsonl") }))]);
    passes(&env, "libevh_webhook.so", &[("webhook", json!({ "url": receiver.url() }))]);
    passes(&env, "libevh_http.so", &[("http", json!({ "listen": format!("127.0.0.1:{}", free_port()) }))]);
    passes(&env, "libevh_objects.so", &[("objects", json!({ "path": env.path("bucket") }))]);
    passes(&env, "libevh_schedule.so", &[("schedule", json!({ "jobs": [{ "name": "tick", "every": "10ms" }] }))]);
}

#[test]
fn the_nats_plugins_pass() {
    let nats = Nats::start();
    let env = Env::new();
    passes(
        &env,
        "libevh_nats.so",
        &[
            (
                "nats-publish",
                json!({ "url": nats.url(), "stream": "KIT", "subject": "kit.{type}", "create_stream": true }),
            ),
            (
                "nats-subscribe",
                json!({ "url": nats.url(), "jetstream": false, "subjects": ["kit.>"], "durable": "kit" }),
            ),
        ],
    );
}

#[test]
fn the_postgres_plugin_passes() {
    let pg = PgServer::start();
    pg.sql("CREATE TABLE kit_items (id int PRIMARY KEY, name text)");
    let env = Env::new();
    passes(&env, "libevh_postgres.so", &[("postgres", json!({ "url": pg.url(), "tables": ["kit_items"] }))]);
}

/// Every library `make build` ships is tested above.
#[test]
fn every_shipped_library_is_tested() {
    let tested = [
        "libevh_example_c.so",
        "libevh_example_cpp.so",
        "libevh_example_go.so",
        "libevh_example_rust.so",
        "libevh_file.so",
        "libevh_http.so",
        "libevh_nats.so",
        "libevh_objects.so",
        "libevh_postgres.so",
        "libevh_schedule.so",
        "libevh_webhook.so",
    ];
    let shipped = std::fs::read_dir(root().join("target/plugins")).expect("target/plugins: run `make build`");
    for entry in shipped {
        let name = entry.expect("a folder entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".so") {
            assert!(
                tested.contains(&name.as_str()),
                "target/plugins/{name} is shipped but tests/e2e/kit.rs does not test it"
            );
        }
    }
}

/// An HTTP server that answers 200 to everything, for the webhook.
struct Receiver {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind a test HTTP server"));
        let serving = server.clone();
        let thread = std::thread::spawn(move || {
            for mut request in serving.incoming_requests() {
                let _ = std::io::copy(request.as_reader(), &mut std::io::sink());
                let _ = request.respond(tiny_http::Response::empty(200));
            }
        });
        Receiver { server, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.server.server_addr().to_ip().expect("an IP address"))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The rows that are not a pass, under their section's title, and the count: what a
/// snapshot of a broken plugin needs (a pass's note may hold a time).
fn faults(env: &Env, out: &Output) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let (mut title, mut keep) = (None, false);
    for line in out.stdout.lines() {
        if line.starts_with("        ") {
            if keep {
                kept.push(line);
            }
        } else if let Some(row) = line.strip_prefix("  ") {
            keep = !row.starts_with("pass");
            if keep {
                kept.extend(title.take());
                kept.push(line);
            }
        } else if !line.is_empty()
            && !line.starts_with("evhost test-plugin")
            && !line.starts_with(|c: char| c.is_ascii_digit())
        {
            title = Some(line);
        }
    }
    let summary = out.stdout.lines().last().unwrap_or("");
    env.redact(&format!("{}\n{summary}\nexit code {}", kept.join("\n"), out.code()))
}

/// `text` with the number after each "emit " or "emitted " as `[N]`: how many events a
/// thread emitted in a given time varies from run to run.
fn counts_out(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = ["emit ", "emitted "].iter().filter_map(|p| rest.find(p).map(|i| i + p.len())).min() {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str("[N]");
        }
        rest = &rest[digits..];
    }
    out + rest
}

const BROKEN: &str = include_str!("../fixtures/kit/broken.c");

fn broken(env: &Env) -> String {
    env.compile_library("libbroken.so", BROKEN).display().to_string()
}

#[test]
fn a_consumer_that_reports_more_handled_than_it_got_fails() {
    let env = Env::new();
    let library = broken(&env);
    let out = kit(&env, &["--plugin", "over-handled", &library]);
    insta::assert_snapshot!("kit_over_handled", faults(&env, &out));
}

#[test]
fn a_producer_that_emits_after_on_stop_fails() {
    let env = Env::new();
    let library = broken(&env);
    let out = kit(&env, &["--plugin", "late-emitter", &library]);
    insta::assert_snapshot!("kit_late_emitter", counts_out(&faults(&env, &out)));
}

#[test]
fn a_consumer_that_crashes_on_1_mib_fails_that_check_alone() {
    let env = Env::new();
    let library = broken(&env);
    let out = kit(&env, &["--plugin", "big-crash", &library]);
    insta::assert_snapshot!("kit_big_crash", faults(&env, &out));
}

#[test]
fn a_consumer_that_hangs_in_on_stop_is_killed_after_the_hook_timeout() {
    let env = Env::new();
    let library = broken(&env);
    let out = kit(&env, &["--plugin", "stop-hang", "--hook-timeout", "500ms", &library]);
    insta::assert_snapshot!("kit_stop_hang", faults(&env, &out));
}

#[test]
fn a_plugin_that_accepts_garbage_config_fails() {
    let env = Env::new();
    let library = broken(&env);
    let out = kit(&env, &["--plugin", "lenient", "--config", r#"{"path": "out.jsonl", "level": 3}"#, &library]);
    insta::assert_snapshot!("kit_lenient", faults(&env, &out));
}

/// Under valgrind a read past an allocation fails the check it happened in, with
/// valgrind's first lines; without valgrind the kit says so and runs the checks anyway.
#[test]
fn memcheck_finds_a_read_past_an_allocation() {
    let env = Env::new();
    let library = broken(&env);
    let out = kit(&env, &["--plugin", "overread", "--memcheck", &library]);
    let valgrind = std::process::Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    if valgrind {
        assert_eq!(out.code(), 1, "{}", out.stdout);
        assert!(out.stdout.contains("(each check under valgrind)"), "{}", out.stdout);
        let row = out.stdout.split("FAIL  a batch of 1 event").nth(1).expect("the first delivery fails");
        assert!(row.contains("valgrind found memory errors: Invalid read of size 1"), "{}", out.stdout);
        assert!(
            row.contains("by 0x") && row.contains("overread ("),
            "valgrind names the plugin's function: {}",
            out.stdout
        );
    } else {
        assert_eq!(out.code(), 0, "{}", out.stdout);
        assert!(out.stderr.contains("valgrind is not installed"), "{}", out.stderr);
    }
}

#[test]
fn duplicate_plugin_names_fail_the_handshake() {
    let env = Env::new();
    let library = env.compile_library("libtwins.so", TWINS).display().to_string();
    let out = kit(&env, &[&library]);
    insta::assert_snapshot!("kit_twins", faults(&env, &out));
}

#[test]
fn what_is_not_a_plugin_library_is_a_usage_error() {
    let env = Env::new();
    env.write("not-a-library.so", "text");
    let missing = env.fails(&["test-plugin", "missing.so"]);
    let text = env.fails(&["test-plugin", "not-a-library.so"]);
    let config = env.fails(&["test-plugin", "--config", "[1]", &plugin("libevh_file.so").display().to_string()]);
    let several = env.fails(&["test-plugin", "--config", "{}", &plugin("libevh_example_c.so").display().to_string()]);
    let unknown = env.fails(&["test-plugin", "--plugin", "prnt", &plugin("libevh_example_c.so").display().to_string()]);
    insta::assert_snapshot!(
        "kit_usage_errors",
        env.redact(&[missing, text, config, several, unknown].map(|out| out.stderr).join("\n"))
    );
}

#[test]
fn a_library_that_crashes_while_loading_fails_the_load_check() {
    let env = Env::new();
    let library = env.compile_library("libinitcrash.so", INIT_CRASH).display().to_string();
    let out = kit(&env, &[&library]);
    insta::assert_snapshot!("kit_init_crash", faults(&env, &out));
}

const INIT_CRASH: &str = r#"
#include <signal.h>
#include "evhost.h"
EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out) { (void)api; (void)out; raise(SIGSEGV); return EVH_OK; }
"#;

const TWINS: &str = r#"
#include "evhost.h"
static int state;
static evh_status create(const evh_create_args *args, void **instance) { (void)args; *instance = &state; return EVH_OK; }
static evh_status events(void *self, const evh_event *const *e, size_t n, size_t *handled) { (void)self; (void)e; *handled = n; return EVH_OK; }
static const evh_plugin first = { .struct_size = sizeof(evh_plugin), .kind = EVH_KIND_CONSUMER, .name = EVH_STR("twin"), .on_create = create, .on_events = events };
static const evh_plugin second = { .struct_size = sizeof(evh_plugin), .kind = EVH_KIND_CONSUMER, .name = EVH_STR("twin"), .on_create = create, .on_events = events };
static const evh_plugin *const plugins[] = { &first, &second };
static const evh_library library = { .struct_size = sizeof(evh_library), .abi_major = EVH_ABI_VERSION_MAJOR, .abi_minor = EVH_ABI_VERSION_MINOR, .plugins = plugins, .plugins_len = 2 };
EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out) { (void)api; *out = &library; return EVH_OK; }
"#;
