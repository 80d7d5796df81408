//! Properties of the field-level last-writer-wins merge: the final record and clock do
//! not depend on the order ops arrive in, re-applying an op changes nothing, and fields
//! no op names are never touched.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use landpatrol_sync::Hlc;
use landpatrol_sync::merge::{FieldClock, merge_patch};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const FIELDS: &[&str] = &["land_class", "violation_type", "note", "disposition", "area_note"];
const NODES: &[&str] = &["0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81", "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f82", "server"];

#[derive(Clone, Debug)]
struct UpdateOp {
    stamp: Hlc,
    patch: Map<String, Value>,
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..5).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::from),
        Just(Value::Null),
        Just(json!({"lon": 117.31, "lat": 39.72})),
    ]
}

fn patch() -> impl Strategy<Value = Map<String, Value>> {
    proptest::sample::subsequence(FIELDS, 0..=FIELDS.len()).prop_flat_map(|fields| {
        proptest::collection::vec(value(), fields.len())
            .prop_map(move |values| fields.iter().map(|f| f.to_string()).zip(values).collect())
    })
}

/// Ops with distinct stamps: the counter is the op's index, so no two stamps are equal,
/// while walls collide often and nodes come from a few devices.
fn ops() -> impl Strategy<Value = Vec<UpdateOp>> {
    proptest::collection::vec((0u64..6, 0..NODES.len(), patch()), 1..10).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (wall, node, patch))| {
                let counter = u16::try_from(i).unwrap_or(u16::MAX);
                UpdateOp { stamp: Hlc::new(1_716_192_000_000 + wall, counter, NODES[node]).unwrap(), patch }
            })
            .collect()
    })
}

/// Two orders of the same ops.
fn permuted_ops() -> impl Strategy<Value = (Vec<UpdateOp>, Vec<UpdateOp>)> {
    ops().prop_flat_map(|ops| (Just(ops.clone()).prop_shuffle(), Just(ops).prop_shuffle()))
}

fn initial() -> (Map<String, Value>, FieldClock) {
    let record = json!({"id": "0193a4f2-8000-7000-8000-0000000000c1", "land_class": "inside_plan",
                        "note": "from the server", "case_number": "2017-001", "rev": 3});
    let Value::Object(record) = record else { unreachable!() };
    // One field already written by the server at a stamp in the middle of the ops' range.
    let clock = FieldClock([("note".to_owned(), Hlc::new(1_716_192_000_003, 4, "server").unwrap())].into());
    (record, clock)
}

fn apply(record: &mut Map<String, Value>, clock: &mut FieldClock, op: &UpdateOp) -> bool {
    let out = merge_patch(record, clock, &op.patch, &op.stamp);
    out.apply_to(record);
    *clock = out.clock;
    !out.write.is_empty()
}

fn apply_all(ops: &[UpdateOp]) -> (Map<String, Value>, FieldClock) {
    let (mut record, mut clock) = initial();
    for op in ops {
        apply(&mut record, &mut clock, op);
    }
    (record, clock)
}

proptest! {
    #[test]
    fn order_of_arrival_does_not_matter((a, b) in permuted_ops()) {
        let (record_a, clock_a) = apply_all(&a);
        let (record_b, clock_b) = apply_all(&b);
        prop_assert_eq!(&record_a, &record_b);
        prop_assert_eq!(&clock_a, &clock_b);

        // And both equal the model: each field holds the value of its greatest stamp.
        let (mut model, initial_clock) = initial();
        for field in FIELDS {
            let winner = a
                .iter()
                .filter(|op| op.patch.contains_key(*field))
                .filter(|op| initial_clock.get(field).is_none_or(|c| &op.stamp > c))
                .max_by(|x, y| x.stamp.cmp(&y.stamp));
            if let Some(op) = winner {
                model.insert((*field).to_owned(), op.patch[*field].clone());
                prop_assert_eq!(clock_a.get(field), Some(&op.stamp));
            }
        }
        prop_assert_eq!(&record_a, &model);
    }

    #[test]
    fn applying_an_op_twice_changes_nothing_the_second_time(ops in ops()) {
        let (mut record, mut clock) = initial();
        for op in &ops {
            apply(&mut record, &mut clock, op);
            let (before, before_clock) = (record.clone(), clock.clone());
            prop_assert!(!apply(&mut record, &mut clock, op), "an immediate repeat wrote something");
            prop_assert_eq!(&record, &before);
            prop_assert_eq!(&clock, &before_clock);
        }
        // Re-delivering every op again, in any order, is a no-op too.
        let (after, after_clock) = (record.clone(), clock.clone());
        for op in ops.iter().rev() {
            prop_assert!(!apply(&mut record, &mut clock, op));
        }
        prop_assert_eq!(&record, &after);
        prop_assert_eq!(&clock, &after_clock);
    }

    #[test]
    fn fields_no_patch_names_are_unchanged(ops in ops()) {
        let (initial_record, initial_clock) = initial();
        let (record, clock) = apply_all(&ops);
        let named: Vec<&String> = ops.iter().flat_map(|op| op.patch.keys()).collect();
        for (field, value) in &initial_record {
            if !named.contains(&field) {
                prop_assert_eq!(record.get(field), Some(value), "{} changed", field);
                prop_assert_eq!(clock.get(field), initial_clock.get(field));
            }
        }
        for field in record.keys() {
            prop_assert!(initial_record.contains_key(field) || named.contains(&field), "{} appeared", field);
        }
    }
}
