//! JSON string text, read fast: where a run of plain text ends (a vectorized scan for quotes,
//! backslashes and control bytes) and what escapes stand for. Shared by the parse stage's
//! entry reader and the redaction of sample entries; both give up where serde_json would
//! fail, so that their results are serde_json's.

/// The length of a valid escape after its backslash (`n`, `"`, `u00e9`...), or `None`.
pub(crate) fn escape_len(after: &[u8]) -> Option<usize> {
    match after.first()? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(1),
        b'u' => after
            .get(1..5)?
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(5),
        _ => None,
    }
}

/// The first byte at or after `from` that ends a run of plain string text: a quote, a
/// backslash or a raw control character; `None` when there is none. Sixteen bytes at a time
/// (most strings of an entry are short: one call of `memchr` costs more than reading them).
pub(crate) fn find_special(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 16) {
        let chunk: &[u8; 16] = chunk.try_into().ok()?;
        let found = special_mask(chunk);
        if found != 0 {
            return Some(i + found.trailing_zeros() as usize);
        }
        i += 16;
    }
    let tail = bytes.get(i..)?;
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|at| i + at)
}

/// A bit for every byte of `chunk` that is a quote, a backslash or below 0x20: three vector
/// compares and one mask move (SSE2, which every x86-64 processor has).
#[cfg(target_arch = "x86_64")]
fn special_mask(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline (every such processor has it), and the
    // load reads 16 bytes, unaligned, from a reference to 16 bytes.
    unsafe {
        let x = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        // Below 0x20: the byte is its maximum with 0x1f only when it is at most 0x1f.
        let low = _mm_set1_epi8(0x1f);
        let control = _mm_cmpeq_epi8(_mm_max_epu8(x, low), low);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// The same, eight bytes at a time in a `u64` elsewhere.
#[cfg(not(target_arch = "x86_64"))]
fn special_mask(chunk: &[u8; 16]) -> u32 {
    let half = |b: &[u8]| special_bytes(u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let (lo, hi) = (half(&chunk[..8]), half(&chunk[8..]));
    let first = |m: u64| {
        if m == 0 {
            0
        } else {
            1 << (m.trailing_zeros() / 8)
        }
    };
    // Only the first special byte of each half is exact: enough for its lowest bit.
    first(lo) | first(hi) << 8
}

#[cfg(not(target_arch = "x86_64"))]
const ONES: u64 = u64::MAX / 255;

/// The high bit of every byte of `x` that is a quote, a backslash or below 0x20 (and perhaps
/// of bytes after the first such byte, never before it: only the lowest bit is to be trusted).
#[cfg(not(target_arch = "x86_64"))]
fn special_bytes(x: u64) -> u64 {
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v;
    let quote = zero_in(x ^ (ONES * u64::from(b'"')));
    let backslash = zero_in(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x;
    (quote | backslash | control) & (ONES << 7)
}

/// The first position at or after `pos` that is not JSON whitespace (space, tab, CR, LF).
pub(crate) fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    loop {
        match bytes.get(pos) {
            Some(b'\n' | b'\r' | b'\t') => pos += 1,
            // Pretty-printed JSON indents with runs of spaces: eight at a time. The first
            // byte of the eight that is not a space is the lowest non-zero byte of the XOR.
            Some(b' ') => match bytes.get(pos..pos + 8) {
                Some(eight) => {
                    let word = u64::from_le_bytes(eight.try_into().unwrap_or_default());
                    let other = word ^ u64::from_ne_bytes([b' '; 8]);
                    pos += (other.trailing_zeros() / 8) as usize;
                }
                None => pos += 1,
            },
            _ => return pos,
        }
    }
}

/// Past the separator after an item of a list or an object (whitespace before it skipped):
/// the position after it and `true` at `close`, `false` at a comma; `None` at anything else.
pub(crate) fn after_item(bytes: &[u8], pos: usize, close: u8) -> Option<(usize, bool)> {
    let at = skip_ws(bytes, pos);
    match *bytes.get(at)? {
        b',' => Some((at + 1, false)),
        b if b == close => Some((at + 1, true)),
        _ => None,
    }
}

/// The character the escape after a backslash stands for (`after` starts past the backslash)
/// and the length of the escape, as serde_json decodes it: a `\u` escape of a leading
/// surrogate takes the trailing one after it (`\ud83d\ude00` is one character, 11 bytes);
/// `None` for an invalid escape or a surrogate outside a valid pair (serde_json rejects both
/// in a string it decodes).
pub(crate) fn decode_escape(after: &str) -> Option<(char, usize)> {
    let simple = match *after.as_bytes().first()? {
        b'u' => None,
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        b'/' => Some('/'),
        b'b' => Some('\u{8}'),
        b'f' => Some('\u{c}'),
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        _ => return None,
    };
    if let Some(c) = simple {
        return Some((c, 1));
    }
    let first = hex4(after.get(1..5)?)?;
    match first {
        0xD800..=0xDBFF => {
            let rest = after.get(5..11)?;
            let second = rest.strip_prefix("\\u").and_then(hex4)?;
            if !(0xDC00..=0xDFFF).contains(&second) {
                return None;
            }
            let code = 0x1_0000 + ((first - 0xD800) << 10) + (second - 0xDC00);
            Some((char::from_u32(code)?, 11))
        }
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(first)?, 5)),
    }
}

/// Four hex digits (no sign, no more, no fewer).
fn hex4(digits: &str) -> Option<u32> {
    let ok = digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u32::from_str_radix(digits, 16).ok())?
}

