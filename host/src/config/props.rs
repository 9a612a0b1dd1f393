//! Property tests of the config parser and its diagnostics (the `config` fuzz target; see
//! docs/fuzzing.md): no text makes `parse` or the rendering of its error panic; every error
//! points inside the text, on character boundaries, and says how to fix it; a valid config
//! is taken, and one mutation of it (a key renamed, a value of the wrong type, a value out
//! of range) gives an error on that key's line. The committed corpus in
//! `host/fuzz-corpus/config/` is replayed on every run.

use proptest::prelude::*;

use super::*;

fn parse_text(text: &str) -> Result<Config, Diagnostic> {
    parse(Path::new("evhost.toml"), text.to_owned())
}

/// Errors about the whole file rather than a place in it.
const FILE_LEVEL: [&str; 1] = ["declares no plugins"];

/// What every error must be: located inside the text, unless it is about the whole file,
/// with a fix; and rendered without panicking.
fn assert_diagnostic(error: &Diagnostic, text: &str) {
    assert!(!error.message.is_empty());
    assert!(error.help.as_deref().is_some_and(|h| !h.trim().is_empty()), "no help in {error:?}");
    let rendered = error.to_string();
    assert!(rendered.contains("= help: "), "{rendered}");
    match &error.location {
        Some(location) => {
            let span = &location.span;
            assert_eq!(location.file.text, text);
            assert!(
                span.start <= span.end && span.end <= text.len(),
                "span {span:?} of {} bytes: {error:?}",
                text.len()
            );
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "span {span:?}: {error:?}");
            let (line, column) = location.line_col();
            assert!(rendered.contains(&format!("evhost.toml:{line}:{column}")), "{rendered}");
        }
        None => assert!(FILE_LEVEL.iter().any(|m| error.message.ends_with(m)), "no location in {error:?}"),
    }
}

/// A line of TOML-ish text: table headers, keys the host knows (or nearly), values of
/// every type, broken syntax, and noise.
fn line() -> impl Strategy<Value = String> {
    let header = prop::sample::select(vec![
        "[host]",
        "[log]",
        "[[producer]]",
        "[[consumer]]",
        "[consumer.retry]",
        "[[consumer.config]]",
        "[log.kind]",
        "[[log]]",
        "[host",
        "[[]]",
        "[\"é\"]",
    ])
    .prop_map(str::to_owned);
    let key = prop_oneof![
        prop::sample::select(vec![
            "name",
            "library",
            "plugin",
            "config",
            "policy",
            "batch",
            "retry",
            "dead_letter",
            "drain_timeout",
            "max_event_bytes",
            "kind",
            "capacity",
            "max_bytes",
            "retry.attempts",
            "retry.backoff",
            "config.path",
            "librari",
            "\"name\"",
            "\"ключ\"",
            "",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,12}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "\"audit\"",
            "\"libx.so\"",
            "\"30s\"",
            "\"0s\"",
            "\"1MiB\"",
            "\"0\"",
            "\"2GiB\"",
            "\"18446744073709551615GiB\"",
            "\"10ms..1s\"",
            "\"1s..10ms\"",
            "\"block\"",
            "\"drop_oldest\"",
            "\"memory\"",
            "\"disk\"",
            "0",
            "-1",
            "65536",
            "9223372036854775807",
            "99999999999999999999",
            "1.5",
            "nan",
            "true",
            "1979-05-27T07:32:00Z",
            "[1, \"a\"]",
            "{ attempts = 2, backoff = \"10ms..1s\" }",
            "{ path = \"a.log\", n = [1, { x = 2 }] }",
            "{ attempts = \"2\" }",
            "\"unterminated",
            "'''multi\nline'''",
            "\"\\u00e9\\t\"",
            "\"\\uD800\"",
            "\"é ü 😀\"",
            "",
        ])
        .prop_map(str::to_owned),
        "\"\\PC{0,8}\"",
        any::<i64>().prop_map(|n| n.to_string()),
    ];
    prop_oneof![
        2 => header,
        6 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "#\\PC{0,10}",
        1 => "\\PC{0,12}",
        1 => prop::collection::vec(any::<char>(), 0..8).prop_map(String::from_iter),
    ]
}

/// A valid config, and each of its key lines, to mutate.
#[derive(Debug, Clone)]
struct Valid {
    text: String,
    keys: Vec<KeyLine>,
}

/// One `key = value` line of a valid config.
#[derive(Debug, Clone)]
struct KeyLine {
    line: usize,
    key: &'static str,
    kind: ValueKind,
}

/// What type a key's value has, to give it another.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ValueKind {
    Text,
    /// A string, or a whole number of bytes.
    Size,
    Integer,
    Table,
}

