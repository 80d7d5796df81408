//! Parcel rules and transactions: validation, scope, import, disposals, and
//! the idle-land balance for the progress report. Every change to a parcel
//! bumps `rev` and takes a new `seq`, so town officers pull it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Months, NaiveDate, Utc};
use landpatrol_sync::{ErrorCode, GeoPoint, Role};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::types::*;
use crate::auth::service::{TownLookup, resolve_town};
use crate::auth::{AuthUser, Scope};
use crate::cases::store::{self, local_today};
use crate::db::{self, entities::parcel_disposals, entities::parcels, land_history};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::towns::geo::{self, MultiPolygon};

/// Roles that create and change parcels (a town officer: in its town).
pub const WRITERS: &[Role] = &[Role::BureauAdmin, Role::TownOfficer];
/// Roles that pull parcels through sync (a town officer: its town; the bureau: all).
pub const PULLERS: &[Role] = &[Role::BureauAdmin, Role::TownOfficer];
/// Most data rows in one CSV import.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// Idle-land balance per town for the days `from..=to`: parcels that became idle (idle_since in the range) and
/// parcels disposed (disposed_on in the range), and how many are idle at the end of `to`.
#[derive(Clone, Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct IdleBalance {
    pub town_id: Option<uuid::Uuid>,
    pub newly_idle: i64,
    pub newly_idle_area_m2: f64,
    pub disposed: i64,
    pub disposed_area_m2: f64,
    pub idle_at_end: i64,
    pub idle_area_at_end_m2: f64,
}

impl IdleBalance {
    /// Adds another town's figures (for the district).
    pub fn add(&mut self, o: &IdleBalance) {
        self.newly_idle += o.newly_idle;
        self.newly_idle_area_m2 += o.newly_idle_area_m2;
        self.disposed += o.disposed;
        self.disposed_area_m2 += o.disposed_area_m2;
        self.idle_at_end += o.idle_at_end;
        self.idle_area_at_end_m2 += o.idle_area_at_end_m2;
    }
}

/// Town, area, idle since, disposed on, id.
type BalanceRow = (Option<Uuid>, f64, Option<NaiveDate>, Option<NaiveDate>, Uuid);

/// Idle-land balance per town for the days `from..=to`: parcels that became idle (idle_since in the range) and
/// parcels disposed (disposed_on in the range), and how many are idle at the end of `to`.
///
/// `known`: count only what was recorded before this instant (a past report,
/// reproduced as it was); `None`: everything recorded so far.
pub async fn idle_balance(
    conn: &impl sea_orm::ConnectionTrait,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    known: Option<DateTime<Utc>>,
) -> crate::error::ApiResult<Vec<IdleBalance>> {
    if from > to {
        return Err(ApiError::field("from", format!("the period starts ({from}) after it ends ({to})")));
    }
    let mut q = parcels::Entity::find()
        .select_only()
        .columns([
            parcels::Column::TownId,
            parcels::Column::AreaM2,
            parcels::Column::IdleSince,
            parcels::Column::DisposedOn,
            parcels::Column::Id,
        ])
        // A parcel only ever becomes idle, never back: one not idle now was not idle then.
        .filter(parcels::Column::IdleSince.is_not_null())
        .filter(parcels::Column::IdleSince.lte(to));
    let then = match known {
        Some(cutoff) => {
            q = q.filter(parcels::Column::CreatedAt.lt(cutoff));
            land_history::as_of(conn, land_history::PARCEL, cutoff).await?
        }
        None => {
            q = q.filter(parcels::Column::Deleted.eq(false));
            HashMap::new()
        }
    };
    let rows: Vec<BalanceRow> = q.into_tuple().all(conn).await?;
    let mut by_town: BTreeMap<Option<Uuid>, IdleBalance> = BTreeMap::new();
    for (town, area, idle_since, disposed_on, id) in rows {
        let was = then.get(&id);
        let idle_since: Option<NaiveDate> = land_history::field(was, "idle_since", idle_since);
        let Some(idle_since) = idle_since.filter(|d| *d <= to) else { continue };
        if land_history::field(was, "deleted", false) {
            continue;
        }
        let area: f64 = land_history::field(was, "area_m2", area);
        let disposed_on: Option<NaiveDate> = land_history::field(was, "disposed_on", disposed_on);
        let b = by_town.entry(town).or_insert_with(|| IdleBalance { town_id: town, ..Default::default() });
        if idle_since >= from {
            b.newly_idle += 1;
            b.newly_idle_area_m2 += area;
        }
        if disposed_on.is_some_and(|d| d >= from && d <= to) {
            b.disposed += 1;
            b.disposed_area_m2 += area;
        }
        if disposed_on.is_none_or(|d| d > to) {
            b.idle_at_end += 1;
            b.idle_area_at_end_m2 += area;
        }
    }
    Ok(by_town.into_values().filter(|b| b.newly_idle + b.disposed + b.idle_at_end > 0).collect())
}

