/*
 * evhost.h: the evhost plugin ABI.
 *
 * MODEL. A plugin library is a shared object that exports one symbol, evh_library_init.
 * The host calls it once with its API table (evh_host_api); the library answers with its
 * description (evh_library): the ABI version it was built against and one or more plugins
 * (evh_plugin). Each plugin is a producer or a consumer. The host's config names plugins;
 * each named entry becomes an instance (on_create ... on_destroy). One library may carry
 * many plugins, and one plugin may have many instances.
 *
 * DATA PATH. Producers emit batches of events through evh_host_api.emit. The host appends
 * them to one ordered, bounded log and delivers every event to every consumer, in log order,
 * in batches (on_events). Producers never know who consumes; consumers never know each other.
 *
 * THREADS. emit, emit_tracked, committed, wait_committed, claim, publish, abandon, log,
 * set_error and stop_requested are thread-safe and may be called from any thread. A producer runs either on a host
 * thread in on_run, or on its own threads started in on_start and joined in on_stop. One
 * consumer instance is never called concurrently (EVH_PLUGIN_CONCURRENT is reserved and
 * ignored). Every hook receives the instance pointer; plugins need no globals. A
 * producer's on_committed runs on a host thread of its own (ABI 1.1).
 *
 * COMMITS (ABI 1.1). A producer that acknowledges someone else (an HTTP client, a broker,
 * a replication slot) acknowledges only what is committed: with the disk log, fsynced as
 * the [log] fsync policy says; with the memory log, accepted. Two ways: emit with
 * EVH_EMIT_COMMIT, which returns once the batch is committed (one request per thread); or
 * emit_tracked, which returns at once with a ticket (the batch's last sequence number),
 * and then wait_committed, committed, or the on_committed hook say when the watermark
 * reached it (many batches in flight).
 *
 * CLAIMS (ABI 1.2). Instead of emit, which copies, a producer may claim room in the host's
 * memory (claim: n events, b bytes), write its events and everything they point to there,
 * and publish them: the bytes it wrote become the log's, with one write of each byte and
 * no copy. publish checks what emit checks, with the same messages, and refuses views
 * outside the claim. A claim larger than the log is refused (EVH_ERR_TOO_LARGE); a claim
 * holds no place in the log until it is published, and abandon gives it back.
 *
 * OWNERSHIP. Nothing is freed across the boundary: whoever allocates frees. Whatever the
 * host passes is valid for the duration of the call only, unless its doc says otherwise;
 * copy what you keep. emit copies before it returns. Strings are evh_str views: UTF-8,
 * pointer and length, not NUL-terminated. Every item below says OWNERSHIP and LIFETIME
 * where a pointer is involved. Out-parameters are written only on success.
 *
 * ERRORS. Hooks return an evh_status, a stable integer code. Before returning a failure, a
 * hook may explain it with evh_host_api.set_error; the host copies the message. Hooks must
 * not unwind (C++ exceptions, Rust panics, Go panics) across the boundary: the Rust and Go
 * SDKs catch them and fail closed with EVH_ERR_INTERNAL. After a panic the SDKs never call
 * that instance's plugin code again, since its state may be half-updated: later on_events
 * and on_run calls fail with EVH_ERR_INTERNAL and a message naming the first panic, on_stop
 * only logs that, and on_destroy still releases the instance.
 *
 * CONFIG (ABI 1.1). A plugin's `config` table arrives as JSON text (config_json), and C
 * plugins need not parse it: during on_create the config_* accessors of evh_host_api read
 * it by key path ("count", "tls.ca_file", "jobs[2].every") as strings, integers, floats,
 * booleans, durations and sizes (the host's own grammar), count arrays, and refuse unknown
 * keys with a "did you mean" (config_keys). Their strings borrow the host's copy until
 * on_create returns. A failed accessor has already recorded its message, in the host's
 * wording; on_create returns its status as it is.
 *
 * RETRIES. A consumer whose on_events returns EVH_RETRY gets the unhandled rest of the
 * batch again after a backoff. Unless its config says otherwise (retry = { attempts = 5,
 * backoff = "100ms..30s" } is the default), a batch is retried up to 5 times, the k-th
 * retry after a wait between half and all of min(100 ms * 2^(k-1), 30 s) (50-100 ms,
 * 100-200 ms, ... 0.8-1.6 s: about 3 s in all); then, as after EVH_FAIL, the rest goes to
 * the consumer's dead_letter file (without one: an error line per event, with its id and
 * seq), and delivery goes on. The count starts again with every new batch.
 *
 * MESSAGES. The host names the instance and the plugin in every error and log line it
 * writes about them ("consumer "audit" (plugin "file") failed to start: ..."), so a
 * plugin's own messages (set_error, log) do not begin with its name; the SDKs add none.
 *
 * TRUST. A plugin runs inside the host's process with the host's privileges; the host
 * checks what crosses the boundary (sizes, versions, UTF-8) but cannot contain a plugin
 * that corrupts memory. Run untrusted plugins isolated.
 *
 * VERSIONS. EVH_ABI_VERSION_MAJOR must match exactly; a library whose minor is at most the
 * host's is accepted. Every struct and function table starts with uint32_t struct_size;
 * fields are only appended; a NULL hook means "not implemented". The host never reads past
 * the struct_size a library reported. A library built for 1.1 that may meet a 1.0 host
 * checks evh_host_api.struct_size (or abi_minor) before calling an entry added in 1.1.
 */
