//! Time helpers: RFC 3339 timestamps (0–9 fraction digits) to Unix nanoseconds and back, and
//! human durations (`5m`, `1h`, `24h`, `90s`, `2d`). Hand-written because the parse sits on the
//! hot path (one call per entry) and needs no time-zone database: Cloud Logging always writes UTC
//! (`Z`), and numeric offsets are handled too.

/// Nanoseconds per second: times in the pipeline are Unix nanoseconds (one definition for
/// every module).
pub const NANOS: i64 = 1_000_000_000;
const NANOS_PER_SEC: i64 = NANOS;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    let mut v = 0i64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(v)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.f{0,9}](Z|±HH:MM)` into Unix nanoseconds. A space may stand for
/// `T`, and `t`/`z` may be lower case. Returns `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (h, mi, se) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac = frac * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            frac *= 10;
        }
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let v = digits(b, i + 1, 2)? * 3600 + digits(b, i + 4, 2)? * 60;
            if *sign == b'+' { v } else { -v }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(frac)
}

/// Formats Unix nanoseconds as RFC 3339 UTC with microseconds: `2025-09-14T02:57:03.399376Z`.
pub fn format_rfc3339(nanos: i64) -> String {
    write_rfc3339(nanos, &mut [0; RFC3339_LEN]).to_string()
}

/// Length of [`format_rfc3339`]'s output.
pub const RFC3339_LEN: usize = 27;

/// [`format_rfc3339`] into a stack buffer, without allocating (the JSON report writes hundreds
/// of thousands of series keys). Unix nanoseconds in an `i64` span the years 1677 to 2262, so
/// the year always has four digits.
pub fn write_rfc3339(nanos: i64, buf: &mut [u8; RFC3339_LEN]) -> &str {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let micros = nanos.rem_euclid(NANOS_PER_SEC) / 1000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, t / 3600);
    put(14, 2, t / 60 % 60);
    put(17, 2, t % 60);
    put(20, 6, micros);
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        buf[at] = c;
    }
    std::str::from_utf8(buf).expect("ASCII digits and separators only")
}

/// Formats Unix nanoseconds to the second, for headings: `2025-09-14 02:57:03 UTC`.
pub fn format_short(nanos: i64) -> String {
    let s = format_rfc3339(nanos);
    format!("{} {} UTC", &s[..10], &s[11..19])
}

/// Parses a duration such as `90s`, `5m`, `1h`, `24h`, `2d` (or a plain number of seconds) into
/// seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: i64 = t[..split].parse().ok()?;
    let unit = match t[split..].trim() {
        "" | "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hr" | "hrs" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit).filter(|&v| v > 0)
}

/// A point in time: Unix nanoseconds, UTC (event times of entries, first and last seen of
/// clusters). Serialized as the bare number, as before it had a type; written out with [`Timestamp::rfc3339`].
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Nanoseconds since the Unix epoch.
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down, also before 1970).
    pub fn secs(self) -> i64 {
        self.0.div_euclid(NANOS)
    }

    /// RFC 3339 with nanoseconds, as Cloud Logging writes it.
    pub fn rfc3339(self) -> String {
        format_rfc3339(self.0)
    }

    /// Parses RFC 3339 (0–9 fraction digits, `Z` or an offset).
    pub fn parse(s: &str) -> Option<Timestamp> {
        parse_rfc3339(s).map(Timestamp)
    }
}

/// A length of time as the configuration writes it (`90s`, `5m`, `1h`, `2d`, or a number of
/// seconds), with the text kept as written (window names in reports are that text).
///
/// Read leniently: text that is no duration is kept, and [`crate::config::Config::check`]
/// refuses it with every other problem of the file at once, naming the key. Past that check,
/// [`Span::secs`] is the length; code never parses duration strings itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    text: String,
    secs: Option<i64>,
}

