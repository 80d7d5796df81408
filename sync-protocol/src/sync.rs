//! The v1 sync messages (`POST /api/v1/sync/push` and `/pull`), field for field as
//! SYNC.md names them.
//!
//! The wire format only grows: unknown fields are ignored, every enum has a catch-all,
//! and one op that this version cannot understand never fails the batch it came in.
//! Golden fixtures in `tests/fixtures/v1/` must keep parsing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::ErrorCode;
use crate::hlc::{Hlc, HlcError};
use crate::lifecycle::{CaseStatus, wire_enum};

wire_enum!(
    /// A table that sync carries.
    Table {
        Cases = "cases",
        /// Append-only.
        Inspections = "inspections",
        /// Append-only.
        Observations = "observations",
        /// Reference data, read-only for clients.
        Towns = "towns",
        /// Reference data, read-only for clients.
        Campaigns = "campaigns",
        /// A town's alerts (town officers and the bureau); read-only, acknowledged through the API.
        Alerts = "alerts",
        /// Idle-land parcels (town officers: their town; the bureau: all); read-only for clients.
        Parcels = "parcels",
        /// Land approvals with their supplied area (town officers and the bureau); read-only.
        Approvals = "approvals",
    }
);

impl Table {
    /// Whether clients may push ops to it.
    pub fn is_writable(self) -> bool {
        matches!(self, Table::Cases | Table::Inspections | Table::Observations)
    }

    /// Whether its records are only ever added to (so never conflict).
    pub fn is_append_only(self) -> bool {
        matches!(self, Table::Inspections | Table::Observations)
    }
}

/// `POST /api/v1/sync/push` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "device_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81",
    "ops": [
        {"op_id": "0193a4f2-8000-7000-8000-0000000000a1", "seq": 41,
         "hlc": "1716192000123-0000-0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81", "op": "create",
         "table": "observations", "id": "0193a4f2-8000-7000-8000-0000000000b7",
         "fields": {"inspection_id": "0193a4f2-8000-7000-8000-0000000000b6",
                    "location": {"lon": 117.31, "lat": 39.72, "crs": "gcj02", "accuracy_m": 6},
                    "note": "新建彩钢房约200平方米", "photos": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
                    "observed_at": "2017-05-20T08:03:11+08:00"}},
        {"op_id": "0193a4f2-8000-7000-8000-0000000000a2", "seq": 42,
         "hlc": "1716192000456-0000-0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81", "op": "update",
         "table": "cases", "id": "0193a4f2-8000-7000-8000-0000000000c1", "base_rev": 7,
         "fields": {"land_class": "outside_plan"}},
        {"op_id": "0193a4f2-8000-7000-8000-0000000000a3", "seq": 43,
         "hlc": "1716192000789-0000-0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81", "op": "transition",
         "table": "cases", "id": "0193a4f2-8000-7000-8000-0000000000c1",
         "from": "registered", "to": "rectifying", "note": "已下达整改通知"}
    ]
})))]
pub struct PushRequest {
    pub device_id: Uuid,
    /// In the order the device made them (`seq` ascending); applied in this order.
    pub ops: Vec<Op>,
}

/// One change made on a device.
///
/// Deserialising an op needs only `op_id`, `seq` and a string `hlc`; whatever else is
/// wrong with it lands in [`OpKind::Unknown`] or [`OpKind::Malformed`], so the server
/// rejects that one op, never the batch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Op {
    /// Made by the client; the idempotency key of the op.
    pub op_id: Uuid,
    /// Per-device sequence number, 1, 2, 3 … in the order the user made the changes.
    pub seq: u64,
    /// Hybrid logical clock stamp `"<unix ms>-<counter, 4 hex digits>-<device id>"`, kept raw:
    /// the server validates it with [`Op::parse_hlc`], so a malformed stamp rejects this op only.
    #[cfg_attr(feature = "openapi", schema(example = "1716192000123-0000-0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81"))]
    pub hlc: String,
    #[serde(flatten)]
    pub kind: OpKind,
}

impl Op {
    /// The op's HLC stamp, checked.
    pub fn parse_hlc(&self) -> Result<Hlc, HlcError> {
        self.hlc.parse()
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut raw = Map::<String, Value>::deserialize(d)?;
        let mut take = |field: &'static str| raw.remove(field).ok_or_else(|| D::Error::missing_field(field));
        let op_id = Uuid::deserialize(take("op_id")?).map_err(|e| D::Error::custom(format_args!("op_id: {e}")))?;
        let seq = u64::deserialize(take("seq")?).map_err(|e| D::Error::custom(format_args!("seq: {e}")))?;
        let hlc = String::deserialize(take("hlc")?).map_err(|e| D::Error::custom(format_args!("hlc: {e}")))?;
        Ok(Op { op_id, seq, hlc, kind: OpKind::from_raw(raw) })
    }
}

