//! Approvals and supplies: rules, transactions, the CSV import and the
//! supply rates the progress report reads.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use landpatrol_sync::{ErrorCode, Role};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::types::*;
use crate::auth::{AuthUser, Scope};
use crate::cases::store::local_today;
use crate::db::entities::{approval_supplies, approvals};
use crate::db::land_history::APPROVAL;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::towns::TownCache;

/// Who registers approvals and supplies: a town office (its town's) and the bureau.
pub const WRITERS: &[Role] = &[Role::TownOfficer, Role::BureauAdmin];
/// Who reads them: the writers and the leadership group.
pub const READERS: &[Role] = &[Role::TownOfficer, Role::BureauAdmin, Role::Verifier];

/// Areas are compared with this tolerance (square metres), so sums of decimals
/// that add up to the approved area are not refused for rounding.
const AREA_EPSILON: f64 = 1e-6;
/// The largest area accepted: 1,000 km², far beyond a district's approvals.
const MAX_AREA_M2: f64 = 1e9;

/// Namespace of the ids of supplies made by an import (one per approval, date and area).
const IMPORT_NS: Uuid = Uuid::from_u128(0x0193_5e00_a990_7000_8000_0000_0000_0001);

/// Land supply (批而未供) per town for a period (see [`supply_rates`]).
///
/// The rate is the plan's yearly one: of the land approved but not supplied
/// that the period had to deal with (the stock at its start plus what was
/// approved in it), the share supplied in the period. The cumulative figures
/// (everything approved and supplied up to the period's end) come beside it.
#[derive(Clone, Debug, Default, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"town_id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "approvals": 3,
    "stock_at_start_m2": 10000.0, "approved_in_period_m2": 30000.0, "supplied_in_period_m2": 26000.0,
    "rate": 0.65, "approved_area_m2": 40000.0, "supplied_area_m2": 30000.0, "cumulative_rate": 0.75}))]
pub struct SupplyRate {
    pub town_id: Uuid,
    /// Approvals approved by the period's end.
    pub approvals: i64,
    /// Approved but not supplied at the start of the period, m².
    pub stock_at_start_m2: f64,
    /// Approved in the period, m².
    pub approved_in_period_m2: f64,
    /// Supplied in the period, m².
    pub supplied_in_period_m2: f64,
    /// `supplied_in_period / (stock_at_start + approved_in_period)`; null when both are 0.
    pub rate: Option<f64>,
    /// Approved up to the period's end, m².
    pub approved_area_m2: f64,
    /// Supplied up to the period's end, m².
    pub supplied_area_m2: f64,
    /// `supplied_area / approved_area`; null when nothing is approved.
    pub cumulative_rate: Option<f64>,
}

impl SupplyRate {
    /// Adds another town's figures (for the district) and recomputes the rates.
    pub fn add(&mut self, o: &SupplyRate) {
        self.approvals += o.approvals;
        self.stock_at_start_m2 += o.stock_at_start_m2;
        self.approved_in_period_m2 += o.approved_in_period_m2;
        self.supplied_in_period_m2 += o.supplied_in_period_m2;
        self.approved_area_m2 += o.approved_area_m2;
        self.supplied_area_m2 += o.supplied_area_m2;
        self.rates();
    }

    fn rates(&mut self) {
        let due = self.stock_at_start_m2 + self.approved_in_period_m2;
        self.rate = (due > AREA_EPSILON).then(|| self.supplied_in_period_m2 / due);
        self.cumulative_rate =
            (self.approved_area_m2 > AREA_EPSILON).then(|| self.supplied_area_m2 / self.approved_area_m2);
    }
}

/// The fields of an approval the progress report reads, as they are before a change.
fn report_fields(m: &approvals::Model) -> serde_json::Value {
    json!({ "approved_on": m.approved_on, "approved_area_m2": m.approved_area_m2, "deleted": m.deleted })
}

/// Checks an area: a finite number greater than 0.
pub fn check_area(v: f64) -> Result<f64, String> {
    if !v.is_finite() {
        Err("the area must be a finite number of square metres".into())
    } else if v <= 0.0 {
        Err("the area must be greater than 0".into())
    } else if v > MAX_AREA_M2 {
        Err(format!("the area must be at most {MAX_AREA_M2} m²"))
    } else {
        Ok(v)
    }
}

