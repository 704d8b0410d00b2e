//! The source stage: reads bytes (stdin, files, or `gcloud logging read` run as a child process)
//! in large blocks and splits them into entries without parsing them, then sends batches of raw
//! entries downstream.
//!
//! The splitter is a resumable byte scanner. For a JSON array (what `gcloud --format=json`
//! prints) it tracks bracket depth outside strings and jumps through strings with `memchr`, so
//! it never holds more than one batch and one partial entry in memory, whatever the input size.
//! For NDJSON every non-blank line is an entry. The format is detected from the first non-blank
//! byte; lines before it that are not JSON (gcloud's own warnings on the same stream) are skipped
//! with a note.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::mpsc::Sender;

use crate::config::{Config, InputFormat, SourceKind};
use crate::stages::epoch::Gate;

mod again;
mod lines;
pub mod pubsub;
use crate::console::progress::Progress;
use crate::model::record::{Batch, EntrySpan, Flaw};
use crate::model::stats::StageStats;

/// What to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(String),
    /// `gcloud logging read` (or, with `tail`, `gcloud beta logging tail`) with the configured
    /// settings.
    Gcloud {
        tail: bool,
    },
    /// The Pub/Sub subscription `source.pubsub.subscription` (`gardener watch` only).
    Pubsub(String),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(p) => p.clone(),
            Input::Gcloud { tail: false } => "gcloud logging read".into(),
            Input::Gcloud { tail: true } => "gcloud beta logging tail".into(),
            Input::Pubsub(subscription) => subscription.clone(),
        }
    }
}

/// Decides the inputs from the command line and the config.
pub fn inputs(cfg: &Config, files: &[String]) -> Vec<Input> {
    let from_paths = |paths: &[String]| {
        paths
            .iter()
            .map(|p| {
                if p == "-" {
                    Input::Stdin
                } else {
                    Input::File(p.clone())
                }
            })
            .collect()
    };
    if !files.is_empty() {
        return from_paths(files);
    }
    match cfg.source.kind {
        SourceKind::Stdin => vec![Input::Stdin],
        SourceKind::Files if !cfg.source.paths.is_empty() => from_paths(&cfg.source.paths),
        SourceKind::Files => vec![Input::Stdin],
        SourceKind::Gcloud => vec![Input::Gcloud {
            tail: cfg.source.gcloud.tail,
        }],
        SourceKind::Pubsub => vec![Input::Pubsub(cfg.source.pubsub.subscription.clone())],
    }
}

/// A problem met while reading, reported but not fatal (the entries around it are kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub input: String,
    pub offset: u64,
    pub text: String,
}

/// What the source saw, for the report.
#[derive(Clone, Debug, Default)]
pub struct SourceSummary {
    pub inputs: Vec<String>,
    pub bytes: u64,
    /// Entries sent downstream.
    pub entries: u64,
    pub notes: Vec<Note>,
}

/// A fatal source error: the input could not be read at all.
#[derive(Debug)]
pub struct SourceError(pub String);

/// Limits on a single entry (`source.max_entry_kib`, `source.max_depth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A longer entry is not kept: the splitter skips to its end and reports its first bytes.
    pub max_entry_bytes: u64,
    /// Deepest bracket nesting allowed; the entry's own braces are level 1.
    pub max_depth: u32,
}

impl Limits {
    /// The limits `cfg` sets on every entry.
    pub fn of(cfg: &Config) -> Limits {
        Limits {
            max_entry_bytes: cfg.source.max_entry_kib.saturating_mul(1024),
            max_depth: cfg.source.max_depth,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry_bytes: 16 << 20,
            max_depth: 100,
        }
    }
}

/// Bytes of an entry over the size limit kept for its dead letter.
pub const HEAD_BYTES: usize = 4096;
/// Bytes of a skipped run of junk quoted in its note.
const NOTE_BYTES: usize = 240;
/// Notes listed per input; further problems are counted in one closing note.
const MAX_NOTES: usize = 100;
/// A batch is cut when its buffer grows past this, however few entries it holds. With
/// `channel_capacity` batches per channel this bounds the bytes in flight (16 × 2 MiB per
/// channel by default); ordinary batches are one read block (1 MiB) and never reach it.
const BATCH_BYTES: usize = 2 << 20;
/// Column not known (no newline since the last entry).
const NO_COL: u32 = u32::MAX;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// An entry found by the [`Splitter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The entry's bytes in the scanned buffer — or, for [`Flaw::TooLarge`], its first bytes in
    /// [`Splitter::heads`].
    pub start: usize,
    pub end: usize,
    /// Offset of the entry's first byte in the input.
    pub offset: u64,
    pub flaw: Flaw,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Before the first non-blank byte of a document.
    Detect,
    /// Skipping a line that is not JSON (gcloud's warnings before the data).
    SkipLine,
    /// In an array in gcloud's layout, skipping bytes that belong to no entry up to the next
    /// line that starts one (`  {`), closes the array (`]`) or starts a new document.
    SkipToEntry,
    /// Inside a JSON array, between elements.
    ArrayBetween,
    /// Inside an array element.
    ArrayElement,
    /// After the closing `]`.
    ArrayDone,
    /// NDJSON, between lines.
    NdjsonBetween,
    /// NDJSON, inside a line (an entry).
    NdjsonLine,
}

/// What the line after a newline looks like, in gcloud's layout.
enum NextLine {
    /// Not in the buffer yet.
    More,
    /// Indented: the entry goes on.
    Inside,
    /// `  }`: in gcloud's layout, the line that closes an entry.
    End,
    /// `  {`: an entry starts.
    Entry,
    /// `]` in column 0: the array closes.
    Close,
    /// `[` or `{` in column 0: a new document.
    Document,
    /// Anything else in column 0: not part of the array.
    Junk,
}

fn next_line(buf: &[u8], newline: usize) -> NextLine {
    let rest = &buf[newline + 1..];
    match rest.first() {
        None => NextLine::More,
        Some(b']') => NextLine::Close,
        Some(b'[' | b'{') => NextLine::Document,
        Some(b' ') => match rest.get(1) {
            None => NextLine::More,
            Some(b' ') => match rest.get(2) {
                None => NextLine::More,
                Some(b'{') => NextLine::Entry,
                Some(b'}') => NextLine::End,
                Some(_) => NextLine::Inside,
            },
            Some(_) => NextLine::Inside,
        },
        Some(b) if b.is_ascii_whitespace() => NextLine::Inside,
        Some(_) => NextLine::Junk,
    }
}

/// Resumable splitter over a growing buffer. Positions are relative to the buffer; `rebase`
/// shifts them when the caller cuts consumed bytes off the front.
///
/// Arrays: brackets are counted outside strings, strings are jumped through with `memchr`.
/// When the array is in gcloud's layout (`[\n  {\n    "…`), every line that starts with
/// `  {` starts an entry, so an entry whose brackets or quotes do not balance ends there
/// instead of swallowing the rest of the input, and junk lines inside the array are skipped up
/// to the next entry. NDJSON: every non-blank line is an entry (brackets are counted for the
/// depth limit). Entries over the size limit are not buffered: the splitter keeps their first
/// [`HEAD_BYTES`] in `heads` and skips to their end.
pub struct Splitter {
    mode: Mode,
    forced: InputFormat,
    limits: Limits,
    pos: usize,
    /// Start of the current entry in the buffer (while it is kept).
    start: usize,
    /// Offset in the input of the current entry or skipped run.
    start_abs: u64,
    depth: u32,
    in_string: bool,
    too_deep: bool,
    /// The current entry is over the size limit; its bytes are no longer kept.
    oversize: bool,
    /// The current array is in gcloud's layout.
    pretty: bool,
    /// The current array has not had an element yet (its layout is decided on the first).
    first: bool,
    /// The current element is read line by line (see [`Splitter::scan_lines`]).
    by_lines: bool,
    /// Elements in gcloud's layout may be read line by line (false: every byte is scanned, as
    /// the parse-only baseline does).
    line_mode: bool,
    col: u32,
    /// First bytes of the current oversized entry, or of the skipped run (for its note).
    head: Vec<u8>,
    /// First bytes of the entries over the size limit found so far (see [`Found`]); the caller
    /// takes them with the entries.
    pub heads: Vec<u8>,
    /// Bytes consumed before the current buffer, for absolute offsets.
    pub base: u64,
    pub notes: Vec<(u64, String)>,
    unlisted: u64,
}

impl Splitter {
    pub fn new(forced: InputFormat, limits: Limits) -> Splitter {
        Splitter {
            mode: match forced {
                InputFormat::Ndjson => Mode::NdjsonBetween,
                _ => Mode::Detect,
            },
            forced,
            limits,
            pos: 0,
            start: 0,
            start_abs: 0,
            depth: 0,
            in_string: false,
            too_deep: false,
            oversize: false,
            pretty: false,
            first: false,
            by_lines: false,
            line_mode: true,
            col: NO_COL,
            head: Vec::new(),
            heads: Vec::new(),
            base: 0,
            notes: Vec::new(),
            unlisted: 0,
        }
    }

    /// A splitter that scans every byte of every array element, never line by line: the
    /// parse-only baseline's, which splits as a plain bracket-and-string scanner would.
    pub fn exact(forced: InputFormat, limits: Limits) -> Splitter {
        Splitter {
            line_mode: false,
            ..Splitter::new(forced, limits)
        }
    }

