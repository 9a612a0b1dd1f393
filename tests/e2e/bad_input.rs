//! Bad input: every mistake a user can make in a config or a library ends with exit code 2,
//! one clear message on stderr (snapshotted), and nothing half-started: no consumer ran, so
//! no consumer wrote its output file.

use std::path::Path;

// DIGEST writes digest.json in on_stop, which must not run on a failed setup.
use crate::config::DIGEST_TEXT as DIGEST;
use crate::support::{plugin, Env, GO};

/// Runs `evhost ARGS`, expects exit 2 and no digest.json, and returns the redacted stderr.
fn fails(env: &Env, args: &[&str]) -> String {
    let out = env.fails(args);
    assert_eq!(out.stdout, "", "nothing on stdout when setup fails");
    assert!(!env.path("digest.json").exists(), "a consumer ran although setup failed:\n{}", out.stderr);
    assert!(!out.stderr.contains("evhost is running"), "setup failed after the run started:\n{}", out.stderr);
    env.redact(&out.stderr)
}

fn run_fails(env: &Env) -> String {
    fails(env, &["run", "-c", "evhost.toml"])
}

// Config files.

#[test]
fn config_file_missing() {
    let env = Env::new();
    insta::assert_snapshot!("config_file_missing", run_fails(&env));
}

#[test]
fn invalid_toml() {
    let env = Env::new();
    env.config("[[producer]\nname = \"seq\"\n");
    insta::assert_snapshot!("invalid_toml", run_fails(&env));
}

#[test]
fn unknown_key_suggests_the_closest() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibary = \"{{C}}\"\nplugin = \"sequence\"\n"));
    let stderr = run_fails(&env);
    assert!(stderr.contains("library"), "{stderr}");
    insta::assert_snapshot!("unknown_key", stderr);
}

#[test]
fn duplicate_name() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"digest\"\nlibrary = \"{{C}}\"\nplugin = \"sequence\"\nconfig = {{ count = 10 }}\n"));
    insta::assert_snapshot!("duplicate_name", fails(&env, &["check", "-c", "evhost.toml"]));
}

// Libraries.

#[test]
fn library_does_not_exist() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"plugins/libnope.so\"\n"));
    insta::assert_snapshot!("library_does_not_exist", run_fails(&env));
}

#[test]
fn library_is_not_a_shared_object() {
    let env = Env::new();
    env.write("libfake.so", "this is a text file, not a library\n");
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"libfake.so\"\n"));
    insta::assert_snapshot!("not_a_shared_object", run_fails(&env));
}

#[test]
fn library_without_the_entry_symbol() {
    let env = Env::new();
    env.compile_library("libnoentry.so", "int evh_something_else(void) { return 0; }\n");
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"libnoentry.so\"\n"));
    insta::assert_snapshot!("no_entry_symbol", run_fails(&env));
}

/// A library with no plugins that reports ABI `major.minor`.
fn versioned_library(env: &Env, file: &str, major: u32, minor: u32) {
    let source = format!(
        r#"#include "evhost.h"
static const evh_library library = {{
    .struct_size = sizeof(evh_library),
    .abi_major = {major},
    .abi_minor = {minor},
    .flags = 0,
    .plugins = NULL,
    .plugins_len = 0,
}};
EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out)
{{
    (void)api;
    *out = &library;
    return EVH_OK;
}}
"#
    );
    env.compile_library(file, &source);
}

#[test]
fn library_for_another_abi_major() {
    let env = Env::new();
    versioned_library(&env, "libmajor2.so", 2, 0);
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"libmajor2.so\"\n"));
    let stderr = run_fails(&env);
    assert!(stderr.contains("ABI 2.0"), "{stderr}");
    insta::assert_snapshot!("abi_major_2", stderr);
}

#[test]
fn library_for_a_newer_abi_minor() {
    let env = Env::new();
    versioned_library(&env, "libminor99.so", 1, 99);
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"libminor99.so\"\n"));
    let stderr = run_fails(&env);
    assert!(stderr.contains("ABI 1.99") && stderr.contains("newer host"), "{stderr}");
    insta::assert_snapshot!("abi_minor_99", stderr);
}

#[test]
fn the_header_compiles_a_library_the_host_accepts() {
    // The control for the two tests above: the same fixture with this header's version loads.
    let env = Env::new();
    versioned_library(&env, "libcurrent.so", 1, 1);
    let out = env.evhost(&["inspect", "libcurrent.so"]);
    out.expect_code(0);
    assert!(out.stdout.contains("abi: 1.1"), "{}", out.stdout);
}

// Choosing a plugin.

#[test]
fn library_with_several_plugins_and_no_plugin_key() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"{{RUST}}\"\nconfig = {{ count = 10 }}\n"));
    let stderr = run_fails(&env);
    assert!(stderr.contains("add `plugin = \"sequence\"`, its only producer"), "{stderr}");
    insta::assert_snapshot!("several_plugins_none_named", stderr);
}

