//! Progress on standard error while the input is read: bytes and entries read, rates, and, when
//! the input size is known (files, not pipes), a bar with the time left.
//!
//! Shown only when standard error is a terminal and `--quiet` is not given, and only once the
//! run has lasted longer than a moment ([`DELAY`]), so short runs print nothing. The source
//! updates it once per block read, never per entry, and clears it when reading ends, before the
//! report and `--stats` are written.

use std::time::{Duration, Instant};

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before progress appears.
pub const DELAY: Duration = Duration::from_millis(500);

/// The progress display; [`Progress::off`] does nothing at all.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    shown: bool,
}

impl Progress {
    /// No progress (standard error is not a terminal, or `--quiet`).
    pub fn off() -> Progress {
        Progress {
            bar: None,
            started: Instant::now(),
            shown: false,
        }
    }

    /// Progress over `total` input bytes when known (a bar and ETA), else a running count.
    pub fn on(total: Option<u64>) -> Progress {
        let template = match total {
            Some(_) => {
                "{spinner} [{bar:24}] {bytes}/{total_bytes} · {binary_bytes_per_sec} · {msg} · \
                 ETA {eta}"
            }
            None => "{spinner} {bytes} read · {binary_bytes_per_sec} · {msg}",
        };
        let style = ProgressStyle::with_template(template)
            .expect("the progress templates are valid")
            .progress_chars("=> ");
        // Hidden until DELAY has passed (see `update`).
        let bar =
            ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden()).with_style(style);
        Progress {
            bar: Some(bar),
            started: Instant::now(),
            shown: false,
        }
    }

    /// Reports `bytes` of input consumed (on disk: compressed bytes for a gzip file) and
    /// `entries` found so far. Called once per block read.
    pub fn update(&mut self, bytes: u64, entries: u64) {
        let Some(bar) = &self.bar else { return };
        let elapsed = self.started.elapsed();
        if !self.shown {
            if elapsed < DELAY {
                return;
            }
            bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        let rate = entries as f64 / elapsed.as_secs_f64().max(1e-3);
        bar.set_position(bytes);
        bar.set_message(format!(
            "{} entries · {}/s",
            HumanCount(entries),
            HumanCount(rate as u64)
        ));
    }

    /// Removes the display (reading has ended).
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// After reading: a spinner naming the step the end of the run is on (mining templates,
/// prioritizing, GitHub, writing the reports), so a long end of run is never a blank screen.
/// Same rules as [`Progress`]: a terminal, no `--quiet`, and only once the run has lasted
/// [`DELAY`].
pub struct Steps {
    bar: Option<ProgressBar>,
    started: Instant,
    /// Each step named so far and when it began (for `--stats`).
    began: Vec<(String, Instant)>,
}

impl Steps {
    /// `on`: progress is wanted; `started`: when the run began.
    pub fn new(on: bool, started: Instant) -> Steps {
        let bar = on.then(|| {
            let style = ProgressStyle::with_template("{spinner} {msg} · {elapsed}")
                .expect("the step template is valid");
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(style)
        });
        Steps {
            bar,
            started,
            began: Vec::new(),
        }
    }

    /// Names the step now running.
    pub fn step(&mut self, what: &str) {
        self.began.push((what.to_string(), Instant::now()));
        let Some(bar) = &self.bar else { return };
        if bar.is_hidden() && self.started.elapsed() >= DELAY {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        bar.set_message(what.to_string());
    }

    /// Runs `f` (which writes to stderr) with the spinner out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Removes the spinner.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// One line for `--stats`: how long reading took and each step after it, up to now.
    pub fn timings(&self) -> String {
        let now = Instant::now();
        let mut parts = Vec::new();
        if let Some((_, first)) = self.began.first() {
            parts.push(format!("reading {}", ms(*first - self.started)));
        }
        for (i, (what, at)) in self.began.iter().enumerate() {
            let end = self.began.get(i + 1).map_or(now, |next| next.1);
            parts.push(format!("{what} {}", ms(end - *at)));
        }
        format!("time: {}", parts.join(" · "))
    }
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

impl Drop for Steps {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_does_nothing_and_on_stays_hidden_for_a_moment() {
        let mut p = Progress::off();
        p.update(10, 1);
        assert!(p.bar.is_none());
        let mut p = Progress::on(Some(100));
        p.update(10, 1);
        assert!(!p.shown, "shown before DELAY");
        assert_eq!(p.bar.as_ref().map(|b| b.position()), Some(0));
        p.finish();
        assert!(p.bar.is_none());
    }

    #[test]
    fn steps_stay_hidden_for_a_moment_and_off_does_nothing() {
        let mut s = Steps::new(false, Instant::now());
        s.step("mining templates");
        assert_eq!(s.suspend(|| 7), 7);
        let mut s = Steps::new(true, Instant::now());
        s.step("mining templates");
        assert!(s.bar.as_ref().is_some_and(|b| b.is_hidden()));
        assert_eq!(
            s.bar.as_ref().map(|b| b.message()).as_deref(),
            Some("mining templates")
        );
        s.finish();
        assert!(s.bar.is_none());
    }

    #[test]
    fn timings_name_reading_and_every_step() {
        let mut s = Steps::new(false, Instant::now() - Duration::from_millis(30));
        s.step("mining templates");
        s.step("writing the reports");
        let t = s.timings();
        assert!(t.starts_with("time: reading "), "{t}");
        assert!(t.contains(" · mining templates "), "{t}");
        assert!(t.ends_with(" ms"), "{t}");
        let reading: u64 = t["time: reading ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reading >= 30, "{t}");
    }
}
