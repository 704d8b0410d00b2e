//! Credential key names, and the values that follow them in text.
//!
//! A key names a credential when its last words (split at `_`, `-`, `.` and camelCase) are one
//! of the pack's `secret_keys` (`password`, `api key`, `private key id`...): `db_password`,
//! `X-Api-Key`, `aws_secret_access_key`, `AccountKey` and `refresh_token` do; `max_tokens`,
//! `bypass` and `token_count` do not. A key word of five letters or more also matches as the
//! end of one word (`dbpassword`, `accesstoken`). `query_keys` (`key`, `sig`, `code`) name
//! credentials only as URL query parameters (`?key=`, `&sig=`).
//!
//! The value after such a key is found in `key=value`, `key: value`, `"key": "value"`,
//! `{\"key\": \"value\"}`, `key => 'value'` and query strings; a quoted value is taken whole
//! (`password="two words"`). What is left alone: placeholders and what redaction already left,
//! a few status words (`null`, `expired`...), and prose: `secret: not found in Secret Manager`
//! (a `key: ` followed by plain words is a sentence, not an assignment).

use super::REDACTED;

/// Credential key names as lists of lowercase words, each with its words run together.
#[derive(Clone)]
pub struct KeyWords {
    anywhere: Vec<(Vec<String>, String)>,
    query: Vec<(Vec<String>, String)>,
}

impl KeyWords {
    pub fn new(secret_keys: &[String], query_keys: &[String]) -> KeyWords {
        let words = |list: &[String]| -> Vec<(Vec<String>, String)> {
            list.iter()
                .map(|k| split_words(k))
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let joined = w.concat();
                    (w, joined)
                })
                .collect()
        };
        KeyWords {
            anywhere: words(secret_keys),
            query: words(query_keys),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.anywhere.is_empty() && self.query.is_empty()
    }

    /// Whether `key` names a credential (`in_query`: it is a URL query parameter).
    pub fn is_secret(&self, key: &str, in_query: bool) -> bool {
        let mut words = split_words(key);
        // Qualifiers after the credential word: `DB_PASSWORD_PROD`, `JWT_SECRET_OLD`,
        // `password2`, `token_value`, `SECRET_KEY_BASE`.
        while words.len() > 1
            && words.last().is_some_and(|w| {
                QUALIFIERS.contains(&w.as_str()) || w.bytes().all(|b| b.is_ascii_digit())
            })
        {
            words.pop();
        }
        if let Some(last) = words.last_mut() {
            let trimmed = last.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            if trimmed > 0 {
                last.truncate(trimmed);
            }
        }
        if words.is_empty() {
            return false;
        }
        let hit = |list: &[(Vec<String>, String)]| {
            list.iter().any(|(e, joined)| ends_with(&words, e, joined))
        };
        hit(&self.anywhere) || (in_query && hit(&self.query))
    }
}

/// `db_password` → [db, password]; `X-Api-Key` → [x, api, key]; `APIKey` → [api, key].
pub fn split_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = key.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_ascii_uppercase()
            && match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
        if boundary && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// The key's last words are `entry`, or (for entries of five letters or more) its last word
/// ends with the entry's words run together.
fn ends_with(words: &[String], entry: &[String], joined: &str) -> bool {
    if words.len() >= entry.len() && words[words.len() - entry.len()..] == *entry {
        return true;
    }
    joined.len() >= 5 && words.last().is_some_and(|w| w.ends_with(joined))
}

/// Words after a credential word that still name the credential (`DB_PASSWORD_PROD`).
const QUALIFIERS: [&str; 16] = [
    "prod",
    "production",
    "dev",
    "staging",
    "test",
    "old",
    "new",
    "prev",
    "previous",
    "next",
    "current",
    "base",
    "value",
    "hash",
    "b64",
    "raw",
];