#ifndef EVHOST_H
#define EVHOST_H


/* Generated by cbindgen from abi/src/lib.rs. Do not edit: change abi/ and re-bless. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* Declared ahead: evh_plugin and evh_host_api take it in their function pointers. */
struct evh_create_args;
/*
 * EVH_STR("literal"): an evh_str for a string literal, as an initializer. It is a constant
 * expression (sizeof, not strlen), so it serves in static initializers under strict C11
 * and in C++:
 *     static const evh_plugin my_plugin = { .name = EVH_STR("print"), ... };
 *     static const evh_str type = EVH_STR("com.example.order.paid");
 * It is a braced initializer, not an expression: to assign one, write
 * `(evh_str)EVH_STR("x")` in C and `evh_str EVH_STR("x")` in C++. Only literals fit
 * ("" lit refuses anything else).
 * OWNERSHIP: the literal's, static. LIFETIME: the program's.
 */
#ifdef __cplusplus
#define EVH_STR(lit) { reinterpret_cast<const uint8_t *>("" lit), sizeof("" lit) - 1 }
#else
#define EVH_STR(lit) { (const uint8_t *)("" lit), sizeof("" lit) - 1 }
#endif


/**
 * The ABI major version. A host loads only libraries built against the same major.
 */
#define EVH_ABI_VERSION_MAJOR 1

/**
 * The ABI minor version. A host accepts a library whose minor is less than or equal to its
 * own; it never reads a field past the `struct_size` the library reported.
 *
 * 1.1 appended commit notifications: `EVH_EMIT_COMMIT`, `evh_host_api.emit_tracked`,
 * `committed` and `wait_committed`, and the producer hook `evh_plugin.on_committed`; then,
 * in the same 1.1, the config accessors `evh_host_api.config_string` ... `config_keys` with
 * `EVH_CONFIG_OPTIONAL`/`EVH_CONFIG_REQUIRED`, and the `EVH_STR` macro.
 *
 * 1.2 appended claim and publish: `evh_claim`, `evh_host_api.claim`, `publish` and
 * `abandon`.
 */
#define EVH_ABI_VERSION_MINOR 2

/**
 * Flags for `evh_host_api.emit`: wait for room when the log is full (the default).
 */
#define EVH_EMIT_BLOCK 0

/**
 * Flags for `evh_host_api.emit`: answer `EVH_BUSY` at once when the log is full.
 */
#define EVH_EMIT_NONBLOCK 1

/**
 * Flags for `evh_host_api.emit` and `emit_tracked` (ABI 1.1), combinable with the two
 * above: return only once the batch is committed (`EVH_OK`), or `EVH_STOPPED` when the host
 * stopped before it was. "Committed" is defined at `evh_host_api.committed`. For a producer
 * that acknowledges someone else (an HTTP client, a broker) one request per thread. A host
 * older than 1.1 ignores the flag: check `evh_host_api.abi_minor` first.
 */
#define EVH_EMIT_COMMIT 2

/**
 * `timeout_ms` for `evh_host_api.wait_committed` (ABI 1.1): wait without a time limit.
 */
#define EVH_WAIT_FOREVER UINT64_MAX

/**
 * Flags for the config accessors (`evh_host_api.config_*`, ABI 1.1): a key that is absent
 * is not an error; the accessor returns `EVH_OK` and leaves `*out` as it was, so set the
 * default before the call.
 */
#define EVH_CONFIG_OPTIONAL 0

/**
 * Flags for the config accessors (ABI 1.1): a key that is absent is an error
 * (`EVH_ERR_CONFIG`, with a message naming the key and how to add it).
 */
#define EVH_CONFIG_REQUIRED 1

/**
 * How many claims (ABI 1.2) one instance may hold open at once; `claim` answers `EVH_BUSY`
 * past it. It bounds the memory a producer that forgets to publish can hold.
 */
#define EVH_CLAIMS_MAX 16