#[test]
fn plugin_the_library_does_not_carry() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"{{C}}\"\nplugin = \"sequense\"\nconfig = {{ count = 10 }}\n"));
    insta::assert_snapshot!("plugin_not_carried", run_fails(&env));
}

#[test]
fn consumer_listed_as_a_producer() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"{{C}}\"\nplugin = \"digest\"\nconfig = {{ path = \"other.json\" }}\n"));
    let stderr = run_fails(&env);
    assert!(!env.path("other.json").exists());
    insta::assert_snapshot!("consumer_as_producer", stderr);
}

// on_create failures.

#[test]
fn c_sequence_without_count() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"{{C}}\"\nplugin = \"sequence\"\nconfig = {{ payload_bytes = 8 }}\n"));
    let stderr = run_fails(&env);
    assert!(stderr.contains("count"), "the plugin's own message names the missing key:\n{stderr}");
    insta::assert_snapshot!("c_sequence_without_count", stderr);
}

#[test]
fn rust_faulty_fails_create() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[consumer]]\nname = \"faulty\"\nlibrary = \"{{RUST_FIXTURES}}\"\nplugin = \"faulty\"\nconfig = {{ mode = \"fail_create\" }}\n"));
    let stderr = run_fails(&env);
    assert!(stderr.contains("asked to fail in create"), "{stderr}");
    insta::assert_snapshot!("rust_faulty_fail_create", stderr);
}

// Go runtimes.

#[test]
fn a_second_go_library() {
    let env = Env::new();
    std::fs::copy(plugin(GO), env.path("libother_go.so")).expect("copy the Go library");
    env.config(&format!(
        "{DIGEST}\n[[consumer]]\nname = \"go-count\"\nlibrary = \"{{GO}}\"\nplugin = \"count\"\n\n[[consumer]]\nname = \"other-count\"\nlibrary = \"libother_go.so\"\nplugin = \"count\"\n"
    ));
    let stderr = run_fails(&env);
    assert!(stderr.contains("libother_go.so") && stderr.contains(GO), "names both libraries:\n{stderr}");
    insta::assert_snapshot!("second_go_library", stderr);
}

// `evhost check`.

#[test]
fn check_accepts_a_good_config() {
    let env = Env::new();
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"{{C}}\"\nplugin = \"sequence\"\nconfig = {{ count = 10 }}\n"));
    let out = env.evhost(&["check", "-c", "evhost.toml"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "evhost.toml: OK (1 producer, 1 consumer)\n");
    assert!(!env.path("digest.json").exists(), "check runs nothing");
}

#[test]
fn check_rejects_bad_configs() {
    let bad = [
        ("missing file", None),
        ("invalid TOML", Some("[[consumer]\n".to_string())),
        ("no plugins", Some("[log]\ncapacity = 16\n".to_string())),
        ("bad retry backoff", Some(format!("{DIGEST}retry = {{ backoff = \"10s..1s\" }}\n"))),
        ("missing library", Some(format!("{DIGEST}\n[[consumer]]\nname = \"x\"\nlibrary = \"nope.so\"\n"))),
        (
            "create fails",
            Some(format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"{{C}}\"\nplugin = \"sequence\"\n")),
        ),
    ];
    for (what, config) in bad {
        let env = Env::new();
        if let Some(config) = config {
            env.config(&config);
        }
        let out = env.evhost(&["check", "-c", "evhost.toml"]);
        assert_eq!(out.code(), 2, "{what}: stderr:\n{}", out.stderr);
        assert!(out.stderr.starts_with("error: "), "{what}: {}", out.stderr);
        assert!(!out.stdout.contains("OK"), "{what}: {}", out.stdout);
    }
}

#[test]
fn relative_library_paths_resolve_from_the_config_folder() {
    // Run from the parent folder with `-c sub/evhost.toml`: `library` is found next to it.
    let env = Env::new();
    std::fs::create_dir(env.path("sub")).expect("mkdir");
    std::fs::copy(crate::support::plugin(crate::support::C), env.path("sub/libc_copy.so")).expect("copy");
    std::fs::write(
        env.path("sub/evhost.toml"),
        "[[consumer]]\nname = \"digest\"\nlibrary = \"libc_copy.so\"\nplugin = \"digest\"\nconfig = { path = \"digest.json\" }\n",
    )
    .expect("write");
    let out = env.evhost(&["check", "-c", Path::new("sub").join("evhost.toml").to_str().expect("UTF-8")]);
    out.expect_code(0);
}