/// Values after a credential key that are no secret.
const HARMLESS: [&str; 18] = [
    "yes",
    "no",
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "empty",
    "missing",
    "expired",
    "invalid",
    "required",
    "unset",
    "redacted",
    "hidden",
    "masked",
    "***",
];

/// Authorization schemes: in `Authorization: Bearer xyz` the secret is the word after them.
const SCHEMES: [&str; 9] = [
    "bearer",
    "basic",
    "digest",
    "token",
    "negotiate",
    "ntlm",
    "apikey",
    "key",
    "aws4-hmac-sha256",
];

/// A value that needs no redaction: a placeholder, or what redaction left (an unquoted value
/// stops before `]`, so `[REDACTED]` is seen as `[REDACTED`).
pub fn already_safe(value: &str) -> bool {
    let v = value.trim_start_matches('[');
    value.is_empty()
        || value == "<*>"
        || value.contains("<*>")
        || v.starts_with("REDACTED")
        || value.starts_with("***")
        || HARMLESS.iter().any(|h| value.eq_ignore_ascii_case(h))
}

/// Finds credential keys and their values in text.
#[derive(Clone)]
pub struct KeyValues {
    pub words: KeyWords,
}

/// A key and the separator after it (`password` and `=`, `"token"` and `": `).
struct Pair {
    key: std::ops::Range<usize>,
    sep: std::ops::Range<usize>,
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// The next `key<sep>` at or after `from`: a separator (`=`, `:`, `=>`, with blanks around and
/// the key's closing quote, plain or escaped, before it) found with `memchr`, and the key walked
/// back from it (key characters, starting with a letter or `_`, at most 64). No regex: this
/// runs on every text that may hold a credential.
fn next_pair(s: &str, from: usize) -> Option<Pair> {
    let b = s.as_bytes();
    let mut at = from;
    while let Some(off) = memchr::memchr2(b'=', b':', &b[at..]) {
        let j = at + off;
        at = j + 1;
        let mut k = j;
        while k > from && matches!(b[k - 1], b' ' | b'\t') {
            k -= 1;
        }
        if k > from && matches!(b[k - 1], b'"' | b'\'') {
            k -= 1;
            if k > from && b[k - 1] == b'\\' {
                k -= 1;
            }
        }
        let (sep_start, key_end) = (k, k);
        while k > from && is_key_byte(b[k - 1]) {
            k -= 1;
        }
        while k < key_end && !(b[k].is_ascii_alphabetic() || b[k] == b'_') {
            k += 1;
        }
        if k == key_end || key_end - k > 64 {
            continue;
        }
        let mut e = j + 1;
        if b[j] == b'=' && b.get(e) == Some(&b'>') {
            e += 1;
        }
        while matches!(b.get(e), Some(b' ' | b'\t')) {
            e += 1;
        }
        return Some(Pair {
            key: k..key_end,
            sep: sep_start..e,
        });
    }
    None
}

/// How a value is delimited.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Plain(char),
    /// `\"` inside a JSON string.
    Escaped,
}

impl KeyValues {
    pub fn new(words: KeyWords) -> KeyValues {
        KeyValues { words }
    }

    /// The text with every credential value replaced; `None` when nothing changed.
    pub fn redact(&self, s: &str) -> Option<String> {
        let mut out = String::new();
        let mut secrets: Vec<&str> = Vec::new();
        let mut copied = 0;
        let mut pos = 0;
        while let Some(pair) = next_pair(s, pos) {
            let (key, sep) = (&s[pair.key.clone()], &s[pair.sep.clone()]);
            pos = pair.sep.end.max(pos + 1);
            let pre = s[..pair.key.start].chars().next_back();
            // `http://auth:8080/`: a host and its port.
            if s[..pair.key.start].ends_with("//") {
                continue;
            }
            let in_query = pre == Some('?') || pre == Some('&');
            if !self.words.is_secret(key, in_query) {
                continue;
            }
            let Some((start, end, quote)) = value_span(s, pair.sep.end, in_query) else {
                continue;
            };
            let (start, end) = match self.secret_span(s, sep, start, end, quote) {
                Some(span) => span,
                None => {
                    pos = end.max(pos);
                    continue;
                }
            };
            out.push_str(&s[copied..start]);
            out.push_str(REDACTED);
            secrets.push(&s[start..end]);
            copied = end;
            pos = end.max(pos);
        }
        if copied == 0 {
            return None;
        }
        out.push_str(&s[copied..]);
        // A value once known for a secret is redacted wherever else it shows
        // (`private-token f8e2… is not valid: PRIVATE-TOKEN=f8e2…`).
        for v in secrets.iter().filter(|v| v.len() >= 6) {
            if out.contains(*v) {
                out = out.replace(*v, REDACTED);
            }
        }
        Some(out)
    }

