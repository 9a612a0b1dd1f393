//! `--log-format json`: every line the host writes to stderr is one JSON object, with the
//! level, the message and the event's fields (a plugin's lines carry `instance`), and a
//! setup error is one such line too.

use serde_json::Value;

use crate::fixture::c_plugin;
use crate::support::Env;

/// Every stderr line, parsed; panics naming the first that is not a JSON object.
fn json_log(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(value) if value.is_object() => value,
            _ => panic!("not a JSON object: {line:?}\n{stderr}"),
        })
        .collect()
}

#[test]
fn a_run_logs_one_json_object_per_line() {
    let env = Env::new();
    let code = r#"static evh_status create(const evh_create_args *args, void **out) {
    *out = NULL;
    say(args, STR("hello\nthere"));
    return EVH_OK;
}
static evh_status run(void *self) { (void)self; return EVH_OK; }
"#;
    env.compile_library(
        "libhello.so",
        &c_plugin("EVH_KIND_PRODUCER", "hello", &[("on_create", "create"), ("on_run", "run")], code),
    );
    env.config("[[producer]]\nname = \"greeter\"\nlibrary = \"libhello.so\"\n\n[[producer]]\nname = \"seq\"\nlibrary = \"{C}\"\nplugin = \"sequence\"\nconfig = { count = 100 }\n\n[[consumer]]\nname = \"digest\"\nlibrary = \"{C}\"\nplugin = \"digest\"\nconfig = { path = \"digest.json\" }\n");
    let out = env.evhost(&["--log-format", "json", "run", "-c", "evhost.toml"]);
    out.expect_code(0);
    let log = json_log(&out.stderr);
    let hello = log.iter().find(|line| line["instance"] == "greeter").expect("the plugin's line");
    assert_eq!(hello["level"], "INFO");
    assert!(hello["message"].as_str().unwrap().starts_with("hello"), "{hello}");
    let drained = log.iter().find(|line| line["message"] == "consumer drained").expect("the summary");
    assert_eq!((&drained["consumer"], &drained["delivered"]), (&Value::from("digest"), &Value::from(100)));
}

#[test]
fn a_setup_error_is_one_json_line() {
    let env = Env::new();
    env.config("librari = \"x.so\"\n");
    let out = env.fails(&["--log-format", "json", "check", "-c", "evhost.toml"]);
    let log = json_log(&out.stderr);
    assert_eq!(log.len(), 1, "{}", out.stderr);
    assert_eq!(log[0]["level"], "ERROR");
    let message = log[0]["message"].as_str().unwrap();
    assert!(message.starts_with("unknown key `librari`") && message.contains("evhost.toml:1:1"), "{message}");
}
