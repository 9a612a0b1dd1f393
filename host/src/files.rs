//! Opening the files a user names (the config, plugin libraries) without trusting them: only
//! a regular file is read, never a FIFO (whose open blocks), a device (`/dev/zero` never
//! ends) or a directory, and never more than a limit, so a wrong path cannot hang the host
//! or exhaust its memory.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest config file read: far more than any hand-written config needs.
pub const CONFIG_LIMIT: u64 = 16 << 20;
/// The largest plugin library accepted: a Go library with debug info is a few tens of MiB.
pub const LIBRARY_LIMIT: u64 = 1 << 30;

/// Why a named file cannot be used. `what` says which file ("config file", "library").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("{what} {path} does not exist")]
    NotFound { what: &'static str, path: PathBuf },
    #[error("{what} {path} is a symbolic link that leads back to itself (a symlink loop)")]
    SymlinkLoop { what: &'static str, path: PathBuf },
    #[error("{what} {path} is {kind}, not a regular file")]
    NotRegular { what: &'static str, path: PathBuf, kind: &'static str },
    #[error("{what} {path} is {size} bytes; evhost reads at most {} for a {what}", limit_text(*limit))]
    TooLarge { what: &'static str, path: PathBuf, size: u64, limit: u64 },
    #[error("cannot read {what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

fn limit_text(limit: u64) -> String {
    match limit {
        l if l >= 1 << 30 && l % (1 << 30) == 0 => format!("{} GiB", l >> 30),
        l if l >= 1 << 20 && l % (1 << 20) == 0 => format!("{} MiB", l >> 20),
        l => format!("{l} bytes"),
    }
}

/// Opens `path` for reading when it is a regular file of at most `limit` bytes.
pub fn open_regular(what: &'static str, path: &Path, limit: u64) -> Result<File, FileError> {
    let io = |source: std::io::Error| {
        let path = path.to_path_buf();
        match source.kind() {
            std::io::ErrorKind::NotFound => FileError::NotFound { what, path },
            _ if source.raw_os_error() == Some(nix::libc::ELOOP) => FileError::SymlinkLoop { what, path },
            _ => FileError::Io { what, path, source },
        }
    };
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer before the type check
    // below could refuse it. It changes nothing for the regular files that pass.
    let file = File::options().read(true).custom_flags(nix::libc::O_NONBLOCK).open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let kind = meta.file_type();
    let refuse = |kind| Err(FileError::NotRegular { what, path: path.to_path_buf(), kind });
    if kind.is_dir() {
        return refuse("a directory");
    } else if kind.is_fifo() {
        return refuse("a FIFO (named pipe)");
    } else if kind.is_char_device() {
        return refuse("a character device");
    } else if kind.is_block_device() {
        return refuse("a block device");
    } else if kind.is_socket() {
        return refuse("a socket");
    } else if !kind.is_file() {
        return refuse("of an unknown type");
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge { what, path: path.to_path_buf(), size: meta.len(), limit });
    }
    Ok(file)
}

/// Reads a regular UTF-8 text file of at most `limit` bytes.
pub fn read_text(what: &'static str, path: &Path, limit: u64) -> Result<String, FileError> {
    let file = open_regular(what, path, limit)?;
    let mut text = String::new();
    // The file may grow after the size check: read one byte past the limit to notice.
    let read = file.take(limit + 1).read_to_string(&mut text);
    read.map_err(|source| FileError::Io { what, path: path.to_path_buf(), source })?;
    if text.len() as u64 > limit {
        return Err(FileError::TooLarge { what, path: path.to_path_buf(), size: text.len() as u64, limit });
    }
    Ok(text)
}
