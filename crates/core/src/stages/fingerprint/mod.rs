//! The fingerprint stage: masks the variable parts of each message into a template
//! ([`mask`]), gives the (service, template) pair a stable id, and at the end of a run
//! generalizes templates that differ only in word variables ([`mine`]).
//!
//! **Ids** are `xxh3_64(service ␟ template)`, printed as 16 hex digits: a pure function of the
//! bytes, so the same problem gets the same id on every machine, in every run, in any input
//! order and with any number of workers.

pub mod mask;
pub mod mine;

use std::collections::HashMap;
use std::sync::Arc;

use xxhash_rust::xxh3::{Xxh3, xxh3_64, xxh3_64_with_seed};

pub use mask::{Masker, VAR};

pub use crate::model::id::{IdHasher, IdMap, IdSet, format_id, parse_id, shard_of};
use crate::model::record::{Batch, NewTemplate, Routed};
use crate::model::stats::StageStats;
use crate::stages::epoch::Number;
use crate::stages::worker::{self, Shared};
use tokio::sync::mpsc::Sender;

/// The stable cluster id of a template in a scope (see [`scope`]).
pub fn fingerprint_id(scope: &str, template: &str) -> u64 {
    let mut h = Xxh3::new();
    h.update(scope.as_bytes());
    h.update(&[0x1f]);
    h.update(template.as_bytes());
    h.digest()
}

/// Where a template lives: its service, plus the code location (module or file, and function;
/// never the line, which moves between revisions) when the entry names one. The same message
/// logged from two places is two problems.
pub fn scope(service: &str, module: &str, function: &str) -> String {
    if module.is_empty() && function.is_empty() {
        service.to_string()
    } else {
        format!("{service}\x1f{module}\x1f{function}")
    }
}

/// [`fingerprint_id`] of `scope(service, module, function)` without building the scope: the
/// same bytes are laid out in `buf` and hashed in one call (xxh3 of the whole equals xxh3 fed
/// in pieces; one call skips the streaming hasher's buffering).
fn scoped_id(
    buf: &mut Vec<u8>,
    service: &str,
    module: &str,
    function: &str,
    template: &str,
) -> u64 {
    buf.clear();
    buf.extend_from_slice(service.as_bytes());
    if !(module.is_empty() && function.is_empty()) {
        for part in [module, function] {
            buf.push(0x1f);
            buf.extend_from_slice(part.as_bytes());
        }
    }
    buf.push(0x1f);
    buf.extend_from_slice(template.as_bytes());
    xxh3_64(buf)
}

/// One worker's memory: which templates it has announced, and a cache from exact message to id
/// (most log lines repeat verbatim, and hashing a message is far cheaper than masking it).
pub struct Fingerprinter {
    masker: Arc<Masker>,
    announced: IdSet,
    cache: IdMap<u64>,
    scratch: String,
    id_bytes: Vec<u8>,
    /// `gardener watch`'s epoch number (see `epoch::Number`) and the one last seen.
    epoch: Option<(Arc<Number>, u64)>,
}

/// Messages the cache holds before it is emptied. Its table (32,768 buckets of 16 bytes, 512 KiB)
/// stays within a core's L2 cache. With 200,000 (4 MiB) a lookup waited on main memory: the
/// probe of the table was ~40% of `Fingerprinter::batch`'s own samples (perf annotate, 1M
/// mixed entries, whose messages are mostly distinct), and those runs took 2–5% more CPU
/// (paired runs); `gardener gen` data and tracebacks ran the same.
const CACHE_LIMIT: usize = 28_000;

impl Fingerprinter {
    pub fn new(masker: Arc<Masker>) -> Fingerprinter {
        Fingerprinter {
            masker,
            announced: IdSet::default(),
            cache: IdMap::default(),
            scratch: String::new(),
            id_bytes: Vec::new(),
            epoch: None,
        }
    }