/// The fields of a parcel the progress report reads, as they are before a change.
pub fn report_fields(m: &parcels::Model) -> Value {
    json!({
        "area_m2": m.area_m2,
        "status": m.status,
        "idle_since": m.idle_since,
        "disposed_on": m.disposed_on,
        "deleted": m.deleted,
    })
}

/// The day a parcel with this agreed start becomes idle without construction.
pub fn idle_from(agreed_start: NaiveDate) -> NaiveDate {
    agreed_start.checked_add_months(Months::new(12)).unwrap_or(NaiveDate::MAX)
}

/// A parcel's view.
pub fn view(m: &parcels::Model, state: &AppState) -> ParcelView {
    ParcelView {
        id: m.id,
        code: m.code.clone(),
        holder: m.holder.clone(),
        area_m2: m.area_m2,
        agreed_start: m.agreed_start,
        actual_start: m.actual_start,
        town: m.town_id.and_then(|t| state.towns.get(t)),
        location: GeoPoint { lon: m.lon, lat: m.lat, crs: landpatrol_sync::Crs::Wgs84, accuracy_m: None, mock: false },
        polygon: m.polygon.clone(),
        status: m.status.clone(),
        idle_since: m.idle_since,
        idle_case_id: m.idle_case_id,
        disposed_on: m.disposed_on,
        disposal: m.disposal.clone(),
        rev: m.rev,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn disposal_view(m: parcel_disposals::Model) -> DisposalView {
    DisposalView {
        id: m.id,
        parcel_id: m.parcel_id,
        kind: m.kind,
        disposed_on: m.disposed_on,
        fee_fen: m.fee_fen,
        note: m.note,
        recorded_by: m.recorded_by,
        created_at: m.created_at,
    }
}

// ---- validation -------------------------------------------------------------

/// Parses a `YYYY-MM-DD` calendar day.
pub fn parse_date(field: &str, value: &str) -> ApiResult<NaiveDate> {
    let d = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::field(field, format!("{field} must be a real date as YYYY-MM-DD, not {value:?}")))?;
    plausible_date(field, d)
}

/// Refuses days outside the years land records can be about (1949–2200).
pub fn plausible_date(field: &str, d: NaiveDate) -> ApiResult<NaiveDate> {
    if (1949..=2200).contains(&chrono::Datelike::year(&d)) {
        Ok(d)
    } else {
        Err(ApiError::field(field, format!("{field} {d} is not a plausible date")))
    }
}

fn check_area(area: f64) -> ApiResult<f64> {
    if !area.is_finite() || area <= 0.0 {
        return Err(ApiError::field("area_m2", "area_m2 must be a finite number of square metres above 0"));
    }
    if area > 1.0e9 {
        return Err(ApiError::field("area_m2", "area_m2 is larger than the district"));
    }
    Ok(area)
}

fn check_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::field(field, format!("{field} must be 1 to {max} characters")));
    }
    Ok(v.to_owned())
}

