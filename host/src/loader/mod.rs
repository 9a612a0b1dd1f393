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
pub use commits::{Commits, Notified};
pub use host_api::{EmitTarget, Forward, InstanceHost};
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
    #[error("{path} was replaced since it was loaded, and it carries a Go runtime, which can never be unloaded: its new version cannot be loaded while the host runs")]
    GoReplaced { path: PathBuf },
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
            LoadError::SecondGoRuntime { .. } => "add `isolate = true` to this entry to run it in a worker process of its own, where it may have its own Go runtime; or build all Go plugins into one library: one Go module can register many plugins (evhost.RegisterConsumer / RegisterProducer in each package's init)".into(),
            LoadError::GoReplaced { .. } => "restart evhost to load the new version (with [log] kind = \"disk\", consumers resume where they were), put back the version it runs, or add `isolate = true` to its entries: a worker loads the library anew each time it starts".into(),
        }
    }
}

/// True when the library at `path` was built by Go, so that its runtime starts in whatever
/// process loads it. Read from the file, without loading it (for an isolated entry, whose
/// library the host never loads).
pub fn carries_go_runtime(path: &Path) -> Result<bool, LoadError> {
    let file = files::open_regular("library", path, files::LIBRARY_LIMIT)?;
    file_has_go_runtime(file)
        .map_err(|source| LoadError::File(FileError::Io { what: "library", path: path.to_path_buf(), source }))
}

/// A file's identity: a file replaced at the same path (a new build, `install`, `mv`)
/// differs in at least one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
    mtime_ns: i128,
    size: u64,
}

impl FileId {
    /// The identity of the file at `path` (links followed), if there is one.
    pub fn of(path: &Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        Some(FileId { dev: meta.dev(), ino: meta.ino(), mtime_ns, size: meta.size() })
    }
}

/// Loads each library once, and at most one that carries a Go runtime. Kept for the whole
/// run, so that a reload loads again only a library whose file was replaced: the dynamic
/// loader would hand back the old version for the same path (or the same inode), so the new
/// one is loaded through a fresh copy in a private folder, removed once loaded (see
/// docs/decisions.md). A replaced Go library is refused: Go cannot be unloaded.
#[derive(Default)]
pub struct Loader {
    libraries: HashMap<PathBuf, Arc<Library>>,
    go_library: Option<PathBuf>,
    /// The private folder of fresh copies, once one was needed, and the copies made.
    copies: Option<PathBuf>,
    copied: usize,
}

impl Loader {
    pub fn load(&mut self, path: &Path) -> Result<Arc<Library>, LoadError> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let identity = FileId::of(path);
        let replaced = match self.libraries.get(&key) {
            // Gone or unreadable: the version in memory is the one there is.
            Some(library) if identity.is_none() || library.file == identity => return Ok(library.clone()),
            Some(library) if library.go_runtime => return Err(LoadError::GoReplaced { path: path.to_path_buf() }),
            Some(_) => true,
            None => false,
        };
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
        let library = Arc::new(if replaced {
            self.open_copy(path, go_file, identity)?
        } else {
            Library::open(path, path, go_file, identity)?
        });
        if library.go_runtime {
            if let Some(first) = &self.go_library {
                return Err(second_go(first));
            }
            self.go_library = Some(path.to_path_buf());
        }
        self.libraries.insert(key, library.clone());
        Ok(library)
    }

    /// Opens a copy of `path` under a name never used before: a new inode, which the dynamic
    /// loader has not seen. The copy is removed once opened (its mapping stays).
    fn open_copy(&mut self, path: &Path, go_file: bool, file: Option<FileId>) -> Result<Library, LoadError> {
        let io = |source| LoadError::File(FileError::Io { what: "library", path: path.to_path_buf(), source });
        let folder = match &self.copies {
            Some(folder) => folder.clone(),
            None => {
                use std::os::unix::fs::DirBuilderExt;
                let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                let folder = std::env::temp_dir().join(format!("evhost-{}-{}", std::process::id(), stamp.as_nanos()));
                std::fs::DirBuilder::new().mode(0o700).create(&folder).map_err(io)?;
                self.copies = Some(folder.clone());
                folder
            }
        };
        self.copied += 1;
        let name = path.file_name().map_or_else(|| "library.so".into(), |n| n.to_string_lossy().into_owned());
        let copy = folder.join(format!("{}-{name}", self.copied));
        std::fs::copy(path, &copy).map_err(io)?;
        let opened = Library::open(&copy, path, go_file, file);
        let _ = std::fs::remove_file(&copy);
        opened
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        if let Some(folder) = &self.copies {
            let _ = std::fs::remove_dir(folder);
        }
    }
}
