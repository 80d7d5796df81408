//! Taking photos in (hash verified, header and EXIF read, kept once), making
//! their thumbnails off the request path, and showing them to those in scope.

use std::collections::{BTreeSet, HashSet};
use std::io::BufReader;
use std::path::PathBuf;

use chrono::{Duration, Utc};
use landpatrol_photo::{Exif, Format, Header, PhotoError, THUMBNAIL_SIZES};
use landpatrol_sync::ErrorCode;
use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use super::storage::{self, Blob};
use super::types::{ExifGps, ExifView, PhotoLinkView, PhotoView};
use super::{evidence, is_sha256};
use crate::auth::{AuthUser, Scope};
use crate::config::PhotoSettings;
use crate::db::entities::{cases, photo_links, photos};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Bytes received into a staging file, with the hash computed on the way in.
pub struct Incoming {
    pub path: PathBuf,
    pub len: u64,
    pub sha256: String,
}

/// The API error for a refused image.
pub fn refusal(e: &PhotoError) -> ApiError {
    let details = match e {
        PhotoError::TooLarge { width, height } => json!({ "width": width, "height": height }),
        _ => json!({}),
    };
    ApiError::new(ErrorCode::parse(e.code()), e.to_string()).with_details(details)
}

pub fn check_hash(sha256: &str) -> ApiResult<String> {
    let s = sha256.trim().to_ascii_lowercase();
    if is_sha256(&s) {
        Ok(s)
    } else {
        Err(ApiError::new(ErrorCode::InvalidPhotoHash, "a photo is named by its SHA-256 as 64 hexadecimal characters"))
    }
}

/// The EXIF as the API shows it, with the capture instant fixed.
pub fn exif_view(exif: &Exif, cfg: &PhotoSettings) -> ExifView {
    match exif {
        Exif::Absent => ExifView { status: "absent".into(), ..ExifView::default() },
        Exif::Unreadable { reason } => {
            ExifView { status: "unreadable".into(), reason: Some(reason.clone()), ..ExifView::default() }
        }
        Exif::Found(e) => {
            let (captured_at, basis) = match (e.captured_at_local, e.offset_minutes, e.gps_time) {
                (Some(local), Some(off), _) => {
                    (Some(local.and_utc() - Duration::minutes(i64::from(off))), Some("exif_offset"))
                }
                (_, _, Some(t)) => (Some(t), Some("gps_time")),
                (Some(local), None, None) => (
                    Some(local.and_utc() - Duration::minutes(i64::from(cfg.camera_utc_offset_minutes))),
                    Some("assumed_offset"),
                ),
                (None, _, None) => (None, None),
            };
            ExifView {
                status: "found".into(),
                reason: None,
                make: e.make.clone(),
                model: e.model.clone(),
                orientation: e.orientation,
                captured_at_local: e.captured_at_local,
                offset_minutes: e.offset_minutes,
                captured_at,
                captured_at_basis: basis.map(str::to_owned),
                gps: e.gps.map(|g| ExifGps { lat: g.lat, lon: g.lon, altitude_m: g.altitude_m }),
            }
        }
    }
}

/// Reads the header and EXIF of a staging file (blocking; headers only).
fn read_facts(path: PathBuf, limits: landpatrol_photo::Limits) -> Result<(Header, Exif), PhotoError> {
    let file = std::fs::File::open(&path).map_err(|e| PhotoError::Corrupt(format!("staging file: {e}")))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let header = landpatrol_photo::inspect(&mut reader, &limits)?;
    if !header.format.is_accepted() {
        return Err(PhotoError::UnsupportedFormat(header.format));
    }
    let file = std::fs::File::open(&path).map_err(|e| PhotoError::Corrupt(format!("staging file: {e}")))?;
    let exif = landpatrol_photo::read_exif(&mut BufReader::with_capacity(64 * 1024, file), header.format);
    Ok((header, exif))
}

/// Removes a staging file that will not be kept.
pub async fn discard(path: &std::path::Path) {
    if let Err(e) = tokio::fs::remove_file(path).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, path = %path.display(), "could not remove a staging file");
    }
}

