//! `evhost new`: a small plugin project in C, Rust or Go, outside this repository, that
//! builds into a plugin library with `make`, passes `evhost test-plugin` with `make test`
//! and runs under its `evhost.toml`. The templates are files in `templates/`, embedded in
//! the binary; `{{name}}`-style holes are filled in when they are written.
//!
//! The project points back at this checkout: C gets a copy of the header, Rust depends on
//! the SDK by path (git documented as the alternative), Go replaces the SDK's module with
//! its folder, and `evhost.toml` takes the first-party plugins from where `make build` put
//! them.

use std::path::{Path, PathBuf};

use crate::config::Kind;

/// The languages `evhost new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    C,
    Rust,
    Go,
}

pub struct Options {
    pub language: Language,
    pub name: String,
    pub kind: Kind,
    /// Where to write it; `./NAME` when absent.
    pub dir: Option<PathBuf>,
}

/// Why a project could not be written. Each variant's `help` says how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NewError {
    #[error("\"{name}\" cannot name a plugin: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("{} already exists and is not an empty folder", dir.display())]
    NotEmpty { dir: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl NewError {
    pub fn help(&self) -> String {
        match self {
            NewError::BadName { .. } => {
                "start with a lowercase letter, then lowercase letters, digits, '-' or '_' (at most 64), e.g. orders-audit".into()
            }
            NewError::NotEmpty { .. } => "name a new or empty folder as DIR, or move the old one away".into(),
            NewError::Io { .. } => "check that this user can create and write the folder".into(),
        }
    }
}

/// The repository this binary was built from: the SDKs and the plugins live there.
fn checkout() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// Where `make build` put the first-party plugins: beside the binary (target/release/..
/// /plugins), or this checkout's target/plugins.
fn plugins_dir() -> PathBuf {
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.join("plugins")));
    match beside.and_then(|dir| dir.canonicalize().ok()) {
        Some(dir) if dir.join("libevh_file.so").is_file() => dir,
        _ => checkout().join("target/plugins"),
    }
}

pub fn check_name(name: &str) -> Result<(), NewError> {
    let bad = |reason| Err(NewError::BadName { name: name.to_string(), reason });
    match name.chars().next() {
        None => bad("it is empty"),
        Some(first) if !first.is_ascii_lowercase() => bad("it does not start with a lowercase letter"),
        _ if name.len() > 64 => bad("it is longer than 64 characters"),
        _ if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') => {
            bad("it has characters other than lowercase letters, digits, '-' and '_'")
        }
        _ => Ok(()),
    }
}

/// The files of a project, by path inside it, with their holes unfilled.
fn files(language: Language, kind: Kind) -> Vec<(&'static str, &'static str)> {
    let producer = kind == Kind::Producer;
    let pick = |consumer, producer_text| if producer { producer_text } else { consumer };
    let toml = pick(include_str!("templates/consumer.toml"), include_str!("templates/producer.toml"));
    let mut files = vec![("evhost.toml", toml), ("README.md", include_str!("templates/README.md"))];
    files.extend(match language {
        Language::C => vec![
            ("Makefile", include_str!("templates/c/Makefile")),
            ("plugin.c", pick(include_str!("templates/c/consumer.c"), include_str!("templates/c/producer.c"))),
            ("evhost.h", include_str!("../../../include/evhost.h")),
            (".gitignore", "*.so\n"),
        ],
        Language::Rust => vec![
            ("Makefile", include_str!("templates/rust/Makefile")),
            ("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
            (
                "src/lib.rs",
                pick(include_str!("templates/rust/consumer.rs"), include_str!("templates/rust/producer.rs")),
            ),
            (".gitignore", "/target\n*.so\n"),
        ],
        Language::Go => vec![
            ("Makefile", include_str!("templates/go/Makefile")),
            ("go.mod", include_str!("templates/go/go.mod")),
            ("main.go", pick(include_str!("templates/go/consumer.go"), include_str!("templates/go/producer.go"))),
            (".gitignore", "*.so\n"),
        ],
    });
    files
}

/// Writes the project; answers its folder.
pub fn new(options: &Options) -> Result<PathBuf, NewError> {
    check_name(&options.name)?;
    let dir = options.dir.clone().unwrap_or_else(|| PathBuf::from(&options.name));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NewError::Io { path, source }
    };
    if dir.exists() {
        let empty = dir.is_dir() && std::fs::read_dir(&dir).map_err(io(&dir))?.next().is_none();
        if !empty {
            return Err(NewError::NotEmpty { dir });
        }
    }
    let name = options.name.as_str();
    let lib = name.replace('-', "_");
    let (kind, language) = match (options.kind, options.language) {
        (kind, Language::C) => (kind.as_str(), "C"),
        (kind, Language::Rust) => (kind.as_str(), "Rust"),
        (kind, Language::Go) => (kind.as_str(), "Go"),
    };
    let test_config = match options.kind {
        Kind::Consumer => format!(r#"{{"prefix": "{name}"}}"#),
        Kind::Producer => r#"{"count": 100000, "interval": "0s"}"#.to_string(),
    };
    let about = match options.kind {
        Kind::Consumer => "It prints one line per event; `evhost.toml` feeds it 10 events from the example `sequence` producer. Its config takes `prefix`.",
        Kind::Producer => "It emits `count` events, one every `interval`; `evhost.toml` writes them to `events.jsonl` with the `file` consumer. `make test` runs it without the wait, to meet a full log.",
    };
    let holes = [
        ("{{name}}", name.to_string()),
        ("{{lib}}", lib),
        ("{{kind}}", kind.to_string()),
        ("{{language}}", language.to_string()),
        ("{{about}}", about.to_string()),
        ("{{test_config}}", test_config),
        ("{{sdk_rust}}", checkout().join("plugins/sdk-rust").display().to_string()),
        ("{{sdk_go}}", checkout().join("plugins/sdk-go").display().to_string()),
        ("{{plugins}}", plugins_dir().display().to_string()),
    ];
    for (path, template) in files(options.language, options.kind) {
        let text = holes.iter().fold(template.to_string(), |text, (hole, value)| text.replace(hole, value));
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_are_lowercase_words_with_dashes_or_underscores() {
        for good in ["a", "orders-audit", "s3_sink", "x9"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Orders", "9lives", "-x", "a b", "a.b", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
