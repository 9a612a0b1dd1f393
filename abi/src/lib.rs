//! The evhost plugin ABI: `#[repr(C)]` types, status codes and version constants, nothing
//! else. `include/evhost.h` is generated from this file by cbindgen (see `cbindgen.toml`), so
//! every `///` comment here is also the C documentation. The names carry the C prefixes
//! (`evh_`, `EVH_`) so that one grep finds both sides.
//!
//! Rule for changes: only append. A field, a hook, a constant or a status code, once
//! released, keeps its place and its meaning forever; new ones go at the end and bump
//! `EVH_ABI_VERSION_MINOR`. The test `tests/header.rs` fails when the header drifts.
#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_void};

/// The ABI major version. A host loads only libraries built against the same major.
pub const EVH_ABI_VERSION_MAJOR: u32 = 1;
/// The ABI minor version. A host accepts a library whose minor is less than or equal to its
/// own; it never reads a field past the `struct_size` the library reported.
///
/// 1.1 appended commit notifications: `EVH_EMIT_COMMIT`, `evh_host_api.emit_tracked`,
/// `committed` and `wait_committed`, and the producer hook `evh_plugin.on_committed`; then,
/// in the same 1.1, the config accessors `evh_host_api.config_string` ... `config_keys` with
/// `EVH_CONFIG_OPTIONAL`/`EVH_CONFIG_REQUIRED`, and the `EVH_STR` macro.
///
/// 1.2 appended claim and publish: `evh_claim`, `evh_host_api.claim`, `publish` and
/// `abandon`.
pub const EVH_ABI_VERSION_MINOR: u32 = 2;

// ---------------------------------------------------------------------------------------
// Status codes
// ---------------------------------------------------------------------------------------

/// A status code. The values are stable and never reused; a retired code stays here as a
/// comment. Read a status that came across the boundary as an integer and treat an
/// unknown value as a failure; `evh_host_api.status_name` names every code.
pub type evh_status = i32;

/// Success. From `on_events`: every event of the batch was handled.
pub const EVH_OK: evh_status = 0;
/// From `on_events`: a transient failure. The host delivers the unhandled rest of the batch
/// again after an exponential backoff with jitter, up to the consumer's retry limit.
pub const EVH_RETRY: evh_status = 1;
/// From `on_events`: a permanent failure. The unhandled rest of the batch goes to the
/// consumer's dead-letter target and delivery goes on.
pub const EVH_FAIL: evh_status = 2;
/// From `emit` with `EVH_EMIT_NONBLOCK`: the log is full; nothing of the batch was accepted.
/// Try again later.
pub const EVH_BUSY: evh_status = 3;
/// From `emit`: the host is shutting down past its deadline and accepts nothing more.
pub const EVH_STOPPED: evh_status = 4;
/// An argument was invalid: a NULL pointer, an event without id, source or type, a string
/// that is not UTF-8. The host's message (see `set_error`) says which.
pub const EVH_ERR_INVALID_ARGUMENT: evh_status = 5;
/// An event is larger than the host's configured maximum.
pub const EVH_ERR_TOO_LARGE: evh_status = 6;
/// From `on_create`: the plugin's configuration is invalid.
pub const EVH_ERR_CONFIG: evh_status = 7;
/// From `evh_library_init`: the library cannot work with this host's ABI version.
pub const EVH_ERR_VERSION: evh_status = 8;
/// An internal error, including a panic caught at the boundary by an SDK.
pub const EVH_ERR_INTERNAL: evh_status = 9;
/// The call is not supported by this plugin or host.
pub const EVH_ERR_UNSUPPORTED: evh_status = 10;

// ---------------------------------------------------------------------------------------
// Borrowed views
// ---------------------------------------------------------------------------------------

/// A borrowed UTF-8 string: `len` bytes at `ptr`, not NUL-terminated. An empty string may
/// have a NULL `ptr`; it means "absent" for optional event attributes.
///
/// OWNERSHIP: borrowed; the receiver never frees it.
/// LIFETIME: as documented where it appears; by default for the duration of the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evh_str {
    pub ptr: *const u8,
    pub len: usize,
}

/// Borrowed bytes: `len` bytes at `ptr`. An empty view may have a NULL `ptr`.
///
/// OWNERSHIP: borrowed; the receiver never frees it.
/// LIFETIME: as documented where it appears; by default for the duration of the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evh_bytes {
    pub ptr: *const u8,
    pub len: usize,
}

