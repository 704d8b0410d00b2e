//! Each stage on its own, one core, on `gardener gen` output generated once per bench run:
//!
//! - `split`: the source's array splitter over a pretty-printed gcloud array in memory (MB/s);
//! - `parse`: the parse stage (`parse_batch_with`) on batches of split entries (MB/s and
//!   entries/s), with its hand-written reader and with serde_json alone (the floor's reader),
//!   and the same typed extraction of the needed fields with serde_json and with simd-json
//!   (its input is copied first, since simd-json rewrites it; its `Buffers` are reused);
//! - `aggregate`: one aggregate shard adding parsed, fingerprinted batches (entries/s).
//!
//! The fingerprint stage has its own bench (`benches/fingerprint.rs`).
//!
//! `cargo bench --bench stages` (or `cargo bench --bench stages -- parse` for one group)

use std::borrow::Cow;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;

use gardener_core::config::{Config, InputFormat};
use gardener_core::model::record::{Batch, EntrySpan};
use gardener_core::stages::aggregate::{AggregateSettings, Shard};
use gardener_core::stages::fingerprint::{Fingerprinter, Masker};
use gardener_core::stages::parse::{Reader, parse_batch_with};
use gardener_core::stages::source::{Limits, Splitter};
use gardener_devtools::generator::{GenFormat, GenOptions, generate};

/// Entries generated for every bench.
const ENTRIES: u64 = 20_000;
/// Entries per batch, as in the default `pipeline.batch_size`.
const BATCH: usize = 1024;

/// A pretty-printed gcloud array of `ENTRIES` entries.
fn gcloud_array() -> Vec<u8> {
    let mut out = Vec::new();
    let opts = GenOptions {
        entries: ENTRIES,
        format: GenFormat::Array,
        ..Default::default()
    };
    generate(&opts, &mut out, None).expect("generate into memory");
    out
}

/// The input split into batches of raw entries, as the source sends them.
fn batches(data: &[u8]) -> Vec<Batch> {
    let mut s = Splitter::new(InputFormat::Auto, Limits::default());
    let mut found = Vec::new();
    s.scan(data, &mut found);
    s.finish(data, &mut found);
    let buf = Arc::new(data.to_vec());
    found
        .chunks(BATCH)
        .enumerate()
        .map(|(i, chunk)| Batch {
            seq: i as u64,
            buf: Arc::clone(&buf),
            spans: chunk
                .iter()
                .map(|f| EntrySpan {
                    range: (f.start as u32, f.end as u32),
                    entry_no: 0,
                    offset: f.offset,
                    flaw: f.flaw,
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

fn split(c: &mut Criterion) {
    let data = gcloud_array();
    let mut g = c.benchmark_group("split");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("gcloud array", |b| {
        let mut found = Vec::with_capacity(ENTRIES as usize);
        b.iter(|| {
            found.clear();
            let mut s = Splitter::new(InputFormat::Auto, Limits::default());
            s.scan(black_box(&data), &mut found);
            s.finish(&data, &mut found);
            found.len()
        })
    });
    g.finish();
}

/// The fields the parse stage extracts, as one typed struct that both serde_json and simd-json
/// can fill (the stage itself defers payloads with serde_json's `RawValue`, which simd-json has
/// no equivalent of).
#[derive(Deserialize)]
#[allow(dead_code)]
struct Needed<'a> {
    #[serde(borrow, rename = "insertId")]
    insert_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    severity: Option<Cow<'a, str>>,
    #[serde(borrow)]
    resource: Option<Resource<'a>>,
    #[serde(borrow, rename = "logName")]
    log_name: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "jsonPayload")]
    json_payload: Option<Payload<'a>>,
    #[serde(borrow, rename = "textPayload")]
    text_payload: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "httpRequest")]
    http_request: Option<HttpRequest<'a>>,
    #[serde(borrow)]
    trace: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Resource<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    labels: Option<ResourceLabels<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ResourceLabels<'a> {
    #[serde(borrow)]
    service_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    revision_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Payload<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    labels: Option<PayloadLabels<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PayloadLabels<'a> {
    #[serde(borrow)]
    module: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: Option<Cow<'a, str>>,
    #[serde(borrow)]
    line: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct HttpRequest<'a> {
    #[serde(borrow, rename = "requestMethod")]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "requestUrl")]
    url: Option<Cow<'a, str>>,
    status: Option<u16>,
    #[serde(borrow)]
    latency: Option<Cow<'a, str>>,
}

