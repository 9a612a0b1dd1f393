//! Generators more than one fuzz target needs, so that each input form is described once.

use std::ops::Range;

use proptest::prelude::*;

/// An RFC 3339 time as CloudEvents and object stores write it: a real date, optional
/// fractions, `Z` or an offset. `seconds` is 0..60, or 0..61 where a leap second may show.
pub fn rfc3339_time(seconds: Range<u32>) -> impl Strategy<Value = String> {
    let date = (0..=9999i32, 1..=12u32, 1..=31u32)
        .prop_filter_map("a real date", |(y, m, d)| chrono::NaiveDate::from_ymd_opt(y, m, d));
    let offset = prop_oneof![
        Just("Z".to_owned()),
        ("[+-]", 0..24u32, 0..60u32).prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}"))
    ];
    (date, 0..24u32, 0..60u32, seconds, prop::option::of("[0-9]{1,9}"), offset).prop_map(
        |(date, h, m, s, frac, offset)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{}T{h:02}:{m:02}:{s:02}{frac}{offset}", date.format("%Y-%m-%d"))
        },
    )
}
