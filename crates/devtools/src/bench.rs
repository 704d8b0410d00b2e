//! The end-to-end benchmark (`gardener bench`): how close a whole run comes to the cost of just
//! reading the JSON.
//!
//! For each size it generates `gardener gen` output once (cached under `bench-data/`), then runs
//! two child processes on it and measures each one's wall time, CPU time and peak resident
//! memory (`wait4`): `gardener run` as users run it (worklog and JSON report written), and the
//! one-core *parse-only baseline* (`gardener parse-only`, hidden): the source's splitter in its
//! exact mode (every byte of every entry scanned for brackets and strings, never line by line;
//! see [`Splitter::exact`]) and the parse stage's own `parse_batch_with` on one thread, nothing
//! else, every entry read by serde_json's typed, borrowed deserialiser (`Reader::SerdeJson`, as
//! issue 15 defines the floor; the pipeline itself reads the common entry by hand). Numbers are
//! printed, never asserted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::generator::{GenFormat, GenOptions, generate};
use gardener_core::config::Config;
use gardener_core::model::record::{Batch, EntrySpan, Flaw};
use gardener_core::stages::parse::{Reader, parse_batch_with};
use gardener_core::stages::source::{Found, Splitter};

/// What the parse-only baseline read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOnly {
    pub bytes: u64,
    pub entries: u64,
    /// Entries that parsed into records.
    pub records: u64,
    /// Entries that did not (bad entries).
    pub bad: u64,
}

/// The parse-only baseline: reads `input` in `pipeline.read_block_kib` blocks, splits it with the
/// source's [`Splitter`] in its exact mode and parses batches of `pipeline.batch_size` entries with
/// [`gardener_core::stages::parse::parse_batch_with`], all on the calling thread. The floor
/// reads with `Reader::SerdeJson` (serde_json's however the pipeline reads); `Reader::Fast`
/// measures the parse stage as `gardener run` has it.
pub fn parse_only(
    input: &std::fs::File,
    cfg: &Config,
    reader: Reader,
) -> std::io::Result<ParseOnly> {
    let block = cfg.pipeline.read_block_kib * 1024;
    let batch_size = cfg.pipeline.batch_size;
    let mut splitter = Splitter::exact(
        cfg.source.format,
        gardener_core::stages::source::Limits::of(cfg),
    );
    let mut buf: Vec<u8> = Vec::with_capacity(block * 2);
    let mut found: Vec<Found> = Vec::new();
    let mut out = ParseOnly::default();
    loop {
        // Read as the source reads files.
        let n = gardener_core::stages::source::read_block(input, &mut buf, block)?;
        out.bytes += n as u64;
        let eof = n == 0;
        if eof {
            splitter.finish(&buf, &mut found);
        } else {
            splitter.scan(&buf, &mut found);
        }
        if found.len() >= batch_size || (eof && !found.is_empty()) {
            // Cut a batch the way the source does: the consumed bytes go with it, the tail
            // stays for the entries still to come.
            let keep = if eof { buf.len() } else { splitter.keep_from() };
            let mut tail = Vec::with_capacity(buf.len() - keep + block);
            tail.extend_from_slice(&buf[keep..]);
            buf.truncate(keep);
            let mut whole = std::mem::replace(&mut buf, tail);
            splitter.rebase(keep);
            // The first bytes of entries over the size limit go at the end, as in the source.
            let heads_at = whole.len();
            whole.extend_from_slice(&splitter.heads);
            splitter.heads.clear();
            let spans = found
                .drain(..)
                .map(|f| {
                    out.entries += 1;
                    let at = if matches!(f.flaw, Flaw::TooLarge { .. }) {
                        heads_at
                    } else {
                        0
                    };
                    EntrySpan {
                        range: ((at + f.start) as u32, (at + f.end) as u32),
                        entry_no: out.entries,
                        offset: f.offset,
                        flaw: f.flaw,
                    }
                })
                .collect();
            let mut batch = Batch {
                buf: Arc::new(whole),
                spans,
                ..Default::default()
            };
            parse_batch_with(&mut batch, reader);
            out.records += batch.records.len() as u64;
            out.bad += batch.bad.len() as u64;
        }
        if eof {
            return Ok(out);
        }
    }
}

