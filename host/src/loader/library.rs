//! Opening a plugin library: dlopen, the `evh_library_init` handshake, and a safe copy of
//! the library's description. Libraries are never unloaded: plugin threads may outlive
//! their instances' hooks, and a Go runtime cannot be unloaded at all.

use std::ffi::c_void;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use evhost_abi::{self as evh, evh_create_args, evh_library, evh_library_init_fn, evh_plugin, evh_status};

use super::host_api::HOST_API;
use super::whereabouts::{enter, Site};
use super::{copy_text, LoadError};
use crate::config::Kind;

/// The hooks of one plugin, copied out of its `evh_plugin` table.
#[derive(Clone, Copy)]
pub(super) struct Hooks {
    pub on_create: Option<unsafe extern "C" fn(*const evh_create_args, *mut *mut c_void) -> evh_status>,
    pub on_destroy: Option<unsafe extern "C" fn(*mut c_void)>,
    pub on_run: Option<unsafe extern "C" fn(*mut c_void) -> evh_status>,
    pub on_start: Option<unsafe extern "C" fn(*mut c_void) -> evh_status>,
    pub on_stop: Option<unsafe extern "C" fn(*mut c_void)>,
    pub on_events:
        Option<unsafe extern "C" fn(*mut c_void, *const *const evh::evh_event, usize, *mut usize) -> evh_status>,
    /// ABI 1.1; None for a library whose `evh_plugin` is 1.0-sized.
    pub on_committed: Option<unsafe extern "C" fn(*mut c_void, u64)>,
}

/// Producer or consumer, as the plugin declares itself. Unknown values are kept as numbers.
/// One plugin of a library.
pub struct Plugin {
    pub name: String,
    pub kind: Kind,
    pub version: String,
    pub description: String,
    pub(super) hooks: Hooks,
    /// The library's file name, to say where a hook that hangs or crashes lives.
    pub(super) library_file: String,
    /// The library's own table, passed back in `evh_create_args.plugin`.
    pub(super) raw: *const evh_plugin,
    /// The identity of the library file it was loaded from: a reload replaces the instances
    /// of a library whose file changed since.
    pub file: Option<super::FileId>,
}

// SAFETY: `raw` points to the library's immutable plugin table, valid for the process
// lifetime (libraries are never unloaded); it is only passed back to the library.
unsafe impl Send for Plugin {}
unsafe impl Sync for Plugin {}

/// A loaded library and its plugins.
pub struct Library {
    pub path: PathBuf,
    pub abi_major: u32,
    pub abi_minor: u32,
    /// The library carries a Go runtime (declared by the Go SDK, or found in the file).
    pub go_runtime: bool,
    pub plugins: Vec<Arc<Plugin>>,
    /// The file's identity when it was loaded, to tell a replaced file by (see `Loader`).
    pub file: Option<super::FileId>,
}

