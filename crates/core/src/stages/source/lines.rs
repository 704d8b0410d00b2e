//! Finding the lines that matter in gcloud's layout without stopping at every line.
//!
//! In gcloud's pretty array an entry's own lines are indented by four spaces or more; only the
//! line that closes it (`  }`), the next entry's (`  {`), the array's `]` or junk in column 0
//! start with fewer than three spaces. [`shallow_newline`] finds the first newline whose next
//! three bytes are not all spaces, 16 bytes at a time, instead of calling `memchr` once per
//! line (gcloud's entries have about 30 lines each).

/// Three spaces: a line that starts with them is inside an entry, whatever follows.
const DEEP: &[u8; 3] = b"   ";

/// The index of the first `\n` in `h` that is not followed by three spaces: followed by fewer
/// bytes than three (the rest is not in the buffer yet), or by anything else. `None` when every
/// newline in `h` starts a line indented by three spaces or more.
pub fn shallow_newline(h: &[u8]) -> Option<usize> {
    let (from, found) = wide(h);
    if found.is_some() {
        return found;
    }
    narrow(h, from)
}

/// The same, one newline at a time from `from` (what the wide scan leaves at the end).
fn narrow(h: &[u8], mut from: usize) -> Option<usize> {
    while let Some(k) = memchr::memchr(b'\n', &h[from..]) {
        let nl = from + k;
        if h.get(nl + 1..nl + 4) != Some(DEEP) {
            return Some(nl);
        }
        from = nl + 1;
    }
    None
}

/// Scans 16 bytes at a time (SSE2, which every x86-64 processor has) while 19 bytes remain:
/// a chunk's newlines, and for each whether the three bytes after it are spaces. Returns where
/// it stopped and what it found.
#[cfg(target_arch = "x86_64")]
fn wide(h: &[u8]) -> (usize, Option<usize>) {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut i = 0;
    // SAFETY: SSE2 is in the x86-64 baseline, so these intrinsics are always available; every
    // load reads 16 bytes from `i`, `i + 1`, `i + 2` or `i + 3`, and the loop runs only while
    // `i + 19 <= h.len()`, so each stays inside `h`. Unaligned loads have no alignment needs.
    unsafe {
        let newline = _mm_set1_epi8(b'\n' as i8);
        let space = _mm_set1_epi8(b' ' as i8);
        let at = |p: *const u8| _mm_loadu_si128(p.cast::<__m128i>());
        while i + 19 <= h.len() {
            let p = h.as_ptr().add(i);
            let newlines = _mm_movemask_epi8(_mm_cmpeq_epi8(at(p), newline));
            if newlines != 0 {
                let s1 = _mm_cmpeq_epi8(at(p.add(1)), space);
                let s2 = _mm_cmpeq_epi8(at(p.add(2)), space);
                let s3 = _mm_cmpeq_epi8(at(p.add(3)), space);
                let deep = _mm_movemask_epi8(_mm_and_si128(_mm_and_si128(s1, s2), s3));
                let shallow = newlines & !deep;
                if shallow != 0 {
                    return (i, Some(i + shallow.trailing_zeros() as usize));
                }
            }
            i += 16;
        }
    }
    (i, None)
}

/// Elsewhere every newline is looked at by [`narrow`].
#[cfg(not(target_arch = "x86_64"))]
fn wide(_: &[u8]) -> (usize, Option<usize>) {
    (0, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one byte at a time.
    fn plain(h: &[u8]) -> Option<usize> {
        (0..h.len()).find(|&i| h[i] == b'\n' && h.get(i + 1..i + 4) != Some(DEEP))
    }

    #[test]
    fn finds_what_a_plain_scan_finds() {
        // Every placement of a shallow line around the 16-byte chunks and the 19-byte tail,
        // behind deep lines of every length.
        let pieces: [&[u8]; 8] = [
            b"\n    \"a\": 1,",
            b"\n      \"nested\": {",
            b"\n  }",
            b"\n  {",
            b"\n]",
            b"\n",
            b"\n  ",
            b"\n \t",
        ];
        let mut seed = 7u64;
        for _ in 0..20_000 {
            let mut h = Vec::new();
            let n = (seed % 9) as usize;
            for _ in 0..n {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                h.extend_from_slice(pieces[(seed >> 33) as usize % pieces.len()]);
                h.extend(std::iter::repeat_n(b'x', (seed >> 40) as usize % 23));
            }
            seed = seed.wrapping_add(1);
            for cut in [
                h.len(),
                h.len().saturating_sub(1),
                h.len().saturating_sub(2),
            ] {
                let h = &h[..cut];
                assert_eq!(
                    shallow_newline(h),
                    plain(h),
                    "{:?}",
                    String::from_utf8_lossy(h)
                );
            }
        }
    }

    #[test]
    fn a_gcloud_entry_ends_at_its_closing_line() {
        let entry = b"  {\n    \"insertId\": \"a\",\n    \"labels\": {\n      \"k\": \"v\"\n    }\n  },\n  {\n";
        let end = shallow_newline(&entry[4..]).map(|i| i + 4);
        assert_eq!(&entry[end.unwrap()..end.unwrap() + 4], b"\n  }");
        assert_eq!(shallow_newline(b"\n    a\n     b\n      c"), None);
        // Fewer than three bytes after the newline: not known to be deep.
        assert_eq!(shallow_newline(b"\n    a\n  "), Some(6));
    }
}
