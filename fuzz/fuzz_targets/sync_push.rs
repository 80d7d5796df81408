//! The body of `POST /api/v1/sync/push`, from bytes: deserialisation and the per-op
//! validation the server does before the database. The checks live in
//! sync-protocol/tests/fuzz_check/ so that the crate's regression test makes the same ones.
#![no_main]

#[path = "../../sync-protocol/tests/fuzz_check/mod.rs"]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = fuzz_check::check(data);
});