/// One CloudEvents extension attribute, as a key and its value in string form.
///
/// OWNERSHIP: borrowed, like the event that holds it.
/// LIFETIME: that of the event that holds it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evh_attr {
    pub key: evh_str,
    pub value: evh_str,
}

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/// One event, CloudEvents 1.0 in shape. `id`, `source` and `type` are required; the other
/// attributes are optional and empty when absent (`specversion` empty means "1.0"). All
/// strings are UTF-8.
///
/// Emitting: the producer fills `struct_size = sizeof(evh_event)` and the attributes; the
/// host ignores `seq` and assigns its own. Receiving: `seq` is the host's sequence number,
/// strictly increasing in log order.
///
/// OWNERSHIP: borrowed in both directions. `emit` copies the whole event before it returns;
/// a consumer copies what it keeps.
/// LIFETIME: an event given to `on_events` is valid until that call returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct evh_event {
    pub struct_size: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// The host-assigned sequence number; ignored on emit.
    pub seq: u64,
    pub id: evh_str,
    pub source: evh_str,
    pub specversion: evh_str,
    pub r#type: evh_str,
    pub subject: evh_str,
    pub datacontenttype: evh_str,
    pub dataschema: evh_str,
    /// RFC 3339 timestamp.
    pub time: evh_str,
    pub data: evh_bytes,
    /// `extensions_len` extension attributes; NULL when there are none.
    pub extensions: *const evh_attr,
    pub extensions_len: usize,
}

// ---------------------------------------------------------------------------------------
// The host side
// ---------------------------------------------------------------------------------------

/// The host's side of one plugin instance: the handle a plugin passes back to the host API
/// to emit, log and report errors. It is thread-safe: any thread may use it at any time.
///
/// OWNERSHIP: the host's; the plugin never frees it.
/// LIFETIME: from `on_create` until `on_destroy` returns.
pub struct evh_host {
    _opaque: [u8; 0],
}

/// Flags for `evh_host_api.emit`: wait for room when the log is full (the default).
pub const EVH_EMIT_BLOCK: u32 = 0;
/// Flags for `evh_host_api.emit`: answer `EVH_BUSY` at once when the log is full.
pub const EVH_EMIT_NONBLOCK: u32 = 1;
/// Flags for `evh_host_api.emit` and `emit_tracked` (ABI 1.1), combinable with the two
/// above: return only once the batch is committed (`EVH_OK`), or `EVH_STOPPED` when the host
/// stopped before it was. "Committed" is defined at `evh_host_api.committed`. For a producer
/// that acknowledges someone else (an HTTP client, a broker) one request per thread. A host
/// older than 1.1 ignores the flag: check `evh_host_api.abi_minor` first.
pub const EVH_EMIT_COMMIT: u32 = 2;

/// `timeout_ms` for `evh_host_api.wait_committed` (ABI 1.1): wait without a time limit.
pub const EVH_WAIT_FOREVER: u64 = u64::MAX;

/// Flags for the config accessors (`evh_host_api.config_*`, ABI 1.1): a key that is absent
/// is not an error; the accessor returns `EVH_OK` and leaves `*out` as it was, so set the
/// default before the call.
pub const EVH_CONFIG_OPTIONAL: u32 = 0;
/// Flags for the config accessors (ABI 1.1): a key that is absent is an error
/// (`EVH_ERR_CONFIG`, with a message naming the key and how to add it).
pub const EVH_CONFIG_REQUIRED: u32 = 1;

/// Log levels for `evh_host_api.log`.
pub type evh_log_level = u32;
pub const EVH_LOG_ERROR: evh_log_level = 1;
pub const EVH_LOG_WARN: evh_log_level = 2;
pub const EVH_LOG_INFO: evh_log_level = 3;
pub const EVH_LOG_DEBUG: evh_log_level = 4;
pub const EVH_LOG_TRACE: evh_log_level = 5;

