//! One record of a segment file: an emitted batch (a chunk's bytes) behind a header that
//! says how long it is, which sequence numbers it holds, and the CRC32C of both, so that a
//! torn write or a flipped bit is found on recovery and on every read.
//!
//! Header, 32 bytes, little-endian: magic "EVL1", payload length (u32), first sequence
//! number (u64), events (u32), payload CRC32C (u32), 0 (u32), header CRC32C (u32, over the
//! 28 bytes before it).

pub const HEADER: usize = 32;
const MAGIC: [u8; 4] = *b"EVL1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub first: u64,
    pub count: u32,
    pub crc: u32,
}

impl Header {
    pub fn end(&self) -> u64 {
        self.first + self.count as u64
    }

    /// The record's size on disk.
    pub fn size(&self) -> u64 {
        HEADER as u64 + self.len as u64
    }

    /// The header, if `bytes` start with a whole one whose CRC holds.
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let bytes: &[u8; HEADER] = bytes.get(..HEADER)?.try_into().ok()?;
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        if bytes[..4] != MAGIC || u32_at(28) != crc32c::crc32c(&bytes[..28]) {
            return None;
        }
        Some(Header {
            len: u32_at(4),
            first: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            count: u32_at(16),
            crc: u32_at(20),
        })
    }

    /// True when `payload` is the one this header was written for.
    pub fn holds(&self, payload: &[u8]) -> bool {
        payload.len() == self.len as usize && crc32c::crc32c(payload) == self.crc
    }
}

/// Appends a record of `count` events numbered from `first` to `out`: `write_payload`
/// appends the payload, whose length must stay under 4 GiB (events are capped at 1 GiB and
/// so are batches; see the config).
pub fn write(out: &mut Vec<u8>, first: u64, count: u32, write_payload: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.resize(start + HEADER, 0);
    write_payload(out);
    let payload = &out[start + HEADER..];
    let (len, crc) = (u32::try_from(payload.len()).expect("a payload under 4 GiB"), crc32c::crc32c(payload));
    let header = &mut out[start..start + HEADER];
    header[..4].copy_from_slice(&MAGIC);
    header[4..8].copy_from_slice(&len.to_le_bytes());
    header[8..16].copy_from_slice(&first.to_le_bytes());
    header[16..20].copy_from_slice(&count.to_le_bytes());
    header[20..24].copy_from_slice(&crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&header[..28]);
    header[28..32].copy_from_slice(&header_crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_any_flipped_bit_is_found() {
        let mut out = Vec::new();
        write(&mut out, 41, 2, |o| o.extend_from_slice(b"payload"));
        let header = Header::parse(&out).expect("a header");
        assert_eq!((header.first, header.count, header.end(), header.size()), (41, 2, 43, 39));
        assert!(header.holds(&out[HEADER..]));
        for bit in 0..out.len() * 8 {
            let mut bad = out.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let found = Header::parse(&bad).is_none_or(|h| !h.holds(&bad[HEADER..]));
            assert!(found, "bit {bit} flipped unnoticed");
        }
    }
}
