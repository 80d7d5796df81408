//! Tip rules and transactions: submission (idempotent, rate limited, routed,
//! photos linked, the town alerted, all in one transaction), the reporter's
//! and the office's views, duplicates nearby, and triage.

use chrono::Utc;
use landpatrol_sync::{CaseSource, CaseStatus, Crs, ErrorCode, GeoPoint, Role, ViolationType};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::types::*;
use crate::alerts::{self, AlertKind, NewAlert};
use crate::auth::{AuthUser, Scope};
use crate::cases::service::{CaseDraft, check_photos, insert_case, route};
use crate::cases::store::{self, Actor, Event};
use crate::db::entities::{cases, photo_links, tips};
use crate::error::{ApiError, ApiResult};
use crate::photos::evidence::{self, LinkTarget};
use crate::state::AppState;

/// Who may read and triage tips: the office of the tip's town, the bureau.
pub const STAFF: &[Role] = &[Role::TownOfficer, Role::BureauAdmin];

/// A checked submission from either channel.
#[derive(Clone, Debug)]
pub struct Submission {
    /// `api` or `open311`.
    pub channel: &'static str,
    /// WGS-84.
    pub point: GeoPoint,
    pub input_crs: Crs,
    pub description: String,
    pub address: String,
    pub service_code: Option<String>,
    pub attributes: Value,
    pub media_url: Option<String>,
    pub contact: Option<Contact>,
    pub photos: Vec<String>,
    pub client_addr: Option<String>,
    pub device_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// SHA-256 of what was submitted, to tell a retry from a reused key.
    pub request_hash: String,
    pub created_by: Option<Uuid>,
}

fn check_len(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::field(field, format!("{field} is longer than {max} characters")));
    }
    Ok(())
}

fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Checks a description: 1 to 4000 characters.
pub fn check_description(description: &str) -> ApiResult<String> {
    let d = description.trim();
    if d.is_empty() {
        return Err(ApiError::field("description", "say what is happening in `description`"));
    }
    check_len("description", d, 4000)?;
    Ok(d.to_owned())
}

/// Checks contact details; all empty is no contact.
pub fn check_contact(c: Option<Contact>) -> ApiResult<Option<Contact>> {
    let Some(c) = c else { return Ok(None) };
    let c = Contact { name: clean(c.name), phone: clean(c.phone), email: clean(c.email) };
    for (field, v, max) in
        [("contact.name", &c.name, 100), ("contact.phone", &c.phone, 40), ("contact.email", &c.email, 254)]
    {
        if let Some(v) = v {
            check_len(field, v, max)?;
        }
    }
    Ok(if c == Contact::default() { None } else { Some(c) })
}

/// Checks an `Idempotency-Key` or device id header value.
pub fn check_header(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() || v.len() > max || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::field(field, format!("{field} is 1 to {max} visible ASCII characters")));
    }
    Ok(Some(v.to_owned()))
}

/// A native submission, checked.
pub fn native(
    state: &AppState,
    user: Option<&AuthUser>,
    req: NewTip,
    client_addr: Option<String>,
    device_id: Option<&str>,
    idempotency_key: Option<&str>,
) -> ApiResult<Submission> {
    let idempotency_key = check_header("Idempotency-Key", idempotency_key, 200)?;
    let device_id = check_header("X-Device-Id", device_id, 100)?;
    let point = req.location.to_wgs84()?;
    let description = check_description(&req.description)?;
    let address = clean(req.address.clone()).unwrap_or_default();
    check_len("address", &address, 500)?;
    if req.photos.len() > state.settings.tips.max_photos {
        return Err(ApiError::field("photos", format!("at most {} photos", state.settings.tips.max_photos)));
    }
    let photos = check_photos(&req.photos)?;
    let contact = check_contact(req.contact.clone())?;
    let mut hasher = Sha256::new();
    hasher.update(b"api\n");
    hasher.update(serde_json::to_vec(&req).map_err(ApiError::internal)?);
    Ok(Submission {
        channel: "api",
        point,
        input_crs: req.location.crs,
        description,
        address,
        service_code: req.violation_type.map(|v| v.as_str().to_owned()),
        attributes: json!({}),
        media_url: None,
        contact,
        photos,
        client_addr,
        device_id,
        idempotency_key: idempotency_key.map(|k| format!("api:{k}")),
        request_hash: hex::encode(hasher.finalize()),
        created_by: user.map(|u| u.id),
    })
}