fn parse(c: &mut Criterion) {
    let data = gcloud_array();
    let mut all = batches(&data);
    let bytes: u64 = all
        .iter()
        .flat_map(|b| &b.spans)
        .map(|s| (s.range.1 - s.range.0) as u64)
        .sum();
    let entries: u64 = all.iter().map(|b| b.spans.len() as u64).sum();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(bytes));
    for (name, reader) in [
        ("stage (parse_batch, fast reader)", Reader::Fast),
        ("stage (parse_batch, serde_json)", Reader::SerdeJson),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for batch in &mut all {
                    batch.arena.clear();
                    parse_batch_with(batch, reader);
                }
            })
        });
    }
    // The same entries as separate byte slices.
    let raw: Vec<&[u8]> = all
        .iter()
        .flat_map(|b| {
            b.spans
                .iter()
                .map(|s| &data[s.range.0 as usize..s.range.1 as usize])
        })
        .collect();
    g.bench_function("typed fields, serde_json", |b| {
        b.iter(|| {
            let mut ok = 0;
            for r in &raw {
                if let Ok(n) = serde_json::from_slice::<Needed>(black_box(r)) {
                    ok += n.severity.is_some() as usize;
                }
            }
            ok
        })
    });
    g.bench_function("typed fields, simd-json (copy + reused buffers)", |b| {
        let mut buffers = simd_json::Buffers::default();
        let mut scratch: Vec<u8> = Vec::new();
        b.iter(|| {
            let mut ok = 0;
            for r in &raw {
                scratch.clear();
                scratch.extend_from_slice(black_box(r));
                if let Ok(n) =
                    simd_json::serde::from_slice_with_buffers::<Needed>(&mut scratch, &mut buffers)
                {
                    ok += n.severity.is_some() as usize;
                }
            }
            ok
        })
    });
    g.throughput(Throughput::Elements(entries));
    g.bench_function("stage entries/s", |b| {
        b.iter(|| {
            for batch in &mut all {
                batch.arena.clear();
                gardener_core::stages::parse::parse_batch(batch);
            }
        })
    });
    g.finish();
}

fn aggregate(c: &mut Criterion) {
    let data = gcloud_array();
    let cfg = Config::default();
    let masker = Arc::new(Masker::new(&cfg.masks().unwrap(), 4096).unwrap());
    let mut fp = Fingerprinter::new(masker);
    let mut all = batches(&data);
    for batch in &mut all {
        gardener_core::stages::parse::parse_batch(batch);
        fp.batch(batch);
    }
    let records: u64 = all.iter().map(|b| b.records.len() as u64).sum();
    let settings = AggregateSettings {
        shard: 0,
        shards: 1,
        samples: cfg.aggregate.samples,
        reach: 86_400,
        now: None,
        bucket: cfg.bucket_secs(),
        max_buckets: cfg.aggregate.max_buckets,
        max_clusters: 0,
        traces: cfg.related.traces_per_cluster,
        latest: i64::MAX,
        rolling_margin: None,
        coarse_after: None,
        inputs: Arc::new(vec!["bench".into()]),
        // As in a run with the default state: every entry keyed for the insertId memory.
        remember: Some(Arc::new(gardener_core::stages::aggregate::Remember {
            overlap: 2 * 86_400 * 1_000_000_000,
            ..Default::default()
        })),
    };
    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(records));
    g.bench_function("one shard, all clusters", |b| {
        b.iter(|| {
            let mut shard = Shard::new(settings.clone());
            for batch in &all {
                shard.add(black_box(batch));
            }
            shard.end()
        })
    });
    g.finish();
}

criterion_group!(benches, split, parse, aggregate);
criterion_main!(benches);
