//! A cluster's request latencies: the values themselves while they are few, a histogram past
//! that.
//!
//! An hdrhistogram of two significant digits holds 128 counters for every doubling of the
//! range it covers: 15–20 KB for latencies up to a minute, however few were recorded. Most
//! clusters with requests have a few dozen of them, and the aggregate holds thousands of such
//! clusters (and the report a second copy of each), so the values are kept as they are
//! (4 bytes each) until there are [`FEW`] of them. Every count, percentile and serialized
//! form is computed from a histogram built of the same values, so it is the same as if the
//! histogram had been kept from the first value on.

use std::borrow::Cow;

use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

/// The longest latency a histogram tells apart, in µs (an hour); longer ones count as an hour.
/// It fits a `u32`, which is how few values are kept.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;

/// Values kept as they are before a histogram takes over (4 KB of them).
pub const FEW: usize = 1024;

/// An empty latency histogram: from 1 µs, two significant digits, up to [`LATENCY_MAX_US`].
/// It grows with the longest latency recorded: sized for an hour from the start it held 26 KB
/// of counters. The buckets depend only on the lowest value and the digits, so every value,
/// count and percentile is the same as in a histogram sized for an hour.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new(2).expect("2 significant digits is valid")
}

/// An empty latency histogram kept to ask where its buckets lie: a bucket's bounds are
/// arithmetic on the lowest value and the digits, the same in every latency histogram.
fn buckets() -> &'static Histogram<u64> {
    static BUCKETS: std::sync::OnceLock<Histogram<u64>> = std::sync::OnceLock::new();
    BUCKETS.get_or_init(latency_histogram)
}

/// Request latencies in µs, each clamped to `1..=LATENCY_MAX_US`.
#[derive(Clone, Debug)]
pub enum Latency {
    /// Fewer than [`FEW`] values, as recorded.
    Few(Vec<u32>),
    /// A histogram of them.
    Many(Box<Histogram<u64>>),
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Few(Vec::new())
    }
}

impl PartialEq for Latency {
    /// Equal when they hold the same counts (whatever the form).
    fn eq(&self, other: &Self) -> bool {
        *self.histogram() == *other.histogram()
    }
}

fn clamp(us: u64) -> u32 {
    us.clamp(1, LATENCY_MAX_US) as u32
}

impl Latency {
    /// Counts one request of `us` microseconds.
    pub fn record(&mut self, us: u64) {
        match self {
            Latency::Few(values) => {
                values.push(clamp(us));
                if values.len() >= FEW {
                    self.grow();
                }
            }
            // It grows to fit; it cannot fail below the clamp.
            Latency::Many(h) => {
                let _ = h.record(u64::from(clamp(us)));
            }
        }
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: Latency) {
        match (&mut *self, other) {
            (Latency::Few(a), Latency::Few(b)) => {
                if a.is_empty() {
                    *a = b;
                } else {
                    a.extend_from_slice(&b);
                }
                if a.len() >= FEW {
                    self.grow();
                }
            }
            (Latency::Many(a), b) => {
                let _ = a.add(&*b.histogram());
            }
            (a @ Latency::Few(_), Latency::Many(mut b)) => {
                let _ = b.add(&*a.histogram());
                *a = Latency::Many(b);
            }
        }
    }

    /// Requests counted.
    pub fn len(&self) -> u64 {
        match self {
            Latency::Few(values) => values.len() as u64,
            Latency::Many(h) => h.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at each quantile, as [`Histogram::value_at_quantile`] gives it (the highest
    /// value of the bucket the quantile falls in; 0 when empty), without building a histogram
    /// of few values.
    pub fn quantiles<const N: usize>(&self, quantiles: [f64; N]) -> [u64; N] {
        let Latency::Few(values) = self else {
            let h = self.histogram();
            return quantiles.map(|q| h.value_at_quantile(q));
        };
        let mut sorted = values.clone();
        sorted.sort_unstable();
        quantiles.map(|q| {
            // As hdrhistogram counts: the ceiling of the quantile's share, at least one.
            let q = q.min(1.0);
            let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
            sorted.get(rank - 1).map_or(0, |&v| {
                let v = u64::from(v);
                if q == 0.0 {
                    buckets().lowest_equivalent(v)
                } else {
                    buckets().highest_equivalent(v)
                }
            })
        })
    }

    /// The highest value recorded, as [`Histogram::max`] gives it (its bucket's highest; 0 when
    /// empty).
    pub fn max(&self) -> u64 {
        match self {
            Latency::Few(values) => values
                .iter()
                .max()
                .map_or(0, |&v| buckets().highest_equivalent(u64::from(v))),
            Latency::Many(h) => h.max(),
        }
    }

    /// The recorded buckets as `(highest value, count)`, lowest first, as the histogram's
    /// `iter_recorded` gives them.
    fn recorded(&self) -> Vec<(u64, u64)> {
        let Latency::Few(values) = self else {
            let h = self.histogram();
            return h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect();
        };
        let mut sorted = values.clone();
        sorted.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::new();
        for v in sorted {
            let top = buckets().highest_equivalent(u64::from(v));
            match out.last_mut() {
                Some((last, n)) if *last == top => *n += 1,
                _ => out.push((top, 1)),
            }
        }
        out
    }

    /// The counts as a histogram (built for the moment while the values are few).
    pub fn histogram(&self) -> Cow<'_, Histogram<u64>> {
        match self {
            Latency::Few(values) => {
                let mut h = latency_histogram();
                for &v in values {
                    let _ = h.record(u64::from(v));
                }
                Cow::Owned(h)
            }
            Latency::Many(h) => Cow::Borrowed(h),
        }
    }

    /// Trades the values for a histogram.
    fn grow(&mut self) {
        if let Latency::Few(_) = self {
            let h = self.histogram().into_owned();
            *self = Latency::Many(Box::new(h));
        }
    }
}

/// As the histogram's recorded `[[value, count], ...]`, whatever the form.
impl Serialize for Latency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.recorded())
    }
}

