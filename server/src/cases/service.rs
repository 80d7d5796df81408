//! Case rules and transactions. Every change bumps `rev`, takes a new `seq`,
//! stamps `field_clock` and appends to the ledger in the same transaction.

use chrono::{DateTime, Utc};
use landpatrol_sync::lifecycle::{TransitionFacts, check_transition};
use landpatrol_sync::{
    CaseSource, CaseStatus, Disposition, ErrorCode, GeoPoint, InspectionKind, InspectionResult, LandClass, Role,
    ViolationType,
};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::store::{self, Actor, Event};
use super::types::*;
use crate::auth::service::resolve_town;
use crate::auth::{AuthUser, Scope};
use crate::campaigns;
use crate::config::PhotoSettings;
use crate::db::{self, entities::case_events, entities::cases, entities::inspections};
use crate::error::{ApiError, ApiResult};
use crate::photos::evidence::{self, LinkTarget};
use crate::state::AppState;
use crate::towns::geo::{self, MultiPolygon};

/// Where a case lies and what that means.
pub struct Routed {
    pub town: Option<Uuid>,
    pub near_boundary: bool,
    pub neighbour: Option<Uuid>,
}

/// Routes a WGS-84 point (and optional patch) to the responsible town.
pub fn route(state: &AppState, point: &GeoPoint, patch: Option<&MultiPolygon>) -> Routed {
    let located = state.towns.locate(point.lon, point.lat);
    let town = match patch {
        Some(p) => state.towns.majority_town(p).map(|t| t.id).or(located.town.as_ref().map(|t| t.id)),
        None => located.town.as_ref().map(|t| t.id),
    };
    Routed { town, near_boundary: located.near_boundary, neighbour: located.neighbour.map(|t| t.id) }
}

/// Flags of a reported position: accuracy worse than configured, or mock.
pub fn position_flags(state: &AppState, point: &GeoPoint) -> Vec<&'static str> {
    let mut f = Vec::new();
    if point.accuracy_m.is_some_and(|a| a > state.settings.routing.max_accuracy_m) {
        f.push("low_accuracy");
    }
    if point.mock {
        f.push("mock_location");
    }
    f
}

fn flags(state: &AppState, routed: &Routed, point: &GeoPoint, has_campaign: bool) -> Vec<&'static str> {
    let mut f = Vec::new();
    if routed.near_boundary {
        f.push("near_boundary");
    }
    if routed.town.is_none() {
        f.push("unassigned");
    }
    f.extend(position_flags(state, point));
    if !has_campaign {
        f.push("no_campaign");
    }
    f
}

fn check_len(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::field(field, format!("{field} is longer than {max} characters")));
    }
    Ok(())
}

fn parse_polygon(field: &str, value: &Value) -> ApiResult<MultiPolygon> {
    geo::parse_geometry(value).map_err(|e| {
        ApiError::new(ErrorCode::InvalidGeometry, format!("{field}: {e}")).with_details(json!({ "field": field }))
    })
}

/// Checks photo references: SHA-256 hashes as 64 hex characters, lower-cased.
pub fn check_photos(photos: &[String]) -> ApiResult<Vec<String>> {
    if photos.len() > 100 {
        return Err(ApiError::field("photos", "at most 100 photos"));
    }
    photos
        .iter()
        .map(|p| {
            let p = p.trim().to_ascii_lowercase();
            if crate::photos::is_sha256(&p) {
                Ok(p)
            } else {
                Err(ApiError::field("photos", "each photo is named by its SHA-256 as 64 hex characters"))
            }
        })
        .collect()
}

fn may_create(role: Role, source: CaseSource) -> bool {
    match role {
        Role::BureauAdmin => true,
        Role::TownOfficer => {
            matches!(source, CaseSource::Legacy | CaseSource::Patrol | CaseSource::IdleLand | CaseSource::Tip)
        }
        Role::Inspector => source == CaseSource::Patrol,
        Role::Verifier => false,
    }
}

/// The data of a case to insert, already checked.
pub struct CaseDraft {
    pub id: Uuid,
    pub source: CaseSource,
    pub point: GeoPoint,
    pub input_crs: landpatrol_sync::Crs,
    pub polygon: Option<MultiPolygon>,
    pub description: String,
    pub address: String,
    pub land_class: Option<LandClass>,
    pub violation_type: Option<ViolationType>,
    pub discovered_at: DateTime<Utc>,
    pub external_ref: Option<String>,
}

