//! The Pub/Sub source (`source.kind: pubsub`, `gardener watch` only): pulls messages from a
//! subscription that a Cloud Logging sink (Log Router) feeds, one LogEntry JSON per message,
//! through the `gcloud-pubsub` client (gRPC; Application Default Credentials;
//! `PUBSUB_EMULATOR_HOST` for the emulator).
//!
//! **Acknowledgement.** A message is acknowledged only once its entry is counted in a report
//! and in the checkpoint that report wrote (see `watch`): the source records, per batch, the
//! ack ids and message ids it holds in the [`Ledger`]; the watch acknowledges the batches a
//! checkpoint covers. A process killed at any instant loses nothing (what it had not
//! checkpointed is delivered again), and counts nothing twice: the checkpoint lists the
//! message ids it covers, and a message delivered again with one of those ids is acknowledged
//! and dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use gcloud_pubsub::client::{Client, ClientConfig};
use gcloud_pubsub::subscriber::{ReceivedMessage, SubscriberConfig};
use gcloud_pubsub::subscription::{SubscribeConfig, Subscription};
use tokio::sync::mpsc::Sender;

use super::{Ended, SourceError, SourceSummary};
use crate::config::Config;
use crate::model::record::{Batch, EntrySpan, Flaw};
use crate::model::stats::StageStats;

/// Longest the source waits for a message before it looks for a cut or a signal.
const PULL_WAIT: Duration = Duration::from_secs(1);

/// The messages read but not yet acknowledged, by batch, and the ids already counted.
#[derive(Default)]
pub struct Ledger {
    subscription: Mutex<Option<Subscription>>,
    /// The batches sent, in order.
    pending: Mutex<VecDeque<Pending>>,
    /// Message ids a checkpoint already counts, by the checkpoint (or worker partial) that
    /// counts them: delivered again, they are acknowledged and dropped.
    counted: Mutex<HashMap<String, HashSet<String>>>,
}

impl Ledger {
    /// Remembers the message ids the checkpoint (or partial) `origin` counts, in place of what
    /// it counted before.
    pub fn counted(&self, origin: &str, ids: HashSet<String>) {
        let mut counted = lock(&self.counted);
        if ids.is_empty() {
            counted.remove(origin);
        } else {
            counted.insert(origin.to_string(), ids);
        }
    }

    /// Forgets the ids of checkpoints no longer there (a worker's partial removed).
    pub fn keep_origins(&self, keep: impl Fn(&str) -> bool) {
        lock(&self.counted).retain(|o, _| keep(o));
    }

    /// The message ids of the batches up to `through` (all with `u64::MAX`), for the
    /// checkpoint.
    pub fn ids_through(&self, through: u64) -> Vec<String> {
        lock(&self.pending)
            .iter()
            .filter(|p| p.0 <= through)
            .flat_map(|p| p.2.iter().cloned())
            .collect()
    }

    /// Acknowledges the batches up to `through`, once a checkpoint covers them. An error is
    /// returned to be said; the messages then come again and are recognised by their ids.
    pub async fn ack_through(&self, through: u64) -> Result<usize, String> {
        let ids: Vec<String> = {
            let mut pending = lock(&self.pending);
            let mut ids = Vec::new();
            while pending.front().is_some_and(|p| p.0 <= through) {
                if let Some(p) = pending.pop_front() {
                    ids.extend(p.1);
                }
            }
            ids
        };
        let sub = lock(&self.subscription).clone();
        let (Some(sub), false) = (sub, ids.is_empty()) else {
            return Ok(0);
        };
        let n = ids.len();
        for chunk in ids.chunks(2500) {
            sub.ack(chunk.to_vec())
                .await
                .map_err(|e| format!("acknowledging {n} Pub/Sub messages failed: {e}"))?;
        }
        Ok(n)
    }

    fn sent(&self, batch: u64, acks: Vec<String>, ids: Vec<String>) {
        lock(&self.pending).push_back((batch, acks, ids));
    }

    fn already_counted(&self, id: &str) -> bool {
        lock(&self.counted).values().any(|ids| ids.contains(id))
    }
}