fn check_code(code: &str) -> Result<String, String> {
    let code = code.trim();
    if code.is_empty() || code.chars().count() > 100 || code.chars().any(char::is_control) {
        return Err("the approval number is 1 to 100 characters".into());
    }
    Ok(code.to_owned())
}

fn check_note(note: &str) -> Result<String, String> {
    if note.chars().count() > 2000 {
        return Err("at most 2000 characters".into());
    }
    Ok(note.trim().to_owned())
}

/// A recorded day: not after today, and not before the People's Republic's land records.
fn not_future(d: NaiveDate) -> Result<NaiveDate, String> {
    if d > local_today() {
        Err(format!("{d} is after today ({})", local_today()))
    } else if chrono::Datelike::year(&d) < 1949 {
        Err(format!("{d} is not a plausible date"))
    } else {
        Ok(d)
    }
}

fn field<T>(name: &str, r: Result<T, String>) -> ApiResult<T> {
    r.map_err(|m| ApiError::field(name, m))
}

/// The view of an approval.
pub fn view(towns: &TownCache, m: &approvals::Model) -> ApprovalView {
    let rate = if m.approved_area_m2 > 0.0 { m.supplied_area_m2 / m.approved_area_m2 } else { 0.0 };
    ApprovalView {
        id: m.id,
        code: m.code.clone(),
        town_id: m.town_id,
        town: towns.get(m.town_id),
        approved_on: m.approved_on,
        approved_area_m2: m.approved_area_m2,
        supplied_area_m2: m.supplied_area_m2,
        unsupplied_area_m2: (m.approved_area_m2 - m.supplied_area_m2).max(0.0),
        supply_rate: rate,
        note: m.note.clone(),
        rev: m.rev,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn supply_view(m: approval_supplies::Model) -> SupplyView {
    SupplyView {
        id: m.id,
        approval_id: m.approval_id,
        supplied_on: m.supplied_on,
        area_m2: m.area_m2,
        note: m.note,
        recorded_by: m.recorded_by,
        created_at: m.created_at,
    }
}

/// The scope condition of approvals for a caller.
pub fn scope_condition(user: &AuthUser) -> sea_orm::Condition {
    match user.scope() {
        Scope::District => sea_orm::Condition::all(),
        Scope::Towns(list) => sea_orm::Condition::all().add(approvals::Column::TownId.is_in(list)),
    }
}

async fn by_code(conn: &impl ConnectionTrait, code: &str) -> ApiResult<Option<approvals::Model>> {
    Ok(approvals::Entity::find().filter(approvals::Column::Code.eq(code)).one(conn).await?)
}

/// Registers an approval. The same approval sent again (same number, town,
/// date, area and note) answers the existing one: `(false, view)`.
pub async fn create(state: &AppState, user: &AuthUser, req: NewApproval) -> ApiResult<(bool, ApprovalView)> {
    user.require(WRITERS)?;
    let code = field("code", check_code(&req.code))?;
    let approved_on = field("approved_on", not_future(req.approved_on))?;
    let area = field("approved_area_m2", check_area(req.approved_area_m2))?;
    let note = field("note", check_note(&req.note))?;
    let town = crate::auth::service::resolve_town(&state.db, req.town.trim()).await?;
    user.require_town(Some(town.id))?;
    let txn = state.db.begin().await?;
    if let Some(cur) = by_code(&txn, &code).await? {
        let same = cur.town_id == town.id
            && cur.approved_on == approved_on
            && (cur.approved_area_m2 - area).abs() < AREA_EPSILON
            && cur.note == note
            && !cur.deleted;
        if same && user.scope().covers(Some(cur.town_id)) {
            return Ok((false, view(&state.towns, &cur)));
        }
        return Err(ApiError::new(ErrorCode::DuplicateRecord, format!("an approval numbered {code:?} exists"))
            .with_details(json!({ "field": "code" })));
    }
    let m = insert(&txn, user, code, town.id, approved_on, area, note).await?;
    txn.commit().await?;
    Ok((true, view(&state.towns, &m)))
}

/// An approval in the caller's scope (another town's is `404`).
async fn load(conn: &impl ConnectionTrait, user: &AuthUser, id: Uuid, lock: bool) -> ApiResult<approvals::Model> {
    user.require(READERS)?;
    let mut q = approvals::Entity::find_by_id(id);
    if lock {
        q = q.lock_exclusive();
    }
    let m = q.one(conn).await?.filter(|m| !m.deleted).ok_or_else(|| ApiError::not_found("approval"))?;
    if !user.scope().covers(Some(m.town_id)) {
        return Err(ApiError::not_found("approval"));
    }
    Ok(m)
}

/// One approval.
pub async fn get(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<ApprovalView> {
    Ok(view(&state.towns, &load(&state.db, user, id, false).await?))
}

/// The approvals in the caller's scope, oldest first.
pub async fn list(state: &AppState, user: &AuthUser, q: &ApprovalQuery) -> ApiResult<ApprovalPage> {
    user.require(READERS)?;
    let limit = crate::alerts::service::page_limit(q.limit, 100)?;
    let mut find = approvals::Entity::find().filter(approvals::Column::Deleted.eq(false)).filter(scope_condition(user));
    if let Some(key) = q.town.as_deref().filter(|k| !k.is_empty()) {
        let town = crate::auth::service::resolve_town(&state.db, key).await?;
        user.require_town(Some(town.id))?;
        find = find.filter(approvals::Column::TownId.eq(town.id));
    }
    if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        let after = Uuid::parse_str(c).map_err(|_| {
            ApiError::new(ErrorCode::InvalidQuery, "cursor is not one this server gave")
                .with_details(json!({ "field": "cursor" }))
        })?;
        find = find.filter(approvals::Column::Id.gt(after));
    }
    let mut rows = find.order_by_asc(approvals::Column::Id).limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = if more { rows.last().map(|r| r.id.to_string()) } else { None };
    Ok(ApprovalPage { items: rows.iter().map(|m| view(&state.towns, m)).collect(), next_cursor })
}

async fn first_supply(conn: &impl ConnectionTrait, approval: Uuid) -> ApiResult<Option<NaiveDate>> {
    Ok(approval_supplies::Entity::find()
        .filter(approval_supplies::Column::ApprovalId.eq(approval))
        .order_by_asc(approval_supplies::Column::SuppliedOn)
        .one(conn)
        .await?
        .map(|s| s.supplied_on))
}

/// Checks an approval's date and area against its supplies.
/// Whether an approval can take a new date and area given its supplies: the
/// inner error names the field and says why not.
async fn check_against_supplies(
    conn: &impl ConnectionTrait,
    cur: &approvals::Model,
    approved_on: NaiveDate,
    area: f64,
) -> ApiResult<Result<(), (&'static str, String)>> {
    if area + AREA_EPSILON < cur.supplied_area_m2 {
        return Ok(Err((
            "approved_area_m2",
            format!("{} m² are already supplied; the approved area can not be less", cur.supplied_area_m2),
        )));
    }
    if let Some(first) = first_supply(conn, cur.id).await?
        && approved_on > first
    {
        return Ok(Err(("approved_on", format!("land was supplied on {first}, before {approved_on}"))));
    }
    Ok(Ok(()))
}

/// Makes an approval (rev 1, a new seq), in the caller's transaction.
async fn insert(
    conn: &impl ConnectionTrait,
    user: &AuthUser,
    code: String,
    town: Uuid,
    approved_on: NaiveDate,
    area: f64,
    note: String,
) -> ApiResult<approvals::Model> {
    let now = Utc::now();
    let seq = crate::db::next_seq(conn).await?;
    Ok(approvals::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code),
        town_id: Set(town),
        approved_on: Set(approved_on),
        approved_area_m2: Set(area),
        supplied_area_m2: Set(0.0),
        note: Set(note),
        rev: Set(1),
        seq: Set(seq),
        created_seq: Set(seq),
        deleted: Set(false),
        field_clock: Set(json!({})),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

/// Saves a change to `cur` (rev + 1, a new seq, so devices pull it again). When
/// the change touches fields the progress report reads, their old values are
/// kept (`land_changes`), so past reports stay as they were.
async fn save(
    conn: &impl ConnectionTrait,
    cur: approvals::Model,
    action: &str,
    change: impl FnOnce(&mut approvals::ActiveModel),
) -> ApiResult<approvals::Model> {
    let before = report_fields(&cur);
    let (id, rev) = (cur.id, cur.rev);
    let mut m: approvals::ActiveModel = cur.into();
    change(&mut m);
    m.rev = Set(rev + 1);
    m.seq = Set(crate::db::next_seq(conn).await?);
    m.updated_at = Set(Utc::now());
    let saved = m.update(conn).await?;
    if report_fields(&saved) != before {
        crate::db::land_history::remember(conn, APPROVAL, id, action, Utc::now(), before).await?;
    }
    Ok(saved)
}

/// Changes an approval's date, area or note.
pub async fn update(state: &AppState, user: &AuthUser, id: Uuid, req: ApprovalPatch) -> ApiResult<ApprovalView> {
    user.require(WRITERS)?;
    let approved_on = req.approved_on.map(|d| field("approved_on", not_future(d))).transpose()?;
    let area = req.approved_area_m2.map(|a| field("approved_area_m2", check_area(a))).transpose()?;
    let note = req.note.as_deref().map(|n| field("note", check_note(n))).transpose()?;
    let txn = state.db.begin().await?;
    let cur = load(&txn, user, id, true).await?;
    let new_on = approved_on.unwrap_or(cur.approved_on);
    let new_area = area.unwrap_or(cur.approved_area_m2);
    let new_note = note.unwrap_or_else(|| cur.note.clone());
    if new_on == cur.approved_on && (new_area - cur.approved_area_m2).abs() < AREA_EPSILON && new_note == cur.note {
        return Ok(view(&state.towns, &cur));
    }
    check_against_supplies(&txn, &cur, new_on, new_area).await?.map_err(|(f, m)| ApiError::field(f, m))?;
    let m = save(&txn, cur, "updated", |m| {
        m.approved_on = Set(new_on);
        m.approved_area_m2 = Set(new_area);
        m.note = Set(new_note);
    })
    .await?;
    txn.commit().await?;
    Ok(view(&state.towns, &m))
}

/// Deletes an approval entered by mistake, while no land was supplied under
/// it (supplies keep it on record). Officers' devices get the deletion
/// through sync; past reports keep it as it was. Deleting again changes nothing.
pub async fn delete(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<()> {
    user.require(WRITERS)?;
    let txn = state.db.begin().await?;
    let Some(cur) = approvals::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|m| user.scope().covers(Some(m.town_id)))
    else {
        return Err(ApiError::not_found("approval"));
    };
    if cur.deleted {
        return Ok(());
    }
    if first_supply(&txn, cur.id).await?.is_some() {
        return Err(ApiError::field("supplies", "land was supplied under this approval; it stays on record"));
    }
    save(&txn, cur, "deleted", |m| m.deleted = Set(true)).await?;
    txn.commit().await?;
    Ok(())
}

/// Checks a supply against its approval.
fn check_supply(cur: &approvals::Model, on: NaiveDate, area: f64) -> Result<(), (&'static str, String)> {
    if on < cur.approved_on {
        return Err(("supplied_on", format!("{on} is before the approval ({})", cur.approved_on)));
    }
    not_future(on).map_err(|m| ("supplied_on", m))?;
    check_area(area).map_err(|m| ("area_m2", m))?;
    if cur.supplied_area_m2 + area > cur.approved_area_m2 + AREA_EPSILON {
        return Err((
            "area_m2",
            format!(
                "{area} m² more would make {} m² supplied of {} m² approved",
                cur.supplied_area_m2 + area,
                cur.approved_area_m2
            ),
        ));
    }
    Ok(())
}

/// Inserts a supply and adds it to its approval (new seq, rev + 1), in the caller's transaction.
async fn insert_supply(
    conn: &impl ConnectionTrait,
    cur: approvals::Model,
    id: Uuid,
    on: NaiveDate,
    area: f64,
    note: String,
    by: Uuid,
) -> ApiResult<(approval_supplies::Model, approvals::Model)> {
    let supply = approval_supplies::ActiveModel {
        id: Set(id),
        approval_id: Set(cur.id),
        supplied_on: Set(on),
        area_m2: Set(area),
        note: Set(note),
        recorded_by: Set(Some(by)),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?;
    let total = cur.supplied_area_m2 + area;
    let approval = save(conn, cur, "supplied", |m| m.supplied_area_m2 = Set(total)).await?;
    Ok((supply, approval))
}

/// Records land supplied under an approval. With a client `id`, the same
/// supply sent again answers `(false, …)` and changes nothing.
pub async fn add_supply(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    req: NewSupply,
) -> ApiResult<(bool, SupplyResult)> {
    user.require(WRITERS)?;
    let note = field("note", check_note(&req.note))?;
    let txn = state.db.begin().await?;
    let cur = load(&txn, user, id, true).await?;
    if let Some(sid) = req.id
        && let Some(old) = approval_supplies::Entity::find_by_id(sid).one(&txn).await?
    {
        let same = old.approval_id == cur.id
            && old.supplied_on == req.supplied_on
            && (old.area_m2 - req.area_m2).abs() < AREA_EPSILON
            && old.note == note;
        if !same {
            return Err(ApiError::new(ErrorCode::DuplicateRecord, "a supply with this id exists with other content")
                .with_details(json!({ "field": "id" })));
        }
        return Ok((false, SupplyResult { supply: supply_view(old), approval: view(&state.towns, &cur) }));
    }
    check_supply(&cur, req.supplied_on, req.area_m2).map_err(|(f, m)| ApiError::field(f, m))?;
    let sid = req.id.unwrap_or_else(Uuid::now_v7);
    let (supply, approval) = insert_supply(&txn, cur, sid, req.supplied_on, req.area_m2, note, user.id).await?;
    txn.commit().await?;
    Ok((true, SupplyResult { supply: supply_view(supply), approval: view(&state.towns, &approval) }))
}

/// The supplies of an approval, by date.
pub async fn supplies(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<Vec<SupplyView>> {
    let cur = load(&state.db, user, id, false).await?;
    let rows = approval_supplies::Entity::find()
        .filter(approval_supplies::Column::ApprovalId.eq(cur.id))
        .order_by_asc(approval_supplies::Column::SuppliedOn)
        .order_by_asc(approval_supplies::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(supply_view).collect())
}

/// Land supply per town for the days `from..=to` (see [`SupplyRate`]):
/// approvals approved by `to`, the supplies made by `to`, split at `from`.
///
/// `known`: count only what was recorded before this instant (a past report,
/// reproduced as it was); `None`: everything recorded so far.
pub async fn supply_rates(
    conn: &impl ConnectionTrait,
    from: NaiveDate,
    to: NaiveDate,
    known: Option<chrono::DateTime<Utc>>,
) -> ApiResult<Vec<SupplyRate>> {
    let mut approved = approvals::Entity::find().select_only().columns([
        approvals::Column::Id,
        approvals::Column::TownId,
        approvals::Column::ApprovedOn,
        approvals::Column::ApprovedAreaM2,
        approvals::Column::Deleted,
    ]);
    let mut supplied = approval_supplies::Entity::find()
        .select_only()
        .columns([
            approval_supplies::Column::ApprovalId,
            approval_supplies::Column::SuppliedOn,
            approval_supplies::Column::AreaM2,
        ])
        .filter(approval_supplies::Column::SuppliedOn.lte(to));
    let then = match known {
        Some(cutoff) => {
            approved = approved.filter(approvals::Column::CreatedAt.lt(cutoff));
            supplied = supplied.filter(approval_supplies::Column::CreatedAt.lt(cutoff));
            crate::db::land_history::as_of(conn, crate::db::land_history::APPROVAL, cutoff).await?
        }
        None => std::collections::HashMap::new(),
    };
    let approved: Vec<(Uuid, Uuid, NaiveDate, f64, bool)> = approved.into_tuple().all(conn).await?;
    let supplied: Vec<(Uuid, NaiveDate, f64)> = supplied.into_tuple().all(conn).await?;
    // Supplied before the period and in it, by approval.
    let mut by_approval: std::collections::HashMap<Uuid, (f64, f64)> = std::collections::HashMap::new();
    for (a, on, area) in supplied {
        let e = by_approval.entry(a).or_default();
        if on < from {
            e.0 += area;
        } else {
            e.1 += area;
        }
    }
    let mut towns: BTreeMap<Uuid, SupplyRate> = BTreeMap::new();
    for (id, town, on, area, deleted) in approved {
        use crate::db::land_history::field;
        let was = then.get(&id);
        let (on, area): (NaiveDate, f64) = (field(was, "approved_on", on), field(was, "approved_area_m2", area));
        if field(was, "deleted", deleted) || on > to {
            continue;
        }
        let (before, during) = by_approval.get(&id).copied().unwrap_or_default();
        let r = towns.entry(town).or_insert_with(|| SupplyRate { town_id: town, ..Default::default() });
        r.approvals += 1;
        if on < from {
            r.stock_at_start_m2 += (area - before).max(0.0);
        } else {
            r.approved_in_period_m2 += area;
        }
        r.supplied_in_period_m2 += during;
        r.approved_area_m2 += area;
        r.supplied_area_m2 += before + during;
    }
    Ok(towns
        .into_values()
        .map(|mut r| {
            r.rates();
            r
        })
        .collect())
}

const CSV_COLUMNS: &[&str] =
    &["code", "town", "approved_on", "approved_area_m2", "supplied_area_m2", "supplied_on", "note"];

use crate::csv::import_failed;
pub use crate::csv::{Record as CsvRecord, read as parse_csv};

/// One parsed row of an import.
struct ImportRow {
    line: usize,
    code: String,
    town: String,
    approved_on: NaiveDate,
    area: f64,
    supply: Option<(f64, NaiveDate)>,
    note: Option<String>,
}

fn row_error(row: usize, field: &str, message: impl Into<String>) -> RowError {
    RowError { row, field: field.to_owned(), message: message.into() }
}

fn parse_rows(text: &str) -> Result<Vec<ImportRow>, Vec<RowError>> {
    let records = parse_csv(text).map_err(|(row, m)| vec![row_error(row, "csv", m)])?;
    let mut iter = records.into_iter();
    let Some((hline, header)) = iter.next() else {
        return Err(vec![row_error(1, "csv", "the file is empty; the first line names the columns")]);
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let mut errors = Vec::new();
    for h in &header {
        if !CSV_COLUMNS.contains(&h.as_str()) {
            errors.push(row_error(hline, h, format!("unknown column; the columns are {}", CSV_COLUMNS.join(","))));
        }
    }
    for need in ["code", "town", "approved_on", "approved_area_m2"] {
        if !header.iter().any(|h| h == need) {
            errors.push(row_error(hline, need, "missing column"));
        }
    }
    if header.iter().any(|h| h == "supplied_area_m2") != header.iter().any(|h| h == "supplied_on") {
        errors.push(row_error(hline, "supplied_on", "supplied_area_m2 and supplied_on come together"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut rows = Vec::new();
    for (line, rec) in iter {
        if rec.len() != header.len() {
            errors.push(row_error(line, "csv", format!("{} fields, the header has {}", rec.len(), header.len())));
            continue;
        }
        let get = |name: &str| col(name).map(|i| rec[i].trim()).unwrap_or("");
        let mut bad = |f: &str, m: String| errors.push(row_error(line, f, m));
        let code = check_code(get("code")).map_err(|m| bad("code", m)).ok();
        let town = get("town").to_owned();
        if town.is_empty() {
            bad("town", "a town id or code is needed".into());
        }
        let date = |f: &str| -> Result<NaiveDate, String> {
            NaiveDate::parse_from_str(get(f), "%Y-%m-%d").map_err(|_| format!("{:?} is not a YYYY-MM-DD date", get(f)))
        };
        let area = |f: &str| -> Result<f64, String> {
            get(f).parse::<f64>().map_err(|_| format!("{:?} is not a number", get(f))).and_then(check_area)
        };
        let approved_on = date("approved_on").and_then(not_future).map_err(|m| bad("approved_on", m)).ok();
        let approved_area = area("approved_area_m2").map_err(|m| bad("approved_area_m2", m)).ok();
        let supply = if get("supplied_area_m2").is_empty() && get("supplied_on").is_empty() {
            Some(None)
        } else {
            let a = area("supplied_area_m2").map_err(|m| bad("supplied_area_m2", m)).ok();
            let d = date("supplied_on").and_then(not_future).map_err(|m| bad("supplied_on", m)).ok();
            a.zip(d).map(Some)
        };
        let note = col("note").map(|_| check_note(get("note"))).transpose().map_err(|m| bad("note", m)).ok();
        if let (Some(code), Some(approved_on), Some(area), Some(supply), Some(note)) =
            (code, approved_on, approved_area, supply, note)
            && !town.is_empty()
        {
            rows.push(ImportRow { line, code, town, approved_on, area, supply, note });
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// Imports approvals from CSV (UTF-8, with or without BOM), all or nothing.
/// A row whose approval number exists updates it (same town only); a supply
/// column pair makes one supply, once (a reimport makes none).
pub async fn import(state: &AppState, user: &AuthUser, body: &[u8]) -> ApiResult<ImportReport> {
    user.require(WRITERS)?;
    let text = crate::csv::text(body, "csv")?;
    let rows = parse_rows(text).map_err(import_failed)?;
    let mut report = ImportReport { rows: rows.len(), ..Default::default() };
    let mut errors = Vec::new();
    let txn = state.db.begin().await?;
    let mut towns = crate::auth::service::TownLookup::default();
    for row in rows {
        let line = row.line;
        let town = match towns.get(&txn, &row.town).await {
            Ok(t) => t,
            Err(e) if e.code == ErrorCode::UnknownTown => {
                errors.push(row_error(line, "town", e.message));
                continue;
            }
            Err(e) => return Err(e),
        };
        if !user.scope().covers(Some(town.id)) {
            errors.push(row_error(line, "town", format!("{} is outside your scope", town.code)));
            continue;
        }
        let existing = by_code(&txn, &row.code).await?;
        let (cur, mut changed, created) = match existing {
            Some(cur) if cur.town_id != town.id || cur.deleted => {
                errors.push(row_error(line, "code", format!("approval {} exists in another town", row.code)));
                continue;
            }
            Some(cur) => {
                let note = row.note.clone().unwrap_or_else(|| cur.note.clone());
                let same = cur.approved_on == row.approved_on
                    && (cur.approved_area_m2 - row.area).abs() < AREA_EPSILON
                    && cur.note == note;
                if same {
                    (cur, false, false)
                } else {
                    if let Err((f, m)) = check_against_supplies(&txn, &cur, row.approved_on, row.area).await? {
                        errors.push(row_error(line, f, m));
                        continue;
                    }
                    let saved = save(&txn, cur, "imported", |m| {
                        m.approved_on = Set(row.approved_on);
                        m.approved_area_m2 = Set(row.area);
                        m.note = Set(note);
                    })
                    .await?;
                    (saved, true, false)
                }
            }
            None => {
                let note = row.note.clone().unwrap_or_default();
                let m = insert(&txn, user, row.code.clone(), town.id, row.approved_on, row.area, note).await?;
                (m, true, true)
            }
        };
        if let Some((area, on)) = row.supply {
            let sid = Uuid::new_v5(&IMPORT_NS, format!("{}/{on}/{area}", cur.id).as_bytes());
            if approval_supplies::Entity::find_by_id(sid).one(&txn).await?.is_none() {
                if let Err((f, m)) = check_supply(&cur, on, area) {
                    let f = if f == "area_m2" { "supplied_area_m2" } else { f };
                    errors.push(row_error(line, f, m));
                    continue;
                }
                insert_supply(&txn, cur, sid, on, area, "CSV import".into(), user.id).await?;
                changed = true;
                report.supplies += 1;
            }
        }
        match (created, changed) {
            (true, _) => report.created += 1,
            (false, true) => report.updated += 1,
            (false, false) => report.unchanged += 1,
        }
    }
    crate::csv::finish(txn, errors, report).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_line_ends_and_blank_lines() {
        let rows = parse_csv("a,b\r\n\"x, \"\"y\"\"\",\"two\nlines\"\n\n1,\n").unwrap();
        assert_eq!(
            rows,
            vec![
                (1, vec!["a".to_owned(), "b".to_owned()]),
                (2, vec!["x, \"y\"".to_owned(), "two\nlines".to_owned()]),
                (5, vec!["1".to_owned(), String::new()]),
            ]
        );
        assert_eq!(parse_csv("a\n\"open").unwrap_err().0, 2);
    }

    #[test]
    fn areas_are_finite_and_positive() {
        assert!(check_area(f64::NAN).is_err());
        assert!(check_area(f64::INFINITY).is_err());
        assert!(check_area(0.0).is_err());
        assert!(check_area(-1.0).is_err());
        assert_eq!(check_area(0.5), Ok(0.5));
    }
}
