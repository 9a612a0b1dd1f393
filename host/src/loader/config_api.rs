//! The config accessors of the host API (`evh_host_api.config_*`, ABI 1.1): C plugins read
//! their `config` table by key path during `on_create`. The reading itself is
//! config::plugin_config's; this file only crosses the boundary: it checks the pointers,
//! finds the instance's parsed config, writes the out-parameter on success, records the
//! message on failure, and never lets a panic unwind into the plugin.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use evhost_abi::{self as evh, evh_create_args, evh_status, evh_str};

use super::host_api::InstanceHost;
use crate::config::plugin_config::{LookupError, PluginConfig};

/// A present empty string still has a non-NULL pointer, as the ABI promises.
static EMPTY: &str = "";

/// What an accessor found: a value, nothing (an optional key left out), or a failure with
/// its status and message.
type Found<T> = Result<Option<T>, (evh_status, String)>;

/// Runs one accessor: resolves `args` to its instance and its config and the `path` to
/// text, calls `read`, and writes `*out` on success or records the message on failure.
///
/// # Safety
/// `args` is NULL or the `evh_create_args` the host passed to `on_create` (or a copy of it);
/// `path` is NULL or NUL-terminated; `out` is NULL or valid for a write of `T`.
unsafe fn access<T>(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut T,
    name: &str,
    read: impl FnOnce(&PluginConfig, &str, bool) -> Result<Option<T>, LookupError>,
) -> evh_status {
    let call = AssertUnwindSafe(|| {
        // SAFETY: forwarded from the caller.
        let Some(host) = (unsafe { instance_of(args) }) else { return evh::EVH_ERR_INVALID_ARGUMENT };
        let found: Found<T> = (|| {
            if out.is_null() {
                return Err(invalid(format!("{name}: the out-parameter is NULL; pass a pointer to the value to fill")));
            }
            if flags & !evh::EVH_CONFIG_REQUIRED != 0 {
                return Err(invalid(format!(
                    "{name}: unknown flags {flags:#x}; pass EVH_CONFIG_REQUIRED or EVH_CONFIG_OPTIONAL"
                )));
            }
            // SAFETY: forwarded from the caller.
            let path = unsafe { path_text(path, name) }?;
            let config = config_of(host, name)?;
            read(&config, path, flags & evh::EVH_CONFIG_REQUIRED != 0).map_err(|error| {
                if let LookupError::Config { key, .. } = &error {
                    host.set_config_key(key);
                }
                status_of(error)
            })
        })();
        match found {
            Ok(Some(value)) => {
                // SAFETY: checked non-NULL above; the caller makes it writable for a T.
                unsafe { out.write(value) };
                evh::EVH_OK
            }
            Ok(None) => evh::EVH_OK,
            Err((status, message)) => {
                host.set_error(message);
                status
            }
        }
    });
    catch_unwind(call).unwrap_or(evh::EVH_ERR_INTERNAL)
}

/// The instance whose `on_create` received `args`.
///
/// # Safety
/// `args` is NULL or points to an `evh_create_args` whose `host` the host handed out.
unsafe fn instance_of<'a>(args: *const evh_create_args) -> Option<&'a InstanceHost> {
    // SAFETY: NULL or a valid args struct, from the caller. Its `host` field is read, not
    // the struct's address, so a plugin's copy of the struct works as well.
    let args = unsafe { args.as_ref() }?;
    // SAFETY: handles are never freed (see host_api.rs), and `host` is one.
    unsafe { (args.host as *const InstanceHost).as_ref() }
}

/// The path as text, or why it cannot be read.
///
/// # Safety
/// `path` is NULL or NUL-terminated.
unsafe fn path_text<'a>(path: *const c_char, name: &str) -> Result<&'a str, (evh_status, String)> {
    if path.is_null() {
        return Err(invalid(format!("{name}: the path is NULL; pass \"\" for the whole config")));
    }
    // SAFETY: non-NULL and NUL-terminated, from the caller.
    unsafe { CStr::from_ptr(path) }.to_str().map_err(|_| invalid(format!("{name}: the path is not UTF-8")))
}

/// The instance's parsed config, which exists only while its `on_create` runs.
fn config_of(host: &InstanceHost, name: &str) -> Result<Arc<PluginConfig>, (evh_status, String)> {
    host.config().ok_or_else(|| {
        invalid(format!("{name}: the config can be read only during on_create; read it there and keep copies"))
    })
}

fn invalid(message: String) -> (evh_status, String) {
    (evh::EVH_ERR_INVALID_ARGUMENT, message)
}

