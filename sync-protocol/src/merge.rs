//! Field-level last-writer-wins merge of `update` patches, pure.
//!
//! Each record keeps a [`FieldClock`]: for each field, the HLC stamp of the write that
//! set it. A patched field is written when the op's stamp is newer than the field's
//! clock; otherwise the stored value stays and is reported in `overridden`. Because
//! the winner of each field is the greatest stamp, the final record does not depend on
//! the order ops arrive in, and applying an op again changes nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ErrorCode;
use crate::hlc::Hlc;
use crate::sync::{OpStatus, Table};

/// For each field of a record, the stamp of the write that set it; a field without an
/// entry is older than any stamp. Serialised as `{"field": "<hlc>", …}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldClock(pub BTreeMap<String, Hlc>);

impl FieldClock {
    /// A clock with every field of `fields` set at `stamp`, for a record created by one op.
    pub fn stamped(fields: &Map<String, Value>, stamp: &Hlc) -> Self {
        Self(fields.keys().map(|k| (k.clone(), stamp.clone())).collect())
    }

    /// The stamp of the write that set `field`, if any.
    pub fn get(&self, field: &str) -> Option<&Hlc> {
        self.0.get(field)
    }

    /// Whether a write at `stamp` wins over the current value of `field`.
    pub fn wins(&self, field: &str, stamp: &Hlc) -> bool {
        self.0.get(field).is_none_or(|current| stamp > current)
    }
}

/// What merging one patch into a record gives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MergeOutcome {
    /// The fields to write, with the patch's values.
    pub write: Map<String, Value>,
    /// The patched fields not written, each with the value that stays (the server's;
    /// `null` where the record has no such field).
    pub overridden: Map<String, Value>,
    /// The record's clock after the write.
    pub clock: FieldClock,
}

impl MergeOutcome {
    /// `applied` when every patched field was written, else `merged` (also when none was).
    pub fn status(&self) -> OpStatus {
        if self.overridden.is_empty() { OpStatus::Applied } else { OpStatus::Merged }
    }

    /// Whether the merge changes nothing.
    pub fn writes_nothing(&self) -> bool {
        self.write.is_empty()
    }

    /// Writes the winning fields into `record` (whose clock becomes [`MergeOutcome::clock`]).
    pub fn apply_to(&self, record: &mut Map<String, Value>) {
        for (field, value) in &self.write {
            record.insert(field.clone(), value.clone());
        }
    }
}

/// Merges `patch`, stamped `stamp`, into a record whose fields are `current` and whose
/// clock is `clock`. Each patched field is written iff `stamp` is newer than its clock
/// entry (a missing entry is the oldest); fields not in the patch are never touched.
///
/// `base_rev` plays no part: with per-field last-writer-wins the result is the same
/// whatever order ops arrive in, and an op whose `base_rev` is current wins every field
/// anyway unless a newer stamp already wrote it.
pub fn merge_patch(
    current: &Map<String, Value>,
    clock: &FieldClock,
    patch: &Map<String, Value>,
    stamp: &Hlc,
) -> MergeOutcome {
    let mut out = MergeOutcome { clock: clock.clone(), ..MergeOutcome::default() };
    for (field, value) in patch {
        if clock.wins(field, stamp) {
            out.write.insert(field.clone(), value.clone());
            out.clock.0.insert(field.clone(), stamp.clone());
        } else {
            out.overridden.insert(field.clone(), current.get(field).cloned().unwrap_or(Value::Null));
        }
    }
    out
}

/// Fields of any synced record that no patch may name: set by the server or at creation.
pub const IMMUTABLE_RECORD_FIELDS: &[&str] =
    &["id", "created_by", "created_at", "updated_at", "rev", "seq", "deleted", "field_clock"];

/// Fields of a case that no patch may name: identity, provenance and server-computed fields.
pub const IMMUTABLE_CASE_FIELDS: &[&str] = &[
    "id",
    "source",
    "case_number",
    "year",
    "created_by",
    "created_at",
    "updated_at",
    "rev",
    "seq",
    "deleted",
    "field_clock",
    "town_id",
    "near_boundary",
    "neighbour_town_id",
    "area_m2",
    "campaign_id",
    "deadline",
    "flags",
    "site_check_result",
    "dismiss_reason",
    "external_ref",
    "input_crs",
    "discovered_at",
];

/// The field of a case that changes only through a `transition` op.
pub const STATUS_FIELD: &str = "status";

