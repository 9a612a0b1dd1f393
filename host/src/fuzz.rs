//! What the host's fuzz targets share (see docs/fuzzing.md): how many cases each property
//! runs, and from which seed.

use proptest::test_runner::{Config, RngSeed};

/// The short, fixed pass of `make test` (`cases` cases from a fixed seed), unless
/// `make fuzz` sets `EVHOST_FUZZ_CASES` (and `EVHOST_FUZZ_SEED`, a number or `random`).
pub fn config(cases: u32) -> Config {
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let rng_seed = match env("EVHOST_FUZZ_SEED").as_deref() {
        Some("random") => RngSeed::Random,
        Some(n) => RngSeed::Fixed(n.parse().expect("EVHOST_FUZZ_SEED is a number or `random`")),
        None => RngSeed::Fixed(9),
    };
    let cases = env("EVHOST_FUZZ_CASES").map_or(cases, |n| n.parse().expect("EVHOST_FUZZ_CASES is a number"));
    Config { cases, rng_seed, ..Config::default() }
}