impl Span {
    /// The span `text` names (zero included); see [`Span::is_valid`].
    pub fn new(text: &str) -> Span {
        Span {
            secs: parse_span(text),
            text: text.to_string(),
        }
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the text is a duration (of zero or more seconds).
    pub fn is_valid(&self) -> bool {
        self.secs.is_some()
    }

    /// Whether the text is a duration of at least one second.
    pub fn is_positive(&self) -> bool {
        self.secs.is_some_and(|s| s > 0)
    }

    /// Length in seconds (0 for text that is no duration, which the configuration check
    /// refuses before anything runs).
    pub fn secs(&self) -> i64 {
        self.secs.unwrap_or(0)
    }

    /// Length in nanoseconds, saturating.
    pub fn nanos(&self) -> i64 {
        self.secs().saturating_mul(NANOS)
    }

    /// Length as a `std::time::Duration`.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.secs().max(0) as u64)
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Span;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration such as 90s, 5m, 1h, 2d")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
                Ok(Span::new(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span::new(&v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Span, E> {
                Ok(Span::new(&v.to_string()))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// [`parse_duration`], zero allowed.
fn parse_span(s: &str) -> Option<i64> {
    let t = s.trim();
    let zero = t.trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim();
    if !zero.is_empty() && zero.bytes().all(|b| b == b'0') {
        let unit = t[zero.len()..].trim();
        return matches!(
            unit,
            "" | "s"
                | "sec"
                | "secs"
                | "m"
                | "min"
                | "mins"
                | "h"
                | "hr"
                | "hrs"
                | "d"
                | "day"
                | "days"
                | "w"
        )
        .then_some(0);
    }
    parse_duration(t)
}

/// Formats seconds back as the shortest unit that divides them: 300 → `5m`.
pub fn format_duration(secs: i64) -> String {
    for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m")] {
        if secs % unit == 0 {
            return format!("{}{name}", secs / unit);
        }
    }
    format!("{secs}s")
}

/// Parses a Cloud Logging latency such as `"0.002803s"` into microseconds.
pub fn parse_latency_us(s: &str) -> Option<u64> {
    let t = s.strip_suffix('s')?;
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut us = 0u64;
    for (i, c) in frac.bytes().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        if i < 6 {
            us = us * 10 + (c - b'0') as u64;
        }
    }
    for _ in frac.len()..6 {
        us *= 10;
    }
    whole.checked_mul(1_000_000)?.checked_add(us)
}

/// The start (Unix seconds, aligned to the epoch) of the bucket holding second `sec`.
pub fn bucket_start(sec: i64, bucket: i64) -> i64 {
    sec.div_euclid(bucket) * bucket
}

/// The oldest bucket start kept for a reference time (Unix nanoseconds): `max_buckets` buckets
/// ending with the reference's own bucket.
pub fn series_floor(reference: i64, bucket: i64, max_buckets: usize) -> i64 {
    bucket_start(reference.div_euclid(NANOS_PER_SEC), bucket)
        .saturating_sub((max_buckets as i64 - 1).max(0).saturating_mul(bucket))
}

/// The clock, in Unix nanoseconds.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_rfc3339_matches_the_formatted_one() {
        // Epoch, leap days, the last microsecond of a year, pre-1970, the extremes, and a
        // spread of times.
        let mut cases = vec![
            0,
            -1,
            951_782_400_000_000_000,
            1_709_164_800_123_456_789,
            1_735_689_599_999_999_999,
            // Unix nanoseconds in an i64 span the years 1677 to 2262.
            i64::MIN,
            i64::MAX,
        ];
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x.rem_euclid(4_000_000_000_000_000_000));
        }
        for n in cases {
            // The same fields through `format!`, as a reference.
            let secs = n.div_euclid(NANOS_PER_SEC);
            let micros = n.rem_euclid(NANOS_PER_SEC) / 1000;
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            let t = secs.rem_euclid(86_400);
            let reference = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
                t / 3600,
                t / 60 % 60,
                t % 60
            );
            assert_eq!(format_rfc3339(n), reference, "{n}");
        }
    }

    #[test]
    fn parses_every_fraction_width() {
        let base = parse_rfc3339("2025-09-14T02:57:03Z").unwrap();
        assert_eq!(base, 1_757_818_623 * NANOS_PER_SEC);
        assert_eq!(
            parse_rfc3339("2025-09-14T02:57:03.5Z"),
            Some(base + 500_000_000)
        );
        assert_eq!(
            parse_rfc3339("2025-09-14T02:57:03.399376Z"),
            Some(base + 399_376_000)
        );
        assert_eq!(
            parse_rfc3339("2025-09-14T02:57:03.123456789Z"),
            Some(base + 123_456_789)
        );
        assert_eq!(
            parse_rfc3339("2025-09-14T02:57:03.399376+00:00"),
            Some(base + 399_376_000)
        );
        assert_eq!(parse_rfc3339("2025-09-14T04:57:03+02:00"), Some(base));
        assert_eq!(parse_rfc3339("2025-09-14T02:57:03"), None);
        assert_eq!(parse_rfc3339("2025-13-14T02:57:03Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("2025-09-14T02:57:03.Z"), None);
    }

    #[test]
    fn formats_round_trip() {
        for s in [
            "2025-09-14T02:57:03.399376Z",
            "1970-01-01T00:00:00.000000Z",
            "2000-02-29T23:59:59.999999Z",
            "1969-12-31T23:59:59.000001Z",
        ] {
            assert_eq!(format_rfc3339(parse_rfc3339(s).unwrap()), s);
        }
        assert_eq!(
            format_short(parse_rfc3339("2025-09-14T02:57:03.1Z").unwrap()),
            "2025-09-14 02:57:03 UTC"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300));
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("2d"), Some(172_800));
        assert_eq!(parse_duration("45"), Some(45));
        assert_eq!(parse_duration("0m"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(format_duration(300), "5m");
        assert_eq!(format_duration(86_400), "1d");
        assert_eq!(format_duration(90), "90s");
    }

    #[test]
    fn spans_keep_their_text_and_allow_zero() {
        let s = Span::new("90m");
        assert_eq!((s.secs(), s.text(), s.is_positive()), (5400, "90m", true));
        assert_eq!(Span::new("0s").secs(), 0);
        assert!(Span::new("0s").is_valid() && !Span::new("0s").is_positive());
        assert!(!Span::new("soon").is_valid());
        assert!(!Span::new("0 parsecs").is_valid());
        assert_eq!(Span::new("2d").nanos(), 172_800 * NANOS);
        let back: Span = serde_json::from_str("\"1h\"").unwrap();
        assert_eq!(back, Span::new("1h"));
        let n: Span = serde_json::from_str("45").unwrap();
        assert_eq!(n.secs(), 45);
        assert_eq!(serde_json::to_string(&Span::new("1h")).unwrap(), "\"1h\"");
    }

    #[test]
    fn latencies() {
        assert_eq!(parse_latency_us("0.002803s"), Some(2803));
        assert_eq!(parse_latency_us("1s"), Some(1_000_000));
        assert_eq!(parse_latency_us("1.5s"), Some(1_500_000));
        assert_eq!(parse_latency_us("0.000000123s"), Some(0));
        assert_eq!(parse_latency_us("fast"), None);
    }
}
