//! The `config` table, checked into `Settings`: the folder to watch and/or the address to
//! take S3 notifications on.

use std::io::ErrorKind;
use std::net::{TcpListener, ToSocketAddrs};
use std::path::PathBuf;

use evhost_http_serve::{count_key, duration_key, Limits};
use evhost_sdk::units::Duration;
use evhost_sdk::Error;
use globset::{GlobSet, GlobSetBuilder};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory mode: the folder to watch as a bucket.
    pub(crate) path: Option<String>,
    /// The bucket name in directory mode; the folder's name by default.
    bucket: Option<String>,
    /// Watch the folders below `path` too (default true).
    recursive: Option<bool>,
    /// Only keys matching one of these globs (all keys when empty).
    #[serde(default)]
    include: Vec<String>,
    /// Never keys matching one of these globs; wins over `include`.
    #[serde(default)]
    exclude: Vec<String>,
    /// Emit `created` for the objects already there at start (default false).
    initial_scan: Option<bool>,
    /// Follow symlinks that lead out of the folder (default false; see `directory`).
    follow_symlinks: Option<bool>,
    /// S3 mode: the address to accept S3 event notifications on, e.g. "127.0.0.1:9000".
    s3_listen: Option<String>,
    /// S3 mode: when set, requests must carry `Authorization: Bearer <token>` (or the bare
    /// token, as MinIO's `auth_token` sends it).
    s3_token: Option<String>,
    /// S3 mode: the limits of the endpoint, as the `http` producer's keys without `s3_`.
    s3_header_timeout: Option<Duration>,
    s3_body_timeout: Option<Duration>,
    s3_idle_timeout: Option<Duration>,
    s3_max_connections: Option<u64>,
}

/// The most `s3_max_connections` accepted: each is a file descriptor.
const MOST_CONNECTIONS: usize = 65536;

pub struct Settings {
    pub directory: Option<Directory>,
    pub s3: Option<S3>,
}

/// Directory mode, checked.
pub struct Directory {
    /// Canonical, so that it prefixes every path inotify reports.
    pub root: PathBuf,
    pub bucket: String,
    pub recursive: bool,
    pub filter: Filter,
    pub initial_scan: bool,
    /// Report files reached through symlinks that lead out of `root`.
    pub follow_symlinks: bool,
}

/// S3 mode: the bound listener, the token and the server's limits.
pub struct S3 {
    pub listener: TcpListener,
    pub token: Option<String>,
    pub limits: Limits,
}

/// `include` and `exclude`. Like .gitignore, a pattern with a `/` matches the whole key and
/// one without matches the file name in any folder: "*.tmp" excludes "a/b/c.tmp".
pub struct Filter {
    include: Option<(GlobSet, GlobSet)>,
    exclude: (GlobSet, GlobSet),
}

impl Filter {
    pub fn allows(&self, key: &str) -> bool {
        let name = key.rsplit('/').next().unwrap_or(key);
        let hit = |(by_key, by_name): &(GlobSet, GlobSet)| by_key.is_match(key) || by_name.is_match(name);
        self.include.as_ref().is_none_or(hit) && !hit(&self.exclude)
    }

    fn new(include: &[String], exclude: &[String]) -> Result<Filter, Error> {
        let include = if include.is_empty() { None } else { Some(sets("include", include)?) };
        Ok(Filter { include, exclude: sets("exclude", exclude)? })
    }
}

/// The patterns of `field` as (those with a `/`, those without).
fn sets(field: &str, patterns: &[String]) -> Result<(GlobSet, GlobSet), Error> {
    let (mut by_key, mut by_name) = (GlobSetBuilder::new(), GlobSetBuilder::new());
    for pattern in patterns {
        let glob = globset::GlobBuilder::new(pattern.trim_start_matches('/')).literal_separator(true).build().map_err(|e| {
            Error::config(format!("`{field}` pattern \"{pattern}\" is not a glob ({}); examples: \"*.jpg\", \"photos/**\", \"**/*.{{png,gif}}\"", e.kind()))
        })?;
        if pattern.contains('/') {
            by_key.add(glob)
        } else {
            by_name.add(glob)
        };
    }
    let build = |builder: GlobSetBuilder| builder.build().map_err(|e| Error::config(format!("`{field}`: {e}")));
    Ok((build(by_key)?, build(by_name)?))
}