/// Takes a received photo in: checks the hash against the one it was sent
/// under, refuses what is not a photo or would be dangerous to decode, keeps
/// the original once under its hash, records its facts, checks the records
/// already naming it, and queues its thumbnails. `true` when it is new.
pub async fn ingest(
    state: &AppState,
    uploader: Option<Uuid>,
    incoming: Incoming,
    expected: Option<&str>,
) -> ApiResult<(bool, photos::Model)> {
    if let Some(expected) = expected
        && expected != incoming.sha256
    {
        discard(&incoming.path).await;
        return Err(ApiError::new(
            ErrorCode::PhotoHashMismatch,
            "the bytes do not have the SHA-256 they were sent under",
        )
        .with_details(json!({ "expected": expected, "received": incoming.sha256 })));
    }
    let sha = incoming.sha256.clone();
    if let Some(existing) = photos::Entity::find_by_id(sha.clone()).one(&state.db).await? {
        discard(&incoming.path).await;
        return Ok((false, existing));
    }
    let limits = state.photos.limits;
    let path = incoming.path.clone();
    let facts = tokio::task::spawn_blocking(move || read_facts(path, limits)).await.map_err(ApiError::internal)?;
    let (header, exif) = match facts {
        Ok(f) => f,
        Err(e) => {
            discard(&incoming.path).await;
            return Err(refusal(&e));
        }
    };
    state.photos.store.commit(&incoming.path, &storage::original_key(&sha)).await.map_err(ApiError::internal)?;
    let view = exif_view(&exif, &state.settings.photos);
    let thumbnail = if header.format == Format::Heic { "unavailable" } else { "pending" };
    let row = photos::Model {
        sha256: sha.clone(),
        size_bytes: i64::try_from(incoming.len).unwrap_or(i64::MAX),
        format: header.format.name().to_owned(),
        width: header.width.and_then(|w| i32::try_from(w).ok()),
        height: header.height.and_then(|h| i32::try_from(h).ok()),
        exif_status: view.status.clone(),
        gps_lon: view.gps.map(|g| g.lon),
        gps_lat: view.gps.map(|g| g.lat),
        captured_at: view.captured_at,
        captured_at_basis: view.captured_at_basis.clone(),
        exif: Some(serde_json::to_value(&view).map_err(ApiError::internal)?),
        thumbnail_status: thumbnail.to_owned(),
        thumbnail_error: (thumbnail == "unavailable").then(|| ErrorCode::ThumbnailUnavailable.as_str().to_owned()),
        uploaded_by: uploader,
        uploaded_at: Utc::now(),
        thumbnail_worker: None,
        thumbnail_lease_until: None,
    };
    let txn = sea_orm::TransactionTrait::begin(&state.db).await?;
    let inserted = photos::Entity::insert(photos::ActiveModel::from(row))
        .on_conflict(OnConflict::column(photos::Column::Sha256).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await?;
    evidence::recheck(&txn, &state.settings.photos, &sha).await?;
    txn.commit().await?;
    let stored = photos::Entity::find_by_id(sha.clone())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal(std::io::Error::other("a photo row vanished right after it was written")))?;
    if stored.thumbnail_status == "pending" {
        schedule_thumbnails(state, sha);
    }
    Ok((inserted > 0, stored))
}

/// How long one instance's claim on a photo's thumbnails lasts: far longer
/// than a job takes (a queue on the pool included); an instance that died
/// with the claim leaves it to lapse, and the next sweep on any instance
/// makes the thumbnails.
pub const THUMBNAIL_LEASE: Duration = Duration::minutes(10);