/// What an op does, tagged by its `"op"` field.
///
/// Deserialise ops through [`Op`] (or [`OpKind::from_raw`]), which never fails on the
/// kind: the derived `Deserialize` of `OpKind` itself accepts the four known kinds only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OpKind {
    /// Create a record with a client-made id.
    Create {
        table: String,
        /// A UUID, or WatermelonDB's 16-character id.
        id: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        fields: Map<String, Value>,
    },
    /// Change some fields: a patch, not the whole record.
    Update {
        table: String,
        id: String,
        /// The record's `rev` the device last saw.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_rev: Option<u64>,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        fields: Map<String, Value>,
    },
    /// Move a case through its lifecycle (table `cases`).
    Transition {
        table: String,
        id: String,
        from: CaseStatus,
        to: CaseStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// SHA-256 of photos attached to the transition.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        photos: Vec<String>,
    },
    /// Tombstone a record, where the rules allow it.
    Delete { table: String, id: String },
    /// An op kind this version does not know (from a newer client): every field except
    /// `op_id`, `seq` and `hlc`, `"op"` included, kept as sent.
    #[serde(untagged, skip_deserializing)]
    Unknown(Map<String, Value>),
    /// A known op kind whose fields do not parse, or an op without a string `"op"`.
    #[serde(untagged, skip_deserializing)]
    Malformed(MalformedOp),
}

/// The names of the op kinds this version knows.
pub const OP_KINDS: &[&str] = &["create", "update", "transition", "delete"];

impl OpKind {
    /// Reads an op kind from the op's fields other than `op_id`, `seq` and `hlc`; never fails.
    pub fn from_raw(raw: Map<String, Value>) -> OpKind {
        match raw.get("op") {
            Some(Value::String(tag)) if OP_KINDS.contains(&tag.as_str()) => {
                let value = Value::Object(raw);
                match OpKind::deserialize(&value) {
                    Ok(kind) => kind,
                    Err(e) => {
                        let raw = match value {
                            Value::Object(raw) => raw,
                            _ => Map::new(),
                        };
                        OpKind::Malformed(MalformedOp { reason: e.to_string(), raw })
                    }
                }
            }
            Some(Value::String(_)) => OpKind::Unknown(raw),
            _ => OpKind::Malformed(MalformedOp { reason: "the op has no string field `op`".into(), raw }),
        }
    }

    /// The `"op"` tag: `create`, `update`, … or what an unknown op sent.
    pub fn name(&self) -> Option<&str> {
        match self {
            OpKind::Create { .. } => Some("create"),
            OpKind::Update { .. } => Some("update"),
            OpKind::Transition { .. } => Some("transition"),
            OpKind::Delete { .. } => Some("delete"),
            OpKind::Unknown(raw) | OpKind::Malformed(MalformedOp { raw, .. }) => raw.get("op").and_then(Value::as_str),
        }
    }

    /// The table named by the op, as sent.
    pub fn table(&self) -> Option<&str> {
        match self {
            OpKind::Create { table, .. }
            | OpKind::Update { table, .. }
            | OpKind::Transition { table, .. }
            | OpKind::Delete { table, .. } => Some(table),
            OpKind::Unknown(raw) | OpKind::Malformed(MalformedOp { raw, .. }) => {
                raw.get("table").and_then(Value::as_str)
            }
        }
    }

    /// The record id named by the op, as sent.
    pub fn id(&self) -> Option<&str> {
        match self {
            OpKind::Create { id, .. }
            | OpKind::Update { id, .. }
            | OpKind::Transition { id, .. }
            | OpKind::Delete { id, .. } => Some(id),
            OpKind::Unknown(raw) | OpKind::Malformed(MalformedOp { raw, .. }) => raw.get("id").and_then(Value::as_str),
        }
    }
}

/// An op of a known kind that does not parse. Serialises back as it was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct MalformedOp {
    /// What is wrong, for the `rejected` result's message.
    pub reason: String,
    /// The op's fields except `op_id`, `seq` and `hlc`.
    pub raw: Map<String, Value>,
}

impl Serialize for MalformedOp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