/**
 * Plugin flag, reserved: this consumer's `on_events` would be safe to call concurrently
 * from several threads. Setting it is allowed and changes nothing: this host ignores it and
 * never calls one consumer instance concurrently, because every consumer receives its
 * events in log order, one batch after the other. The value stays taken.
 */
#define EVH_PLUGIN_CONCURRENT 1

/**
 * Library flag: the library carries a Go runtime (set by the Go SDK). The host loads at
 * most one such library per process and never unloads it.
 */
#define EVH_LIBRARY_GO_RUNTIME 1

/**
 * The host's side of one plugin instance: the handle a plugin passes back to the host API
 * to emit, log and report errors. It is thread-safe: any thread may use it at any time.
 *
 * OWNERSHIP: the host's; the plugin never frees it.
 * LIFETIME: from `on_create` until `on_destroy` returns.
 */
typedef struct evh_host evh_host;

/**
 * A status code. The values are stable and never reused; a retired code stays here as a
 * comment. Read a status that came across the boundary as an integer and treat an
 * unknown value as a failure; `evh_host_api.status_name` names every code.
 */
typedef int32_t evh_status;

/**
 * Log levels for `evh_host_api.log`.
 */
typedef uint32_t evh_log_level;

/**
 * Plugin kinds.
 */
typedef uint32_t evh_kind;

/**
 * A borrowed UTF-8 string: `len` bytes at `ptr`, not NUL-terminated. An empty string may
 * have a NULL `ptr`; it means "absent" for optional event attributes.
 *
 * OWNERSHIP: borrowed; the receiver never frees it.
 * LIFETIME: as documented where it appears; by default for the duration of the call.
 */
typedef struct evh_str {
    const uint8_t *ptr;
    size_t len;
} evh_str;

/**
 * Borrowed bytes: `len` bytes at `ptr`. An empty view may have a NULL `ptr`.
 *
 * OWNERSHIP: borrowed; the receiver never frees it.
 * LIFETIME: as documented where it appears; by default for the duration of the call.
 */
typedef struct evh_bytes {
    const uint8_t *ptr;
    size_t len;
} evh_bytes;

/**
 * One CloudEvents extension attribute, as a key and its value in string form.
 *
 * OWNERSHIP: borrowed, like the event that holds it.
 * LIFETIME: that of the event that holds it.
 */
typedef struct evh_attr {
    struct evh_str key;
    struct evh_str value;
} evh_attr;

/**
 * One event, CloudEvents 1.0 in shape. `id`, `source` and `type` are required; the other
 * attributes are optional and empty when absent (`specversion` empty means "1.0"). All
 * strings are UTF-8.
 *
 * Emitting: the producer fills `struct_size = sizeof(evh_event)` and the attributes; the
 * host ignores `seq` and assigns its own. Receiving: `seq` is the host's sequence number,
 * strictly increasing in log order.
 *
 * OWNERSHIP: borrowed in both directions. `emit` copies the whole event before it returns;
 * a consumer copies what it keeps.
 * LIFETIME: an event given to `on_events` is valid until that call returns.
 */
typedef struct evh_event {
    uint32_t struct_size;
    /**
     * Reserved, zero.
     */
    uint32_t reserved;
    /**
     * The host-assigned sequence number; ignored on emit.
     */
    uint64_t seq;
    struct evh_str id;
    struct evh_str source;
    struct evh_str specversion;
    struct evh_str type;
    struct evh_str subject;
    struct evh_str datacontenttype;
    struct evh_str dataschema;
    /**
     * RFC 3339 timestamp.
     */
    struct evh_str time;
    struct evh_bytes data;
    /**
     * `extensions_len` extension attributes; NULL when there are none.
     */
    const struct evh_attr *extensions;
    size_t extensions_len;
} evh_event;

/**
 * One plugin: its identity and the hooks the host calls on its instances. A NULL hook
 * means "not implemented". Every hook receives the instance pointer `on_create` made.
 *
 * Producers implement `on_run` (the host gives it a thread; it returns when the producer is
 * finished or asked to stop) or `on_start` (the plugin starts its own threads and joins them
 * in `on_stop`). Consumers implement `on_events`.
 *
 * OWNERSHIP: the library's.
 * LIFETIME: as long as the library stays loaded.
 */
