//! The host's log on stderr, and the one rule for text that others put into it: control
//! characters are escaped (a newline becomes `\n`, ESC `\u{1b}`), so that neither a plugin
//! nor a client whose text a plugin logs (an event id, an S3 SubscribeURL) can forge a line
//! or drive the operator's terminal. The rule is applied to every field of every log line,
//! whoever wrote it, and to plugin text on its way into error messages
//! ([`crate::loader`] copies plugin strings through [`escape`]).

use std::borrow::Cow;
use std::fmt::{self, Write};

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::debug_fn;

/// Logs to stderr at `level` and above; `ansi` colours the level for a terminal.
pub fn init(level: tracing::Level, ansi: bool) {
    let fields = debug_fn(|writer, field, value| {
        let mut out = Escaping(writer);
        match field.name() {
            "message" => write!(out, "{value:?}"),
            name => write!(out, "{name}={value:?}"),
        }
    })
    .delimited(" ");
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .fmt_fields(fields)
        .init();
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