    /// The part of a value to redact, or `None` when it is no secret.
    fn secret_span(
        &self,
        s: &str,
        sep: &str,
        start: usize,
        end: usize,
        quote: Quote,
    ) -> Option<(usize, usize)> {
        let value = &s[start..end];
        if already_safe(value) {
            return None;
        }
        if quote == Quote::None && SCHEMES.iter().any(|k| value.eq_ignore_ascii_case(k)) {
            // `Authorization: Bearer xyz`: the credential is the next word.
            let rest = &s[end..];
            let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            if gap == 0 {
                return None;
            }
            let (ns, ne, _) = value_span(s, end + gap, false)?;
            // `jwt: token verification failed` is a sentence.
            let next = &s[ns..ne];
            return (!already_safe(next) && !plain_word(next)).then_some((ns, ne));
        }
        if quote == Quote::None && is_prose(sep, value, &s[end..]) {
            return None;
        }
        if quote == Quote::None {
            return Some((start, end + lost_quote_tail(&s[end..])));
        }
        Some((start, end))
    }
}

/// The rest of a quoted value whose opening quote is lost (`password=two words"`, as a
/// template can read): up to three more words, the last ending in an unmatched quote, none
/// holding `=` or `:`. Its length in bytes, 0 when there is none.
fn lost_quote_tail(rest: &str) -> usize {
    let mut at = 0;
    for _ in 0..3 {
        let r = &rest[at..];
        let gap = r.len() - r.trim_start_matches(' ').len();
        if gap == 0 {
            return 0;
        }
        let len = r[gap..].find(char::is_whitespace).unwrap_or(r.len() - gap);
        let w = &r[gap..gap + len];
        if w.is_empty() || w.contains(['=', ':']) {
            return 0;
        }
        at += gap + len;
        if w.ends_with(['"', '\'']) {
            return at - 1;
        }
    }
    0
}

/// `key: word word…` is a sentence (`secret: not found`, `password: field is empty`), not an
/// assignment: the separator is a colon and a space, and the value and what follows it are
/// plain words.
fn is_prose(sep: &str, value: &str, rest: &str) -> bool {
    if sep.contains('=') || sep.contains('"') || sep.contains('\'') || !sep.ends_with([' ', '\t']) {
        return false;
    }
    let next = rest
        .strip_prefix(' ')
        .map(|r| r.split([' ', '\t', '\n']).next().unwrap_or(""));
    // `auth: 3 attempts left`, `pass: 10, fail: 2`: a count, not a secret.
    let count = value.len() <= 4 && value.bytes().all(|b| b.is_ascii_digit());
    (plain_word(value) || count)
        && next.is_some_and(|w| plain_word(w.trim_end_matches([',', '.', ';', ':'])))
}

/// A word as prose has it: lowercase, Capitalized or ALL CAPS letters.
fn plain_word(w: &str) -> bool {
    let mut chars = w.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let rest: String = chars.collect();
    first.is_ascii_alphabetic()
        && rest.chars().all(|c| c.is_ascii_alphabetic())
        && (rest.chars().all(|c| c.is_ascii_lowercase())
            || rest.chars().all(|c| c.is_ascii_uppercase()))
}