typedef struct evh_plugin {
    uint32_t struct_size;
    /**
     * `EVH_KIND_PRODUCER` or `EVH_KIND_CONSUMER`.
     */
    evh_kind kind;
    /**
     * Unique within its library; `[a-z0-9_-]+` by convention.
     */
    struct evh_str name;
    /**
     * The plugin's own version, free-form (semver recommended).
     */
    struct evh_str version;
    /**
     * One line for `evhost inspect`.
     */
    struct evh_str description;
    /**
     * `EVH_PLUGIN_*` flags.
     */
    uint64_t flags;
    /**
     * Creates an instance from `args->config_json` (or the `config_*` accessors) and stores
     * it in `*instance_out` (written only on success). On failure, call `set_error` with a
     * message that says what is wrong and how to fix it (a failed accessor already did), and
     * return `EVH_ERR_CONFIG` or another error.
     *
     * OWNERSHIP: the instance is the plugin's; `on_destroy` frees it.
     */
    evh_status (*on_create)(const struct evh_create_args *args, void **instance_out);
    /**
     * Frees the instance. Called exactly once per successful `on_create`, after every
     * other hook has returned.
     */
    void (*on_destroy)(void *instance);
    /**
     * Producer: runs on a thread the host gives it, emitting through `host`, until it is
     * finished or asked to stop (`on_stop` or `stop_requested`); either way it returns
     * `EVH_OK`. Any other status (after `set_error`) marks the producer as failed.
     */
    evh_status (*on_run)(void *instance);
    /**
     * Producer: starts the plugin's own threads and returns at once.
     */
    evh_status (*on_start)(void *instance);
    /**
     * Producer: asks the instance to stop. Called from a host thread other than the one in
     * `on_run`; for `on_start` producers it also joins their threads before returning.
     * Consumer: called once after the last batch was delivered, before `on_destroy`; flush
     * and close here (report trouble with `log`). The host may call `on_stop` on a producer
     * whose `on_run` has already returned; it must then do nothing harmful.
     */
    void (*on_stop)(void *instance);
    /**
     * Consumer: handles a batch of `n >= 1` events in log order. Returns `EVH_OK` when all
     * were handled. With `EVH_RETRY` or `EVH_FAIL`, sets `*handled` to how many leading
     * events were handled (the host pre-sets it to 0); the rest is retried or dead-lettered.
     *
     * OWNERSHIP: `events` and everything they point to are the host's.
     * LIFETIME: valid until this call returns; copy what you keep.
     */
    evh_status (*on_events)(void *instance,
                            const struct evh_event *const *events,
                            size_t n,
                            size_t *handled);
    /**
     * ABI 1.1, producers, optional: the instance's emitted events are committed up to
     * `committed` (a watermark: every event with a sequence number up to it is committed;
     * see `evh_host_api.committed`). Called after some of the events this instance emitted
     * were newly committed, with values that only increase, so a producer with many batches
     * in flight can acknowledge each one whose ticket is `<= committed`. It may cover
     * several batches at once, and is not called for each value in between.
     *
     * THREADS: called on a host thread of its own, never the producer's own, never
     * concurrently for one instance, never after `on_destroy` began; it may run at the same
     * time as `on_run`, `on_stop` or the producer's threads. It must return quickly (it
     * holds up the notifications of every producer) and must not emit with
     * `EVH_EMIT_COMMIT`, call `wait_committed` or emit with `EVH_EMIT_BLOCK` (use
     * `EVH_EMIT_NONBLOCK`): a wait there could wait for itself.
     * A library built against ABI 1.0 has a smaller `struct_size`; the host never reads
     * this field then.
     */
    void (*on_committed)(void *instance, uint64_t committed);
} evh_plugin;

/**
 * What the host passes to `on_create`.
 *
 * OWNERSHIP: the host's.
 * LIFETIME: for the duration of `on_create`, except `host`, which lives until `on_destroy`
 * returns, and `api`, which lives as long as the library.
 */
typedef struct evh_create_args {
    uint32_t struct_size;
    /**
     * The handle to pass back to the host API; keep it.
     */
    struct evh_host *host;
    /**
     * The host API table, the same as at `evh_library_init`.
     */
    const struct evh_host_api *api;
    /**
     * The instance name from the host's config.
     */
    struct evh_str instance_name;
    /**
     * The plugin's `config` table from the host's config, as JSON text (`{}` when absent).
     * C plugins may read it with the `config_*` accessors of `evh_host_api` (ABI 1.1)
     * instead of parsing it.
     */
    struct evh_str config_json;
    /**
     * The plugin being instantiated, as the library described it; lets one `on_create`
     * serve several plugins.
     */
    const struct evh_plugin *plugin;
    /**
     * The folder of the host's config file, absolute. Resolve relative paths in the
     * plugin's config against it, as the host does for `library`, so that a config means
     * the same files wherever the host is started.
     */
    struct evh_str config_dir;
} evh_create_args;

