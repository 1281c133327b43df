//! `archcheck CRATE_DIR [--report-only] [--modules]`: checks a crate's
//! architecture (file sizes, import cycles, layers), prints what it found
//! and exits 1 on any violation (0 with `--report-only`), 2 on bad usage
//! or an unreadable file.

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: archcheck CRATE_DIR [--report-only] [--modules]
  CRATE_DIR      the crate's folder (its src/ and tests/ are read)
  --report-only  print everything but exit 0
  --modules      also print the module → module imports";

fn main() -> ExitCode {
    let mut dir = None;
    let mut report_only = false;
    let mut modules = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--report-only" => report_only = true,
            "--modules" => modules = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            a if a.starts_with('-') || dir.is_some() => {
                eprintln!("archcheck: unexpected argument {a:?}\n{USAGE}");
                return ExitCode::from(2);
            }
            a => dir = Some(a.to_owned()),
        }
    }
    let Some(dir) = dir else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let found = match archcheck::check(Path::new(&dir)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("archcheck: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", archcheck::report::render(&dir, &found, modules));
    if found.failed() && !report_only {
        ExitCode::FAILURE
    } else {
        if found.failed() {
            println!("  (--report-only: exit 0)");
        }
        ExitCode::SUCCESS
    }
}
