//! Every check the kit runs: its id (what parent and child call it), its title in the table,
//! what the ABI says, and how a plugin that fails it is fixed. The order here is the order
//! of the table.

/// One check.
pub struct Spec {
    pub id: &'static str,
    pub title: &'static str,
    pub abi: &'static str,
    pub fix: &'static str,
}

/// The checks on the library as a whole, run once.
pub const LIBRARY: &[Spec] = &[
    Spec {
        id: "load",
        title: "loads: ABI version, struct_size, kinds, required hooks",
        abi: "evh_library_init answers EVH_OK with an evh_library of this major version and a minor no newer than the host's; every struct_size covers ABI 1.0; kind is EVH_KIND_PRODUCER or EVH_KIND_CONSUMER; on_create, and on_events (consumers) or on_run/on_start (producers), are set",
        fix: "see the message; rebuild against include/evhost.h (or the SDK) of this host",
    },
    Spec {
        id: "names",
        title: "plugin names unique and well formed",
        abi: "a config names a plugin by its name: each is unique in its library and made of letters, digits, '-', '_' or '.'",
        fix: "give each plugin of the library its own name, e.g. \"orders-audit\"",
    },
];

/// `on_create` with good and bad configs, for both kinds.
pub const CREATE: &[Spec] = &[
    Spec {
        id: "create-given",
        title: "on_create with the config given (--config, or {})",
        abi: "on_create answers EVH_OK and stores an instance; a config it cannot use is EVH_ERR_CONFIG with a set_error message",
        fix: "give the kit a config the plugin accepts with --config '{...}'; otherwise see the message",
    },
    Spec {
        id: "create-empty",
        title: "on_create with {}",
        abi: "EVH_OK, or EVH_ERR_CONFIG with a set_error message naming what is missing",
        fix: "read every key as optional or report a missing one: set_error(\"missing key `x`; add `x = ...` to this table\") and return EVH_ERR_CONFIG (the C accessors with EVH_CONFIG_REQUIRED, the SDKs' config decoding, do it)",
    },
    Spec {
        id: "create-wrong-types",
        title: "on_create with every value of the wrong type",
        abi: "a config the plugin cannot use is refused: EVH_ERR_CONFIG with a set_error message, never EVH_OK",
        fix: "check each value's type and refuse what does not fit (the C accessors, serde in Rust and the Go SDK's Decode do)",
    },
    Spec {
        id: "create-unknown-key",
        title: "on_create with an unknown key",
        abi: "an unknown key is most likely a typo; the host refuses its own, and the accessors' config_keys (Rust: #[serde(deny_unknown_fields)], Go: Decode) refuse a plugin's, with \"did you mean\"",
        fix: "refuse keys you do not know: config_keys(args, \"\", keys, n) in C, #[serde(deny_unknown_fields)] in Rust, the Go SDK's Decode",
    },
    Spec {
        id: "destroy-at-once",
        title: "on_destroy right after on_create (a failed startup)",
        abi: "on_destroy may follow on_create without any other hook, and without on_stop, when another instance fails to start",
        fix: "free what on_create made in on_destroy, whatever ran or did not run in between",
    },
];

pub const CONSUMER: &[Spec] = &[
    batch("batch-1", "a batch of 1 event"),
    batch("batch-256", "a batch of 256 events"),
    batch("batch-10000", "a batch of 10 000 events"),
    batch("attributes-absent", "events with every optional attribute absent"),
    batch("attributes-present", "events with every optional attribute and extensions"),
    batch("utf8", "multi-byte UTF-8 in every attribute and the data"),
    batch("empty-data", "events with empty data"),
    batch("data-1mib", "an event with 1 MiB of binary data"),
    Spec {
        id: "two-instances",
        title: "two instances side by side",
        abi: "every call carries its instance pointer; two instances of one plugin never share state unless the plugin makes them",
        fix: "keep all state in the instance that on_create returns, not in globals",
    },
    Spec {
        id: "stop-destroy",
        title: "on_stop, then on_destroy, after deliveries",
        abi: "after the last on_events the host calls on_stop (flush) and then on_destroy, each once, each returning within the host's deadline",
        fix: "flush in on_stop, free in on_destroy; never wait there for something that may not come",
    },
];