    /// Where the bytes still needed begin: the current entry, unless it is being skipped.
    pub fn keep_from(&self) -> usize {
        match self.mode {
            Mode::ArrayElement | Mode::NdjsonLine if !self.oversize => self.start.min(self.pos),
            _ => self.pos,
        }
    }

    /// Shifts positions after the caller removed `by` bytes from the front of the buffer.
    pub fn rebase(&mut self, by: usize) {
        self.pos -= by;
        self.start = self.start.saturating_sub(by);
        self.base += by as u64;
    }

    fn note(&mut self, at: u64, text: impl FnOnce() -> String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push((at, text()));
        } else {
            self.unlisted += 1;
        }
    }

    fn begin_entry(&mut self, mode: Mode) {
        self.mode = mode;
        self.start = self.pos;
        self.start_abs = self.base + self.pos as u64;
        self.depth = 0;
        self.in_string = false;
        self.too_deep = false;
        self.oversize = false;
        self.by_lines = false;
    }

    fn begin_skip(&mut self, mode: Mode) {
        self.mode = mode;
        self.start_abs = self.base + self.pos as u64;
        self.head.clear();
    }

    /// Bytes of an oversized entry kept: never more than the limit, so that they are always
    /// all in the buffer when the entry is found to be too large.
    fn head_len(&self) -> usize {
        (HEAD_BYTES as u64).min(self.limits.max_entry_bytes) as usize
    }

    /// Scans `buf` from where it stopped and appends the entries completed in it to `out`.
    pub fn scan(&mut self, buf: &[u8], out: &mut Vec<Found>) {
        while self.pos < buf.len() {
            match self.mode {
                Mode::Detect => {
                    let b = buf[self.pos];
                    if b.is_ascii_whitespace() {
                        self.pos += 1;
                    } else if b == BOM[0]
                        && BOM.starts_with(&buf[self.pos..buf.len().min(self.pos + 3)])
                    {
                        if buf.len() - self.pos < 3 {
                            return; // The rest of a byte-order mark is in the next block.
                        }
                        self.pos += 3;
                    } else if b == b'[' && self.forced != InputFormat::Ndjson {
                        self.mode = Mode::ArrayBetween;
                        self.pos += 1;
                        self.first = true;
                        self.pretty = false;
                        self.col = NO_COL;
                    } else if b == b'{' {
                        self.begin_entry(Mode::NdjsonLine);
                    } else {
                        self.begin_skip(Mode::SkipLine);
                    }
                }
                Mode::SkipLine | Mode::SkipToEntry => {
                    if !self.skip(buf) {
                        return;
                    }
                }
                Mode::ArrayBetween => {
                    let b = buf[self.pos];
                    match b {
                        b'\n' => self.col = 0,
                        b' ' => self.col = self.col.saturating_add(1),
                        b',' => self.col = NO_COL,
                        _ if b.is_ascii_whitespace() => self.col = NO_COL,
                        b']' => self.mode = Mode::ArrayDone,
                        _ => {
                            if self.first {
                                self.first = false;
                                self.pretty = b == b'{' && self.col == 2;
                            }
                            // In gcloud's layout a line that starts no JSON value is junk
                            // (a warning printed into the stream); a value that is not an
                            // object is an element, passed on to be rejected with its bytes
                            // (dead-letter file).
                            if self.pretty && b != b'{' && !starts_value(&buf[self.pos..]) {
                                self.begin_skip(Mode::SkipToEntry);
                                continue;
                            }
                            // An object whose first line is just `{` is read line by line;
                            // whether it is must not depend on where the block ends.
                            let lines = self.pretty && self.line_mode && b == b'{';
                            let by_lines = match buf.get(self.pos + 1) {
                                None if lines => return,
                                next => lines && next == Some(&b'\n'),
                            };
                            self.begin_entry(Mode::ArrayElement);
                            self.by_lines = by_lines;
                            continue;
                        }
                    }
                    self.pos += 1;
                }
                Mode::ArrayElement if self.by_lines => {
                    if !self.scan_lines(buf, out) {
                        return;
                    }
                }
                Mode::ArrayElement => {
                    if !self.scan_element(buf, out) {
                        return;
                    }
                }
                Mode::NdjsonLine => {
                    if !self.scan_line(buf, out) {
                        return;
                    }
                }
                Mode::ArrayDone => {
                    if buf[self.pos].is_ascii_whitespace() {
                        self.pos += 1;
                    } else {
                        // Another document follows (e.g. two gcloud outputs concatenated).
                        self.mode = Mode::Detect;
                    }
                }
                Mode::NdjsonBetween => {
                    if buf[self.pos].is_ascii_whitespace() {
                        self.pos += 1;
                    } else {
                        self.begin_entry(Mode::NdjsonLine);
                    }
                }
            }
        }
    }

    /// Keeps the first bytes of a skipped run, up to `to`, for its note.
    fn keep_head(&mut self, buf: &[u8], to: usize) {
        let room = NOTE_BYTES.saturating_sub(self.head.len());
        let end = to.min(self.pos + room);
        if end > self.pos {
            self.head.extend_from_slice(&buf[self.pos..end]);
        }
    }

    /// Skips junk (`SkipLine`, `SkipToEntry`); false when it needs more input.
    fn skip(&mut self, buf: &[u8]) -> bool {
        loop {
            let Some(k) = memchr::memchr(b'\n', &buf[self.pos..]) else {
                self.keep_head(buf, buf.len());
                self.pos = buf.len();
                return false;
            };
            let nl = self.pos + k;
            self.keep_head(buf, nl);
            self.pos = nl;
            if self.mode == Mode::SkipLine {
                self.end_skip(nl);
                self.pos = nl + 1;
                self.mode = Mode::Detect;
                return true;
            }
            match next_line(buf, nl) {
                NextLine::More => return false,
                NextLine::Entry | NextLine::Close => {
                    self.end_skip(nl);
                    self.mode = Mode::ArrayBetween;
                    return true;
                }
                NextLine::Document => {
                    self.end_skip(nl);
                    self.pos = nl + 1;
                    self.mode = Mode::Detect;
                    return true;
                }
                NextLine::Inside | NextLine::End | NextLine::Junk => {
                    self.keep_head(buf, nl + 1);
                    self.pos = nl + 1;
                }
            }
        }
    }

    /// Notes a skipped run that ends at `end` (buffer position).
    fn end_skip(&mut self, end: usize) {
        let at = self.start_abs;
        let len = self.base + end as u64 - at;
        let text = describe(&self.head);
        if self.mode == Mode::SkipLine {
            self.note(at, || format!("skipped a line that is not JSON: {text}"));
        } else {
            self.note(at, || {
                format!("skipped {len} bytes inside the array that belong to no entry: {text}")
            });
        }
        self.head.clear();
    }

    /// Advances through an NDJSON line; emits it and returns true once it ends, false when it
    /// needs more input.
    fn scan_line(&mut self, buf: &[u8], out: &mut Vec<Found>) -> bool {
        let Some(k) = memchr::memchr(b'\n', &buf[self.pos..]) else {
            self.pos = buf.len();
            return self.wait(buf);
        };
        let nl = self.pos + k;
        self.end_line(buf, nl, out);
        self.pos = nl + 1;
        self.mode = Mode::NdjsonBetween;
        true
    }

    /// Emits the NDJSON line ending at `end`.
    fn end_line(&mut self, buf: &[u8], end: usize, out: &mut Vec<Found>) {
        if !self.oversize && (end - self.start) as u64 <= self.limits.max_entry_bytes {
            self.too_deep = nests_deeper(&buf[self.start..end], self.limits.max_depth);
        }
        self.emit(buf, end, None, false, out);
    }

    /// Advances through an array element; emits it and returns true once it ends, false when
    /// it needs more input.
    fn scan_element(&mut self, buf: &[u8], out: &mut Vec<Found>) -> bool {
        let pretty = self.pretty;
        let mut i = self.pos;
        // (end before trimming, where scanning resumes, next mode, resynchronised)
        let (end, resume, next, broken) = loop {
            if i >= buf.len() {
                self.pos = i;
                return self.wait(buf);
            }
            if self.in_string {
                match memchr::memchr3(b'"', b'\\', b'\n', &buf[i..]) {
                    None => i = buf.len(),
                    Some(k) => {
                        let at = i + k;
                        match buf[at] {
                            b'\\' => {
                                if at + 1 >= buf.len() {
                                    // The escaped byte is in the next block: resume at the backslash.
                                    self.pos = at;
                                    return self.wait(buf);
                                }
                                // A raw newline is never escaped in JSON: leave it to the newline rules.
                                i = if buf[at + 1] == b'\n' { at + 1 } else { at + 2 };
                            }
                            b'"' => {
                                self.in_string = false;
                                i = at + 1;
                            }
                            // A raw newline cannot be inside a JSON string: in gcloud's
                            // layout every line starts outside a string.
                            _ if pretty => {
                                self.in_string = false;
                                i = at;
                            }
                            _ => i = at + 1,
                        }
                    }
                }
                continue;
            }
            match buf[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > self.limits.max_depth {
                        self.too_deep = true;
                    }
                }
                b']' if self.depth == 0 => {
                    // The `]` closing the array right after a scalar element (an element never
                    // starts with `]`, so it is not empty).
                    break (i, i, Mode::ArrayBetween, None);
                }
                // A stray `}` outside any bracket is part of this (bad) element.
                b'}' if self.depth == 0 => {}
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        break (i + 1, i + 1, Mode::ArrayBetween, None);
                    }
                }
                b',' if self.depth == 0 => break (i, i, Mode::ArrayBetween, None),
                b'\n' if pretty => {
                    let resumed = Some(self.base + i as u64 + 1);
                    match next_line(buf, i) {
                        NextLine::More => {
                            self.pos = i;
                            return self.wait(buf);
                        }
                        NextLine::Inside | NextLine::End => {}
                        NextLine::Entry | NextLine::Close => {
                            break (i, i, Mode::ArrayBetween, resumed);
                        }
                        NextLine::Document => break (i, i + 1, Mode::Detect, resumed),
                        NextLine::Junk => break (i, i + 1, Mode::SkipToEntry, resumed),
                    }
                }
                _ => {}
            }
            i += 1;
        };
        self.emit(buf, end, broken, false, out);
        self.resume_after_element(resume, next);
        true
    }

    /// Goes on at `resume` in mode `next` once an element is emitted.
    fn resume_after_element(&mut self, resume: usize, next: Mode) {
        self.pos = resume;
        if next == Mode::SkipToEntry {
            self.begin_skip(next);
        } else {
            self.mode = next;
            self.col = NO_COL;
        }
    }

    /// Advances through an element of gcloud's layout that opened with a line of its own,
    /// looking only at line starts: a raw newline cannot be inside a JSON string, so every line
    /// starts outside one, and in this layout the entry's own closing brace is the first line
    /// that is `  }` (nested lines are indented deeper, and [`lines::shallow_newline`] skips
    /// them 16 bytes at a time). A line that starts another entry,
    /// closes the array or starts in column 0 ends it early, as in [`Splitter::scan_element`].
    /// Brackets are not counted: an entry whose brackets do not balance inside ends at its
    /// `  }` and is rejected by the parser with the place it went wrong; the depth limit is
    /// checked on the whole entry once it ends (cheaply, by counting brackets first).
    fn scan_lines(&mut self, buf: &[u8], out: &mut Vec<Found>) -> bool {
        let mut i = self.pos;
        let (end, resume, next, broken) = loop {
            // Lines indented by three spaces or more are inside the entry: skipped unseen.
            let Some(k) = lines::shallow_newline(&buf[i..]) else {
                self.pos = buf.len();
                return self.wait(buf);
            };
            let nl = i + k;
            let resumed = Some(self.base + nl as u64 + 1);
            match next_line(buf, nl) {
                NextLine::More => {
                    self.pos = nl;
                    return self.wait(buf);
                }
                NextLine::Inside => i = nl + 1,
                NextLine::End => break (nl + 4, nl + 4, Mode::ArrayBetween, None),
                NextLine::Entry | NextLine::Close => break (nl, nl, Mode::ArrayBetween, resumed),
                NextLine::Document => break (nl, nl + 1, Mode::Detect, resumed),
                NextLine::Junk => break (nl, nl + 1, Mode::SkipToEntry, resumed),
            }
        };
        if !self.oversize && (end - self.start) as u64 <= self.limits.max_entry_bytes {
            self.too_deep = nests_deeper(&buf[self.start..end], self.limits.max_depth);
        }
        self.emit(buf, end, broken, false, out);
        self.by_lines = false;
        self.resume_after_element(resume, next);
        true
    }

    /// The current entry needs more input: stop keeping it if it is already over the limit.
    fn wait(&mut self, buf: &[u8]) -> bool {
        if !self.oversize
            && self.base + self.pos as u64 - self.start_abs > self.limits.max_entry_bytes
        {
            self.oversize = true;
            let n = self.head_len();
            self.head.clear();
            self.head
                .extend_from_slice(&buf[self.start..self.start + n]);
        }
        false
    }

    /// Emits the current entry, which ends at `end` (untrimmed).
    fn emit(
        &mut self,
        buf: &[u8],
        end: usize,
        resumed_at: Option<u64>,
        cut: bool,
        out: &mut Vec<Found>,
    ) {
        let size = self.base + end as u64 - self.start_abs;
        let limit = self.limits.max_entry_bytes;
        if self.oversize || size > limit {
            let h0 = self.heads.len();
            if self.oversize {
                self.heads.extend_from_slice(&self.head);
            } else {
                let n = self.head_len();
                self.heads
                    .extend_from_slice(&buf[self.start..self.start + n]);
            }
            out.push(Found {
                start: h0,
                end: self.heads.len(),
                offset: self.start_abs,
                flaw: Flaw::TooLarge { size, limit, cut },
            });
            self.oversize = false;
            return;
        }
        let flaw = if cut {
            Flaw::Cut
        } else if let Some(resumed_at) = resumed_at {
            Flaw::Unbalanced { resumed_at }
        } else if self.too_deep {
            Flaw::TooDeep {
                limit: self.limits.max_depth,
            }
        } else {
            Flaw::None
        };
        let mut end = trim_end(buf, self.start, end);
        if resumed_at.is_some() && end > self.start + 1 && buf[end - 1] == b',' {
            // The separator before the next entry is not part of this one.
            end = trim_end(buf, self.start, end - 1);
        }
        out.push(Found {
            start: self.start,
            end,
            offset: self.start_abs,
            flaw,
        });
    }

    /// Called at end of input: emits a trailing entry, if any, and notes what was left
    /// unfinished.
    pub fn finish(&mut self, buf: &[u8], out: &mut Vec<Found>) {
        if self.mode == Mode::ArrayBetween && self.pos < buf.len() {
            // An element's first byte, left for the next block to say how to read it.
            self.begin_entry(Mode::ArrayElement);
        }
        match self.mode {
            Mode::NdjsonLine => {
                self.end_line(buf, buf.len(), out);
                self.mode = Mode::NdjsonBetween;
            }
            Mode::ArrayElement => {
                let at = self.start_abs;
                self.note(at, || format!(
                    "input ended inside an entry at byte {at}: the input was cut off; every complete entry before it was kept"
                ));
                self.emit(buf, buf.len(), None, true, out);
                self.mode = Mode::ArrayDone;
            }
            Mode::ArrayBetween => {
                let at = self.base + buf.len() as u64;
                self.note(at, || format!(
                    "the JSON array was not closed (input ended at byte {at}); every complete entry was kept"
                ));
                self.mode = Mode::ArrayDone;
            }
            Mode::SkipLine | Mode::SkipToEntry => {
                self.keep_head(buf, buf.len());
                self.end_skip(buf.len());
                self.mode = Mode::Detect;
            }
            Mode::Detect if self.pos < buf.len() => {
                let (at, n) = (self.base + self.pos as u64, buf.len() - self.pos);
                self.note(at, || {
                    format!("skipped {n} bytes at the end that are not JSON")
                });
            }
            Mode::Detect | Mode::ArrayDone | Mode::NdjsonBetween => {}
        }
        self.pos = buf.len();
        if self.unlisted > 0 {
            let n = std::mem::take(&mut self.unlisted);
            let at = self.base + buf.len() as u64;
            self.notes.push((
                at,
                format!("… and {n} more input problems like these, not listed"),
            ));
        }
    }
}

