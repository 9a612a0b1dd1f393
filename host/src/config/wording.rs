//! One wording for a config mistake, whoever finds it: the host in its own keys, or a plugin
//! through the config accessors (`evh_host_api.config_*`). A mistake is a message that names
//! the key and a help that says how to fix it; where only one line fits (a plugin's
//! `set_error` message) the two are joined with "; ".
//!
//! - unknown: "unknown key `polcy`" / "did you mean `policy`?"
//! - missing: "missing key `count`" / "add `count = 1` to this table"
//! - wrong:   "`count` = \"ten\" is a string" / "write an integer, e.g. count = 1"

use super::suggest::closest;

/// A key that is not accepted here, with the closest accepted one or the list.
pub fn unknown_key(key: &str, accepted: &[&str]) -> (String, String) {
    // Suggest from the last segment: in `tls.ca_fle`, `ca_fle` is what was misspelt.
    let leaf = key.rsplit('.').next().unwrap_or(key);
    let help = match closest(leaf, accepted.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None if accepted.is_empty() => "remove it".to_string(),
        None => format!("remove it; the keys accepted here are {}", accepted.join(", ")),
    };
    (format!("unknown key `{key}`"), help)
}

/// A required key that is absent; `example` is a whole TOML line such as `count = 1`.
pub fn missing_key(key: &str, example: &str, table: &str) -> (String, String) {
    (format!("missing key `{key}`"), format!("add `{example}` to {table}"))
}

/// A value of the wrong type or out of range: `` `key` = written `` (or only `` `key` `` when
/// the value is too long to echo, an array or a table), what is wrong with it, and the fix.
pub fn wrong_value(key: &str, written: Option<&str>, problem: &str, fix: &str) -> (String, String) {
    let message = match written {
        Some(written) => format!("`{key}` = {written} {problem}"),
        None => format!("`{key}` {problem}"),
    };
    (message, fix.to_string())
}

/// The message and its help as one line, for a plugin's `set_error`.
pub fn one_line((message, help): (String, String)) -> String {
    format!("{message}; {help}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_suggest_from_their_last_segment() {
        assert_eq!(
            one_line(unknown_key("tls.ca_fle", &["ca_file", "verify"])),
            "unknown key `tls.ca_fle`; did you mean `ca_file`?"
        );
        assert_eq!(
            one_line(unknown_key("zzz", &["ca_file", "verify"])),
            "unknown key `zzz`; remove it; the keys accepted here are ca_file, verify"
        );
        assert_eq!(one_line(unknown_key("zzz", &[])), "unknown key `zzz`; remove it");
    }
}