/// Queues the thumbnails of a photo on the bounded pool: once per photo at a
/// time within this instance, and once across instances by a claim on the
/// photo's row (see [`claim_thumbnails`]).
pub fn schedule_thumbnails(state: &AppState, sha256: String) {
    let Some(claim) = state.photos.claim(&format!("thumbnails/{sha256}")) else { return };
    let state = state.clone();
    tokio::spawn(async move {
        let _claim = claim;
        match claim_thumbnails(&state, &sha256).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, sha256, "thumbnail claim failed; retried by the next sweep");
                return;
            }
        }
        if let Err(e) = make_thumbnails(&state, &sha256).await {
            tracing::warn!(error = %e, sha256, "thumbnails failed; retried by the next sweep");
            release_thumbnails(&state, &sha256).await;
        }
    });
}

/// Claims a pending photo's thumbnails for this instance, in one conditional
/// UPDATE (atomic on SQLite and PostgreSQL: of instances racing for one
/// photo exactly one sees its row changed), as the webhook outbox claims
/// deliveries; `false` when the thumbnails are made or another instance
/// holds a claim that has not lapsed.
pub async fn claim_thumbnails(state: &AppState, sha: &str) -> ApiResult<bool> {
    let now = Utc::now();
    let claimed = photos::Entity::update_many()
        .col_expr(photos::Column::ThumbnailWorker, Expr::value(state.photos.instance.clone()))
        .col_expr(photos::Column::ThumbnailLeaseUntil, Expr::value(now + THUMBNAIL_LEASE))
        .filter(photos::Column::Sha256.eq(sha))
        .filter(photos::Column::ThumbnailStatus.eq("pending"))
        .filter(
            Condition::any()
                .add(photos::Column::ThumbnailLeaseUntil.is_null())
                .add(photos::Column::ThumbnailLeaseUntil.lt(now)),
        )
        .exec(&state.db)
        .await?
        .rows_affected;
    Ok(claimed == 1)
}

/// Gives a failed job's claim back, so the next sweep retries at once.
async fn release_thumbnails(state: &AppState, sha: &str) {
    let released = photos::Entity::update_many()
        .col_expr(photos::Column::ThumbnailWorker, Expr::value(Option::<String>::None))
        .col_expr(photos::Column::ThumbnailLeaseUntil, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .filter(photos::Column::Sha256.eq(sha))
        .filter(photos::Column::ThumbnailWorker.eq(state.photos.instance.clone()))
        .exec(&state.db)
        .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, sha, "could not release a thumbnail claim; it lapses");
    }
}

