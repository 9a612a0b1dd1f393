//! Config errors as a person sees them. Each snapshot is the whole message.

use super::*;

fn error(text: &str) -> String {
    parse(Path::new("evhost.toml"), text.to_string()).expect_err("the config is invalid").to_string()
}

const PLUGIN: &str = "[[consumer]]\nname = \"audit\"\nlibrary = \"libaudit.so\"\n";

#[test]
fn valid_config_resolves_paths_and_passes_plugin_config_as_json() {
    let text = format!("[log]\ncapacity = 1024\n{PLUGIN}config = {{ path = \"a.log\", n = 3 }}\ndead_letter = \"dlq.jsonl\"\nretry = {{ attempts = 2, backoff = \"10ms..1s\" }}\n");
    let config = parse(Path::new("conf/evhost.toml"), text).unwrap();
    assert_eq!(config.log.capacity, 1024);
    let audit = &config.consumers[0];
    assert_eq!(audit.library, Path::new("conf/libaudit.so"));
    assert_eq!(audit.config_json, r#"{"n":3,"path":"a.log"}"#);
    assert_eq!(audit.delivery.dead_letter.as_deref(), Some(Path::new("conf/dlq.jsonl")));
    assert_eq!(audit.delivery.retry_attempts, 2);
    assert_eq!(audit.delivery.backoff_max, Duration::from_secs(1));
}

#[test]
fn plugins_get_the_config_folder_as_an_absolute_path() {
    let config = parse(Path::new("evhost.toml"), PLUGIN.to_string()).unwrap();
    assert!(config.consumers[0].config_dir.is_absolute());
    assert_eq!(config.consumers[0].config_dir, std::path::absolute(".").unwrap());
}

#[test]
fn missing_file() {
    let message = load(Path::new("/nonexistent/evhost.toml")).unwrap_err().to_string();
    insta::assert_snapshot!(message);
}

#[test]
fn invalid_toml() {
    insta::assert_snapshot!(error("[[consumer]]\nname = \"audit\nlibrary = \"x.so\"\n"));
}

#[test]
fn unknown_key_suggests_the_closest() {
    insta::assert_snapshot!(error("[[consumer]]\nname = \"audit\"\nlibrari = \"x.so\"\n"));
}

#[test]
fn unknown_key_suggests_past_swapped_letters() {
    insta::assert_snapshot!(error(&format!("{PLUGIN}bacth = 100\n")));
}

#[test]
fn missing_library() {
    insta::assert_snapshot!(error("[[consumer]]\nname = \"audit\"\n"));
}

#[test]
fn duplicate_name() {
    insta::assert_snapshot!(error(&format!("{PLUGIN}\n[[producer]]\nname = \"audit\"\nlibrary = \"other.so\"\n")));
}

#[test]
fn consumer_keys_on_a_producer() {
    insta::assert_snapshot!(error("[[producer]]\nname = \"api\"\nlibrary = \"x.so\"\npolicy = \"block\"\n"));
}

#[test]
fn bad_values() {
    insta::assert_snapshot!("policy", error(&format!("{PLUGIN}policy = \"newest\"\n")));
    insta::assert_snapshot!("backoff", error(&format!("{PLUGIN}retry = {{ backoff = \"1s\" }}\n")));
    insta::assert_snapshot!("capacity", error(&format!("[log]\ncapacity = 0\n{PLUGIN}")));
    insta::assert_snapshot!("drain_timeout", error(&format!("[host]\ndrain_timeout = \"soon\"\n{PLUGIN}")));
    insta::assert_snapshot!("max_event_bytes", error(&format!("[host]\nmax_event_bytes = \"2GiB\"\n{PLUGIN}")));
}

/// Durations and sizes read with the plugins' grammar: sizes also as a bare number of bytes.
#[test]
fn units() {
    let text =
        format!("[host]\ndrain_timeout = \"1m 30s\"\nmax_event_bytes = 65536\n[log]\nmax_bytes = \"1 MiB\"\n{PLUGIN}");
    let config = parse(Path::new("evhost.toml"), text).unwrap();
    assert_eq!(
        (config.drain_timeout, config.max_event_bytes, config.log.max_bytes),
        (Duration::from_secs(90), 65536, 1 << 20)
    );
    assert!(error(&format!("[host]\ndrain_timeout = 30\n{PLUGIN}")).contains("30 has no unit"));
    assert!(error(&format!("[log]\nmax_bytes = -1\n{PLUGIN}")).contains("-1 is negative"));
}

/// Values that parse but would fail `run`: refused with the others, so `check` catches them.
#[test]
fn zero_values() {
    insta::assert_snapshot!("max_event_bytes_zero", error(&format!("[host]\nmax_event_bytes = \"0\"\n{PLUGIN}")));
    insta::assert_snapshot!("drain_timeout_zero", error(&format!("[host]\ndrain_timeout = \"0s\"\n{PLUGIN}")));
    assert!(error(&format!("[host]\ndrain_timeout = \"0ms\"\n{PLUGIN}")).contains("must be above zero"));
}

#[test]
fn one_sided_configs_are_warned_about() {
    let producers_only = "[[producer]]\nname = \"seq\"\nlibrary = \"x.so\"\n";
    let warnings = |text: &str| parse(Path::new("evhost.toml"), text.to_string()).unwrap().warnings();
    insta::assert_snapshot!("producers_only", warnings(producers_only).join("\n"));
    insta::assert_snapshot!("consumers_only", warnings(PLUGIN).join("\n"));
    assert_eq!(warnings(&format!("{PLUGIN}{producers_only}")), Vec::<String>::new());
}

#[test]
fn no_plugins() {
    insta::assert_snapshot!(error("[log]\ncapacity = 16\n"));
}

#[test]
fn disk_log_settings() {
    let load_text = |text: &str| parse(Path::new("conf/evhost.toml"), format!("{text}{PLUGIN}")).unwrap();
    let config = load_text("[log]\nkind = \"disk\"\npath = \"evlog\"\nfsync = \"interval\"\nfsync_interval = \"50ms\"\nmax_bytes = \"64MiB\"\n");
    let disk = config.log.disk.expect("a disk log");
    assert_eq!(disk.path, Path::new("conf/evlog"), "relative to the config file");
    assert_eq!(disk.fsync, Fsync::Interval(Duration::from_millis(50)));
    assert_eq!(
        (disk.max_bytes, disk.segment_bytes),
        (64 << 20, 16 << 20),
        "segments default to a quarter of a small log"
    );
    assert_eq!(config.log.max_bytes, 32 << 20, "memory holds at most half the disk log");
    let defaults = load_text("[log]\nkind = \"disk\"\npath = \"evlog\"\n").log.disk.expect("a disk log");
    assert_eq!((defaults.fsync, defaults.max_bytes, defaults.segment_bytes), (Fsync::Commit, 1 << 30, 64 << 20));
}

#[test]
fn bad_disk_log_settings() {
    insta::assert_snapshot!("log_kind", error(&format!("[log]\nkind = \"tape\"\n{PLUGIN}")));
    insta::assert_snapshot!("disk_without_path", error(&format!("[log]\nkind = \"disk\"\n{PLUGIN}")));
    insta::assert_snapshot!("path_on_memory_log", error(&format!("[log]\npath = \"evlog\"\n{PLUGIN}")));
    insta::assert_snapshot!(
        "fsync",
        error(&format!("[log]\nkind = \"disk\"\npath = \"l\"\nfsync = \"always\"\n{PLUGIN}"))
    );
    insta::assert_snapshot!(
        "fsync_interval_without_interval",
        error(&format!("[log]\nkind = \"disk\"\npath = \"l\"\nfsync_interval = \"1s\"\n{PLUGIN}"))
    );
    insta::assert_snapshot!(
        "segment_bytes",
        error(&format!(
            "[log]\nkind = \"disk\"\npath = \"l\"\nmax_bytes = \"4MiB\"\nsegment_bytes = \"2MiB\"\n{PLUGIN}"
        ))
    );
    insta::assert_snapshot!(
        "disk_max_bytes",
        error(&format!("[log]\nkind = \"disk\"\npath = \"l\"\nmax_bytes = \"1MiB\"\n{PLUGIN}"))
    );
    insta::assert_snapshot!("start", error(&format!("{PLUGIN}start = \"middle\"\n")));
}

#[test]
fn admin_settings() {
    let producer = "[[producer]]\nname = \"seq\"\nlibrary = \"x.so\"\n";
    let parsed = |text: &str| parse(Path::new("evhost.toml"), format!("{text}{PLUGIN}{producer}")).unwrap();
    assert_eq!(parsed("").admin, None, "off unless configured");
    let admin = parsed("[admin]\nlisten = \"127.0.0.1:9464\"\ntoken = \"s3cret\"\n").admin.expect("on");
    assert_eq!((admin.listen.to_string(), admin.token.as_deref()), ("127.0.0.1:9464".to_string(), Some("s3cret")));
    assert_eq!(parsed("[admin]\nlisten = \"[::1]:9464\"\n").warnings(), Vec::<String>::new(), "loopback, no token");
    insta::assert_snapshot!(
        "admin_open_to_the_network",
        parsed("[admin]\nlisten = \"0.0.0.0:9464\"\n").warnings().join("\n")
    );
    assert_eq!(parsed("[admin]\nlisten = \"0.0.0.0:9464\"\ntoken = \"t\"\n").warnings(), Vec::<String>::new());
}

#[test]
fn bad_admin_settings() {
    insta::assert_snapshot!("admin_without_listen", error(&format!("[admin]\ntoken = \"t\"\n{PLUGIN}")));
    insta::assert_snapshot!(
        "admin_listen_host_name",
        error(&format!("[admin]\nlisten = \"localhost:9464\"\n{PLUGIN}"))
    );
    insta::assert_snapshot!("admin_listen_no_port", error(&format!("[admin]\nlisten = \"127.0.0.1\"\n{PLUGIN}")));
    insta::assert_snapshot!(
        "admin_token_with_space",
        error(&format!("[admin]\nlisten = \"127.0.0.1:9464\"\ntoken = \"my token\"\n{PLUGIN}"))
    );
    insta::assert_snapshot!(
        "admin_token_empty",
        error(&format!("[admin]\nlisten = \"127.0.0.1:9464\"\ntoken = \"\"\n{PLUGIN}"))
    );
    insta::assert_snapshot!("admin_unknown_key", error(&format!("[admin]\nlisen = \"127.0.0.1:9464\"\n{PLUGIN}")));
    assert!(error(&format!("[admin]\nlisten = 9464\n{PLUGIN}")).contains("invalid type"));
}

#[test]
fn isolation_keys_are_read() {
    let text = format!("{PLUGIN}isolate = true\nrestart = {{ attempts = 10, backoff = \"50ms..5s\" }}\nhook_timeout = \"2s\"\nmax_memory = \"512MiB\"\n");
    let isolate = parse(Path::new("evhost.toml"), text).unwrap().consumers[0].isolate.clone().expect("isolated");
    assert_eq!(isolate.restart_attempts, 10);
    assert_eq!((isolate.backoff_first, isolate.backoff_max), (Duration::from_millis(50), Duration::from_secs(5)));
    assert_eq!(isolate.timeout("on_events"), Some(Duration::from_secs(2)));
    assert_eq!(isolate.timeout("on_run"), None);
    assert_eq!(isolate.max_memory, Some(512 << 20));
    let defaults =
        parse(Path::new("evhost.toml"), format!("{PLUGIN}isolate = true\n")).unwrap().consumers[0].isolate.clone();
    assert_eq!(defaults, Some(IsolateConfig::default()));
    assert_eq!(
        parse(Path::new("evhost.toml"), format!("{PLUGIN}isolate = false\n")).unwrap().consumers[0].isolate,
        None
    );
}

#[test]
fn isolation_keys_without_isolate() {
    insta::assert_snapshot!(error(&format!("{PLUGIN}hook_timeout = \"1s\"\n")));
}

#[test]
fn isolation_key_values() {
    let isolated = |key: &str| error(&format!("{PLUGIN}isolate = true\n{key}\n"));
    insta::assert_snapshot!("restart_attempts", isolated("restart = { attempts = -1 }"));
    insta::assert_snapshot!("restart_backoff", isolated("restart = { backoff = \"1s..10ms\" }"));
    insta::assert_snapshot!("restart_unknown_key", isolated("restart = { tries = 3 }"));
    insta::assert_snapshot!("hook_timeout", isolated("hook_timeout = \"soon\""));
    insta::assert_snapshot!("hook_timeout_zero", isolated("hook_timeout = \"0s\""));
    insta::assert_snapshot!("max_memory", isolated("max_memory = \"lots\""));
    insta::assert_snapshot!("max_memory_small", isolated("max_memory = \"1MiB\""));
    insta::assert_snapshot!("isolate_not_a_bool", error(&format!("{PLUGIN}isolate = \"yes\"\n")));
}
