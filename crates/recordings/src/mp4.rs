//! A recording's duration, read from the MP4 movie header (`moov/mvhd`, ISO/IEC
//! 14496-12 §8.2.2). Jibri's ffmpeg writes `moov` at the end, so the top-level boxes are
//! skipped by their sizes, not read: a few small reads even for a 2 GiB file. Anything
//! unexpected gives "unknown", never an error: the duration is a nicety.

use std::io::{Read, Seek, SeekFrom};

/// Milliseconds, when the file is an MP4 with a movie header.
pub fn duration_ms(file: &mut (impl Read + Seek)) -> Option<i64> {
    let end = file.seek(SeekFrom::End(0)).ok()?;
    let moov = find_box(file, 0, end, b"moov")?;
    let mvhd = find_box(file, moov.0, moov.1, b"mvhd")?;
    file.seek(SeekFrom::Start(mvhd.0)).ok()?;
    let mut version = [0u8; 4];
    file.read_exact(&mut version).ok()?;
    let (timescale, duration) = if version[0] == 1 {
        let mut fields = [0u8; 28]; // creation, modification (8 each), timescale, duration
        file.read_exact(&mut fields).ok()?;
        (
            u64::from(u32::from_be_bytes(fields[16..20].try_into().ok()?)),
            u64::from_be_bytes(fields[20..28].try_into().ok()?),
        )
    } else {
        let mut fields = [0u8; 16]; // creation, modification, timescale, duration
        file.read_exact(&mut fields).ok()?;
        (
            u64::from(u32::from_be_bytes(fields[8..12].try_into().ok()?)),
            u64::from(u32::from_be_bytes(fields[12..16].try_into().ok()?)),
        )
    };
    if timescale == 0 || duration == u64::from(u32::MAX) || duration == u64::MAX {
        return None; // "unknown" in the format itself
    }
    i64::try_from(duration.checked_mul(1000)? / timescale).ok()
}

/// The payload range (start, end) of the first box of `kind` between `start` and `end`.
fn find_box(
    file: &mut (impl Read + Seek),
    mut at: u64,
    end: u64,
    kind: &[u8; 4],
) -> Option<(u64, u64)> {
    while at + 8 <= end {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header).ok()?;
        let size32 = u32::from_be_bytes(header[0..4].try_into().ok()?);
        let (size, header_len) = match size32 {
            0 => (end - at, 8), // to the end of the file
            1 => {
                let mut large = [0u8; 8];
                file.read_exact(&mut large).ok()?;
                (u64::from_be_bytes(large), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header_len || at.checked_add(size)? > end {
            return None;
        }
        if &header[4..8] == kind {
            return Some((at + header_len, at + size));
        }
        at += size;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(payload.len() + 8)
            .expect("small")
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }

    fn mvhd_v0(timescale: u32, duration: u32) -> Vec<u8> {
        let mut payload = vec![0u8; 4 + 8];
        payload.extend_from_slice(&timescale.to_be_bytes());
        payload.extend_from_slice(&duration.to_be_bytes());
        payload.extend_from_slice(&[0u8; 80]);
        boxed(b"mvhd", &payload)
    }

    #[test]
    fn reads_the_movie_header_behind_the_media_data() {
        let mut file = boxed(b"ftyp", b"isom\0\0\x02\0");
        file.extend(boxed(b"mdat", &[7u8; 1000]));
        file.extend(boxed(b"moov", &mvhd_v0(1000, 83_500)));
        assert_eq!(duration_ms(&mut Cursor::new(file)), Some(83_500));
    }

    #[test]
    fn version_one_headers_and_64_bit_sizes() {
        let mut payload = vec![1u8, 0, 0, 0];
        payload.extend_from_slice(&[0u8; 16]);
        payload.extend_from_slice(&90_000u32.to_be_bytes());
        payload.extend_from_slice(&(90_000u64 * 7200).to_be_bytes());
        let mut mdat = 1u32.to_be_bytes().to_vec();
        mdat.extend_from_slice(b"mdat");
        mdat.extend_from_slice(&(16u64 + 10).to_be_bytes());
        mdat.extend_from_slice(&[0u8; 10]);
        let mut file = mdat;
        file.extend(boxed(b"moov", &boxed(b"mvhd", &payload)));
        assert_eq!(duration_ms(&mut Cursor::new(file)), Some(7_200_000));
    }

    #[test]
    fn anything_else_is_unknown() {
        assert_eq!(duration_ms(&mut Cursor::new(b"not a video".to_vec())), None);
        let mut truncated = boxed(b"ftyp", b"isom");
        truncated.extend_from_slice(&500u32.to_be_bytes());
        truncated.extend_from_slice(b"mdat");
        assert_eq!(duration_ms(&mut Cursor::new(truncated)), None);
        assert_eq!(
            duration_ms(&mut Cursor::new(boxed(b"moov", &mvhd_v0(0, 5)))),
            None
        );
    }
}