/// The services the host offers, passed to `evh_library_init` and again in
/// `evh_create_args`. The table only grows at the end; check `struct_size` before using a
/// member added after ABI 1.0.
///
/// OWNERSHIP: the host's.
/// LIFETIME: valid until the library is unloaded (for Go libraries: the process lifetime).
#[repr(C)]
pub struct evh_host_api {
    pub struct_size: u32,
    /// The host's ABI version.
    pub abi_major: u32,
    pub abi_minor: u32,
    /// Appends `n` events to the log, atomically and in order, and assigns their sequence
    /// numbers. Thread-safe; callable from any thread, including threads the plugin made.
    /// `flags` is `EVH_EMIT_BLOCK` (wait while the log is full) or `EVH_EMIT_NONBLOCK`
    /// (answer `EVH_BUSY`). Returns `EVH_OK` when every event was accepted; on any other
    /// status none was, and the host logs why, naming the instance. Under shutdown a blocked
    /// emit keeps waiting while consumers drain, and returns `EVH_STOPPED` once the host gives
    /// up at its drain deadline. The host steps through `events`
    /// by `events[0].struct_size` bytes, so every event in one call has the same size.
    ///
    /// OWNERSHIP: `events` stays the caller's; the host copies everything before returning.
    /// LIFETIME: `events` must be valid for the duration of the call only.
    pub emit:
        Option<unsafe extern "C" fn(host: *mut evh_host, events: *const evh_event, n: usize, flags: u32) -> evh_status>,
    /// Records the message that explains the failure the calling hook is about to return
    /// (`on_create`, `on_events`, `on_run`, ...). The host shows it in logs and errors.
    ///
    /// OWNERSHIP: `message` stays the caller's; the host copies it.
    /// LIFETIME: for the duration of the call.
    pub set_error: Option<unsafe extern "C" fn(host: *mut evh_host, message: evh_str)>,
    /// Writes one line to the host's log, attributed to this instance.
    ///
    /// OWNERSHIP: `message` stays the caller's; the host copies it.
    /// LIFETIME: for the duration of the call.
    pub log: Option<unsafe extern "C" fn(host: *mut evh_host, level: evh_log_level, message: evh_str)>,
    /// Non-zero once the host has asked this instance to stop. A producer running in
    /// `on_run` may poll it instead of implementing `on_stop`.
    pub stop_requested: Option<unsafe extern "C" fn(host: *mut evh_host) -> u32>,
    /// The name of a status code, such as "EVH_RETRY"; "EVH_UNKNOWN" for any other value.
    ///
    /// OWNERSHIP: the host's static string.
    /// LIFETIME: the process lifetime.
    pub status_name: Option<unsafe extern "C" fn(status: evh_status) -> evh_str>,
    /// ABI 1.1; check `struct_size` (or `abi_minor >= 1`) before using it. Exactly like
    /// `emit`, and on `EVH_OK` also stores the batch's ticket in `*ticket_out`: the sequence
    /// number of its last event (for `n == 0`, the current `committed` value). The batch is
    /// committed once `committed(host) >= ticket`. `*ticket_out` is written only on
    /// `EVH_OK`. With `EVH_EMIT_COMMIT` it returns once the batch is committed, as `emit`
    /// does.
    ///
    /// OWNERSHIP: `events` stays the caller's (the host copies it); `ticket_out` is the
    /// caller's, written by the host.
    /// LIFETIME: `events` and `ticket_out` must be valid for the duration of the call only.
    /// THREADS: as `emit`.
    pub emit_tracked: Option<
        unsafe extern "C" fn(
            host: *mut evh_host,
            events: *const evh_event,
            n: usize,
            flags: u32,
            ticket_out: *mut u64,
        ) -> evh_status,
    >,
    /// ABI 1.1. The commit watermark: every event with a sequence number up to the value
    /// returned is committed (0: none yet). It never decreases. "Committed" means: with the
    /// disk log, written and fsynced as the `[log] fsync` policy says (it survives a crash of
    /// the host, and with `fsync = "commit"` a power loss); with the memory log, accepted into
    /// the log. The watermark is the whole log's, shared by every producer. 0 for a handle
    /// that cannot emit (a consumer's, or one whose instance is destroyed).
    ///
    /// THREADS: any thread, at any time; it does not block.
    pub committed: Option<unsafe extern "C" fn(host: *mut evh_host) -> u64>,
    /// ABI 1.1. Waits until the event with sequence number `ticket` is committed
    /// (`EVH_OK`), `timeout_ms` milliseconds pass (`EVH_BUSY`; `EVH_WAIT_FOREVER` waits
    /// without a limit, 0 only looks), or the host stops first (`EVH_STOPPED`). A ticket
    /// never handed to this instance (higher than the last one its emits got) is refused
    /// with `EVH_ERR_INVALID_ARGUMENT`, since waiting for it could last forever.
    ///
    /// THREADS: any thread; it blocks only the caller. Never from `on_committed`.
    pub wait_committed: Option<unsafe extern "C" fn(host: *mut evh_host, ticket: u64, timeout_ms: u64) -> evh_status>,
    /// ABI 1.1, config accessors (this and the eight entries after it): read the plugin's
    /// `config` table by key path, without parsing `config_json`. Check `struct_size` before
    /// using them. Each takes the `args` that `on_create` received and works only while that
    /// `on_create` runs: the host parses the config once per `on_create` and drops it when
    /// `on_create` returns.
    ///
    /// PATHS are NUL-terminated UTF-8: keys joined by `.`, array elements by `[index]`, e.g.
    /// `"count"`, `"tls.ca_file"`, `"jobs[2].every"`. A key with `.`, `[` or `]` in it is
    /// quoted: `"\"a.b\".c"`. The empty path `""` is the whole `config` table (for
    /// `config_keys`). An array's elements are counted with `config_len` and read by index.
    ///
    /// FLAGS: `EVH_CONFIG_REQUIRED` or `EVH_CONFIG_OPTIONAL`. With `EVH_CONFIG_OPTIONAL` an
    /// absent key (or an index past the array's end) returns `EVH_OK` and leaves `*out` as it
    /// was: set the default first.
    ///
    /// ERRORS: `EVH_OK`; `EVH_ERR_CONFIG` for the user's mistake (a required key is absent, a
    /// value has the wrong type or is out of range); `EVH_ERR_INVALID_ARGUMENT` for the
    /// plugin's (a NULL pointer, a path that does not parse, a call outside `on_create`).
    /// On failure the accessor has already recorded the message, as `set_error` would, in
    /// the host's wording (e.g. `` `count` = "ten" is a string; write an integer, e.g. count =
    /// 1 ``), so `on_create` can return the status as it is. `*out` is written only on
    /// success.
    ///
    /// This one reads a string. A present string, even an empty one, has a non-NULL `ptr`.
    ///
    /// OWNERSHIP: `args` and `path` stay the caller's; the view in `*out` borrows the host's
    /// copy of the config. It is not NUL-terminated and may contain NUL bytes.
    /// LIFETIME: the view is valid until `on_create` returns; copy what you keep. (A view,
    /// not a copy into a caller buffer: like every other string in this ABI, with no size to
    /// guess and no truncation, and the plugin copies once, into what it keeps.)
    /// THREADS: any thread, while `on_create` runs.
    pub config_string: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            flags: u32,
            out: *mut evh_str,
        ) -> evh_status,
    >,
    /// ABI 1.1 (see `config_string` for paths, flags and errors): an integer, from
    /// `-9223372036854775808` to `9223372036854775807`. A float is refused, even `1.0`.
    pub config_int: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            flags: u32,
            out: *mut i64,
        ) -> evh_status,
    >,
    /// ABI 1.1 (see `config_string`): an integer from 0 to `UINT64_MAX`; a negative one is
    /// refused.
    pub config_uint: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            flags: u32,
            out: *mut u64,
        ) -> evh_status,
    >,
    /// ABI 1.1 (see `config_string`): a number; an integer is read as a float too.
    pub config_float: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            flags: u32,
            out: *mut f64,
        ) -> evh_status,
    >,
    /// ABI 1.1 (see `config_string`): `true` or `false`.
    pub config_bool: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            flags: u32,
            out: *mut bool,
        ) -> evh_status,
    >,
    /// ABI 1.1 (see `config_string`): a duration in microseconds, written as the host's own
    /// durations are: whole numbers with units `us`, `ms`, `s`, `m`, `h`, `d`, compound
    /// allowed (`"500ms"`, `"1h30m"`). A bare number has no unit and is refused.
    pub config_duration_us: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            flags: u32,
            out: *mut u64,
        ) -> evh_status,
    >,
    /// ABI 1.1 (see `config_string`): a size in bytes, written as the host's own sizes are:
    /// a whole number of bytes (`4096`) or a number and a unit (`"64MiB"`; `B`, `KiB`, `MiB`,
    /// `GiB`, `KB`/`kB`, `MB`, `GB`).
    pub config_size: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            flags: u32,
            out: *mut u64,
        ) -> evh_status,
    >,
    /// ABI 1.1 (see `config_string`): the number of elements of an array; read them as
    /// `path[0]` to `path[len - 1]`.
    pub config_len: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            flags: u32,
            out: *mut usize,
        ) -> evh_status,
    >,
    /// ABI 1.1 (see `config_string`): checks that the table at `path` (`""`: the whole
    /// config) has no key other than the `keys_len` NUL-terminated `keys`. An unknown key is
    /// `EVH_ERR_CONFIG`, with the host's "did you mean" suggestion among `keys`; an absent
    /// table is `EVH_OK`. Call it first, so that a misspelt optional key is not silently
    /// ignored.
    ///
    /// OWNERSHIP: `keys` and its strings stay the caller's.
    /// LIFETIME: for the duration of the call.
    pub config_keys: Option<
        unsafe extern "C" fn(
            args: *const evh_create_args,
            path: *const c_char,
            keys: *const *const c_char,
            keys_len: usize,
        ) -> evh_status,
    >,
    /// ABI 1.2; check `struct_size` (or `abi_minor >= 2`) before using it. Claims room in
    /// the host's memory for up to `n` events and `bytes` bytes, and describes it in `*out`
    /// (written only on `EVH_OK`). The producer writes its events into `out->events` and every
    /// string, data and extension array they point to into `out->bytes`, then hands them to
    /// the log with `publish`, or gives the room back with `abandon`. Nothing is copied on
    /// the way: the memory the producer wrote becomes the log's, and consumers read it there.
    /// `emit` stays as it is; claiming is optional, for producers that can write their events
    /// in place.
    ///
    /// A claim does not reserve a place in the log: sequence numbers are given at `publish`,
    /// so a claim held open, abandoned or never published holds up no other producer. Once
    /// published, the whole claim counts against the log's `max_bytes`, used or not: claim
    /// about what you will write. `flags` is 0 (reserved).
    ///
    /// ERRORS: `EVH_ERR_INVALID_ARGUMENT` for `out == NULL` or `n == 0`;
    /// `EVH_ERR_TOO_LARGE` for a claim that could never fit the log (more than its `[log]
    /// capacity` events or `max_bytes` bytes; claim less and publish more often);
    /// `EVH_BUSY` when this instance holds `EVH_CLAIMS_MAX` open claims already (publish or
    /// abandon one first); `EVH_ERR_UNSUPPORTED` for a consumer's handle;
    /// `EVH_STOPPED` once the instance is stopped. The message says which (`set_error`).
    ///
    /// OWNERSHIP: the room is the host's, lent to the producer: until `publish` returns
    /// `EVH_OK` or `abandon` returns, the producer may write and read `events[0..n]` and
    /// `bytes[0..bytes]` and nothing else; the host does not look at them. From then on they
    /// are the host's: touching them is undefined behaviour. `*out` itself is the caller's.
    /// LIFETIME: an open claim stays valid, even after its instance stopped, until it is
    /// published or abandoned. Do both exactly once per claim.
    /// THREADS: any thread; the claim is not tied to the thread that made it (publish or
    /// abandon it from another), but one claim must not be used by two threads at once.
    pub claim: Option<
        unsafe extern "C" fn(
            host: *mut evh_host,
            n: usize,
            bytes: usize,
            flags: u32,
            out: *mut evh_claim,
        ) -> evh_status,
    >,
    /// ABI 1.2. Appends the first `n` events of `claim` (`1 <= n <= claim->events_len`) to the
    /// log, atomically and in order, as `emit` does: the same `flags` (`EVH_EMIT_BLOCK`,
    /// `EVH_EMIT_NONBLOCK`, `EVH_EMIT_COMMIT`), the same checks with the same messages, the
    /// same statuses, and the same ticket in `*ticket_out` on `EVH_OK` (`ticket_out` may be
    /// NULL). One more rule than `emit`: every non-empty view of the events (strings, data,
    /// the extension array and its keys and values) must lie inside `claim->bytes`, so that
    /// nothing the log keeps points into the producer's memory; the extension array must be
    /// aligned for `evh_attr`. `struct_size` of every event is `sizeof(evh_event)`; `seq` is
    /// ignored and written by the host.
    ///
    /// On `EVH_OK` the claim is consumed and `claim->token` set to NULL. On any other status
    /// the claim stays open and untouched (the producer may fix it and publish again, retry
    /// after `EVH_BUSY`, or abandon it); the host logs why, as for `emit`.
    ///
    /// OWNERSHIP: on `EVH_OK` the claimed memory is the host's (see `claim`); `claim` and
    /// `ticket_out` stay the caller's.
    /// LIFETIME: `claim` and `ticket_out` for the duration of the call.
    /// THREADS: as `claim`.
    pub publish: Option<
        unsafe extern "C" fn(
            host: *mut evh_host,
            claim: *mut evh_claim,
            n: usize,
            flags: u32,
            ticket_out: *mut u64,
        ) -> evh_status,
    >,
    /// ABI 1.2. Gives an open claim's room back without publishing anything, and sets
    /// `claim->token` to NULL. `EVH_OK`, or `EVH_ERR_INVALID_ARGUMENT` for a claim that is
    /// not open (already published or abandoned, or never made by this instance).
    ///
    /// OWNERSHIP: the claimed memory is the host's again when it returns.
    /// THREADS: as `claim`.
    pub abandon: Option<unsafe extern "C" fn(host: *mut evh_host, claim: *mut evh_claim) -> evh_status>,
}