impl Config {
    pub fn check(self) -> Result<Settings, Error> {
        if self.path.is_none() && self.s3_listen.is_none() {
            return Err(Error::config(
                "set `path` (a folder to watch as a bucket, e.g. path = \"./bucket\"), `s3_listen` (an address for S3 event notifications, e.g. s3_listen = \"127.0.0.1:9000\"), or both",
            ));
        }
        let directory = match self.path {
            Some(path) => {
                let mut directory =
                    directory(path, self.bucket, self.recursive, &self.include, &self.exclude, self.initial_scan)?;
                directory.follow_symlinks = self.follow_symlinks.unwrap_or(false);
                Some(directory)
            }
            None => {
                let stray = [
                    ("bucket", self.bucket.is_some()),
                    ("recursive", self.recursive.is_some()),
                    ("include", !self.include.is_empty()),
                    ("exclude", !self.exclude.is_empty()),
                    ("initial_scan", self.initial_scan.is_some()),
                    ("follow_symlinks", self.follow_symlinks.is_some()),
                ];
                if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
                    return Err(Error::config(format!(
                        "`{key}` applies to directory mode, which needs `path`; in S3 mode the bucket comes with each notification"
                    )));
                }
                None
            }
        };
        if self.s3_token.as_deref() == Some("") {
            return Err(Error::config(
                "`s3_token` must not be empty; leave it out to accept notifications without one",
            ));
        }
        let s3 = match self.s3_listen {
            Some(listen) => {
                let default = Limits::default();
                let limits = Limits {
                    header_timeout: duration_key(
                        "s3_header_timeout",
                        self.s3_header_timeout.as_ref(),
                        default.header_timeout,
                    )
                    .map_err(Error::config)?,
                    body_timeout: duration_key("s3_body_timeout", self.s3_body_timeout.as_ref(), default.body_timeout)
                        .map_err(Error::config)?,
                    idle_timeout: duration_key("s3_idle_timeout", self.s3_idle_timeout.as_ref(), default.idle_timeout)
                        .map_err(Error::config)?,
                    max_connections: count_key(
                        "s3_max_connections",
                        self.s3_max_connections,
                        default.max_connections,
                        MOST_CONNECTIONS,
                    )
                    .map_err(Error::config)?,
                    ..default
                };
                Some(S3 { listener: bind(&listen)?, token: self.s3_token, limits })
            }
            None => {
                let stray = [
                    ("s3_token", self.s3_token.is_some()),
                    ("s3_header_timeout", self.s3_header_timeout.is_some()),
                    ("s3_body_timeout", self.s3_body_timeout.is_some()),
                    ("s3_idle_timeout", self.s3_idle_timeout.is_some()),
                    ("s3_max_connections", self.s3_max_connections.is_some()),
                ];
                if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
                    return Err(Error::config(format!("`{key}` applies to S3 mode, which needs `s3_listen`")));
                }
                None
            }
        };
        Ok(Settings { directory, s3 })
    }
}

fn directory(
    path: String,
    bucket: Option<String>,
    recursive: Option<bool>,
    include: &[String],
    exclude: &[String],
    initial_scan: Option<bool>,
) -> Result<Directory, Error> {
    let root = match std::fs::canonicalize(&path) {
        Ok(root) => root,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::config(format!(
                "`path` {path} does not exist; create the folder first (mkdir -p {path}), or fix the path"
            )));
        }
        Err(e) => return Err(Error::config(format!("`path` {path}: {e}"))),
    };
    if !root.is_dir() {
        return Err(Error::config(format!("`path` {path} is a file; name the folder to watch as a bucket")));
    }
    let bucket = match bucket {
        Some(bucket) => bucket,
        None => root.file_name().and_then(|n| n.to_str()).map(str::to_owned).ok_or_else(|| {
            Error::config(format!("`path` {path} has no usable folder name to use as the bucket name; set `bucket`"))
        })?,
    };
    if bucket.is_empty() || bucket.contains('/') {
        return Err(Error::config(format!("`bucket` \"{bucket}\" must be non-empty and without '/'")));
    }
    Ok(Directory {
        root,
        bucket,
        recursive: recursive.unwrap_or(true),
        filter: Filter::new(include, exclude)?,
        initial_scan: initial_scan.unwrap_or(false),
        follow_symlinks: false,
    })
}