/// Inserts a case with its routing, deadline, number and first ledger entry,
/// inside the caller's transaction.
pub async fn insert_case(
    conn: &impl ConnectionTrait,
    state: &AppState,
    actor: &Actor,
    draft: CaseDraft,
    routed: Routed,
    action: &str,
) -> ApiResult<cases::Model> {
    let day = store::local_date(draft.discovered_at);
    let year = chrono::Datelike::year(&day);
    let campaign = campaigns::covering(conn, day).await?;
    let deadline = campaign.as_ref().map(|c| campaigns::deadline(c, draft.source, day));
    let number = db::next_case_number(conn, year).await?;
    let now = Utc::now();
    let flags = flags(state, &routed, &draft.point, campaign.is_some());
    let area = draft.polygon.as_ref().map(MultiPolygon::area_m2);
    let stamp = store::server_stamp();
    let seq = db::next_seq(conn).await?;
    let model = cases::ActiveModel {
        id: Set(draft.id),
        case_number: Set(format!("BD-{year}-{number:05}")),
        year: Set(year),
        source: Set(draft.source.as_str().to_owned()),
        status: Set(CaseStatus::Reported.as_str().to_owned()),
        lon: Set(draft.point.lon),
        lat: Set(draft.point.lat),
        accuracy_m: Set(draft.point.accuracy_m),
        input_crs: Set(draft.input_crs.as_str().to_owned()),
        polygon: Set(draft.polygon.as_ref().map(MultiPolygon::to_geojson)),
        area_m2: Set(area),
        town_id: Set(routed.town),
        near_boundary: Set(routed.near_boundary),
        neighbour_town_id: Set(routed.neighbour),
        description: Set(draft.description),
        address: Set(draft.address),
        land_class: Set(draft.land_class.map(|v| v.as_str().to_owned())),
        violation_type: Set(draft.violation_type.map(|v| v.as_str().to_owned())),
        disposition: Set(None),
        notice_served_at: Set(None),
        leadership_reported_at: Set(None),
        campaign_id: Set(campaign.as_ref().map(|c| c.id)),
        deadline: Set(deadline),
        discovered_at: Set(draft.discovered_at),
        confiscated_gains_fen: Set(None),
        disciplinary_actions: Set(json!([])),
        judicial_referral: Set(false),
        publicised: Set(false),
        site_check_result: Set(None),
        dismiss_reason: Set(None),
        external_ref: Set(draft.external_ref),
        flags: Set(json!(flags)),
        rev: Set(1),
        seq: Set(seq),
        created_seq: Set(seq),
        deleted: Set(false),
        field_clock: Set(json!({ "*": stamp })),
        created_by: Set(actor.id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    store::append_event(
        conn,
        actor,
        Event {
            case_id: model.id,
            action,
            from_status: None,
            to_status: Some(CaseStatus::Reported),
            before: None,
            after: Some(json!({
                "case_number": model.case_number, "source": model.source, "town_id": model.town_id,
                "lon": model.lon, "lat": model.lat, "deadline": model.deadline, "flags": model.flags,
            })),
            note: None,
        },
    )
    .await?;
    crate::alerts::case_created(conn, &model).await?;
    Ok(model)
}

/// Creates a case from an office, the bureau or an inspector. A retry with the
/// same client id returns the case already made (`false` = not new).
pub async fn create(state: &AppState, user: &AuthUser, req: NewCase) -> ApiResult<(bool, CaseView)> {
    let txn = state.db.begin().await?;
    let (created, model) = create_in(&txn, state, user, req).await?;
    txn.commit().await?;
    state.alerts.wake();
    Ok((created, store::view(&model, &state.towns, user)?))
}

/// Creates a case inside the caller's transaction; an id the same user made
/// before returns that case (`false`) while it is in the caller's scope (once it
/// has left it, or is deleted, the replay answers `not_found` like any read of
/// it), another user's id is a duplicate.
pub async fn create_in(
    conn: &impl ConnectionTrait,
    state: &AppState,
    user: &AuthUser,
    req: NewCase,
) -> ApiResult<(bool, cases::Model)> {
    if !may_create(user.role, req.source) {
        return Err(ApiError::forbidden(format!("the role {} may not create {} cases", user.role, req.source)));
    }
    let point = req.location.to_wgs84()?;
    let polygon = req.polygon.as_ref().map(|p| parse_polygon("polygon", p)).transpose()?;
    check_len("description", &req.description, 4000)?;
    check_len("address", &req.address, 500)?;
    if let Some(r) = &req.external_ref {
        check_len("external_ref", r, 100)?;
    }
    let photos = check_photos(&req.photos)?;
    let id = req.id.unwrap_or_else(Uuid::now_v7);
    if let Some(existing) = cases::Entity::find_by_id(id).one(conn).await? {
        if existing.created_by != Some(user.id) {
            return Err(ApiError::new(ErrorCode::DuplicateRecord, "a case with this id exists"));
        }
        if existing.deleted || !user.scope().covers(existing.town_id) {
            return Err(ApiError::not_found("case"));
        }
        return Ok((false, existing));
    }
    let routed = route(state, &point, polygon.as_ref());
    if user.role == Role::TownOfficer && routed.town != user.town {
        return Err(ApiError::out_of_scope().with_details(json!({ "routed_town": routed.town })));
    }
    let draft = CaseDraft {
        id,
        source: req.source,
        point,
        input_crs: req.location.crs,
        polygon,
        description: req.description.trim().to_owned(),
        address: req.address.trim().to_owned(),
        land_class: req.land_class,
        violation_type: req.violation_type,
        discovered_at: req.discovered_at.unwrap_or_else(Utc::now),
        external_ref: req.external_ref,
    };
    let model = insert_case(conn, state, &Actor::from(user), draft, routed, "created").await?;
    if !photos.is_empty() {
        let target = LinkTarget {
            kind: "case",
            record_id: model.id,
            case_id: Some(model.id),
            town_id: model.town_id,
            point: Some((model.lon, model.lat)),
            at: model.discovered_at,
        };
        evidence::link(conn, &state.settings.photos, Some(user.id), &[(target, photos)]).await?;
    }
    Ok((true, model))
}

/// Loads a live case the caller may see; another town's case is `not_found`.
pub async fn load_in_scope(conn: &impl ConnectionTrait, user: &AuthUser, id: Uuid) -> ApiResult<cases::Model> {
    let m = cases::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|c| !c.deleted)
        .ok_or_else(|| ApiError::not_found("case"))?;
    if !user.scope().covers(m.town_id) {
        return Err(ApiError::not_found("case"));
    }
    Ok(m)
}

/// One case with its ledger.
pub async fn get(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<CaseDetail> {
    let m = load_in_scope(&state.db, user, id).await?;
    Ok(CaseDetail {
        case: store::view(&m, &state.towns, user)?,
        history: history_of(&state.db, id).await?,
        photos: crate::photos::service::links_of_case(&state.db, id).await?,
    })
}

async fn history_of(db: &DatabaseConnection, id: Uuid) -> ApiResult<Vec<HistoryEntry>> {
    let rows = case_events::Entity::find()
        .filter(case_events::Column::CaseId.eq(id))
        .order_by_asc(case_events::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(store::history_entry).collect())
}

/// The ledger of one case.
pub async fn history(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<Vec<HistoryEntry>> {
    load_in_scope(&state.db, user, id).await?;
    history_of(&state.db, id).await
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message)
}

fn parse_list<T>(raw: &Option<String>, parse: fn(&str) -> Option<T>, what: &str) -> ApiResult<Vec<T>> {
    let Some(raw) = raw else { return Ok(Vec::new()) };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).ok_or_else(|| bad_query(format!("unknown {what} {s:?}"))))
        .collect()
}

