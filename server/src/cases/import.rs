//! Patch import (卫片图斑): a GeoJSON FeatureCollection of polygons, or an ESRI
//! shapefile as the ministry delivers it (read by `landpatrol-patchfile` into
//! such a collection), becomes cases, each routed to the town holding most of
//! its area.

use chrono::{DateTime, Utc};
use landpatrol_sync::{CaseSource, Crs, ErrorCode, GeoPoint, LandClass};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use super::service::{CaseDraft, Routed, insert_case};
use super::store::Actor;
use super::types::{ImportedPatch, PatchFileInfo, PatchImportReport};
use crate::db::entities::cases;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::towns::geo::{self, MultiPolygon};

struct Patch {
    external_ref: String,
    source: CaseSource,
    shape: MultiPolygon,
    description: String,
    address: String,
    land_class: Option<LandClass>,
    discovered_at: Option<DateTime<Utc>>,
    reported_area: Option<f64>,
    row: Option<usize>,
}

fn bad_feature(i: usize, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidGeometry, format!("feature {i}: {}", message.into()))
        .with_details(json!({ "feature": i }))
}

/// Largest zipped shapefile a request may send (the members may unpack to
/// `landpatrol_patchfile::Limits::default()`'s 64 MiB).
pub const MAX_ZIP_BYTES: usize = 16 * 1024 * 1024;

fn unreadable(e: &landpatrol_patchfile::Error) -> ApiError {
    ApiError::new(ErrorCode::InvalidShapefile, e.to_string()).with_details(json!({ "kind": e.kind() }))
}

/// Reads a shapefile into the GeoJSON [`import_patches`] takes, and how it was
/// read. A file that can not be read, or any row that can not be imported,
/// is `422 invalid_shapefile`; the rows are in `details.rows` (`row`,
/// `patch_id`, `reason`), the first one also in `details.row`.
pub fn read_shapefile(
    set: &landpatrol_patchfile::ShapefileSet,
    crs: Option<&landpatrol_patchfile::Crs>,
) -> ApiResult<(Value, PatchFileInfo)> {
    let file =
        landpatrol_patchfile::read(set, crs, &landpatrol_patchfile::Limits::default()).map_err(|e| unreadable(&e))?;
    let refused: Vec<Value> = file
        .errors()
        .map(|r| json!({ "row": r.index, "patch_id": r.attributes.patch_id, "reason": r.error }))
        .collect();
    if let Some(first) = refused.first() {
        let message = format!(
            "{} of {} rows can not be imported (row {}: {}); nothing was imported",
            refused.len(),
            file.rows.len(),
            first["row"],
            first["reason"].as_str().unwrap_or_default()
        );
        return Err(ApiError::new(ErrorCode::InvalidShapefile, message)
            .with_details(json!({ "kind": "rows", "row": first["row"], "rows": refused })));
    }
    let info = PatchFileInfo {
        name: file.name.clone(),
        crs: file.crs.clone(),
        encoding: file.encoding.clone(),
        columns: file.mapping.iter().map(|(a, c)| (a.key().to_owned(), c.clone())).collect(),
        notes: file.notes.clone(),
    };
    Ok((file.to_geojson(), info))
}

/// A zipped shapefile's bytes, read.
pub fn read_zip(bytes: &[u8], crs: Option<&landpatrol_patchfile::Crs>) -> ApiResult<(Value, PatchFileInfo)> {
    let set = landpatrol_patchfile::ShapefileSet::from_zip(bytes, &landpatrol_patchfile::Limits::default())
        .map_err(|e| unreadable(&e))?;
    read_shapefile(&set, crs)
}

