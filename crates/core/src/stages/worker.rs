//! What the parallel batch stages (parse, fingerprint) share: several workers of one stage take
//! batches from one receiver, each batch exactly once, in any order.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::sync::mpsc::Receiver;

use crate::model::stats::StageStats;

/// One receiver shared by the workers of a stage.
pub type Shared<T> = Arc<Mutex<Receiver<T>>>;

/// The next batch for one of the workers sharing `rx`, with the queue depth noted in `stats`.
/// `None` once the stage before has ended and every batch it sent has been taken, so a worker
/// that stops on `None` leaves nothing that was read behind.
pub async fn next<T>(rx: &Mutex<Receiver<T>>, stats: &StageStats) -> Option<T> {
    let mut rx = rx.lock().await;
    stats.queued(rx.len());
    rx.recv().await
}