/// Generated input for `entries` entries and `seed`, written once under `dir` and reused.
pub fn bench_data(dir: &Path, entries: u64, seed: u64) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("gen-{entries}-seed{seed}.json"));
    if path.exists() {
        return Ok(path);
    }
    let tmp = dir.join(format!("gen-{entries}-seed{seed}.json.tmp"));
    let file = std::fs::File::create(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let opts = GenOptions {
        entries,
        seed,
        format: GenFormat::Array,
        ..Default::default()
    };
    generate(&opts, &mut w, None)?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// One child process, measured.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    pub wall: Duration,
    /// User plus system CPU time.
    pub cpu: Duration,
    pub peak_rss_kib: u64,
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
}

/// Runs `cmd` to its end and measures it with `wait4`, which gives this child's own peak RSS
/// (`getrusage(RUSAGE_CHILDREN)` would give the largest of all children so far).
pub fn measure(cmd: &mut Command) -> std::io::Result<Measured> {
    let started = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data, so all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our child, not yet reaped (`Child` is never waited on here), and
        // both pointers are to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let wall = started.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok(Measured {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        peak_rss_kib: usage.ru_maxrss as u64,
        code,
    })
}

/// Settings of `gardener bench`.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Sizes to run, in entries.
    pub sizes: Vec<u64>,
    pub seed: u64,
    /// Where inputs and outputs go.
    pub dir: PathBuf,
    /// Runs of each command per size; the fastest is shown.
    pub repeat: usize,
    /// Passed on to both commands.
    pub config: Option<PathBuf>,
}

/// One row of the table.
struct Row {
    entries: u64,
    bytes: u64,
    what: &'static str,
    m: Measured,
}

/// Runs the benchmark and prints the table on standard output. An error is for people.
pub fn run(opts: &BenchOptions) -> Result<(), String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the gardener binary: {e}"))?;
    if cfg!(debug_assertions) {
        eprintln!(
            "gardener bench: this is a debug build; numbers mean little. Use `cargo run --release -- bench`."
        );
    }
    let mut rows = Vec::new();
    for &n in &opts.sizes {
        eprintln!("gardener bench: {n} entries: generating input (once; cached)…");
        let input = bench_data(&opts.dir, n, opts.seed)
            .map_err(|e| format!("cannot write {}: {e}", opts.dir.display()))?;
        let bytes = std::fs::metadata(&input)
            .map_err(|e| format!("cannot read {}: {e}", input.display()))?
            .len();
        let report = opts.dir.join(format!("run-{n}.md"));
        let json = opts.dir.join(format!("run-{n}.json"));
        let errors = opts.dir.join(format!("run-{n}.stderr"));
        let commands: [(&'static str, Vec<String>); 2] = [
            (
                "gardener run",
                vec![
                    "run".into(),
                    "--quiet".into(),
                    // Every repeat starts from the same (no) history.
                    "--state".into(),
                    "none".into(),
                    "--report".into(),
                    report.display().to_string(),
                    "--json".into(),
                    json.display().to_string(),
                    input.display().to_string(),
                ],
            ),
            (
                "parse-only (1 core)",
                vec!["parse-only".into(), input.display().to_string()],
            ),
        ];
        for (what, args) in commands {
            let mut best: Option<Measured> = None;
            for _ in 0..opts.repeat.max(1) {
                eprintln!("gardener bench: {n} entries: {what}…");
                let err_file = std::fs::File::create(&errors)
                    .map_err(|e| format!("cannot write {}: {e}", errors.display()))?;
                let mut cmd = Command::new(&exe);
                if let Some(c) = &opts.config {
                    cmd.arg(args[0].as_str()).arg("--config").arg(c);
                    cmd.args(&args[1..]);
                } else {
                    cmd.args(&args);
                }
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(err_file);
                let m = measure(&mut cmd).map_err(|e| format!("cannot run {what}: {e}"))?;
                if m.code != 0 {
                    let text = std::fs::read_to_string(&errors).unwrap_or_default();
                    return Err(format!(
                        "{what} on {} exited with code {}:\n{}",
                        input.display(),
                        m.code,
                        text.trim()
                    ));
                }
                if best.is_none_or(|b| m.wall < b.wall) {
                    best = Some(m);
                }
            }
            if let Some(m) = best {
                rows.push(Row {
                    entries: n,
                    bytes,
                    what,
                    m,
                });
            }
        }
        if let Some(stages) = stage_lines(&json) {
            eprintln!("gardener bench: {n} entries: stages of the last run:\n{stages}");
        }
    }
    print_table(&rows);
    Ok(())
}