/// How many claims (ABI 1.2) one instance may hold open at once; `claim` answers `EVH_BUSY`
/// past it. It bounds the memory a producer that forgets to publish can hold.
pub const EVH_CLAIMS_MAX: usize = 16;

/// An open claim (ABI 1.2): room in the host's memory for events a producer writes in place,
/// filled in by `evh_host_api.claim`.
///
/// OWNERSHIP: the struct is the caller's; `events` and `bytes` are the host's, lent to the
/// producer until `publish` succeeds or `abandon` returns (see `evh_host_api.claim`).
/// LIFETIME: as long as the claim is open.
#[repr(C)]
#[derive(Debug)]
pub struct evh_claim {
    /// `sizeof(evh_claim)`, set by the host.
    pub struct_size: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Room for `events_len` events, `sizeof(evh_event)` apart; their contents are
    /// unspecified until the producer writes them.
    pub events: *mut evh_event,
    pub events_len: usize,
    /// Room for `bytes_len` bytes, aligned to 16; unspecified until written.
    pub bytes: *mut u8,
    pub bytes_len: usize,
    /// The host's name for the claim; NULL once it is published or abandoned.
    pub token: *mut c_void,
}

/// What the host passes to `on_create`.
///
/// OWNERSHIP: the host's.
/// LIFETIME: for the duration of `on_create`, except `host`, which lives until `on_destroy`
/// returns, and `api`, which lives as long as the library.
#[repr(C)]
pub struct evh_create_args {
    pub struct_size: u32,
    /// The handle to pass back to the host API; keep it.
    pub host: *mut evh_host,
    /// The host API table, the same as at `evh_library_init`.
    pub api: *const evh_host_api,
    /// The instance name from the host's config.
    pub instance_name: evh_str,
    /// The plugin's `config` table from the host's config, as JSON text (`{}` when absent).
    /// C plugins may read it with the `config_*` accessors of `evh_host_api` (ABI 1.1)
    /// instead of parsing it.
    pub config_json: evh_str,
    /// The plugin being instantiated, as the library described it; lets one `on_create`
    /// serve several plugins.
    pub plugin: *const evh_plugin,
    /// The folder of the host's config file, absolute. Resolve relative paths in the
    /// plugin's config against it, as the host does for `library`, so that a config means
    /// the same files wherever the host is started.
    pub config_dir: evh_str,
}

