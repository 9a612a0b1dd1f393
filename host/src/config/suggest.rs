//! "Did you mean" for unknown keys: the closest accepted key by edit distance.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edits from `a` to `b`: insertions, deletions, substitutions, and swaps of two adjacent
/// letters (optimal string alignment), so that a transposition such as `bacth` for `batch`
/// costs one edit, as a typist would count it, not two.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows: two back (for a swap), the one before, and the one being filled.
    let mut before_last: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let substitute = last[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            row[j] = substitute.min(last[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before_last[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before_last, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

/// Turns serde's "unknown field `x`, expected one of `a`, `b`" into a message and a fix.
pub fn unknown_field(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    Some(super::wording::unknown_key(field, &expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(closest("librari", ["name", "library", "plugin"]), Some("library"));
        assert_eq!(closest("zzzzzz", ["name", "library"]), None);
    }

    #[test]
    fn a_swap_of_two_letters_is_one_edit() {
        assert_eq!(edit_distance("bacth", "batch"), 1);
        assert_eq!(edit_distance("batch", "batch"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("bacth", ["batch", "policy", "retry"]), Some("batch"));
    }

    #[test]
    fn reads_serde_messages() {
        let (message, help) = unknown_field("unknown field `polcy`, expected one of `name`, `policy`").unwrap();
        assert_eq!(message, "unknown key `polcy`");
        assert_eq!(help, "did you mean `policy`?");
    }
}
