//! Commit tracking (ABI 1.1) through the entry point `export_plugins!` writes, against a fake
//! host whose watermark the test moves: tickets, blocking waits, futures woken by the SDK's
//! `on_committed` hook, the end of an instance, and the fallback against a 1.0 host.

use std::ffi::c_void;
use std::future::Future;
use std::pin::pin;
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

use evhost_sdk::abi::*;
use evhost_sdk::{Context, EmitError, Emitter, Error, OutEvent, Producer};

// ---- the plugin -------------------------------------------------------------------------------

/// A producer that hands its context to the test and records `on_committed` calls.
struct Tracked;

thread_local! {
    /// The context on_create handed out, for the test that called it: on_create runs on the
    /// test's own thread. (A process-wide list let parallel tests take each other's: in CI a
    /// test's emits once went to another test's host.)
    static CONTEXT: std::cell::Cell<Option<Context>> = const { std::cell::Cell::new(None) };
}
static HOOK_SAW: AtomicU64 = AtomicU64::new(0);

impl Producer for Tracked {
    const NAME: &'static str = "tracked";
    const DESCRIPTION: &'static str = "test producer";
    type Config = serde::de::IgnoredAny;

    fn create(ctx: Context, _config: Self::Config) -> Result<Self, Error> {
        CONTEXT.set(Some(ctx));
        Ok(Tracked)
    }

    fn run(&self, _emitter: &mut Emitter) -> Result<(), Error> {
        Ok(())
    }

    fn on_committed(&self, committed: u64) {
        HOOK_SAW.fetch_max(committed, Ordering::SeqCst);
    }
}

evhost_sdk::export_plugins!(producer Tracked);

// ---- the fake host ----------------------------------------------------------------------------

/// A log that numbers what it accepts and commits only when the test says so.
#[derive(Default)]
struct Host {
    head: AtomicU64,
    committed: AtomicU64,
    flags: Mutex<Vec<u32>>,
    plain_emits: AtomicUsize,
}

unsafe fn host<'a>(h: *mut evh_host) -> &'a Host {
    &*(h as *const Host)
}

unsafe extern "C" fn emit(h: *mut evh_host, _events: *const evh_event, n: usize, flags: u32) -> evh_status {
    let host = host(h);
    host.plain_emits.fetch_add(1, Ordering::SeqCst);
    host.flags.lock().unwrap().push(flags);
    host.head.fetch_add(n as u64, Ordering::SeqCst);
    EVH_OK
}

unsafe extern "C" fn emit_tracked(
    h: *mut evh_host,
    _events: *const evh_event,
    n: usize,
    flags: u32,
    ticket: *mut u64,
) -> evh_status {
    let host = host(h);
    host.flags.lock().unwrap().push(flags);
    let last = host.head.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
    *ticket = if n == 0 { host.committed.load(Ordering::SeqCst) } else { last };
    EVH_OK
}

unsafe extern "C" fn committed(h: *mut evh_host) -> u64 {
    host(h).committed.load(Ordering::SeqCst)
}

unsafe extern "C" fn wait_committed(h: *mut evh_host, ticket: u64, _timeout_ms: u64) -> evh_status {
    // The fake never sleeps: a test moves the watermark before or after, not during.
    if host(h).committed.load(Ordering::SeqCst) >= ticket {
        EVH_OK
    } else {
        EVH_BUSY
    }
}

unsafe extern "C" fn set_error(_h: *mut evh_host, _message: evh_str) {}
unsafe extern "C" fn log(_h: *mut evh_host, _level: evh_log_level, _message: evh_str) {}
unsafe extern "C" fn stop_requested(_h: *mut evh_host) -> u32 {
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
    emit_tracked: Some(emit_tracked),
    committed: Some(committed),
    wait_committed: Some(wait_committed),
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

/// A 1.0 host: its table ends before the commit entries (which it would not fill anyway;
/// these are poison, to show the SDK never reads them).
static API_1_0: evh_host_api = evh_host_api {
    struct_size: host_api_size_1_0() as u32,
    abi_minor: 0,
    emit_tracked: None,
    committed: None,
    wait_committed: None,
    ..API
};

fn plugin() -> &'static evh_plugin {
    let mut out = ptr::null();
    assert_eq!(evh_library_init(&API, &mut out), EVH_OK);
    // SAFETY (test): written on success; static data of this binary, one plugin.
    unsafe { &**(*out).plugins }
}

/// Creates an instance on `api` and returns it with the context it handed out.
fn create(host: &Host, api: &evh_host_api) -> (*mut c_void, Context) {
    let plugin = plugin();
    let args = evh_create_args {
        struct_size: struct_size::<evh_create_args>(),
        host: host as *const Host as *mut evh_host,
        api,
        instance_name: evh_str::from_str("it"),
        config_json: evh_str::from_str("{}"),
        plugin,
        config_dir: evh_str::from_str("/"),
    };
    let mut instance = ptr::null_mut();
    assert_eq!(unsafe { plugin.on_create.unwrap()(&args, &mut instance) }, EVH_OK);
    let ctx = CONTEXT.take().expect("create kept its context");
    (instance, ctx)
}

fn on_committed(instance: *mut c_void, committed: u64) {
    unsafe { plugin().on_committed.expect("producers have the hook")(instance, committed) }
}

