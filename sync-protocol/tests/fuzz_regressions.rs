//! Every push body the fuzzer (`scripts/fuzz.sh`, target `sync_push`) kept in
//! `tests/fixtures/fuzz-regressions/`, and the golden push fixtures, through the fuzz
//! target's checks: no panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod fuzz_check;

use std::path::{Path, PathBuf};

fn files(dir: &str, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    files.sort();
    files
}

#[test]
fn fuzz_regressions_do_not_panic() {
    for path in files("fuzz-regressions", |n| n != "README.md") {
        eprintln!("{}", path.display());
        fuzz_check::check(&std::fs::read(&path).unwrap());
    }
}

#[test]
fn golden_push_requests_pass_the_fuzz_checks() {
    let golden = files("v1", |n| n.starts_with("push_request"));
    assert!(golden.len() >= 4, "{golden:?}");
    for path in golden {
        let parsed = fuzz_check::check(&std::fs::read(&path).unwrap());
        assert!(parsed.is_some(), "{} does not parse as a push request", path.display());
    }
}
