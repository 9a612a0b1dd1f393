//! Fault-injecting C plugins, compiled at test time against include/evhost.h: a consumer
//! whose `on_events` body the test writes, and an `idle` producer that emits nothing and
//! runs until it is stopped (so the host waits for a signal).

use std::path::PathBuf;

use crate::support::Env;

/// Compiles `libfixture.so` into the test folder: consumer `fixture` runs `on_events_body`
/// (C statements with `n`, `handled` and `seen`, the events it was given before this call,
/// in scope; it must return a status), beside the `idle` producer.
pub fn library(env: &Env, on_events_body: &str) -> PathBuf {
    let source = format!(
        r#"#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include "evhost.h"

#define STR(lit) {{ (const uint8_t *)(lit), sizeof(lit) - 1 }}

typedef struct fixture {{ size_t seen; }} fixture;

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

static const evh_plugin consumer = {{
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_CONSUMER,
    .name = STR("fixture"),
    .version = STR("0"),
    .description = STR("a consumer that misbehaves as its test asks"),
    .on_create = fixture_create,
    .on_destroy = fixture_destroy,
    .on_events = fixture_events,
}};

static evh_status idle_create(const evh_create_args *args, void **out)
{{
    (void)args;
    *out = NULL;
    return EVH_OK;
}}

static evh_status idle_start(void *instance) {{ (void)instance; return EVH_OK; }}
static void idle_stop(void *instance) {{ (void)instance; }}

static const evh_plugin idle = {{
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_PRODUCER,
    .name = STR("idle"),
    .version = STR("0"),
    .description = STR("emits nothing until it is stopped"),
    .on_create = idle_create,
    .on_start = idle_start,
    .on_stop = idle_stop,
}};

static const evh_plugin *const plugins[] = {{ &consumer, &idle }};

static const evh_library library = {{
    .struct_size = sizeof(evh_library),
    .abi_major = EVH_ABI_VERSION_MAJOR,
    .abi_minor = EVH_ABI_VERSION_MINOR,
    .plugins = plugins,
    .plugins_len = 2,
}};

EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out)
{{
    (void)api;
    *out = &library;
    return EVH_OK;
}}
"#
    );
    env.compile_library("libfixture.so", &source)
}
