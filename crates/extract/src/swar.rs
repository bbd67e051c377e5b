//! Byte tests eight bytes a step in a `u64` (SWAR), without `unsafe` or target
//! features: the scanner's inner loops look for a few byte values in runs of text.

/// Eight copies of the byte 0x01.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// Bit 7 of each of eight bytes.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// Nonzero exactly when some byte of `x` is zero (the lowest such byte's bit 7 is
/// set; bits above it may be set by the borrow).
pub(crate) const fn zero_byte(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Nonzero exactly when some byte of `x` equals `c`.
pub(crate) const fn has_byte(x: u64, c: u8) -> u64 {
    zero_byte(x ^ (ONES * c as u64))
}

/// Nonzero exactly when some byte of `x` is below `n` (`n` at most 0x80).
pub(crate) const fn has_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * n as u64) & !x & HIGH
}

/// `s` in eight-byte words, and the bytes left over.
pub(crate) fn words(s: &[u8]) -> (impl Iterator<Item = u64> + '_, &[u8]) {
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    (
        chunks.map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())),
        rest,
    )
}

/// Whether `s` holds the byte `a` or the byte `b`.
pub(crate) fn contains2(s: &[u8], a: u8, b: u8) -> bool {
    position2(s, a, b).is_some()
}

/// The first position in `s` of the byte `a` or the byte `b`.
pub(crate) fn position2(s: &[u8], a: u8, b: u8) -> Option<usize> {
    let (ws, rest) = words(s);
    for (k, x) in ws.enumerate() {
        let m = has_byte(x, a) | has_byte(x, b);
        if m != 0 {
            // the lowest flagged byte is a true match: the borrow only runs upwards
            return Some(8 * k + (m.trailing_zeros() / 8) as usize);
        }
    }
    let base = s.len() - rest.len();
    rest.iter()
        .position(|&c| c == a || c == b)
        .map(|p| base + p)
}

/// Bit 7 of each byte of the result is set where that byte of `x` is no ASCII
/// lower-case letter.
pub(crate) fn non_lower_mask(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let y = x & LOW7; // no byte carries into the next below
    let ge_a = y + 0x1f1f_1f1f_1f1f_1f1f; // bit 7 where y >= b'a'
    let gt_z = y + 0x0505_0505_0505_0505; // bit 7 where y > b'z'
    !(ge_a & !gt_z & !x) & HIGH
}

/// The end of the run of ASCII lower-case letters starting at `p`.
pub(crate) fn lower_run_end(b: &[u8], mut p: usize) -> usize {
    while let Some(chunk) = b.get(p..).and_then(<[u8]>::first_chunk::<8>) {
        let m = non_lower_mask(u64::from_le_bytes(*chunk));
        if m != 0 {
            return p + (m.trailing_zeros() / 8) as usize;
        }
        p += 8;
    }
    while b.get(p).is_some_and(u8::is_ascii_lowercase) {
        p += 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bytes_at_every_position() {
        for len in 0..20 {
            let plain = vec![b'x'; len];
            assert!(!contains2(&plain, b'-', b'D'));
            for pos in 0..len {
                for c in [b'-', b'D'] {
                    let mut s = plain.clone();
                    s[pos] = c;
                    assert!(contains2(&s, b'-', b'D'), "{pos} of {len}");
                }
            }
        }
        for len in 0..40 {
            for pos in 0..len {
                let mut s = vec![b'a'; len];
                s[pos] = b'_';
                if pos + 3 < len {
                    s[pos + 3] = b'-';
                }
                assert_eq!(position2(&s, b'-', b'_'), Some(pos), "{pos} of {len}");
            }
        }
        // neighbours of the sought bytes, and the high half, are no match
        let near: Vec<u8> = [b',', b'.', b'C', b'E', b'd', 0xad, 0xc4, 0xff]
            .iter()
            .copied()
            .cycle()
            .take(40)
            .collect();
        assert!(!contains2(&near, b'-', b'D'));
        assert!(has_below(u64::from_le_bytes(*b"abc\x1fdefg"), 0x20) != 0);
        assert!(has_below(u64::from_le_bytes(*b"abc defg"), 0x20) == 0);
        assert!(has_below(u64::from_le_bytes([0xff; 8]), 0x20) == 0);
    }
}