/// Whether brackets outside strings nest deeper than `limit` in an NDJSON line. Cheap when the
/// line holds no more than `limit` opening brackets at all, which is almost always.
fn nests_deeper(line: &[u8], limit: u32) -> bool {
    if memchr::memchr2_iter(b'{', b'[', line)
        .nth(limit as usize)
        .is_none()
    {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
    for &b in line {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Whether `rest` starts a JSON value other than an object: a number, a string, an array,
/// `true`, `false` or `null` (the literal whole, followed by a delimiter).
fn starts_value(rest: &[u8]) -> bool {
    match rest.first() {
        Some(b'0'..=b'9' | b'-' | b'"' | b'[') => true,
        Some(b't' | b'f' | b'n') => [&b"true"[..], b"false", b"null"].iter().any(|lit| {
            rest.starts_with(lit)
                && rest
                    .get(lit.len())
                    .is_some_and(|c| matches!(c, b',' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
        }),
        _ => false,
    }
}

/// Skipped bytes, quoted in a note: one line, control characters as spaces, clipped.
fn describe(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut one_line = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !one_line.is_empty() {
            one_line.push(' ');
        }
        one_line.push_str(word);
    }
    clip(&one_line, 200)
}

fn clip(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn trim_end(buf: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && buf[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    end
}

/// How long the source waits on a silent pipe before it sends the entries it already has.
const IDLE: std::time::Duration = std::time::Duration::from_millis(100);

/// Where bytes come from. Files are read in place. Pipes (stdin, gcloud) and gzip files are
/// read on a thread of their own: while a pipe is silent the source still sends the entries it
/// has and notices a signal, and a gzip file is decompressed on one core while it is split on
/// another.
enum Feed {
    File(std::fs::File),
    Pipe {
        rx: std::sync::mpsc::Receiver<std::io::Result<(Vec<u8>, usize)>>,
        /// Blocks handed back to the reading thread for reuse.
        free: std::sync::mpsc::Sender<Vec<u8>>,
        /// Compressed bytes read so far, for a gzip file (for progress).
        compressed: Option<Arc<AtomicU64>>,
    },
}

/// The two bytes every gzip member starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Counts the bytes read through it (the compressed bytes of a gzip file, for progress).
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads the first bytes of a stream and decompresses it when they are gzip's magic bytes (a
/// `.gz` export piped in); otherwise returns the stream as it was.
fn gunzip_if_compressed(mut reader: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut head = Vec::with_capacity(2);
    let mut byte = [0u8; 2];
    while head.len() < 2 {
        match reader.read(&mut byte[..2 - head.len()]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&byte[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = std::io::Cursor::new(head.clone()).chain(reader);
    Ok(if head == GZIP_MAGIC {
        Box::new(flate2::read::MultiGzDecoder::new(whole))
    } else {
        Box::new(whole)
    })
}

/// The outcome of one read.
enum Got {
    Data(usize),
    Eof,
    /// Nothing arrived for [`IDLE`].
    Idle,
    Failed(std::io::Error),
}

impl Feed {
    /// Reads `reader` on a thread of its own. A stream is decompressed when it starts with
    /// gzip's magic bytes; `compressed` counts the bytes read of a gzip file already wrapped.
    fn pipe(
        reader: Box<dyn Read + Send>,
        block: usize,
        compressed: Option<Arc<AtomicU64>>,
    ) -> Result<Feed, SourceError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let (free, free_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let sniff = compressed.is_none();
        std::thread::Builder::new()
            .name("gardener-read".into())
            .spawn(move || {
                let mut reader = if sniff {
                    match gunzip_if_compressed(reader) {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                } else {
                    reader
                };
                loop {
                    let mut chunk = free_rx.try_recv().unwrap_or_else(|_| vec![0u8; block]);
                    let got = loop {
                        match reader.read(&mut chunk) {
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            r => break r,
                        }
                    };
                    let last = !matches!(got, Ok(n) if n > 0);
                    if tx.send(got.map(|n| (chunk, n))).is_err() || last {
                        return;
                    }
                }
            })
            .map_err(|e| SourceError(format!("cannot start the reading thread: {e}")))?;
        Ok(Feed::Pipe {
            rx,
            free,
            compressed,
        })
    }

    /// A file, decompressed on a thread of its own when it starts with gzip's magic bytes
    /// (whatever its name).
    fn file(f: std::fs::File, block: usize) -> Result<Feed, SourceError> {
        use std::io::Seek;
        use std::os::unix::fs::FileExt;
        // A FIFO or a device may stay silent for ever: read like a pipe, on a thread.
        if f.metadata().is_ok_and(|m| !m.is_file()) {
            return Feed::pipe(Box::new(f), block, None);
        }
        // Peek at the two bytes where reading starts (standard input may already be past 0).
        let at = (&f).stream_position().unwrap_or(0);
        let mut head = [0u8; 2];
        let gzip = f.read_at(&mut head, at).is_ok_and(|n| n == 2) && head == GZIP_MAGIC;
        if !gzip {
            return Ok(Feed::File(f));
        }
        let count = Arc::new(AtomicU64::new(0));
        let counted = Counted {
            inner: f,
            count: Arc::clone(&count),
        };
        let decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(
            256 << 10,
            counted,
        ));
        Feed::pipe(Box::new(decoder), block, Some(count))
    }

    /// Whether the bytes read are decompressed from a gzip file.
    fn compressed(&self) -> bool {
        matches!(
            self,
            Feed::Pipe {
                compressed: Some(_),
                ..
            }
        )
    }

    /// Bytes of the input itself consumed, given `read` bytes read from it: the compressed
    /// bytes for a gzip file.
    fn consumed(&self, read: u64) -> u64 {
        match self {
            Feed::Pipe {
                compressed: Some(c),
                ..
            } => c.load(Ordering::Relaxed),
            _ => read,
        }
    }

    /// Appends the next block of input to `buf`.
    fn next(&mut self, buf: &mut Vec<u8>, block: usize) -> Got {
        match self {
            Feed::File(f) => match read_block(f, buf, block) {
                Ok(0) => Got::Eof,
                Ok(n) => Got::Data(n),
                Err(e) => Got::Failed(e),
            },
            Feed::Pipe { rx, free, .. } => match rx.recv_timeout(IDLE) {
                Ok(Ok((_, 0))) => Got::Eof,
                Ok(Ok((chunk, n))) => {
                    buf.extend_from_slice(&chunk[..n]);
                    let _ = free.send(chunk);
                    Got::Data(n)
                }
                Ok(Err(e)) => Got::Failed(e),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Got::Idle,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Got::Eof,
            },
        }
    }
}

/// Appends up to `block` bytes read from `f` to `buf` with one `read` call straight into the
/// vector's spare capacity (`resize` + `read` zeroed every block first: 2% of a run in memset)
/// and returns how many it read (0 at the end of the file).
pub fn read_block(f: &std::fs::File, buf: &mut Vec<u8>, block: usize) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    buf.reserve(block);
    let len = buf.len();
    let spare = buf.spare_capacity_mut();
    let (ptr, room) = (spare.as_mut_ptr(), spare.len().min(block));
    loop {
        // SAFETY: `ptr` and `room` describe spare capacity owned by `buf`, which nothing else
        // references during the call; the kernel writes at most `room` bytes there.
        let n = unsafe { libc::read(f.as_raw_fd(), ptr.cast(), room) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let n = n as usize;
        // SAFETY: the kernel initialized the first `n` bytes after `len` (n <= room, which is
        // within the capacity).
        unsafe { buf.set_len(len + n) };
        return Ok(n);
    }
}

/// Opens an input.
fn open(
    input: &Input,
    cfg: &Config,
    block: usize,
) -> Result<(Feed, Option<std::process::Child>), SourceError> {
    match input {
        Input::Pubsub(_) => Err(SourceError(
            "a Pub/Sub subscription cannot be read with other inputs (source.kind: pubsub, and no files)".into(),
        )),
        Input::Stdin => {
            // Standard input redirected from a file (`< file`) is read in place like a file.
            use std::os::fd::AsFd;
            if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() {
                let f = std::fs::File::from(fd);
                if f.metadata().is_ok_and(|m| m.is_file()) {
                    return Ok((Feed::file(f, block)?, None));
                }
            }
            Ok((Feed::pipe(Box::new(std::io::stdin()), block, None)?, None))
        }
        Input::File(p) => {
            let f = std::fs::File::open(p)
                .map_err(|e| SourceError(format!("cannot read input file {p}: {e}")))?;
            Ok((Feed::file(f, block)?, None))
        }
        Input::Gcloud { .. } => {
            let g = &cfg.source.gcloud;
            let mut cmd = std::process::Command::new(&g.binary);
            if g.tail {
                cmd.args(["beta", "logging", "tail"]);
            } else {
                cmd.args(["logging", "read"]);
            }
            if !g.filter.is_empty() {
                cmd.arg(&g.filter);
            }
            if !g.project.is_empty() {
                cmd.arg(format!("--project={}", g.project));
            }
            if !g.freshness.is_empty() && !g.tail {
                cmd.arg(format!("--freshness={}", g.freshness));
            }
            if g.limit > 0 && !g.tail {
                cmd.arg(format!("--limit={}", g.limit));
            }
            cmd.arg("--format=json");
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .stdin(std::process::Stdio::null());
            let mut child = cmd.spawn().map_err(|e| {
                SourceError(if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "cannot run '{}': not found on PATH. Install the Google Cloud CLI, set source.gcloud.binary, or pipe `gcloud logging read ... --format=json` into `gardener run`",
                        g.binary
                    )
                } else {
                    format!("cannot run '{}': {e}", g.binary)
                })
            })?;
            let out = child.stdout.take().expect("stdout is piped");
            Ok((Feed::pipe(Box::new(out), block, None)?, Some(child)))
        }
    }
}

/// Cuts found entries into batches and sends them downstream.
struct Batcher {
    tx: Sender<Batch>,
    stats: Arc<StageStats>,
    batch_size: usize,
    block: usize,
    seq: u64,
    /// Entries sent.
    sent: u64,
    /// The buffers sent, oldest first, each held once more here so that it comes back when
    /// every batch cut from it has been dropped (see [`Batcher::spare`]).
    sent_buffers: std::collections::VecDeque<Arc<Vec<u8>>>,
}

/// Buffers held for reuse at most: about as many as the channels can hold in flight.
const HELD_BUFFERS: usize = 32;

impl Batcher {
    /// An empty buffer with room for `need` bytes: the oldest buffer sent, once every batch
    /// cut from it has been dropped downstream, else a new one. A buffer used again has its
    /// pages already mapped: a new one cost a page fault and a zeroed page for every 4 KiB read
    /// into it (1M mixed entries: 76k page faults, 49k with buffers used again).
    fn spare(&mut self, need: usize) -> Vec<u8> {
        let done = self
            .sent_buffers
            .front()
            .is_some_and(|b| Arc::strong_count(b) == 1);
        if done && let Some(Ok(mut buf)) = self.sent_buffers.pop_front().map(Arc::try_unwrap) {
            buf.clear();
            buf.reserve(need);
            return buf;
        }
        Vec::with_capacity(need)
    }

    /// Holds `buf` for reuse once its batches are done (the oldest is let go past
    /// [`HELD_BUFFERS`]). A buffer grown past a few blocks (it held a large entry) is not held:
    /// its memory goes back when its batches are done.
    fn hold(&mut self, buf: &Arc<Vec<u8>>) {
        if buf.capacity() > 4 * self.block {
            return;
        }
        if self.sent_buffers.len() >= HELD_BUFFERS {
            self.sent_buffers.pop_front();
        }
        self.sent_buffers.push_back(Arc::clone(buf));
    }

    /// Lets go of the buffers held for reuse, while the input is silent or at its end: each is
    /// freed once its batches are done, so an idle `gardener watch` holds none.
    fn let_go(&mut self) {
        self.sent_buffers.clear();
    }

    /// Sends every entry in `found` (numbering them on from `entry_no`); the bytes of `buf`
    /// from `keep` on stay for the entries still to come. False when downstream has gone.
    fn cut(
        &mut self,
        input: u32,
        buf: &mut Vec<u8>,
        keep: usize,
        splitter: &mut Splitter,
        found: &mut Vec<Found>,
        entry_no: &mut u64,
    ) -> bool {
        let mut tail = self.spare(buf.len() - keep + self.block);
        tail.extend_from_slice(&buf[keep..]);
        buf.truncate(keep);
        let mut whole = std::mem::replace(buf, tail);
        splitter.rebase(keep);
        // The first bytes of entries over the size limit travel at the end of the buffer.
        let heads_at = whole.len();
        whole.extend_from_slice(&splitter.heads);
        splitter.heads.clear();
        let spans: Vec<EntrySpan> = found
            .drain(..)
            .map(|f| {
                *entry_no += 1;
                let at = if matches!(f.flaw, Flaw::TooLarge { .. }) {
                    heads_at
                } else {
                    0
                };
                EntrySpan {
                    range: ((at + f.start) as u32, (at + f.end) as u32),
                    entry_no: *entry_no,
                    offset: f.offset,
                    flaw: f.flaw,
                }
            })
            .collect();
        let shared = Arc::new(whole);
        self.hold(&shared);
        // Batches larger than batch_size are split so downstream sizes stay even.
        let mut chunks: Vec<Vec<EntrySpan>> = if spans.len() <= self.batch_size {
            vec![spans]
        } else {
            spans.chunks(self.batch_size).map(|c| c.to_vec()).collect()
        };
        for spans in chunks.drain(..) {
            self.seq += 1;
            let n = spans.len() as u64;
            let batch = Batch {
                seq: self.seq,
                input,
                buf: Arc::clone(&shared),
                spans,
                ..Default::default()
            };
            let blocked = std::time::Instant::now();
            if self.tx.blocking_send(batch).is_err() {
                return false;
            }
            self.stats.blocked(blocked);
            self.sent += n;
        }
        true
    }
}

/// Runs the source stage: reads every input in turn and sends batches of raw entries. Runs on
/// tokio's blocking pool; `blocking_send` provides the backpressure.
///
/// Memory stays bounded whatever the input: a batch is cut at `batch_size` entries or
/// [`BATCH_BYTES`], and an entry over the size limit is skipped rather than buffered. On a
/// signal (`stop`) the entries already complete are sent, the input is left, and the summary
/// says where reading stopped.
///
/// Gzip-compressed inputs (files or streams starting with the bytes `1f 8b`) are decompressed
/// on the fly; byte offsets in notes and bad entries then count decompressed bytes. `progress`
/// is updated once per block read and cleared when reading ends.
pub fn run(
    inputs: Vec<Input>,
    cfg: Arc<Config>,
    tx: Sender<Batch>,
    stop: Arc<AtomicBool>,
    stats: Arc<StageStats>,
    progress: Progress,
    cuts: Option<Cuts>,
) -> Result<SourceSummary, SourceError> {
    let gate = cuts.as_ref().map(|c| Arc::clone(&c.gate));
    if let [Input::Pubsub(_)] = inputs[..] {
        let Some(cuts) = cuts else {
            return Err(SourceError(
                "source.kind pubsub is read by `gardener watch`, which acknowledges messages once they are counted; `gardener run` reads files, standard input or gcloud".into(),
            ));
        };
        return pubsub::run(cfg, tx, stop, stats, cuts);
    }
    // However reading ends, a cut waiting on the source is told it will not come.
    let _ended = Ended(gate.clone());
    let tailing = cfg.source.gcloud.tail;
    if tailing && gate.is_none() && inputs.contains(&Input::Gcloud { tail: true }) {
        return Err(SourceError(
            "source.gcloud.tail never ends: it is for `gardener watch`; `gardener run` reads with `gcloud logging read` (tail: false)".into(),
        ));
    }
    let block = cfg.pipeline.read_block_kib * 1024;
    let mut r = Reading {
        out: Batcher {
            tx,
            stats: Arc::clone(&stats),
            batch_size: cfg.pipeline.batch_size,
            block,
            seq: 0,
            sent: 0,
            sent_buffers: Default::default(),
        },
        summary: SourceSummary {
            inputs: inputs.iter().map(Input::name).collect(),
            ..Default::default()
        },
        cfg: &cfg,
        stop: &stop,
        gate,
        stats: &stats,
        progress,
        consumed_before: 0,
        block,
        tailing,
        quick_exits: 0,
        again: tailing.then(again::Again::default),
        live: cuts.as_ref().map(|c| Arc::clone(&c.live)),
    };
    let mut input_idx = 0usize;
    while let Some(input) = inputs.get(input_idx) {
        match r.input(input, input_idx as u32)? {
            InputEnd::Next => input_idx += 1,
            InputEnd::Restart => {}
            InputEnd::Stop => break,
        }
    }
    r.note_repeats();
    r.progress.finish();
    Ok(r.summary)
}

/// The source stage across its inputs.
struct Reading<'a> {
    cfg: &'a Config,
    out: Batcher,
    summary: SourceSummary,
    stop: &'a AtomicBool,
    gate: Option<Arc<Gate>>,
    stats: &'a StageStats,
    progress: Progress,
    /// Input bytes consumed by the inputs already read (compressed bytes for gzip files).
    consumed_before: u64,
    block: usize,
    /// `source.gcloud.tail`: a gcloud that exits is started again.
    tailing: bool,
    /// Quick exits of `gcloud beta logging tail` in a row (see `restart_tail`).
    quick_exits: u32,
    /// Entries a restarted tail prints again are dropped (see `again`).
    again: Option<again::Again>,
    /// `gardener watch`'s copy of the notes, for every interval's report.
    live: Option<Arc<Live>>,
}

/// How reading one input ended.
enum InputEnd {
    /// On to the next input.
    Next,
    /// The same input again (a gcloud tail that ended).
    Restart,
    /// A signal, or downstream has gone.
    Stop,
}

/// Where reading one input is.
struct Cursor {
    input_no: u32,
    splitter: Splitter,
    buf: Vec<u8>,
    found: Vec<Found>,
    entry_no: u64,
    /// Bytes read from this input (decompressed).
    bytes: u64,
    /// Entries of `found` already looked at by `again`.
    checked: usize,
}

impl Reading<'_> {
    /// Reads one input to its end (or a signal), sending its entries on.
    fn input(&mut self, input: &Input, input_no: u32) -> Result<InputEnd, SourceError> {
        let opened = std::time::Instant::now();
        let (mut feed, mut child) = open(input, self.cfg, self.block)?;
        let stderr_tail = child
            .as_mut()
            .and_then(|c| c.stderr.take())
            .map(drain_stderr);
        let mut at = Cursor {
            input_no,
            splitter: Splitter::new(self.cfg.source.format, Limits::of(self.cfg)),
            buf: Vec::with_capacity(self.block * 2),
            found: Vec::new(),
            entry_no: 0,
            bytes: 0,
            checked: 0,
        };
        let (interrupted, mut gone) = self.blocks(input, &mut feed, &mut at)?;
        if interrupted {
            // Everything complete that was read goes on; the entry in progress does not.
            let all = at.buf.len();
            if !at.found.is_empty() && !self.send(&mut at, all) {
                gone = true;
            }
            let offset = at.splitter.base + at.buf.len() as u64;
            self.note(
                input,
                offset,
                format!("interrupted: reading stopped at byte {offset}"),
            );
        }
        for (offset, text) in std::mem::take(&mut at.splitter.notes) {
            self.note(input, offset, text);
        }
        self.summary.entries = self.out.sent;
        self.consumed_before += feed.consumed(at.bytes);
        drop(feed);
        let ended = if interrupted || gone {
            InputEnd::Stop
        } else {
            InputEnd::Next
        };
        match child {
            Some(child) => {
                let offset = at.splitter.base + at.buf.len() as u64;
                self.end_gcloud(input, child, stderr_tail, opened, ended, offset)
            }
            None => Ok(ended),
        }
    }

    /// Reads blocks until the end of the input or a signal: (interrupted, downstream gone).
    fn blocks(
        &mut self,
        input: &Input,
        feed: &mut Feed,
        at: &mut Cursor,
    ) -> Result<(bool, bool), SourceError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok((true, false));
            }
            if let Some(g) = self.gate.as_deref().filter(|g| g.wanted()) {
                g.hold(self.out.seq);
            }
            let got = feed.next(&mut at.buf, self.block);
            let timer = self.stats.start(0);
            let (eof, idle) = self.take(got, input, feed, at)?;
            if let Some(a) = self.again.as_mut() {
                let from = at.checked.min(at.found.len());
                a.drop_repeats(&at.buf, &mut at.found, from);
                if let Some(live) = &self.live {
                    live.repeats.store(a.dropped, Ordering::Relaxed);
                }
            }
            // Cut a batch when enough entries are complete, when the buffer is large, when the
            // input is silent, and always at the end of the input.
            let n = at.found.len();
            if n >= self.out.batch_size || (n > 0 && (eof || idle || at.buf.len() >= BATCH_BYTES)) {
                let keep = if eof {
                    at.buf.len()
                } else {
                    at.splitter.keep_from()
                };
                if !self.send(at, keep) {
                    return Ok((false, true));
                }
                self.stats.finish(timer, n);
            } else if n == 0 {
                // Nothing complete: drop what is consumed (an entry being skipped, junk).
                let keep = at.splitter.keep_from();
                if keep > 0 && keep * 2 >= at.buf.len() {
                    at.buf.drain(..keep);
                    at.splitter.rebase(keep);
                }
            }
            at.checked = at.found.len();
            if eof || idle {
                self.out.let_go();
            }
            if eof {
                return Ok((false, false));
            }
        }
    }

    /// Splits what one read brought: (end of input, input silent).
    fn take(
        &mut self,
        got: Got,
        input: &Input,
        feed: &Feed,
        at: &mut Cursor,
    ) -> Result<(bool, bool), SourceError> {
        Ok(match got {
            Got::Data(n) => {
                self.summary.bytes += n as u64;
                at.bytes += n as u64;
                self.stats.add_bytes(n as u64);
                at.splitter.scan(&at.buf, &mut at.found);
                self.progress.update(
                    self.consumed_before + feed.consumed(at.bytes),
                    self.out.sent + at.found.len() as u64,
                );
                (false, false)
            }
            Got::Eof => {
                at.splitter.finish(&at.buf, &mut at.found);
                (true, false)
            }
            Got::Idle => (false, true),
            // A gzip file cut short (an interrupted download): keep what it held.
            Got::Failed(e)
                if feed.compressed() && e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                let offset = at.splitter.base + at.buf.len() as u64;
                self.note(
                    input,
                    offset,
                    format!(
                        "the gzip data ends early (the file was cut off) after {offset} decompressed bytes; everything before was read"
                    ),
                );
                at.splitter.finish(&at.buf, &mut at.found);
                (true, false)
            }
            Got::Failed(e) => {
                let what = if feed.compressed() {
                    " (decompressed)"
                } else {
                    ""
                };
                return Err(SourceError(format!(
                    "reading {} failed at byte {}{what}: {e}",
                    input.name(),
                    at.splitter.base + at.buf.len() as u64
                )));
            }
        })
    }

    /// Sends the complete entries found (see [`Batcher::cut`]); false when downstream has gone.
    fn send(&mut self, at: &mut Cursor, keep: usize) -> bool {
        self.out.cut(
            at.input_no,
            &mut at.buf,
            keep,
            &mut at.splitter,
            &mut at.found,
            &mut at.entry_no,
        )
    }

    /// After gcloud's output ended: waits for it, then starts a tail again, or says why gcloud
    /// failed.
    fn end_gcloud(
        &mut self,
        input: &Input,
        mut child: std::process::Child,
        stderr_tail: Option<std::thread::JoinHandle<String>>,
        opened: std::time::Instant,
        ended: InputEnd,
        offset: u64,
    ) -> Result<InputEnd, SourceError> {
        let stopped = matches!(ended, InputEnd::Stop);
        if stopped {
            let _ = child.kill();
        }
        let status = child
            .wait()
            .map_err(|e| SourceError(format!("waiting for gcloud failed: {e}")))?;
        let err = stderr_tail.and_then(|t| t.join().ok()).unwrap_or_default();
        let signalled = self.stop.load(Ordering::SeqCst);
        if self.tailing && !stopped && !signalled {
            let note = restart_tail(status, err.trim(), opened, &mut self.quick_exits, self.stop)?;
            self.note(input, offset, note);
            return Ok(InputEnd::Restart);
        }
        // A tail ends when the watch stops (the signal reached gcloud too).
        let stopping = self.tailing && signalled;
        if !status.success() && !stopped && !stopping {
            return Err(SourceError(format!(
                "gcloud logging read failed ({status}):\n{}",
                err.trim()
            )));
        }
        Ok(ended)
    }

    fn note(&mut self, input: &Input, offset: u64, text: String) {
        let n = Note {
            input: input.name(),
            offset,
            text,
        };
        if let Some(live) = &self.live {
            live.note(&n);
        }
        self.summary.notes.push(n);
    }

    /// Says how many entries a restarted tail printed again.
    fn note_repeats(&mut self) {
        let Some(dropped) = self.again.as_ref().map(|a| a.dropped).filter(|&n| n > 0) else {
            return;
        };
        self.summary.notes.push(Note {
            input: Input::Gcloud { tail: true }.name(),
            offset: self.summary.bytes,
            text: repeats_note(dropped),
        });
    }
}

/// gcloud's stderr, drained on its own thread: a full stderr pipe would otherwise block gcloud
/// while the source waits for its stdout. The last of it is kept for the error message.
fn drain_stderr(mut e: std::process::ChildStderr) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(n) = e.read(&mut chunk) {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&chunk[..n]);
            if tail.len() > 64 * 1024 {
                tail.drain(..tail.len() - 32 * 1024);
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    })
}

