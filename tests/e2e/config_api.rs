//! C plugins read their config through the host's accessors (`evh_host_api.config_*`, ABI
//! 1.1), with no JSON parser of their own: every kind of value, absent and unknown keys, and
//! the messages, which the host words as it words its own; and `EVH_STR`, the header's
//! string-literal macro, in strict C11 and C++.

use std::process::Command;

use crate::fixture::c_plugin;
use crate::support::{root, Env};

/// Reads every kind of value, logs what it read in one line, and tries the accessors again
/// from `on_destroy`, where they must refuse (the config lives only during `on_create`).
const READER: &str = r#"#include <stdbool.h>
static evh_create_args saved;
static evh_status create(const evh_create_args *args, void **out) {
    static const char *const keys[] = { "name", "count", "offset", "ratio", "verbose", "every", "budget", "hosts", "tls" };
    static const char *const tls_keys[] = { "ca_file" };
    const evh_host_api *api = args->api;
    evh_str name = { NULL, 0 }, ca = { (const uint8_t *)"-", 1 };
    uint64_t count = 7, every = 0, budget = 0;
    int64_t offset = 0;
    double ratio = 0;
    bool verbose = false;
    size_t hosts = 0, i;
    char line[1024];
    int len;
    evh_status s;
    saved = *args;
    if ((s = api->config_keys(args, "", keys, sizeof keys / sizeof keys[0])) != EVH_OK ||
        (s = api->config_keys(args, "tls", tls_keys, 1)) != EVH_OK ||
        (s = api->config_string(args, "name", EVH_CONFIG_REQUIRED, &name)) != EVH_OK ||
        (s = api->config_uint(args, "count", EVH_CONFIG_OPTIONAL, &count)) != EVH_OK ||
        (s = api->config_int(args, "offset", EVH_CONFIG_OPTIONAL, &offset)) != EVH_OK ||
        (s = api->config_float(args, "ratio", EVH_CONFIG_OPTIONAL, &ratio)) != EVH_OK ||
        (s = api->config_bool(args, "verbose", EVH_CONFIG_OPTIONAL, &verbose)) != EVH_OK ||
        (s = api->config_duration_us(args, "every", EVH_CONFIG_OPTIONAL, &every)) != EVH_OK ||
        (s = api->config_size(args, "budget", EVH_CONFIG_OPTIONAL, &budget)) != EVH_OK ||
        (s = api->config_len(args, "hosts", EVH_CONFIG_OPTIONAL, &hosts)) != EVH_OK ||
        (s = api->config_string(args, "tls.ca_file", EVH_CONFIG_OPTIONAL, &ca)) != EVH_OK) {
        return s;
    }
    len = snprintf(line, sizeof line, "read name=%.*s count=%llu offset=%lld ratio=%g verbose=%d every_us=%llu budget=%llu ca=%.*s hosts=%zu",
                   (int)name.len, (const char *)name.ptr, (unsigned long long)count, (long long)offset, ratio, (int)verbose,
                   (unsigned long long)every, (unsigned long long)budget, (int)ca.len, (const char *)ca.ptr, hosts);
    for (i = 0; i < hosts; i++) {
        char path[32];
        evh_str host = { NULL, 0 };
        snprintf(path, sizeof path, "hosts[%zu]", i);
        if ((s = api->config_string(args, path, EVH_CONFIG_REQUIRED, &host)) != EVH_OK) return s;
        len += snprintf(line + len, sizeof line - (size_t)len, " %.*s", (int)host.len, (const char *)host.ptr);
    }
    say(args, (evh_str){ (const uint8_t *)line, (size_t)len });
    *out = NULL;
    return EVH_OK;
}
static void destroy(void *self) {
    uint64_t count = 0;
    evh_status s = saved.api->config_uint(&saved, "count", EVH_CONFIG_OPTIONAL, &count);
    evh_str name = saved.api->status_name(s);
    (void)self;
    saved.api->log(saved.host, EVH_LOG_INFO, name);
}
static evh_status events(void *s, const evh_event *const *e, size_t n, size_t *h) { (void)s; (void)e; *h = n; return EVH_OK; }
"#;

fn reader(config: &str) -> Env {
    let env = Env::new();
    env.compile_library(
        "libreader.so",
        &c_plugin(
            "EVH_KIND_CONSUMER",
            "reader",
            &[("on_create", "create"), ("on_destroy", "destroy"), ("on_events", "events")],
            READER,
        ),
    );
    env.config(&format!("[[consumer]]\nname = \"reader\"\nlibrary = \"libreader.so\"\nconfig = {config}\n"));
    env
}

