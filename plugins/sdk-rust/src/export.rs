//! The boundary: `export_plugins!`, the static descriptors it builds, and the `extern "C"`
//! hooks that wrap the traits. Every hook runs inside `guard`, so no panic crosses into the
//! host: the call fails closed with `EVH_ERR_INTERNAL` and the panic message.
//!
//! After a panic the instance is poisoned, as Envoy's SDK does it: the plugin's state may be
//! half-updated, so no later hook calls the plugin again. `on_events` and `on_run` fail with
//! `EVH_ERR_INTERNAL` and a message naming the first panic; `on_stop` logs it. `on_destroy`
//! still drops the plugin: a broken invariant cannot make safe Rust unsound, and dropping
//! gives back what the instance holds (files, sockets, threads), as a poisoned `Mutex`
//! still drops its data.

use std::any::Any;
use std::ffi::c_void;
use std::mem::size_of;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use evhost_abi::*;

use crate::context::{Api, Context, HostCell};
use crate::{Batch, Consumer, Delivery, Emitter, Error, Producer};

/// Writes the library's entry point, `evh_library_init`, describing the listed plugins.
/// Use it once per library, at the crate root, listing each plugin as `producer Type` or
/// `consumer Type`:
///
/// ```ignore
/// evhost_sdk::export_plugins!(producer Sequence, consumer Digest, consumer Count);
/// ```
///
/// The entry point checks the host's ABI major (another one gets `EVH_ERR_VERSION`) and
/// reports `EVH_ABI_VERSION_MAJOR`/`MINOR` of the SDK. Build the crate as a `cdylib`.
#[macro_export]
macro_rules! export_plugins {
    ($($kind:ident $plugin:ty),+ $(,)?) => {
        /// The evhost entry point, written by `evhost_sdk::export_plugins!`.
        #[no_mangle]
        pub extern "C" fn evh_library_init(
            api: *const $crate::abi::evh_host_api,
            out: *mut *const $crate::abi::evh_library,
        ) -> $crate::abi::evh_status {
            static PLUGINS: &[&$crate::abi::evh_plugin] =
                &[$(&$crate::export_plugins!(@plugin $kind $plugin)),+];
            static LIBRARY: $crate::abi::evh_library = $crate::__private::library(PLUGINS);
            $crate::__private::library_init(api, out, &LIBRARY)
        }
    };
    (@plugin producer $plugin:ty) => { $crate::__private::producer::<$plugin>() };
    (@plugin consumer $plugin:ty) => { $crate::__private::consumer::<$plugin>() };
    (@plugin $other:ident $plugin:ty) => {
        compile_error!(concat!("export_plugins!: `", stringify!($other), "` is not `producer` or `consumer`"))
    };
}

/// The library description over static plugin descriptors.
pub const fn library(plugins: &'static [&'static evh_plugin]) -> evh_library {
    evh_library {
        struct_size: struct_size::<evh_library>(),
        abi_major: EVH_ABI_VERSION_MAJOR,
        abi_minor: EVH_ABI_VERSION_MINOR,
        flags: 0,
        // `&evh_plugin` has the layout of `*const evh_plugin`.
        plugins: plugins.as_ptr() as *const *const evh_plugin,
        plugins_len: plugins.len(),
    }
}