fn parse_bbox(raw: &str) -> ApiResult<[f64; 4]> {
    let parts: Vec<f64> = raw
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad_query("bbox must be min_lon,min_lat,max_lon,max_lat"))?;
    let [a, b, c, d] = parts[..] else { return Err(bad_query("bbox must have four numbers")) };
    for (lon, lat) in [(a, b), (c, d)] {
        GeoPoint::wgs84(lon, lat)?;
    }
    if a > c || b > d {
        return Err(bad_query("bbox minimum is above its maximum"));
    }
    Ok([a, b, c, d])
}

/// The filter condition for a caller's scope and query.
pub async fn filter_condition(db: &DatabaseConnection, user: &AuthUser, f: &CaseFilter) -> ApiResult<Condition> {
    let mut cond = Condition::all().add(cases::Column::Deleted.eq(false));
    let scope = user.scope();
    if let Scope::Towns(list) = &scope {
        cond = cond.add(cases::Column::TownId.is_in(list.clone()));
    }
    if let Some(town) = f.town.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if town == "unassigned" {
            if scope != Scope::District {
                return Err(ApiError::out_of_scope());
            }
            cond = cond.add(cases::Column::TownId.is_null());
        } else {
            let t = resolve_town(db, town).await?;
            if !scope.covers(Some(t.id)) {
                return Err(ApiError::out_of_scope());
            }
            cond = cond.add(cases::Column::TownId.eq(t.id));
        }
    }
    let statuses = parse_list(&f.status, CaseStatus::parse, "status")?;
    if !statuses.is_empty() {
        cond = cond.add(cases::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    }
    let sources = parse_list(&f.source, CaseSource::parse, "source")?;
    if !sources.is_empty() {
        cond = cond.add(cases::Column::Source.is_in(sources.iter().map(|s| s.as_str())));
    }
    if let Some(overdue) = f.overdue {
        let open: Vec<&str> = CaseStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect();
        let is_overdue = Condition::all()
            .add(cases::Column::Status.is_in(open))
            .add(cases::Column::Deadline.lt(store::local_today()));
        cond = cond.add(if overdue { is_overdue } else { is_overdue.not() });
    }
    if let Some(raw) = &f.bbox {
        let [a, b, c, d] = parse_bbox(raw)?;
        cond = cond.add(cases::Column::Lon.between(a, c)).add(cases::Column::Lat.between(b, d));
    }
    if let Some(raw) = f.campaign.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        let id = Uuid::parse_str(raw).map_err(|_| bad_query("campaign must be a campaign id"))?;
        cond = cond.add(cases::Column::CampaignId.eq(id));
    }
    Ok(cond)
}

/// A page of the cases the caller may see, filtered, by id.
pub async fn list(state: &AppState, user: &AuthUser, f: &CaseFilter, max_limit: u64) -> ApiResult<CasePage> {
    let limit = f.limit.unwrap_or(50);
    if limit == 0 || limit > max_limit {
        return Err(bad_query(format!("limit must be 1 to {max_limit}")));
    }
    let mut cond = filter_condition(&state.db, user, f).await?;
    if let Some(cursor) = &f.cursor {
        let after = Uuid::parse_str(cursor).map_err(|_| bad_query("cursor is not one this server gave"))?;
        cond = cond.add(cases::Column::Id.gt(after));
    }
    let mut rows =
        cases::Entity::find().filter(cond).order_by_asc(cases::Column::Id).limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = if more { rows.last().map(|r| r.id.to_string()) } else { None };
    let items = rows.iter().map(|m| store::view(m, &state.towns, user)).collect::<ApiResult<_>>()?;
    Ok(CasePage { items, next_cursor })
}