#[test]
fn a_bare_library_file_name_is_the_file_next_to_the_config() {
    // Regression: dlopen("libx.so") searches the system's library path, not the folder the
    // config is in, so `library = "libx.so"` passed the existence check and then failed.
    let env = Env::new();
    std::fs::copy(plugin(crate::support::C), env.path("libmine.so")).expect("copy the C library");
    env.config("[[producer]]\nname = \"seq\"\nlibrary = \"libmine.so\"\nplugin = \"sequence\"\nconfig = { count = 1000 }\n\n[[consumer]]\nname = \"digest\"\nlibrary = \"libmine.so\"\nplugin = \"digest\"\nconfig = { path = \"digest.json\" }\n");
    env.run().expect_code(0);
    assert_eq!(
        env.json("digest.json"),
        serde_json::json!({"count": 1000, "digest": "00fcfcd9c9dd86e5", "in_order": true})
    );
}

// Files that are not files: they must be refused before they are read or loaded, so none of
// them can hang the host (a FIFO) or eat its memory (/dev/zero). Runs are memory-capped.

/// Like `fails`, for a run under a memory cap.
fn capped_fails(env: &Env, args: &[&str]) -> String {
    let out = crate::fixture::capped(env, args);
    out.expect_code(2);
    assert_eq!(out.stdout, "", "nothing on stdout when setup fails");
    assert!(!env.path("digest.json").exists(), "a consumer ran although setup failed:\n{}", out.stderr);
    env.redact(&out.stderr)
}

/// A config whose second entry's library is `library`.
fn config_with_library(env: &Env, library: &str) {
    env.config(&format!("{DIGEST}\n[[producer]]\nname = \"seq\"\nlibrary = \"{library}\"\n"));
}

#[test]
fn config_is_dev_zero() {
    let env = Env::new();
    insta::assert_snapshot!("config_dev_zero", capped_fails(&env, &["run", "-c", "/dev/zero"]));
}

#[test]
fn config_is_a_directory() {
    let env = Env::new();
    std::fs::create_dir(env.path("conf.d")).expect("mkdir");
    insta::assert_snapshot!("config_directory", capped_fails(&env, &["check", "-c", "conf.d"]));
}

#[test]
fn config_is_a_fifo() {
    let env = Env::new();
    crate::fixture::mkfifo(&env.path("evhost.toml"));
    insta::assert_snapshot!("config_fifo", capped_fails(&env, &["run", "-c", "evhost.toml"]));
}

#[test]
fn config_is_a_symlink_loop() {
    let env = Env::new();
    std::os::unix::fs::symlink("b.toml", env.path("a.toml")).expect("symlink");
    std::os::unix::fs::symlink("a.toml", env.path("b.toml")).expect("symlink");
    insta::assert_snapshot!("config_symlink_loop", capped_fails(&env, &["check", "-c", "a.toml"]));
}

#[test]
fn config_too_large() {
    let env = Env::new();
    let file = std::fs::File::create(env.path("huge.toml")).expect("create");
    file.set_len(17 << 20).expect("a sparse 17 MiB file");
    insta::assert_snapshot!("config_too_large", capped_fails(&env, &["check", "-c", "huge.toml"]));
}

#[test]
fn library_is_dev_zero() {
    let env = Env::new();
    config_with_library(&env, "/dev/zero");
    insta::assert_snapshot!("library_dev_zero", capped_fails(&env, &["run", "-c", "evhost.toml"]));
}

#[test]
fn library_is_a_fifo() {
    // Without the check, opening it to look for a Go runtime waits for a writer for ever.
    let env = Env::new();
    crate::fixture::mkfifo(&env.path("libfifo.so"));
    config_with_library(&env, "libfifo.so");
    insta::assert_snapshot!("library_fifo", capped_fails(&env, &["check", "-c", "evhost.toml"]));
}

#[test]
fn library_is_a_directory() {
    let env = Env::new();
    std::fs::create_dir(env.path("libdir.so")).expect("mkdir");
    config_with_library(&env, "libdir.so");
    insta::assert_snapshot!("library_directory", capped_fails(&env, &["run", "-c", "evhost.toml"]));
}

#[test]
fn library_is_a_symlink_loop() {
    let env = Env::new();
    std::os::unix::fs::symlink("libloop.so", env.path("libloop.so")).expect("symlink");
    config_with_library(&env, "libloop.so");
    insta::assert_snapshot!("library_symlink_loop", capped_fails(&env, &["run", "-c", "evhost.toml"]));
}

#[test]
fn library_too_large() {
    let env = Env::new();
    let file = std::fs::File::create(env.path("libhuge.so")).expect("create");
    file.set_len((1 << 30) + 1).expect("a sparse file just over 1 GiB");
    config_with_library(&env, "libhuge.so");
    insta::assert_snapshot!("library_too_large", capped_fails(&env, &["check", "-c", "evhost.toml"]));
}