/// The body of `evh_library_init`: the version handshake, then `*out = library`.
#[allow(clippy::not_unsafe_ptr_arg_deref)] // the host calls it through the C ABI's contract
pub fn library_init(
    api: *const evh_host_api,
    out: *mut *const evh_library,
    library: &'static evh_library,
) -> evh_status {
    if api.is_null() || out.is_null() {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: the ABI promises `api` points to a host API table that lives as long as the
    // library; its first three fields exist in every version.
    let (size, major) = unsafe { ((*api).struct_size, (*api).abi_major) };
    // A 1.0 host is welcome: the SDK reads the 1.1 entries only when the table has them.
    if major != EVH_ABI_VERSION_MAJOR || (size as usize) < host_api_size_1_0() {
        return EVH_ERR_VERSION;
    }
    // SAFETY: `out` is non-NULL and the ABI makes it writable; written only on success.
    unsafe { *out = library };
    EVH_OK
}

/// The descriptor of a consumer plugin.
pub const fn consumer<C: Consumer>() -> evh_plugin {
    evh_plugin {
        on_create: Some(on_create::<Instance<C>, ConsumerKind>),
        on_destroy: Some(on_destroy::<Instance<C>, ConsumerKind>),
        on_stop: Some(consumer_on_stop::<C>),
        on_events: Some(on_events::<C>),
        ..descriptor(EVH_KIND_CONSUMER, C::NAME, C::VERSION, C::DESCRIPTION)
    }
}

/// The descriptor of a producer plugin (an `on_run` producer).
pub const fn producer<P: Producer>() -> evh_plugin {
    evh_plugin {
        on_create: Some(on_create::<Instance<P>, ProducerKind>),
        on_destroy: Some(on_destroy::<Instance<P>, ProducerKind>),
        on_run: Some(producer_on_run::<P>),
        on_stop: Some(producer_on_stop::<P>),
        on_committed: Some(producer_on_committed::<P>),
        ..descriptor(EVH_KIND_PRODUCER, P::NAME, P::VERSION, P::DESCRIPTION)
    }
}

const fn descriptor(kind: evh_kind, name: &str, version: &str, description: &str) -> evh_plugin {
    evh_plugin {
        struct_size: struct_size::<evh_plugin>(),
        kind,
        name: evh_str::from_str(name),
        version: evh_str::from_str(version),
        description: evh_str::from_str(description),
        flags: 0,
        on_create: None,
        on_destroy: None,
        on_run: None,
        on_start: None,
        on_stop: None,
        on_events: None,
        on_committed: None,
    }
}

/// A plugin value and its context: what the instance pointer points to.
struct Instance<T> {
    plugin: T,
    ctx: Context,
    /// The first panic out of the plugin, as "<hook>: <message>". Once set, the plugin is
    /// not called again (see the module doc). A lock, not a flag in `&mut self`: a
    /// producer's `on_stop` runs beside its `on_run`.
    panicked: OnceLock<String>,
}

impl<T> Instance<T> {
    fn new(plugin: T, ctx: Context) -> Self {
        Instance { plugin, ctx, panicked: OnceLock::new() }
    }
}

/// Runs the plugin's code for `hook`, unless it panicked before: then the plugin is not
/// called and the message says why. A panic now poisons the instance.
fn call_plugin<R>(panicked: &OnceLock<String>, hook: &str, f: impl FnOnce() -> R) -> Result<R, String> {
    if let Some(first) = panicked.get() {
        return Err(format!("{hook} not called: the instance panicked earlier ({first}) and is never called again"));
    }
    guard(f).map_err(|panic| {
        let message = format!("panicked in {hook}: {panic}");
        // Only the first panic is kept: a producer's on_run and on_stop may both panic.
        let _ = panicked.set(format!("in {hook}: {panic}"));
        message
    })
}

/// What `on_create` and `on_destroy` need from an instance of either kind; `K` tells the
/// kinds apart (a type could implement both traits).
trait Create<K>: Sized {
    const NAME: &'static str;
    fn create(ctx: Context, config_json: &str) -> Result<Self, Error>;
    fn context(&self) -> &Context;
}

struct ConsumerKind;
struct ProducerKind;

impl<C: Consumer> Create<ConsumerKind> for Instance<C> {
    const NAME: &'static str = C::NAME;
    fn create(ctx: Context, json: &str) -> Result<Self, Error> {
        let plugin = C::create(ctx.clone(), crate::config::parse(json)?)?;
        Ok(Instance::new(plugin, ctx))
    }
    fn context(&self) -> &Context {
        &self.ctx
    }
}

impl<P: Producer> Create<ProducerKind> for Instance<P> {
    const NAME: &'static str = P::NAME;
    fn create(ctx: Context, json: &str) -> Result<Self, Error> {
        let plugin = P::create(ctx.clone(), crate::config::parse(json)?)?;
        Ok(Instance::new(plugin, ctx))
    }
    fn context(&self) -> &Context {
        &self.ctx
    }
}

/// Runs `f`, turning a panic into its message.
fn guard<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Reads a borrowed host string; `None` when it is not UTF-8.
///
/// # Safety
///
/// `s` must be empty or point to `len` readable bytes for the call.
unsafe fn host_str(s: evh_str) -> Option<String> {
    if s.ptr.is_null() || s.len == 0 {
        return Some(String::new());
    }
    // SAFETY: the caller's promise.
    let bytes = unsafe { std::slice::from_raw_parts(s.ptr, s.len) };
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

unsafe extern "C" fn on_create<T: Create<K>, K>(
    args: *const evh_create_args,
    instance_out: *mut *mut c_void,
) -> evh_status {
    if args.is_null() {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: non-NULL; the host keeps the arguments valid for the call. `struct_size` is
    // the first field in every version, and we read the rest only once it is large enough.
    let args = unsafe { &*args };
    if (args.struct_size as usize) < size_of::<evh_create_args>() || args.api.is_null() {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: non-NULL; the API table lives as long as the library.
    let api_size = unsafe { (*args.api).struct_size } as usize;
    if api_size < host_api_size_1_0() {
        return EVH_ERR_VERSION;
    }
    // SAFETY: the table is at least 1.0-sized (checked) and says its own size.
    let cell = Arc::new(HostCell::new(unsafe { Api::read(args.api) }, args.host));
    // SAFETY: the host keeps both views valid for the call.
    let (name, json, dir) =
        unsafe { (host_str(args.instance_name), host_str(args.config_json), host_str(args.config_dir)) };
    let ctx = Context::new(cell.clone(), T::NAME, name.as_deref().unwrap_or(""), dir.as_deref().unwrap_or(""));
    if instance_out.is_null() {
        cell.set_error("on_create: instance_out is NULL");
        return EVH_ERR_INVALID_ARGUMENT;
    }
    let Some(json) = json else {
        cell.set_error("config: the JSON text is not UTF-8");
        return EVH_ERR_CONFIG;
    };
    match guard(|| T::create(ctx, &json)) {
        Ok(Ok(instance)) => {
            // SAFETY: non-NULL and writable for the call; ownership of the box passes to the
            // host until `on_destroy` takes it back.
            unsafe { *instance_out = Box::into_raw(Box::new(instance)).cast() };
            EVH_OK
        }
        Ok(Err(err)) => {
            // SAFETY: the args of this on_create, whose api table was checked above.
            if err.issue().is_some_and(|issue| unsafe { crate::config::report(args, issue) }) {
                // The host recorded the mistake in its words, with the key for its caret.
                return EVH_ERR_CONFIG;
            }
            cell.set_error(err.message());
            err.status().unwrap_or(EVH_ERR_CONFIG)
        }
        Err(panic) => {
            cell.set_error(&format!("panicked in on_create: {panic}"));
            EVH_ERR_INTERNAL
        }
    }
}

unsafe extern "C" fn on_destroy<T: Create<K>, K>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: `instance` came from `Box::into_raw` in `on_create::<T>`, and the host calls
    // `on_destroy` exactly once, after every other hook returned: we own it again.
    let instance = unsafe { Box::from_raw(instance.cast::<T>()) };
    let ctx = instance.context().clone();
    // Before the drop: a `Drop` that joins a thread in `wait_stop` must not wait for it.
    ctx.cell().signal_stop();
    if let Err(panic) = guard(move || drop(instance)) {
        ctx.error(format!("panicked in on_destroy: {panic}"));
    }
    ctx.cell().close();
}

unsafe extern "C" fn on_events<C: Consumer>(
    instance: *mut c_void,
    events: *const *const evh_event,
    n: usize,
    handled: *mut usize,
) -> evh_status {
    if instance.is_null() || handled.is_null() {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: `instance` came from `on_create::<Instance<C>>` and is live until `on_destroy`;
    // the host never calls one consumer instance concurrently, so this borrow is unique.
    let instance = unsafe { &mut *instance.cast::<Instance<C>>() };
    // SAFETY: the host passes `n` event pointers valid until this call returns.
    let batch = match unsafe { Batch::from_raw(events, n) } {
        Ok(batch) => batch,
        Err(why) => {
            instance.ctx.cell().set_error(&why);
            return EVH_ERR_INVALID_ARGUMENT;
        }
    };
    let plugin = &mut instance.plugin;
    let (status, done, reason) = match call_plugin(&instance.panicked, "on_events", || plugin.on_events(&batch)) {
        Ok(Delivery::Ok) => return EVH_OK,
        Ok(Delivery::Retry { handled, reason }) => (EVH_RETRY, handled, reason),
        Ok(Delivery::Fail { handled, reason }) => (EVH_FAIL, handled, reason),
        Err(why) => (EVH_ERR_INTERNAL, 0, why),
    };
    if !reason.is_empty() {
        instance.ctx.cell().set_error(&reason);
    }
    // SAFETY: non-NULL, and the host makes it writable for the call.
    unsafe { *handled = done.min(n) };
    status
}

unsafe extern "C" fn consumer_on_stop<C: Consumer>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: as in `on_events`: live, and never called concurrently with another hook.
    let instance = unsafe { &mut *instance.cast::<Instance<C>>() };
    instance.ctx.cell().signal_stop();
    let plugin = &mut instance.plugin;
    if let Err(why) = call_plugin(&instance.panicked, "on_stop", || plugin.on_stop()) {
        instance.ctx.error(why);
    }
}

unsafe extern "C" fn producer_on_run<P: Producer>(instance: *mut c_void) -> evh_status {
    if instance.is_null() {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: `instance` came from `on_create::<Instance<P>>` and is live until
    // `on_destroy`; `on_stop` may run at the same time, so only shared borrows (`P: Sync`).
    let instance = unsafe { &*instance.cast::<Instance<P>>() };
    let mut emitter = Emitter::new(instance.ctx.cell().clone());
    let (status, message) = match call_plugin(&instance.panicked, "on_run", || instance.plugin.run(&mut emitter)) {
        Ok(Ok(())) => return EVH_OK,
        Ok(Err(err)) => (err.status().unwrap_or(EVH_ERR_INTERNAL), err.message().to_owned()),
        Err(why) => (EVH_ERR_INTERNAL, why),
    };
    instance.ctx.cell().set_error(&message);
    status
}

unsafe extern "C" fn producer_on_stop<P: Producer>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: as in `producer_on_run`: live, shared borrows only.
    let instance = unsafe { &*instance.cast::<Instance<P>>() };
    instance.ctx.cell().signal_stop();
    if let Err(why) = call_plugin(&instance.panicked, "on_stop", || instance.plugin.stop()) {
        instance.ctx.error(why);
    }
}

unsafe extern "C" fn producer_on_committed<P: Producer>(instance: *mut c_void, committed: u64) {
    if instance.is_null() {
        return;
    }
    // SAFETY: as in `producer_on_run`: live, shared borrows only. The host calls this hook on
    // a thread of its own, never concurrently for one instance.
    let instance = unsafe { &*instance.cast::<Instance<P>>() };
    // The futures first: waking them is the SDK's own work and cannot panic into the host.
    instance.ctx.cell().waiters.committed(committed);
    if let Err(why) = call_plugin(&instance.panicked, "on_committed", || instance.plugin.on_committed(committed)) {
        instance.ctx.error(why);
    }
}