/// The actual start may be before the agreed one (early start), but not by
/// more than five years, and never in the future.
fn check_starts(agreed: NaiveDate, actual: Option<NaiveDate>, today: NaiveDate) -> ApiResult<()> {
    let Some(actual) = actual else { return Ok(()) };
    if actual > today {
        return Err(ApiError::field("actual_start", format!("actual_start {actual} is after today ({today})")));
    }
    if agreed.checked_sub_months(Months::new(60)).is_some_and(|earliest| actual < earliest) {
        return Err(ApiError::field(
            "actual_start",
            format!("actual_start {actual} is more than 5 years before agreed_start {agreed}"),
        ));
    }
    Ok(())
}

/// A parcel's data, checked.
#[derive(Clone, Debug, PartialEq)]
struct Checked {
    code: String,
    holder: String,
    area_m2: f64,
    agreed_start: NaiveDate,
    actual_start: Option<NaiveDate>,
    lon: f64,
    lat: f64,
    polygon: Option<Value>,
    town: Option<Uuid>,
}

#[allow(clippy::too_many_arguments)]
async fn check_parcel(
    conn: &impl ConnectionTrait,
    towns: &mut TownLookup,
    state: &AppState,
    code: &str,
    holder: &str,
    area_m2: f64,
    agreed_start: &str,
    actual_start: Option<&str>,
    location: Option<GeoPoint>,
    polygon: Option<&Value>,
    town: Option<&str>,
) -> ApiResult<Checked> {
    let code = check_text("code", code, 100)?;
    let holder = check_text("holder", holder, 200)?;
    let area_m2 = check_area(area_m2)?;
    let agreed = parse_date("agreed_start", agreed_start)?;
    let actual = actual_start.filter(|s| !s.trim().is_empty()).map(|s| parse_date("actual_start", s)).transpose()?;
    check_starts(agreed, actual, local_today())?;
    let point = location.map(GeoPoint::to_wgs84).transpose()?;
    let patch = polygon
        .map(|p| {
            geo::parse_geometry(p).map_err(|e| {
                ApiError::new(ErrorCode::InvalidGeometry, format!("polygon: {e}"))
                    .with_details(json!({"field": "polygon"}))
            })
        })
        .transpose()?;
    let point = match (point, &patch) {
        (Some(p), _) => p,
        (None, Some(mp)) => {
            let (lon, lat) = mp.representative_point();
            GeoPoint::wgs84(lon, lat)?
        }
        (None, None) => return Err(ApiError::field("location", "give the parcel's location, its polygon or both")),
    };
    let town = match town.map(str::trim).filter(|t| !t.is_empty()) {
        Some(key) => Some(towns.get(conn, key).await?.id),
        None => crate::cases::service::route(state, &point, patch.as_ref()).town,
    };
    Ok(Checked {
        code,
        holder,
        area_m2,
        agreed_start: agreed,
        actual_start: actual,
        lon: point.lon,
        lat: point.lat,
        polygon: patch.as_ref().map(MultiPolygon::to_geojson),
        town,
    })
}

fn require_writer(user: &AuthUser) -> ApiResult<()> {
    user.require(WRITERS)
}

// ---- create, read, change -----------------------------------------------------