    /// Announces every template again in each new epoch of `number` (the shards may have
    /// evicted them).
    pub fn with_epochs(mut self, number: Option<Arc<Number>>) -> Fingerprinter {
        self.epoch = number.map(|n| {
            let now = n.get();
            (n, now)
        });
        self
    }

    /// Sets `fingerprint` on every record of the batch and lists templates this worker has not
    /// announced before in `batch.new_templates`.
    pub fn batch(&mut self, batch: &mut Batch) {
        if let Some((number, seen)) = &mut self.epoch
            && number.get() != *seen
        {
            *seen = number.get();
            // A cached message is not announced: the cache goes too.
            self.announced.clear();
            self.cache.clear();
        }
        let mut records = std::mem::take(&mut batch.records);
        for r in &mut records {
            let location = if r.module.is_empty() {
                r.file
            } else {
                r.module
            };
            // The cache key hashes the raw bytes: a hit (most entries) needs no UTF-8 check.
            // Each part is hashed in one call seeded with the hash of the parts before it, so
            // part boundaries count ("ab"+"c" differs from "a"+"bc"). The key lives in memory
            // only; the persisted id is `scoped_id`.
            let key = {
                let mut h = 0;
                for part in [r.service, location, r.function] {
                    h = xxh3_64_with_seed(batch.bytes(part), h);
                }
                if r.message.is_empty()
                    && let Some(http) = &r.http
                {
                    h = xxh3_64_with_seed(batch.bytes(http.method), h ^ 1);
                    h = xxh3_64_with_seed(batch.bytes(http.url), h);
                    h = xxh3_64_with_seed(&http.status.to_le_bytes(), h);
                } else {
                    h = xxh3_64_with_seed(batch.bytes(r.message), h);
                }
                h
            };
            if let Some(&id) = self.cache.get(&key) {
                r.fingerprint = id;
                continue;
            }
            let service = batch.str(r.service);
            let message = batch.str(r.message);
            let module = batch.str(location);
            let function = batch.str(r.function);
            match (&r.http, message.is_empty()) {
                (Some(h), true) => self.masker.http_template(
                    batch.str(h.method),
                    batch.str(h.url),
                    h.status,
                    &mut self.scratch,
                ),
                _ => self.masker.template(message, &mut self.scratch),
            }
            let id = scoped_id(&mut self.id_bytes, service, module, function, &self.scratch);
            r.fingerprint = id;
            if self.cache.len() >= CACHE_LIMIT {
                self.cache.clear();
            }
            self.cache.insert(key, id);
            if self.announced.insert(id) {
                batch.new_templates.push(NewTemplate {
                    id,
                    scope: scope(service, module, function),
                    template: self.scratch.clone(),
                });
            }
        }
        batch.records = records;
    }
}

/// Runs one fingerprint worker: fingerprints each batch, then hands the same batch to every
/// aggregation shard and to the entry sinks. An output that has gone (a sink whose file failed)
/// is dropped and the others go on, so a failing sink never costs the report any entries.
pub async fn run(
    masker: Arc<Masker>,
    rx: Shared<Batch>,
    shards: Vec<Sender<Routed>>,
    entries: Option<Sender<Arc<Batch>>>,
    stats: Arc<StageStats>,
    epochs: Option<Arc<Number>>,
) {
    let mut fp = Fingerprinter::new(masker).with_epochs(epochs);
    // A shard that has ended (it never does before its input ends) is skipped, keeping the
    // others' places: records are routed by place.
    let mut shards: Vec<Option<Sender<Routed>>> = shards.into_iter().map(Some).collect();
    let mut entries = entries;
    while let Some(mut batch) = worker::next(&rx, &stats).await {
        let t = stats.start(batch.records.len());
        fp.batch(&mut batch);
        let routes = route(&batch, shards.len());
        stats.finish(t, batch.records.len());
        let batch = Arc::new(batch);
        let blocked = std::time::Instant::now();
        for (slot, records) in shards.iter_mut().zip(routes) {
            if let Some(tx) = slot {
                let routed = Routed {
                    batch: Arc::clone(&batch),
                    records,
                };
                if tx.send(routed).await.is_err() {
                    *slot = None;
                }
            }
        }
        if let Some(tx) = &entries
            && tx.send(batch).await.is_err()
        {
            entries = None;
        }
        stats.blocked(blocked);
    }
}

