//! Damaged and hostile inputs are errors, never panics: every truncation and
//! thousands of byte flips of the fixtures' `.shp`, `.dbf` and `.prj`, and every
//! truncation of a zip.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;

use landpatrol_patchfile::{Limits, ShapefileSet, read};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)).unwrap()
}

/// A small deterministic generator (xorshift), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn try_read(set: &ShapefileSet) {
    let limits = Limits { max_points: 100_000, max_records: 1_000, ..Limits::default() };
    if let Ok(file) = read(set, None, &limits) {
        let _ = file.to_geojson();
    }
}

#[test]
fn truncated_and_flipped_members_are_errors_not_panics() {
    let base = ShapefileSet::from_zip(&fixture("baodi_4527.zip"), &Limits::default()).unwrap();
    let members: [fn(&mut ShapefileSet) -> &mut Vec<u8>; 2] = [|s| &mut s.shp, |s| &mut s.dbf];
    for member in members {
        let len = member(&mut base.clone()).len();
        for cut in 0..len {
            let mut set = base.clone();
            member(&mut set).truncate(cut);
            try_read(&set);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let mut set = base.clone();
            let bytes = member(&mut set);
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            try_read(&set);
        }
    }
    let prj = base.prj.clone().unwrap();
    let mut rng = Rng(42);
    for cut in 0..prj.len() {
        let mut set = base.clone();
        set.prj = Some(prj[..cut].to_vec());
        assert!(read(&set, None, &Limits::default()).is_err(), "a cut .prj ({cut} bytes) is no CRS");
    }
    for _ in 0..2000 {
        let mut set = base.clone();
        let p = set.prj.as_mut().unwrap();
        let at = rng.below(p.len());
        p[at] = rng.next() as u8;
        try_read(&set);
    }
}

#[test]
fn truncated_zips_are_errors_not_panics() {
    for name in ["baodi_4527.zip", "baodi_4548.zip"] {
        let zip = fixture(name);
        for cut in 0..zip.len() - 1 {
            if let Ok(set) = ShapefileSet::from_zip(&zip[..cut], &Limits::default()) {
                try_read(&set);
            }
        }
    }
}
