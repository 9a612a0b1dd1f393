//! The host's log on stderr, and the one rule for text that others put into it: control
//! characters are escaped (a newline becomes `\n`, ESC `\u{1b}`), so that neither a plugin
//! nor a client whose text a plugin logs (an event id, an S3 SubscribeURL) can forge a line
//! or drive the operator's terminal. The rule is applied to every field of every log line,
//! whoever wrote it, and to plugin text on its way into error messages
//! ([`crate::loader`] copies plugin strings through [`escape`]).
//!
//! `--log-format json` writes one JSON object per line instead (`timestamp`, `level`,
//! `message` and the event's fields, such as `instance`), for log shippers; JSON escapes
//! control characters itself. Only the two lines written when the process must end at once
//! (a crash, a second signal) stay plain text: they are written without the logger, which
//! may be the thing that hangs.

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::sync::OnceLock;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::debug_fn;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people: time, level, message, `key=value` fields.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

static FORMAT: OnceLock<Format> = OnceLock::new();

/// Logs to stderr at `level` and above, in `format`; `ansi` colours a text log's level for
/// a terminal.
pub fn init(level: tracing::Level, format: Format, ansi: bool) {
    let _ = FORMAT.set(format);
    let builder = tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).with_target(false);
    match format {
        Format::Json => builder.json().flatten_event(true).with_current_span(false).init(),
        Format::Text => {
            let fields = debug_fn(|writer, field, value| {
                let mut out = Escaping(writer);
                match field.name() {
                    "message" => write!(out, "{value:?}"),
                    name => write!(out, "{name}={value:?}"),
                }
            })
            .delimited(" ");
            builder.with_ansi(ansi).fmt_fields(fields).init()
        }
    }
}

/// The format `init` chose, as `--log-format` spells it: a worker process logs alike.
pub fn format_name() -> &'static str {
    match FORMAT.get() {
        Some(Format::Json) => "json",
        _ => "text",
    }
}

/// Writes an error that ends the process (a diagnostic, which may span lines) to stderr:
/// as it is in a text log, as one error line in a JSON log.
pub fn fatal(text: &str) {
    match FORMAT.get() {
        Some(Format::Json) => {
            let text = text.trim_end();
            tracing::error!("{}", text.strip_prefix("error: ").unwrap_or(text))
        }
        _ => eprint!("{text}"),
    }
}

/// `text` with every control character (C0, DEL, C1) escaped; borrowed when it has none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    // Writing into a String cannot fail.
    let _ = Escaping(&mut out).write_str(text);
    Cow::Owned(out)
}

/// A writer that passes text through with its control characters escaped.
struct Escaping<W>(W);

impl<W: Write> Write for Escaping<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(char::is_control) {
            self.0.write_str(&rest[..at])?;
            let control = rest[at..].chars().next().expect("find returned a char boundary");
            // `\n`, `\r`, `\t` as such; every other control character as `\u{..}`.
            write!(self.0, "{}", control.escape_default())?;
            rest = &rest[at + control.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\nERROR forged"), "a\\nERROR forged");
        assert_eq!(escape("\r\t\x1b[31m\x7f\u{85}\u{9b}"), "\\r\\t\\u{1b}[31m\\u{7f}\\u{85}\\u{9b}");
    }

    #[test]
    fn other_text_is_kept_as_is() {
        assert!(matches!(escape("héllo \\n 世界"), std::borrow::Cow::Borrowed("héllo \\n 世界")));
    }
}