/// An instance: producer or consumer, its name, and its optional keys as `(key, value)`.
type Instance = (bool, Vec<(&'static str, String)>);

fn instance() -> impl Strategy<Value = Instance> {
    let consumer_keys = (
        prop::option::of(prop::sample::select(vec!["\"block\"", "\"drop_oldest\""])),
        prop::option::of(1..=65536i64),
        prop::option::of((0..=1000i64, prop::sample::select(vec!["10ms..1s", "1s..1s", "100ms..30s"]))),
        prop::option::of("[a-z]{1,8}\\.jsonl"),
    );
    let common = (prop::option::of("[a-z]{1,8}"), prop::option::of("[a-z]{1,8}"));
    (any::<bool>(), "[a-z][a-z0-9._-]{0,10}\\.so", common, consumer_keys).prop_map(
        |(consumer, library, (plugin, path), (policy, batch, retry, dead_letter))| {
            let mut keys = vec![("library", format!("{library:?}"))];
            keys.extend(plugin.map(|p| ("plugin", format!("{p:?}"))));
            keys.extend(path.map(|p| ("config", format!("{{ path = {p:?}, n = 3 }}"))));
            if consumer {
                keys.extend(policy.map(|p| ("policy", p.to_owned())));
                keys.extend(batch.map(|b| ("batch", b.to_string())));
                keys.extend(retry.map(|(a, b)| ("retry", format!("{{ attempts = {a}, backoff = {b:?} }}"))));
                keys.extend(dead_letter.map(|d| ("dead_letter", format!("{d:?}"))));
            }
            (consumer, keys)
        },
    )
}

fn kind_of(key: &str) -> ValueKind {
    match key {
        "capacity" | "batch" => ValueKind::Integer,
        "max_event_bytes" | "max_bytes" => ValueKind::Size,
        "config" | "retry" => ValueKind::Table,
        _ => ValueKind::Text,
    }
}

fn valid() -> impl Strategy<Value = Valid> {
    let host = (
        prop::option::of(prop::sample::select(vec!["\"5s\"", "\"250ms\"", "\"2m\"", "\"1m30s\""])),
        prop::option::of(prop::sample::select(vec!["\"1KiB\"", "\"64KiB\"", "\"1MiB\"", "1048576"])),
    );
    let log = (
        prop::option::of(Just("\"memory\"")),
        prop::option::of(1..=(1i64 << 30)),
        prop::option::of(prop::sample::select(vec!["\"2MiB\"", "\"256MiB\""])),
    );
    (host, log, prop::collection::vec(instance(), 1..4)).prop_map(
        |((drain, max_event), (kind, capacity, max_bytes), instances)| {
            let mut lines: Vec<String> = Vec::new();
            let mut keys = Vec::new();
            let mut put = |lines: &mut Vec<String>, key: &'static str, value: String| {
                keys.push(KeyLine { line: lines.len() + 1, key, kind: kind_of(key) });
                lines.push(format!("{key} = {value}"));
            };
            if drain.is_some() || max_event.is_some() {
                lines.push("[host]".into());
                drain.into_iter().for_each(|v| put(&mut lines, "drain_timeout", v.into()));
                max_event.into_iter().for_each(|v| put(&mut lines, "max_event_bytes", v.into()));
            }
            if kind.is_some() || capacity.is_some() || max_bytes.is_some() {
                lines.push("[log]".into());
                kind.into_iter().for_each(|v| put(&mut lines, "kind", v.into()));
                capacity.into_iter().for_each(|v| put(&mut lines, "capacity", v.to_string()));
                max_bytes.into_iter().for_each(|v| put(&mut lines, "max_bytes", v.into()));
            }
            for (i, (consumer, instance_keys)) in instances.into_iter().enumerate() {
                lines.push(if consumer { "[[consumer]]" } else { "[[producer]]" }.into());
                put(&mut lines, "name", format!("\"p{i}\""));
                for (key, value) in instance_keys {
                    put(&mut lines, key, value);
                }
            }
            Valid { text: lines.join("\n") + "\n", keys }
        },
    )
}

impl Valid {
    /// The text with line `line` (1-based) replaced.
    fn with_line(&self, line: usize, new: &str) -> String {
        let mut lines: Vec<&str> = self.text.lines().collect();
        lines[line - 1] = new;
        lines.join("\n") + "\n"
    }
}

/// The line (1-based) an error points at.
fn line_of(error: &Diagnostic) -> usize {
    error.location.as_ref().unwrap_or_else(|| panic!("no location in {error:?}")).line_col().0
}

/// A value of the wrong type for a key of `kind`.
fn wrong_value(kind: ValueKind) -> impl Strategy<Value = String> {
    let values: Vec<&str> = match kind {
        ValueKind::Text => vec!["42", "true", "[\"a\"]", "{ a = 1 }", "1.5", "1979-05-27"],
        ValueKind::Size => vec!["true", "[\"a\"]", "{ a = 1 }", "1.5", "-1", "1979-05-27"],
        ValueKind::Integer => vec!["\"12\"", "true", "[1]", "{ a = 1 }", "1.5"],
        ValueKind::Table => vec!["\"x\"", "42", "[1]", "false"],
    };
    prop::sample::select(values).prop_map(str::to_owned)
}

/// A value of the right type that the host refuses, for the keys that have one.
fn out_of_range(key: &str) -> Option<&'static [&'static str]> {
    Some(match key {
        "drain_timeout" => &["\"soon\"", "\"5\"", "\"5 weeks\""],
        "max_event_bytes" => &["\"2GiB\"", "\"lots\"", "\"1TB\""],
        "kind" => &["\"disk\"", "\"\""],
        "capacity" => &["0", "-1", "1073741825"],
        "max_bytes" => &["\"1B\"", "\"big\""],
        "name" => &["\"bad name\"", "\"\"", "\"é\""],
        "library" => &["\"\""],
        "policy" => &["\"newest\"", "\"Block\""],
        "batch" => &["0", "65537", "-3"],
        "retry" => &["{ attempts = -1 }", "{ attempts = 1001 }", "{ backoff = \"1s\" }", "{ backoff = \"0s..1s\" }"],
        "dead_letter" => &["\"\""],
        _ => return None,
    })
}