const fn batch(id: &'static str, title: &'static str) -> Spec {
    Spec {
        id,
        title,
        abi: "on_events answers EVH_OK (all handled), or EVH_RETRY / EVH_FAIL with *handled in 0..=n (the leading events it handled) and a set_error message; the host delivers the rest again after EVH_RETRY",
        fix: "write *handled only with at most n, explain a RETRY or FAIL with set_error, and copy what you keep: events are valid only during the call",
    }
}

pub const PRODUCER: &[Spec] = &[
    Spec {
        id: "run",
        title: "runs and emits valid events",
        abi: "on_run (or on_start's threads) emits batches the host accepts: id, source, type set, UTF-8, time in RFC 3339, each event within max_event_bytes; a refused batch answers EVH_ERR_INVALID_ARGUMENT or EVH_ERR_TOO_LARGE with the reason",
        fix: "fix the events the message names (the host's reason is quoted above); an on_run that fails returns an error status with set_error",
    },
    Spec {
        id: "stop",
        title: "stops promptly when asked",
        abi: "after stop_requested turns true and on_stop is called, on_run returns (or on_stop joins the plugin's threads) within the host's drain_timeout",
        fix: "check stop_requested(host) in every loop and wait with a timeout, or wake the loop from on_stop",
    },
    Spec {
        id: "after-stop",
        title: "no emit after on_stop returned",
        abi: "once on_stop returned (and on_run, for host-thread producers), the producer's threads are joined and emit is no longer called",
        fix: "join your threads in on_stop (the Rust and Go SDKs' Emitter stops with the instance)",
    },
    Spec {
        id: "backpressure",
        title: "behaves under backpressure (a full log)",
        abi: "when the log is full, emit waits (EVH_EMIT_BLOCK) or answers EVH_BUSY (EVH_EMIT_NONBLOCK); the producer keeps running, does not spin, emits again once there is room, and still stops when asked",
        fix: "on EVH_BUSY wait before trying again (never in a tight loop), or emit with EVH_EMIT_BLOCK; keep checking stop_requested",
    },
];

/// What the ABI says of a hook a check died or hung in, when that hook is not the one the
/// check is about (a delivery check that hangs in `on_stop`), and of memory errors valgrind
/// found (`memory`). Titles are unused.
const HOOKS: &[Spec] = &[
    Spec {
        id: "evh_library_init",
        title: "",
        abi: "evh_library_init (and the library's initializers) describe the library and return at once, without crashing",
        fix: "do no work at load time; start threads and connect in on_create or later",
    },
    Spec {
        id: "on_create",
        title: "",
        abi: "on_create answers EVH_OK or an error with set_error, within the host's deadline, whatever the config; a config it cannot use is EVH_ERR_CONFIG",
        fix: "check the config before using it, and bound slow work (connecting to a server) with a timeout",
    },
    Spec {
        id: "on_start",
        title: "",
        abi: "on_start starts the producer's threads and returns at once",
        fix: "start threads in on_start and return; do the work on them",
    },
    Spec {
        id: "on_stop",
        title: "",
        abi: "on_stop returns promptly, within the host's drain_timeout: a consumer flushes, a producer makes on_run return or joins its threads",
        fix: "never wait in on_stop for something that may not come; bound every wait with a timeout and check stop_requested in loops",
    },
    Spec {
        id: "on_destroy",
        title: "",
        abi: "on_destroy frees the instance and returns; it comes once, after every other hook returned",
        fix: "free what the instance holds and return; join threads with a bound",
    },
    Spec {
        id: "memory",
        title: "",
        abi: "a plugin reads and writes only its own memory and what the host lends it, within each view's length and for the call only",
        fix: "see valgrind's report (the first lines above, all of it on a run by hand): stay within lengths, copy what you keep past a call, free once",
    },
];

/// The spec of the hook a check died or hung in, if it has one of its own.
pub fn hook(name: &str) -> Option<&'static Spec> {
    HOOKS.iter().find(|spec| name.starts_with(spec.id))
}

/// The spec of a check id.
pub fn spec(id: &str) -> &'static Spec {
    LIBRARY
        .iter()
        .chain(CREATE)
        .chain(CONSUMER)
        .chain(PRODUCER)
        .find(|spec| spec.id == id)
        .unwrap_or_else(|| panic!("no check `{id}` in the catalog"))
}

/// The ids of a list of specs.
pub fn ids(specs: &[Spec]) -> Vec<String> {
    specs.iter().map(|spec| spec.id.to_string()).collect()
}
