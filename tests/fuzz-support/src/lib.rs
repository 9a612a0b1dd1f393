//! What evhost's fuzz targets share (see docs/fuzzing.md): how many cases each property
//! runs and from which seed, and the committed corpus each target replays. A dev-dependency
//! of the crates that hold the targets (the host, `http`, `objects`), with the generators
//! they share.

mod strategies;

pub use strategies::rfc3339_time;

use std::path::{Path, PathBuf};

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

/// The files of a corpus folder (`<crate>/fuzz-corpus/<target>/`), sorted, as (file name,
/// path). Fewer than `at_least` means the corpus went missing, which fails the test.
pub fn corpus(crate_dir: &str, target: &str, at_least: usize) -> Vec<(String, PathBuf)> {
    let folder = Path::new(crate_dir).join("fuzz-corpus").join(target);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&folder).expect("the corpus folder").map(|e| e.expect("an entry").path()).collect();
    files.sort();
    assert!(files.len() >= at_least, "{} holds only {} files", folder.display(), files.len());
    files
        .into_iter()
        .map(|path| (path.file_name().expect("a file name").to_string_lossy().into_owned(), path))
        .collect()
}