/// `POST /api/v1/sync/push` response: one result per op, in the order of the ops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "results": [
        {"op_id": "0193a4f2-8000-7000-8000-0000000000a1", "status": "applied", "rev": 1},
        {"op_id": "0193a4f2-8000-7000-8000-0000000000a2", "status": "merged", "rev": 9,
         "overridden": {"land_class": "basic_farmland"}},
        {"op_id": "0193a4f2-8000-7000-8000-0000000000a3", "status": "conflict",
         "server_record": {"id": "0193a4f2-8000-7000-8000-0000000000c1", "status": "rectified", "rev": 9}}
    ],
    "last_seq": 43,
    "server_time": "2017-05-20T00:05:00Z"
})))]
pub struct PushResponse {
    pub results: Vec<OpResult>,
    /// The device's highest applied `seq`.
    pub last_seq: u64,
    pub server_time: DateTime<Utc>,
}

/// The outcome of one op.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpResult {
    pub op_id: Uuid,
    pub status: OpStatus,
    /// The record's revision after the op (`applied`, `duplicate`, `merged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<u64>,
    /// `merged`: the fields that were not written, with the values that stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub overridden: Option<Map<String, Value>>,
    /// `conflict`: the record as the server has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub server_record: Option<Value>,
    /// `rejected`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<OpError>,
    /// Remarks on an applied op, for example `clock_skew` (its stamp was re-stamped), or on a
    /// `duplicate`: `out_of_scope` (its case has left the caller's scope; the stored record is withheld).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The case this op opened: an observation with `propose_case` (the phone
    /// learns the case's id and number at once, without waiting for a pull),
    /// or a created case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<OpCase>,
}

/// A case an op opened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpCase {
    pub id: Uuid,
    /// The case number (案件编号) the town office and the ledger use, e.g. `BD-2017-00042`.
    pub case_number: String,
}

/// The flag set on an op whose HLC was too far ahead and was re-stamped by the server.
pub const FLAG_CLOCK_SKEW: &str = "clock_skew";

/// The flag set on a `duplicate` whose case has left the caller's scope since:
/// the stored `server_record` / `overridden` values are withheld.
pub const FLAG_OUT_OF_SCOPE: &str = "out_of_scope";

impl OpResult {
    fn new(op_id: Uuid, status: OpStatus) -> Self {
        Self {
            op_id,
            status,
            rev: None,
            overridden: None,
            server_record: None,
            error: None,
            flags: Vec::new(),
            case: None,
        }
    }

    /// Done; the record is at `rev`.
    pub fn applied(op_id: Uuid, rev: u64) -> Self {
        Self { rev: Some(rev), ..Self::new(op_id, OpStatus::Applied) }
    }

    /// Applied, except the `overridden` fields where the server had newer writes.
    pub fn merged(op_id: Uuid, rev: u64, overridden: Map<String, Value>) -> Self {
        Self { rev: Some(rev), overridden: Some(overridden), ..Self::new(op_id, OpStatus::Merged) }
    }

    /// Not applied: the op's premise no longer holds.
    pub fn conflict(op_id: Uuid, server_record: Value) -> Self {
        Self { server_record: Some(server_record), ..Self::new(op_id, OpStatus::Conflict) }
    }

    /// Invalid or forbidden; retrying can never succeed.
    pub fn rejected(op_id: Uuid, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { error: Some(OpError { code, message: message.into() }), ..Self::new(op_id, OpStatus::Rejected) }
    }

    /// The stored result of an earlier delivery of the same op, returned as `duplicate`.
    pub fn into_duplicate(self) -> Self {
        Self { status: OpStatus::Duplicate, ..self }
    }

    /// Names the case the op opened.
    pub fn with_case(mut self, id: Uuid, case_number: impl Into<String>) -> Self {
        self.case = Some(OpCase { id, case_number: case_number.into() });
        self
    }

    /// Adds a flag such as [`FLAG_CLOCK_SKEW`].
    pub fn with_flag(mut self, flag: impl Into<String>) -> Self {
        self.flags.push(flag.into());
        self
    }
}

/// Why an op was rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpError {
    /// Stable machine-readable code.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "immutable_field"))]
    pub code: ErrorCode,
    /// Human-readable explanation; may change between versions.
    pub message: String,
}