/// The indexes of the batch's records, per aggregate shard (see [`shard_of`]).
fn route(batch: &Batch, shards: usize) -> Vec<Vec<u32>> {
    // One Vec each (`vec![v; n]` would clone them without their capacity).
    let each = batch.records.len() / shards.max(1) + 8;
    let mut routes: Vec<Vec<u32>> = (0..shards).map(|_| Vec::with_capacity(each)).collect();
    for (i, r) in batch.records.iter().enumerate() {
        routes[shard_of(r.fingerprint, shards)].push(i as u32);
    }
    routes
}

/// Fingerprints a stream of messages of one service exactly as a run does — mask each, then
/// generalize over the whole set — keeping only 8 bytes per message until the end. Used by
/// `gardener fingerprint` and the Loghub evaluation.
pub struct MessageGrouper<'m> {
    masker: &'m Masker,
    service: String,
    ids: Vec<u64>,
    /// Id → (scope, template, messages).
    templates: HashMap<u64, (String, String, u64)>,
    scratch: String,
}

impl<'m> MessageGrouper<'m> {
    pub fn new(masker: &'m Masker, service: &str) -> Self {
        MessageGrouper {
            masker,
            service: service.to_string(),
            ids: Vec::new(),
            templates: HashMap::new(),
            scratch: String::new(),
        }
    }

    /// Adds one message line, read as `gardener run` reads a text payload: ANSI escapes
    /// removed, a logger prefix split off (its code location joins the scope), an access-log
    /// line grouped as a request (see `parse::textlog`).
    pub fn add(&mut self, line: &str) {
        use crate::stages::parse::textlog;
        let clean = textlog::strip_ansi(line);
        let (mut msg, mut module, mut function) = (&*clean, "", "");
        if let Some(p) = textlog::split_prefix(&clean) {
            msg = &clean[p.message];
            module = &clean[p.module];
            function = &clean[p.function];
        }
        match textlog::access_line(msg) {
            Some(a) => {
                self.masker
                    .http_template(&msg[a.method], &msg[a.url], a.status, &mut self.scratch)
            }
            None => self.masker.template(msg, &mut self.scratch),
        }
        let scope = scope(&self.service, module, function);
        let id = fingerprint_id(&scope, &self.scratch);
        self.ids.push(id);
        match self.templates.get_mut(&id) {
            Some(t) => t.2 += 1,
            None => {
                self.templates.insert(id, (scope, self.scratch.clone(), 1));
            }
        }
    }

    /// The final (id, template) of every message, in the order they were added.
    pub fn finish(self) -> Vec<(u64, std::rc::Rc<str>)> {
        self.finish_tuned(&mine::Settings::default())
    }

    /// [`MessageGrouper::finish`] with other mining settings (for evaluation).
    pub fn finish_tuned(self, settings: &mine::Settings) -> Vec<(u64, std::rc::Rc<str>)> {
        let raws: Vec<mine::Raw> = self
            .templates
            .iter()
            .map(|(id, (scope, t, n))| mine::Raw {
                id: *id,
                count: *n,
                service: scope,
                template: t,
            })
            .collect();
        let finals: HashMap<u64, (u64, std::rc::Rc<str>)> =
            mine::generalize_tuned(&raws, &[], settings)
                .finals
                .into_iter()
                .map(|(k, (id, t))| (k, (id, std::rc::Rc::from(t))))
                .collect();
        self.ids
            .iter()
            .map(|raw| {
                let (id, t) = &finals[raw];
                (*id, std::rc::Rc::clone(t))
            })
            .collect()
    }
}

