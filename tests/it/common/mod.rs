//! Helpers for the end-to-end tests: run the real `gardener` binary (with a time limit, so a hung
//! pipeline fails the test instead of hanging it), make inputs, read outputs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A finished run of the binary.
#[derive(Debug)]
pub struct Out {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with both streams when the exit code is not `code`.
    pub fn expect_code(&self, code: i32) -> &Out {
        assert_eq!(
            self.code, code,
            "exit code {} (expected {code})\n--- stderr:\n{}\n--- stdout:\n{}",
            self.code, self.stderr, self.stdout
        );
        self
    }
}

/// Longest a single run may take before the test fails.
/// A guard against a hung run, never a timing test (the test crate runs many runs at once).
const LIMIT: Duration = Duration::from_secs(180);

/// A temporary directory for one test, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gardener-test-")
        .tempdir()
        .expect("temp dir")
}

/// Runs `gardener ARGS` with empty standard input.
pub fn gardener(args: &[&str]) -> Out {
    gardener_stdin(args, b"")
}

/// Runs `gardener ARGS` with `stdin` as its standard input.
pub fn gardener_stdin(args: &[&str], stdin: &[u8]) -> Out {
    gardener_limited(args, stdin, LIMIT)
}

/// Runs `gardener ARGS` with `stdin` as its standard input; kills it and panics after `limit`.
pub fn gardener_limited(args: &[&str], stdin: &[u8], limit: Duration) -> Out {
    gardener_in(args, stdin, limit, &[], None)
}

/// Runs `gardener ARGS` with extra environment variables, in `cwd` when given. `GARDENER_CONFIG`
/// and `GITHUB_TOKEN` are never inherited from the test's environment, and runs are stateless
/// (`GARDENER_STATE=none`) unless `env` or `--state` say otherwise, so tests never share a
/// state store.
pub fn gardener_in(
    args: &[&str],
    stdin: &[u8],
    limit: Duration,
    env: &[(&str, &str)],
    cwd: Option<&Path>,
) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gardener"));
    cmd.args(args)
        .env_remove("GARDENER_CONFIG")
        .env_remove("GITHUB_TOKEN")
        .env("GARDENER_STATE", "none");
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gardener");
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // A closed pipe is fine: the binary need not read its input.
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for gardener") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gardener {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Out {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A path as the `&str` the command line wants.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write test input");
    p
}

/// `gardener gen --entries N --seed S --format F --end 2025-09-14T04:00:00Z --span SPAN -o
/// dir/name`.
pub fn generate(
    dir: &Path,
    name: &str,
    entries: u64,
    seed: u64,
    format: &str,
    span: &str,
) -> PathBuf {
    let p = dir.join(name);
    gardener(&[
        "gen",
        "--entries",
        &entries.to_string(),
        "--seed",
        &seed.to_string(),
        "--format",
        format,
        "--end",
        "2025-09-14T04:00:00Z",
        "--span",
        span,
        "-o",
        s(&p),
    ])
    .expect_code(0);
    p
}

/// Reads a JSON file.
pub fn read_json(p: &Path) -> Value {
    let text =
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// Reads an NDJSON file, one value per line.
pub fn read_ndjson(p: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    text.lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: line {l:?} is not JSON: {e}", p.display()))
        })
        .collect()
}

/// The report's clusters.
pub fn clusters(report: &Value) -> &Vec<Value> {
    report["clusters"]
        .as_array()
        .expect("report.clusters is an array")
}

/// A `u64` field.
pub fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

/// A string field.
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// The cluster whose service is `service` and whose template contains `needle`; panics unless
/// there is exactly one.
pub fn find_cluster<'a>(report: &'a Value, service: &str, needle: &str) -> &'a Value {
    let found: Vec<&Value> = clusters(report)
        .iter()
        .filter(|c| c["service"] == service && text(c, "template").contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one cluster of {service} containing {needle:?}, found {}: {:#?}",
        found.len(),
        clusters(report)
            .iter()
            .map(|c| (&c["service"], &c["template"], &c["count"]))
            .collect::<Vec<_>>()
    );
    found[0]
}