/**
 * An open claim (ABI 1.2): room in the host's memory for events a producer writes in place,
 * filled in by `evh_host_api.claim`.
 *
 * OWNERSHIP: the struct is the caller's; `events` and `bytes` are the host's, lent to the
 * producer until `publish` succeeds or `abandon` returns (see `evh_host_api.claim`).
 * LIFETIME: as long as the claim is open.
 */
typedef struct evh_claim {
    /**
     * `sizeof(evh_claim)`, set by the host.
     */
    uint32_t struct_size;
    /**
     * Reserved, zero.
     */
    uint32_t reserved;
    /**
     * Room for `events_len` events, `sizeof(evh_event)` apart; their contents are
     * unspecified until the producer writes them.
     */
    struct evh_event *events;
    size_t events_len;
    /**
     * Room for `bytes_len` bytes, aligned to 16; unspecified until written.
     */
    uint8_t *bytes;
    size_t bytes_len;
    /**
     * The host's name for the claim; NULL once it is published or abandoned.
     */
    void *token;
} evh_claim;

/**
 * The services the host offers, passed to `evh_library_init` and again in
 * `evh_create_args`. The table only grows at the end; check `struct_size` before using a
 * member added after ABI 1.0.
 *
 * OWNERSHIP: the host's.
 * LIFETIME: valid until the library is unloaded (for Go libraries: the process lifetime).
 */