fn parse(doc: &Value, default_source: CaseSource) -> ApiResult<Vec<Patch>> {
    let features = geo::features(doc).map_err(|e| ApiError::new(ErrorCode::InvalidGeometry, e))?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let props = f.get("properties").cloned().unwrap_or(Value::Null);
        let row = props.get("row").and_then(Value::as_u64).map(|r| r as usize);
        let bad = |i: usize, message: String| match row {
            Some(r) => bad_feature(i, format!("row {r}: {message}")).with_details(json!({ "feature": i, "row": r })),
            None => bad_feature(i, message),
        };
        let text = |key: &str| {
            props.get(key).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
        };
        let external_ref = text("patch_id")
            .or_else(|| {
                f.get("id").and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
            })
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s.chars().count() <= 100)
            .ok_or_else(|| bad(i, "needs properties.patch_id (or a feature id) of 1 to 100 characters".into()))?;
        if !seen.insert(external_ref.clone()) {
            return Err(bad(i, format!("patch id {external_ref:?} appears twice")));
        }
        let source = match text("source") {
            Some(s) => CaseSource::parse(&s).ok_or_else(|| bad(i, format!("unknown source {s:?}")))?,
            None => default_source,
        };
        let land_class = match text("land_class") {
            Some(s) => Some(LandClass::parse(&s).ok_or_else(|| bad(i, format!("unknown land_class {s:?}")))?),
            None => None,
        };
        let discovered_at = match text("discovered_at") {
            Some(s) => Some(
                DateTime::parse_from_rfc3339(&s)
                    .map_err(|_| bad(i, "discovered_at must be RFC 3339".into()))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let geometry = f.get("geometry").ok_or_else(|| bad(i, "no geometry".into()))?;
        let shape = geo::parse_geometry(geometry).map_err(|e| bad(i, e.to_string()))?;
        let description = text("description").unwrap_or_default();
        let address = text("address").unwrap_or_default();
        if description.chars().count() > 4000 || address.chars().count() > 500 {
            return Err(bad(i, "description or address too long".into()));
        }
        let reported_area = props.get("reported_area").and_then(Value::as_f64);
        out.push(Patch {
            external_ref,
            source,
            shape,
            description,
            address,
            land_class,
            discovered_at,
            reported_area,
            row,
        });
    }
    Ok(out)
}

/// Imports patches. Each feature needs a `patch_id` property (or a feature
/// `id`); one already imported for the same source is left unchanged, so
/// re-running an import is safe. Nothing is written if any feature is invalid.
pub async fn import_patches(
    state: &AppState,
    actor: &Actor,
    doc: &Value,
    default_source: CaseSource,
    mut progress: impl FnMut(usize, usize),
) -> ApiResult<PatchImportReport> {
    let patches = parse(doc, default_source)?;
    let total = patches.len();
    let mut report = PatchImportReport::default();
    let txn = state.db.begin().await?;
    for (i, p) in patches.into_iter().enumerate() {
        let existing = cases::Entity::find()
            .filter(cases::Column::Source.eq(p.source.as_str()))
            .filter(cases::Column::ExternalRef.eq(&p.external_ref))
            .one(&txn)
            .await?;
        if let Some(c) = existing {
            report.existing += 1;
            report.cases.push(ImportedPatch {
                external_ref: p.external_ref,
                case_id: c.id,
                case_number: c.case_number,
                town_code: c.town_id.and_then(|t| state.towns.get(t)).map(|t| t.code),
                created: false,
                area_m2: c.area_m2,
                reported_area: p.reported_area,
                row: p.row,
            });
            progress(i + 1, total);
            continue;
        }
        let (lon, lat) = p.shape.representative_point();
        let area_m2 = Some(p.shape.area_m2());
        let point = GeoPoint { lon, lat, crs: Crs::Wgs84, accuracy_m: None, mock: false };
        let located = state.towns.locate(lon, lat);
        let town = state.towns.majority_town(&p.shape);
        let routed = Routed {
            town: town.as_ref().map(|t| t.id),
            near_boundary: located.near_boundary,
            neighbour: located.neighbour.map(|t| t.id),
        };
        if town.is_none() {
            report.unassigned += 1;
        }
        let draft = CaseDraft {
            id: Uuid::now_v7(),
            source: p.source,
            point,
            input_crs: Crs::Wgs84,
            polygon: Some(p.shape),
            description: p.description,
            address: p.address,
            land_class: p.land_class,
            violation_type: None,
            discovered_at: p.discovered_at.unwrap_or_else(Utc::now),
            external_ref: Some(p.external_ref.clone()),
        };
        let model = insert_case(&txn, state, actor, draft, routed, "imported").await?;
        report.created += 1;
        report.cases.push(ImportedPatch {
            external_ref: p.external_ref,
            case_id: model.id,
            case_number: model.case_number,
            town_code: town.map(|t| t.code),
            created: true,
            area_m2,
            reported_area: p.reported_area,
            row: p.row,
        });
        progress(i + 1, total);
    }
    txn.commit().await?;
    state.alerts.wake();
    Ok(report)
}