fn status_of(error: LookupError) -> (evh_status, String) {
    match error {
        LookupError::Config { message, .. } => (evh::EVH_ERR_CONFIG, message),
        LookupError::Path(message) => invalid(message),
    }
}

pub(super) unsafe extern "C" fn config_string(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut evh_str,
) -> evh_status {
    // SAFETY: the ABI's accessor contract, forwarded. The view borrows the instance's config,
    // which InstanceHost keeps until on_create returns, the lifetime the ABI documents.
    unsafe {
        access(args, path, flags, out, "config_string", |config, path, required| {
            Ok(config.string(path, required)?.map(|text| evh_str::from_str(if text.is_empty() { EMPTY } else { text })))
        })
    }
}

pub(super) unsafe extern "C" fn config_int(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut i64,
) -> evh_status {
    // SAFETY: the ABI's accessor contract, forwarded.
    unsafe { access(args, path, flags, out, "config_int", |c, p, r| c.int(p, r)) }
}

pub(super) unsafe extern "C" fn config_uint(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut u64,
) -> evh_status {
    // SAFETY: the ABI's accessor contract, forwarded.
    unsafe { access(args, path, flags, out, "config_uint", |c, p, r| c.uint(p, r)) }
}

pub(super) unsafe extern "C" fn config_float(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut f64,
) -> evh_status {
    // SAFETY: the ABI's accessor contract, forwarded.
    unsafe { access(args, path, flags, out, "config_float", |c, p, r| c.float(p, r)) }
}

pub(super) unsafe extern "C" fn config_bool(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut bool,
) -> evh_status {
    // SAFETY: the ABI's accessor contract, forwarded.
    unsafe { access(args, path, flags, out, "config_bool", |c, p, r| c.bool(p, r)) }
}

pub(super) unsafe extern "C" fn config_duration_us(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut u64,
) -> evh_status {
    let micros = |config: &PluginConfig, path: &str, required| {
        let Some(duration) = config.duration(path, required)? else { return Ok(None) };
        u64::try_from(duration.as_micros()).map(Some).map_err(|_| {
            LookupError::config(
                path,
                format!("`{path}` is too long; write at most 584542 years, in days, e.g. \"365d\""),
            )
        })
    };
    // SAFETY: the ABI's accessor contract, forwarded.
    unsafe { access(args, path, flags, out, "config_duration_us", micros) }
}

pub(super) unsafe extern "C" fn config_size(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut u64,
) -> evh_status {
    // SAFETY: the ABI's accessor contract, forwarded.
    unsafe { access(args, path, flags, out, "config_size", |c, p, r| c.size(p, r)) }
}

pub(super) unsafe extern "C" fn config_len(
    args: *const evh_create_args,
    path: *const c_char,
    flags: u32,
    out: *mut usize,
) -> evh_status {
    // SAFETY: the ABI's accessor contract, forwarded.
    unsafe { access(args, path, flags, out, "config_len", |c, p, r| c.len(p, r)) }
}

pub(super) unsafe extern "C" fn config_keys(
    args: *const evh_create_args,
    path: *const c_char,
    keys: *const *const c_char,
    keys_len: usize,
) -> evh_status {
    let call = AssertUnwindSafe(|| {
        if keys.is_null() && keys_len > 0 {
            // SAFETY: the ABI's accessor contract: NULL or the args on_create received.
            if let Some(host) = unsafe { instance_of(args) } {
                host.set_error(format!("config_keys: keys is NULL with keys_len = {keys_len}; pass the accepted keys"));
            }
            return evh::EVH_ERR_INVALID_ARGUMENT;
        }
        let accepted: Option<Vec<&str>> = (0..keys_len)
            .map(|i| {
                // SAFETY: the caller passes `keys_len` readable pointers at `keys`.
                let key = unsafe { *keys.add(i) };
                // SAFETY: a non-NULL key is NUL-terminated (ABI).
                (!key.is_null()).then(|| unsafe { CStr::from_ptr(key) }.to_str().ok()).flatten()
            })
            .collect();
        let check = |config: &PluginConfig, path: &str, _required| match &accepted {
            Some(accepted) => config.check_keys(path, accepted).map(|()| None),
            None => {
                Err(LookupError::Path("config_keys: a key is NULL or not UTF-8; pass NUL-terminated UTF-8 keys".into()))
            }
        };
        // `check` never yields a value, so `out` is never written: a dangling one will do.
        let mut unused = ();
        // SAFETY: args and path under the accessor contract; `out` points to a local.
        unsafe { access(args, path, evh::EVH_CONFIG_OPTIONAL, &mut unused, "config_keys", check) }
    });
    catch_unwind(call).unwrap_or(evh::EVH_ERR_INTERNAL)
}
