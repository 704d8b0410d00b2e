//! Detectors that need more than a regular expression: `Basic` credentials (decoded), high
//! entropy values next to a credential word, long opaque blobs (key material cut out of its
//! PEM block, cloud keys), and — optionally — personal data: card numbers (Luhn-checked),
//! phone numbers and public client IP addresses.

use std::net::{Ipv4Addr, Ipv6Addr};

use regex::{Captures, Regex};

use super::REDACTED;
use super::needs::Guarded;

/// Shannon entropy of a text, in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn classes(s: &str) -> (bool, bool, bool) {
    (
        s.bytes().any(|b| b.is_ascii_uppercase()),
        s.bytes().any(|b| b.is_ascii_lowercase()),
        s.bytes().any(|b| b.is_ascii_digit()),
    )
}

/// A value that looks generated rather than written: mixed case with digits and high entropy,
/// or a long hex string.
pub fn looks_random(s: &str) -> bool {
    let (upper, lower, digit) = classes(s);
    let hex = s.len() >= 24
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && digit
        && s.bytes().any(|b| b.is_ascii_alphabetic());
    hex || (upper && lower && digit && entropy(s) >= 3.5)
}

/// A value right after a credential word that looks generated: as [`looks_random`], or
/// shorter (10+) with mixed case, digits and nearly every character different, or 16+ hex.
fn near_random(s: &str) -> bool {
    let (upper, lower, digit) = classes(s);
    let hex = s.len() >= 16
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && digit
        && s.bytes().any(|b| b.is_ascii_alphabetic());
    hex || looks_random(s)
        || (upper && lower && digit && entropy(s) >= (s.len() as f64).log2() * 0.85)
}

/// Letters only, as a word is written.
fn plain(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Replaces every match of `re` for which `keep` gives a replacement; `None` when nothing
/// changed.
fn replace_some(
    re: &Regex,
    s: &str,
    mut with: impl FnMut(&Captures) -> Option<String>,
) -> Option<String> {
    splice(
        s,
        re.captures_iter(s).filter_map(|c| {
            let r = with(&c)?;
            Some((c.get(0)?.range(), r))
        }),
    )
}

/// [`replace_some`] over ranges of `s` found otherwise.
fn replace_ranges(
    s: &str,
    found: &[std::ops::Range<usize>],
    mut with: impl FnMut(&str) -> Option<String>,
) -> Option<String> {
    splice(
        s,
        found
            .iter()
            .filter_map(|m| Some((m.clone(), with(&s[m.clone()])?))),
    )
}

/// `s` with each range (in order, apart) replaced by its text; `None` when there is none. The
/// text is only copied once something is replaced: most matches are kept (a path, a word that
/// is not a credential), and most texts have none.
fn splice(
    s: &str,
    edits: impl Iterator<Item = (std::ops::Range<usize>, String)>,
) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    let mut changed = false;
    for (m, r) in edits {
        changed = true;
        out.push_str(&s[last..m.start]);
        out.push_str(&r);
        last = m.end;
    }
    changed.then(|| {
        out.push_str(&s[last..]);
        out
    })
}

/// Shortest run of base64 characters taken for a blob.
const BLOB_MIN: usize = 40;

/// Whether `b` is a character of a blob (standard or URL-safe base64, padding aside).
fn in_blob(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-')
}

/// The blobs of `s`: each run of [`BLOB_MIN`] or more base64 characters, with up to two `=`
/// after it — what `[A-Za-z0-9+/_\-]{40,}={0,2}` finds, found without an automaton. A run
/// that long must cover the byte `BLOB_MIN - 1` on from where it could start, so the scan
/// looks there first and, at a byte outside the class, skips past it: most text is read a
/// byte in a few.
fn blob_ranges(s: &str) -> Vec<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while from + BLOB_MIN <= b.len() {
        let last = from + BLOB_MIN - 1;
        match (from..=last).rev().find(|&k| !in_blob(b[k])) {
            Some(k) => from = k + 1,
            None => {
                let mut end = last + 1;
                while end < b.len() && in_blob(b[end]) {
                    end += 1;
                }
                let pad = b[end..].iter().take(2).take_while(|&&x| x == b'=').count();
                found.push(from..end + pad);
                from = end + pad;
            }
        }
    }
    found
}

