//! Errors a person has to act on: what went wrong, where (file, line, column, with the line
//! itself), and how to fix it. Config, load and create errors all end up here so they read
//! alike.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// `n` of `what`, plural when it is not one: "1 event", "2 events".
pub fn counted(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A config file's text, kept to point into it.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// A byte range in a config file.
#[derive(Debug, Clone)]
pub struct Location {
    pub file: Arc<SourceFile>,
    pub span: Range<usize>,
}

/// An error with an optional location and an optional fix.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub location: Option<Location>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic { message: message.into(), location: None, help: None }
    }

    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl Location {
    /// 1-based line and column of the span's start (column in characters).
    pub fn line_col(&self) -> (usize, usize) {
        let start = self.span.start.min(self.file.text.len());
        let before = &self.file.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let mut gutter = " ".to_string();
        if let Some(location) = &self.location {
            let (line, column) = location.line_col();
            gutter = " ".repeat(line.to_string().len());
            writeln!(f, "{gutter}--> {}:{line}:{column}", location.file.path.display())?;
            let text = location.file.text.lines().nth(line - 1).unwrap_or("");
            let width =
                location.file.text[location.span.clone()].lines().next().map_or(1, |s| s.chars().count().max(1));
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{line} | {text}")?;
            writeln!(f, "{gutter} | {}{}", " ".repeat(column - 1), "^".repeat(width))?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}
