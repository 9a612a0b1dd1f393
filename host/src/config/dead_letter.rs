//! Checks that a consumer's dead-letter file can be opened for writing, before anything
//! runs: a target that cannot take the failed events would turn every failure into a loss,
//! so `check` and startup refuse it instead. The check opens the file as delivery will
//! (append, create) and writes nothing; a file it had to create is removed again, so
//! `check` leaves no trace.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use super::InstanceConfig;
use crate::diagnostic::Diagnostic;

/// Refuses `entry`'s dead-letter file if it cannot be opened for appending.
pub fn check(entry: &InstanceConfig) -> Result<(), Diagnostic> {
    let Some(path) = &entry.delivery.dead_letter else { return Ok(()) };
    probe(path).map_err(|(reason, help)| {
        Diagnostic::new(format!(
            "consumer \"{}\" cannot write its dead-letter file {}: {reason}",
            entry.name,
            path.display()
        ))
        .at(entry.dead_letter_at.clone())
        .help(help)
    })
}

/// Opens `path` as the dead-letter writer will; on failure, the reason and the fix.
fn probe(path: &Path) -> Result<(), (String, String)> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err((
                "it is a directory".into(),
                format!("name a file in that folder instead, e.g. {}", path.join("dead-letters.jsonl").display()),
            ))
        }
        // A FIFO blocks the delivery thread until a reader comes; a socket cannot be opened.
        Ok(meta) if !(meta.is_file() || meta.file_type().is_char_device()) => {
            return Err((
                "it is not a regular file".into(),
                "name a regular file, e.g. dead_letter = \"dlq.jsonl\"".into(),
            ))
        }
        _ => {}
    }
    // create_new tells a file this check made (and must remove) from one that was there.
    let created = match OpenOptions::new().append(true).create_new(true).open(path) {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            OpenOptions::new().append(true).open(path).map_err(|e| explain(e, folder))?;
            false
        }
        Err(e) => return Err(explain(e, folder)),
    };
    if created {
        // Nothing was written; the writer creates the file again on the first dead letter.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// The OS's reason, and what to do about it.
fn explain(e: std::io::Error, folder: &Path) -> (String, String) {
    let help = match e.kind() {
        ErrorKind::NotADirectory => format!(
            "a part of {} is a file, not a folder; point `dead_letter` at a file in an existing folder",
            folder.display()
        ),
        ErrorKind::NotFound => format!(
            "create the folder {} first, or point `dead_letter` at a file in an existing folder",
            folder.display()
        ),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "point `dead_letter` at a file the host may write, e.g. one beside the config file".to_string()
        }
        _ => "point `dead_letter` at a file the host can create and append to".to_string(),
    };
    (e.to_string(), help)
}

#[cfg(test)]
mod tests {
    use super::probe;

    #[test]
    fn a_file_that_is_created_by_the_check_is_removed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dlq.jsonl");
        assert!(probe(&path).is_ok());
        assert!(!path.exists(), "the check left {} behind", path.display());
    }

    #[test]
    fn an_existing_file_is_kept_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dlq.jsonl");
        std::fs::write(&path, "{}\n").unwrap();
        assert!(probe(&path).is_ok());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
    }

    #[test]
    fn what_cannot_take_dead_letters_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let reason = |path: &std::path::Path| probe(path).unwrap_err().0;
        assert_eq!(reason(dir.path()), "it is a directory");
        assert!(reason(&dir.path().join("missing/dlq.jsonl")).contains("No such file or directory"));
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(reason(&fifo), "it is not a regular file");
        std::fs::write(dir.path().join("file"), "").unwrap();
        assert!(reason(&dir.path().join("file/dlq.jsonl")).contains("Not a directory"));
        assert!(probe(std::path::Path::new("/dev/full")).is_ok(), "a device that opens is for run time to judge");
    }
}
