//! Town import, listing and lookup.

use chrono::Utc;
use landpatrol_sync::ErrorCode;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::geo::{self, MultiPolygon};
use super::{TownCache, TownRef};
use crate::db::{self, entities::towns};
use crate::error::{ApiError, ApiResult};

/// A town in lists.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道", "kind": "街道", "area_m2": 18500000.0, "bbox": [117.28, 39.72, 117.33, 39.75], "rev": 1}))]
pub struct TownSummary {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: Option<String>,
    pub area_m2: f64,
    /// `[min_lon, min_lat, max_lon, max_lat]`, WGS-84.
    pub bbox: [f64; 4],
    pub rev: i64,
}

/// A town with its boundary.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TownDetail {
    #[serde(flatten)]
    pub summary: TownSummary,
    /// GeoJSON Polygon or MultiPolygon, WGS-84.
    #[schema(value_type = Object)]
    pub boundary: Value,
}

fn summary(m: &towns::Model) -> TownSummary {
    TownSummary {
        id: m.id,
        code: m.code.clone(),
        name: m.name.clone(),
        kind: m.kind.clone(),
        area_m2: m.area_m2,
        bbox: [m.min_lon, m.min_lat, m.max_lon, m.max_lat],
        rev: m.rev,
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"created": 23, "updated": 0, "unchanged": 0}))]
pub struct TownImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

struct TownFeature {
    code: String,
    name: String,
    kind: Option<String>,
    shape: MultiPolygon,
}

fn invalid(message: String, index: usize) -> ApiError {
    ApiError::new(ErrorCode::InvalidGeometry, message).with_details(json!({ "feature": index }))
}

fn parse_collection(doc: &Value) -> ApiResult<Vec<TownFeature>> {
    let features = geo::features(doc).map_err(|e| ApiError::new(ErrorCode::InvalidGeometry, e))?;
    let mut out = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let props = f.get("properties").cloned().unwrap_or(Value::Null);
        let text = |key: &str| {
            props.get(key).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())))
        };
        let code = text("code")
            .filter(|c| !c.trim().is_empty() && c.len() <= 32)
            .ok_or_else(|| invalid(format!("feature {i}: properties.code is missing"), i))?;
        let name = text("name")
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| invalid(format!("feature {i}: properties.name is missing"), i))?;
        let geometry = f.get("geometry").ok_or_else(|| invalid(format!("feature {i}: no geometry"), i))?;
        let shape = geo::parse_geometry(geometry).map_err(|e| invalid(format!("feature {i}: {e}"), i))?;
        out.push(TownFeature { code: code.trim().to_owned(), name: name.trim().to_owned(), kind: text("kind"), shape });
    }
    Ok(out)
}

/// Imports (creates or updates, keyed by code) town boundaries from a GeoJSON
/// FeatureCollection with `code` and `name` properties, then refreshes the
/// routing index. Nothing is written if any feature is invalid.
pub async fn import(
    db: &DatabaseConnection,
    cache: &TownCache,
    doc: &Value,
    actor: Option<Uuid>,
    mut progress: impl FnMut(usize, usize),
) -> ApiResult<TownImportReport> {
    let features = parse_collection(doc)?;
    let total = features.len();
    let mut report = TownImportReport::default();
    let txn = db.begin().await?;
    for (i, f) in features.into_iter().enumerate() {
        let boundary = f.shape.to_geojson();
        let bbox = f.shape.bbox();
        let area = f.shape.area_m2();
        let now = Utc::now();
        let existing = towns::Entity::find().filter(towns::Column::Code.eq(&f.code)).one(&txn).await?;
        match existing {
            Some(old) if old.boundary == boundary && old.name == f.name && old.kind == f.kind && !old.deleted => {
                report.unchanged += 1;
            }
            Some(old) => {
                let rev = old.rev + 1;
                let mut m: towns::ActiveModel = old.into();
                m.name = Set(f.name);
                m.kind = Set(f.kind);
                m.boundary = Set(boundary);
                m.min_lon = Set(bbox[0]);
                m.min_lat = Set(bbox[1]);
                m.max_lon = Set(bbox[2]);
                m.max_lat = Set(bbox[3]);
                m.area_m2 = Set(area);
                m.deleted = Set(false);
                m.rev = Set(rev);
                m.seq = Set(db::next_seq(&txn).await?);
                m.updated_at = Set(now);
                m.update(&txn).await?;
                report.updated += 1;
            }
            None => {
                let seq = db::next_seq(&txn).await?;
                towns::ActiveModel {
                    id: Set(landpatrol_sync::TownId::from_code(&f.code).0),
                    code: Set(f.code),
                    name: Set(f.name),
                    kind: Set(f.kind),
                    boundary: Set(boundary),
                    min_lon: Set(bbox[0]),
                    min_lat: Set(bbox[1]),
                    max_lon: Set(bbox[2]),
                    max_lat: Set(bbox[3]),
                    area_m2: Set(area),
                    rev: Set(1),
                    seq: Set(seq),
                    created_seq: Set(seq),
                    deleted: Set(false),
                    field_clock: Set(json!({})),
                    created_by: Set(actor),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
                report.created += 1;
            }
        }
        progress(i + 1, total);
    }
    txn.commit().await?;
    reload(db, cache).await?;
    Ok(report)
}

async fn version(db: &DatabaseConnection) -> ApiResult<(i64, i64)> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM towns",
        ))
        .await?;
    match row {
        Some(r) => Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)),
        None => Ok((0, 0)),
    }
}