/// The status of one op's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OpStatus {
    /// Done; `rev` returned. Drop from the outbox.
    Applied,
    /// This op_id was applied before; the original result is returned. Drop from the outbox.
    Duplicate,
    /// Applied, but the fields in `overridden` kept the server's newer values.
    Merged,
    /// Not applied: the op's premise no longer holds; `server_record` returned.
    Conflict,
    /// Invalid or forbidden; `error.code` says why. Retrying can never succeed.
    Rejected,
    /// A status this client version does not know (never sent by this server version).
    #[serde(other)]
    Unknown,
}

/// `POST /api/v1/sync/pull` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"cursor": null, "limit": 500})))]
pub struct PullRequest {
    /// The `cursor` of the last response; `null` on a first sync. Opaque.
    #[serde(default)]
    pub cursor: Option<String>,
    /// At most this many changes (default 500; at most the server's `sync.max_pull_limit`, 5000 unless configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub limit: Option<u32>,
    /// Only these tables; all in scope when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
}

/// `POST /api/v1/sync/pull` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "changes": [
        {"table": "cases", "id": "0193a4f2-8000-7000-8000-0000000000c1", "rev": 9, "op": "upsert",
         "record": {"id": "0193a4f2-8000-7000-8000-0000000000c1", "status": "rectified", "rev": 9}},
        {"table": "cases", "id": "0193a4f2-8000-7000-8000-0000000000c9", "rev": 4, "op": "evict"}
    ],
    "cursor": "opaque-string",
    "has_more": false,
    "server_time": "2017-05-20T00:05:01Z"
})))]
pub struct PullResponse {
    /// Each record at most once, with its latest state.
    pub changes: Vec<Change>,
    /// Pass back in the next pull. Opaque.
    pub cursor: String,
    /// Pull again (with `cursor`) until false.
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
}

/// One record's change since the cursor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub table: String,
    pub id: String,
    pub rev: u64,
    pub op: ChangeOp,
    /// The record's latest state (`upsert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub record: Option<Value>,
}

