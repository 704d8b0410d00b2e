//! Per-stage counters: entries in and out, batches, busy time, time blocked on the next stage,
//! how full the stage's input channel was, and batch latency percentiles. Shared by the workers
//! of one stage; updated once per batch.
//!
//! Reading the table: a slow stage has a full input channel (mean depth near its capacity) and
//! a large busy time, while the stages before it are blocked on it; a stage whose input channel
//! is mostly empty waits for the stages before it.

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
    /// Capacity of the stage's input channel, in batches (0: the stage has none).
    channel_capacity: usize,
    /// Sum and count of the input channel depths observed, and the deepest one.
    depth_sum: AtomicU64,
    depth_samples: AtomicU64,
    depth_max: AtomicU64,
    /// Batch processing time in microseconds.
    latency: Mutex<Histogram<u64>>,
}

/// A stage's counters as reported.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
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
    /// Capacity of the stage's input channel, in batches (0 for the source, which has none).
    pub channel_capacity: usize,
    /// Most batches seen waiting on the input channel when a worker came to take the next one.
    pub channel_depth_max: u64,
    /// Mean batches waiting on the input channel when a worker came to take the next one: near
    /// `channel_capacity`, this stage is the bottleneck (the stages before it wait for it);
    /// near 0, it waits for the stages before it.
    pub channel_depth_mean: f64,
}

impl StageStats {
    /// Counters for a stage of `workers` workers whose input channel holds `channel_capacity`
    /// batches (0 when it has none).
    pub fn new(name: &'static str, workers: usize, channel_capacity: usize) -> StageStats {
        StageStats {
            name,
            workers,
            entries_in: AtomicU64::new(0),
            entries_out: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            blocked_ns: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            channel_capacity,
            depth_sum: AtomicU64::new(0),
            depth_samples: AtomicU64::new(0),
            depth_max: AtomicU64::new(0),
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

    /// Marks the end of work on a batch of which the worker took `n` entries (and produced as
    /// many), when only the worker knows how many were its own (an aggregate shard sees every
    /// batch and keeps the entries of its clusters): counted once across shards.
    pub fn finish_own(&self, started: Instant, n: usize) {
        self.entries_in.fetch_add(n as u64, Ordering::Relaxed);
        self.finish(started, n);
    }

    /// Adds the time since `since` as time spent waiting for the next stage to take a batch.
    pub fn blocked(&self, since: Instant) {
        self.blocked_ns
            .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Records how many batches were waiting on the input channel when a worker came to take
    /// the next one.
    pub fn queued(&self, depth: usize) {
        let d = depth as u64;
        self.depth_sum.fetch_add(d, Ordering::Relaxed);
        self.depth_samples.fetch_add(1, Ordering::Relaxed);
        self.depth_max.fetch_max(d, Ordering::Relaxed);
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
            channel_capacity: self.channel_capacity,
            channel_depth_max: self.depth_max.load(Ordering::Relaxed),
            channel_depth_mean: match self.depth_samples.load(Ordering::Relaxed) {
                0 => 0.0,
                n => self.depth_sum.load(Ordering::Relaxed) as f64 / n as f64,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batches_and_entries() {
        let s = StageStats::new("parse", 2, 4);
        let t = s.start(10);
        s.finish(t, 9);
        let r = s.report();
        assert_eq!((r.entries_in, r.entries_out, r.batches), (10, 9, 1));
        assert_eq!(r.stage, "parse");
    }

    #[test]
    fn channel_depth_max_and_mean() {
        let s = StageStats::new("fingerprint", 2, 4);
        assert_eq!(s.report().channel_depth_mean, 0.0);
        for d in [1, 4, 1] {
            s.queued(d);
        }
        let r = s.report();
        assert_eq!(r.channel_capacity, 4);
        assert_eq!(r.channel_depth_max, 4);
        assert_eq!(r.channel_depth_mean, 2.0);
    }
}