typedef struct evh_host_api {
    uint32_t struct_size;
    /**
     * The host's ABI version.
     */
    uint32_t abi_major;
    uint32_t abi_minor;
    /**
     * Appends `n` events to the log, atomically and in order, and assigns their sequence
     * numbers. Thread-safe; callable from any thread, including threads the plugin made.
     * `flags` is `EVH_EMIT_BLOCK` (wait while the log is full) or `EVH_EMIT_NONBLOCK`
     * (answer `EVH_BUSY`). Returns `EVH_OK` when every event was accepted; on any other
     * status none was, and the host logs why, naming the instance. Under shutdown a blocked
     * emit keeps waiting while consumers drain, and returns `EVH_STOPPED` once the host gives
     * up at its drain deadline. The host steps through `events`
     * by `events[0].struct_size` bytes, so every event in one call has the same size.
     *
     * OWNERSHIP: `events` stays the caller's; the host copies everything before returning.
     * LIFETIME: `events` must be valid for the duration of the call only.
     */
    evh_status (*emit)(struct evh_host *host,
                       const struct evh_event *events,
                       size_t n,
                       uint32_t flags);
    /**
     * Records the message that explains the failure the calling hook is about to return
     * (`on_create`, `on_events`, `on_run`, ...). The host shows it in logs and errors.
     *
     * OWNERSHIP: `message` stays the caller's; the host copies it.
     * LIFETIME: for the duration of the call.
     */
    void (*set_error)(struct evh_host *host, struct evh_str message);
    /**
     * Writes one line to the host's log, attributed to this instance.
     *
     * OWNERSHIP: `message` stays the caller's; the host copies it.
     * LIFETIME: for the duration of the call.
     */
    void (*log)(struct evh_host *host, evh_log_level level, struct evh_str message);
    /**
     * Non-zero once the host has asked this instance to stop. A producer running in
     * `on_run` may poll it instead of implementing `on_stop`.
     */
    uint32_t (*stop_requested)(struct evh_host *host);
    /**
     * The name of a status code, such as "EVH_RETRY"; "EVH_UNKNOWN" for any other value.
     *
     * OWNERSHIP: the host's static string.
     * LIFETIME: the process lifetime.
     */
    struct evh_str (*status_name)(evh_status status);
    /**
     * ABI 1.1; check `struct_size` (or `abi_minor >= 1`) before using it. Exactly like
     * `emit`, and on `EVH_OK` also stores the batch's ticket in `*ticket_out`: the sequence
     * number of its last event (for `n == 0`, the current `committed` value). The batch is
     * committed once `committed(host) >= ticket`. `*ticket_out` is written only on
     * `EVH_OK`. With `EVH_EMIT_COMMIT` it returns once the batch is committed, as `emit`
     * does.
     *
     * OWNERSHIP: `events` stays the caller's (the host copies it); `ticket_out` is the
     * caller's, written by the host.
     * LIFETIME: `events` and `ticket_out` must be valid for the duration of the call only.
     * THREADS: as `emit`.
     */
    evh_status (*emit_tracked)(struct evh_host *host,
                               const struct evh_event *events,
                               size_t n,
                               uint32_t flags,
                               uint64_t *ticket_out);
    /**
     * ABI 1.1. The commit watermark: every event with a sequence number up to the value
     * returned is committed (0: none yet). It never decreases. "Committed" means: with the
     * disk log, written and fsynced as the `[log] fsync` policy says (it survives a crash of
     * the host, and with `fsync = "commit"` a power loss); with the memory log, accepted into
     * the log. The watermark is the whole log's, shared by every producer. 0 for a handle
     * that cannot emit (a consumer's, or one whose instance is destroyed).
     *
     * THREADS: any thread, at any time; it does not block.
     */
    uint64_t (*committed)(struct evh_host *host);
    /**
     * ABI 1.1. Waits until the event with sequence number `ticket` is committed
     * (`EVH_OK`), `timeout_ms` milliseconds pass (`EVH_BUSY`; `EVH_WAIT_FOREVER` waits
     * without a limit, 0 only looks), or the host stops first (`EVH_STOPPED`). A ticket
     * never handed to this instance (higher than the last one its emits got) is refused
     * with `EVH_ERR_INVALID_ARGUMENT`, since waiting for it could last forever.
     *
     * THREADS: any thread; it blocks only the caller. Never from `on_committed`.
     */
    evh_status (*wait_committed)(struct evh_host *host, uint64_t ticket, uint64_t timeout_ms);
    /**
     * ABI 1.1, config accessors (this and the eight entries after it): read the plugin's
     * `config` table by key path, without parsing `config_json`. Check `struct_size` before
     * using them. Each takes the `args` that `on_create` received and works only while that
     * `on_create` runs: the host parses the config once per `on_create` and drops it when
     * `on_create` returns.
     *
     * PATHS are NUL-terminated UTF-8: keys joined by `.`, array elements by `[index]`, e.g.
     * `"count"`, `"tls.ca_file"`, `"jobs[2].every"`. A key with `.`, `[` or `]` in it is
     * quoted: `"\"a.b\".c"`. The empty path `""` is the whole `config` table (for
     * `config_keys`). An array's elements are counted with `config_len` and read by index.
     *
     * FLAGS: `EVH_CONFIG_REQUIRED` or `EVH_CONFIG_OPTIONAL`. With `EVH_CONFIG_OPTIONAL` an
     * absent key (or an index past the array's end) returns `EVH_OK` and leaves `*out` as it
     * was: set the default first.
     *
     * ERRORS: `EVH_OK`; `EVH_ERR_CONFIG` for the user's mistake (a required key is absent, a
     * value has the wrong type or is out of range); `EVH_ERR_INVALID_ARGUMENT` for the
     * plugin's (a NULL pointer, a path that does not parse, a call outside `on_create`).
     * On failure the accessor has already recorded the message, as `set_error` would, in
     * the host's wording (e.g. `` `count` = "ten" is a string; write an integer, e.g. count =
     * 1 ``), so `on_create` can return the status as it is. `*out` is written only on
     * success.
     *
     * This one reads a string. A present string, even an empty one, has a non-NULL `ptr`.
     *
     * OWNERSHIP: `args` and `path` stay the caller's; the view in `*out` borrows the host's
     * copy of the config. It is not NUL-terminated and may contain NUL bytes.
     * LIFETIME: the view is valid until `on_create` returns; copy what you keep. (A view,
     * not a copy into a caller buffer: like every other string in this ABI, with no size to
     * guess and no truncation, and the plugin copies once, into what it keeps.)
     * THREADS: any thread, while `on_create` runs.
     */
    evh_status (*config_string)(const struct evh_create_args *args,
                                const char *path,
                                uint32_t flags,
                                struct evh_str *out);
    /**
     * ABI 1.1 (see `config_string` for paths, flags and errors): an integer, from
     * `-9223372036854775808` to `9223372036854775807`. A float is refused, even `1.0`.
     */
    evh_status (*config_int)(const struct evh_create_args *args,
                             const char *path,
                             uint32_t flags,
                             int64_t *out);
    /**
     * ABI 1.1 (see `config_string`): an integer from 0 to `UINT64_MAX`; a negative one is
     * refused.
     */
    evh_status (*config_uint)(const struct evh_create_args *args,
                              const char *path,
                              uint32_t flags,
                              uint64_t *out);
    /**
     * ABI 1.1 (see `config_string`): a number; an integer is read as a float too.
     */
    evh_status (*config_float)(const struct evh_create_args *args,
                               const char *path,
                               uint32_t flags,
                               double *out);
    /**
     * ABI 1.1 (see `config_string`): `true` or `false`.
     */
    evh_status (*config_bool)(const struct evh_create_args *args,
                              const char *path,
                              uint32_t flags,
                              bool *out);
    /**
     * ABI 1.1 (see `config_string`): a duration in microseconds, written as the host's own
     * durations are: whole numbers with units `us`, `ms`, `s`, `m`, `h`, `d`, compound
     * allowed (`"500ms"`, `"1h30m"`). A bare number has no unit and is refused.
     */
    evh_status (*config_duration_us)(const struct evh_create_args *args,
                                     const char *path,
                                     uint32_t flags,
                                     uint64_t *out);
    /**
     * ABI 1.1 (see `config_string`): a size in bytes, written as the host's own sizes are:
     * a whole number of bytes (`4096`) or a number and a unit (`"64MiB"`; `B`, `KiB`, `MiB`,
     * `GiB`, `KB`/`kB`, `MB`, `GB`).
     */
    evh_status (*config_size)(const struct evh_create_args *args,
                              const char *path,
                              uint32_t flags,
                              uint64_t *out);
    /**
     * ABI 1.1 (see `config_string`): the number of elements of an array; read them as
     * `path[0]` to `path[len - 1]`.
     */
    evh_status (*config_len)(const struct evh_create_args *args,
                             const char *path,
                             uint32_t flags,
                             size_t *out);
    /**
     * ABI 1.1 (see `config_string`): checks that the table at `path` (`""`: the whole
     * config) has no key other than the `keys_len` NUL-terminated `keys`. An unknown key is
     * `EVH_ERR_CONFIG`, with the host's "did you mean" suggestion among `keys`; an absent
     * table is `EVH_OK`. Call it first, so that a misspelt optional key is not silently
     * ignored.
     *
     * OWNERSHIP: `keys` and its strings stay the caller's.
     * LIFETIME: for the duration of the call.
     */
    evh_status (*config_keys)(const struct evh_create_args *args,
                              const char *path,
                              const char *const *keys,
                              size_t keys_len);
    /**
     * ABI 1.2; check `struct_size` (or `abi_minor >= 2`) before using it. Claims room in
     * the host's memory for up to `n` events and `bytes` bytes, and describes it in `*out`
     * (written only on `EVH_OK`). The producer writes its events into `out->events` and every
     * string, data and extension array they point to into `out->bytes`, then hands them to
     * the log with `publish`, or gives the room back with `abandon`. Nothing is copied on
     * the way: the memory the producer wrote becomes the log's, and consumers read it there.
     * `emit` stays as it is; claiming is optional, for producers that can write their events
     * in place.
     *
     * A claim does not reserve a place in the log: sequence numbers are given at `publish`,
     * so a claim held open, abandoned or never published holds up no other producer. Once
     * published, the whole claim counts against the log's `max_bytes`, used or not: claim
     * about what you will write. `flags` is 0 (reserved).
     *
     * ERRORS: `EVH_ERR_INVALID_ARGUMENT` for `out == NULL` or `n == 0`;
     * `EVH_ERR_TOO_LARGE` for a claim that could never fit the log (more than its `[log]
     * capacity` events or `max_bytes` bytes; claim less and publish more often);
     * `EVH_BUSY` when this instance holds `EVH_CLAIMS_MAX` open claims already (publish or
     * abandon one first); `EVH_ERR_UNSUPPORTED` for a consumer's handle;
     * `EVH_STOPPED` once the instance is stopped. The message says which (`set_error`).
     *
     * OWNERSHIP: the room is the host's, lent to the producer: until `publish` returns
     * `EVH_OK` or `abandon` returns, the producer may write and read `events[0..n]` and
     * `bytes[0..bytes]` and nothing else; the host does not look at them. From then on they
     * are the host's: touching them is undefined behaviour. `*out` itself is the caller's.
     * LIFETIME: an open claim stays valid, even after its instance stopped, until it is
     * published or abandoned. Do both exactly once per claim.
     * THREADS: any thread; the claim is not tied to the thread that made it (publish or
     * abandon it from another), but one claim must not be used by two threads at once.
     */
    evh_status (*claim)(struct evh_host *host,
                        size_t n,
                        size_t bytes,
                        uint32_t flags,
                        struct evh_claim *out);
    /**
     * ABI 1.2. Appends the first `n` events of `claim` (`1 <= n <= claim->events_len`) to the
     * log, atomically and in order, as `emit` does: the same `flags` (`EVH_EMIT_BLOCK`,
     * `EVH_EMIT_NONBLOCK`, `EVH_EMIT_COMMIT`), the same checks with the same messages, the
     * same statuses, and the same ticket in `*ticket_out` on `EVH_OK` (`ticket_out` may be
     * NULL). One more rule than `emit`: every non-empty view of the events (strings, data,
     * the extension array and its keys and values) must lie inside `claim->bytes`, so that
     * nothing the log keeps points into the producer's memory; the extension array must be
     * aligned for `evh_attr`. `struct_size` of every event is `sizeof(evh_event)`; `seq` is
     * ignored and written by the host.
     *
     * On `EVH_OK` the claim is consumed and `claim->token` set to NULL. On any other status
     * the claim stays open and untouched (the producer may fix it and publish again, retry
     * after `EVH_BUSY`, or abandon it); the host logs why, as for `emit`.
     *
     * OWNERSHIP: on `EVH_OK` the claimed memory is the host's (see `claim`); `claim` and
     * `ticket_out` stay the caller's.
     * LIFETIME: `claim` and `ticket_out` for the duration of the call.
     * THREADS: as `claim`.
     */
    evh_status (*publish)(struct evh_host *host,
                          struct evh_claim *claim,
                          size_t n,
                          uint32_t flags,
                          uint64_t *ticket_out);
    /**
     * ABI 1.2. Gives an open claim's room back without publishing anything, and sets
     * `claim->token` to NULL. `EVH_OK`, or `EVH_ERR_INVALID_ARGUMENT` for a claim that is
     * not open (already published or abandoned, or never made by this instance).
     *
     * OWNERSHIP: the claimed memory is the host's again when it returns.
     * THREADS: as `claim`.
     */
    evh_status (*abandon)(struct evh_host *host, struct evh_claim *claim);
} evh_host_api;

