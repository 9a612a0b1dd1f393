//! The kit's table: one section per plugin, one row per check; under a failure what the
//! plugin did, what the ABI says and how to fix it; a count at the end.

use std::fmt::Write;

use super::catalog;
use super::{Row, Status};

/// The rows of the library or of one plugin.
pub struct Section {
    pub title: String,
    pub rows: Vec<Row>,
}

pub fn render(library: &str, sections: &[Section]) -> String {
    let mut out = format!("evhost test-plugin {library}\n");
    let width = sections.iter().flat_map(|s| &s.rows).map(|r| catalog::spec(&r.check).title.len()).max().unwrap_or(0);
    let mut counts = [0usize; 4];
    for section in sections {
        let _ = writeln!(out, "\n{}", section.title);
        for row in &section.rows {
            let spec = catalog::spec(&row.check);
            let (word, index) = match row.status {
                Status::Pass => ("pass", 0),
                Status::Warn => ("warn", 1),
                Status::Skip => ("skip", 2),
                Status::Fail => ("FAIL", 3),
            };
            counts[index] += 1;
            let note = row.note.as_deref().unwrap_or("");
            let (abi, fix) = match row.hook.as_deref().and_then(catalog::hook) {
                Some(hook) => (hook.abi, hook.fix),
                None => (spec.abi, spec.fix),
            };
            match row.status {
                Status::Fail => {
                    let _ = writeln!(out, "  {word}  {}", spec.title);
                    let _ = writeln!(out, "        did: {note}");
                    let _ = writeln!(out, "        ABI: {abi}");
                    let _ = writeln!(out, "        fix: {fix}");
                }
                Status::Warn => {
                    let _ = writeln!(out, "  {word}  {}", spec.title);
                    let _ = writeln!(out, "        did: {note}");
                    let _ = writeln!(out, "        fix: {fix}");
                }
                _ if note.is_empty() => {
                    let _ = writeln!(out, "  {word}  {}", spec.title);
                }
                _ => {
                    let _ = writeln!(out, "  {word}  {:width$}  {note}", spec.title);
                }
            }
        }
    }
    let [passed, warned, skipped, failed] = counts;
    let total = passed + warned + skipped + failed;
    let _ = writeln!(
        out,
        "\n{total} check{}: {passed} passed, {failed} failed, {warned} warning{}, {skipped} skipped",
        if total == 1 { "" } else { "s" },
        if warned == 1 { "" } else { "s" }
    );
    out
}
