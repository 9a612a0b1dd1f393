//! Loading plugin libraries and calling into them. This is the only module with `unsafe`
//! FFI: dlopen, the handshake, plugin hooks, and the host API callbacks plugins call. Each
//! `unsafe` block says why it is sound in a `// SAFETY:` comment.

#[cfg(feature = "bench")]
mod bench;
mod claim;
mod commits;
mod config_api;
mod host_api;
mod ingest;
mod ingest_claim;
mod instance;
mod library;
mod whereabouts;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(feature = "bench")]
pub use bench::{Baseline, OwnedEvent};
pub use commits::Commits;
pub use host_api::{EmitTarget, InstanceHost};
pub use instance::{Delivered, HookError, Instance};
use library::file_has_go_runtime;
pub use library::{Library, Plugin};
pub use whereabouts::{busy, crash_note, Busy};

use crate::files::{self, FileError};

/// A copy of a string view from a plugin (names, messages), with bad UTF-8 replaced and
/// control characters escaped: plugin text ends up in log lines and error messages, where a
/// newline could forge a line (see crate::logging).
///
/// # Safety
/// `view` must be NULL with any length, or point to `len` readable bytes for the call.
unsafe fn copy_text(view: evhost_abi::evh_str) -> String {
    if view.ptr.is_null() || view.len == 0 {
        return String::new();
    }
    // SAFETY: non-NULL with a length: the caller promises the bytes are readable.
    let text = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(view.ptr, view.len) });
    crate::logging::escape(&text).into_owned()
}

/// Why a library could not be used. Each variant's `help` says how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("{0}")]
    File(#[from] FileError),
    #[error("{path} is not a loadable shared library: {reason}")]
    NotSharedObject { path: PathBuf, reason: String },
    #[error("{path} is not an evhost plugin library: it does not export `evh_library_init`")]
    NoEntryPoint { path: PathBuf },
    #[error("{path}: evh_library_init failed with {}", evhost_abi::status_name(*status))]
    InitFailed { path: PathBuf, status: i32 },
    #[error(
        "{path} was built for evhost ABI {major}.{minor}, but this host speaks ABI {}.{}",
        evhost_abi::EVH_ABI_VERSION_MAJOR,
        evhost_abi::EVH_ABI_VERSION_MINOR
    )]
    Version { path: PathBuf, major: u32, minor: u32 },
    #[error("{path} describes itself wrongly: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("{second} carries a Go runtime, and {first} already loaded one; a process can hold only one Go runtime")]
    SecondGoRuntime { first: PathBuf, second: PathBuf },
}

impl LoadError {
    pub fn help(&self) -> String {
        match self {
            LoadError::File(FileError::NotFound { .. }) => "check the path; relative paths are resolved from the config file's folder, and `make build` puts the shipped plugins in target/plugins/".into(),
            LoadError::File(FileError::SymlinkLoop { .. }) => "point `library` at the .so file itself, or fix the links (`ls -l` shows where each one points)".into(),
            LoadError::File(FileError::TooLarge { .. }) => "point `library` at a plugin library; a file this large is not one".into(),
            LoadError::File(_) => "point `library` at a .so file: a regular file built as a shared library".into(),
            LoadError::NotSharedObject { .. } => "point `library` at a .so file built as a shared library (cdylib in Rust, -shared in C, -buildmode=c-shared in Go)".into(),
            LoadError::NoEntryPoint { .. } => "build it with an evhost SDK, or define `evh_library_init` as declared in include/evhost.h and export it".into(),
            LoadError::InitFailed { .. } => "the library refused to start; its log lines above may say why".into(),
            LoadError::Version { major, minor, .. } if *major == evhost_abi::EVH_ABI_VERSION_MAJOR && *minor > evhost_abi::EVH_ABI_VERSION_MINOR => {
                format!("the library needs a newer host: upgrade evhost to one that speaks ABI {major}.{minor} or later, or rebuild the library against this host's include/evhost.h")
            }
            LoadError::Version { major, .. } if *major > evhost_abi::EVH_ABI_VERSION_MAJOR => {
                format!("upgrade evhost to a host that speaks ABI {major}, or rebuild the library against this host's include/evhost.h")
            }
            LoadError::Version { .. } => "rebuild the library against this host's include/evhost.h (or its SDK version)".into(),
            LoadError::Malformed { .. } => "rebuild the library against include/evhost.h; if it uses an SDK, report this to its authors".into(),
            LoadError::SecondGoRuntime { .. } => "build all Go plugins into one library: one Go module can register many plugins (evhost.RegisterConsumer / RegisterProducer in each package's init). evhost cannot yet run a second Go library in a separate process".into(),
        }
    }
}

/// Loads each library once, and at most one that carries a Go runtime.
#[derive(Default)]
pub struct Loader {
    libraries: HashMap<PathBuf, Arc<Library>>,
    go_library: Option<PathBuf>,
}

impl Loader {
    pub fn load(&mut self, path: &Path) -> Result<Arc<Library>, LoadError> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(library) = self.libraries.get(&key) {
            return Ok(library.clone());
        }
        let second_go =
            |first: &PathBuf| LoadError::SecondGoRuntime { first: first.clone(), second: path.to_path_buf() };
        // Only a regular file of a sane size goes on to be read and dlopen-ed (see files.rs).
        let file = files::open_regular("library", path, files::LIBRARY_LIMIT)?;
        // Before dlopen when the file shows it, so that a second Go runtime never starts;
        // after, for a library that only declares it.
        let go_file = file_has_go_runtime(file)
            .map_err(|source| LoadError::File(FileError::Io { what: "library", path: path.to_path_buf(), source }))?;
        if let (true, Some(first)) = (go_file, &self.go_library) {
            return Err(second_go(first));
        }
        let library = Arc::new(Library::open(path, go_file)?);
        if library.go_runtime {
            if let Some(first) = &self.go_library {
                return Err(second_go(first));
            }
            self.go_library = Some(path.to_path_buf());
        }
        self.libraries.insert(key, library.clone());
        Ok(library)
    }
}
