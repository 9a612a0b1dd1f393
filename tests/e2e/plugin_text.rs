//! Text from plugins and their clients cannot forge the host's output: control characters
//! in what a plugin logs, in its error messages, and in event ids the host logs come out
//! escaped, on one line.

use crate::fixture::c_plugin;
use crate::support::Env;

/// No stderr line may begin with the forged text (after the timestamp and level).
fn assert_not_forged(stderr: &str) {
    for line in stderr.lines() {
        assert!(!line.starts_with("ERROR forged") && !line.contains("\u{1b}"), "a forged line: {line:?}\n{stderr}");
    }
}

#[test]
fn a_plugin_log_line_stays_one_line() {
    let env = Env::new();
    let code = r#"static evh_status create(const evh_create_args *args, void **out) {
    *out = NULL;
    say(args, STR("a\nERROR forged\r\x1b[31mred"));
    return EVH_OK;
}
static evh_status run(void *self) { (void)self; return EVH_OK; }
"#;
    env.compile_library(
        "liblog.so",
        &c_plugin("EVH_KIND_PRODUCER", "log", &[("on_create", "create"), ("on_run", "run")], code),
    );
    env.config("[[producer]]\nname = \"liar\"\nlibrary = \"liblog.so\"\n\n[[consumer]]\nname = \"digest\"\nlibrary = \"{C}\"\nplugin = \"digest\"\nconfig = { path = \"digest.json\" }\n");
    let out = env.run();
    out.expect_code(0);
    assert_not_forged(&out.stderr);
    let line = out.stderr.lines().find(|l| l.contains("forged")).expect("the plugin's line is logged");
    assert!(line.contains(r"INFO a\nERROR forged\r\u{1b}[31mred"), "escaped in place: {line:?}");
}

#[test]
fn a_plugin_error_message_stays_one_line() {
    let env = Env::new();
    let code = r#"static evh_status create(const evh_create_args *args, void **out) {
    (void)out;
    args->api->set_error(args->host, STR("bad\nERROR forged"));
    return EVH_ERR_CONFIG;
}
static evh_status events(void *s, const evh_event *const *e, size_t n, size_t *h) { (void)s; (void)e; *h = n; return EVH_OK; }
"#;
    env.compile_library(
        "liberr.so",
        &c_plugin("EVH_KIND_CONSUMER", "err", &[("on_create", "create"), ("on_events", "events")], code),
    );
    env.config("[[consumer]]\nname = \"liar\"\nlibrary = \"liberr.so\"\n");
    let out = env.fails(&["check", "-c", "evhost.toml"]);
    assert_not_forged(&out.stderr);
    insta::assert_snapshot!("set_error_escaped", env.redact(&out.stderr));
}

#[test]
fn an_event_id_the_host_logs_stays_one_line() {
    // The host refuses an event over max_event_bytes and logs its id, which came from a
    // client of the producer.
    let env = Env::new();
    let code = r#"static const evh_host_api *api;
static evh_host *host;
static evh_status create(const evh_create_args *args, void **out) { *out = NULL; api = args->api; host = args->host; return EVH_OK; }
static evh_status run(void *self) {
    (void)self;
    static uint8_t data[2048];
    evh_event e = {0};
    e.struct_size = sizeof e;
    e.id = STR("x\nERROR forged");
    e.source = STR("/s");
    e.type = STR("t");
    e.data = (evh_bytes){data, sizeof data};
    api->emit(host, &e, 1, EVH_EMIT_BLOCK);
    return EVH_OK;
}
"#;
    env.compile_library(
        "libid.so",
        &c_plugin("EVH_KIND_PRODUCER", "id", &[("on_create", "create"), ("on_run", "run")], code),
    );
    env.config("[host]\nmax_event_bytes = \"1KiB\"\n\n[[producer]]\nname = \"ids\"\nlibrary = \"libid.so\"\n\n[[consumer]]\nname = \"digest\"\nlibrary = \"{C}\"\nplugin = \"digest\"\nconfig = { path = \"digest.json\" }\n");
    let out = env.run();
    out.expect_code(0);
    assert_not_forged(&out.stderr);
    let line = out.stderr.lines().find(|l| l.contains("emit refused")).expect("the refusal is logged");
    assert!(line.contains(r#"(id "x\nERROR forged")"#), "escaped in place: {line:?}");
}