/// One batch's messages: (batch number, ack ids, message ids).
type Pending = (u64, Vec<String>, Vec<String>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Connects to the subscription: the emulator when `PUBSUB_EMULATOR_HOST` is set, else
/// Google Cloud with Application Default Credentials.
async fn connect(name: &str, streams: usize) -> Result<Subscription, SourceError> {
    let config = ClientConfig {
        pool_size: streams,
        ..Default::default()
    };
    let config = config.with_auth().await.map_err(|e| {
        SourceError(format!(
            "Pub/Sub: no credentials ({e}); on Cloud Run or GKE give the service a service account, elsewhere set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login` (PUBSUB_EMULATOR_HOST=HOST:PORT for the emulator)"
        ))
    })?;
    let client = Client::new(config)
        .await
        .map_err(|e| SourceError(format!("Pub/Sub: cannot connect: {e}")))?;
    let sub = client.subscription(name);
    match sub.exists(None).await {
        Ok(true) => Ok(sub),
        Ok(false) => Err(SourceError(format!(
            "Pub/Sub: subscription {name} does not exist (source.pubsub.subscription); create it with `gcloud pubsub subscriptions create`"
        ))),
        Err(e) => Err(SourceError(format!(
            "Pub/Sub: cannot reach subscription {name}: {e}"
        ))),
    }
}

/// How long Pub/Sub waits for the acknowledgement of a message it delivered before it
/// delivers it again: past the report that counts it (`every`) and the time to make it, within
/// Pub/Sub's bounds (10 s to 10 min).
pub fn lease(every: Duration) -> Duration {
    (every * 2 + Duration::from_secs(10)).clamp(Duration::from_secs(10), Duration::from_secs(600))
}

/// Reads the subscription until `stop` through a streaming pull, one batch per arrival of
/// messages. Runs on a blocking thread (like the other sources): `blocking_send` gives the
/// backpressure, and the epoch gate holds it between batches.
pub fn run(
    cfg: Arc<Config>,
    tx: Sender<Batch>,
    stop: Arc<AtomicBool>,
    stats: Arc<StageStats>,
    cuts: super::Cuts,
) -> Result<SourceSummary, SourceError> {
    let super::Cuts {
        gate,
        ledger,
        every,
        ..
    } = cuts;
    let _ended = Ended(Some(Arc::clone(&gate)));
    let name = cfg.source.pubsub.subscription.clone();
    let rt = tokio::runtime::Handle::current();
    let streams = cfg.source.pubsub.streams.clamp(1, 32) as usize;
    let sub = rt.block_on(connect(&name, streams))?;
    *lock(&ledger.subscription) = Some(sub.clone());
    let max = cfg.source.pubsub.max_messages.clamp(1, 1000) as usize;
    let streaming = SubscriberConfig {
        stream_ack_deadline_seconds: lease(every).as_secs() as i32,
        // Messages stay outstanding until the report that counts them: no flow-control cap
        // below what one interval brings (the channel below bounds what is buffered).
        max_outstanding_messages: 0,
        ..Default::default()
    };
    let mut stream = rt
        .block_on(
            sub.subscribe(Some(
                SubscribeConfig::default()
                    .with_enable_multiple_subscriber(streams > 1)
                    .with_subscriber_config(streaming)
                    .with_channel_capacity(2 * max),
            )),
        )
        .map_err(|e| SourceError(format!("Pub/Sub: cannot pull from {name}: {e}")))?;
    let mut summary = SourceSummary {
        inputs: vec![name.clone()],
        ..Default::default()
    };
    let (mut seq, mut entry_no) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        if gate.wanted() {
            gate.hold(seq);
            continue;
        }
        let messages = match rt
            .block_on(async { tokio::time::timeout(PULL_WAIT, stream.next()).await })
        {
            Err(_) => continue,
            Ok(None) => {
                return Err(SourceError(format!(
                    "Pub/Sub: the stream from {name} ended (the subscription was deleted, or access was lost)"
                )));
            }
            Ok(Some(first)) => {
                let mut m = vec![first];
                while m.len() < max {
                    match stream.next().now_or_never() {
                        Some(Some(next)) => m.push(next),
                        _ => break,
                    }
                }
                m
            }
        };
        let t = stats.start(0);
        let Some((batch, acks, ids)) =
            batch_of(messages, &ledger, &rt, &sub, &mut entry_no, &mut summary)
        else {
            continue;
        };
        let n = batch.spans.len();
        seq += 1;
        let batch = Batch { seq, ..batch };
        // Recorded before the batch can be counted, so a cut never misses its messages.
        ledger.sent(seq, acks, ids);
        if tx.blocking_send(batch).is_err() {
            break;
        }
        summary.entries += n as u64;
        stats.finish(t, n);
    }
    // Messages received but not yet read go back at once (the others are acknowledged by the
    // last report).
    rt.block_on(stream.dispose());
    Ok(summary)
}

/// One batch of the pulled messages (those a checkpoint already counts are acknowledged and
/// left out); `None` when none is left.
fn batch_of(
    messages: Vec<ReceivedMessage>,
    ledger: &Ledger,
    rt: &tokio::runtime::Handle,
    sub: &Subscription,
    entry_no: &mut u64,
    summary: &mut SourceSummary,
) -> Option<(Batch, Vec<String>, Vec<String>)> {
    let mut buf: Vec<u8> = Vec::new();
    let mut spans = Vec::with_capacity(messages.len());
    let (mut acks, mut ids, mut again) = (Vec::new(), Vec::new(), Vec::new());
    for m in messages {
        if ledger.already_counted(&m.message.message_id) {
            again.push(m.ack_id);
            continue;
        }
        let data: &[u8] = &m.message.data;
        let start = buf.len();
        buf.extend_from_slice(data);
        *entry_no += 1;
        spans.push(EntrySpan {
            range: (start as u32, buf.len() as u32),
            entry_no: *entry_no,
            offset: summary.bytes,
            flaw: Flaw::None,
        });
        summary.bytes += data.len() as u64;
        acks.push(m.ack_id);
        ids.push(m.message.message_id);
    }
    if !again.is_empty() {
        // Counted before a restart: acknowledged now, never counted twice.
        let _ = rt.block_on(sub.ack(again));
    }
    if spans.is_empty() {
        return None;
    }
    let batch = Batch {
        input: 0,
        buf: Arc::new(buf),
        spans,
        ..Default::default()
    };
    Some((batch, acks, ids))
}
