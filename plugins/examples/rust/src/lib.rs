//! The evhost example plugins in Rust, written with `evhost-sdk` only. `sequence`, `digest`
//! and `count` are cross-language test vectors: the C, C++ and Go twins behave byte for byte
//! the same (same events, same digest, same output files). `print` and `types` are the
//! README's and the demo's consumers.
#![forbid(unsafe_code)]

mod count;
mod digest;
mod print;
mod sequence;
mod types;

pub use count::Count;
pub use digest::Digest;
pub use print::Print;
pub use sequence::Sequence;
pub use types::Types;

evhost_sdk::export_plugins!(producer Sequence, consumer Digest, consumer Count, consumer Print, consumer Types);
