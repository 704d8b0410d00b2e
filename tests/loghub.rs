//! Grouping accuracy on the shared Loghub-2k sets, with the one default configuration.
//! The thresholds are the product's promise (issue: GA >= 0.95, FGA >= 0.90 on average).

use std::path::Path;

use log_gardener::config::Config;
use log_gardener::fingerprint::Masker;

#[test]
fn loghub_grouping_accuracy_meets_the_bar() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/loghub-2k");
    if !dir.exists() {
        eprintln!(
            "skipped: {} not found (shared data sets are beside the checkout in CI)",
            dir.display()
        );
        return;
    }
    let cfg = Config::default();
    let masker = Masker::new(&cfg.masks().unwrap(), cfg.fingerprint.max_message_bytes).unwrap();
    let scores = log_gardener::eval::score_dir(&masker, &dir).unwrap();
    println!("{}", log_gardener::eval::table(&scores));
    assert!(
        scores.len() >= 8,
        "expected the 8 shared sets, found {}",
        scores.len()
    );
    let n = scores.len() as f64;
    let ga = scores.iter().map(|s| s.ga).sum::<f64>() / n;
    let fga = scores.iter().map(|s| s.fga).sum::<f64>() / n;
    assert!(ga >= 0.95, "average GA {ga:.3} < 0.95");
    assert!(fga >= 0.90, "average FGA {fga:.3} < 0.90");
}
