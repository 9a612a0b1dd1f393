//! Fault-injecting C plugins for the tests of hangs, crashes, lost events and hostile text,
//! body of hooks and compiled at test time (`Env::compile_library`); and runs of the host
//! under a memory cap, for inputs that could eat memory without end.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Env, Output, RUN_LIMIT};

/// What every fixture may use: `forever()` (never returns, uses no CPU), `sleep_ms`,
/// `say(args, text)` (logs through the host at INFO), `touch(args, file)` (creates a file in
/// the config's folder) and `STR("...")` (an evh_str of a literal).
const PRELUDE: &str = r#"#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "evhost.h"
#define STR(s) ((evh_str){(const uint8_t *)(s), sizeof(s) - 1})
static void sleep_ms(long ms) { struct timespec t = {ms / 1000, (ms % 1000) * 1000000L}; while (nanosleep(&t, &t) != 0) {} }
static void forever(void) { for (;;) sleep_ms(3600 * 1000); }
static void say(const evh_create_args *args, evh_str text) { args->api->log(args->host, EVH_LOG_INFO, text); }
static void touch(const evh_create_args *args, const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%.*s/%s", (int)args->config_dir.len, (const char *)args->config_dir.ptr, file);
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
}
"#;

/// One plugin of a fixture library: its kind (`EVH_KIND_CONSUMER` or `EVH_KIND_PRODUCER`),
/// its name, and its hooks as `(field, function)`, e.g. `("on_create", "create")`.
pub struct Plugin<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub hooks: &'a [(&'a str, &'a str)],
}

/// The source of a library carrying `plugins`, whose hooks `code` defines.
pub fn c_library(code: &str, plugins: &[Plugin<'_>]) -> String {
    let mut tables = String::new();
    let mut list = Vec::new();
    for (i, plugin) in plugins.iter().enumerate() {
        let hooks: String =
            plugin.hooks.iter().map(|(field, function)| format!("    .{field} = {function},\n")).collect();
        tables.push_str(&format!(
            "static const evh_plugin plugin{i} = {{\n    .struct_size = sizeof(evh_plugin),\n    .kind = {},\n    .name = STR(\"{}\"),\n{hooks}}};\n",
            plugin.kind, plugin.name
        ));
        list.push(format!("&plugin{i}"));
    }
    format!(
        r#"{PRELUDE}
{code}
{tables}
static const evh_plugin *plugins[] = {{ {list} }};
static const evh_library library = {{
    .struct_size = sizeof(evh_library),
    .abi_major = EVH_ABI_VERSION_MAJOR,
    .abi_minor = EVH_ABI_VERSION_MINOR,
    .plugins = plugins,
    .plugins_len = {len},
}};
EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out)
{{
    (void)api;
    *out = &library;
    return EVH_OK;
}}
"#,
        list = list.join(", "),
        len = plugins.len()
    )
}

/// The source of a library with one plugin, `name`, of `kind`; `code` defines the hooks
/// that `hooks` lists.
pub fn c_plugin(kind: &str, name: &str, hooks: &[(&str, &str)], code: &str) -> String {
    c_library(code, &[Plugin { kind, name, hooks }])
}

/// Compiles `libfixture.so` into the test folder: consumer `fixture` runs `on_events_body`
/// (C statements with `n`, `handled` and `seen`, the events it was given before this call,
/// in scope; it must return a status), beside the `idle` producer, which emits nothing and
/// runs until it is stopped (so the host waits for a signal).
pub fn misbehaving_consumer(env: &Env, on_events_body: &str) -> PathBuf {
    let code = format!(
        r#"typedef struct fixture {{ size_t seen; }} fixture;
static evh_status fixture_create(const evh_create_args *args, void **out)
{{
    (void)args;
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) return EVH_ERR_INTERNAL;
    *out = f;
    return EVH_OK;
}}
static void fixture_destroy(void *instance) {{ free(instance); }}
static evh_status body(size_t n, size_t *handled, size_t seen)
{{
    (void)n; (void)handled; (void)seen;
    {on_events_body}
}}
static evh_status fixture_events(void *instance, const evh_event *const *events, size_t n, size_t *handled)
{{
    (void)events;
    fixture *f = instance;
    size_t seen = f->seen;
    f->seen += n;
    return body(n, handled, seen);
}}
static evh_status idle_create(const evh_create_args *args, void **out) {{ (void)args; *out = NULL; return EVH_OK; }}
static evh_status idle_start(void *instance) {{ (void)instance; return EVH_OK; }}
static void idle_stop(void *instance) {{ (void)instance; }}
"#
    );
    let plugins = [
        Plugin {
            kind: "EVH_KIND_CONSUMER",
            name: "fixture",
            hooks: &[
                ("on_create", "fixture_create"),
                ("on_destroy", "fixture_destroy"),
                ("on_events", "fixture_events"),
            ],
        },
        Plugin {
            kind: "EVH_KIND_PRODUCER",
            name: "idle",
            hooks: &[("on_create", "idle_create"), ("on_start", "idle_start"), ("on_stop", "idle_stop")],
        },
    ];
    env.compile_library("libfixture.so", &c_library(&code, &plugins))
}

/// A consumer's `events` hook that handles everything, for fixtures that fault elsewhere.
pub const EVENTS_OK: &str = "static evh_status events(void *self, const evh_event *const *e, size_t n, size_t *handled) { (void)self; (void)e; *handled = n; return EVH_OK; }\n";

/// `text` with the seconds a hook had been running ("after 1.2s") as "after [SECS]s".
pub fn redact_seconds(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("after ") {
        out.push_str(&rest[..at + 6]);
        rest = &rest[at + 6..];
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits > 0 && rest[digits..].starts_with('s') {
            out.push_str("[SECS]");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// The most address space a capped run may take: plenty for the host, far less than
/// reading /dev/zero to the end would want.
pub const MEMORY_CAP_KIB: u64 = 1 << 20;

/// Runs `evhost ARGS` in `env`'s folder with its address space capped (`ulimit -v`), and
/// kills it after the run limit: a regression fails the test instead of eating the machine.
pub fn capped(env: &Env, args: &[&str]) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_evhost"))
        .args(args)
        .current_dir(env.dir())
        .env_remove("EVHOST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sh and evhost");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for evhost") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("evhost {args:?} did not exit within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().expect("piped").read_to_string(&mut stdout).expect("read stdout");
    child.stderr.take().expect("piped").read_to_string(&mut stderr).expect("read stderr");
    Output { status, stdout, stderr }
}

/// Makes a FIFO (named pipe) at `path`.
pub fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("the mkfifo command");
    assert!(status.success(), "mkfifo {} failed", path.display());
}
