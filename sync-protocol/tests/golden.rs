//! Golden fixtures of the v1 wire format: every file in `tests/fixtures/v1/` parses into
//! its message type (chosen by file-name prefix) and re-serialises keeping every known
//! field. The wire format only grows, so fixtures are added, never edited or removed.
//!
//! Conventions: fields a newer peer might send are named `future_…` and may be dropped;
//! in files whose name contains `future`, enum values this version does not know may
//! come back as `"unknown"`. Absent, `null` and `[]` are equivalent for optional fields.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use landpatrol_sync::ErrorCode;
use landpatrol_sync::sync::{ChangeOp, OpKind, OpStatus, PullRequest, PullResponse, PushRequest, PushResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The folder never loses a file: raise this when adding fixtures.
const MIN_FIXTURES: usize = 16;

/// Files other code and docs refer to by name.
const REQUIRED: &[&str] = &[
    "push_request.json",
    "push_request_future.json",
    "push_response.json",
    "push_response_applied.json",
    "push_response_duplicate.json",
    "push_response_merged.json",
    "push_response_conflict.json",
    "push_response_rejected.json",
    "push_response_future.json",
    "pull_request_first.json",
    "pull_request_resume.json",
    "pull_response.json",
    "pull_response_future.json",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

fn fixtures() -> Vec<(String, Value)> {
    let mut files: Vec<(String, Value)> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            (name, value)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// Checks that `out` (the re-serialised form) keeps everything of `input` that this
/// version knows, and adds nothing but nulls.
fn covers(input: &Value, out: &Value, path: &str, future: bool, problems: &mut Vec<String>) {
    match (input, out) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let here = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => covers(v, w, &here, future, problems),
                    None if k.starts_with("future_") => {}
                    None if v.is_null() || v.as_array().is_some_and(Vec::is_empty) => {}
                    None => problems.push(format!("{here} was dropped")),
                }
            }
            for (k, w) in b {
                if !a.contains_key(k) && !w.is_null() {
                    problems.push(format!("{path}.{k} was added: {w}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                covers(v, w, &format!("{path}[{i}]"), future, problems);
            }
        }
        (Value::String(_), Value::String(w)) if future && w == "unknown" => {}
        _ if input == out => {}
        _ => problems.push(format!("{path}: {input} became {out}")),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(name: &str, input: &Value) -> T {
    let typed: T = serde_json::from_value(input.clone()).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
    let out = serde_json::to_value(&typed).unwrap();
    let mut problems = Vec::new();
    covers(input, &out, "$", name.contains("future"), &mut problems);
    assert!(problems.is_empty(), "{name} does not round-trip:\n{}", problems.join("\n"));
    // The re-serialised form is a fixed point.
    let again: T = serde_json::from_value(out.clone()).unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap(), out, "{name}: second round trip differs");
    typed
}

#[derive(Default)]
struct Seen {
    op_kinds: BTreeSet<String>,
    statuses: BTreeSet<String>,
    change_ops: BTreeSet<String>,
    unknown_op_kinds: usize,
    malformed_ops: usize,
    unknown_statuses: usize,
    unknown_error_codes: usize,
    unknown_change_ops: usize,
}

#[test]
fn every_fixture_round_trips_through_its_type() {
    let files = fixtures();
    assert!(files.len() >= MIN_FIXTURES, "{} fixtures, expected at least {MIN_FIXTURES}", files.len());
    for required in REQUIRED {
        assert!(files.iter().any(|(n, _)| n == required), "missing fixture {required}");
    }

    let mut seen = Seen::default();
    for (name, input) in &files {
        if name.starts_with("push_request") {
            let req: PushRequest = round_trip(name, input);
            assert!(!req.ops.is_empty(), "{name}");
            for op in &req.ops {
                match &op.kind {
                    OpKind::Unknown(_) => seen.unknown_op_kinds += 1,
                    OpKind::Malformed(_) => seen.malformed_ops += 1,
                    kind => {
                        seen.op_kinds.insert(kind.name().unwrap().to_owned());
                    }
                }
            }
        } else if name.starts_with("push_response") {
            let resp: PushResponse = round_trip(name, input);
            for r in &resp.results {
                match r.status {
                    OpStatus::Unknown => seen.unknown_statuses += 1,
                    s => {
                        seen.statuses.insert(serde_json::to_value(s).unwrap().as_str().unwrap().to_owned());
                    }
                }
                if r.error.as_ref().is_some_and(|e| e.code == ErrorCode::Unknown) {
                    seen.unknown_error_codes += 1;
                }
            }
        } else if name.starts_with("pull_request") {
            let _: PullRequest = round_trip(name, input);
        } else if name.starts_with("pull_response") {
            let resp: PullResponse = round_trip(name, input);
            for c in &resp.changes {
                match c.op {
                    ChangeOp::Unknown => seen.unknown_change_ops += 1,
                    op => {
                        seen.change_ops.insert(serde_json::to_value(op).unwrap().as_str().unwrap().to_owned());
                    }
                }
            }
        } else {
            panic!("{name}: no message type for this file-name prefix");
        }
    }

    let set = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(seen.op_kinds, set(&["create", "update", "transition", "delete"]));
    assert_eq!(seen.statuses, set(&["applied", "duplicate", "merged", "conflict", "rejected"]));
    assert_eq!(seen.change_ops, set(&["upsert", "delete", "evict"]));
    assert!(seen.unknown_op_kinds >= 1, "no fixture has an op kind from the future");
    assert!(seen.malformed_ops >= 1, "no fixture has a malformed op");
    assert!(seen.unknown_statuses >= 1, "no fixture has a status from the future");
    assert!(seen.unknown_error_codes >= 1, "no fixture has an error code from the future");
    assert!(seen.unknown_change_ops >= 1, "no fixture has a change op from the future");
}

#[test]
fn unknown_op_kinds_keep_their_raw_json() {
    let (_, input) = fixtures().into_iter().find(|(n, _)| n == "push_request_future.json").unwrap();
    let req: PushRequest = serde_json::from_value(input.clone()).unwrap();
    let OpKind::Unknown(raw) = &req.ops[0].kind else { panic!("{:?}", req.ops[0]) };
    assert_eq!(raw["op"], "merge_cases");
    assert_eq!(raw["future_reason"]["score"], 0.93);
    assert_eq!(serde_json::to_value(&req.ops[0]).unwrap(), input["ops"][0], "kept field for field");
}

#[test]
fn bad_ops_fail_alone() {
    let (_, input) = fixtures().into_iter().find(|(n, _)| n == "push_request_future_bad_ops.json").unwrap();
    let req: PushRequest = serde_json::from_value(input).unwrap();
    assert!(req.ops[0].parse_hlc().is_err(), "a bad stamp is the server's to reject, per op");
    assert!(matches!(req.ops[1].kind, OpKind::Malformed(_)), "a status from the future");
    assert!(matches!(req.ops[2].kind, OpKind::Malformed(_)), "fields that are not an object");
}

#[test]
fn the_round_trip_check_catches_losses() {
    use serde_json::json;
    let check = |input: Value, out: Value, future: bool| {
        let mut problems = Vec::new();
        covers(&input, &out, "$", future, &mut problems);
        problems
    };
    assert!(check(json!({"a": 1, "b": [], "c": null, "future_x": 1}), json!({"a": 1}), false).is_empty());
    assert_eq!(check(json!({"a": 1, "rev": 2}), json!({"a": 1}), false), ["$.rev was dropped"]);
    assert_eq!(check(json!({"a": [1, 2]}), json!({"a": [1]}), false), ["$.a: [1,2] became [1]"]);
    assert_eq!(check(json!({"a": 1}), json!({"a": 1, "b": 0}), false), ["$.b was added: 0"]);
    assert_eq!(check(json!({"s": "queued"}), json!({"s": "unknown"}), false).len(), 1);
    assert!(check(json!({"s": "queued"}), json!({"s": "unknown"}), true).is_empty());
}