/// Names of the case view that are not fields a patch can set, besides the
/// shared list of immutable case fields.
const VIEW_ONLY: &[&str] = &["town", "neighbour_town", "overdue", "allowed_transitions", "history", "investigation"];

fn is_immutable(field: &str) -> bool {
    landpatrol_sync::merge::IMMUTABLE_CASE_FIELDS.contains(&field) || VIEW_ONLY.contains(&field)
}

fn opt_enum<T>(field: &str, v: &Value, parse: fn(&str) -> Option<T>) -> ApiResult<Option<T>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            parse(s).map(Some).ok_or_else(|| ApiError::field(field, format!("{field}: unknown value {s:?}")))
        }
        _ => Err(ApiError::field(field, format!("{field} must be a string or null"))),
    }
}

fn opt_time(field: &str, v: &Value) -> ApiResult<Option<DateTime<Utc>>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ApiError::field(field, format!("{field} must be an RFC 3339 time"))),
        _ => Err(ApiError::field(field, format!("{field} must be an RFC 3339 time or null"))),
    }
}

fn text(field: &str, v: &Value, max: usize) -> ApiResult<String> {
    let s = v.as_str().ok_or_else(|| ApiError::field(field, format!("{field} must be a string")))?;
    check_len(field, s, max)?;
    Ok(s.trim().to_owned())
}

fn boolean(field: &str, v: &Value) -> ApiResult<bool> {
    v.as_bool().ok_or_else(|| ApiError::field(field, format!("{field} must be true or false")))
}

/// Applies a field patch; returns the before/after of what changed.
pub fn apply_patch(
    state: &AppState,
    user: &AuthUser,
    m: &mut cases::ActiveModel,
    cur: &cases::Model,
    fields: &Map<String, Value>,
) -> ApiResult<(Map<String, Value>, Map<String, Value>)> {
    let mut before = Map::new();
    let mut after = Map::new();
    let mut note = |k: &str, old: Value, new: Value| {
        if old != new {
            before.insert(k.to_owned(), old);
            after.insert(k.to_owned(), new);
        }
    };
    for (k, v) in fields {
        match k.as_str() {
            "status" => {
                return Err(ApiError::new(
                    ErrorCode::StatusViaTransition,
                    "status changes only through POST /cases/{id}/transitions",
                )
                .with_details(json!({ "field": "status" })));
            }
            k if is_immutable(k) => {
                let hint = if matches!(k, "town" | "town_id") { " (use POST /cases/{id}/reassign)" } else { "" };
                return Err(ApiError::new(ErrorCode::ImmutableField, format!("{k} can not be changed{hint}"))
                    .with_details(json!({ "field": k })));
            }
            "description" => {
                let s = text(k, v, 4000)?;
                note(k, json!(cur.description), json!(s));
                m.description = Set(s);
            }
            "address" => {
                let s = text(k, v, 500)?;
                note(k, json!(cur.address), json!(s));
                m.address = Set(s);
            }
            "land_class" => {
                let x = opt_enum(k, v, LandClass::parse)?.map(|x| x.as_str().to_owned());
                note(k, json!(cur.land_class), json!(x));
                m.land_class = Set(x);
            }
            "violation_type" => {
                let x = opt_enum(k, v, ViolationType::parse)?.map(|x| x.as_str().to_owned());
                note(k, json!(cur.violation_type), json!(x));
                m.violation_type = Set(x);
            }
            "disposition" => {
                let x = opt_enum(k, v, Disposition::parse)?.map(|x| x.as_str().to_owned());
                note(k, json!(cur.disposition), json!(x));
                m.disposition = Set(x);
            }
            "notice_served_at" => {
                let x = opt_time(k, v)?;
                note(k, json!(cur.notice_served_at), json!(x));
                m.notice_served_at = Set(x);
            }
            "leadership_reported_at" => {
                let x = opt_time(k, v)?;
                note(k, json!(cur.leadership_reported_at), json!(x));
                m.leadership_reported_at = Set(x);
            }
            "confiscated_gains_fen" => {
                let x = match v {
                    Value::Null => None,
                    _ => Some(v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                        ApiError::field(k, "confiscated_gains_fen must be a non-negative integer (fen)")
                    })?),
                };
                note(k, json!(cur.confiscated_gains_fen), json!(x));
                m.confiscated_gains_fen = Set(x);
            }
            "disciplinary_actions" => {
                let list: Vec<String> = serde_json::from_value(v.clone())
                    .map_err(|_| ApiError::field(k, "disciplinary_actions must be a list of strings"))?;
                if list.len() > 50 || list.iter().any(|s| s.trim().is_empty() || s.chars().count() > 500) {
                    return Err(ApiError::field(k, "at most 50 actions of 1 to 500 characters"));
                }
                note(k, cur.disciplinary_actions.clone(), json!(list));
                m.disciplinary_actions = Set(json!(list));
            }
            "judicial_referral" => {
                let b = boolean(k, v)?;
                note(k, json!(cur.judicial_referral), json!(b));
                m.judicial_referral = Set(b);
            }
            "publicised" => {
                let b = boolean(k, v)?;
                note(k, json!(cur.publicised), json!(b));
                m.publicised = Set(b);
            }
            "location" => {
                let p: GeoPoint =
                    serde_json::from_value(v.clone()).map_err(|e| ApiError::field(k, format!("location: {e}")))?;
                let p = p.to_wgs84()?;
                let routed = route(state, &p, None);
                if !user.scope().covers(routed.town) {
                    return Err(ApiError::out_of_scope()
                        .with_details(json!({ "field": "location", "routed_town": routed.town })));
                }
                note(k, json!({"lon": cur.lon, "lat": cur.lat}), json!({"lon": p.lon, "lat": p.lat}));
                note("town_id", json!(cur.town_id), json!(routed.town));
                m.lon = Set(p.lon);
                m.lat = Set(p.lat);
                m.accuracy_m = Set(p.accuracy_m);
                m.town_id = Set(routed.town);
                m.near_boundary = Set(routed.near_boundary);
                m.neighbour_town_id = Set(routed.neighbour);
            }
            "polygon" => {
                let shape = match v {
                    Value::Null => None,
                    _ => Some(parse_polygon(k, v)?),
                };
                let geojson = shape.as_ref().map(MultiPolygon::to_geojson);
                note(k, json!(cur.polygon), json!(geojson));
                m.polygon = Set(geojson);
                m.area_m2 = Set(shape.as_ref().map(MultiPolygon::area_m2));
            }
            other => {
                return Err(ApiError::field(other, format!("unknown field {other:?}")));
            }
        }
    }
    Ok((before, after))
}

