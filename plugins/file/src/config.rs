//! The `config` table: `path`, `rotate_bytes`, `keep`, `fsync`, checked into a `Target`.

use std::path::PathBuf;

use evhost_sdk::units::Size;
use evhost_sdk::Error;
use serde::Deserialize;

/// Rotated files kept by default: `events.jsonl.1` … `events.jsonl.5`.
const DEFAULT_KEEP: u32 = 5;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file to append to (relative to the config file's folder), or `-` for stdout.
    pub(crate) path: Option<String>,
    /// Rotate before a line would take the file past this size: bytes, or "64MiB".
    rotate_bytes: Option<Size>,
    /// How many rotated files to keep.
    keep: Option<u32>,
    /// "never" (default) or "batch".
    fsync: Option<String>,
}

/// Where lines go.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File { path: PathBuf, rotate_bytes: Option<u64>, keep: u32, fsync: bool },
}

impl Config {
    pub fn check(self) -> Result<Target, Error> {
        let path = match self.path.as_deref() {
            None | Some("") => {
                return Err(Error::config("`path` is required: the file to write JSON Lines to, or \"-\" for stdout (e.g. path = \"events.jsonl\")"))
            }
            Some(path) => path,
        };
        let fsync = match self.fsync.as_deref() {
            None | Some("never") => false,
            Some("batch") => true,
            Some(other) => {
                return Err(Error::config(format!(
                    "`fsync` is \"{other}\"; use \"never\" (the default) or \"batch\" (fsync after each batch)"
                )))
            }
        };
        let rotate_bytes = self
            .rotate_bytes
            .as_ref()
            .map(Size::bytes)
            .transpose()
            .map_err(|e| Error::config(e.for_key("rotate_bytes")))?;
        if rotate_bytes == Some(0) {
            return Err(Error::config("`rotate_bytes` must be above 0; leave it out to never rotate"));
        }
        if path == "-" {
            if rotate_bytes.is_some() || self.keep.is_some() || fsync {
                return Err(Error::config(
                    "`rotate_bytes`, `keep` and `fsync` apply to files, not to stdout (path = \"-\")",
                ));
            }
            return Ok(Target::Stdout);
        }
        if self.keep.is_some() && rotate_bytes.is_none() {
            return Err(Error::config("`keep` needs `rotate_bytes`: without it the file is never rotated"));
        }
        let path = PathBuf::from(path);
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(parent) = parent {
            if !parent.is_dir() {
                return Err(Error::config(format!(
                    "`path` {} is in the folder {}, which does not exist; create it first",
                    path.display(),
                    parent.display()
                )));
            }
        }
        if path.is_dir() {
            return Err(Error::config(format!("`path` {} is a folder; name a file in it", path.display())));
        }
        Ok(Target::File { path, rotate_bytes, keep: self.keep.unwrap_or(DEFAULT_KEEP), fsync })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<Target, String> {
        serde_json::from_str::<Config>(json).unwrap().check().map_err(|e| e.message().to_owned())
    }

    #[test]
    fn sizes() {
        let target = check(r#"{"path": "e.jsonl", "rotate_bytes": "2MiB", "keep": 2}"#).unwrap();
        assert_eq!(target, Target::File { path: "e.jsonl".into(), rotate_bytes: Some(2 << 20), keep: 2, fsync: false });
        assert!(check(r#"{"path": "e.jsonl", "rotate_bytes": 1000}"#).is_ok());
        assert!(check(r#"{"path": "e.jsonl", "rotate_bytes": "2 parsecs"}"#).unwrap_err().contains("no known unit"));
        assert!(check(r#"{"path": "e.jsonl", "rotate_bytes": "big"}"#).unwrap_err().contains("not a size"));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(check("{}").unwrap_err().contains("`path` is required"));
        assert!(check(r#"{"path": "e.jsonl", "fsync": "always"}"#).unwrap_err().contains("\"always\""));
        assert!(check(r#"{"path": "no/such/folder/e.jsonl"}"#).unwrap_err().contains("does not exist"));
        assert!(check(r#"{"path": "-", "fsync": "batch"}"#).unwrap_err().contains("stdout"));
        assert_eq!(check(r#"{"path": "-"}"#).unwrap(), Target::Stdout);
    }
}
