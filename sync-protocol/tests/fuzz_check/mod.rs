//! What the fuzz target `sync_push` (fuzz/fuzz_targets/) checks on every input, shared
//! with `tests/fuzz_regressions.rs`: a push body parsed as the server's `web::Json` parses
//! it (`serde_json::from_slice`), then every per-op check the server makes before it
//! touches the database: the HLC stamp, the op kind, the table, `check_patch` and the
//! merge of an update, the location of a create. One bad op never fails the batch, and
//! nothing may panic.

use landpatrol_sync::hlc::{Hlc, HlcClock};
use landpatrol_sync::merge::{FieldClock, check_patch, merge_patch};
use landpatrol_sync::sync::{OpKind, PushRequest, Table};
use landpatrol_sync::{CaseStatus, GeoPoint};
use serde_json::Map;

/// Parses `data` as a push request and checks each op; panics on any broken promise.
pub fn check(data: &[u8]) -> Option<PushRequest> {
    let req = serde_json::from_slice::<PushRequest>(data).ok()?;
    let mut clock = HlcClock::new("server").ok();
    let record = Map::new();
    for op in &req.ops {
        let _ = (op.kind.name(), op.kind.table(), op.kind.id());
        match op.parse_hlc() {
            Ok(h) => {
                // A stamp has exactly one spelling.
                assert_eq!(h.to_string(), op.hlc, "HLC does not round-trip");
                assert_eq!(op.hlc.parse::<Hlc>().as_ref(), Ok(&h));
                if let Some(c) = clock.as_mut() {
                    let before = c.last().clone();
                    let seen = c.observe(&h, 1_716_192_000_000, 60_000);
                    assert!(seen.stamp > before, "the server clock went back");
                }
            }
            Err(_) => continue,
        }
        let table = op.kind.table().and_then(Table::parse);
        let stamp = op.parse_hlc().ok();
        match &op.kind {
            OpKind::Update { fields, .. } => {
                if let Some(t) = table
                    && check_patch(t, fields).is_ok()
                    && let Some(stamp) = &stamp
                {
                    let out = merge_patch(&record, &FieldClock::default(), fields, stamp);
                    assert_eq!(out.write.len() + out.overridden.len(), fields.len());
                }
            }
            OpKind::Create { fields, .. } => {
                if let Some(Ok(p)) = fields.get("location").map(|v| serde_json::from_value::<GeoPoint>(v.clone()))
                    && let Ok(w) = p.to_wgs84()
                {
                    assert!(w.lon.is_finite() && w.lat.is_finite(), "{p:?} → {w:?}");
                }
            }
            OpKind::Transition { from, to, .. } => {
                let _ = landpatrol_sync::lifecycle::transition(*from, *to);
                let _ = (CaseStatus::as_str(*from), CaseStatus::as_str(*to));
            }
            OpKind::Delete { .. } | OpKind::Unknown(_) | OpKind::Malformed(_) => {}
        }
    }
    // What was parsed serialises, and parses again into as many ops with the same ids.
    let json = match serde_json::to_vec(&req) {
        Ok(j) => j,
        Err(e) => panic!("a parsed push does not serialise: {e}"),
    };
    let back: PushRequest = match serde_json::from_slice(&json) {
        Ok(b) => b,
        Err(e) => panic!("a re-serialised push does not parse: {e}"),
    };
    assert_eq!(back.device_id, req.device_id);
    assert_eq!(back.ops.len(), req.ops.len());
    for (a, b) in req.ops.iter().zip(&back.ops) {
        assert_eq!((a.op_id, a.seq, &a.hlc), (b.op_id, b.seq, &b.hlc));
        assert_eq!(a.kind.name(), b.kind.name());
    }
    Some(req)
}
