//! The evhost example plugins in Rust, written with `evhost-sdk` only. `sequence`, `digest`
//! and `count` are cross-language test vectors: the C, C++ and Go twins behave byte for byte
//! the same (same events, same digest, same output files). `faulty` is a test fixture for
//! the host's failure handling.
#![forbid(unsafe_code)]

mod count;
mod digest;
mod faulty;
mod print;
mod sequence;
mod types;

pub use count::Count;
pub use digest::Digest;
pub use faulty::Faulty;
pub use print::Print;
pub use sequence::Sequence;
pub use types::Types;

evhost_sdk::export_plugins!(producer Sequence, consumer Digest, consumer Count, consumer Faulty, consumer Print, consumer Types);