/// Binds `listen`, with a message that says what to do.
fn bind(listen: &str) -> Result<TcpListener, Error> {
    let not_an_address = || {
        Error::config(format!("`s3_listen` = {listen:?} is not an address; write host:port, e.g. \"127.0.0.1:9000\""))
    };
    let addresses: Vec<_> = listen.to_socket_addrs().map_err(|_| not_an_address())?.collect();
    if addresses.is_empty() {
        return Err(not_an_address());
    }
    TcpListener::bind(&addresses[..]).map_err(|e| {
        let fix = match e.kind() {
            ErrorKind::AddrInUse => "another process listens there: stop it, or choose another port in `s3_listen`",
            ErrorKind::PermissionDenied => {
                "ports below 1024 need privileges: choose a port from 1024 up in `s3_listen`"
            }
            _ => "check the address in `s3_listen`",
        };
        Error::config(format!("cannot listen on {listen}: {e}; {fix}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<Settings, String> {
        serde_json::from_str::<Config>(json).unwrap().check().map_err(|e| e.message().to_owned())
    }

    fn error(json: &str) -> String {
        check(json).err().expect("a config error")
    }

    #[test]
    fn filters_match_names_or_keys() {
        let filter = Filter::new(&["*.jpg".into(), "docs/**".into()], &["*.tmp.jpg".into()]).unwrap();
        assert!(filter.allows("a.jpg") && filter.allows("photos/2024/a.jpg") && filter.allows("docs/x/readme"));
        assert!(!filter.allows("a.png") && !filter.allows("photos/a.tmp.jpg") && !filter.allows("x/docs/readme"));
        assert!(Filter::new(&[], &[]).unwrap().allows("any/thing"));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(error("{}").contains("set `path`"));
        assert!(error(r#"{"path": "/no/such/folder"}"#).contains("does not exist"));
        assert!(error(r#"{"path": "/tmp", "include": ["[a"]}"#).contains("not a glob"));
        assert!(error(r#"{"s3_listen": "nowhere"}"#).contains("not an address"));
        assert!(error(r#"{"s3_listen": "127.0.0.1:0", "bucket": "b"}"#).contains("directory mode"));
        assert!(error(r#"{"s3_listen": "127.0.0.1:0", "s3_token": ""}"#).contains("must not be empty"));
        assert!(error(r#"{"path": ""}"#).contains("does not exist"), "an empty path is refused");
        assert!(error(r#"{"s3_listen": "127.0.0.1:0", "follow_symlinks": true}"#)
            .contains("`follow_symlinks` applies to directory mode"));
        assert!(error(r#"{"path": "/tmp", "s3_idle_timeout": "1s"}"#).contains("`s3_idle_timeout` applies to S3 mode"));
        assert!(error(r#"{"s3_listen": "127.0.0.1:0", "s3_body_timeout": "soon"}"#)
            .contains("`s3_body_timeout` = \"soon\""));
        assert!(error(r#"{"s3_listen": "127.0.0.1:0", "s3_max_connections": 0}"#).contains("between 1 and"));
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let listen = taken.local_addr().unwrap().to_string();
        assert!(error(&format!(r#"{{"s3_listen": "{listen}"}}"#)).contains("another process"));
    }

    #[test]
    fn the_bucket_defaults_to_the_folder_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("photos")).unwrap();
        let path = dir.path().join("photos").display().to_string();
        let settings = check(&format!(r#"{{"path": "{path}"}}"#)).unwrap();
        let directory = settings.directory.unwrap();
        assert_eq!(directory.bucket, "photos");
        assert!(directory.recursive && !directory.initial_scan);
    }
}