async fn insert(conn: &impl ConnectionTrait, user: &AuthUser, c: Checked) -> ApiResult<parcels::Model> {
    let now = Utc::now();
    let seq = db::next_seq(conn).await?;
    Ok(parcels::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(c.code),
        holder: Set(c.holder),
        area_m2: Set(c.area_m2),
        agreed_start: Set(c.agreed_start),
        actual_start: Set(c.actual_start),
        town_id: Set(c.town),
        lon: Set(c.lon),
        lat: Set(c.lat),
        polygon: Set(c.polygon),
        status: Set(ACTIVE.to_owned()),
        idle_since: Set(None),
        idle_case_id: Set(None),
        disposed_on: Set(None),
        disposal: Set(None),
        rev: Set(1),
        seq: Set(seq),
        created_seq: Set(seq),
        deleted: Set(false),
        field_clock: Set(json!({ "*": store::server_stamp() })),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

fn duplicate_code(code: &str) -> ApiError {
    ApiError::new(ErrorCode::DuplicateRecord, format!("a parcel with code {code:?} exists"))
        .with_details(json!({ "field": "code" }))
}

/// Creates a parcel (bureau: any town; town officer: its own town only).
pub async fn create(state: &AppState, user: &AuthUser, req: NewParcel) -> ApiResult<ParcelView> {
    require_writer(user)?;
    let c = check_parcel(
        &state.db,
        &mut TownLookup::default(),
        state,
        &req.code,
        &req.holder,
        req.area_m2,
        &req.agreed_start,
        req.actual_start.as_deref(),
        req.location,
        req.polygon.as_ref(),
        req.town.as_deref(),
    )
    .await?;
    if !user.scope().covers(c.town) {
        return Err(ApiError::out_of_scope().with_details(json!({ "town_id": c.town })));
    }
    let txn = state.db.begin().await?;
    if find_by_code(&txn, &c.code).await?.is_some() {
        return Err(duplicate_code(&c.code));
    }
    let m = insert(&txn, user, c).await?;
    txn.commit().await?;
    Ok(view(&m, state))
}

async fn find_by_code(conn: &impl ConnectionTrait, code: &str) -> ApiResult<Option<parcels::Model>> {
    Ok(parcels::Entity::find().filter(parcels::Column::Code.eq(code)).one(conn).await?)
}

/// Loads a live parcel the caller may see; another town's is `not_found`.
pub async fn load_in_scope(conn: &impl ConnectionTrait, user: &AuthUser, id: Uuid) -> ApiResult<parcels::Model> {
    let m = parcels::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|p| !p.deleted)
        .ok_or_else(|| ApiError::not_found("parcel"))?;
    if !user.scope().covers(m.town_id) {
        return Err(ApiError::not_found("parcel"));
    }
    Ok(m)
}

/// One parcel.
pub async fn get(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<ParcelView> {
    Ok(view(&load_in_scope(&state.db, user, id).await?, state))
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message)
}

/// The parcels in the caller's scope, newest first.
pub async fn list(state: &AppState, user: &AuthUser, f: &ParcelFilter) -> ApiResult<ParcelPage> {
    let limit = f.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(bad_query("limit must be 1 to 500"));
    }
    let mut cond = Condition::all().add(parcels::Column::Deleted.eq(false));
    if let Scope::Towns(list) = user.scope() {
        cond = cond.add(parcels::Column::TownId.is_in(list));
    }
    if let Some(key) = f.town.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let town = resolve_town(&state.db, key).await?;
        if !user.scope().covers(Some(town.id)) {
            return Err(ApiError::out_of_scope().with_details(json!({ "town": key })));
        }
        cond = cond.add(parcels::Column::TownId.eq(town.id));
    }
    if let Some(raw) = &f.status {
        let wanted: Vec<&str> = raw.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if let Some(bad) = wanted.iter().find(|s| !STATUSES.contains(s)) {
            return Err(bad_query(format!("unknown status {bad:?}")).with_details(json!({ "allowed": STATUSES })));
        }
        if !wanted.is_empty() {
            cond = cond.add(parcels::Column::Status.is_in(wanted));
        }
    }
    if let Some(cursor) = &f.cursor {
        let before = Uuid::parse_str(cursor).map_err(|_| bad_query("cursor is not one this server gave"))?;
        cond = cond.add(parcels::Column::Id.lt(before));
    }
    let mut rows =
        parcels::Entity::find().filter(cond).order_by_desc(parcels::Column::Id).limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = if more { rows.last().map(|r| r.id.to_string()) } else { None };
    Ok(ParcelPage { items: rows.iter().map(|m| view(m, state)).collect(), next_cursor })
}

