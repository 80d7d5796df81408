//! Seeding cases and their ledger directly in the database, with chosen
//! times: the reports are computed from the ledger, and a test (or the
//! benchmark) needs a history that happened in the past.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, Utc};
use landpatrol_server::db::entities::{case_events, cases};
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, DatabaseConnection, EntityTrait, Set, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

/// A case row with the fields reports read; the rest are defaults.
#[allow(clippy::too_many_arguments)]
pub fn case(
    id: Uuid,
    number: &str,
    source: &str,
    status: &str,
    town: Option<Uuid>,
    campaign: Uuid,
    deadline: Option<NaiveDate>,
    created_at: DateTime<Utc>,
) -> cases::Model {
    cases::Model {
        id,
        case_number: number.to_owned(),
        year: 2016,
        source: source.to_owned(),
        status: status.to_owned(),
        lon: 117.3,
        lat: 39.7,
        accuracy_m: None,
        input_crs: "wgs84".into(),
        polygon: None,
        area_m2: None,
        town_id: town,
        near_boundary: false,
        neighbour_town_id: None,
        description: String::new(),
        address: String::new(),
        land_class: None,
        violation_type: None,
        disposition: None,
        notice_served_at: None,
        leadership_reported_at: None,
        campaign_id: Some(campaign),
        deadline,
        discovered_at: created_at,
        confiscated_gains_fen: None,
        disciplinary_actions: json!([]),
        judicial_referral: false,
        publicised: false,
        site_check_result: None,
        dismiss_reason: None,
        external_ref: None,
        flags: json!([]),
        rev: 1,
        seq: 0,
        created_seq: 0,
        deleted: false,
        field_clock: json!({}),
        created_by: None,
        created_at,
        updated_at: created_at,
    }
}

/// One ledger entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub case_id: Uuid,
    pub at: DateTime<Utc>,
    pub action: &'static str,
    pub from: Option<&'static str>,
    pub to: Option<&'static str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A status change.
pub fn step(case_id: Uuid, at: DateTime<Utc>, from: Option<&'static str>, to: &'static str) -> Entry {
    let action = if from.is_none() { "created" } else { "transition" };
    Entry { case_id, at, action, from, to: Some(to), before: None, after: None }
}

/// A field change (`updated`, `relocated`, `reassigned`).
pub fn change(case_id: Uuid, at: DateTime<Utc>, action: &'static str, before: Value, after: Value) -> Entry {
    Entry { case_id, at, action, from: None, to: None, before: Some(before), after: Some(after) }
}

/// Inserts the cases and the ledger (in time order, as it would have been
/// written), in chunks, in one transaction.
pub async fn insert(db: &DatabaseConnection, cases_rows: Vec<cases::Model>, mut entries: Vec<Entry>) {
    let txn = db.begin().await.unwrap();
    for chunk in cases_rows.chunks(500) {
        let rows: Vec<cases::ActiveModel> =
            chunk.iter().map(|c| cases::ActiveModel::from(c.clone()).reset_all()).collect();
        cases::Entity::insert_many(rows).exec_without_returning(&txn).await.unwrap();
    }
    entries.sort_by_key(|e| e.at);
    for chunk in entries.chunks(2000) {
        let rows: Vec<case_events::ActiveModel> = chunk
            .iter()
            .map(|e| case_events::ActiveModel {
                id: NotSet,
                case_id: Set(e.case_id),
                at: Set(e.at),
                actor_id: Set(None),
                actor_name: Set("seed".into()),
                device_id: Set(None),
                action: Set(e.action.to_owned()),
                from_status: Set(e.from.map(str::to_owned)),
                to_status: Set(e.to.map(str::to_owned)),
                before: Set(e.before.clone()),
                after: Set(e.after.clone()),
                note: Set(None),
            })
            .collect();
        case_events::Entity::insert_many(rows).exec_without_returning(&txn).await.unwrap();
    }
    txn.commit().await.unwrap();
}

/// A Baodi-time instant: `2016-06-01 09:00` local.
pub fn local(day: &str, hour: u32) -> DateTime<Utc> {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    d.and_hms_opt(hour, 0, 0).unwrap().and_utc() - chrono::Duration::hours(8)
}
