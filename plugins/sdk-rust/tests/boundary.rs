//! Drives the entry point `export_plugins!` writes through a fake host API table, as the
//! real host would: the handshake, config errors, panics, delivery answers and emit batching.

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use evhost_sdk::abi::*;
use evhost_sdk::{Batch, Consumer, Context, Delivery, EmitError, Emitter, Error, OutEvent, Producer};
use serde::Deserialize;

// ---- test plugins -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeConfig {
    mode: String,
    #[serde(default)]
    handled: usize,
}

/// A consumer that does what its config says, and logs what it saw in `inspect` mode.
struct Probe {
    ctx: Context,
    mode: String,
    handled: usize,
    /// In `waiter` mode: a thread of its own in `wait_stop`, joined on drop.
    waiter: Option<std::thread::JoinHandle<bool>>,
}

/// How many `panic` mode probes were dropped.
static PANICKY_DROPPED: AtomicUsize = AtomicUsize::new(0);

impl Drop for Probe {
    fn drop(&mut self) {
        if self.mode == "panic" {
            PANICKY_DROPPED.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(waiter) = self.waiter.take() {
            assert!(waiter.join().unwrap(), "wait_stop timed out instead of seeing the stop");
        }
    }
}

/// A context kept past the instance's life, to check it turns harmless.
static KEPT: OnceLock<Context> = OnceLock::new();

impl Consumer for Probe {
    const NAME: &'static str = "probe";
    const DESCRIPTION: &'static str = "test consumer";
    type Config = ProbeConfig;

    fn create(ctx: Context, config: ProbeConfig) -> Result<Self, Error> {
        match config.mode.as_str() {
            "fail_create" => return Err(Error::with_status(EVH_ERR_UNSUPPORTED, "not today")),
            "panic_create" => panic!("create exploded"),
            "keep" => {
                KEPT.set(ctx.clone()).ok();
            }
            _ => {}
        }
        let waiter = (config.mode == "waiter").then(|| {
            let ctx = ctx.clone();
            std::thread::spawn(move || ctx.wait_stop(std::time::Duration::from_secs(30)))
        });
        Ok(Probe { ctx, mode: config.mode, handled: config.handled, waiter })
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        match self.mode.as_str() {
            "panic" => panic!("boom at seq {}", batch[0].seq()),
            "retry" => Delivery::retry(self.handled, "downstream is slow"),
            "fail" => Delivery::fail(self.handled, "downstream said no"),
            "inspect" => {
                for e in batch {
                    let ext: Vec<String> = e.extensions().map(|(k, v)| format!("{k}={v}")).collect();
                    self.ctx.info(format!(
                        "{} {:?} {:?} {} {} {:?} {:?} {:?} {:?} {:?} {:?}",
                        e.seq(),
                        e.id(),
                        e.source(),
                        e.specversion(),
                        e.ty(),
                        e.subject(),
                        e.datacontenttype(),
                        e.dataschema(),
                        e.time(),
                        e.data(),
                        ext
                    ));
                }
                Delivery::Ok
            }
            _ => Delivery::Ok,
        }
    }

