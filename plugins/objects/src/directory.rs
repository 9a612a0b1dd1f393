//! Directory mode: a folder watched with inotify (through `notify`) as a bucket.
//!
//! A file is reported when a writer closes it after writing (`IN_CLOSE_WRITE`) or when it
//! is moved into the tree, never at its first byte; `created` or `updated` depends on
//! whether its key was known, and a close that changed nothing (same size and MD5) is no
//! event. Deletions and moves out of the tree are `deleted`. When the kernel's queue
//! overflowed, the tree is scanned again and compared with what was known.
//!
//! Symlinks are not followed unless `follow_symlinks = true`: a link to a folder or file
//! outside the root would report what the operator never put in the bucket (names, sizes,
//! MD5s of files elsewhere). Links that stay inside the root are not followed either: what
//! they point at is in the tree already and reported under its own key. Without the key, a
//! file is reported only when its real path (every link resolved) is inside the root.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use evhost_sdk::{Context, EmitError, Emitter, Error};
use md5::{Digest, Md5};
use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher};

use crate::config::Directory;
use crate::object::{Change, ObjectEvent};

/// What `run` waits for: a change from inotify, or the host's stop.
pub enum Message {
    Fs(notify::Result<notify::Event>),
    Stop,
    /// Time to report the files of new folders that no event claimed (see `pending`).
    Settle,
}

/// Events per `emit` call when many are ready at once (an initial scan, a burst).
const BATCH: usize = 256;

/// What is known of one object.
struct Known {
    size: u64,
    mtime: SystemTime,
    /// `None` until the content was read (objects found at start without `initial_scan`).
    etag: Option<String>,
    /// The `version` of its last event, to keep ids unique when mtimes repeat.
    version: i128,
}

struct Bucket<'a> {
    settings: &'a Directory,
    ctx: &'a Context,
    known: HashMap<String, Known>,
    /// Files found in a folder just made, and when. inotify watches a new folder only
    /// after it was made, so a file written into it at once may bring no close event: it
    /// is reported after `SETTLE` unless an event shows the watch saw it (then its close
    /// event reports it, and a file still being written is not reported early).
    pending: HashMap<PathBuf, Instant>,
}

/// How long a file found in a new folder waits for a sign that inotify saw it.
const SETTLE: Duration = Duration::from_millis(300);

