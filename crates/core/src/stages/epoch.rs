//! Consistent cuts of a running pipeline, for `gardener watch`'s epochs.
//!
//! Every interval the report stage needs the aggregate shards' state as of one point of the
//! input: every entry before it counted in every shard, none after it. The stages run in
//! parallel (several parse and fingerprint workers, batches overtaking each other), so the cut
//! is made at the source: [`Gate::pause`] asks the source to stop between two batches and
//! returns how many batches it had sent; once every shard has counted that many (each shard
//! sees every batch, see [`Counted`]), the shards' snapshots together are exact. The source
//! then goes on ([`Gate::release`]). The pause lasts as long as the pipeline takes to drain
//! (not measured separately yet); the input waits in its pipe or subscription meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How often the report stage looks whether the source has stopped or the shards caught up.
const POLL: Duration = Duration::from_millis(2);

/// Between the report stage (which asks for a cut) and the source (which makes it).
#[derive(Debug, Default)]
pub struct Gate {
    /// A cut is wanted: the source stops at its next batch boundary.
    wanted: AtomicBool,
    /// The source has ended: no cut will be made any more.
    ended: AtomicBool,
    /// Batches sent when the source stopped (`None` while it runs).
    held: Mutex<Option<u64>>,
    resume: Condvar,
}

impl Gate {
    /// Whether the source should call [`Gate::hold`] now (cheap: one atomic load).
    pub fn wanted(&self) -> bool {
        self.wanted.load(Ordering::Acquire)
    }

    /// Source side: records that `sent` batches were sent and blocks until released.
    pub fn hold(&self, sent: u64) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        *held = Some(sent);
        while self.wanted.load(Ordering::Acquire) {
            held = self.resume.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        *held = None;
    }

    /// Whether the source has ended.
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Source side: the source has ended (a pending or later [`Gate::pause`] returns `None`).
    pub fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Asks the source to stop between batches and waits until it has; returns the number of
    /// batches it sent, or `None` when the source has ended (its shards then end by themselves).
    pub async fn pause(&self) -> Option<u64> {
        self.wanted.store(true, Ordering::Release);
        loop {
            if let Some(n) = *self.held.lock().unwrap_or_else(|e| e.into_inner()) {
                return Some(n);
            }
            if self.ended.load(Ordering::Acquire) {
                self.wanted.store(false, Ordering::Release);
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Lets the source go on after [`Gate::pause`].
    pub fn release(&self) {
        let _held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        self.wanted.store(false, Ordering::Release);
        self.resume.notify_all();
    }
}

/// Batches a shard has finished with, for the cut.
#[derive(Debug, Default)]
pub struct Counted(AtomicU64);

impl Counted {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Waits until at least `n` batches were counted.
    pub async fn reach(&self, n: u64) {
        while self.get() < n {
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Marks the start of each epoch for the fingerprint workers: a worker that sees the number
/// change announces every template again, because the shards may have evicted clusters (and
/// their templates) at the cut.
#[derive(Debug, Default)]
pub struct Number(AtomicU64);

impl Number {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub fn next(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_cut_stops_the_source_between_batches_and_lets_it_go_on() {
        let gate = Arc::new(Gate::default());
        let sent = Arc::new(AtomicU64::new(0));
        let source = {
            let (gate, sent) = (Arc::clone(&gate), Arc::clone(&sent));
            std::thread::spawn(move || {
                for _ in 0..200 {
                    if gate.wanted() {
                        gate.hold(sent.load(Ordering::SeqCst));
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_micros(200));
                }
                gate.end();
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let at = gate.pause().await.expect("the source is running");
        // Held: nothing more is sent until released.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(sent.load(Ordering::SeqCst), at);
        gate.release();
        source.join().unwrap();
        assert_eq!(sent.load(Ordering::SeqCst), 200);
        assert_eq!(gate.pause().await, None, "an ended source makes no cut");
    }
}
