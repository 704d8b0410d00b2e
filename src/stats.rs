//! Per-stage counters: entries in and out, batches, busy time, time blocked on the next stage,
//! and batch latency percentiles. Shared by the workers of one stage; updated once per batch.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

pub struct StageStats {
    pub name: &'static str,
    pub workers: usize,
    entries_in: AtomicU64,
    entries_out: AtomicU64,
    batches: AtomicU64,
    busy_ns: AtomicU64,
    blocked_ns: AtomicU64,
    bytes: AtomicU64,
    /// Batch processing time in microseconds.
    latency: Mutex<Histogram<u64>>,
}

/// A stage's counters as reported.
#[derive(Clone, Debug, Serialize)]
pub struct StageReport {
    pub stage: String,
    pub workers: usize,
    pub entries_in: u64,
    pub entries_out: u64,
    pub batches: u64,
    /// Bytes read (source only).
    pub bytes: u64,
    pub busy_ms: f64,
    pub blocked_ms: f64,
    pub batch_p50_us: u64,
    pub batch_p99_us: u64,
    pub batch_max_us: u64,
}

impl StageStats {
    pub fn new(name: &'static str, workers: usize) -> StageStats {
        StageStats {
            name,
            workers,
            entries_in: AtomicU64::new(0),
            entries_out: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            blocked_ns: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            latency: Mutex::new(Histogram::new(3).expect("3 significant digits is valid")),
        }
    }

    /// Marks the start of work on a batch of `n` entries.
    pub fn start(&self, n: usize) -> Instant {
        self.entries_in.fetch_add(n as u64, Ordering::Relaxed);
        Instant::now()
    }

    /// Marks the end of work on a batch that produced `n` entries.
    pub fn finish(&self, started: Instant, n: usize) {
        let ns = started.elapsed().as_nanos() as u64;
        self.entries_out.fetch_add(n as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.busy_ns.fetch_add(ns, Ordering::Relaxed);
        if let Ok(mut h) = self.latency.lock() {
            h.saturating_record(ns / 1000);
        }
    }

    /// Adds the time since `since` as time spent waiting for the next stage to take a batch.
    pub fn blocked(&self, since: Instant) {
        self.blocked_ns
            .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Counts bytes read (source only).
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn report(&self) -> StageReport {
        let h = self.latency.lock().map(|h| h.clone()).ok();
        let q = |p: f64| h.as_ref().map_or(0, |h| h.value_at_quantile(p));
        StageReport {
            stage: self.name.to_string(),
            workers: self.workers,
            entries_in: self.entries_in.load(Ordering::Relaxed),
            entries_out: self.entries_out.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            busy_ms: self.busy_ns.load(Ordering::Relaxed) as f64 / 1e6,
            blocked_ms: self.blocked_ns.load(Ordering::Relaxed) as f64 / 1e6,
            batch_p50_us: q(0.5),
            batch_p99_us: q(0.99),
            batch_max_us: h.as_ref().map_or(0, |h| h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batches_and_entries() {
        let s = StageStats::new("parse", 2);
        let t = s.start(10);
        s.finish(t, 9);
        let r = s.report();
        assert_eq!((r.entries_in, r.entries_out, r.batches), (10, 9, 1));
        assert_eq!(r.stage, "parse");
    }
}