/// Stamps the changed fields' clocks, bumps `rev`, takes a new `seq` and
/// writes the case, inside the caller's transaction.
pub async fn save_change<'a>(
    conn: &impl ConnectionTrait,
    m: cases::ActiveModel,
    cur: &cases::Model,
    fields: impl IntoIterator<Item = &'a str>,
) -> ApiResult<cases::Model> {
    save_stamped(conn, m, cur, fields, &store::server_stamp()).await
}

/// Like [`save_change`], with the changed fields stamped by `stamp` (the
/// hybrid logical clock of a sync op).
pub async fn save_stamped<'a>(
    conn: &impl ConnectionTrait,
    mut m: cases::ActiveModel,
    cur: &cases::Model,
    fields: impl IntoIterator<Item = &'a str>,
    stamp: &str,
) -> ApiResult<cases::Model> {
    let mut clock = cur.field_clock.as_object().cloned().unwrap_or_default();
    for f in fields {
        clock.insert(f.to_owned(), json!(stamp));
    }
    m.field_clock = Set(Value::Object(clock));
    m.rev = Set(cur.rev + 1);
    m.seq = Set(db::next_seq(conn).await?);
    m.updated_at = Set(Utc::now());
    let model = m.update(conn).await?;
    // Whatever moved the case (reassignment, a new location), the move is
    // noted for sync (the town it left gets an `evict`).
    if cur.town_id != model.town_id {
        store::record_departure(conn, model.id, cur.town_id, model.seq).await?;
    }
    crate::alerts::case_moved(conn, cur.town_id, &model).await?;
    Ok(model)
}

/// Refuses edits to a closed or dismissed case.
pub fn check_editable(cur: &cases::Model) -> ApiResult<()> {
    let status = CaseStatus::parse(&cur.status).unwrap_or(CaseStatus::Reported);
    if matches!(status, CaseStatus::Closed | CaseStatus::Dismissed) {
        return Err(ApiError::field("status", format!("a {status} case can not be edited"))
            .with_details(json!({ "status": status })));
    }
    Ok(())
}

/// Refuses a disposition that does not fit the land class.
pub fn check_disposition(m: &cases::ActiveModel) -> ApiResult<()> {
    let land = match &m.land_class {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => v.as_deref().and_then(LandClass::parse),
        sea_orm::ActiveValue::NotSet => None,
    };
    let disp = match &m.disposition {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => v.as_deref().and_then(Disposition::parse),
        sea_orm::ActiveValue::NotSet => None,
    };
    if let (Some(d), Some(l)) = (disp, land)
        && !d.fits(l)
    {
        return Err(ApiError::field(
            "disposition",
            format!("{d} does not fit land class {l}: only land inside the plan is legalised"),
        ));
    }
    Ok(())
}

/// Changes some fields of a case.
pub async fn patch(state: &AppState, user: &AuthUser, id: Uuid, req: CasePatch) -> ApiResult<CaseView> {
    user.require(&[Role::Inspector, Role::TownOfficer, Role::BureauAdmin])?;
    if req.fields.is_empty() {
        return Err(ApiError::field("fields", "the patch changes nothing"));
    }
    let txn = state.db.begin().await?;
    let cur = load_in_scope(&txn, user, id).await?;
    if let Some(base) = req.base_rev
        && base != cur.rev
    {
        return Err(ApiError::new(
            ErrorCode::StaleRevision,
            format!("the case is at revision {}, not {base}", cur.rev),
        )
        .with_details(json!({ "current_rev": cur.rev })));
    }
    check_editable(&cur)?;
    let mut m: cases::ActiveModel = cur.clone().into();
    let (before, after) = apply_patch(state, user, &mut m, &cur, &req.fields)?;
    check_disposition(&m)?;
    if after.is_empty() {
        return store::view(&cur, &state.towns, user);
    }
    let model = save_change(&txn, m, &cur, after.keys().map(String::as_str)).await?;
    let action = if after.contains_key("town_id") { "relocated" } else { "updated" };
    store::append_event(
        &txn,
        &Actor::from(user),
        Event {
            case_id: id,
            action,
            from_status: None,
            to_status: None,
            before: Some(Value::Object(before)),
            after: Some(Value::Object(after)),
            note: None,
        },
    )
    .await?;
    txn.commit().await?;
    state.alerts.wake();
    store::view(&model, &state.towns, user)
}