/// The detectors that are always on: long random-looking runs of base64 (key material, cloud
/// keys) anywhere, paths (`/api/users/…`, a segment in plain lowercase letters) left alone;
/// and, near credential words, `Basic` credentials and random-looking values.
#[derive(Clone)]
pub struct Credentials {
    basic: Guarded,
    near_word: Guarded,
}

impl Default for Credentials {
    fn default() -> Credentials {
        Credentials {
            basic: Guarded::new(
                Regex::new(r"(?i)(?-u:\b)(basic)([ \t]+)([A-Za-z0-9+/]{6,}={0,2})").unwrap(),
            ),
            near_word: Guarded::new(Regex::new(
                r"(?i)(?-u:\b)((?:token|secret|password|passwd|passphrase|credentials?|api[ _-]?key|key|auth|bearer)[ \t]+(?:[a-z]{1,8}[ \t]+){0,2})([A-Za-z0-9+/=_.~\-]{10,})",
            )
            .unwrap()),
        }
    }
}

impl Credentials {
    /// Every always-on detector, in order.
    /// The detectors that need a credential word nearby (`Basic`, `token …`).
    pub fn near_words(&self, s: &str) -> Option<String> {
        let basic = self.basic(s);
        let t = basic.as_deref().unwrap_or(s);
        self.near_word(t).or(basic)
    }

    /// Long random-looking blobs (see [`blob_ranges`]).
    pub fn blobs(&self, s: &str) -> Option<String> {
        replace_ranges(s, &blob_ranges(s), |v| {
            let opaque = |v: &str| {
                let (upper, lower, digit) = classes(v);
                upper && lower && digit && entropy(v) >= 4.0
            };
            let path = v
                .split(['/', '-', '_'])
                .any(|seg| seg.len() >= 3 && seg.bytes().all(|b| b.is_ascii_lowercase()));
            if !path {
                return opaque(v).then(|| "[REDACTED:opaque]".to_string());
            }
            // A path (`/api/webhooks/…/<token>`): each long segment judged on its own (most
            // paths have none, and are not copied).
            let secret = |seg: &str| seg.len() >= 20 && opaque(seg);
            if !v.split('/').any(secret) {
                return None;
            }
            let out: Vec<&str> = v
                .split('/')
                .map(|seg| {
                    if secret(seg) {
                        "[REDACTED:opaque]"
                    } else {
                        seg
                    }
                })
                .collect();
            Some(out.join("/"))
        })
    }

    /// `Basic <base64>` whose decoding is `user:password`, or that has a digit or `+`/`/`.
    fn basic(&self, s: &str) -> Option<String> {
        if !self.basic.is_match(s) {
            return None;
        }
        replace_some(&self.basic.re, s, |c| {
            let b64 = &c[3];
            let symbolic = b64
                .bytes()
                .any(|b| b.is_ascii_digit() || b == b'+' || b == b'/');
            let pair = decode_base64(b64)
                .is_some_and(|d| d.contains(&b':') && d.iter().all(|b| (0x20..0x7f).contains(b)));
            (symbolic || pair).then(|| format!("{}{}{REDACTED}", &c[1], &c[2]))
        })
    }

    /// `token 8f3KpQ2x…`, `secret is Xk9f…`: a random-looking value right after a credential
    /// word, with no `=` or `:` between.
    fn near_word(&self, s: &str) -> Option<String> {
        if !self.near_word.is_match(s) {
            return None;
        }
        replace_some(&self.near_word.re, s, |c| {
            let v = c[2].trim_end_matches(['.', '-', ';', ',']);
            // Right after the word, a long hex value is a credential (`token 4f9a…`); a few
            // words on (`token for trace 4bf9…`) it takes mixed case to be one.
            let adjacent = c[1].split_whitespace().count() == 1;
            let random = if adjacent {
                near_random(v)
            } else {
                let (upper, lower, digit) = classes(v);
                upper && lower && digit && entropy(v) >= 3.5
            };
            // `Bearer authentication header`: a word, not a token (a token of letters only
            // is longer than words are).
            let bearer = c[1].trim().eq_ignore_ascii_case("bearer");
            let bearer_word = bearer && plain(v) && v.len() < 20;
            let random = random || (bearer && !bearer_word && v.len() >= 12);
            (random && !bearer_word).then(|| format!("{}{REDACTED}", &c[1]))
        })
    }
}