async fn make_thumbnails(state: &AppState, sha: &str) -> ApiResult<()> {
    let Some(row) = photos::Entity::find_by_id(sha.to_owned()).one(&state.db).await? else { return Ok(()) };
    if row.thumbnail_status != "pending" {
        return Ok(());
    }
    state.photos.count_thumbnail_job();
    let format = Format::from_name(&row.format);
    let orientation =
        row.exif.as_ref().and_then(|e| serde_json::from_value::<ExifView>(e.clone()).ok()).and_then(|e| e.orientation);
    let limits = state.photos.limits;
    let store = state.photos.store.clone();
    let key = storage::original_key(sha);
    let started = std::time::Instant::now();
    let made = state
        .photos
        .pool
        .run(move || {
            let bytes = store.read_blocking(&key)?;
            Ok::<_, std::io::Error>(landpatrol_photo::thumbnails(
                &bytes,
                format,
                orientation,
                &THUMBNAIL_SIZES,
                &limits,
            ))
        })
        .await
        .ok_or_else(|| ApiError::internal(std::io::Error::other("the thumbnail pool stopped or a job panicked")))?
        .map_err(ApiError::internal)?;
    let (status, error) = match made {
        Ok(thumbs) => {
            for t in thumbs {
                state
                    .photos
                    .store
                    .put(&storage::thumbnail_key(sha, t.size), t.jpeg)
                    .await
                    .map_err(ApiError::internal)?;
            }
            ("ready", None)
        }
        Err(PhotoError::Undecodable(_)) => ("unavailable", Some(ErrorCode::ThumbnailUnavailable.as_str().to_owned())),
        Err(e) => ("failed", Some(e.code().to_owned())),
    };
    tracing::debug!(sha, status, ms = started.elapsed().as_millis() as u64, "thumbnails");
    photos::Entity::update_many()
        .col_expr(photos::Column::ThumbnailStatus, Expr::value(status))
        .col_expr(photos::Column::ThumbnailError, Expr::value(error))
        .col_expr(photos::Column::ThumbnailWorker, Expr::value(Option::<String>::None))
        .col_expr(photos::Column::ThumbnailLeaseUntil, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .filter(photos::Column::Sha256.eq(sha))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Queues every photo still waiting for thumbnails (after a restart, or a job
/// lost with its worker).
pub async fn resume_pending(state: &AppState) -> ApiResult<usize> {
    let pending = photos::Entity::find()
        .filter(photos::Column::ThumbnailStatus.eq("pending"))
        .order_by_asc(photos::Column::UploadedAt)
        .all(&state.db)
        .await?;
    let n = pending.len();
    for p in pending {
        schedule_thumbnails(state, p.sha256);
    }
    Ok(n)
}

/// Whether the caller may see a photo: the district sees all; others see what
/// they uploaded and what records in their towns name.
pub async fn can_view(conn: &impl ConnectionTrait, user: &AuthUser, photo: &photos::Model) -> ApiResult<bool> {
    if matches!(user.scope(), Scope::District) || photo.uploaded_by == Some(user.id) {
        return Ok(true);
    }
    let links =
        photo_links::Entity::find().filter(photo_links::Column::Sha256.eq(photo.sha256.clone())).all(conn).await?;
    Ok(!visible_links(conn, user, links).await?.is_empty())
}

/// The links in the caller's scope: a link on a case follows the case's
/// current town, others the town of their record.
async fn visible_links(
    conn: &impl ConnectionTrait,
    user: &AuthUser,
    links: Vec<photo_links::Model>,
) -> ApiResult<Vec<photo_links::Model>> {
    let scope = user.scope();
    if matches!(scope, Scope::District) {
        return Ok(links);
    }
    let case_ids: Vec<Uuid> = links.iter().filter_map(|l| l.case_id).collect::<HashSet<_>>().into_iter().collect();
    let mut in_scope = HashSet::new();
    for chunk in case_ids.chunks(500) {
        for c in cases::Entity::find().filter(cases::Column::Id.is_in(chunk.to_vec())).all(conn).await? {
            if !c.deleted && scope.covers(c.town_id) {
                in_scope.insert(c.id);
            }
        }
    }
    Ok(links
        .into_iter()
        .filter(|l| match l.case_id {
            Some(c) => in_scope.contains(&c),
            None => scope.covers(l.town_id),
        })
        .collect())
}

fn link_view(l: photo_links::Model, thumbnail: &str) -> PhotoLinkView {
    PhotoLinkView {
        sha256: l.sha256,
        record_kind: l.record_kind,
        record_id: l.record_id,
        case_id: l.case_id,
        status: l.status,
        thumbnail: thumbnail.to_owned(),
        flags: serde_json::from_value(l.flags).unwrap_or_default(),
        distance_m: l.distance_m,
        time_diff_secs: l.time_diff_secs,
        reported_at: l.reported_at,
    }
}

/// The stored photo, if the caller may see it.
pub async fn load_visible(state: &AppState, user: &AuthUser, sha256: &str) -> ApiResult<photos::Model> {
    let sha = check_hash(sha256)?;
    let photo = photos::Entity::find_by_id(sha).one(&state.db).await?;
    match photo {
        Some(p) if can_view(&state.db, user, &p).await? => Ok(p),
        Some(_) => Err(ApiError::not_found("photo")),
        None => Err(ApiError::new(ErrorCode::PhotoNotUploaded, "no bytes have arrived for this photo")),
    }
}

/// A photo with its EXIF, thumbnail state and the caller's links.
pub async fn view(state: &AppState, user: &AuthUser, photo: photos::Model) -> ApiResult<PhotoView> {
    let links = photo_links::Entity::find()
        .filter(photo_links::Column::Sha256.eq(photo.sha256.clone()))
        .order_by_asc(photo_links::Column::LinkedAt)
        .all(&state.db)
        .await?;
    let links: Vec<PhotoLinkView> = visible_links(&state.db, user, links)
        .await?
        .into_iter()
        .map(|l| link_view(l, &photo.thumbnail_status))
        .collect();
    let evidence_flags: BTreeSet<String> = links.iter().flat_map(|l| l.flags.iter().cloned()).collect();
    let exif = photo.exif.clone().and_then(|e| serde_json::from_value(e).ok()).unwrap_or_default();
    Ok(PhotoView {
        media_type: Format::from_name(&photo.format).media_type().to_owned(),
        sha256: photo.sha256,
        size_bytes: photo.size_bytes,
        width: photo.width,
        height: photo.height,
        uploaded_at: photo.uploaded_at,
        exif,
        thumbnail: photo.thumbnail_status,
        thumbnail_error: photo.thumbnail_error,
        links,
        evidence_flags: evidence_flags.into_iter().collect(),
    })
}

/// The photos of a case (through its observations, inspections and
/// transitions), with their evidence checks; `pending` before the bytes arrive.
pub async fn links_of_case(conn: &impl ConnectionTrait, case_id: Uuid) -> ApiResult<Vec<PhotoLinkView>> {
    let links = photo_links::Entity::find()
        .filter(photo_links::Column::CaseId.eq(case_id))
        .order_by_asc(photo_links::Column::ReportedAt)
        .all(conn)
        .await?;
    let shas: Vec<String> = links.iter().map(|l| l.sha256.clone()).collect::<HashSet<_>>().into_iter().collect();
    let thumbs: std::collections::HashMap<String, String> =
        evidence::photos_of(conn, &shas).await?.into_iter().map(|(k, p)| (k, p.thumbnail_status)).collect();
    Ok(links
        .into_iter()
        .map(|l| {
            let t = thumbs.get(&l.sha256).cloned().unwrap_or_else(|| "missing".into());
            link_view(l, &t)
        })
        .collect())
}

/// The media type of a stored photo.
pub fn media_type(p: &photos::Model) -> &'static str {
    Format::from_name(&p.format).media_type()
}

/// The original bytes, streamed.
pub async fn original(state: &AppState, photo: &photos::Model) -> ApiResult<Blob> {
    state.photos.store.open(&storage::original_key(&photo.sha256)).await.map_err(ApiError::internal)
}

/// One thumbnail's bytes, or why there is none.
pub async fn thumbnail(state: &AppState, photo: &photos::Model, size: u32) -> ApiResult<Vec<u8>> {
    match photo.thumbnail_status.as_str() {
        "ready" => {
            state.photos.store.read(&storage::thumbnail_key(&photo.sha256, size)).await.map_err(ApiError::internal)
        }
        "pending" => Err(ApiError::new(ErrorCode::ThumbnailPending, "the thumbnail is being made")),
        _ => Err(ApiError::new(ErrorCode::ThumbnailUnavailable, "no thumbnail can be made for this photo")
            .with_details(json!({ "reason": photo.thumbnail_error }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_of_the_photo_crate_is_an_api_code() {
        let all = [
            PhotoError::Empty,
            PhotoError::Unrecognised,
            PhotoError::UnsupportedFormat(Format::Gif),
            PhotoError::TooLarge { width: 70_000, height: 70_000 },
            PhotoError::Corrupt("x".into()),
            PhotoError::Undecodable(Format::Heic),
        ];
        for e in &all {
            let api = refusal(e);
            assert_ne!(api.code, ErrorCode::Unknown, "{e:?}");
            assert_eq!(api.code.as_str(), e.code());
        }
        assert_eq!(refusal(&all[3]).details["width"], 70_000);
    }

    #[test]
    fn formats_round_trip_through_their_stored_names() {
        for f in [Format::Jpeg, Format::Png, Format::Webp, Format::Heic, Format::Gif, Format::Bmp, Format::Tiff] {
            assert_eq!(Format::from_name(f.name()), f);
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
        }
        assert_eq!(Format::from_name("exe"), Format::Unknown);
    }
}