/**
 * The description of a library, returned by `evh_library_init`.
 *
 * OWNERSHIP: the library's (usually static data).
 * LIFETIME: as long as the library stays loaded.
 */
typedef struct evh_library {
    uint32_t struct_size;
    /**
     * The ABI the library was built against: `EVH_ABI_VERSION_MAJOR`/`MINOR`.
     */
    uint32_t abi_major;
    uint32_t abi_minor;
    /**
     * `EVH_LIBRARY_*` flags.
     */
    uint64_t flags;
    /**
     * `plugins_len` pointers to the library's plugins.
     */
    const struct evh_plugin *const *plugins;
    size_t plugins_len;
} evh_library;

/**
 * The entry point, `evh_library_init`. The host calls it once after loading the library,
 * before anything else. It stores a pointer to the library's description in `*out`
 * (written only on success) and returns `EVH_OK`; on failure it may call nothing else,
 * and returns an error status.
 *
 * OWNERSHIP: `api` is the host's; `*out` points to the library's data.
 * LIFETIME: `api` and `*out` live as long as the library stays loaded.
 */
typedef evh_status (*evh_library_init_fn)(const struct evh_host_api *api,
                                          const struct evh_library **out);

/**
 * Success. From `on_events`: every event of the batch was handled.
 */
#define EVH_OK 0