/// What a change does to the local replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// Insert or replace the record.
    Upsert,
    /// The record was deleted (tombstone).
    Delete,
    /// The record left this user's scope: remove it locally, not as a deletion.
    Evict,
    /// A change kind this client version does not know; skip it.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HLC: &str = "1716192000123-0000-0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81";

    fn op(body: Value) -> Op {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn known_op_kinds_parse_through_flatten_and_round_trip() {
        let update = json!({"op_id": Uuid::nil(), "seq": 42, "hlc": HLC, "op": "update",
            "table": "cases", "id": "0193a4f2-8000-7000-8000-0000000000c1", "base_rev": 7,
            "fields": {"land_class": "outside_plan"}});
        let parsed = op(update.clone());
        assert_eq!(parsed.seq, 42);
        assert_eq!(parsed.parse_hlc().unwrap().counter(), 0);
        match &parsed.kind {
            OpKind::Update { table, base_rev, fields, .. } => {
                assert_eq!((table.as_str(), *base_rev), ("cases", Some(7)));
                assert_eq!(fields["land_class"], "outside_plan");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(serde_json::to_value(&parsed).unwrap(), update);

        let transition = json!({"op_id": Uuid::nil(), "seq": 43, "hlc": HLC, "op": "transition",
            "table": "cases", "id": "wmdb16charid0001", "from": "registered", "to": "rectifying"});
        let parsed = op(transition.clone());
        assert_eq!(
            parsed.kind,
            OpKind::Transition {
                table: "cases".into(),
                id: "wmdb16charid0001".into(),
                from: CaseStatus::Registered,
                to: CaseStatus::Rectifying,
                note: None,
                photos: vec![],
            }
        );
        assert_eq!(serde_json::to_value(&parsed).unwrap(), transition);
    }

    #[test]
    fn extra_fields_on_a_known_op_are_ignored() {
        let parsed = op(json!({"op_id": Uuid::nil(), "seq": 1, "hlc": HLC, "op": "delete",
            "table": "observations", "id": "x", "future_reason": "duplicate"}));
        assert_eq!(parsed.kind, OpKind::Delete { table: "observations".into(), id: "x".into() });
    }

    #[test]
    fn an_unknown_op_kind_parses_and_keeps_its_fields() {
        let body = json!({"op_id": Uuid::nil(), "seq": 7, "hlc": HLC, "op": "merge_cases",
            "table": "cases", "id": "a", "into": "b", "future_weight": 3});
        let parsed = op(body.clone());
        let OpKind::Unknown(raw) = &parsed.kind else { panic!("{parsed:?}") };
        assert_eq!(raw["into"], "b");
        assert!(!raw.contains_key("op_id") && !raw.contains_key("seq") && !raw.contains_key("hlc"));
        assert_eq!(
            (parsed.kind.name(), parsed.kind.table(), parsed.kind.id()),
            (Some("merge_cases"), Some("cases"), Some("a"))
        );
        assert_eq!(serde_json::to_value(&parsed).unwrap(), body, "re-serialised as sent");
    }

    #[test]
    fn a_malformed_op_fails_alone_not_the_batch() {
        let batch = json!({"device_id": Uuid::nil(), "ops": [
            {"op_id": Uuid::nil(), "seq": 1, "hlc": "not-a-stamp", "op": "delete", "table": "cases", "id": "a"},
            {"op_id": Uuid::nil(), "seq": 2, "hlc": HLC, "op": "update", "table": "cases", "id": "a", "fields": 5},
            {"op_id": Uuid::nil(), "seq": 3, "hlc": HLC, "op": "transition", "table": "cases", "id": "a",
             "from": "registered", "to": "on_the_moon"},
            {"op_id": Uuid::nil(), "seq": 4, "hlc": HLC, "table": "cases", "id": "a"},
            {"op_id": Uuid::nil(), "seq": 5, "hlc": HLC, "op": 17},
        ]});
        let req: PushRequest = serde_json::from_value(batch.clone()).unwrap();
        assert_eq!(req.ops.len(), 5);
        assert!(matches!(req.ops[0].kind, OpKind::Delete { .. }));
        assert!(req.ops[0].parse_hlc().is_err());
        for o in &req.ops[1..] {
            let OpKind::Malformed(m) = &o.kind else { panic!("{o:?}") };
            assert!(!m.reason.is_empty());
        }
        assert_eq!(req.ops[1].kind.name(), Some("update"));
        assert_eq!(req.ops[3].kind.id(), Some("a"));
        assert_eq!(serde_json::to_value(&req).unwrap(), batch, "malformed ops re-serialise as sent");
    }

    #[test]
    fn an_op_without_its_envelope_fails_the_batch() {
        // Without op_id there is nothing to report a result against.
        for bad in [
            json!({"seq": 1, "hlc": HLC, "op": "delete", "table": "cases", "id": "a"}),
            json!({"op_id": "nope", "seq": 1, "hlc": HLC, "op": "delete", "table": "cases", "id": "a"}),
            json!({"op_id": Uuid::nil(), "seq": -1, "hlc": HLC, "op": "delete", "table": "cases", "id": "a"}),
            json!({"op_id": Uuid::nil(), "seq": 1, "op": "delete", "table": "cases", "id": "a"}),
            json!({"op_id": Uuid::nil(), "seq": 1, "hlc": 5, "op": "delete", "table": "cases", "id": "a"}),
            json!([1, 2]),
        ] {
            assert!(serde_json::from_value::<Op>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_statuses_and_change_ops_use_the_catch_all() {
        let r: OpResult = serde_json::from_value(json!({"op_id": Uuid::nil(), "status": "queued"})).unwrap();
        assert_eq!(r.status, OpStatus::Unknown);
        let c: Change =
            serde_json::from_value(json!({"table": "cases", "id": "a", "rev": 1, "op": "archive"})).unwrap();
        assert_eq!(c.op, ChangeOp::Unknown);
    }

    #[test]
    fn results_skip_absent_fields() {
        let id = Uuid::nil();
        assert_eq!(
            serde_json::to_value(OpResult::applied(id, 1)).unwrap(),
            json!({"op_id": id, "status": "applied", "rev": 1})
        );
        let r = OpResult::rejected(id, ErrorCode::ImmutableField, "case_number").with_flag(FLAG_CLOCK_SKEW);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"op_id": id, "status": "rejected", "error": {"code": "immutable_field", "message": "case_number"},
                   "flags": ["clock_skew"]})
        );
        assert_eq!(OpResult::applied(id, 3).into_duplicate().status, OpStatus::Duplicate);
        assert_eq!(serde_json::to_value(PullRequest::default()).unwrap(), json!({"cursor": null}));
    }

    #[test]
    fn tables_know_what_clients_may_write() {
        assert_eq!(Table::parse("cases"), Some(Table::Cases));
        assert_eq!(Table::parse("users"), None);
        let writable: Vec<_> = Table::ALL.iter().filter(|t| t.is_writable()).map(|t| t.as_str()).collect();
        assert_eq!(writable, ["cases", "inspections", "observations"]);
        assert!(Table::Observations.is_append_only() && !Table::Cases.is_append_only());
    }
}