/// Standard or URL-safe base64, padding optional; `None` when it is not base64.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Personal data: card numbers, phone numbers, public IP addresses.
#[derive(Clone)]
pub struct Personal {
    /// The value of a field named like a phone number (`mobile=9876543210`).
    phone_key: Regex,
    card: Regex,
    phone: Regex,
    ipv4: Regex,
    ipv6: Regex,
}

impl Default for Personal {
    fn default() -> Personal {
        Personal {
            phone_key: Regex::new(
                r#"(?i)(?-u:\b)((?:phone|mobile|tel|telephone|msisdn|cell|fax)(?:[_-]?(?:number|no))?\\?["']?[ \t]*(?:[:=]>?)[ \t]*\\?["']?)(\+?[0-9][0-9 ().-]{5,}[0-9])"#,
            )
            .unwrap(),
            card: Regex::new(r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)").unwrap(),
            phone: Regex::new(
                r"(?-u)(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4}|\b0\d{1,4}[ .-]\d{3,4}[ .-]\d{3,4}|\b0\d{2,4}[ .-]?\d{6,8}|\b0\d(?:[ .]\d{2}){4})\b",
            )
            .unwrap(),
            ipv4: Regex::new(r"(?-u)\b(?:\d{1,3}\.){3}\d{1,3}\b").unwrap(),
            ipv6: Regex::new(r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}").unwrap(),
        }
    }
}

impl Personal {
    pub fn redact(&self, s: &str) -> Option<String> {
        if !s.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut out: Option<String> = None;
        for step in [Self::phone_keys, Self::cards, Self::phones, Self::ips] {
            if let Some(t) = step(self, out.as_deref().unwrap_or(s)) {
                out = Some(t);
            }
        }
        out
    }

    fn phone_keys(&self, s: &str) -> Option<String> {
        replace_some(&self.phone_key, s, |c| {
            let digits = c[2].bytes().filter(u8::is_ascii_digit).count();
            (7..=15)
                .contains(&digits)
                .then(|| format!("{}[REDACTED:phone]", &c[1]))
        })
    }

    fn cards(&self, s: &str) -> Option<String> {
        replace_some(&self.card, s, |c| {
            let digits: Vec<u8> = c[0]
                .bytes()
                .filter(u8::is_ascii_digit)
                .map(|b| b - b'0')
                .collect();
            card_number(&digits).then(|| "[REDACTED:card]".to_string())
        })
    }

    fn phones(&self, s: &str) -> Option<String> {
        replace_some(&self.phone, s, |c| {
            let m = c.get(0).unwrap();
            let before = s[..m.start()].chars().next_back();
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == '.' || b == '-') {
                return None;
            }
            let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
            (8..=15)
                .contains(&digits)
                .then(|| "[REDACTED:phone]".to_string())
        })
    }

    fn ips(&self, s: &str) -> Option<String> {
        let v4 = replace_some(&self.ipv4, s, |c| {
            let m = c.get(0).unwrap();
            let hay = s;
            let before = hay[..m.start()].chars().next_back();
            let after = &hay[m.end()..];
            // `Chrome/120.0.0.0`: a product's version (a `/` right after a name); Java's
            // `/198.51.100.7` is an address.
            let product = before == Some('/')
                && hay[..m.start() - 1]
                    .chars()
                    .next_back()
                    .is_some_and(|b| b.is_ascii_alphanumeric());
            let version = product
                || before.is_some_and(|b| b == '.' || b.is_ascii_alphanumeric())
                || (after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit()));
            let ip: Ipv4Addr = m.as_str().parse().ok()?;
            (!version && public_v4(ip)).then(|| "[REDACTED:ip]".to_string())
        });
        let s2 = v4.as_deref().unwrap_or(s);
        let v6 = replace_some(&self.ipv6, s2, |c| {
            let m = c.get(0).unwrap();
            let word = |ch: Option<char>| ch.is_some_and(|x| x.is_ascii_alphanumeric());
            // `base::debug`, `h1::decode`: a path, not an address.
            if word(s2[..m.start()].chars().next_back()) || word(s2[m.end()..].chars().next()) {
                return None;
            }
            let ip: Ipv6Addr = c[0].parse().ok()?;
            public_v6(ip).then(|| "[REDACTED:ip]".to_string())
        });
        v6.or(v4)
    }
}