    fn on_stop(&mut self) {
        match self.mode.as_str() {
            "panic_stop" => panic!("stop exploded"),
            "panic" => self.ctx.info("flushed"),
            _ => {}
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstConfig {
    mode: String,
    #[serde(default)]
    batches: Vec<usize>,
}

/// A producer that emits `batches` (sizes), or waits for `stop`.
struct Burst {
    config: BurstConfig,
    stopped: AtomicBool,
}

impl Producer for Burst {
    const NAME: &'static str = "burst";
    const DESCRIPTION: &'static str = "test producer";
    const VERSION: &'static str = "9.9.9";
    type Config = BurstConfig;

    fn create(_ctx: Context, config: BurstConfig) -> Result<Self, Error> {
        Ok(Burst { config, stopped: AtomicBool::new(false) })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let payload = [7u8; 5];
        let mut next = 0;
        for &n in &self.config.batches {
            let ids: Vec<String> = (next..next + n).map(|k| k.to_string()).collect();
            let events: Vec<OutEvent<'_>> = ids
                .iter()
                .map(|id| {
                    let e = OutEvent::new(id.as_str(), "/test", "t").data(&payload[..]);
                    if id.ends_with('1') {
                        e.subject("one").extension("a", id.as_str()).extension("b", "2")
                    } else {
                        e
                    }
                })
                .collect();
            match self.config.mode.as_str() {
                "try" => emitter.try_emit(&events)?,
                "try_like" => emitter.try_emit_like(&OutEvent::new("", "/test", "t"), [("1", &payload[..])])?,
                "like" => {
                    let template = OutEvent::new("ignored", "/test", "t").subject("all").extension("c", "3");
                    emitter.emit_like(&template, ids.iter().map(|id| (id.as_str(), &payload[..])))?
                }
                // The template changes between batches, and batches shrink: the emitter
                // reuses what the last batch left only while the template is the same.
                "like_switch" => {
                    let subject = if next % 2 == 0 { "even" } else { "odd" };
                    let template = OutEvent::new("", "/test", "t").subject(subject);
                    emitter.emit_like(&template, ids.iter().map(|id| (id.as_str(), &payload[..])))?
                }
                _ => emitter.emit(&events)?,
            }
            next += n;
        }
        match self.config.mode.as_str() {
            "invalid" => emitter.emit(&[OutEvent::new("", "/test", "t")])?,
            "invalid_like" => emitter.emit_like(&OutEvent::new("", "/test", ""), [("1", &payload[..])])?,
            // Waits far longer than any test: only a stop can end it in time.
            "wait_stop" => while !emitter.wait_stop(std::time::Duration::from_secs(600)) {},
            "until_stop" => {
                while !self.stopped.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
            }
            "panic" => panic!("run exploded"),
            _ => {}
        }
        Ok(())
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

evhost_sdk::export_plugins!(consumer Probe, producer Burst);

// ---- the fake host --------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Emitted {
    id: String,
    subject: String,
    data: Vec<u8>,
    ext: Vec<(String, String)>,
}

#[derive(Default)]
struct Host {
    errors: Mutex<Vec<String>>,
    logs: Mutex<Vec<(evh_log_level, String)>>,
    emits: Mutex<Vec<Vec<Emitted>>>,
    /// The flags of every emit call, answered or not.
    flags: Mutex<Vec<u32>>,
    busy: AtomicBool,
}

impl Host {
    fn handle(&self) -> *mut evh_host {
        self as *const Host as *mut evh_host
    }
    fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().iter().map(|(_, m)| m.clone()).collect()
    }
}

unsafe fn string(s: evh_str) -> String {
    if s.len == 0 {
        return String::new();
    }
    String::from_utf8(std::slice::from_raw_parts(s.ptr, s.len).to_vec()).unwrap()
}

unsafe extern "C" fn emit(host: *mut evh_host, events: *const evh_event, n: usize, flags: u32) -> evh_status {
    let host = &*(host as *const Host);
    host.flags.lock().unwrap().push(flags);
    if host.busy.load(Ordering::SeqCst) {
        return EVH_BUSY;
    }
    let stride = (*events).struct_size as usize;
    assert_eq!(stride, size_of::<evh_event>());
    let batch = (0..n)
        .map(|i| {
            let e = &*events.cast::<u8>().add(i * stride).cast::<evh_event>();
            let ext = (0..e.extensions_len)
                .map(|j| {
                    let a = &*e.extensions.add(j);
                    (string(a.key), string(a.value))
                })
                .collect();
            let data = std::slice::from_raw_parts(e.data.ptr, e.data.len).to_vec();
            Emitted { id: string(e.id), subject: string(e.subject), data, ext }
        })
        .collect();
    host.emits.lock().unwrap().push(batch);
    EVH_OK
}

unsafe extern "C" fn set_error(host: *mut evh_host, message: evh_str) {
    (*(host as *const Host)).errors.lock().unwrap().push(string(message));
}

unsafe extern "C" fn log(host: *mut evh_host, level: evh_log_level, message: evh_str) {
    (*(host as *const Host)).logs.lock().unwrap().push((level, string(message)));
}

unsafe extern "C" fn stop_requested(_host: *mut evh_host) -> u32 {
    0
}

unsafe extern "C" fn status_name(status: evh_status) -> evh_str {
    evh_str::from_str(evhost_sdk::abi::status_name(status))
}

static API: evh_host_api = evh_host_api {
    struct_size: struct_size::<evh_host_api>(),
    abi_major: EVH_ABI_VERSION_MAJOR,
    abi_minor: EVH_ABI_VERSION_MINOR,
    emit: Some(emit),
    set_error: Some(set_error),
    log: Some(log),
    stop_requested: Some(stop_requested),
    status_name: Some(status_name),
    // The commit entries (ABI 1.1) have tests of their own, in commits.rs.
    emit_tracked: None,
    committed: None,
    wait_committed: None,
    // The config accessors (ABI 1.1): the SDK reads config_json itself and asks these only to
    // word a config mistake (src/config.rs); without them it words the mistake itself.
    config_string: None,
    config_int: None,
    config_uint: None,
    config_float: None,
    config_bool: None,
    config_duration_us: None,
    config_size: None,
    config_len: None,
    config_keys: None,
    claim: None,
    publish: None,
    abandon: None,
};

fn library() -> &'static evh_library {
    let mut out = ptr::null();
    assert_eq!(evh_library_init(&API, &mut out), EVH_OK);
    // SAFETY (test): written on success; static data of this binary.
    unsafe { &*out }
}

fn plugin(name: &str) -> &'static evh_plugin {
    let lib = library();
    // SAFETY (test): the library's static descriptor array.
    let plugins = unsafe { std::slice::from_raw_parts(lib.plugins, lib.plugins_len) };
    plugins.iter().map(|&p| unsafe { &*p }).find(|p| unsafe { string(p.name) } == name).unwrap()
}

fn create(host: &Host, plugin: &evh_plugin, json: &str) -> Result<*mut c_void, evh_status> {
    let args = evh_create_args {
        struct_size: struct_size::<evh_create_args>(),
        host: host.handle(),
        api: &API,
        instance_name: evh_str::from_str("it"),
        config_json: evh_str::from_str(json),
        plugin,
        config_dir: evh_str::from_str("/etc/evhost"),
    };
    let mut instance = ptr::null_mut();
    match unsafe { plugin.on_create.unwrap()(&args, &mut instance) } {
        EVH_OK => Ok(instance),
        status => {
            assert!(instance.is_null(), "instance_out written on failure");
            Err(status)
        }
    }
}

fn event(seq: u64, id: &str) -> evh_event {
    evh_event {
        struct_size: struct_size::<evh_event>(),
        reserved: 0,
        seq,
        id: evh_str::from_str(id),
        source: evh_str::from_str("/src"),
        specversion: evh_str::EMPTY,
        r#type: evh_str::from_str("t"),
        subject: evh_str::EMPTY,
        datacontenttype: evh_str::EMPTY,
        dataschema: evh_str::EMPTY,
        time: evh_str::EMPTY,
        data: evh_bytes::EMPTY,
        extensions: ptr::null(),
        extensions_len: 0,
    }
}

fn deliver(plugin: &evh_plugin, instance: *mut c_void, events: &[evh_event]) -> (evh_status, usize) {
    let pointers: Vec<*const evh_event> = events.iter().map(|e| e as *const _).collect();
    let mut handled = 0;
    let status = unsafe { plugin.on_events.unwrap()(instance, pointers.as_ptr(), pointers.len(), &mut handled) };
    (status, handled)
}

fn destroy(plugin: &evh_plugin, instance: *mut c_void) {
    unsafe { plugin.on_destroy.unwrap()(instance) }
}

// ---- tests ----------------------------------------------------------------------------------

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Context>();
    send_sync::<Emitter>();
}

#[test]
fn handshake_reports_the_sdk_abi_and_the_plugins() {
    let lib = library();
    assert_eq!((lib.struct_size as usize, lib.abi_major, lib.abi_minor), (size_of::<evh_library>(), 1, 2));
    assert_eq!(lib.plugins_len, 2);
    let probe = plugin("probe");
    assert_eq!((probe.kind, probe.struct_size as usize), (EVH_KIND_CONSUMER, size_of::<evh_plugin>()));
    assert!(probe.on_events.is_some() && probe.on_run.is_none() && probe.on_start.is_none());
    let burst = plugin("burst");
    assert_eq!(burst.kind, EVH_KIND_PRODUCER);
    assert_eq!(unsafe { string(burst.version) }, "9.9.9");
    assert!(burst.on_run.is_some() && burst.on_events.is_none());
}

#[test]
fn handshake_rejects_another_major_a_short_table_and_null() {
    let mut out = ptr::null();
    let other = evh_host_api { abi_major: 2, ..API };
    assert_eq!(evh_library_init(&other, &mut out), EVH_ERR_VERSION);
    let short = evh_host_api { struct_size: 12, ..API };
    assert_eq!(evh_library_init(&short, &mut out), EVH_ERR_VERSION);
    assert!(out.is_null(), "out written on failure");
    assert_eq!(evh_library_init(ptr::null(), &mut out), EVH_ERR_INVALID_ARGUMENT);
    assert_eq!(evh_library_init(&API, ptr::null_mut()), EVH_ERR_INVALID_ARGUMENT);
    let newer_minor = evh_host_api { abi_minor: 7, ..API };
    assert_eq!(evh_library_init(&newer_minor, &mut out), EVH_OK);
}

#[test]
fn config_errors_name_the_plugin_and_the_field() {
    let host = Host::default();
    assert_eq!(create(&host, plugin("probe"), "{}"), Err(EVH_ERR_CONFIG));
    assert_eq!(create(&host, plugin("probe"), r#"{"mode": "ok", "mdoe": 1}"#), Err(EVH_ERR_CONFIG));
    assert_eq!(create(&host, plugin("probe"), "not json"), Err(EVH_ERR_CONFIG));
    assert_eq!(
        host.errors(),
        [
            "missing key `mode`; add `mode = ...` to the `config` table",
            "unknown key `mdoe`; remove it; the keys accepted here are mode, handled",
            "the config is not JSON: expected ident",
        ]
    );
}

#[test]
fn create_errors_and_panics_become_statuses() {
    let host = Host::default();
    assert_eq!(create(&host, plugin("probe"), r#"{"mode": "fail_create"}"#), Err(EVH_ERR_UNSUPPORTED));
    assert_eq!(create(&host, plugin("probe"), r#"{"mode": "panic_create"}"#), Err(EVH_ERR_INTERNAL));
    assert_eq!(host.errors(), ["not today", "panicked in on_create: create exploded"]);
}

#[test]
fn a_panic_in_on_events_fails_closed_and_the_plugin_is_never_called_again() {
    let host = Host::default();
    let probe = plugin("probe");
    let instance = create(&host, probe, r#"{"mode": "panic"}"#).unwrap();
    assert_eq!(deliver(probe, instance, &[event(41, "a"), event(42, "b")]), (EVH_ERR_INTERNAL, 0));
    // Poisoned: the next batch fails closed without reaching the plugin (which would panic
    // with seq 43), and on_stop does not flush its half-updated state.
    assert_eq!(deliver(probe, instance, &[event(43, "c")]), (EVH_ERR_INTERNAL, 0));
    unsafe { probe.on_stop.unwrap()(instance) };
    let poisoned = "the instance panicked earlier (in on_events: boom at seq 41) and is never called again";
    assert_eq!(
        host.errors(),
        ["panicked in on_events: boom at seq 41".to_string(), format!("on_events not called: {poisoned}")]
    );
    assert_eq!(host.logs(), [format!("on_stop not called: {poisoned}")]);
    // on_destroy still drops it, and gives back what it holds.
    let dropped = PANICKY_DROPPED.load(Ordering::SeqCst);
    destroy(probe, instance);
    assert_eq!(PANICKY_DROPPED.load(Ordering::SeqCst), dropped + 1);
}

#[test]
fn a_panic_in_on_stop_is_logged() {
    let host = Host::default();
    let probe = plugin("probe");
    let instance = create(&host, probe, r#"{"mode": "panic_stop"}"#).unwrap();
    unsafe { probe.on_stop.unwrap()(instance) };
    destroy(probe, instance);
    assert_eq!(host.logs(), ["panicked in on_stop: stop exploded"]);
    assert_eq!(host.logs.lock().unwrap()[0].0, EVH_LOG_ERROR);
}

#[test]
fn retry_and_fail_report_handled_counts_and_reasons() {
    let host = Host::default();
    let probe = plugin("probe");
    let events = [event(1, "a"), event(2, "b"), event(3, "c")];
    let retry = create(&host, probe, r#"{"mode": "retry", "handled": 2}"#).unwrap();
    assert_eq!(deliver(probe, retry, &events), (EVH_RETRY, 2));
    let fail = create(&host, probe, r#"{"mode": "fail", "handled": 0}"#).unwrap();
    assert_eq!(deliver(probe, fail, &events), (EVH_FAIL, 0));
    // A plugin claiming more than the batch is clamped to the batch.
    let greedy = create(&host, probe, r#"{"mode": "retry", "handled": 10}"#).unwrap();
    assert_eq!(deliver(probe, greedy, &events), (EVH_RETRY, 3));
    let ok = create(&host, probe, r#"{"mode": "ok"}"#).unwrap();
    assert_eq!(deliver(probe, ok, &events), (EVH_OK, 0));
    assert_eq!(host.errors(), ["downstream is slow", "downstream said no", "downstream is slow"]);
    for instance in [retry, fail, greedy, ok] {
        destroy(probe, instance);
    }
}

#[test]
fn event_views_read_every_attribute_and_never_trust_bytes() {
    let host = Host::default();
    let probe = plugin("probe");
    let instance = create(&host, probe, r#"{"mode": "inspect"}"#).unwrap();
    let attrs = [evh_attr { key: evh_str::from_str("k"), value: evh_str::from_str("v") }];
    let full = evh_event {
        specversion: evh_str::from_str("1.0"),
        subject: evh_str::from_str("sub"),
        datacontenttype: evh_str::from_str("text/plain"),
        dataschema: evh_str::from_str("urn:s"),
        time: evh_str::from_str("2024-01-01T00:00:00Z"),
        data: evh_bytes::from_slice(b"hi"),
        extensions: attrs.as_ptr(),
        extensions_len: 1,
        ..event(5, "full")
    };
    let bad_utf8 = [0xffu8, 0xfe];
    let broken = evh_event {
        id: evh_str { ptr: bad_utf8.as_ptr(), len: 2 },
        subject: evh_str { ptr: ptr::null(), len: 9 },
        ..event(6, "")
    };
    assert_eq!(deliver(probe, instance, &[full, broken]), (EVH_OK, 0));
    assert_eq!(
        host.logs(),
        [
            r#"5 "full" "/src" 1.0 t Some("sub") Some("text/plain") Some("urn:s") Some("2024-01-01T00:00:00Z") [104, 105] ["k=v"]"#,
            r#"6 "" "/src" 1.0 t None None None None [] []"#,
        ]
    );
    destroy(probe, instance);
}

#[test]
fn malformed_batches_are_rejected_before_the_plugin_sees_them() {
    let host = Host::default();
    let probe = plugin("probe");
    let instance = create(&host, probe, r#"{"mode": "panic"}"#).unwrap();
    let short = evh_event { struct_size: 16, ..event(1, "a") };
    assert_eq!(deliver(probe, instance, &[short]), (EVH_ERR_INVALID_ARGUMENT, 0));
    let mut handled = 0;
    let nulls = [ptr::null::<evh_event>()];
    let status = unsafe { probe.on_events.unwrap()(instance, nulls.as_ptr(), 1, &mut handled) };
    assert_eq!(status, EVH_ERR_INVALID_ARGUMENT);
    assert_eq!(host.errors().len(), 2);
    destroy(probe, instance);
}

#[test]
fn a_context_kept_past_destroy_does_nothing() {
    let host = Host::default();
    let probe = plugin("probe");
    let instance = create(&host, probe, r#"{"mode": "keep"}"#).unwrap();
    let kept = KEPT.get().unwrap();
    kept.info("alive");
    destroy(probe, instance);
    kept.info("after destroy");
    assert!(kept.stop_requested());
    assert_eq!(kept.emitter().emit(&[OutEvent::new("1", "/s", "t")]), Err(EmitError::Stopped));
    assert_eq!((kept.plugin_name(), kept.instance_name()), ("probe", "it"));
    assert_eq!(host.logs(), ["alive"]);
}

fn run(plugin: &evh_plugin, instance: *mut c_void) -> evh_status {
    unsafe { plugin.on_run.unwrap()(instance) }
}

#[test]
fn emit_sends_each_batch_in_one_call() {
    let host = Host::default();
    let burst = plugin("burst");
    let instance = create(&host, burst, r#"{"mode": "emit", "batches": [3, 1, 12]}"#).unwrap();
    assert_eq!(run(burst, instance), EVH_OK);
    let emits = host.emits.lock().unwrap();
    assert_eq!(emits.iter().map(Vec::len).collect::<Vec<_>>(), [3, 1, 12]);
    assert_eq!(*host.flags.lock().unwrap(), [EVH_EMIT_BLOCK; 3]);
    let all: Vec<&Emitted> = emits.iter().flatten().collect();
    assert_eq!(all.iter().map(|e| e.id.parse::<usize>().unwrap()).collect::<Vec<_>>(), (0..16).collect::<Vec<_>>());
    let with_ext = |id: &str| Emitted {
        id: id.into(),
        subject: "one".into(),
        data: vec![7; 5],
        ext: vec![("a".into(), id.into()), ("b".into(), "2".into())],
    };
    assert_eq!(*all[1], with_ext("1"));
    assert_eq!(*all[11], with_ext("11"));
    assert_eq!(*all[2], Emitted { id: "2".into(), subject: String::new(), data: vec![7; 5], ext: vec![] });
    drop(emits);
    destroy(burst, instance);
}

#[test]
fn emit_like_shares_the_template_s_attributes() {
    let host = Host::default();
    let burst = plugin("burst");
    let instance = create(&host, burst, r#"{"mode": "like", "batches": [2, 3]}"#).unwrap();
    assert_eq!(run(burst, instance), EVH_OK);
    assert_eq!(*host.flags.lock().unwrap(), [EVH_EMIT_BLOCK; 2]);
    let emits = host.emits.lock().unwrap();
    let like = |id: &str| Emitted {
        id: id.into(),
        subject: "all".into(),
        data: vec![7; 5],
        ext: vec![("c".into(), "3".into())],
    };
    assert_eq!(*emits, [vec![like("0"), like("1")], vec![like("2"), like("3"), like("4")]]);
    drop(emits);
    destroy(burst, instance);
}

#[test]
fn emit_like_follows_a_changing_template_and_shrinking_batches() {
    let host = Host::default();
    let burst = plugin("burst");
    let instance = create(&host, burst, r#"{"mode": "like_switch", "batches": [4, 2, 1, 1, 3]}"#).unwrap();
    assert_eq!(run(burst, instance), EVH_OK);
    let emits = host.emits.lock().unwrap();
    let like = |id: usize, subject: &str| Emitted {
        id: id.to_string(),
        subject: subject.into(),
        data: vec![7; 5],
        ext: vec![],
    };
    // Batches start at events 0, 4, 6, 7 and 8: even, even, even, odd, even.
    let wanted = [
        (0..4).map(|k| like(k, "even")).collect::<Vec<_>>(),
        (4..6).map(|k| like(k, "even")).collect(),
        vec![like(6, "even")],
        vec![like(7, "odd")],
        (8..11).map(|k| like(k, "even")).collect(),
    ];
    assert_eq!(*emits, wanted);
    drop(emits);
    destroy(burst, instance);
}

#[test]
fn emit_errors_are_typed_and_reported() {
    let host = Host::default();
    let burst = plugin("burst");
    host.busy.store(true, Ordering::SeqCst);
    let busy = create(&host, burst, r#"{"mode": "try", "batches": [2]}"#).unwrap();
    assert_eq!(run(burst, busy), EVH_BUSY);
    let busy_like = create(&host, burst, r#"{"mode": "try_like", "batches": [1]}"#).unwrap();
    assert_eq!(run(burst, busy_like), EVH_BUSY);
    assert_eq!(*host.flags.lock().unwrap(), [EVH_EMIT_NONBLOCK; 2], "try_emit and try_emit_like do not wait");
    host.busy.store(false, Ordering::SeqCst);
    let invalid = create(&host, burst, r#"{"mode": "invalid"}"#).unwrap();
    assert_eq!(run(burst, invalid), EVH_ERR_INVALID_ARGUMENT);
    let invalid_like = create(&host, burst, r#"{"mode": "invalid_like"}"#).unwrap();
    assert_eq!(run(burst, invalid_like), EVH_ERR_INVALID_ARGUMENT);
    let panics = create(&host, burst, r#"{"mode": "panic"}"#).unwrap();
    assert_eq!(run(burst, panics), EVH_ERR_INTERNAL);
    assert!(host.emits.lock().unwrap().is_empty(), "an invalid batch reached the host");
    assert_eq!(
        host.errors(),
        [
            "emit: the log is full (EVH_BUSY)",
            "emit: the log is full (EVH_BUSY)",
            "emit: invalid event: event 0 of the batch has an empty `id`",
            "emit: invalid event: the template has an empty `type`",
            "panicked in on_run: run exploded",
        ]
    );
    for instance in [busy, busy_like, invalid, invalid_like, panics] {
        destroy(burst, instance);
    }
}

#[test]
fn after_a_panic_in_on_run_the_producer_is_never_called_again() {
    let host = Host::default();
    let burst = plugin("burst");
    let instance = create(&host, burst, r#"{"mode": "panic"}"#).unwrap();
    assert_eq!(run(burst, instance), EVH_ERR_INTERNAL);
    assert_eq!(run(burst, instance), EVH_ERR_INTERNAL);
    unsafe { burst.on_stop.unwrap()(instance) };
    destroy(burst, instance);
    let poisoned = "the instance panicked earlier (in on_run: run exploded) and is never called again";
    assert_eq!(
        host.errors(),
        ["panicked in on_run: run exploded".to_string(), format!("on_run not called: {poisoned}")]
    );
    assert_eq!(host.logs(), [format!("on_stop not called: {poisoned}")]);
}

#[test]
fn stop_from_another_thread_ends_run() {
    let host = Host::default();
    let burst = plugin("burst");
    let instance = create(&host, burst, r#"{"mode": "until_stop"}"#).unwrap() as usize;
    let runner = std::thread::spawn(move || run(burst, instance as *mut c_void));
    // SAFETY: the instance is live; on_stop may run while on_run does.
    unsafe { burst.on_stop.unwrap()(instance as *mut c_void) };
    assert_eq!(runner.join().unwrap(), EVH_OK);
    destroy(burst, instance as *mut c_void);
}

#[test]
fn wait_stop_wakes_at_once_on_stop() {
    let host = Host::default();
    let burst = plugin("burst");
    let instance = create(&host, burst, r#"{"mode": "wait_stop"}"#).unwrap() as usize;
    let started = std::time::Instant::now();
    let runner = std::thread::spawn(move || run(burst, instance as *mut c_void));
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!runner.is_finished(), "run returned before the stop");
    // SAFETY: the instance is live; on_stop may run while on_run does.
    unsafe { burst.on_stop.unwrap()(instance as *mut c_void) };
    assert_eq!(runner.join().unwrap(), EVH_OK);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "wait_stop slept through the stop");
    destroy(burst, instance as *mut c_void);
}

#[test]
fn a_consumer_s_threads_in_wait_stop_wake_on_stop_and_before_destroy() {
    let host = Host::default();
    let probe = plugin("probe");
    let started = std::time::Instant::now();
    let stopped = create(&host, probe, r#"{"mode": "waiter"}"#).unwrap();
    // SAFETY: the instance is live and not called concurrently.
    unsafe { probe.on_stop.unwrap()(stopped) };
    destroy(probe, stopped);
    // Destroyed without on_stop (as after a failed start): the drop joins the waiter, which
    // must wake before it.
    let destroyed = create(&host, probe, r#"{"mode": "waiter"}"#).unwrap();
    destroy(probe, destroyed);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(!host.logs().iter().any(|line| line.contains("panicked")), "{:?}", host.logs());
}