// ---------------------------------------------------------------------------------------
// The plugin side
// ---------------------------------------------------------------------------------------

/// Plugin kinds.
pub type evh_kind = u32;
/// Turns the world's events into events; gets an emitter.
pub const EVH_KIND_PRODUCER: evh_kind = 1;
/// Receives every event in log order, in batches.
pub const EVH_KIND_CONSUMER: evh_kind = 2;

/// Plugin flag, reserved: this consumer's `on_events` would be safe to call concurrently
/// from several threads. Setting it is allowed and changes nothing: this host ignores it and
/// never calls one consumer instance concurrently, because every consumer receives its
/// events in log order, one batch after the other. The value stays taken.
pub const EVH_PLUGIN_CONCURRENT: u64 = 1;

/// One plugin: its identity and the hooks the host calls on its instances. A NULL hook
/// means "not implemented". Every hook receives the instance pointer `on_create` made.
///
/// Producers implement `on_run` (the host gives it a thread; it returns when the producer is
/// finished or asked to stop) or `on_start` (the plugin starts its own threads and joins them
/// in `on_stop`). Consumers implement `on_events`.
///
/// OWNERSHIP: the library's.
/// LIFETIME: as long as the library stays loaded.
#[repr(C)]
pub struct evh_plugin {
    pub struct_size: u32,
    /// `EVH_KIND_PRODUCER` or `EVH_KIND_CONSUMER`.
    pub kind: evh_kind,
    /// Unique within its library; `[a-z0-9_-]+` by convention.
    pub name: evh_str,
    /// The plugin's own version, free-form (semver recommended).
    pub version: evh_str,
    /// One line for `evhost inspect`.
    pub description: evh_str,
    /// `EVH_PLUGIN_*` flags.
    pub flags: u64,
    /// Creates an instance from `args->config_json` (or the `config_*` accessors) and stores
    /// it in `*instance_out` (written only on success). On failure, call `set_error` with a
    /// message that says what is wrong and how to fix it (a failed accessor already did), and
    /// return `EVH_ERR_CONFIG` or another error.
    ///
    /// OWNERSHIP: the instance is the plugin's; `on_destroy` frees it.
    pub on_create:
        Option<unsafe extern "C" fn(args: *const evh_create_args, instance_out: *mut *mut c_void) -> evh_status>,
    /// Frees the instance. Called exactly once per successful `on_create`, after every
    /// other hook has returned.
    pub on_destroy: Option<unsafe extern "C" fn(instance: *mut c_void)>,
    /// Producer: runs on a thread the host gives it, emitting through `host`, until it is
    /// finished or asked to stop (`on_stop` or `stop_requested`); either way it returns
    /// `EVH_OK`. Any other status (after `set_error`) marks the producer as failed.
    pub on_run: Option<unsafe extern "C" fn(instance: *mut c_void) -> evh_status>,
    /// Producer: starts the plugin's own threads and returns at once.
    pub on_start: Option<unsafe extern "C" fn(instance: *mut c_void) -> evh_status>,
    /// Producer: asks the instance to stop. Called from a host thread other than the one in
    /// `on_run`; for `on_start` producers it also joins their threads before returning.
    /// Consumer: called once after the last batch was delivered, before `on_destroy`; flush
    /// and close here (report trouble with `log`). The host may call `on_stop` on a producer
    /// whose `on_run` has already returned; it must then do nothing harmful.
    pub on_stop: Option<unsafe extern "C" fn(instance: *mut c_void)>,
    /// Consumer: handles a batch of `n >= 1` events in log order. Returns `EVH_OK` when all
    /// were handled. With `EVH_RETRY` or `EVH_FAIL`, sets `*handled` to how many leading
    /// events were handled (the host pre-sets it to 0); the rest is retried or dead-lettered.
    ///
    /// OWNERSHIP: `events` and everything they point to are the host's.
    /// LIFETIME: valid until this call returns; copy what you keep.
    pub on_events: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            events: *const *const evh_event,
            n: usize,
            handled: *mut usize,
        ) -> evh_status,
    >,
    /// ABI 1.1, producers, optional: the instance's emitted events are committed up to
    /// `committed` (a watermark: every event with a sequence number up to it is committed;
    /// see `evh_host_api.committed`). Called after some of the events this instance emitted
    /// were newly committed, with values that only increase, so a producer with many batches
    /// in flight can acknowledge each one whose ticket is `<= committed`. It may cover
    /// several batches at once, and is not called for each value in between.
    ///
    /// THREADS: called on a host thread of its own, never the producer's own, never
    /// concurrently for one instance, never after `on_destroy` began; it may run at the same
    /// time as `on_run`, `on_stop` or the producer's threads. It must return quickly (it
    /// holds up the notifications of every producer) and must not emit with
    /// `EVH_EMIT_COMMIT`, call `wait_committed` or emit with `EVH_EMIT_BLOCK` (use
    /// `EVH_EMIT_NONBLOCK`): a wait there could wait for itself.
    /// A library built against ABI 1.0 has a smaller `struct_size`; the host never reads
    /// this field then.
    pub on_committed: Option<unsafe extern "C" fn(instance: *mut c_void, committed: u64)>,
}