/// After `gcloud beta logging tail` exited: waits a second (or less, on a signal) and says so,
/// so that the same input is opened again; an error when it ended within 10 s of starting
/// three times in a row (no credentials, a bad filter: starting again would not help).
fn restart_tail(
    status: std::process::ExitStatus,
    err: &str,
    opened: std::time::Instant,
    quick_exits: &mut u32,
    stop: &AtomicBool,
) -> Result<String, SourceError> {
    let quick = opened.elapsed() < std::time::Duration::from_secs(10);
    *quick_exits = if quick { *quick_exits + 1 } else { 0 };
    if *quick_exits >= 3 {
        return Err(SourceError(format!(
            "gcloud beta logging tail ended within 10 s of starting three times in a row ({status}):\n{err}"
        )));
    }
    for _ in 0..10 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let why = err.lines().last().unwrap_or("").trim();
    Ok(format!(
        "gcloud beta logging tail ended ({status}{}{why}); started again (entries logged while it restarted may be missed)",
        if why.is_empty() { "" } else { ": " }
    ))
}

/// What `gardener watch` gives the source: the epoch gate, and the Pub/Sub ledger of messages
/// to acknowledge once a checkpoint counts them.
pub struct Cuts {
    pub gate: Arc<Gate>,
    pub ledger: Arc<pubsub::Ledger>,
    /// The interval between reports (a Pub/Sub message is acknowledged by the next one).
    pub every: std::time::Duration,
    /// What the source has to say so far, for every interval's report.
    pub live: Arc<Live>,
}