/// The value that starts at `at`: quoted (taken whole, to the closing quote or the end of
/// the line) or unquoted (to whitespace or a delimiter; `&` only in a query string).
fn value_span(s: &str, at: usize, query: bool) -> Option<(usize, usize, Quote)> {
    let rest = &s[at..];
    let (quote, open) = if rest.starts_with("\\\"") {
        (Quote::Escaped, 2)
    } else if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        (Quote::Plain(q), 1)
    } else {
        (Quote::None, 0)
    };
    let start = at + open;
    let body = &s[start..];
    let len = match quote {
        Quote::Escaped => body.find("\\\"").unwrap_or_else(|| line_end(body)),
        Quote::Plain(q) => closing(body, q).unwrap_or_else(|| line_end(body)),
        Quote::None => body
            .find(|c: char| c.is_whitespace() || ",;)}]\"\\".contains(c) || (c == '&' && query))
            .unwrap_or(body.len()),
    };
    (len > 0).then_some((start, start + len, quote))
}

/// The first `q` not escaped by a backslash.
fn closing(body: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == q && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn line_end(s: &str) -> usize {
    s.find(['\n', '\r']).unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv() -> KeyValues {
        let s = |l: &[&str]| l.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        KeyValues::new(KeyWords::new(
            &s(&[
                "password",
                "pass",
                "secret",
                "token",
                "api key",
                "access key",
                "auth",
                "authorization",
            ]),
            &s(&["key", "sig"]),
        ))
    }

    #[test]
    fn words_of_keys() {
        assert_eq!(split_words("db_password"), ["db", "password"]);
        assert_eq!(split_words("X-Api-Key"), ["x", "api", "key"]);
        assert_eq!(split_words("APIKey"), ["api", "key"]);
        assert_eq!(
            split_words("aws_secret_access_key"),
            ["aws", "secret", "access", "key"]
        );
        let k = kv().words;
        for yes in [
            "db_password",
            "X-Api-Key",
            "accessToken",
            "dbpassword",
            "pass",
            "auth",
        ] {
            assert!(k.is_secret(yes, false), "{yes}");
        }
        for no in [
            "max_tokens",
            "bypass",
            "token_count",
            "oauth",
            "key",
            "compass",
        ] {
            assert!(!k.is_secret(no, false), "{no}");
        }
        assert!(k.is_secret("key", true) && k.is_secret("sig", true));
    }

    #[test]
    fn values_in_every_syntax() {
        let k = kv();
        let r = |s: &str| k.redact(s).unwrap_or_else(|| s.to_string());
        assert_eq!(
            r("password=hunter2 user=bob"),
            "password=[REDACTED] user=bob"
        );
        assert_eq!(
            r(r#"password="two words" ok"#),
            r#"password="[REDACTED]" ok"#
        );
        assert_eq!(
            r(r#"{\"token\": \"abc def\"}"#),
            r#"{\"token\": \"[REDACTED]\"}"#
        );
        assert_eq!(
            r("GET /x?a=1&key=abcdef&sig=xyz"),
            "GET /x?a=1&key=[REDACTED]&sig=[REDACTED]"
        );
        assert_eq!(
            r("Authorization: Bearer abc.def"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(r("pass=p@ss;x"), "pass=[REDACTED];x");
        assert_eq!(
            r("dump --password=x*Y1#z --all"),
            "dump --password=[REDACTED] --all"
        );
        assert_eq!(
            r(r#"password=two words" ok=1"#),
            r#"password=[REDACTED]" ok=1"#
        );
        for same in [
            "secret: not found in Secret Manager",
            "password: field is empty",
            "password=<*>",
            "password=[REDACTED]",
            "token: null",
            "max_tokens=4096",
            "cache key=user:42",
        ] {
            assert_eq!(r(same), same);
        }
    }
}