/// Checks that a patch names only fields a client may change, before any merge.
///
/// Errors with the code and the offending field: [`ErrorCode::ImmutableField`],
/// [`ErrorCode::StatusViaTransition`] for a case's `status`, or [`ErrorCode::Forbidden`]
/// with field `table` when the table is read-only for clients.
pub fn check_patch(table: Table, patch: &Map<String, Value>) -> Result<(), (ErrorCode, String)> {
    if !table.is_writable() {
        return Err((ErrorCode::Forbidden, "table".to_owned()));
    }
    let immutable = if table == Table::Cases { IMMUTABLE_CASE_FIELDS } else { IMMUTABLE_RECORD_FIELDS };
    for field in patch.keys() {
        if immutable.contains(&field.as_str()) {
            return Err((ErrorCode::ImmutableField, field.clone()));
        }
        if table == Table::Cases && field == STATUS_FIELD {
            return Err((ErrorCode::StatusViaTransition, field.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("{other}"),
        }
    }

    fn hlc(s: &str) -> Hlc {
        s.parse().unwrap()
    }

    #[test]
    fn newer_fields_are_written_older_ones_overridden_others_untouched() {
        let current = map(json!({"land_class": "basic_farmland", "note": "old", "area_note": "keep"}));
        let clock = FieldClock([("land_class".to_owned(), hlc("2000-0000-b"))].into());
        let patch = map(json!({"land_class": "outside_plan", "note": "new", "violation_type": "other"}));
        let out = merge_patch(&current, &clock, &patch, &hlc("1500-0000-a"));
        assert_eq!(out.write, map(json!({"note": "new", "violation_type": "other"})));
        assert_eq!(out.overridden, map(json!({"land_class": "basic_farmland"})));
        assert_eq!(out.status(), OpStatus::Merged);
        assert_eq!(out.clock.get("land_class"), Some(&hlc("2000-0000-b")));
        assert_eq!(out.clock.get("note"), Some(&hlc("1500-0000-a")));
        assert_eq!(out.clock.get("area_note"), None);
        let mut record = current.clone();
        out.apply_to(&mut record);
        assert_eq!(record["area_note"], "keep");
        assert_eq!(record["land_class"], "basic_farmland");
    }

    #[test]
    fn status_follows_what_was_overridden() {
        let clock = FieldClock([("a".to_owned(), hlc("5-0000-n"))].into());
        let patch = map(json!({"a": 1}));
        let newer = merge_patch(&Map::new(), &clock, &patch, &hlc("5-0001-n"));
        assert_eq!((newer.status(), newer.writes_nothing()), (OpStatus::Applied, false));
        let older = merge_patch(&Map::new(), &clock, &patch, &hlc("4-ffff-n"));
        assert_eq!((older.status(), older.writes_nothing()), (OpStatus::Merged, true));
        assert_eq!(older.overridden, map(json!({"a": null})), "absent stays absent, reported as null");
        assert_eq!(older.clock, clock);
        // An equal stamp (the same op again) does not win: a re-delivery changes nothing.
        let again = merge_patch(&Map::new(), &clock, &patch, &hlc("5-0000-n"));
        assert!(again.writes_nothing());
        // Ties on wall and counter are broken by node.
        assert!(merge_patch(&Map::new(), &clock, &patch, &hlc("5-0000-o")).overridden.is_empty());
        assert_eq!(merge_patch(&Map::new(), &clock, &Map::new(), &hlc("1-0000-n")).status(), OpStatus::Applied);
    }

    #[test]
    fn field_clock_is_an_object_of_hlc_strings() {
        let clock = FieldClock::stamped(&map(json!({"a": 1, "b": 2})), &hlc("1716192000123-0000-dev-1"));
        let json = serde_json::to_value(&clock).unwrap();
        assert_eq!(json, json!({"a": "1716192000123-0000-dev-1", "b": "1716192000123-0000-dev-1"}));
        assert_eq!(serde_json::from_value::<FieldClock>(json).unwrap(), clock);
        assert!(serde_json::from_value::<FieldClock>(json!({"a": "garbage"})).is_err());
    }

    #[test]
    fn check_patch_refuses_immutable_fields_and_status() {
        let ok = map(json!({"land_class": "inside_plan", "violation_type": "other", "note": "x"}));
        assert_eq!(check_patch(Table::Cases, &ok), Ok(()));
        for field in IMMUTABLE_CASE_FIELDS {
            let patch = map(json!({ *field: 1 }));
            assert_eq!(check_patch(Table::Cases, &patch), Err((ErrorCode::ImmutableField, (*field).to_owned())));
        }
        let status = map(json!({"status": "closed"}));
        assert_eq!(check_patch(Table::Cases, &status), Err((ErrorCode::StatusViaTransition, "status".into())));
        assert_eq!(check_patch(Table::Observations, &map(json!({"note": "x", "status": "y"}))), Ok(()));
        assert_eq!(
            check_patch(Table::Inspections, &map(json!({"created_by": "me"}))),
            Err((ErrorCode::ImmutableField, "created_by".into()))
        );
        assert_eq!(check_patch(Table::Towns, &map(json!({"name": "x"}))), Err((ErrorCode::Forbidden, "table".into())));
    }

    #[test]
    fn record_fields_are_a_subset_of_case_fields() {
        for f in IMMUTABLE_RECORD_FIELDS {
            assert!(IMMUTABLE_CASE_FIELDS.contains(f), "{f}");
        }
    }
}