/// Changes a parcel's holder, area or dates (dates only while `active`).
pub async fn patch(state: &AppState, user: &AuthUser, id: Uuid, req: ParcelPatch) -> ApiResult<ParcelView> {
    require_writer(user)?;
    if req.code.is_some() {
        return Err(ApiError::new(ErrorCode::ImmutableField, "a parcel's code never changes")
            .with_details(json!({ "field": "code" })));
    }
    let txn = state.db.begin().await?;
    let cur = load_in_scope(&txn, user, id).await?;
    let holder = req.holder.as_deref().map(|h| check_text("holder", h, 200)).transpose()?;
    let area = req.area_m2.map(check_area).transpose()?;
    let agreed = req.agreed_start.as_deref().map(|s| parse_date("agreed_start", s)).transpose()?;
    let actual = req.actual_start.as_deref().map(|s| parse_date("actual_start", s)).transpose()?;
    if (agreed.is_some_and(|a| a != cur.agreed_start) || actual.is_some_and(|a| Some(a) != cur.actual_start))
        && cur.status != ACTIVE
    {
        let field = if agreed.is_some() { "agreed_start" } else { "actual_start" };
        return Err(ApiError::field(
            field,
            format!("the parcel is {}: its dates are closed; record a disposal instead", cur.status),
        )
        .with_details(json!({ "field": field, "status": cur.status })));
    }
    let new_agreed = agreed.unwrap_or(cur.agreed_start);
    let new_actual = actual.or(cur.actual_start);
    check_starts(new_agreed, new_actual, local_today())?;
    let changed = holder.as_ref().is_some_and(|h| *h != cur.holder)
        || area.is_some_and(|a| a != cur.area_m2)
        || new_agreed != cur.agreed_start
        || new_actual != cur.actual_start;
    if !changed {
        txn.commit().await?;
        return Ok(view(&cur, state));
    }
    let mut m: parcels::ActiveModel = cur.clone().into();
    if let Some(h) = holder {
        m.holder = Set(h);
    }
    if let Some(a) = area {
        m.area_m2 = Set(a);
    }
    m.agreed_start = Set(new_agreed);
    m.actual_start = Set(new_actual);
    let saved = save(&txn, m, &cur, "updated").await?;
    txn.commit().await?;
    Ok(view(&saved, state))
}