/// From `[[value, count], ...]`: each value re-recorded `count` times, into the same bucket
/// it came from (exact); as values while they are few.
impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Latency, D::Error> {
        let pairs = Vec::<(u64, u64)>::deserialize(d)?;
        let mut h = latency_histogram();
        for (value, count) in pairs {
            if value > h.highest_equivalent(LATENCY_MAX_US) {
                return Err(D::Error::custom(format!(
                    "latency value {value} out of range: over {LATENCY_MAX_US} µs"
                )));
            }
            h.record_n(value, count).map_err(|e| {
                D::Error::custom(format!("latency value {value} out of range: {e:?}"))
            })?;
        }
        Ok(if (h.len() as usize) < FEW {
            // Each bucket's highest equivalent value lands in that bucket again; checked
            // above to be at most that of LATENCY_MAX_US, which fits a u32.
            let mut values = Vec::with_capacity(h.len() as usize);
            for v in h.iter_recorded() {
                let value = v.value_iterated_to() as u32;
                values.extend(std::iter::repeat_n(value, v.count_at_value() as usize));
            }
            Latency::Few(values)
        } else {
            Latency::Many(Box::new(h))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(values: &[u64]) -> (Latency, Histogram<u64>) {
        let mut l = Latency::default();
        let mut h = latency_histogram();
        for &v in values {
            l.record(v);
            h.record(v.clamp(1, LATENCY_MAX_US)).unwrap();
        }
        (l, h)
    }

    fn same(l: &Latency, h: &Histogram<u64>) {
        let lh = l.histogram();
        assert_eq!(*lh, *h);
        let qs = [0.0, 0.001, 0.25, 0.5, 0.95, 0.99, 0.999, 1.0, 1.5];
        assert_eq!(l.quantiles(qs), qs.map(|q| h.value_at_quantile(q)));
        assert_eq!((lh.max(), lh.min(), l.len()), (h.max(), h.min(), h.len()));
        assert_eq!(l.max(), h.max());
        let recorded: Vec<(u64, u64)> = h
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        assert_eq!(l.recorded(), recorded);
    }

    /// Percentiles, the highest value and the serialized buckets of few values are the
    /// histogram's, for any count of values (including none) and any spread.
    #[test]
    fn few_values_give_the_histograms_percentiles_and_buckets() {
        same(&Latency::default(), &latency_histogram());
        let mut seed = 7u64;
        for n in [1usize, 2, 3, 7, 20, 99, 100, 101, 500] {
            let values: Vec<u64> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let spread = [1_000, 100_000, 10_000_000, u64::MAX][(seed >> 60) as usize % 4];
                    (seed >> 11) % spread
                })
                .collect();
            let (l, h) = both(&values);
            assert!(matches!(l, Latency::Few(_)));
            same(&l, &h);
        }
    }

    #[test]
    fn few_values_count_as_a_histogram_would() {
        let values = [
            0,
            1,
            2,
            999,
            1000,
            1001,
            12_345,
            77_777,
            1_000_000,
            u64::MAX,
        ];
        let (l, h) = both(&values);
        assert!(matches!(l, Latency::Few(_)));
        same(&l, &h);
    }

    #[test]
    fn past_few_values_a_histogram_takes_over() {
        let values: Vec<u64> = (0..FEW as u64 + 10)
            .map(|i| i * 7919 % 90_000_000)
            .collect();
        let (l, h) = both(&values);
        assert!(matches!(l, Latency::Many(_)));
        same(&l, &h);
    }

    #[test]
    fn adding_gives_the_counts_of_both_in_any_form() {
        let a: Vec<u64> = (1..40).map(|i| i * 1_000).collect();
        let b: Vec<u64> = (0..FEW as u64).map(|i| i * 31 + 5).collect();
        let all: Vec<u64> = a.iter().chain(&b).copied().collect();
        let (_, h) = both(&all);
        for (x, y) in [(&a, &b), (&b, &a), (&a, &a), (&b, &b)] {
            let (mut l, _) = both(x);
            l.add(both(y).0);
            let expect: Vec<u64> = x.iter().chain(y.iter()).copied().collect();
            same(&l, &both(&expect).1);
        }
        let (mut l, _) = both(&a);
        l.add(both(&b).0);
        same(&l, &h);
    }

    #[test]
    fn round_trips_exactly_in_both_forms() {
        for n in [3u64, FEW as u64 + 3] {
            let values: Vec<u64> = (0..n).map(|i| i * 104_729 % 3_599_999_999 + 1).collect();
            let (mut l, _) = both(&values);
            l.record(LATENCY_MAX_US);
            let text = serde_json::to_string(&l).unwrap();
            let back: Latency = serde_json::from_str(&text).unwrap();
            assert_eq!(back, l);
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
            // Recording further values into both keeps them equal.
            let (mut a, mut b) = (l, back);
            a.record(4242);
            b.record(4242);
            assert_eq!(a, b);
        }
        // Past the longest latency told apart, a part is refused, not silently regrown.
        assert!(serde_json::from_str::<Latency>("[[7200000000000, 1]]").is_err());
    }
}
