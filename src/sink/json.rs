//! The JSON report sink: the [`Report`] serialised, pretty-printed.

use crate::record::Report;
use crate::sink::{SinkError, open};

pub fn write(report: &Report, path: &str) -> Result<(), SinkError> {
    let err = |error| SinkError {
        sink: "json",
        path: path.to_string(),
        error,
    };
    let mut w = open(path).map_err(err)?;
    serde_json::to_writer_pretty(&mut w, report).map_err(|e| err(e.into()))?;
    w.write_all(b"\n").map_err(err)?;
    w.flush().map_err(err)
}

use std::io::Write;