/// Convenience for tools and tests: the id and template of one message in one service.
pub fn fingerprint_message(masker: &Masker, service: &str, msg: &str) -> (u64, String) {
    let mut t = String::new();
    masker.template(msg, &mut t);
    (fingerprint_id(service, &t), t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::collections::HashSet;

    fn masker() -> Masker {
        Masker::new(&Config::default().masks().unwrap(), 4096).unwrap()
    }

    #[test]
    fn seed_clusters_group_together() {
        let same = [
            (
                "[?] Rejecting WebSocket connection (Issue #449 protection) - State: unknown, Failed services: [], Error: service_not_ready, Path: /websocket",
                "[?] Rejecting WebSocket connection (Issue #449 protection) - State: unknown, Failed services: [], Error: service_not_ready, Path: /ws/health",
            ),
            (
                "SSOT validation issues (non-blocking): ['Multiple manager instances for user demo-user-001 - potential duplication']",
                "SSOT validation issues (non-blocking): ['Multiple manager instances for user demo-user-417 - potential duplication']",
            ),
            (
                " ALERT:  GOLDEN PATH LOOP ERROR: Message loop crashed for user demo-use... connection main_c1ac73f8",
                " ALERT:  GOLDEN PATH LOOP ERROR: Message loop crashed for user abc-user... connection main_0b9f1e22",
            ),
            (
                " WARNING: [U+FE0F] HIGH BUFFER UTILIZATION: 92.1% - Timeout 0.3s may be too aggressive for 0.024s response time",
                " WARNING: [U+FE0F] HIGH BUFFER UTILIZATION: 91.2% - Timeout 0.5s may be too aggressive for 0.1s response time",
            ),
            (
                "request_id 'defensive_auth_1a2b_17' has invalid format. Expected UUID or UnifiedIDManager structured format.",
                "request_id 'defensive_auth_9f3c_2' has invalid format. Expected UUID or UnifiedIDManager structured format.",
            ),
            (
                "[?] USER AUTO-CREATED: Created user ***@netrasystems.ai from JWT=REDACTED (env: staging, user_id: 10812417..., demo_mode: False, domain: netrasystems.ai, domain_type: unknown)",
                "[?] USER AUTO-CREATED: Created user ***@gmail.com from JWT=REDACTED (env: staging, user_id: 10741608..., demo_mode: False, domain: gmail.com, domain_type: consumer)",
            ),
        ];
        let m = masker();
        for (a, b) in same {
            assert_eq!(
                fingerprint_message(&m, "s", a),
                fingerprint_message(&m, "s", b),
                "{a}"
            );
        }
        let different = [
            "WebSocket manager creation failed: Direct instantiation not allowed. Use get_websocket_manager() factory function. Caller: get_websocket_manager",
            "SSOT VIOLATION: Direct instantiation not allowed. Use get_websocket_manager() factory function. Caller: get_websocket_manager",
            "Creating emergency WebSocket manager",
            "Connection error: create_server_message() missing 1 required positional argument: 'data'",
            "Error during cleanup: create_error_message() missing 1 required positional argument: 'error_message'",
        ];
        let ids: HashSet<u64> = different
            .iter()
            .map(|d| fingerprint_message(&m, "s", d).0)
            .collect();
        assert_eq!(ids.len(), different.len());
        // The service is part of the identity.
        assert_ne!(
            fingerprint_message(&m, "a", different[0]).0,
            fingerprint_message(&m, "b", different[0]).0
        );
    }

    #[test]
    fn ids_are_fixed_values() {
        // The id is part of the product's contract (GitHub markers, warehouse rows): it must
        // never change between versions or machines. These constants were computed once; a
        // change here breaks every user's history.
        assert_eq!(
            format_id(fingerprint_id("svc", "hello <*>")),
            "9cf34f3eac258d79"
        );
        assert_eq!(
            fingerprint_message(&masker(), "svc", "hello 42").0,
            0x9cf3_4f3e_ac25_8d79
        );
        assert_eq!(parse_id("9cf34f3eac258d79"), Some(0x9cf3_4f3e_ac25_8d79));
        assert_eq!(format_id(1), "0000000000000001");
    }
}
