//! The entries sink: one NDJSON line per entry processed —
//! `{"insertId","timestamp","service","severity","fingerprint"}` — in input order, which is what
//! a backfill loads into a warehouse. Fingerprints are final only when the run ends (templates
//! are generalized over the whole run), so lines are first written to a spool file next to the
//! target and rewritten with the final ids at the end: one extra sequential pass, no memory. It also writes the dead-letter file: one NDJSON line per
//! entry that could not be processed, with its input, entry number, byte offset, reason and raw
//! text.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc::Receiver;

use crate::model::record::Batch;
use crate::model::time::Timestamp;
use crate::stages::fingerprint::format_id;
use crate::stages::sink::{SinkError, open};

#[derive(Serialize)]
struct EntryLine<'a> {
    #[serde(rename = "insertId")]
    insert_id: &'a str,
    timestamp: Option<String>,
    service: &'a str,
    severity: &'static str,
    /// Only when the severity came from the entry's text (Cloud Logging's was DEFAULT).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    severity_from_text: bool,
    fingerprint: String,
}

#[derive(Serialize)]
struct DeadLine<'a> {
    input: &'a str,
    entry: u64,
    offset: u64,
    /// The entry's size in the input, in bytes (`raw` is shorter for an entry over the limit).
    size: u64,
    reason: &'a str,
    raw: std::borrow::Cow<'a, str>,
}

/// Paths of the two outputs; either may be absent.
pub struct EntriesSink {
    pub entries: Option<String>,
    pub dead_letter: Option<String>,
    pub inputs: Arc<Vec<String>>,
}

struct Out {
    w: Box<dyn Write + Send>,
    sink: &'static str,
    /// The path the user named (not the spool).
    path: String,
}

impl Out {
    fn open(path: &str, target: &str, sink: &'static str) -> Result<Out, SinkError> {
        open(path)
            .map(|w| Out {
                w,
                sink,
                path: target.to_string(),
            })
            .map_err(|error| SinkError {
                sink,
                path: target.to_string(),
                error,
            })
    }

    fn err(&self, error: std::io::Error) -> SinkError {
        SinkError {
            sink: self.sink,
            path: self.path.clone(),
            error,
        }
    }
}

/// Runs `write` on an output; on failure records the error and closes the output, so the
/// other one goes on.
fn write_to(
    out: &mut Option<Out>,
    errors: &mut Vec<SinkError>,
    write: impl FnOnce(&mut Out) -> std::io::Result<()>,
) {
    if let Some(o) = out
        && let Err(e) = write(o)
    {
        errors.push(o.err(e));
        *out = None;
    }
}

impl EntriesSink {
    /// Runs until the input closes and returns the failures, one per output at most. Batches
    /// arrive out of order from parallel workers and are written in input order. An output
    /// that fails is closed and the other goes on; when both have failed the sink stops taking
    /// batches (the fingerprint workers then stop sending them). Blocking: run it on the
    /// blocking pool.
    pub fn run(
        self,
        mut rx: Receiver<Arc<Batch>>,
        final_ids: tokio::sync::oneshot::Receiver<HashMap<u64, (u64, u64)>>,
    ) -> Vec<SinkError> {
        let mut errors = Vec::new();
        let spool = self.entries.as_ref().map(|p| spool_path(p));
        let mut entries = match (&self.entries, &spool) {
            (Some(target), Some(spool)) => Out::open(spool, target, "entries")
                .map_err(|e| errors.push(e))
                .ok(),
            _ => None,
        };
        let mut dead = self.dead_letter.as_ref().and_then(|p| {
            Out::open(p, p, "dead-letter")
                .map_err(|e| errors.push(e))
                .ok()
        });
        let mut pending: BTreeMap<u64, Arc<Batch>> = BTreeMap::new();
        let mut next = 1u64;
        let mut line = Vec::with_capacity(256);
        while entries.is_some() || dead.is_some() {
            let Some(batch) = rx.blocking_recv() else {
                break;
            };
            pending.insert(batch.seq, batch);
            while let Some(batch) = pending.remove(&next) {
                next += 1;
                self.write_batch(&batch, &mut entries, &mut dead, &mut line, &mut errors);
            }
        }
        drop(rx);
        // Interrupted runs can leave gaps; write what arrived, still in order.
        for batch in std::mem::take(&mut pending).into_values() {
            self.write_batch(&batch, &mut entries, &mut dead, &mut line, &mut errors);
        }
        for out in [&mut entries, &mut dead] {
            write_to(out, &mut errors, |o| o.w.flush());
        }
        let spooled = entries.is_some();
        drop(entries);
        if let (Some(target), Some(spool)) = (&self.entries, &spool) {
            if spooled {
                let ids = final_ids.blocking_recv().unwrap_or_default();
                if let Err(error) = rewrite(spool, target, &ids) {
                    errors.push(SinkError {
                        sink: "entries",
                        path: target.clone(),
                        error,
                    });
                }
            }
            let _ = std::fs::remove_file(spool);
        }
        errors
    }