fn destroy(instance: *mut c_void) {
    unsafe { plugin().on_destroy.unwrap()(instance) }
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn events(n: usize) -> Vec<OutEvent<'static>> {
    (0..n).map(|k| OutEvent::new(k.to_string(), "/test", "t")).collect()
}

// ---- tests ------------------------------------------------------------------------------------

#[test]
fn producers_export_on_committed_and_a_1_1_sized_table() {
    let plugin = plugin();
    assert!(plugin.on_committed.is_some());
    assert_eq!(plugin.struct_size, struct_size::<evh_plugin>());
}

#[test]
fn a_ticket_is_the_batch_last_sequence_number_and_waits_for_the_watermark() {
    let host = Host::default();
    let (instance, ctx) = create(&host, &API);
    let mut emitter = ctx.emitter();
    let first = emitter.emit_tracked(&events(3)).unwrap();
    let second = emitter.try_emit_tracked(&events(2)).unwrap();
    assert_eq!((first.seq(), second.seq()), (3, 5));
    assert!(!first.is_committed());
    assert_eq!(first.wait_timeout(Duration::from_millis(1)), Ok(false));
    host.committed.store(3, Ordering::SeqCst);
    assert!(first.is_committed() && !second.is_committed());
    assert_eq!(first.wait(), Ok(()));
    // An empty batch's ticket is the watermark: committed already.
    let empty = emitter.emit_tracked(&[]).unwrap();
    assert_eq!(empty.seq(), 3);
    assert!(empty.is_committed());
    emitter.emit_committed(&events(1)).unwrap();
    assert_eq!(
        *host.flags.lock().unwrap(),
        [EVH_EMIT_BLOCK, EVH_EMIT_NONBLOCK, EVH_EMIT_BLOCK, EVH_EMIT_BLOCK | EVH_EMIT_COMMIT]
    );
    destroy(instance);
}

#[test]
fn futures_are_woken_by_the_hook_each_when_its_batch_is_committed() {
    let host = Host::default();
    let (instance, ctx) = create(&host, &API);
    let mut emitter = ctx.emitter();
    let tickets: Vec<_> = (0..3).map(|_| emitter.try_emit_tracked(&events(10)).unwrap()).collect();
    let counts: Vec<Arc<Count>> = (0..3).map(|_| Arc::new(Count::default())).collect();
    let mut futures: Vec<_> = tickets.iter().map(|t| Box::pin(t.committed())).collect();
    let poll = |i: usize, futures: &mut Vec<std::pin::Pin<Box<evhost_sdk::Committed>>>| {
        let waker = Waker::from(counts[i].clone());
        futures[i].as_mut().poll(&mut TaskContext::from_waker(&waker))
    };
    for i in 0..3 {
        assert!(poll(i, &mut futures).is_pending());
    }
    // A second poll replaces the waker rather than adding one.
    assert!(poll(0, &mut futures).is_pending());

    host.committed.store(20, Ordering::SeqCst);
    on_committed(instance, 20);
    let woken: Vec<usize> = counts.iter().map(|c| c.0.load(Ordering::SeqCst)).collect();
    assert_eq!(woken, [1, 1, 0], "the first two batches are committed, the third is not");
    assert_eq!(HOOK_SAW.load(Ordering::SeqCst), 20, "the producer's own hook ran too");
    assert_eq!(poll(0, &mut futures), Poll::Ready(Ok(())));
    assert_eq!(poll(1, &mut futures), Poll::Ready(Ok(())));
    assert!(poll(2, &mut futures).is_pending());

    // The instance ends before the third is committed: its future ends, with Stopped.
    destroy(instance);
    assert_eq!(counts[2].0.load(Ordering::SeqCst), 1);
    assert_eq!(poll(2, &mut futures), Poll::Ready(Err(EmitError::Stopped)));
    assert_eq!(tickets[2].wait(), Err(EmitError::Stopped));
}

#[test]
fn a_future_polled_after_its_commit_is_ready_at_once() {
    let host = Host::default();
    let (instance, ctx) = create(&host, &API);
    let ticket = ctx.emitter().emit_tracked(&events(1)).unwrap();
    host.committed.store(1, Ordering::SeqCst);
    let waker = Waker::from(Arc::new(Count::default()));
    let future = pin!(ticket.committed());
    assert_eq!(future.poll(&mut TaskContext::from_waker(&waker)), Poll::Ready(Ok(())));
    destroy(instance);
}

#[test]
fn against_a_1_0_host_an_accepted_batch_counts_as_committed() {
    let host = Host::default();
    let (instance, ctx) = create(&host, &API_1_0);
    let mut emitter = ctx.emitter();
    let ticket = emitter.emit_tracked(&events(2)).unwrap();
    assert_eq!(ticket.seq(), 0);
    assert!(ticket.is_committed());
    assert_eq!(ticket.wait(), Ok(()));
    let waker = Waker::from(Arc::new(Count::default()));
    assert_eq!(pin!(ticket.committed()).poll(&mut TaskContext::from_waker(&waker)), Poll::Ready(Ok(())));
    emitter.emit_committed(&events(1)).unwrap();
    assert_eq!(host.plain_emits.load(Ordering::SeqCst), 2, "the 1.0 host's emit took both batches");
    destroy(instance);
}
