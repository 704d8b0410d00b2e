//! `loghub-eval [DIR]`: grouping accuracy of the default fingerprinting on Loghub-2k data sets
//! (default `../shared/loghub-2k`). See `log_gardener::eval`.

use log_gardener::config::Config;
use log_gardener::fingerprint::Masker;

fn main() -> std::process::ExitCode {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/loghub-2k".into());
    let cfg = Config::default();
    let masker = match cfg
        .masks()
        .map_err(|e| e.0)
        .and_then(|m| Masker::new(&m, cfg.fingerprint.max_message_bytes))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("loghub-eval: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match log_gardener::eval::score_dir(&masker, std::path::Path::new(&dir)) {
        Ok(scores) if !scores.is_empty() => {
            print!("{}", log_gardener::eval::table(&scores));
            std::process::ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("loghub-eval: no <Name>/<Name>_2k.log_structured_corrected.csv under {dir}");
            std::process::ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("loghub-eval: {dir}: {e}");
            std::process::ExitCode::from(3)
        }
    }
}