/// The source's notes while it runs (`gardener watch` puts them in every interval's report, not
/// only the last): the latest [`LIVE_NOTES`] notes, and the entries a restarted tail printed
/// again.
#[derive(Default)]
pub struct Live {
    notes: std::sync::Mutex<std::collections::VecDeque<Note>>,
    older: AtomicU64,
    repeats: AtomicU64,
}

/// Notes a running watch keeps for its reports (all of them reach the last report).
const LIVE_NOTES: usize = 50;

impl Live {
    fn note(&self, n: &Note) {
        let mut notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        notes.push_back(n.clone());
        if notes.len() > LIVE_NOTES {
            notes.pop_front();
            self.older.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The notes so far, as a report words them.
    pub fn notes(&self) -> Vec<String> {
        let notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<String> = notes
            .iter()
            .map(|n| format!("{} (byte {}): {}", n.input, n.offset, n.text))
            .collect();
        let older = self.older.load(Ordering::Relaxed);
        if older > 0 {
            out.insert(
                0,
                format!("{older} earlier notes of the source are in the last report"),
            );
        }
        let repeats = self.repeats.load(Ordering::Relaxed);
        if repeats > 0 {
            out.push(repeats_note(repeats));
        }
        out
    }
}

/// Says how many entries a restarted tail printed again (and were dropped).
fn repeats_note(dropped: u64) -> String {
    format!(
        "{dropped} {} printed again by a restarted gcloud beta logging tail (same insertId and timestamp) {} dropped, not counted twice",
        if dropped == 1 { "entry" } else { "entries" },
        if dropped == 1 { "was" } else { "were" },
    )
}

/// Tells the epoch gate, when dropped, that the source has ended.
struct Ended(Option<Arc<Gate>>);

impl Drop for Ended {
    fn drop(&mut self) {
        if let Some(g) = &self.0 {
            g.end();
        }
    }
}

/// What [`split_pieces`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Each entry's offset, bytes (for an entry over the size limit, its first bytes) and flaw.
    pub entries: Vec<(u64, Vec<u8>, Flaw)>,
    pub notes: Vec<(u64, String)>,
    /// The most bytes the buffer held at once.
    pub peak: usize,
}

/// Splits a whole input fed in pieces of the given sizes (cycled; 0 counts as 1), managing the
/// buffer the way the source does: complete entries are taken after every piece and the
/// consumed bytes dropped. For tests and the fuzz targets.
pub fn split_pieces(input: &[u8], pieces: &[usize], format: InputFormat, limits: Limits) -> Split {
    let mut s = Splitter::new(format, limits);
    let mut buf = Vec::new();
    let mut found = Vec::new();
    let mut out = Split::default();
    let mut at = 0;
    let mut k = 0;
    let take = |s: &mut Splitter, buf: &[u8], found: &mut Vec<Found>, out: &mut Split| {
        for f in found.drain(..) {
            let bytes = if matches!(f.flaw, Flaw::TooLarge { .. }) {
                s.heads[f.start..f.end].to_vec()
            } else {
                buf[f.start..f.end].to_vec()
            };
            out.entries.push((f.offset, bytes, f.flaw));
        }
        s.heads.clear();
    };
    while at < input.len() {
        let n = if pieces.is_empty() {
            input.len()
        } else {
            pieces[k % pieces.len()].max(1)
        };
        k += 1;
        let end = (at + n).min(input.len());
        buf.extend_from_slice(&input[at..end]);
        at = end;
        out.peak = out.peak.max(buf.len());
        s.scan(&buf, &mut found);
        take(&mut s, &buf, &mut found, &mut out);
        let keep = s.keep_from();
        buf.drain(..keep);
        s.rebase(keep);
    }
    s.finish(&buf, &mut found);
    take(&mut s, &buf, &mut found, &mut out);
    out.notes = std::mem::take(&mut s.notes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer comes back for the next cut only once every batch cut from it is dropped, and
    /// one grown past a few blocks never does.
    #[test]
    fn buffers_are_used_again_once_their_batches_are_done() {
        let (tx, _rx) = tokio::sync::mpsc::channel(4);
        let mut out = Batcher {
            tx,
            stats: Arc::new(StageStats::new("source", 1, 0)),
            batch_size: 256,
            block: 1024,
            seq: 0,
            sent: 0,
            sent_buffers: Default::default(),
        };
        let sent = Arc::new(Vec::with_capacity(2048));
        let address = sent.as_ptr();
        out.hold(&sent);
        let in_flight = Arc::clone(&sent);
        drop(sent);
        let fresh = out.spare(100);
        assert_ne!(fresh.as_ptr(), address, "a batch still holds it");
        drop(in_flight);
        let again = out.spare(100);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty() && again.capacity() >= 2048);
        let large = Arc::new(Vec::<u8>::with_capacity(5 * 1024));
        out.hold(&large);
        drop(large);
        assert!(out.sent_buffers.is_empty());
        // Let go of (a silent input): the next buffer is new.
        let held = Arc::new(Vec::<u8>::with_capacity(2048));
        out.hold(&held);
        drop(held);
        out.let_go();
        assert!(out.sent_buffers.is_empty());
        assert_eq!(out.spare(100).capacity(), 100, "a new buffer");
    }

    fn limits(max_entry_bytes: u64, max_depth: u32) -> Limits {
        Limits {
            max_entry_bytes,
            max_depth,
        }
    }

    /// Entries as (text, flaw) and notes, for a piece size.
    fn split_with(input: &[u8], chunk: usize, l: Limits) -> (Vec<(String, Flaw)>, Vec<String>) {
        let split = split_pieces(input, &[chunk], InputFormat::Auto, l);
        (
            split
                .entries
                .into_iter()
                .map(|(_, b, f)| (String::from_utf8_lossy(&b).into_owned(), f))
                .collect(),
            split.notes.into_iter().map(|n| n.1).collect(),
        )
    }

    fn split_all(input: &[u8], chunk: usize) -> (Vec<String>, Vec<String>) {
        let (found, notes) = split_with(input, chunk, Limits::default());
        (found.into_iter().map(|f| f.0).collect(), notes)
    }

    /// Entries for every piece size from 1 to the whole input; asserts they are all the same.
    fn split_every_way(input: &[u8], l: Limits) -> (Vec<(String, Flaw)>, Vec<String>) {
        let whole = split_with(input, input.len().max(1), l);
        // Every size for small inputs; small sizes and a spread of larger ones otherwise.
        let sizes = (1..input.len().min(300)).chain((300..input.len()).step_by(97));
        for chunk in sizes {
            assert_eq!(split_with(input, chunk, l), whole, "piece size {chunk}");
        }
        whole
    }

    /// Entries as the parse-only baseline's splitter finds them (whole input at once).
    fn split_exact(input: &[u8]) -> Vec<(String, Flaw)> {
        let mut s = Splitter::exact(InputFormat::Auto, Limits::default());
        let mut found = Vec::new();
        s.scan(input, &mut found);
        s.finish(input, &mut found);
        found
            .iter()
            .map(|f| {
                let text = String::from_utf8_lossy(&input[f.start..f.end]).into_owned();
                (text, f.flaw)
            })
            .collect()
    }

    #[test]
    fn line_by_line_and_exact_agree_on_gcloud_output() {
        let input = gcloud(&[
            "    \"a\": \"x, ] } \\\" [ \\n  }\",\n    \"b\": [\n      1,\n      {\n        \"c\": \"{\\\"d\\\": [}\"\n      }\n    ]",
            "    \"e\": {}",
            "    \"f\": \"\u{1f600} \\\\\"",
        ]);
        let lines = split_every_way(input.as_bytes(), Limits::default());
        assert_eq!(lines.0.len(), 3);
        assert!(lines.0.iter().all(|e| e.1 == Flaw::None), "{lines:?}");
        assert_eq!(lines.0, split_exact(input.as_bytes()));
        // Compact objects inside gcloud's layout are scanned exactly.
        let mixed = "[\n  {\"a\": 1},\n  {\n    \"b\": 2\n  }\n]\n";
        let (got, notes) = split_every_way(mixed.as_bytes(), Limits::default());
        assert_eq!(got.len(), 2, "{got:?} {notes:?}");
        assert_eq!(got, split_exact(mixed.as_bytes()));
        // The depth limit holds line by line too.
        let deep = gcloud(&["    \"a\": [[[[1]]]]"]);
        let (got, _) = split_every_way(deep.as_bytes(), limits(1 << 20, 4));
        assert_eq!(got[0].1, Flaw::TooDeep { limit: 4 });
    }

    const PRETTY: &str = "[\n  {\n    \"a\": \"x, ] } \\\" [\",\n    \"b\": [1, {\"c\": 2}]\n  },\n  {\n    \"d\": \"\\\\\"\n  }\n]\n";

    #[test]
    fn splits_pretty_array_for_every_chunking() {
        let expected = vec![
            "{\n    \"a\": \"x, ] } \\\" [\",\n    \"b\": [1, {\"c\": 2}]\n  }".to_string(),
            "{\n    \"d\": \"\\\\\"\n  }".to_string(),
        ];
        for chunk in 1..PRETTY.len() + 1 {
            let (got, notes) = split_all(PRETTY.as_bytes(), chunk);
            assert_eq!(got, expected, "chunk size {chunk}");
            assert!(notes.is_empty(), "{notes:?}");
        }
    }

    #[test]
    fn empty_inputs() {
        for input in ["", "[]", "[]\n", "  \n", "[\n]", "\u{feff}[]"] {
            let (got, notes) = split_all(input.as_bytes(), 3);
            assert!(got.is_empty(), "{input:?}");
            assert!(notes.is_empty(), "{input:?} {notes:?}");
        }
    }

    #[test]
    fn ndjson_lines() {
        let input = "{\"a\":1}\n\n{\"b\":\"}\"}\r\n{\"c\":3}";
        for chunk in 1..input.len() + 1 {
            let (got, _) = split_all(input.as_bytes(), chunk);
            assert_eq!(got, vec!["{\"a\":1}", "{\"b\":\"}\"}", "{\"c\":3}"]);
        }
        // A raw newline always ends a line, even inside an unterminated string.
        let (got, _) = split_all(b"{\"a\":\"open\n{\"b\":2}\n", 4);
        assert_eq!(got, vec!["{\"a\":\"open", "{\"b\":2}"]);
    }

    #[test]
    fn scalars_and_truncation() {
        let (got, notes) = split_with(b"[1, \"two\", {\"x\": 3}, nul", 4, Limits::default());
        let texts: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(texts, vec!["1", "\"two\"", "{\"x\": 3}", "nul"]);
        assert_eq!(got[3].1, Flaw::Cut);
        assert!(got[..3].iter().all(|g| g.1 == Flaw::None));
        assert!(notes[0].contains("cut off"), "{notes:?}");
        let (got, notes) = split_all(b"[{\"x\": 3},\n", 4);
        assert_eq!(got, vec!["{\"x\": 3}"]);
        assert!(notes[0].contains("not closed"), "{notes:?}");
    }

    #[test]
    fn stray_closers_make_bad_elements_not_a_loop() {
        // `[}` made the splitter emit empty entries forever (found by proptest).
        let (got, notes) = split_every_way(b"[}, 1}}, {\"a\": 1}]", Limits::default());
        let texts: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(texts, vec!["}", "1}}", "{\"a\": 1}"]);
        assert!(notes.is_empty());
        let (got, _) = split_every_way(b"[}", Limits::default());
        assert_eq!(got, vec![("}".into(), Flaw::Cut)]);
    }

    #[test]
    fn skips_warnings_before_the_array() {
        let input = "WARNING: Reauthentication required.\n\u{feff}[\n  {\"a\": 1}\n]\n";
        let (got, notes) = split_all(input.as_bytes(), 5);
        assert_eq!(got, vec!["{\"a\": 1}"]);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("Reauthentication"));
    }