/// Library flag: the library carries a Go runtime (set by the Go SDK). The host loads at
/// most one such library per process and never unloads it.
pub const EVH_LIBRARY_GO_RUNTIME: u64 = 1;

/// The description of a library, returned by `evh_library_init`.
///
/// OWNERSHIP: the library's (usually static data).
/// LIFETIME: as long as the library stays loaded.
#[repr(C)]
pub struct evh_library {
    pub struct_size: u32,
    /// The ABI the library was built against: `EVH_ABI_VERSION_MAJOR`/`MINOR`.
    pub abi_major: u32,
    pub abi_minor: u32,
    /// `EVH_LIBRARY_*` flags.
    pub flags: u64,
    /// `plugins_len` pointers to the library's plugins.
    pub plugins: *const *const evh_plugin,
    pub plugins_len: usize,
}

/// The name of the one symbol every plugin library exports; its type is
/// `evh_library_init_fn`.
pub const EVH_LIBRARY_INIT_SYMBOL: &str = "evh_library_init";

/// The entry point, `evh_library_init`. The host calls it once after loading the library,
/// before anything else. It stores a pointer to the library's description in `*out`
/// (written only on success) and returns `EVH_OK`; on failure it may call nothing else,
/// and returns an error status.
///
/// OWNERSHIP: `api` is the host's; `*out` points to the library's data.
/// LIFETIME: `api` and `*out` live as long as the library stays loaded.
pub type evh_library_init_fn =
    unsafe extern "C" fn(api: *const evh_host_api, out: *mut *const evh_library) -> evh_status;

