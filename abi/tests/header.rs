//! The committed `include/evhost.h` must be exactly what cbindgen generates from `abi/`.
//! Run with `EVHOST_BLESS=1` to rewrite it after an (append-only) ABI change.

use std::path::Path;

#[test]
fn header_matches_abi() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header_path = crate_dir.join("../include/evhost.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("abi/cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");

    if std::env::var_os("EVHOST_BLESS").is_some() {
        std::fs::write(&header_path, &generated).expect("write include/evhost.h");
        return;
    }
    let committed = std::fs::read_to_string(&header_path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/evhost.h has drifted from abi/src/lib.rs.\n\
         Regenerate it with `EVHOST_BLESS=1 cargo test -p evhost-abi --test header` \
         and commit it (ABI changes only append)."
    );
}