    #[test]
    fn concatenated_arrays() {
        let (got, _) = split_all(b"[{\"a\":1}]\n[{\"b\":2}]\n", 2);
        assert_eq!(got, vec!["{\"a\":1}", "{\"b\":2}"]);
    }

    /// gcloud's layout, entries given as their inner lines.
    fn gcloud(entries: &[&str]) -> String {
        let body: Vec<String> = entries.iter().map(|e| format!("  {{\n{e}\n  }}")).collect();
        format!("[\n{}\n]\n", body.join(",\n"))
    }

    #[test]
    fn unbalanced_entry_in_gcloud_layout_does_not_swallow_the_rest() {
        // The second entry misses the brace that closes "resource".
        let input = gcloud(&[
            "    \"a\": 1",
            "    \"resource\": {\n      \"type\": \"x\"\n    ,\n    \"b\": 2",
            "    \"c\": 3",
        ]);
        let (got, notes) = split_every_way(input.as_bytes(), Limits::default());
        assert_eq!(got.len(), 3, "{got:#?}");
        assert_eq!(got[0], ("{\n    \"a\": 1\n  }".into(), Flaw::None));
        let second = input.find("  {\n    \"resource\"").unwrap() + 2;
        let third = input.find("  {\n    \"c\"").unwrap();
        // Read line by line, it ends at its own `  }` (the parser then says where it breaks).
        assert_eq!(got[1], (input[second..third - 2].into(), Flaw::None));
        assert_eq!(got[2], ("{\n    \"c\": 3\n  }".into(), Flaw::None));
        assert!(notes.is_empty(), "{notes:?}");
        // Scanned byte by byte, its brackets are counted: it ends where the next one starts.
        let exact = split_exact(input.as_bytes());
        assert_eq!(exact[1].0, input[second..third - 2]); // up to (not with) ",\n"
        assert_eq!(
            exact[1].1,
            Flaw::Unbalanced {
                resumed_at: third as u64
            }
        );
        assert_eq!(exact[2], got[2]);
    }