proptest! {
    #![proptest_config(evhost_fuzz_support::config(3000))]

    #[test]
    fn no_text_makes_it_panic(lines in prop::collection::vec(line(), 0..12)) {
        let text = lines.join("\n");
        match parse_text(&text) {
            Ok(config) => prop_assert!(!config.producers.is_empty() || !config.consumers.is_empty()),
            Err(error) => assert_diagnostic(&error, &text),
        }
    }

    #[test]
    fn no_edit_of_a_valid_config_makes_it_panic(
        config in valid(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, any::<char>()), 1..4),
    ) {
        let mut chars: Vec<char> = config.text.chars().collect();
        for (at, how, c) in edits {
            let at = at.index(chars.len().max(1)).min(chars.len());
            match how {
                0 => chars.insert(at, c),
                1 if at < chars.len() => drop(chars.remove(at)),
                _ if at < chars.len() => chars[at] = c,
                _ => chars.push(c),
            }
        }
        let text = String::from_iter(chars);
        if let Err(error) = parse_text(&text) {
            assert_diagnostic(&error, &text);
        }
    }

    #[test]
    fn a_valid_config_is_taken(config in valid()) {
        let parsed = parse_text(&config.text).unwrap_or_else(|e| panic!("{e}\n{}", config.text));
        let instances = config.text.matches("[[producer]]").count() + config.text.matches("[[consumer]]").count();
        prop_assert_eq!(parsed.producers.len() + parsed.consumers.len(), instances);
    }

    #[test]
    fn a_renamed_key_is_reported_on_its_line(config in valid(), at in any::<prop::sample::Index>(), suffix in "[a-z]{1,3}") {
        let key = &config.keys[at.index(config.keys.len())];
        let typo = format!("{}_{suffix}", key.key);
        let line = config.text.lines().nth(key.line - 1).expect("the key's line").replacen(key.key, &typo, 1);
        let text = config.with_line(key.line, &line);
        let error = parse_text(&text).expect_err("a renamed key was taken");
        assert_diagnostic(&error, &text);
        prop_assert_eq!(&error.message, &format!("unknown key `{typo}`"));
        prop_assert_eq!(line_of(&error), key.line, "{}", error);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_reported_on_its_line(
        (config, at, value) in valid().prop_flat_map(|c| {
            let n = c.keys.len();
            (Just(c), 0..n).prop_flat_map(|(c, at)| {
                let kind = c.keys[at].kind;
                (Just(c), Just(at), wrong_value(kind))
            })
        }),
    ) {
        let key = &config.keys[at];
        let text = config.with_line(key.line, &format!("{} = {value}", key.key));
        let error = parse_text(&text).expect_err("a value of the wrong type was taken");
        assert_diagnostic(&error, &text);
        prop_assert_eq!(line_of(&error), key.line, "{}", error);
    }

    #[test]
    fn a_value_out_of_range_is_reported_on_its_line(config in valid(), at in any::<prop::sample::Index>(), pick in any::<prop::sample::Index>()) {
        let key = &config.keys[at.index(config.keys.len())];
        let Some(values) = out_of_range(key.key) else { return Ok(()) };
        let value = values[pick.index(values.len())];
        let text = config.with_line(key.line, &format!("{} = {value}", key.key));
        let error = parse_text(&text).expect_err("a value out of range was taken");
        assert_diagnostic(&error, &text);
        prop_assert_eq!(line_of(&error), key.line, "{}", error);
    }
}

/// Every file in `host/fuzz-corpus/config/`: `ok-*` must be taken, `err-*` refused with a
/// diagnostic that points inside the file and says how to fix it.
#[test]
fn the_corpus_replays() {
    for (name, file) in evhost_fuzz_support::corpus(env!("CARGO_MANIFEST_DIR"), "config", 8) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("a corpus file")).into_owned();
        match (name.split('-').next(), parse_text(&text)) {
            (Some("ok"), Ok(_)) => {}
            (Some("err"), Err(error)) => assert_diagnostic(&error, &text),
            (_, got) => panic!("{name}: got {got:?}"),
        }
    }
}