/// Moves a case through its lifecycle.
pub async fn transition(state: &AppState, user: &AuthUser, id: Uuid, req: TransitionRequest) -> ApiResult<CaseView> {
    let txn = state.db.begin().await?;
    let model = transition_in(&txn, &state.settings.photos, user, id, req).await?;
    txn.commit().await?;
    state.alerts.wake();
    store::view(&model, &state.towns, user)
}

/// Namespace of the ids of transitions as records naming photos.
const TRANSITION_NS: Uuid = Uuid::from_u128(0x6c70_7472_616e_7369_7469_6f6e_2d6e_7331);

/// Moves a case through its lifecycle inside the caller's transaction.
pub async fn transition_in(
    txn: &impl ConnectionTrait,
    photo_cfg: &PhotoSettings,
    user: &AuthUser,
    id: Uuid,
    req: TransitionRequest,
) -> ApiResult<cases::Model> {
    let photos = check_photos(&req.photos)?;
    if let Some(n) = &req.note {
        check_len("note", n, 4000)?;
    }
    let cur = load_in_scope(txn, user, id).await?;
    let current = CaseStatus::parse(&cur.status).unwrap_or(CaseStatus::Reported);
    let facts = TransitionFacts {
        source: CaseSource::parse(&cur.source).unwrap_or(CaseSource::Patrol),
        current,
        from: req.from,
        to: req.to,
        role: user.role,
        has_illegal_site_check: cur.site_check_result.as_deref() == Some(InspectionResult::Illegal.as_str()),
        forced_demolition: cur.disposition.as_deref() == Some(Disposition::DemolishForced.as_str()),
        notice_served: cur.notice_served_at.is_some(),
        leadership_reported: cur.leadership_reported_at.is_some(),
        note: req.note.as_deref(),
    };
    check_transition(&facts)?;
    let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    let mut m: cases::ActiveModel = cur.clone().into();
    m.status = Set(req.to.as_str().to_owned());
    if req.to == CaseStatus::Dismissed {
        m.dismiss_reason = Set(note.clone());
    }
    let model = save_change(txn, m, &cur, ["status"]).await?;
    store::append_event(
        txn,
        &Actor::from(user),
        Event {
            case_id: id,
            action: "transition",
            from_status: Some(current),
            to_status: Some(req.to),
            before: Some(json!({ "status": current })),
            after: Some(json!({ "status": req.to, "photos": photos })),
            note,
        },
    )
    .await?;
    if crate::alerts::is_failed_acceptance(current, req.to) {
        crate::alerts::acceptance_failed(txn, &model, req.note.as_deref()).await?;
    }
    if !photos.is_empty() {
        let target = LinkTarget {
            kind: "transition",
            record_id: Uuid::new_v5(
                &TRANSITION_NS,
                format!("{id}/{current}/{}/{}", req.to, photos.join(",")).as_bytes(),
            ),
            case_id: Some(id),
            town_id: model.town_id,
            point: Some((model.lon, model.lat)),
            at: Utc::now(),
        };
        evidence::link(txn, photo_cfg, Some(user.id), &[(target, photos)]).await?;
    }
    Ok(model)
}

/// Hands a case to another town or to the unassigned queue; recorded on the ledger.
pub async fn reassign(state: &AppState, user: &AuthUser, id: Uuid, req: ReassignRequest) -> ApiResult<CaseView> {
    user.require(&[Role::TownOfficer, Role::BureauAdmin])?;
    if req.note.trim().is_empty() {
        return Err(ApiError::new(ErrorCode::ReasonRequired, "say why the case is reassigned in `note`"));
    }
    check_len("note", &req.note, 4000)?;
    let txn = state.db.begin().await?;
    let cur = load_in_scope(&txn, user, id).await?;
    let target = match req.town.as_deref() {
        Some(key) => Some(resolve_town(&txn, key).await?.id),
        None if user.role == Role::BureauAdmin => None,
        None => return Err(ApiError::forbidden("only the bureau moves cases to the unassigned queue")),
    };
    if target == cur.town_id {
        return store::view(&cur, &state.towns, user);
    }
    let mut m: cases::ActiveModel = cur.clone().into();
    m.town_id = Set(target);
    let mut flags: Vec<String> = serde_json::from_value(cur.flags.clone()).unwrap_or_default();
    flags.retain(|f| f != "unassigned");
    if target.is_none() {
        flags.push("unassigned".into());
    }
    m.flags = Set(json!(flags));
    let model = save_change(&txn, m, &cur, ["town_id", "flags"]).await?;
    store::append_event(
        &txn,
        &Actor::from(user),
        Event {
            case_id: id,
            action: "reassigned",
            from_status: None,
            to_status: None,
            before: Some(json!({ "town_id": cur.town_id })),
            after: Some(json!({ "town_id": target })),
            note: Some(req.note.trim().to_owned()),
        },
    )
    .await?;
    txn.commit().await?;
    state.alerts.wake();
    store::view(&model, &state.towns, user)
}