/// 13 to 19 digits with a card network's prefix and a valid Luhn check digit.
fn card_number(d: &[u8]) -> bool {
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let prefix = |n: usize| d[..n].iter().fold(0u32, |a, &x| a * 10 + x as u32);
    let network = d[0] == 4
        || (51..=55).contains(&prefix(2))
        || (2221..=2720).contains(&prefix(4))
        || matches!(prefix(2), 34 | 37 | 35 | 36 | 62 | 65)
        || prefix(4) == 6011
        || (300..=305).contains(&prefix(3));
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = x as u32;
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    network && sum % 10 == 0
}

/// A client's address, not infrastructure: not private, loopback, link-local, unspecified or
/// broadcast.
fn public_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.octets()[0] == 0
        || ip.octets()[0] >= 224)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xffc0) == 0xfe80
        || (first & 0xfe00) == 0xfc00
        || ip.segments().iter().filter(|&&s| s != 0).count() < 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The blobs found by the scan are the matches of the expression they stand for.
        #[test]
        fn blob_ranges_are_the_expression_s_matches(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    "[A-Za-z0-9+/_-]{0,60}",
                    "[=]{0,3}",
                    "[ .:=é\n]{0,3}",
                ],
                0..12,
            )
        ) {
            let s = parts.concat();
            let re = Regex::new(r"[A-Za-z0-9+/_\-]{40,}={0,2}").unwrap();
            let want: Vec<_> = re.find_iter(&s).map(|m| m.range()).collect();
            proptest::prop_assert_eq!(blob_ranges(&s), want);
        }
    }

    fn both(c: &Credentials, s: &str) -> Option<String> {
        let near = c.near_words(s);
        c.blobs(near.as_deref().unwrap_or(s)).or(near)
    }

    #[test]
    fn basic_credentials_are_found_by_decoding() {
        let c = Credentials::default();
        // base64("admin:letmein"): no digit, no + or /.
        let s = "Authorization: Basic YWRtaW46bGV0bWVpbg== from proxy";
        assert_eq!(
            both(&c, s).unwrap(),
            "Authorization: Basic [REDACTED] from proxy"
        );
        assert_eq!(both(&c, "basic authentication is enabled"), None);
    }

    #[test]
    fn random_values_next_to_credential_words() {
        let c = Credentials::default();
        assert_eq!(
            both(&c, "using token 8f3KpQ2xZ7vLmN9wR4tY6uB1 for sync").unwrap(),
            "using token [REDACTED] for sync"
        );
        for same in [
            "token refresh scheduled in 30s",
            "secret not found in Secret Manager",
            "GET /api/threads/abcdefghijklmnop/messages/0123456789ABCDEFxyz",
        ] {
            assert_eq!(both(&c, same), None, "{same}");
        }
        let line = "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MaKv1e3Rk8YQc9Pr";
        assert_eq!(both(&c, line).unwrap(), "[REDACTED:opaque]");
    }

    #[test]
    fn personal_data() {
        let p = Personal::default();
        let r = |s: &str| p.redact(s).unwrap_or_else(|| s.to_string());
        assert_eq!(
            r("card 4111 1111 1111 1111 declined"),
            "card [REDACTED:card] declined"
        );
        assert_eq!(
            r("card 4111 1111 1111 1112 ok"),
            "card 4111 1111 1111 1112 ok"
        );
        assert_eq!(r("call +1 415-555-0132 now"), "call [REDACTED:phone] now");
        assert_eq!(
            r("lookup mobile=9876543210 ok"),
            "lookup mobile=[REDACTED:phone] ok"
        );
        assert_eq!(
            r("from 203.0.113.45 via 10.0.0.2"),
            "from [REDACTED:ip] via 10.0.0.2"
        );
        assert_eq!(
            r("client 2001:db8:85a3::8a2e:370:7334"),
            "client [REDACTED:ip]"
        );
        for same in [
            "gunicorn 23.0.0 at 2025-09-16 00:41:17 +0000",
            "took 1234 ms at 12:30:45",
            "version 1.2.3.4.5",
            "listening on 127.0.0.1:8080 and ::1",
            "nanos 1757980800123456789",
        ] {
            assert_eq!(r(same), same);
        }
    }
}