/// The marker the Go linker writes into every binary it builds (the `.go.buildinfo`
/// section). Finding it needs no dlopen, so a second Go runtime is refused before it starts.
const GO_BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// True when `file` was built by the Go toolchain. Reads it in blocks: a library may be
/// tens of MiB, and only the marker matters.
pub(super) fn file_has_go_runtime(mut file: impl Read) -> std::io::Result<bool> {
    const BLOCK: usize = 64 << 10;
    let keep = GO_BUILDINFO_MAGIC.len() - 1;
    let mut buffer = vec![0u8; keep + BLOCK];
    // The last `keep` bytes of one block stay in front of the next: a marker may straddle them.
    let mut filled = 0;
    loop {
        let n = match file.read(&mut buffer[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += n;
        if buffer[..filled].windows(GO_BUILDINFO_MAGIC.len()).any(|w| w == GO_BUILDINFO_MAGIC) {
            return Ok(true);
        }
        let tail = filled.saturating_sub(keep);
        buffer.copy_within(tail..filled, 0);
        filled -= tail;
    }
}

/// An `evh_plugin`'s fields, copied out one by one.
struct PluginTable {
    kind: evh::evh_kind,
    name: evh::evh_str,
    version: evh::evh_str,
    description: evh::evh_str,
    hooks: Hooks,
}

impl PluginTable {
    /// Reads the fields of ABI 1.0, and those appended since when `size` covers them.
    ///
    /// # Safety
    /// `p` must point to `size` readable bytes of an `evh_plugin`, and `size` must be at
    /// least `evh::plugin_size_1_0()`.
    unsafe fn read(p: *const evh_plugin, size: usize) -> PluginTable {
        // SAFETY: place reads through the raw pointer, each within the `size` bytes the
        // caller promises; no reference to the whole (maybe larger) struct is made.
        unsafe {
            PluginTable {
                kind: (*p).kind,
                name: (*p).name,
                version: (*p).version,
                description: (*p).description,
                hooks: Hooks {
                    on_create: (*p).on_create,
                    on_destroy: (*p).on_destroy,
                    on_run: (*p).on_run,
                    on_start: (*p).on_start,
                    on_stop: (*p).on_stop,
                    on_events: (*p).on_events,
                    on_committed: if size >= std::mem::size_of::<evh_plugin>() { (*p).on_committed } else { None },
                },
            }
        }
    }
}

/// The file name alone, for messages about what runs inside the library.
fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned()
}

impl Library {
    /// Loads the library at `path` and performs the handshake; messages name it `shown`
    /// (the file the config names, where `path` may be a fresh copy of it). `go_file`: the
    /// file carries the Go linker's marker (the loader looked before, to refuse a second Go
    /// runtime).
    pub(super) fn open(
        path: &Path,
        shown: &Path,
        go_file: bool,
        file: Option<super::FileId>,
    ) -> Result<Library, LoadError> {
        let shown = shown.to_path_buf();
        let mut magic = [0u8; 4];
        let elf = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF";
        if !elf {
            return Err(LoadError::NotSharedObject {
                path: shown,
                reason: "the file is not an ELF shared object".into(),
            });
        }
        // dlopen searches the system's library path for a bare file name ("libx.so"); a
        // config names a file, so make it a path ("./libx.so").
        let path = if path.components().count() == 1 && path.is_relative() {
            Path::new(".").join(path)
        } else {
            path.to_path_buf()
        };
        let who = format!("library {}", file_name(&shown));
        let loading = enter(Site::leak(who.clone(), "its initializers (dlopen)"));
        // SAFETY: loading a library runs its initializers. That is the point of a plugin
        // host: the user named this file as a plugin in the config, and it runs with the
        // host's trust (see the TRUST section of include/evhost.h).
        let library = unsafe { libloading::Library::new(&path) }
            .map_err(|e| LoadError::NotSharedObject { path: shown.clone(), reason: e.to_string() })?;
        drop(loading);
        // SAFETY: the symbol's type is the ABI's documented entry point type.
        let init: evh_library_init_fn = match unsafe { library.get::<evh_library_init_fn>(b"evh_library_init\0") } {
            Ok(symbol) => *symbol,
            Err(_) => return Err(LoadError::NoEntryPoint { path: shown }),
        };
        let mut description: *const evh_library = std::ptr::null();
        let status = {
            let _inside = enter(Site::leak(who, "evh_library_init"));
            // SAFETY: calling the entry point with the host API (static) and an out-pointer,
            // as the ABI documents. Unwinding out of it aborts the process (extern "C").
            unsafe { init(&HOST_API, &mut description) }
        };
        if status != evh::EVH_OK {
            return Err(LoadError::InitFailed { path: shown, status });
        }
        // SAFETY: on EVH_OK the library stored a pointer to its description, which lives
        // as long as the library; a NULL is refused.
        let Some(description) = (unsafe { description.as_ref() }) else {
            return Err(LoadError::Malformed {
                path: shown,
                reason: "evh_library_init returned EVH_OK but no description".into(),
            });
        };
        // Never unloaded; see the module doc.
        std::mem::forget(library);
        // SAFETY: the description is valid for the library's lifetime (forever now).
        unsafe { Self::read(shown, description, go_file, file) }
    }

    /// # Safety
    /// `description` and everything it points to must follow the ABI.
    unsafe fn read(
        path: PathBuf,
        description: &evh_library,
        go_file: bool,
        file: Option<super::FileId>,
    ) -> Result<Library, LoadError> {
        let malformed = |reason: String| LoadError::Malformed { path: path.clone(), reason };
        if (description.struct_size as usize) < std::mem::size_of::<evh_library>() {
            return Err(malformed(format!(
                "evh_library.struct_size is {}, smaller than ABI 1.0's {}",
                description.struct_size,
                std::mem::size_of::<evh_library>()
            )));
        }
        let (major, minor) = (description.abi_major, description.abi_minor);
        if major != evh::EVH_ABI_VERSION_MAJOR || minor > evh::EVH_ABI_VERSION_MINOR {
            return Err(LoadError::Version { path, major, minor });
        }
        if description.plugins_len > 0 && description.plugins.is_null() {
            return Err(malformed("evh_library.plugins is NULL".into()));
        }
        let pointers: &[*const evh_plugin] = if description.plugins_len == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, with plugins_len entries as the ABI documents.
            unsafe { std::slice::from_raw_parts(description.plugins, description.plugins_len) }
        };
        let mut plugins = Vec::with_capacity(pointers.len());
        for (i, pointer) in pointers.iter().enumerate() {
            if pointer.is_null() {
                return Err(malformed(format!("plugin {i} is NULL")));
            }
            // The host never reads past the size the library reported. Every field of ABI
            // 1.0 is required; fields appended later are read only when struct_size covers
            // them. So no `&evh_plugin` is made (it would claim the whole 1.1 size): each
            // field is read through the pointer.
            // SAFETY: each entry points to a plugin table valid while the library is loaded,
            // and struct_size is its first field in every version.
            let size = unsafe { (**pointer).struct_size } as usize;
            if size < evh::plugin_size_1_0() {
                return Err(malformed(format!(
                    "plugin {i}: struct_size is {size}, smaller than ABI 1.0's {}",
                    evh::plugin_size_1_0()
                )));
            }
            // SAFETY: the library reported `size` bytes, at least 1.0's (checked above).
            let plugin = unsafe { PluginTable::read(*pointer, size) };
            let kind = match plugin.kind {
                evh::EVH_KIND_PRODUCER => Kind::Producer,
                evh::EVH_KIND_CONSUMER => Kind::Consumer,
                other => {
                    return Err(malformed(format!(
                        "plugin {i} declares kind {other}, which is neither EVH_KIND_PRODUCER ({}) nor EVH_KIND_CONSUMER ({})",
                        evh::EVH_KIND_PRODUCER,
                        evh::EVH_KIND_CONSUMER
                    )))
                }
            };
            // SAFETY: the plugin's views are valid while the library is loaded.
            let name = unsafe { copy_text(plugin.name) };
            if name.is_empty() {
                return Err(malformed(format!("plugin {i} has no name")));
            }
            if plugin.hooks.on_create.is_none() {
                return Err(malformed(format!("plugin \"{name}\" has no on_create hook")));
            }
            let hooks = plugin.hooks;
            match kind {
                Kind::Producer if hooks.on_run.is_none() && hooks.on_start.is_none() => {
                    return Err(malformed(format!("producer \"{name}\" has neither on_run nor on_start")))
                }
                Kind::Consumer if hooks.on_events.is_none() => {
                    return Err(malformed(format!("consumer \"{name}\" has no on_events hook")))
                }
                _ => {}
            }
            plugins.push(Arc::new(Plugin {
                name,
                kind,
                // SAFETY: as for the name.
                version: unsafe { copy_text(plugin.version) },
                description: unsafe { copy_text(plugin.description) },
                hooks,
                library_file: file_name(&path),
                raw: *pointer,
                file,
            }));
        }
        let go_runtime = description.flags & evh::EVH_LIBRARY_GO_RUNTIME != 0 || go_file;
        Ok(Library { path, abi_major: major, abi_minor: minor, go_runtime, plugins, file })
    }
}

#[cfg(test)]
mod tests {
    use super::{file_has_go_runtime, GO_BUILDINFO_MAGIC};

    #[test]
    fn the_go_marker_is_found_wherever_it_lies_across_blocks() {
        let block = 64 << 10;
        let places = (0..8).chain(block - 20..block + 20).chain(2 * block - 20..2 * block + 20);
        for at in places {
            let mut bytes = vec![0u8; 3 * block];
            bytes[at..at + GO_BUILDINFO_MAGIC.len()].copy_from_slice(GO_BUILDINFO_MAGIC);
            assert!(file_has_go_runtime(&bytes[..]).expect("reading a slice"), "marker at {at}");
        }
        assert!(!file_has_go_runtime(&vec![0u8; 3 * block][..]).expect("reading a slice"));
    }
}
