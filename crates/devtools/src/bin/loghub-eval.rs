//! `loghub-eval [--loo] [DIR]`: grouping accuracy of the default fingerprinting on Loghub-2k
//! data sets (default `../shared/loghub-2k`); with `--loo`, also the leave-one-out table (mining
//! settings chosen on the other sets, scored on the one left out). See `gardener_devtools::eval`.

use gardener_core::config::Config;
use gardener_core::stages::fingerprint::Masker;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let loo = args.iter().any(|a| a == "--loo");
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
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
    match gardener_devtools::eval::score_dir(&masker, std::path::Path::new(&dir)) {
        Ok(scores) if !scores.is_empty() => {
            print!("{}", gardener_devtools::eval::table(&scores));
            if loo {
                return leave_one_out(&masker, &dir);
            }
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

fn leave_one_out(masker: &Masker, dir: &str) -> std::process::ExitCode {
    let run = || -> std::io::Result<()> {
        let sets = gardener_devtools::eval::data_sets(std::path::Path::new(dir))?;
        let grid = gardener_devtools::eval::settings_grid();
        let ga = gardener_devtools::eval::grid_scores(masker, &sets, &grid)?;
        let names: Vec<&str> = sets.iter().map(|s| s.0.as_str()).collect();
        println!("\n| settings | {} | average |", names.join(" | "));
        println!("|---|{}---|", "---|".repeat(names.len()));
        for (g, row) in grid.iter().zip(&ga) {
            let cells: Vec<String> = row.iter().map(|x| format!("{x:.3}")).collect();
            let avg = row.iter().sum::<f64>() / row.len().max(1) as f64;
            println!(
                "| {}, {}, {} | {} | {avg:.3} |",
                g.alternatives_max,
                g.alternative_min_entries,
                g.align_spans,
                cells.join(" | ")
            );
        }
        let rows = gardener_devtools::eval::leave_one_out(masker, &sets)?;
        println!(
            "\n| left out | settings chosen on the others (alternatives_max, alternative_min_entries, align_spans) | GA |"
        );
        println!("|---|---|---|");
        for (name, s, ga) in &rows {
            println!(
                "| {name} | {}, {}, {} | {ga:.3} |",
                s.alternatives_max, s.alternative_min_entries, s.align_spans
            );
        }
        let avg = rows.iter().map(|r| r.2).sum::<f64>() / rows.len().max(1) as f64;
        println!("| **average** | | **{avg:.3}** |");
        Ok(())
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loghub-eval: {dir}: {e}");
            std::process::ExitCode::from(3)
        }
    }
}