/// Watches until `Message::Stop` arrives. `sender` feeds `receiver`; the watcher gets a
/// clone, so the channel lives as long as the watch.
pub fn run(
    settings: &Directory,
    ctx: &Context,
    emitter: &mut Emitter,
    sender: Sender<Message>,
    receiver: &Receiver<Message>,
) -> Result<(), Error> {
    let handler = move |event| {
        let _ = sender.send(Message::Fs(event));
    };
    // notify follows links into the folders they name unless told not to.
    let config = notify::Config::default().with_follow_symlinks(settings.follow_symlinks);
    let mut watcher = notify::RecommendedWatcher::new(handler, config)
        .map_err(|e| Error::new(format!("cannot start watching: {e}")))?;
    let mode = if settings.recursive { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
    // Watch first, then scan: a change during the scan is seen twice at worst, never lost.
    watcher
        .watch(&settings.root, mode)
        .map_err(|e| Error::new(format!("cannot watch {}: {e}", settings.root.display())))?;
    let mut bucket = Bucket { settings, ctx, known: HashMap::new(), pending: HashMap::new() };
    let existing = bucket.scan_at_start();
    if !send(emitter, &existing)? {
        return Ok(());
    }
    ctx.info(format!(
        "watching {} as bucket {} ({} objects there{})",
        settings.root.display(),
        settings.bucket,
        bucket.known.len(),
        if settings.initial_scan { ", reported" } else { "" }
    ));
    let mut changes = Vec::new();
    loop {
        let first = match bucket.pending.values().min() {
            None => receiver.recv().ok(),
            Some(oldest) => match receiver.recv_timeout((*oldest + SETTLE).saturating_duration_since(Instant::now())) {
                Err(RecvTimeoutError::Disconnected) => None,
                Err(RecvTimeoutError::Timeout) => Some(Message::Settle),
                Ok(message) => Some(message),
            },
        };
        let Some(first) = first else { return Ok(()) };
        let mut stop = false;
        for message in std::iter::once(first).chain(receiver.try_iter().take(BATCH)) {
            match message {
                Message::Fs(Ok(event)) => bucket.handle(event, &mut changes),
                Message::Fs(Err(e)) => ctx.warn(format!("watching {}: {e}", settings.root.display())),
                Message::Stop => stop = true,
                Message::Settle => {}
            }
        }
        bucket.settle(&mut changes);
        if stop || !send(emitter, &changes)? {
            return Ok(());
        }
        changes.clear();
    }
}

/// Emits `changes` in batches; `false` when the host is stopping.
fn send(emitter: &mut Emitter, changes: &[ObjectEvent]) -> Result<bool, Error> {
    for chunk in changes.chunks(BATCH) {
        let events: Vec<_> = chunk.iter().map(ObjectEvent::to_event).collect();
        match emitter.emit(&events) {
            Ok(()) => {}
            Err(EmitError::Stopped) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

impl Bucket<'_> {
    fn handle(&mut self, event: notify::Event, out: &mut Vec<ObjectEvent>) {
        if event.need_rescan() {
            self.ctx.warn("the kernel dropped file events (queue overflow); scanning the folder again");
            return self.rescan(out);
        }
        for path in &event.paths {
            self.pending.remove(path);
            match event.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => self.written(path, out),
                EventKind::Create(CreateKind::Folder) => self.made(path),
                EventKind::Modify(ModifyKind::Name(RenameMode::To)) => self.arrived(path, out),
                EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => self.gone(path, out),
                _ => {}
            }
        }
    }

    /// The key of `path`: relative to the root, `/`-separated; `None` outside the tree, for
    /// names that are not UTF-8, and below the top folder when not recursive.
    fn key(&self, path: &Path) -> Option<String> {
        let relative = path.strip_prefix(&self.settings.root).ok()?;
        let parts: Option<Vec<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
        let key = parts?.join("/");
        (self.settings.recursive || !key.contains('/')).then_some(key)
    }

    /// A file written and closed.
    fn written(&mut self, path: &Path, out: &mut Vec<ObjectEvent>) {
        if let Some(key) = self.key(path).filter(|k| !k.is_empty()) {
            self.upsert(path, key, out);
        }
    }

    /// A folder made: its files wait in `pending` (see there).
    fn made(&mut self, path: &Path) {
        if self.settings.recursive {
            let now = Instant::now();
            for file in self.walk(path) {
                self.pending.insert(file, now);
            }
        }
    }

    /// Reports the pending files no event claimed within `SETTLE`.
    fn settle(&mut self, out: &mut Vec<ObjectEvent>) {
        let now = Instant::now();
        let due: Vec<PathBuf> =
            self.pending.iter().filter(|(_, since)| now >= **since + SETTLE).map(|(path, _)| path.clone()).collect();
        for path in due {
            self.pending.remove(&path);
            if let Some(key) = self.key(&path).filter(|k| !self.known.contains_key(k)) {
                self.upsert(&path, key, out);
            }
        }
    }

    /// A file or folder moved in: every file in it.
    fn arrived(&mut self, path: &Path, out: &mut Vec<ObjectEvent>) {
        let Some(key) = self.key(path).filter(|k| !k.is_empty()) else { return };
        match self.metadata(path) {
            Ok(meta) if meta.is_dir() => {
                if self.settings.recursive {
                    for file in self.walk(path) {
                        if let Some(key) = self.key(&file) {
                            self.upsert(&file, key, out);
                        }
                    }
                }
            }
            Ok(_) => self.upsert(path, key, out),
            Err(_) => {}
        }
    }

    /// A file or folder removed or moved out: every object at or below its key.
    fn gone(&mut self, path: &Path, out: &mut Vec<ObjectEvent>) {
        let Some(key) = self.key(path) else { return };
        if key.is_empty() {
            self.ctx.error(format!(
                "the bucket folder {} was removed or moved away; no more events from it",
                self.settings.root.display()
            ));
            return;
        }
        let mut gone: Vec<String> = if self.known.contains_key(&key) {
            vec![key]
        } else {
            let prefix = format!("{key}/");
            self.known.keys().filter(|k| k.starts_with(&prefix)).cloned().collect()
        };
        gone.sort();
        for key in gone {
            self.deleted(key, out);
        }
    }

    fn deleted(&mut self, key: String, out: &mut Vec<ObjectEvent>) {
        let Some(known) = self.known.remove(&key) else { return };
        let now = SystemTime::now();
        out.push(self.event(Change::Deleted, key, 0, None, unique(nanos(now), known.version), now));
    }

    /// Reads the file at `path` and reports it as created, or updated when its key is known
    /// and its content changed.
    fn upsert(&mut self, path: &Path, key: String, out: &mut Vec<ObjectEvent>) {
        if !self.settings.filter.allows(&key) {
            return;
        }
        let read = self.object(path).and_then(|meta| match meta {
            Some(meta) => Ok(Some((md5_hex(path)?, meta))),
            None => Ok(None),
        });
        let (etag, meta) = match read {
            Ok(Some(found)) => found,
            Ok(None) => return,
            // Gone again already: its removal follows.
            Err(e) if e.kind() == ErrorKind::NotFound => return,
            Err(e) => {
                self.ctx.warn(format!("cannot read {}: {e}", path.display()));
                return;
            }
        };
        let mtime = meta.modified().unwrap_or_else(|_| SystemTime::now());
        let (change, version) = match self.known.get(&key) {
            None => (Change::Created, nanos(mtime)),
            Some(known) if known.size == meta.len() && known.etag.as_deref() == Some(etag.as_str()) => return,
            Some(known) => (Change::Updated, unique(nanos(mtime), known.version)),
        };
        self.known.insert(key.clone(), Known { size: meta.len(), mtime, etag: Some(etag.clone()), version });
        out.push(self.event(change, key, meta.len(), Some(etag), version, mtime));
    }

    fn event(
        &self,
        change: Change,
        key: String,
        size: u64,
        etag: Option<String>,
        version: i128,
        time: SystemTime,
    ) -> ObjectEvent {
        ObjectEvent {
            change,
            bucket: self.settings.bucket.clone(),
            key,
            size,
            etag,
            version: version.to_string(),
            time: DateTime::<Utc>::from(time),
        }
    }

    /// Learns the objects already there; with `initial_scan`, reads them and returns a
    /// `created` for each, in key order.
    fn scan_at_start(&mut self) -> Vec<ObjectEvent> {
        let mut out = Vec::new();
        for (path, key) in self.files() {
            if self.settings.initial_scan {
                self.upsert(&path, key, &mut out);
            } else if let Ok(Some(meta)) = self.object(&path) {
                let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                self.known.insert(key, Known { size: meta.len(), mtime, etag: None, version: nanos(mtime) });
            }
        }
        out
    }

    /// After lost events: what is new or changed (by size or mtime) and what is gone.
    fn rescan(&mut self, out: &mut Vec<ObjectEvent>) {
        let mut seen = std::collections::HashSet::new();
        for (path, key) in self.files() {
            seen.insert(key.clone());
            let Ok(Some(meta)) = self.object(&path) else { continue };
            let unchanged =
                self.known.get(&key).is_some_and(|k| k.size == meta.len() && meta.modified().ok() == Some(k.mtime));
            if !unchanged {
                self.upsert(&path, key, out);
            }
        }
        let mut gone: Vec<String> = self.known.keys().filter(|k| !seen.contains(*k)).cloned().collect();
        gone.sort();
        for key in gone {
            self.deleted(key, out);
        }
    }

    /// Every allowed file of the tree with its key, in key order.
    fn files(&self) -> Vec<(PathBuf, String)> {
        let mut files: Vec<(PathBuf, String)> = self
            .walk(&self.settings.root)
            .into_iter()
            .filter_map(|path| {
                let key = self.key(&path)?;
                self.settings.filter.allows(&key).then_some((path, key))
            })
            .collect();
        files.sort_by(|a, b| a.1.cmp(&b.1));
        files
    }

    /// What `path` is: the link itself, or what it leads to with `follow_symlinks`.
    fn metadata(&self, path: &Path) -> io::Result<fs::Metadata> {
        if self.settings.follow_symlinks {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        }
    }

    /// The metadata of the regular file at `path`, when it is one to report: not a link
    /// (unless `follow_symlinks`), and, unless `follow_symlinks`, really inside the root (a
    /// path can lead out through a linked folder above the file, which notify may still
    /// report while it watched through it).
    fn object(&self, path: &Path) -> io::Result<Option<fs::Metadata>> {
        let meta = self.metadata(path)?;
        if !meta.is_file() {
            return Ok(None);
        }
        if !self.settings.follow_symlinks && !fs::canonicalize(path)?.starts_with(&self.settings.root) {
            return Ok(None);
        }
        Ok(Some(meta))
    }

    /// The regular files in `dir` (and below, when recursive). Links are followed only with
    /// `follow_symlinks`, then each folder once, so that a link loop ends.
    fn walk(&self, dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut folders = vec![dir.to_path_buf()];
        let mut seen = std::collections::HashSet::new();
        while let Some(folder) = folders.pop() {
            if self.settings.follow_symlinks && !fs::canonicalize(&folder).is_ok_and(|real| seen.insert(real)) {
                continue;
            }
            let entries = match fs::read_dir(&folder) {
                Ok(entries) => entries,
                Err(e) => {
                    self.ctx.warn(format!("cannot list {}: {e}", folder.display()));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let kind = match entry.file_type() {
                    Ok(t) if t.is_symlink() && self.settings.follow_symlinks => {
                        fs::metadata(entry.path()).map(|m| m.file_type())
                    }
                    other => other,
                };
                match kind {
                    Ok(t) if t.is_file() => files.push(entry.path()),
                    Ok(t) if t.is_dir() && self.settings.recursive => folders.push(entry.path()),
                    _ => {}
                }
            }
        }
        files
    }
}

/// `candidate`, or one more than `previous` when it would not be later.
fn unique(candidate: i128, previous: i128) -> i128 {
    candidate.max(previous + 1)
}

fn nanos(t: SystemTime) -> i128 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// The content's MD5 in lowercase hex: the ETag S3 gives a single-part upload.
fn md5_hex(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