/// The per-stage line of the run's JSON report (`stages`), for the bench's output. Only that
/// field is kept while reading: the bench must stay small, because a child's peak RSS as
/// `wait4` reports it is never below the bench's own peak at the time it was started (Linux
/// carries the peak across `exec`).
fn stage_lines(json: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        stages: Vec<gardener_core::model::stats::StageReport>,
    }
    let file = std::fs::File::open(json).ok()?;
    let head: Head = serde_json::from_reader(std::io::BufReader::new(file)).ok()?;
    let mut out = String::new();
    for s in &head.stages {
        out.push_str(&format!(
            "  {:<12} workers {:>2}  busy {:>8.0} ms  blocked {:>8.0} ms  queue max {:>2} mean {:>4.1} of {}\n",
            s.stage,
            s.workers,
            s.busy_ms,
            s.blocked_ms,
            s.channel_depth_max,
            s.channel_depth_mean,
            s.channel_capacity,
        ));
    }
    Some(out.trim_end().to_string())
}

fn print_table(rows: &[Row]) {
    println!(
        "| entries | input MB | command | wall s | CPU s | entries/s | MB/s | peak RSS MB | run / baseline |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let secs = r.m.wall.as_secs_f64().max(1e-9);
        let baseline = rows
            .iter()
            .find(|b| b.entries == r.entries && b.what != "gardener run");
        let ratio = match baseline {
            Some(b) if r.what == "gardener run" => {
                format!("{:.2}×", b.m.wall.as_secs_f64() / secs)
            }
            _ => String::new(),
        };
        println!(
            "| {} | {:.0} | {} | {:.2} | {:.2} | {:.0} k | {:.0} | {:.0} | {} |",
            r.entries,
            r.bytes as f64 / 1e6,
            r.what,
            secs,
            r.m.cpu.as_secs_f64(),
            r.entries as f64 / secs / 1e3,
            r.bytes as f64 / 1e6 / secs,
            r.m.peak_rss_kib as f64 / 1024.0,
            ratio
        );
    }
    println!(
        "\nrun / baseline: throughput of `gardener run` over the one-core parse-only baseline (above 1: faster)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(data: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        std::io::Seek::rewind(&mut f).unwrap();
        f
    }

    #[test]
    fn parse_only_reads_every_generated_entry() {
        let mut data = Vec::new();
        let opts = GenOptions {
            entries: 3000,
            ..Default::default()
        };
        generate(&opts, &mut data, None).unwrap();
        let mut cfg = Config::default();
        // Small blocks and batches: entries span blocks and batches are cut many times.
        cfg.pipeline.read_block_kib = 7;
        cfg.pipeline.batch_size = 100;
        let got = parse_only(&file_of(&data), &cfg, Reader::SerdeJson).unwrap();
        assert_eq!(got.bytes, data.len() as u64);
        assert_eq!(got.entries, 3000);
        assert_eq!(got.records + got.bad, 3000);
        assert_eq!(got.bad, 0);
    }

    #[test]
    fn parse_only_counts_bad_entries() {
        // `textPayload: 5` is read as text; an entry with no message is bad.
        let data = b"[{\"textPayload\": \"a\"}, {\"textPayload\": 5}, {\"severity\": \"ERROR\"}]";
        let got = parse_only(&file_of(data), &Config::default(), Reader::SerdeJson).unwrap();
        assert_eq!((got.entries, got.records, got.bad), (3, 2, 1));
    }

    #[test]
    fn measure_reports_exit_code_and_memory() {
        let m = measure(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(m.code, 3);
        assert!(m.peak_rss_kib > 0);
    }
}