    fn write_batch(
        &self,
        batch: &Batch,
        entries: &mut Option<Out>,
        dead: &mut Option<Out>,
        line: &mut Vec<u8>,
        errors: &mut Vec<SinkError>,
    ) {
        write_to(entries, errors, |out| {
            for r in &batch.records {
                line.clear();
                let e = EntryLine {
                    insert_id: batch.str(r.insert_id),
                    timestamp: r.timestamp.map(Timestamp::rfc3339),
                    service: batch.str(r.service),
                    severity: r.severity.name(),
                    severity_from_text: r.severity_from_text,
                    fingerprint: format_id(r.fingerprint),
                };
                serde_json::to_writer(&mut *line, &e)?;
                line.push(b'\n');
                out.w.write_all(line)?;
            }
            Ok(())
        });
        let input = self
            .inputs
            .get(batch.input as usize)
            .map_or("", |s| s.as_str());
        write_to(dead, errors, |out| {
            for b in &batch.bad {
                line.clear();
                let d = DeadLine {
                    input,
                    entry: b.entry_no,
                    offset: b.offset,
                    size: b.size,
                    reason: &b.reason,
                    raw: String::from_utf8_lossy(batch.bytes(b.raw)),
                };
                serde_json::to_writer(&mut *line, &d)?;
                line.push(b'\n');
                out.w.write_all(line)?;
            }
            Ok(())
        });
    }
}

/// Where lines wait for their final ids: beside the target, or in the temp dir when the target
/// is standard output or not a regular file (`/dev/stdout`, a FIFO, `/dev/full`).
fn spool_path(target: &str) -> String {
    let special =
        target == "-" || std::fs::metadata(target).is_ok_and(|m| !m.file_type().is_file());
    if special {
        std::env::temp_dir()
            .join(format!("gardener-entries-{}.ndjson", std::process::id()))
            .display()
            .to_string()
    } else {
        format!("{target}.partial")
    }
}

/// Copies the spool to the target, replacing each line's fingerprint (the 16 hex digits before
/// the closing `"}`) by its final id, and adding the id of its problem.
fn rewrite(spool: &str, target: &str, ids: &HashMap<u64, (u64, u64)>) -> std::io::Result<()> {
    let mut input = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(spool)?);
    let mut out = open(target)?;
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let n = line.len();
        if n >= 20 && line.ends_with(b"\"}\n") {
            let hex = &line[n - 19..n - 3];
            if let Some(raw) = std::str::from_utf8(hex)
                .ok()
                .and_then(crate::stages::fingerprint::parse_id)
                && let Some((id, problem)) = ids.get(&raw)
            {
                line[n - 19..n - 3].copy_from_slice(format_id(*id).as_bytes());
                line.truncate(n - 2);
                line.extend_from_slice(b",\"problem\":\"");
                line.extend_from_slice(format_id(*problem).as_bytes());
                line.extend_from_slice(b"\"}\n");
            }
        }
        out.write_all(&line)?;
    }
    out.flush()
}