/// Deletes a parcel entered by mistake, while it is `active` (an idle or
/// disposed parcel stays: its idle-land case and disposals refer to it).
/// Officers' devices get the deletion through sync; past reports keep it
/// as it was. Deleting it again changes nothing.
pub async fn delete(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<()> {
    require_writer(user)?;
    let txn = state.db.begin().await?;
    let Some(cur) = parcels::Entity::find_by_id(id).one(&txn).await?.filter(|p| user.scope().covers(p.town_id)) else {
        return Err(ApiError::not_found("parcel"));
    };
    if cur.deleted {
        return Ok(());
    }
    if cur.status != ACTIVE {
        return Err(ApiError::field(
            "status",
            format!("the parcel is {}: its idle-land case and disposals keep it on record", cur.status),
        )
        .with_details(json!({ "field": "status", "status": cur.status })));
    }
    let mut m: parcels::ActiveModel = cur.clone().into();
    m.deleted = Set(true);
    save(&txn, m, &cur, "deleted").await?;
    txn.commit().await?;
    Ok(())
}

/// Saves a change to `cur`: `rev` + 1, a new `seq`, the server's clock
/// stamp; when the change touches fields the progress report reads, their
/// old values are kept (`land_changes`), so past reports stay as they were.
async fn save(
    conn: &impl ConnectionTrait,
    mut m: parcels::ActiveModel,
    cur: &parcels::Model,
    action: &str,
) -> ApiResult<parcels::Model> {
    m.rev = Set(cur.rev + 1);
    m.seq = Set(db::next_seq(conn).await?);
    m.field_clock = Set(json!({ "*": store::server_stamp() }));
    m.updated_at = Set(Utc::now());
    let saved = m.update(conn).await?;
    let before = report_fields(cur);
    if report_fields(&saved) != before {
        land_history::remember(conn, land_history::PARCEL, cur.id, action, Utc::now(), before).await?;
    }
    Ok(saved)
}

// ---- disposals -----------------------------------------------------------------

/// Records a disposal of an idle parcel, which closes it.
pub async fn dispose(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    req: NewDisposal,
) -> ApiResult<(bool, DisposalRecorded)> {
    require_writer(user)?;
    let on = parse_date("disposed_on", &req.disposed_on)?;
    let today = local_today();
    if on > today {
        return Err(ApiError::field("disposed_on", format!("disposed_on {on} is after today ({today})")));
    }
    match (req.kind, req.fee_fen) {
        (DisposalKind::FeeCollected, None) => {
            return Err(ApiError::field("fee_fen", "a fee_collected disposal says the fee in fen"));
        }
        (DisposalKind::FeeCollected, Some(f)) if f <= 0 => {
            return Err(ApiError::field("fee_fen", "fee_fen must be above 0"));
        }
        (DisposalKind::FeeCollected, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(ApiError::field("fee_fen", "fee_fen belongs to fee_collected disposals only")),
    }
    let note = req.note.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if note.chars().count() > 2000 {
        return Err(ApiError::field("note", "note must be at most 2000 characters"));
    }
    let txn = state.db.begin().await?;
    let cur = load_in_scope(&txn, user, id).await?;
    if let Some(client_id) = req.id
        && let Some(known) = parcel_disposals::Entity::find_by_id(client_id).one(&txn).await?
    {
        // A retry: the same disposal of the same parcel answers as recorded; anything else is a clash.
        let same = known.parcel_id == cur.id
            && known.kind == req.kind.as_str()
            && known.disposed_on == on
            && known.fee_fen == req.fee_fen;
        if !same {
            return Err(ApiError::new(ErrorCode::DuplicateRecord, "a disposal with this id exists with other content"));
        }
        return Ok((false, DisposalRecorded { disposal: disposal_view(known), parcel: view(&cur, state) }));
    }
    if on < cur.agreed_start {
        return Err(ApiError::field(
            "disposed_on",
            format!("disposed_on {on} is before the agreed start {}", cur.agreed_start),
        ));
    }
    if cur.status != IDLE {
        return Err(ApiError::field(
            "status",
            format!("only an idle parcel is disposed of; this one is {}", cur.status),
        )
        .with_details(json!({ "field": "status", "status": cur.status })));
    }
    let disposal = parcel_disposals::ActiveModel {
        id: Set(req.id.unwrap_or_else(Uuid::now_v7)),
        parcel_id: Set(cur.id),
        kind: Set(req.kind.as_str().to_owned()),
        disposed_on: Set(on),
        fee_fen: Set(req.fee_fen),
        note: Set(note),
        recorded_by: Set(Some(user.id)),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    let mut m: parcels::ActiveModel = cur.clone().into();
    m.status = Set(DISPOSED.to_owned());
    m.disposed_on = Set(Some(on));
    m.disposal = Set(Some(req.kind.as_str().to_owned()));
    if req.kind == DisposalKind::ConstructionStarted {
        m.actual_start = Set(Some(on));
    }
    let saved = save(&txn, m, &cur, "disposed").await?;
    if let Some(case_id) = cur.idle_case_id {
        // The idle-land case's ledger says how the land was dealt with; the town
        // office takes the case on through its lifecycle.
        let after = json!({
            "parcel_id": cur.id, "parcel_code": cur.code, "disposal_id": disposal.id, "kind": disposal.kind,
            "disposed_on": disposal.disposed_on, "fee_fen": disposal.fee_fen,
        });
        let event = store::Event {
            case_id,
            action: "parcel_disposed",
            from_status: None,
            to_status: None,
            before: None,
            after: Some(after),
            note: Some(disposal.note.clone()).filter(|n| !n.is_empty()),
        };
        store::append_event(&txn, &store::Actor::from(user), event).await?;
    }
    txn.commit().await?;
    Ok((true, DisposalRecorded { disposal: disposal_view(disposal), parcel: view(&saved, state) }))
}

/// The disposals of a parcel, oldest first.
pub async fn disposals(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<Vec<DisposalView>> {
    let p = load_in_scope(&state.db, user, id).await?;
    Ok(parcel_disposals::Entity::find()
        .filter(parcel_disposals::Column::ParcelId.eq(p.id))
        .order_by_asc(parcel_disposals::Column::CreatedAt)
        .order_by_asc(parcel_disposals::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(disposal_view)
        .collect())
}

// ---- CSV import ----------------------------------------------------------------

/// The CSV header an import must start with.
pub const CSV_HEADER: [&str; 8] = ["code", "holder", "area_m2", "agreed_start", "actual_start", "lon", "lat", "town"];

use crate::csv::import_failed;
pub use crate::csv::{Record as CsvRecord, read as read_csv};

fn row_error(row: usize, e: &ApiError) -> RowError {
    let field = e.details.get("field").and_then(Value::as_str).unwrap_or(match e.code {
        ErrorCode::CoordinateOutOfRange => "lon",
        ErrorCode::UnknownTown => "town",
        _ => "row",
    });
    RowError { row, field: field.to_owned(), message: e.message.clone() }
}

fn parse_number(field: &str, s: &str) -> ApiResult<f64> {
    s.trim().parse::<f64>().map_err(|_| ApiError::field(field, format!("{field} must be a number, not {s:?}")))
}

/// Imports parcels from CSV (UTF-8, with or without BOM). All or nothing:
/// any bad row refuses the whole file, listing every row error. A code
/// already stored updates that parcel (so a re-import changes nothing).
pub async fn import_csv(state: &AppState, user: &AuthUser, body: &[u8]) -> ApiResult<ParcelImportReport> {
    require_writer(user)?;
    let text = crate::csv::text(body, "body")?;
    let records =
        read_csv(text).map_err(|(row, message)| import_failed(vec![RowError { row, field: "row".into(), message }]))?;
    let Some(((_, header), rows)) = records.split_first() else {
        return Err(ApiError::field("body", "the file is empty; the first line is the header"));
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    if header != CSV_HEADER {
        return Err(ApiError::field("header", format!("the header must be {}", CSV_HEADER.join(",")))
            .with_details(json!({ "field": "header", "expected": CSV_HEADER, "found": header })));
    }
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(ApiError::field("body", format!("at most {MAX_IMPORT_ROWS} rows per import")));
    }
    let mut checked = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut towns = TownLookup::default();
    let scope = user.scope();
    for (row, fields) in rows {
        let row = *row;
        if fields.len() != CSV_HEADER.len() {
            errors.push(RowError {
                row,
                field: "row".into(),
                message: format!("{} fields, expected {}", fields.len(), CSV_HEADER.len()),
            });
            continue;
        }
        let get = |i: usize| fields[i].trim();
        let result = async {
            let area = parse_number("area_m2", get(2))?;
            let lon = parse_number("lon", get(5))?;
            let lat = parse_number("lat", get(6))?;
            let point = GeoPoint::wgs84(lon, lat).map_err(|e| {
                let field = if matches!(e, landpatrol_sync::GeoPointError::Latitude(_)) { "lat" } else { "lon" };
                ApiError::new(ErrorCode::CoordinateOutOfRange, e.to_string()).with_details(json!({ "field": field }))
            })?;
            let actual = Some(get(4)).filter(|s| !s.is_empty());
            let town = Some(get(7)).filter(|s| !s.is_empty());
            let c = check_parcel(
                &state.db,
                &mut towns,
                state,
                get(0),
                get(1),
                area,
                get(3),
                actual,
                Some(point),
                None,
                town,
            )
            .await?;
            if !scope.covers(c.town) {
                return Err(ApiError::field("town", "the parcel lies outside your town"));
            }
            Ok::<_, ApiError>(c)
        }
        .await;
        match result {
            Ok(c) if !seen.insert(c.code.clone()) => {
                errors.push(RowError {
                    row,
                    field: "code".into(),
                    message: format!("code {:?} appears twice", c.code),
                });
            }
            Ok(c) => checked.push((row, c)),
            Err(e) => errors.push(row_error(row, &e)),
        }
    }
    if !errors.is_empty() {
        return Err(import_failed(errors));
    }
    let mut report = ParcelImportReport { rows: rows.len(), ..Default::default() };
    let txn = state.db.begin().await?;
    let codes: Vec<String> = checked.iter().map(|(_, c)| c.code.clone()).collect();
    let mut existing: HashMap<String, parcels::Model> = HashMap::new();
    for chunk in codes.chunks(500) {
        for m in parcels::Entity::find().filter(parcels::Column::Code.is_in(chunk.to_vec())).all(&txn).await? {
            existing.insert(m.code.clone(), m);
        }
    }
    for (row, c) in checked {
        let Some(cur) = existing.remove(&c.code) else {
            insert(&txn, user, c).await?;
            report.created += 1;
            continue;
        };
        if cur.deleted || !scope.covers(cur.town_id) {
            errors.push(RowError {
                row,
                field: "code".into(),
                message: "this code belongs to a deleted parcel or to one outside your scope".into(),
            });
            continue;
        }
        if cur.town_id != c.town {
            errors.push(RowError {
                row,
                field: "town".into(),
                message: "the stored parcel lies in another town; a re-import cannot move it".into(),
            });
            continue;
        }
        let dates_changed = c.agreed_start != cur.agreed_start || c.actual_start != cur.actual_start;
        if dates_changed && cur.status != ACTIVE {
            errors.push(RowError {
                row,
                field: "agreed_start".into(),
                message: format!("the parcel is {}: its dates are closed", cur.status),
            });
            continue;
        }
        let same = c.holder == cur.holder
            && c.area_m2 == cur.area_m2
            && !dates_changed
            && c.lon == cur.lon
            && c.lat == cur.lat;
        if same {
            report.unchanged += 1;
            continue;
        }
        let mut m: parcels::ActiveModel = cur.clone().into();
        m.holder = Set(c.holder);
        m.area_m2 = Set(c.area_m2);
        m.agreed_start = Set(c.agreed_start);
        m.actual_start = Set(c.actual_start);
        m.lon = Set(c.lon);
        m.lat = Set(c.lat);
        save(&txn, m, &cur, "imported").await?;
        report.updated += 1;
    }
    crate::csv::finish(txn, errors, report).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn csv_reader_handles_quotes_commas_and_line_ends() {
        let text = "code,holder\r\n\"A,1\",\"张三 \"\"老宅\"\"\"\n\nB,\"two\nlines\"";
        let r = read_csv(text).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], (2, vec!["A,1".to_owned(), "张三 \"老宅\"".to_owned()]));
        assert_eq!(r[2], (4, vec!["B".to_owned(), "two\nlines".to_owned()]));
        assert!(read_csv("a,\"b").is_err());
        assert!(read_csv("a,\"b\"c").is_err());
    }

    #[test]
    fn idle_one_year_after_the_agreed_start() {
        assert_eq!(idle_from(d("2016-03-01")), d("2017-03-01"));
        assert_eq!(idle_from(d("2016-02-29")), d("2017-02-28"));
    }

    #[test]
    fn start_dates_are_checked() {
        let today = d("2017-06-01");
        assert!(check_starts(d("2016-01-01"), Some(d("2015-06-01")), today).is_ok(), "an early start is allowed");
        assert!(check_starts(d("2016-01-01"), Some(d("2010-12-31")), today).is_err(), "not 5 years early");
        assert!(check_starts(d("2016-01-01"), Some(d("2017-06-02")), today).is_err(), "not in the future");
        assert!(parse_date("agreed_start", "2017-02-30").is_err());
        assert!(check_area(f64::NAN).is_err() && check_area(0.0).is_err() && check_area(-1.0).is_err());
    }
}