/// The name of a status code, as `evh_host_api.status_name` gives it.
pub fn status_name(status: evh_status) -> &'static str {
    match status {
        EVH_OK => "EVH_OK",
        EVH_RETRY => "EVH_RETRY",
        EVH_FAIL => "EVH_FAIL",
        EVH_BUSY => "EVH_BUSY",
        EVH_STOPPED => "EVH_STOPPED",
        EVH_ERR_INVALID_ARGUMENT => "EVH_ERR_INVALID_ARGUMENT",
        EVH_ERR_TOO_LARGE => "EVH_ERR_TOO_LARGE",
        EVH_ERR_CONFIG => "EVH_ERR_CONFIG",
        EVH_ERR_VERSION => "EVH_ERR_VERSION",
        EVH_ERR_INTERNAL => "EVH_ERR_INTERNAL",
        EVH_ERR_UNSUPPORTED => "EVH_ERR_UNSUPPORTED",
        _ => "EVH_UNKNOWN",
    }
}

impl evh_str {
    /// The empty view.
    pub const EMPTY: evh_str = evh_str { ptr: core::ptr::null(), len: 0 };

    /// A view of a Rust string; valid as long as `s` is.
    pub const fn from_str(s: &str) -> evh_str {
        evh_str { ptr: s.as_ptr(), len: s.len() }
    }
}