/// Rebuilds the routing index if the towns changed since it was built (for
/// example by an import on another instance). Returns whether it did.
pub async fn refresh_if_changed(db: &DatabaseConnection, cache: &TownCache) -> ApiResult<bool> {
    if version(db).await? == cache.version() {
        return Ok(false);
    }
    reload(db, cache).await?;
    Ok(true)
}

/// Loads every town into the routing index.
pub async fn reload(db: &DatabaseConnection, cache: &TownCache) -> ApiResult<usize> {
    let v = version(db).await?;
    let rows = towns::Entity::find().filter(towns::Column::Deleted.eq(false)).all(db).await?;
    let mut entries = Vec::with_capacity(rows.len());
    for m in rows {
        let shape = geo::parse_geometry(&m.boundary)
            .map_err(|e| ApiError::internal(std::io::Error::other(format!("town {}: {e}", m.code))))?;
        entries.push((TownRef { id: m.id, code: m.code, name: m.name }, shape));
    }
    let n = entries.len();
    cache.replace(entries);
    cache.set_version(v);
    Ok(n)
}

/// Every town, by code.
pub async fn list(db: &DatabaseConnection) -> ApiResult<Vec<TownSummary>> {
    let rows = towns::Entity::find()
        .filter(towns::Column::Deleted.eq(false))
        .order_by_asc(towns::Column::Code)
        .all(db)
        .await?;
    Ok(rows.iter().map(summary).collect())
}

/// Every town's outline as a GeoJSON FeatureCollection (`code`, `name`):
/// public, for the tip page's map and for GIS tools.
pub async fn outlines(db: &DatabaseConnection) -> ApiResult<Value> {
    let rows = towns::Entity::find()
        .filter(towns::Column::Deleted.eq(false))
        .order_by_asc(towns::Column::Code)
        .all(db)
        .await?;
    let features: Vec<Value> = rows
        .iter()
        .map(|m| {
            json!({"type": "Feature", "properties": {"code": m.code, "name": m.name},
                "geometry": m.boundary})
        })
        .collect();
    Ok(json!({"type": "FeatureCollection", "features": features}))
}

/// One town by id or code, with its boundary.
pub async fn get(db: &DatabaseConnection, key: &str) -> ApiResult<TownDetail> {
    if key.contains('\0') {
        // Names no town (and PostgreSQL could not even compare it).
        return Err(ApiError::not_found("town"));
    }
    let by_id = Uuid::parse_str(key).ok();
    let found = match by_id {
        Some(id) => towns::Entity::find_by_id(id).one(db).await?,
        None => towns::Entity::find().filter(towns::Column::Code.eq(key)).one(db).await?,
    };
    let m = found.filter(|t| !t.deleted).ok_or_else(|| ApiError::not_found("town"))?;
    Ok(detail(&m))
}

/// A stored town with its boundary, as `GET /towns/{id}` and sync pull show it.
pub fn detail(m: &towns::Model) -> TownDetail {
    TownDetail { summary: summary(m), boundary: m.boundary.clone() }
}