async fn by_key(conn: &impl ConnectionTrait, key: &str) -> ApiResult<Option<tips::Model>> {
    Ok(tips::Entity::find().filter(tips::Column::IdempotencyKey.eq(key)).one(conn).await?)
}

/// The tip made before under the same key, for the same submitter and body
/// only: a signed-in user never gets an anonymous tip's receipt, nor another
/// user's, by reusing its key.
fn replay(existing: tips::Model, hash: &str, submitter: Option<Uuid>) -> ApiResult<(bool, tips::Model)> {
    if existing.created_by != submitter {
        Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            "this Idempotency-Key was used by another submitter; use a new key for a new tip",
        ))
    } else if existing.request_hash.as_deref() == Some(hash) {
        Ok((false, existing))
    } else {
        Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            "this Idempotency-Key was used for a different tip; use a new key for a new tip",
        ))
    }
}

/// Stores a tip: a replay of the same key and body returns the tip made
/// before (`false`) and counts against no limit; otherwise the rate limits
/// apply, and the tip, its photo links and its town's alert are written in
/// one transaction.
pub async fn submit(state: &AppState, sub: Submission) -> ApiResult<(bool, tips::Model)> {
    if let Some(key) = &sub.idempotency_key
        && let Some(existing) = by_key(&state.db, key).await?
    {
        return replay(existing, &sub.request_hash, sub.created_by);
    }
    state.tip_limits.tip(&state.settings.tips, sub.client_addr.as_deref(), sub.device_id.as_deref()).await?;
    let key = sub.idempotency_key.clone();
    let hash = sub.request_hash.clone();
    let submitter = sub.created_by;
    match insert(state, sub).await {
        Ok(m) => {
            state.alerts.wake();
            Ok((true, m))
        }
        // The same key sent twice at once: the other request made it.
        Err(e) if e.code == ErrorCode::DuplicateRecord && key.is_some() => {
            let key = key.unwrap_or_default();
            match by_key(&state.db, &key).await? {
                Some(existing) => replay(existing, &hash, submitter),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

async fn insert(state: &AppState, sub: Submission) -> ApiResult<tips::Model> {
    let id = Uuid::now_v7();
    let routed = route(state, &sub.point, None);
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let contact = sub.contact.as_ref().map(|c| serde_json::to_value(c).map_err(ApiError::internal)).transpose()?;
    let model = tips::ActiveModel {
        id: Set(id),
        town_id: Set(routed.town),
        lon: Set(sub.point.lon),
        lat: Set(sub.point.lat),
        input_crs: Set(sub.input_crs.as_str().to_owned()),
        accuracy_m: Set(sub.point.accuracy_m),
        address: Set(sub.address),
        description: Set(sub.description),
        service_code: Set(sub.service_code),
        attributes: Set(sub.attributes),
        media_url: Set(sub.media_url),
        contact: Set(contact),
        status: Set(RECEIVED.to_owned()),
        case_id: Set(None),
        triage_note: Set(None),
        triaged_by: Set(None),
        triaged_at: Set(None),
        channel: Set(sub.channel.to_owned()),
        client_addr: Set(sub.client_addr),
        device_id: Set(sub.device_id),
        idempotency_key: Set(sub.idempotency_key),
        request_hash: Set(Some(sub.request_hash)),
        created_by: Set(sub.created_by),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if !sub.photos.is_empty() {
        let target = LinkTarget {
            kind: "tip",
            record_id: id,
            case_id: None,
            town_id: model.town_id,
            point: Some((model.lon, model.lat)),
            at: now,
        };
        evidence::link(&txn, &state.settings.photos, sub.created_by, &[(target, sub.photos)]).await?;
    }
    alerts::record(
        &txn,
        NewAlert {
            town_id: model.town_id,
            kind: AlertKind::TipReceived,
            case_id: None,
            tip_id: Some(id),
            title: format!("Public tip: {}", short(&model.description)),
            detail: json!({
                "tip_id": id,
                "channel": model.channel,
                "town_id": model.town_id,
                "location": { "lon": model.lon, "lat": model.lat, "crs": "wgs84" },
                "address": model.address,
                "violation_type": model.service_code,
                "created_at": model.created_at,
            }),
            dedupe_key: Some(format!("tip_received:{id}")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

fn short(text: &str) -> String {
    let mut out: String = text.trim().chars().take(80).collect();
    if text.trim().chars().count() > 80 {
        out.push('…');
    }
    out
}

/// The reporter's receipt.
pub fn receipt(state: &AppState, m: &tips::Model) -> TipReceipt {
    let token = state.keys.receipt_token(m.id);
    TipReceipt {
        id: m.id,
        status_url: format!("/api/v1/tips/{}?receipt_token={token}", m.id),
        receipt_token: token,
        status: m.status.clone(),
        created_at: m.created_at,
    }
}

/// What the public is told: `received`, `in_progress` or `closed`.
pub fn public_status(tip: &tips::Model, case: Option<&cases::Model>) -> &'static str {
    match tip.status.as_str() {
        RECEIVED => "received",
        REJECTED => "closed",
        _ => match case.and_then(|c| CaseStatus::parse(&c.status)) {
            Some(CaseStatus::Closed | CaseStatus::Dismissed) => "closed",
            _ if case.is_some_and(|c| c.deleted) => "closed",
            _ => "in_progress",
        },
    }
}

/// The case a tip became or joined.
pub async fn case_of(conn: &impl ConnectionTrait, tip: &tips::Model) -> ApiResult<Option<cases::Model>> {
    match tip.case_id {
        Some(id) => Ok(cases::Entity::find_by_id(id).one(conn).await?),
        None => Ok(None),
    }
}

/// The cases of several tips, by id.
pub async fn cases_of(
    conn: &impl ConnectionTrait,
    tips: &[tips::Model],
) -> ApiResult<std::collections::HashMap<Uuid, cases::Model>> {
    let ids: Vec<Uuid> = tips.iter().filter_map(|t| t.case_id).collect();
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        for c in cases::Entity::find().filter(cases::Column::Id.is_in(chunk.to_vec())).all(conn).await? {
            out.insert(c.id, c);
        }
    }
    Ok(out)
}

fn point_of(m: &tips::Model) -> GeoPoint {
    GeoPoint { lon: m.lon, lat: m.lat, crs: Crs::Wgs84, accuracy_m: m.accuracy_m, mock: false }
}

/// The reporter's view: the receipt token must match, else `not_found`
/// (whether the tip exists is not revealed).
pub async fn public_view(state: &AppState, id: Uuid, token: &str) -> ApiResult<PublicTipView> {
    if !state.keys.verify_receipt(id, token) {
        return Err(ApiError::not_found("tip"));
    }
    let m = tips::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(|| ApiError::not_found("tip"))?;
    let case = case_of(&state.db, &m).await?;
    let ready = crate::photos::evidence::photos_of(&state.db, &photos_of(&state.db, m.id).await?).await?;
    let mut photos: Vec<String> = ready
        .values()
        .filter(|p| p.thumbnail_status == "ready")
        .map(|p| format!("/api/v1/tips/{}/photos/{}?receipt_token={token}", m.id, p.sha256))
        .collect();
    photos.sort();
    Ok(PublicTipView {
        id: m.id,
        status: m.status.clone(),
        public_status: public_status(&m, case.as_ref()).to_owned(),
        case_number: case.map(|c| c.case_number),
        created_at: m.created_at,
        updated_at: m.updated_at,
        description: m.description.clone(),
        location: point_of(&m),
        photos,
    })
}

/// A public copy of one of the tip's photos (the receipt holder's): the
/// 1024-pixel JPEG made from it, which carries no EXIF, XMP or GPS at all.
/// A wrong token, or a photo the tip does not name, is `not_found`.
pub async fn public_photo(state: &AppState, id: Uuid, sha256: &str, token: &str) -> ApiResult<Vec<u8>> {
    if !state.keys.verify_receipt(id, token) {
        return Err(ApiError::not_found("photo"));
    }
    let sha = crate::photos::service::check_hash(sha256)?;
    if !photos_of(&state.db, id).await?.contains(&sha) {
        return Err(ApiError::not_found("photo"));
    }
    let photo = crate::db::entities::photos::Entity::find_by_id(sha)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("photo"))?;
    crate::photos::service::thumbnail(state, &photo, 1024).await
}

/// Loads a tip the caller may handle; another town's tip is `not_found`.
pub async fn load_in_scope(conn: &impl ConnectionTrait, user: &AuthUser, id: Uuid) -> ApiResult<tips::Model> {
    user.require(STAFF)?;
    let m = tips::Entity::find_by_id(id).one(conn).await?.ok_or_else(|| ApiError::not_found("tip"))?;
    if !user.scope().covers(m.town_id) {
        return Err(ApiError::not_found("tip"));
    }
    Ok(m)
}

async fn photos_of(conn: &impl ConnectionTrait, id: Uuid) -> ApiResult<Vec<String>> {
    let rows: Vec<String> = photo_links::Entity::find()
        .select_only()
        .column(photo_links::Column::Sha256)
        .filter(photo_links::Column::RecordKind.eq("tip"))
        .filter(photo_links::Column::RecordId.eq(id))
        .order_by_asc(photo_links::Column::LinkedAt)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows)
}

fn staff_view(state: &AppState, m: &tips::Model, case: Option<&cases::Model>, photos: Vec<String>) -> TipView {
    TipView {
        id: m.id,
        status: m.status.clone(),
        public_status: public_status(m, case).to_owned(),
        channel: m.channel.clone(),
        town: m.town_id.and_then(|t| state.towns.get(t)),
        location: point_of(m),
        input_crs: m.input_crs.clone(),
        address: m.address.clone(),
        description: m.description.clone(),
        violation_type: m.service_code.clone(),
        attributes: m.attributes.clone(),
        media_url: m.media_url.clone(),
        contact: m.contact.clone().and_then(|c| serde_json::from_value(c).ok()),
        client_addr: m.client_addr.clone(),
        device_id: m.device_id.clone(),
        photos,
        case_id: m.case_id,
        case_number: case.map(|c| c.case_number.clone()),
        triage_note: m.triage_note.clone(),
        triaged_by: m.triaged_by,
        triaged_at: m.triaged_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
        duplicates: None,
    }
}

/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_195.0;

/// Open cases (not closed, dismissed or deleted) in the caller's scope within
/// `radius_m` of a point, nearest first.
pub async fn duplicates(
    conn: &impl ConnectionTrait,
    user: &AuthUser,
    lon: f64,
    lat: f64,
    radius_m: f64,
) -> ApiResult<Vec<DuplicateCandidate>> {
    let dlat = radius_m / M_PER_DEG;
    let dlon = radius_m / (M_PER_DEG * lat.to_radians().cos().abs().max(0.01));
    let mut cond = Condition::all()
        .add(cases::Column::Deleted.eq(false))
        .add(cases::Column::Status.is_not_in([CaseStatus::Closed.as_str(), CaseStatus::Dismissed.as_str()]))
        .add(cases::Column::Lon.between(lon - dlon, lon + dlon))
        .add(cases::Column::Lat.between(lat - dlat, lat + dlat));
    if let Scope::Towns(list) = user.scope() {
        cond = cond.add(cases::Column::TownId.is_in(list));
    }
    let rows = cases::Entity::find().filter(cond).limit(200).all(conn).await?;
    let mut out: Vec<DuplicateCandidate> = rows
        .into_iter()
        .map(|c| (evidence::distance_m((lon, lat), (c.lon, c.lat)), c))
        .filter(|(d, _)| *d <= radius_m)
        .map(|(d, c)| DuplicateCandidate {
            case_id: c.id,
            case_number: c.case_number,
            status: c.status,
            description: c.description,
            address: c.address,
            distance_m: (d * 10.0).round() / 10.0,
            location: landpatrol_sync::GeoPoint {
                lon: c.lon,
                lat: c.lat,
                crs: landpatrol_sync::Crs::Wgs84,
                accuracy_m: c.accuracy_m,
                mock: false,
            },
        })
        .collect();
    out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    Ok(out)
}

/// One tip as its office sees it, with the open cases nearby.
pub async fn get(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<TipView> {
    let m = load_in_scope(&state.db, user, id).await?;
    full_view(state, user, &m).await
}

async fn full_view(state: &AppState, user: &AuthUser, m: &tips::Model) -> ApiResult<TipView> {
    let case = case_of(&state.db, m).await?;
    let photos = photos_of(&state.db, m.id).await?;
    let mut v = staff_view(state, m, case.as_ref(), photos);
    v.duplicates = Some(duplicates(&state.db, user, m.lon, m.lat, state.settings.tips.duplicate_radius_m).await?);
    Ok(v)
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message)
}

/// The tips in the caller's scope, newest first.
pub async fn list(state: &AppState, user: &AuthUser, f: &TipFilter) -> ApiResult<TipPage> {
    user.require(STAFF)?;
    let limit = f.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(bad_query("limit must be 1 to 500"));
    }
    let mut cond = Condition::all();
    if let Scope::Towns(list) = user.scope() {
        cond = cond.add(tips::Column::TownId.is_in(list));
    }
    if let Some(raw) = &f.status {
        let wanted: Vec<&str> = raw.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if let Some(bad) = wanted.iter().find(|s| !STATUSES.contains(s)) {
            return Err(bad_query(format!("unknown status {bad:?}")).with_details(json!({ "allowed": STATUSES })));
        }
        if !wanted.is_empty() {
            cond = cond.add(tips::Column::Status.is_in(wanted));
        }
    }
    if let Some(cursor) = &f.cursor {
        let before = Uuid::parse_str(cursor).map_err(|_| bad_query("cursor is not one this server gave"))?;
        cond = cond.add(tips::Column::Id.lt(before));
    }
    let mut rows =
        tips::Entity::find().filter(cond).order_by_desc(tips::Column::Id).limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = if more { rows.last().map(|r| r.id.to_string()) } else { None };
    let cases = cases_of(&state.db, &rows).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut photos: std::collections::HashMap<Uuid, Vec<String>> = std::collections::HashMap::new();
    for (record, sha) in photo_links::Entity::find()
        .select_only()
        .column(photo_links::Column::RecordId)
        .column(photo_links::Column::Sha256)
        .filter(photo_links::Column::RecordKind.eq("tip"))
        .filter(photo_links::Column::RecordId.is_in(ids))
        .order_by_asc(photo_links::Column::LinkedAt)
        .into_tuple::<(Uuid, String)>()
        .all(&state.db)
        .await?
    {
        photos.entry(record).or_default().push(sha);
    }
    let items = rows
        .iter()
        .map(|m| {
            let case = m.case_id.and_then(|c| cases.get(&c));
            staff_view(state, m, case, photos.remove(&m.id).unwrap_or_default())
        })
        .collect();
    Ok(TipPage { items, next_cursor })
}

/// Decides about a tip: a new case, a merge into an open case, or a
/// rejection. Only once: a second decision is `tip_already_triaged`.
pub async fn triage(state: &AppState, user: &AuthUser, id: Uuid, req: TriageRequest) -> ApiResult<TipView> {
    user.require(STAFF)?;
    let note = match &req {
        TriageRequest::CreateCase { note, .. } | TriageRequest::Merge { note, .. } => clean(note.clone()),
        TriageRequest::Reject { note } => {
            let n = clean(Some(note.clone()));
            if n.is_none() {
                return Err(ApiError::new(ErrorCode::ReasonRequired, "say why the tip is rejected in `note`"));
            }
            n
        }
    };
    if let Some(n) = &note {
        check_len("note", n, 4000)?;
    }
    let txn = state.db.begin().await?;
    let tip = load_in_scope(&txn, user, id).await?;
    let (status, case_id) = match req {
        TriageRequest::CreateCase { violation_type, .. } => {
            (CASE_CREATED, Some(create_case(&txn, state, user, &tip, violation_type).await?))
        }
        TriageRequest::Merge { case_id, .. } => (MERGED, Some(merge(&txn, state, user, &tip, case_id, &note).await?)),
        TriageRequest::Reject { .. } => (REJECTED, None),
    };
    // Only a tip still `received` changes: two offices deciding at once, one wins.
    let now = Utc::now();
    let updated = tips::Entity::update_many()
        .col_expr(tips::Column::Status, Expr::value(status))
        .col_expr(tips::Column::CaseId, Expr::value(case_id))
        .col_expr(tips::Column::TriageNote, Expr::value(note.clone()))
        .col_expr(tips::Column::TriagedBy, Expr::value(Some(user.id)))
        .col_expr(tips::Column::TriagedAt, Expr::value(Some(now)))
        .col_expr(tips::Column::UpdatedAt, Expr::value(now))
        .filter(tips::Column::Id.eq(id))
        .filter(tips::Column::Status.eq(RECEIVED))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        drop(txn);
        let cur = tips::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(|| ApiError::not_found("tip"))?;
        return Err(already_triaged(&cur));
    }
    txn.commit().await?;
    state.alerts.wake();
    let m = tips::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(|| ApiError::not_found("tip"))?;
    full_view(state, user, &m).await
}

fn already_triaged(tip: &tips::Model) -> ApiError {
    ApiError::new(ErrorCode::TipAlreadyTriaged, format!("the tip was triaged before: {}", tip.status))
        .with_details(json!({ "status": tip.status, "case_id": tip.case_id }))
}

async fn create_case(
    txn: &impl ConnectionTrait,
    state: &AppState,
    user: &AuthUser,
    tip: &tips::Model,
    violation_type: Option<ViolationType>,
) -> ApiResult<Uuid> {
    if tip.status != RECEIVED {
        return Err(already_triaged(tip));
    }
    let point = point_of(tip);
    let routed = route(state, &point, None);
    let draft = CaseDraft {
        id: Uuid::now_v7(),
        source: CaseSource::Tip,
        point,
        input_crs: Crs::parse(&tip.input_crs).unwrap_or(Crs::Wgs84),
        polygon: None,
        description: tip.description.clone(),
        address: tip.address.clone(),
        land_class: None,
        violation_type: violation_type.or_else(|| tip.service_code.as_deref().and_then(ViolationType::parse)),
        discovered_at: tip.created_at,
        external_ref: Some(format!("tip:{}", tip.id)),
    };
    let case = insert_case(txn, state, &Actor::from(user), draft, routed, "created_from_tip").await?;
    link_photos(txn, state, user, tip, &case).await?;
    Ok(case.id)
}

async fn merge(
    txn: &impl ConnectionTrait,
    state: &AppState,
    user: &AuthUser,
    tip: &tips::Model,
    case_id: Uuid,
    note: &Option<String>,
) -> ApiResult<Uuid> {
    if tip.status != RECEIVED {
        return Err(already_triaged(tip));
    }
    let case = crate::cases::service::load_in_scope(txn, user, case_id).await?;
    if matches!(CaseStatus::parse(&case.status), Some(CaseStatus::Closed | CaseStatus::Dismissed)) {
        return Err(ApiError::field("case_id", format!("a {} case takes no tips", case.status)));
    }
    let photos = photos_of(txn, tip.id).await?;
    store::append_event(
        txn,
        &Actor::from(user),
        Event {
            case_id: case.id,
            action: "tip_merged",
            from_status: None,
            to_status: None,
            before: None,
            after: Some(json!({
                "tip_id": tip.id, "description": tip.description, "address": tip.address,
                "location": { "lon": tip.lon, "lat": tip.lat, "crs": "wgs84" }, "photos": photos,
            })),
            note: note.clone(),
        },
    )
    .await?;
    link_photos(txn, state, user, tip, &case).await?;
    Ok(case.id)
}

/// The tip's photos become the case's.
async fn link_photos(
    txn: &impl ConnectionTrait,
    state: &AppState,
    user: &AuthUser,
    tip: &tips::Model,
    case: &cases::Model,
) -> ApiResult<()> {
    let photos = photos_of(txn, tip.id).await?;
    if photos.is_empty() {
        return Ok(());
    }
    let target = LinkTarget {
        kind: "case",
        record_id: case.id,
        case_id: Some(case.id),
        town_id: case.town_id,
        point: Some((tip.lon, tip.lat)),
        at: tip.created_at,
    };
    evidence::link(txn, &state.settings.photos, Some(user.id), &[(target, photos)]).await
}

/// Loads a tip by id for Open311 (public fields only are shown from it).
pub async fn find(conn: &impl ConnectionTrait, id: Uuid) -> ApiResult<Option<tips::Model>> {
    Ok(tips::Entity::find_by_id(id).one(conn).await?)
}