/// The text of a JSON string between its quotes (control bytes already refused), with its
/// escapes decoded; `None` where serde_json would refuse it.
pub(crate) fn decode(inner: &str) -> Option<String> {
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut run = 0;
    while let Some(at) = memchr::memchr(b'\\', &bytes[run..]).map(|i| run + i) {
        out.push_str(&inner[run..at]);
        let (c, len) = decode_escape(&inner[at + 1..])?;
        out.push(c);
        run = at + 1 + len;
    }
    out.push_str(&inner[run..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every escape decodes as serde_json decodes it, and what serde_json refuses is refused.
    #[test]
    fn escapes_decode_as_serde_json_decodes_them() {
        for inner in [
            "plain",
            r#"a\"b\\c\/d\be\ff\ng\rh\ti"#,
            r"\u00e9\u0041\u0000\uFFFF\u20ac",
            r"emoji \ud83d\ude00 and \uD83D\uDE00!",
            r"\ud83d",
            r"\ud83d\u0041",
            r"\ud83d\ud83d\ude00",
            r"\ude00",
            r"\ud83d\n",
            r"\x",
            r"\u12",
            r"\u12g4",
            r"\u+123",
            r"trailing \\",
        ] {
            let serde = serde_json::from_str::<String>(&format!("\"{inner}\"")).ok();
            assert_eq!(decode(inner), serde, "{inner}");
        }
    }

    /// The scan stops at the first quote, backslash or control byte wherever it lies.
    #[test]
    fn the_scan_finds_the_first_special_byte() {
        for len in 0..70 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                for at in 0..len {
                    let mut text = vec![b'a'; len];
                    text[at] = special;
                    if at + 1 < len {
                        text[len - 1] = b'"';
                    }
                    for from in 0..=at {
                        assert_eq!(find_special(&text, from), Some(at));
                    }
                }
                let plain = "é x~\x7f".repeat(len);
                assert_eq!(find_special(plain.as_bytes(), 0), None);
            }
        }
    }

    /// Whitespace is skipped up to the first other byte, whatever mix of spaces (runs shorter
    /// and longer than eight), tabs, CRs and LFs comes before it, and wherever the text ends.
    #[test]
    fn whitespace_is_skipped_to_the_first_other_byte() {
        let pieces: [&[u8]; 6] = [b" ", b"    ", b"         ", b"\n", b"\r\n\t", b"\n      "];
        for a in pieces {
            for b in pieces {
                for tail in [&b""[..], b"x", b"\"k\": 1", b"} "] {
                    let text = [a, b, a, tail].concat();
                    let plain = text
                        .iter()
                        .position(|c| !b" \n\r\t".contains(c))
                        .unwrap_or(text.len());
                    for from in 0..=plain {
                        assert_eq!(skip_ws(&text, from), plain, "{text:?} from {from}");
                    }
                }
            }
        }
    }
}
