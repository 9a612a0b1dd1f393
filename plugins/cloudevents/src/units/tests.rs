//! Every form the former copies accepted (host config, Rust SDK, schedule, http, file) still
//! parses; the messages name the accepted forms.

use std::time::Duration as Std;

use proptest::prelude::*;

use super::*;

/// Each text parses to its value.
fn reads<T: PartialEq + fmt::Debug>(parse: fn(&str) -> Result<T, UnitError>, cases: &[(&str, T)]) {
    for (text, expected) in cases {
        assert_eq!(parse(text).as_ref(), Ok(expected), "{text}");
    }
}

#[test]
fn durations_the_host_and_the_sdk_accepted() {
    reads(
        parse_duration,
        &[
            ("500us", Std::from_micros(500)),
            ("250ms", Std::from_millis(250)),
            ("30s", Std::from_secs(30)),
            ("2m", Std::from_secs(120)),
            ("1h", Std::from_secs(3600)),
            ("0s", Std::ZERO),
            (" 30s ", Std::from_secs(30)),
            ("30 s", Std::from_secs(30)),
        ],
    );
}

#[test]
fn durations_the_schedule_accepted() {
    reads(
        parse_duration,
        &[
            ("500ms", Std::from_millis(500)),
            ("1h30m", Std::from_secs(5400)),
            ("1h 30m", Std::from_secs(5400)),
            ("2d", Std::from_secs(172_800)),
            ("5 s", Std::from_secs(5)),
            ("1m1s1ms", Std::from_millis(61_001)),
        ],
    );
}

#[test]
fn durations_refused_say_why_and_how() {
    let reason = |text: &str| parse_duration(text).unwrap_err().to_string();
    assert_eq!(
        reason("5 minutes"),
        r#""5 minutes" has the unknown unit "minutes"; write a whole number and a unit (us, ms, s, m, h, d), e.g. "500ms", "30s" or "1h30m""#
    );
    assert!(reason("soon").starts_with(r#""soon" is not a duration; write a whole number and a unit"#));
    assert!(reason("").contains("is empty"));
    assert!(reason("5").contains("has no unit"));
    assert!(reason("1h30").contains("has no unit"));
    assert!(reason("ms").contains("is not a duration"));
    assert!(reason("-5s").contains("is not a duration"));
    assert!(reason("1.5s").contains("is not a whole number"));
    assert!(reason("9999999999999999h").contains("is too long"));
    assert!(reason("99999999999999999999s").contains("is too long"));
    assert!(reason("18446744073709551615s1s").contains("is too long"));
}

#[test]
fn sizes_the_host_and_the_sdk_accepted() {
    reads(
        parse_size,
        &[
            ("4096", 4096),
            ("4096B", 4096),
            ("512KiB", 512 << 10),
            ("64MiB", 64 << 20),
            ("64 MiB", 64 << 20),
            (" 64MiB ", 64 << 20),
            ("1GiB", 1 << 30),
            ("2KB", 2_000),
            ("2kB", 2_000),
            ("3MB", 3_000_000),
            ("1GB", 1_000_000_000),
            ("0", 0),
        ],
    );
}

#[test]
fn sizes_refused_say_why_and_how() {
    let reason = |text: &str| parse_size(text).unwrap_err().to_string();
    assert_eq!(reason("1 lot"), r#""1 lot" has no known unit; use B, KiB, MiB or GiB, e.g. "1MiB""#);
    assert!(reason("1 TiB").contains("no known unit"));
    assert!(reason("1TB").contains("no known unit"));
    assert!(reason("MiB").starts_with(r#""MiB" is not a size; write a whole number of bytes"#));
    assert!(reason("").contains("is not a size"));
    assert!(reason("1.5MiB").contains("is not a whole number"));
    assert!(reason("99999999999999GiB").contains("is too large"));
    assert!(reason("99999999999999999999").contains("is too large"));
}

#[test]
fn a_size_is_a_number_or_a_string() {
    let size = |json: &str| serde_json::from_str::<Size>(json).unwrap().bytes();
    assert_eq!(size("10"), Ok(10));
    assert_eq!(size("1e6"), Ok(1_000_000));
    assert_eq!(size(r#""64KiB""#), Ok(64 << 10));
    assert_eq!(
        size("-1").unwrap_err().for_key("max_body_bytes"),
        format!("`max_body_bytes` = -1 is negative; {SIZE_HINT}")
    );
    assert!(size("1.5").unwrap_err().to_string().contains("is not a whole number"));
    assert!(size("1e30").unwrap_err().to_string().contains("is too large"));
    let refused = serde_json::from_str::<Size>("true").unwrap_err().to_string();
    assert!(refused.contains(r#"expected a size: a whole number of bytes, or a string such as "1MiB""#), "{refused}");
}

#[test]
fn a_duration_is_a_string_with_a_unit() {
    let duration = |json: &str| serde_json::from_str::<Duration>(json).unwrap().get();
    assert_eq!(duration(r#""1h30m""#), Ok(Std::from_secs(5400)));
    assert_eq!(
        duration(r#""soon""#).unwrap_err().for_key("timeout"),
        format!(r#"`timeout` = "soon" is not a duration; {DURATION_HINT}"#)
    );
    assert_eq!(duration("30").unwrap_err().to_string(), format!("30 has no unit; {DURATION_HINT}"));
    assert!(duration("-30").unwrap_err().to_string().contains("is not a duration"));
    let refused = serde_json::from_str::<Duration>("[]").unwrap_err().to_string();
    assert!(refused.contains("expected a duration"), "{refused}");
}

const SIZE_UNITS_AND_FACTORS: [(&str, u64); 8] = [
    ("", 1),
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("kB", 1_000),
    ("MB", 1_000_000),
];

const DURATION_UNITS_IN_MICROS: [(&str, u64); 6] =
    [("us", 1), ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000), ("d", 86_400_000_000)];

proptest! {
    #[test]
    fn a_written_size_reads_back(n: u64, unit in 0..SIZE_UNITS_AND_FACTORS.len(), space: bool) {
        let (unit, factor) = SIZE_UNITS_AND_FACTORS[unit];
        let text = format!("{n}{}{unit}", if space { " " } else { "" });
        match n.checked_mul(factor) {
            Some(bytes) => prop_assert_eq!(parse_size(&text), Ok(bytes)),
            None => prop_assert!(parse_size(&text).unwrap_err().to_string().contains("too large")),
        }
    }

    #[test]
    fn written_durations_read_back_as_their_sum(terms in prop::collection::vec((0..1_000_000u64, 0..DURATION_UNITS_IN_MICROS.len()), 1..5)) {
        let text: String = terms.iter().map(|&(n, unit)| format!("{n}{}", DURATION_UNITS_IN_MICROS[unit].0)).collect();
        let micros: u64 = terms.iter().map(|&(n, unit)| n * DURATION_UNITS_IN_MICROS[unit].1).sum();
        prop_assert_eq!(parse_duration(&text), Ok(Std::from_micros(micros)));
    }

    #[test]
    fn any_text_parses_or_says_why(text in "\\PC{0,12}") {
        let quoted = format!("\"{text}\" ");
        if let Err(error) = parse_duration(&text) {
            prop_assert!(error.to_string().starts_with(&quoted));
        }
        if let Err(error) = parse_size(&text) {
            prop_assert!(error.to_string().starts_with(&quoted));
        }
    }
}