/**
 * From `on_events`: a transient failure. The host delivers the unhandled rest of the batch
 * again after an exponential backoff with jitter, up to the consumer's retry limit.
 */
#define EVH_RETRY 1

/**
 * From `on_events`: a permanent failure. The unhandled rest of the batch goes to the
 * consumer's dead-letter target and delivery goes on.
 */
#define EVH_FAIL 2

/**
 * From `emit` with `EVH_EMIT_NONBLOCK`: the log is full; nothing of the batch was accepted.
 * Try again later.
 */
#define EVH_BUSY 3

/**
 * From `emit`: the host is shutting down past its deadline and accepts nothing more.
 */
#define EVH_STOPPED 4

/**
 * An argument was invalid: a NULL pointer, an event without id, source or type, a string
 * that is not UTF-8. The host's message (see `set_error`) says which.
 */
#define EVH_ERR_INVALID_ARGUMENT 5

/**
 * An event is larger than the host's configured maximum.
 */
#define EVH_ERR_TOO_LARGE 6

/**
 * From `on_create`: the plugin's configuration is invalid.
 */
#define EVH_ERR_CONFIG 7

/**
 * From `evh_library_init`: the library cannot work with this host's ABI version.
 */
#define EVH_ERR_VERSION 8

/**
 * An internal error, including a panic caught at the boundary by an SDK.
 */
#define EVH_ERR_INTERNAL 9

/**
 * The call is not supported by this plugin or host.
 */
#define EVH_ERR_UNSUPPORTED 10

#define EVH_LOG_ERROR 1

#define EVH_LOG_WARN 2

#define EVH_LOG_INFO 3

#define EVH_LOG_DEBUG 4

#define EVH_LOG_TRACE 5

/**
 * Turns the world's events into events; gets an emitter.
 */
#define EVH_KIND_PRODUCER 1

/**
 * Receives every event in log order, in batches.
 */
#define EVH_KIND_CONSUMER 2

#if defined(_WIN32)
#define EVH_EXPORT __declspec(dllexport)
#else
#define EVH_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The entry point every plugin library defines; see evh_library_init_fn. */
EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EVHOST_H */