/// Records an inspection on a case; a site check sets the case's check result.
pub async fn add_inspection(
    state: &AppState,
    user: &AuthUser,
    case_id: Uuid,
    req: NewInspection,
) -> ApiResult<(bool, InspectionView)> {
    let txn = state.db.begin().await?;
    let (created, model) = add_inspection_in(&txn, &state.settings.photos, user, case_id, req).await?;
    txn.commit().await?;
    state.alerts.wake();
    Ok((created, store::inspection_view(&model)?))
}

/// Records an inspection inside the caller's transaction; the same inspector
/// sending the same id again gets the stored one (`false`).
pub async fn add_inspection_in(
    txn: &impl ConnectionTrait,
    photo_cfg: &PhotoSettings,
    user: &AuthUser,
    case_id: Uuid,
    req: NewInspection,
) -> ApiResult<(bool, inspections::Model)> {
    record_inspection(txn, photo_cfg, user, Some(case_id), None, req).await
}

/// Records an inspection, on a case or (a patrol) on none; `town` is the
/// scope of a patrol without a case.
pub async fn record_inspection(
    txn: &impl ConnectionTrait,
    photo_cfg: &PhotoSettings,
    user: &AuthUser,
    case_id: Option<Uuid>,
    town: Option<Uuid>,
    req: NewInspection,
) -> ApiResult<(bool, inspections::Model)> {
    if case_id.is_none() && req.kind != InspectionKind::Patrol {
        return Err(ApiError::field("case_id", format!("a {} is made on a case: case_id is required", req.kind)));
    }
    match req.kind {
        InspectionKind::Acceptance => user.require(&[Role::Verifier, Role::BureauAdmin])?,
        _ => user.require(&[Role::Inspector, Role::TownOfficer, Role::BureauAdmin])?,
    }
    let allowed = req.kind.allowed_results();
    match req.result {
        Some(r) if !allowed.contains(&r) => {
            return Err(ApiError::field("result", format!("a {} records one of {allowed:?}", req.kind)));
        }
        None if !allowed.is_empty() => {
            return Err(ApiError::field("result", format!("a {} needs a result", req.kind)));
        }
        _ => {}
    }
    check_len("note", &req.note, 4000)?;
    let photos = check_photos(&req.photos)?;
    let location = req.location.map(GeoPoint::to_wgs84).transpose()?;
    let case = match case_id {
        Some(c) => Some(load_in_scope(txn, user, c).await?),
        None => None,
    };
    let id = req.id.unwrap_or_else(Uuid::now_v7);
    if let Some(existing) = inspections::Entity::find_by_id(id).one(txn).await? {
        if existing.inspector_id == user.id && existing.case_id == case_id {
            if existing.deleted || !user.sees_field_record(existing.town_id, Some(existing.inspector_id)) {
                return Err(ApiError::not_found("inspection"));
            }
            return Ok((false, existing));
        }
        return Err(ApiError::new(ErrorCode::DuplicateRecord, "an inspection with this id exists"));
    }
    let now = Utc::now();
    let seq = db::next_seq(txn).await?;
    let model = inspections::ActiveModel {
        id: Set(id),
        case_id: Set(case_id),
        town_id: Set(case.as_ref().map_or(town, |c| c.town_id)),
        kind: Set(req.kind.as_str().to_owned()),
        result: Set(req.result.map(|r| r.as_str().to_owned())),
        note: Set(req.note.trim().to_owned()),
        lon: Set(location.map(|p| p.lon)),
        lat: Set(location.map(|p| p.lat)),
        accuracy_m: Set(location.and_then(|p| p.accuracy_m)),
        photos: Set(json!(photos)),
        inspected_at: Set(req.inspected_at.unwrap_or(now)),
        inspector_id: Set(user.id),
        device_id: Set(user.device),
        rev: Set(1),
        seq: Set(seq),
        created_seq: Set(seq),
        deleted: Set(false),
        field_clock: Set(json!({ "*": store::server_stamp() })),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    if !photos.is_empty() {
        let target = LinkTarget {
            kind: "inspection",
            record_id: id,
            case_id,
            town_id: model.town_id,
            point: model.lon.zip(model.lat).or(case.as_ref().map(|c| (c.lon, c.lat))),
            at: model.inspected_at,
        };
        evidence::link(txn, photo_cfg, Some(user.id), &[(target, photos.clone())]).await?;
    }
    let Some(case) = case else { return Ok((true, model)) };
    if req.kind == InspectionKind::SiteCheck
        && let Some(result) = req.result
    {
        let mut m: cases::ActiveModel = case.clone().into();
        m.site_check_result = Set(Some(result.as_str().to_owned()));
        save_change(txn, m, &case, ["site_check_result"]).await?;
    }
    store::append_event(
        txn,
        &Actor::from(user),
        Event {
            case_id: case.id,
            action: "inspection_recorded",
            from_status: None,
            to_status: None,
            before: Some(json!({ "site_check_result": case.site_check_result })),
            after: Some(json!({ "inspection_id": id, "kind": req.kind, "result": req.result, "photos": photos })),
            note: None,
        },
    )
    .await?;
    Ok((true, model))
}

/// The inspections of a case, oldest first.
pub async fn inspections_of(state: &AppState, user: &AuthUser, case_id: Uuid) -> ApiResult<Vec<InspectionView>> {
    load_in_scope(&state.db, user, case_id).await?;
    let rows = inspections::Entity::find()
        .filter(inspections::Column::CaseId.eq(case_id))
        .filter(inspections::Column::Deleted.eq(false))
        .order_by_asc(inspections::Column::InspectedAt)
        .all(&state.db)
        .await?;
    rows.iter().map(store::inspection_view).collect()
}

/// When each case first reached each ledger milestone.
async fn milestones(
    db: &DatabaseConnection,
    rows: &[cases::Model],
) -> ApiResult<std::collections::HashMap<(Uuid, &'static str), DateTime<Utc>>> {
    use crate::db::entities::case_events;
    const MILESTONES: [&str; 5] = ["registered", "rectified", "accepted", "closed", "dismissed"];
    let mut out = std::collections::HashMap::new();
    for chunk in rows.chunks(1000) {
        let ids: Vec<Uuid> = chunk.iter().map(|c| c.id).collect();
        let found: Vec<(Uuid, Option<String>, DateTime<Utc>)> = case_events::Entity::find()
            .select_only()
            .column(case_events::Column::CaseId)
            .column(case_events::Column::ToStatus)
            .column_as(case_events::Column::At.min(), "first_at")
            .filter(case_events::Column::CaseId.is_in(ids))
            .filter(case_events::Column::ToStatus.is_in(MILESTONES))
            .group_by(case_events::Column::CaseId)
            .group_by(case_events::Column::ToStatus)
            .into_tuple()
            .all(db)
            .await?;
        for (id, status, at) in found {
            if let Some(s) = MILESTONES.iter().find(|m| Some(**m) == status.as_deref()) {
                out.insert((id, *s), at);
            }
        }
    }
    Ok(out)
}

/// Every case the caller may see matching `f`, as a GeoJSON FeatureCollection,
/// with the report's fields (days overdue, campaign, ledger milestones).
pub async fn geojson(state: &AppState, user: &AuthUser, f: &CaseFilter) -> ApiResult<Value> {
    let limit = f.limit.unwrap_or(50_000);
    if limit == 0 || limit > 50_000 {
        return Err(bad_query("limit must be 1 to 50000"));
    }
    let cond = filter_condition(&state.db, user, f).await?;
    let rows = cases::Entity::find().filter(cond).order_by_asc(cases::Column::Id).limit(limit).all(&state.db).await?;
    let milestones = milestones(&state.db, &rows).await?;
    let campaigns: std::collections::HashMap<Uuid, String> = crate::db::entities::campaigns::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let today = store::local_today();
    let mut features = Vec::with_capacity(rows.len());
    for m in &rows {
        let v = store::view(m, &state.towns, user)?;
        let geometry = v
            .polygon
            .clone()
            .unwrap_or_else(|| json!({ "type": "Point", "coordinates": [v.location.lon, v.location.lat] }));
        let mut props = serde_json::to_value(&v).map_err(ApiError::internal)?;
        if let Some(obj) = props.as_object_mut() {
            obj.remove("polygon");
            obj.remove("allowed_transitions");
            obj.insert("town_code".into(), json!(v.town.as_ref().map(|t| t.code.clone())));
            obj.insert("town_name".into(), json!(v.town.as_ref().map(|t| t.name.clone())));
            obj.remove("town");
            obj.remove("neighbour_town");
            obj.insert("lon".into(), json!(v.location.lon));
            obj.insert("lat".into(), json!(v.location.lat));
            obj.remove("location");
            if let Some(mut inv) = obj.remove("investigation").and_then(|i| i.as_object().cloned()) {
                // One text column for GIS tools, which do not take arrays.
                let actions: Vec<String> = v.investigation.disciplinary_actions.clone();
                inv.insert("disciplinary_actions".into(), json!(actions.join("; ")));
                inv.insert("disciplinary_action_count".into(), json!(actions.len()));
                obj.extend(inv);
            }
            // The report fields: days overdue, the campaign, when each ledger milestone was reached.
            let days_overdue = v.deadline.filter(|_| v.overdue).map(|d| (today - d).num_days());
            obj.insert("days_overdue".into(), json!(days_overdue));
            obj.insert("campaign_name".into(), json!(v.campaign_id.and_then(|c| campaigns.get(&c))));
            obj.insert("flags".into(), json!(v.flags.join(",")));
            for status in ["registered", "rectified", "accepted", "closed", "dismissed"] {
                let on = milestones.get(&(m.id, status)).map(|at| store::local_date(*at));
                obj.insert(format!("{status}_on"), json!(on));
            }
        }
        features.push(json!({ "type": "Feature", "id": v.id, "geometry": geometry, "properties": props }));
    }
    Ok(json!({ "type": "FeatureCollection", "features": features }))
}
