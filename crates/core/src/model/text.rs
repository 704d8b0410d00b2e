//! How templates read in titles and tables: placeholders as `…`, cut at a word boundary.

/// A template in words: placeholders as `…`, one line, cut at a word boundary to at most
/// `max` characters.
pub fn words(template: &str, max: usize) -> String {
    let mut out = String::with_capacity(template.len().min(max + 4));
    for w in template.split_whitespace() {
        let w = w.replace("<*>", "…");
        let w = collapse_ellipses(&w);
        if w == "…" && out.ends_with('…') {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w);
    }
    cut_at_word(&out, max)
}

fn collapse_ellipses(w: &str) -> String {
    let mut s = w.to_string();
    while s.contains("……") || s.contains("….") {
        s = s.replace("……", "…").replace("….", "…");
    }
    s
}

/// `text` cut at the last word boundary before `max` characters, with `…` when cut.
pub fn cut_at_word(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max.saturating_sub(1)).collect();
    let at_boundary = text.chars().nth(max.saturating_sub(1)) == Some(' ');
    let cut = match head.rfind(' ') {
        _ if at_boundary => head.as_str(),
        Some(i) if i >= head.len() / 2 => &head[..i],
        _ => head.as_str(),
    };
    format!("{}…", cut.trim_end_matches([' ', ',', ':', ';', '-', '…']))
}
