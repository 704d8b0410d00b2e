//! The JSON report sink: the [`Report`] serialised, indented for its outer levels and compact
//! below them. People read the top-level fields, the list of clusters and each cluster's fields;
//! deeper values (samples, series, the mergeable section's `[second, count]` pairs) stay on one
//! line each, which keeps a 1M-entry report at 28 MB instead of 64 MB and writes it faster.

use std::io::{self, Write};

use serde_json::ser::{CompactFormatter, Formatter};

use crate::model::record::Report;
use crate::stages::sink::{SinkError, replace};

/// Nesting levels written indented (the report object is level 1).
const INDENTED_LEVELS: usize = 3;

pub fn write(report: &Report, path: &str) -> Result<(), SinkError> {
    let err = |error| SinkError {
        sink: "json",
        path: path.to_string(),
        error,
    };
    replace(path, false, |w| {
        // Buffered here, in a writer of a known type: the serializer's many small writes are
        // then inlined copies, not calls through `dyn Write`.
        let mut w = io::BufWriter::with_capacity(1 << 20, w);
        let mut ser = serde_json::Serializer::with_formatter(&mut w, Outline::default());
        serde::Serialize::serialize(report, &mut ser)?;
        w.write_all(b"\n")?;
        w.flush()
    })
    .map_err(err)
}

/// Indents (two spaces) the first [`INDENTED_LEVELS`] levels of nesting and writes the rest
/// compactly.
#[derive(Default)]
struct Outline {
    /// Open arrays and objects.
    depth: usize,
    /// Whether the innermost open array or object has a value yet (for the closing line).
    has_value: bool,
}

impl Outline {
    fn indented(&self) -> bool {
        self.depth <= INDENTED_LEVELS
    }

    fn newline<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        let indented = self.indented();
        self.depth -= 1;
        if indented && self.has_value {
            self.newline(w)?;
        }
        // The enclosing container has at least this value.
        self.has_value = true;
        w.write_all(bracket)
    }

    fn item<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.indented() {
            self.newline(w)?;
        }
        Ok(())
    }
}

impl Formatter for Outline {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.indented() {
            w.write_all(b": ")
        } else {
            CompactFormatter.begin_object_value(w)
        }
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outline(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Outline::default());
        serde::Serialize::serialize(v, &mut ser).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn outer_levels_are_indented_and_inner_ones_compact() {
        let v = json!({
            "a": 1,
            "empty": {},
            "none": [],
            "clusters": [{"id": "x", "series": {"t1": 1, "t2": 2}, "deep": [[1, 2], [3, [4]]]}],
        });
        let text = outline(&v);
        assert_eq!(
            text,
            "{\n  \"a\": 1,\n  \"clusters\": [\n    {\n      \"deep\": [[1,2],[3,[4]]],\n      \"id\": \"x\",\n      \"series\": {\"t1\":1,\"t2\":2}\n    }\n  ],\n  \"empty\": {},\n  \"none\": []\n}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }

    #[test]
    fn any_value_round_trips() {
        let v = json!([1, "two", null, {"k": [{"m": {"n": [true, {"o": {}}]}}]}, [], {}]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&outline(&v)).unwrap(),
            v
        );
    }
}
