//! Messages per second of the fingerprint stage alone, on realistic messages taken from
//! `gardener gen` output: the masker on every message (no cache), and the stage as it runs
//! (a new worker with its exact-message cache, empty at the start of each iteration).
//!
//! `cargo bench --bench fingerprint`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gardener_core::config::Config;
use gardener_core::model::record::{Batch, EntrySpan, Flaw};
use gardener_core::stages::fingerprint::{Fingerprinter, Masker};
use gardener_devtools::generator::{GenFormat, GenOptions, generate};

fn messages(n: u64) -> Vec<String> {
    let mut out = Vec::new();
    let opts = GenOptions {
        entries: n,
        format: GenFormat::Ndjson,
        ..Default::default()
    };
    generate(&opts, &mut out, None).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v.pointer("/jsonPayload/message")
                .or_else(|| v.get("textPayload"))
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cfg = Config::default();
    let masker = Arc::new(Masker::new(&cfg.masks().unwrap(), 4096).unwrap());
    let msgs = messages(20_000);
    let mut g = c.benchmark_group("fingerprint");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("mask every message", |b| {
        let mut out = String::new();
        b.iter(|| {
            for m in &msgs {
                masker.template(black_box(m), &mut out);
            }
        })
    });
    // The stage on a batch of parsed entries, cache included.
    let mut ndjson = Vec::new();
    let opts = GenOptions {
        entries: 20_000,
        format: GenFormat::Ndjson,
        ..Default::default()
    };
    generate(&opts, &mut ndjson, None).unwrap();
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, line) in ndjson.split(|&b| b == b'\n').enumerate() {
        if !line.is_empty() {
            spans.push(EntrySpan {
                range: (start as u32, (start + line.len()) as u32),
                entry_no: i as u64 + 1,
                offset: start as u64,
                flaw: Flaw::None,
            });
        }
        start += line.len() + 1;
    }
    let mut batch = Batch {
        buf: Arc::new(ndjson),
        spans,
        ..Default::default()
    };
    gardener_core::stages::parse::parse_batch(&mut batch);
    g.throughput(Throughput::Elements(batch.records.len() as u64));
    // A fresh worker each time: its cache starts empty, so only messages repeated within the
    // 20,000 entries hit it (a warm cache would measure cache lookups alone).
    g.bench_function("stage with cache, cold", |b| {
        b.iter(|| {
            let mut fp = Fingerprinter::new(Arc::clone(&masker));
            fp.batch(&mut batch);
            batch.new_templates.clear();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
