//! What a run is asked to do beyond its configuration, and how it can fail: shared by every
//! command (`run`, `watch`, `merge`) and by the stages that act on it.

/// What a run is asked to do, beyond the config.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub files: Vec<String>,
    /// Overrides `sinks.report`.
    pub report: Option<String>,
    pub json: Option<String>,
    pub entries: Option<String>,
    pub dead_letter: Option<String>,
    /// Reference time for windows, Unix nanoseconds.
    pub now: Option<crate::model::time::Timestamp>,
    /// Print per-stage statistics to stderr.
    pub stats: bool,
    /// Show progress on stderr while reading (the caller checks that stderr is a terminal and
    /// `--quiet` was not given).
    pub progress: bool,
    /// Overrides `sinks.github.repo` (`OWNER/REPO`): turns the GitHub sink on.
    pub github_repo: Option<String>,
    /// Overrides `sinks.github.api`.
    pub github_api: Option<String>,
    /// Plan the GitHub actions without writing (also `sinks.github.dry_run`).
    pub dry_run: bool,
    /// From `GITHUB_TOKEN`; without it the GitHub sink only plans.
    pub github_token: Option<Token>,
    /// Overrides `state.dir`: the state store's directory, or `none`.
    pub state: Option<String>,
    /// Read nothing, not even standard input (a `--shard` whose share of the files is empty).
    pub no_input: bool,
}

/// How a run ended.
#[derive(Debug)]
pub enum RunError {
    /// The input could not be read (exit code 3).
    Input(String),
    /// The configuration is unusable (exit code 2).
    Config(String),
    /// Another run holds the state's lock (exit code 5).
    Locked(String),
}

/// A GitHub token (from `GITHUB_TOKEN`). Never printed: its `Debug` form hides it.
#[derive(Clone)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}
