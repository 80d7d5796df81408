//! The photo path of an upload, from bytes: sniff + header check (`inspect`), EXIF and both
//! thumbnails, as `landpatrol_photo::analyze` does it, and the header/EXIF reads again
//! through a `BufReader` the way the server reads a staging file. The checks live in
//! photo/tests/fuzz_check/ so that the crate's regression test makes the same ones.
//!
//! Run with `scripts/fuzz.sh`; libFuzzer's `-malloc_limit_mb` is the decode budget
//! (`Limits::default().max_decode_bytes`), so any single allocation beyond it is a crash.
#![no_main]

#[path = "../../photo/tests/fuzz_check/mod.rs"]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = fuzz_check::check(data);
});