#[test]
fn a_c_plugin_reads_every_kind_of_value() {
    let env = reader(
        r#"{ name = "audit", count = 1000, offset = -5, ratio = 0.25, verbose = true, every = "1h30m", budget = "64MiB", hosts = ["a.example", "b.example"], tls = { ca_file = "ca.pem" } }"#,
    );
    let out = env.evhost(&["check", "-c", "evhost.toml"]);
    out.expect_code(0);
    let line = out.stderr.lines().find(|l| l.contains("read name=")).expect("the plugin logs what it read");
    assert!(
        line.contains("read name=audit count=1000 offset=-5 ratio=0.25 verbose=1 every_us=5400000000 budget=67108864 ca=ca.pem hosts=2 a.example b.example instance="),
        "{line}"
    );
    // After on_create the config is gone, and the accessors say so instead of reading freed memory.
    assert!(out.stderr.lines().any(|l| l.contains("INFO EVH_ERR_INVALID_ARGUMENT")), "{}", out.stderr);
}

#[test]
fn optional_keys_left_out_keep_their_defaults() {
    let env = reader(r#"{ name = "" }"#);
    let out = env.evhost(&["check", "-c", "evhost.toml"]);
    out.expect_code(0);
    let line = out.stderr.lines().find(|l| l.contains("read name=")).expect("the plugin logs what it read");
    assert!(
        line.contains("read name= count=7 offset=0 ratio=0 verbose=0 every_us=0 budget=0 ca=- hosts=0 instance="),
        "{line}"
    );
}

#[test]
fn config_mistakes_name_the_key_and_the_fix() {
    let cases = [
        ("a missing key", "{}"),
        ("a wrong type", r#"{ name = "a", count = "ten" }"#),
        ("a negative count", r#"{ name = "a", count = -1 }"#),
        ("an unknown key", r#"{ name = "a", cout = 1 }"#),
        ("an unknown nested key", r#"{ name = "a", tls = { ca_fle = "ca.pem" } }"#),
        ("a bad duration", r#"{ name = "a", every = "5 minutes" }"#),
        ("a bad size", r#"{ name = "a", budget = "64 megs" }"#),
        ("a wrong element", r#"{ name = "a", hosts = ["a", 2] }"#),
    ];
    let report: Vec<String> = cases
        .iter()
        .map(|(what, config)| {
            let env = reader(config);
            format!("# {what}: config = {config}\n{}", env.check_fails())
        })
        .collect();
    insta::assert_snapshot!("config_mistakes", report.join("\n"));
}

/// `EVH_STR` in static initializers, compiled as the strictest users would.
#[test]
fn evh_str_compiles_in_strict_c11_and_cxx() {
    let env = Env::new();
    let c = r#"#include "evhost.h"
static const evh_str type = EVH_STR("com.example.order.paid");
static const evh_plugin plugin = { .struct_size = sizeof(evh_plugin), .kind = EVH_KIND_CONSUMER,
    .name = EVH_STR("print"), .description = EVH_STR("two " "pieces") };
const evh_plugin *example(void);
const evh_plugin *example(void) { evh_str name = EVH_STR("x"); evh_str again = (evh_str)EVH_STR("y"); (void)name; (void)again; (void)type; return &plugin; }
"#;
    let cxx = r#"#include "evhost.h"
static const evh_str type = EVH_STR("com.example.order.paid");
static const evh_str pieces[] = { EVH_STR("a"), EVH_STR("b" "c") };
evh_plugin example();
evh_plugin example() { evh_plugin p{}; p.name = evh_str EVH_STR("print"); p.description = type; (void)pieces; return p; }
"#;
    let include = root().join("include");
    for (file, source, compiler, std) in [("strict.c", c, "cc", "-std=c11"), ("strict.cpp", cxx, "c++", "-std=c++17")] {
        let path = env.path(file);
        std::fs::write(&path, source).expect("write the source");
        let out = Command::new(compiler)
            .args([std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-I"])
            .arg(&include)
            .arg(&path)
            .output()
            .expect("a C and a C++ compiler");
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The README's C consumer, with its `evh_library_init`, builds as it stands and prints
/// what the C `sequence` producer emits.
#[test]
fn the_readmes_c_example_builds_and_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let after = readme.split_once("**C** (").expect("the README's C example").1;
    let block = after.split_once("```c\n").expect("its code block").1.split_once("```").expect("closed").0;
    let env = Env::new();
    env.compile_library("libprint.so", block);
    env.config(
        "[[producer]]\nname = \"numbers\"\nlibrary = \"{C}\"\nplugin = \"sequence\"\nconfig = { count = 3 }\n\n\
         [[consumer]]\nname = \"console\"\nlibrary = \"libprint.so\"\n",
    );
    let out = env.run();
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("[c] #")).collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(
        lines[0].contains("dev.evhost.example.sequence id=0 source=/evhost/examples/sequence (64 bytes)"),
        "{}",
        lines[0]
    );
}