impl evh_bytes {
    /// The empty view.
    pub const EMPTY: evh_bytes = evh_bytes { ptr: core::ptr::null(), len: 0 };

    /// A view of a byte slice; valid as long as `b` is.
    pub const fn from_slice(b: &[u8]) -> evh_bytes {
        evh_bytes { ptr: b.as_ptr(), len: b.len() }
    }
}

/// The `struct_size` value for a type: its size, which fits in `u32` for every ABI struct.
pub const fn struct_size<T>() -> u32 {
    core::mem::size_of::<T>() as u32
}

/// The `struct_size` of ABI 1.0's `evh_host_api`: a 1.1 library that finds a table this
/// small talks to a 1.0 host and must not use the entries appended since.
pub const fn host_api_size_1_0() -> usize {
    core::mem::offset_of!(evh_host_api, emit_tracked)
}

/// The `struct_size` of ABI 1.1's `evh_host_api`: a library that finds a table this small
/// talks to a 1.1 host, which cannot claim (ABI 1.2).
pub const fn host_api_size_1_1() -> usize {
    core::mem::offset_of!(evh_host_api, claim)
}

/// The `struct_size` of ABI 1.0's `evh_plugin`: the host reads `on_committed` only from a
/// plugin whose `struct_size` is larger.
pub const fn plugin_size_1_0() -> usize {
    core::mem::offset_of!(evh_plugin, on_committed)
}

// SAFETY of these impls: the views are plain pointers the ABI promises are valid to read
// from any thread for their documented lifetime; sending or sharing them moves no ownership.
unsafe impl Send for evh_str {}
unsafe impl Sync for evh_str {}
unsafe impl Send for evh_bytes {}
unsafe impl Sync for evh_bytes {}
unsafe impl Send for evh_attr {}
unsafe impl Sync for evh_attr {}
unsafe impl Send for evh_event {}
unsafe impl Sync for evh_event {}
unsafe impl Send for evh_plugin {}
unsafe impl Sync for evh_plugin {}
unsafe impl Send for evh_library {}
unsafe impl Sync for evh_library {}
unsafe impl Send for evh_host_api {}
// SAFETY: a claim may be published from another thread than the one that made it (see
// `evh_host_api.claim`); its pointers are the host's memory, lent to whoever holds it.
unsafe impl Send for evh_claim {}
unsafe impl Sync for evh_host_api {}