    #[test]
    fn unterminated_string_in_gcloud_layout_ends_at_the_line() {
        let input = gcloud(&["    \"a\": \"open,\n    \"b\": 2", "    \"c\": 3"]);
        let (got, _) = split_every_way(input.as_bytes(), Limits::default());
        // The string's line ends it for the splitter; the entry still closes normally (and
        // fails to parse), and the next one is intact.
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(got[0].1, Flaw::None);
        assert_eq!(got[1], ("{\n    \"c\": 3\n  }".into(), Flaw::None));
    }

    #[test]
    fn cut_gcloud_output_followed_by_a_full_one() {
        // Ctrl-C on gcloud, then the same command again, appended to the same file.
        let full = gcloud(&["    \"a\": 1", "    \"b\": 2"]);
        let cut = &full[..full.find("\"b\"").unwrap() + 2];
        let input = format!("{cut}{full}");
        let (got, notes) = split_every_way(input.as_bytes(), Limits::default());
        let flaws: Vec<Flaw> = got.iter().map(|g| g.1).collect();
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(matches!(flaws[1], Flaw::Unbalanced { .. }), "{flaws:?}");
        assert_eq!(
            [&flaws[0], &flaws[2], &flaws[3]],
            [&Flaw::None, &Flaw::None, &Flaw::None]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn junk_lines_inside_a_gcloud_array_are_skipped_with_a_note() {
        let input = "[\n  {\n    \"a\": 1\n  },\nWARNING: token refreshed\n  {\n    \"b\": 2\nERROR: (gcloud) boom\n    \"x\": 1\n  },\n  {\n    \"c\": 3\n  }\n]\n";
        let (got, notes) = split_every_way(input.as_bytes(), Limits::default());
        let texts: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "{\n    \"a\": 1\n  }",
                "{\n    \"b\": 2",
                "{\n    \"c\": 3\n  }"
            ]
        );
        assert!(matches!(got[1].1, Flaw::Unbalanced { .. }));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("WARNING: token refreshed"), "{notes:?}");
        assert!(
            notes[1].contains("ERROR: (gcloud) boom \"x\": 1 },"),
            "{notes:?}"
        );
    }

    #[test]
    fn compact_arrays_are_not_resynchronised() {
        // Not gcloud's layout: a line starting with "  {" is just whitespace and a value.
        let input = "[{\"a\": [\n  {\"b\": 1}]},\n{\"c\": 2}]";
        let (got, _) = split_every_way(input.as_bytes(), Limits::default());
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|g| g.1 == Flaw::None));
    }

    #[test]
    fn entries_over_the_size_limit_are_skipped_not_buffered() {
        let big = format!("{{\"textPayload\": \"{}\"}}", "x}]\\\"".repeat(2000));
        for format in ["array", "ndjson"] {
            let input = if format == "array" {
                format!("[{{\"a\": 1}}, {big}, {{\"b\": 2}}]")
            } else {
                format!("{{\"a\": 1}}\n{big}\n{{\"b\": 2}}\n")
            };
            let l = limits(1000, 100);
            let (got, _) = split_every_way(input.as_bytes(), l);
            assert_eq!(got.len(), 3, "{format}");
            assert_eq!(got[0], ("{\"a\": 1}".into(), Flaw::None));
            assert_eq!(got[2], ("{\"b\": 2}".into(), Flaw::None));
            assert_eq!(got[1].0, big[..1000], "{format}: the first bytes are kept");
            assert_eq!(
                got[1].1,
                Flaw::TooLarge {
                    size: big.len() as u64,
                    limit: 1000,
                    cut: false
                }
            );
            // Memory: the buffer never holds much more than the limit and a piece.
            let peak = split_pieces(input.as_bytes(), &[64], InputFormat::Auto, l).peak;
            assert!(peak <= 1000 + 2 * 64, "{format}: buffer grew to {peak}");
        }
        // At the limit is fine.
        let l = limits(big.len() as u64, 100);
        let (got, _) = split_with(big.as_bytes(), 7, l);
        assert_eq!(got, vec![(big.clone(), Flaw::None)]);
        // Over the limit and cut off.
        let input = format!("[{}", &big[..big.len() - 3]);
        let (got, notes) = split_with(input.as_bytes(), 100, limits(1000, 100));
        assert!(
            matches!(got[0].1, Flaw::TooLarge { cut: true, .. }),
            "{:?}",
            got[0].1
        );
        assert!(notes[0].contains("cut off"));
    }

    #[test]
    fn a_giant_unbalanced_entry_is_skipped_to_the_next_in_gcloud_layout() {
        let input = gcloud(&[
            &format!("    \"a\": {{\"x\": \"{}\"", "y".repeat(5000)),
            "    \"b\": 2",
        ]);
        let (got, _) = split_every_way(input.as_bytes(), limits(1000, 100));
        assert_eq!(got.len(), 2);
        assert!(matches!(got[0].1, Flaw::TooLarge { .. }));
        assert_eq!(got[1], ("{\n    \"b\": 2\n  }".into(), Flaw::None));
    }

    #[test]
    fn depth_limit() {
        let nest = |n: usize| format!("{}1{}", "[".repeat(n - 1), "]".repeat(n - 1));
        let input = format!(
            "[{{\"a\": {}}}, {{\"b\": {}}}]",
            nest(3),
            nest(4) // the entry's braces are level 1
        );
        let (got, _) = split_every_way(input.as_bytes(), limits(1 << 20, 3));
        assert_eq!(got[0].1, Flaw::None);
        assert_eq!(got[1].1, Flaw::TooDeep { limit: 3 });
        let ndjson = format!("{{\"a\": {}}}\n{{\"b\": {}}}\n", nest(3), nest(4));
        let (got, _) = split_every_way(ndjson.as_bytes(), limits(1 << 20, 3));
        assert_eq!(got[0].1, Flaw::None);
        assert_eq!(got[1].1, Flaw::TooDeep { limit: 3 });
    }

    #[test]
    fn notes_are_capped() {
        let input = "junk\n".repeat(500) + "{\"a\": 1}\n";
        let (got, notes) = split_all(input.as_bytes(), 13);
        assert_eq!(got, vec!["{\"a\": 1}"]);
        assert_eq!(notes.len(), MAX_NOTES + 1);
        assert!(
            notes[MAX_NOTES].contains("400 more"),
            "{}",
            notes[MAX_NOTES]
        );
    }

    #[test]
    fn junk_without_newlines_is_not_buffered() {
        let input = vec![0u8; 100_000];
        let split = split_pieces(&input, &[1000], InputFormat::Auto, Limits::default());
        assert!(split.entries.is_empty());
        assert_eq!(split.notes.len(), 1);
        assert!(split.peak <= 2000, "{}", split.peak);
    }
}
