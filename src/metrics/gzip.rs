//! The gzip form of the exposition, made once per change of the state rather than once
//! per scrape.
//!
//! A gzip member is a header, one deflate stream and a trailer (the CRC-32 and length of
//! what it holds). The state's text is deflated once and ended with a sync flush, which
//! closes its blocks on a byte boundary without ending the stream; each scrape then adds
//! its own small tail (the exporter's process metrics) as the stream's final blocks, and
//! the trailer for the whole. The client sees one ordinary gzip member.

use axum::body::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The gzip header: deflate, no name or time, unknown OS (RFC 1952).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// The deflate level: that of the compression of the other endpoints.
fn level() -> Compression {
    Compression::default()
}

/// The state's text, gzip-framed and deflated up to a sync flush.
#[derive(Debug)]
pub(super) struct Prefix {
    /// The header and the deflate blocks of the text, not yet final.
    pub bytes: Bytes,
    /// The CRC-32 and length of the text.
    crc: Crc,
}

impl Prefix {
    /// Compresses `text`.
    pub(super) fn of(text: &[u8]) -> Prefix {
        let mut bytes = Vec::with_capacity(text.len() / 8 + 1024);
        bytes.extend_from_slice(&HEADER);
        deflate(text, FlushCompress::Sync, &mut bytes);
        let mut crc = Crc::new();
        crc.update(text);
        Prefix {
            bytes: Bytes::from(bytes),
            crc,
        }
    }

    /// The rest of the gzip member when `tail` follows the text: its final deflate blocks
    /// and the trailer.
    pub(super) fn finish(&self, tail: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(tail.len() / 2 + 64);
        deflate(tail, FlushCompress::Finish, &mut bytes);
        let mut tail_crc = Crc::new();
        tail_crc.update(tail);
        let mut whole = Crc::new();
        whole.combine(&self.crc);
        whole.combine(&tail_crc);
        bytes.extend_from_slice(&whole.sum().to_le_bytes());
        // RFC 1952: ISIZE is the length modulo 2^32.
        bytes.extend_from_slice(&whole.amount().to_le_bytes());
        bytes
    }
}

/// Appends the raw deflate of `input` to `out`, ended by `flush`: a sync flush (the
/// stream goes on) or the end of the stream.
fn deflate(input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
    let mut compress = Compress::new(level(), false);
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = usize::try_from(compress.total_in()).unwrap_or(input.len());
        // The flush is asked for once everything is in, so the blocks stay whole.
        let now = if consumed == input.len() {
            flush
        } else {
            FlushCompress::None
        };
        let status = compress
            .compress_vec(&input[consumed..], out, now)
            // Deflating into memory fails only on a misuse of the stream, a bug.
            .expect("deflate into memory");
        let done = match now {
            FlushCompress::Finish => status == Status::StreamEnd,
            // A flush is complete once a call leaves room in the output.
            FlushCompress::None => false,
            _ => out.len() < out.capacity(),
        };
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::Prefix;

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        // GzDecoder checks the CRC-32 and the length in the trailer.
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .expect("a valid gzip member");
        text
    }

    #[test]
    fn a_prefix_and_any_tail_make_one_valid_member() {
        let text: String = (0..20_000)
            .map(|i| format!("tim_account_drift{{user_id=\"user_{i}\"}} {}\n", i % 2))
            .collect();
        let prefix = Prefix::of(text.as_bytes());
        assert!(prefix.bytes.len() < text.len() / 10, "it compresses");
        for tail in ["", "process_open_fds 12\n", &"x".repeat(300_000)] {
            let mut member = prefix.bytes.to_vec();
            member.extend_from_slice(&prefix.finish(tail.as_bytes()));
            assert_eq!(gunzip(&member), format!("{text}{tail}"));
        }
    }

    #[test]
    fn an_empty_text_works_too() {
        let prefix = Prefix::of(b"");
        let mut member = prefix.bytes.to_vec();
        member.extend_from_slice(&prefix.finish(b"a 1\n"));
        assert_eq!(gunzip(&member), "a 1\n");
    }

    #[test]
    fn a_wrong_trailer_is_refused() {
        let prefix = Prefix::of(b"a 1\n");
        let mut member = prefix.bytes.to_vec();
        let mut tail = prefix.finish(b"b 2\n");
        let crc = tail.len() - 8;
        tail[crc] ^= 1;
        member.extend_from_slice(&tail);
        let mut text = String::new();
        assert!(flate2::read::GzDecoder::new(&member[..])
            .read_to_string(&mut text)
            .is_err());
    }
}
