//! Evidence checks on the link between a record and a photo: how far the
//! photo's EXIF position is from the position the record reports, how far its
//! capture time is from the record's time, whether it has EXIF at all, and
//! whether the same photo is used at places far apart.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use crate::config::PhotoSettings;
use crate::db::entities::{photo_links, photos};
use crate::error::ApiResult;

/// What a record says about where and when its photos were taken.
#[derive(Clone, Debug)]
pub struct LinkTarget {
    /// `observation`, `inspection`, `transition`, `tip`.
    pub kind: &'static str,
    pub record_id: Uuid,
    pub case_id: Option<Uuid>,
    pub town_id: Option<Uuid>,
    /// WGS-84 (lon, lat) the record reports.
    pub point: Option<(f64, f64)>,
    pub at: DateTime<Utc>,
}

/// The outcome of the checks for one link.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// `pending` (no bytes yet) or `checked`.
    pub status: &'static str,
    pub flags: Vec<&'static str>,
    pub distance_m: Option<f64>,
    pub time_diff_secs: Option<i64>,
}

/// The facts of a photo the checks use.
#[derive(Clone, Copy, Debug)]
pub struct PhotoFacts {
    pub has_exif: bool,
    pub gps: Option<(f64, f64)>,
    pub captured_at: Option<DateTime<Utc>>,
}

impl From<&photos::Model> for PhotoFacts {
    fn from(p: &photos::Model) -> Self {
        PhotoFacts { has_exif: p.exif_status == "found", gps: p.gps_lon.zip(p.gps_lat), captured_at: p.captured_at }
    }
}

/// Great-circle distance in metres between two WGS-84 (lon, lat) points.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6_371_008.8;
    let (lon1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lon2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

/// Checks one link. `others` are the reported positions of every other record
/// naming the same photo.
pub fn assess(
    photo: Option<&PhotoFacts>,
    point: Option<(f64, f64)>,
    at: DateTime<Utc>,
    others: &[(f64, f64)],
    cfg: &PhotoSettings,
) -> Assessment {
    let mut flags = Vec::new();
    let mut distance = None;
    let mut time_diff = None;
    let status = match photo {
        None => "pending",
        Some(p) => {
            if !p.has_exif {
                flags.push("no_exif");
            } else if p.gps.is_none() {
                flags.push("no_gps");
            }
            if let (Some(gps), Some(reported)) = (p.gps, point) {
                let d = distance_m(gps, reported);
                distance = Some((d * 10.0).round() / 10.0);
                if d > cfg.max_distance_m {
                    flags.push("far_from_report");
                }
            }
            match p.captured_at {
                Some(t) => {
                    let diff = (t - at).num_seconds();
                    time_diff = Some(diff);
                    if diff.abs() > cfg.max_time_diff_secs {
                        flags.push("time_mismatch");
                    }
                }
                None if p.has_exif => flags.push("no_capture_time"),
                None => {}
            }
            "checked"
        }
    };
    if let Some(here) = point
        && others.iter().any(|o| distance_m(here, *o) > cfg.reuse_distance_m)
    {
        flags.push("reused_elsewhere");
    }
    Assessment { status, flags, distance_m: distance, time_diff_secs: time_diff }
}

/// Namespace of link ids: one record naming one photo is one link, however
/// often it is replayed.
const LINK_NS: Uuid = Uuid::from_u128(0x6c70_7068_6f74_6f2d_6c69_6e6b_2d6e_7331);

fn link_id(kind: &str, record: Uuid, sha256: &str) -> Uuid {
    Uuid::new_v5(&LINK_NS, format!("{kind}/{record}/{sha256}").as_bytes())
}

const CHUNK: usize = 500;

async fn photos_of(conn: &impl ConnectionTrait, shas: &[String]) -> ApiResult<HashMap<String, photos::Model>> {
    let mut out = HashMap::new();
    for chunk in shas.chunks(CHUNK) {
        for p in photos::Entity::find().filter(photos::Column::Sha256.is_in(chunk.to_vec())).all(conn).await? {
            out.insert(p.sha256.clone(), p);
        }
    }
    Ok(out)
}

async fn links_of(conn: &impl ConnectionTrait, shas: &[String]) -> ApiResult<Vec<photo_links::Model>> {
    let mut out = Vec::new();
    for chunk in shas.chunks(CHUNK) {
        out.extend(
            photo_links::Entity::find().filter(photo_links::Column::Sha256.is_in(chunk.to_vec())).all(conn).await?,
        );
    }
    Ok(out)
}

fn point_of(l: &photo_links::Model) -> Option<(f64, f64)> {
    l.lon.zip(l.lat)
}

/// Links records to the photos they name (in the caller's transaction), and
/// runs the checks on every link of those photos: new ones are inserted
/// with their results, older ones updated when a new place changes them.
pub async fn link(
    conn: &impl ConnectionTrait,
    cfg: &PhotoSettings,
    by: Option<Uuid>,
    items: &[(LinkTarget, Vec<String>)],
) -> ApiResult<()> {
    let mut fresh: Vec<(Uuid, &LinkTarget, &str)> = Vec::new();
    let mut ids = HashSet::new();
    for (target, hashes) in items {
        for sha in hashes {
            let id = link_id(target.kind, target.record_id, sha);
            if ids.insert(id) {
                fresh.push((id, target, sha.as_str()));
            }
        }
    }
    if fresh.is_empty() {
        return Ok(());
    }
    let mut shas: Vec<String> = fresh.iter().map(|(_, _, s)| (*s).to_owned()).collect();
    shas.sort();
    shas.dedup();
    let existing = links_of(conn, &shas).await?;
    let known: HashSet<Uuid> = existing.iter().map(|l| l.id).collect();
    fresh.retain(|(id, _, _)| !known.contains(id));
    if fresh.is_empty() {
        return Ok(());
    }
    let photos = photos_of(conn, &shas).await?;
    let now = Utc::now();
    let new_rows: Vec<photo_links::Model> = fresh
        .iter()
        .map(|(id, t, sha)| photo_links::Model {
            id: *id,
            sha256: (*sha).to_owned(),
            record_kind: t.kind.to_owned(),
            record_id: t.record_id,
            case_id: t.case_id,
            town_id: t.town_id,
            lon: t.point.map(|p| p.0),
            lat: t.point.map(|p| p.1),
            reported_at: t.at,
            status: String::new(),
            flags: json!([]),
            distance_m: None,
            time_diff_secs: None,
            linked_by: by,
            linked_at: now,
            checked_at: None,
        })
        .collect();
    let (inserts, updates) = reassess(existing, new_rows, &photos, cfg);
    for chunk in inserts.chunks(CHUNK) {
        let rows: Vec<photo_links::ActiveModel> = chunk.iter().cloned().map(Into::into).collect();
        photo_links::Entity::insert_many(rows)
            .on_conflict(OnConflict::column(photo_links::Column::Id).do_nothing().to_owned())
            .exec_without_returning(conn)
            .await?;
    }
    save_updates(conn, updates).await
}

/// Runs the checks again on every link of one photo (its bytes have arrived).
pub async fn recheck(conn: &impl ConnectionTrait, cfg: &PhotoSettings, sha256: &str) -> ApiResult<()> {
    let shas = [sha256.to_owned()];
    let existing = links_of(conn, &shas).await?;
    if existing.is_empty() {
        return Ok(());
    }
    let photos = photos_of(conn, &shas).await?;
    let (_, updates) = reassess(existing, Vec::new(), &photos, cfg);
    save_updates(conn, updates).await
}

async fn save_updates(conn: &impl ConnectionTrait, updates: Vec<photo_links::Model>) -> ApiResult<()> {
    for l in updates {
        let mut m: photo_links::ActiveModel = l.clone().into();
        m.status = Set(l.status);
        m.flags = Set(l.flags);
        m.distance_m = Set(l.distance_m);
        m.time_diff_secs = Set(l.time_diff_secs);
        m.checked_at = Set(l.checked_at);
        m.update(conn).await?;
    }
    Ok(())
}

/// Assesses old and new links of the same photos together. Returns the new
/// rows with their results, and the old rows whose results changed.
fn reassess(
    existing: Vec<photo_links::Model>,
    new_rows: Vec<photo_links::Model>,
    photos: &HashMap<String, photos::Model>,
    cfg: &PhotoSettings,
) -> (Vec<photo_links::Model>, Vec<photo_links::Model>) {
    let mut by_sha: HashMap<String, Vec<(bool, photo_links::Model)>> = HashMap::new();
    for l in existing {
        by_sha.entry(l.sha256.clone()).or_default().push((false, l));
    }
    for l in new_rows {
        by_sha.entry(l.sha256.clone()).or_default().push((true, l));
    }
    let now = Utc::now();
    let (mut inserts, mut updates) = (Vec::new(), Vec::new());
    for (sha, links) in by_sha {
        let facts = photos.get(&sha).map(PhotoFacts::from);
        let points: Vec<Option<(f64, f64)>> = links.iter().map(|(_, l)| point_of(l)).collect();
        for (i, (is_new, mut l)) in links.into_iter().enumerate() {
            let others: Vec<(f64, f64)> =
                points.iter().enumerate().filter(|(j, _)| *j != i).filter_map(|(_, p)| *p).collect();
            let a = assess(facts.as_ref(), point_of(&l), l.reported_at, &others, cfg);
            let flags = json!(a.flags);
            let changed = l.status != a.status
                || l.flags != flags
                || l.distance_m != a.distance_m
                || l.time_diff_secs != a.time_diff_secs;
            if !is_new && !changed {
                continue;
            }
            l.status = a.status.to_owned();
            l.flags = flags;
            l.distance_m = a.distance_m;
            l.time_diff_secs = a.time_diff_secs;
            l.checked_at = (a.status == "checked").then_some(now);
            if is_new { inserts.push(l) } else { updates.push(l) }
        }
    }
    (inserts, updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PhotoSettings {
        crate::config::Settings::defaults().unwrap().photos
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const HERE: (f64, f64) = (117.3015, 39.7347);

    #[test]
    fn a_photo_taken_where_and_when_reported_has_no_flags() {
        let p = PhotoFacts {
            has_exif: true,
            gps: Some((117.3016, 39.7348)),
            captured_at: Some(at("2017-05-20T02:00:00Z")),
        };
        let a = assess(Some(&p), Some(HERE), at("2017-05-20T02:10:00Z"), &[], &cfg());
        assert_eq!(a.status, "checked");
        assert!(a.flags.is_empty(), "{:?}", a.flags);
        assert!(a.distance_m.unwrap() < 20.0);
        assert_eq!(a.time_diff_secs, Some(-600));
    }

    #[test]
    fn far_late_and_missing_exif_are_flagged() {
        let far =
            PhotoFacts { has_exif: true, gps: Some((117.40, 39.80)), captured_at: Some(at("2017-05-18T02:00:00Z")) };
        let a = assess(Some(&far), Some(HERE), at("2017-05-20T02:00:00Z"), &[], &cfg());
        assert_eq!(a.flags, vec!["far_from_report", "time_mismatch"]);
        assert!(a.distance_m.unwrap() > 10_000.0);
        let none = PhotoFacts { has_exif: false, gps: None, captured_at: None };
        assert_eq!(assess(Some(&none), Some(HERE), at("2017-05-20T02:00:00Z"), &[], &cfg()).flags, vec!["no_exif"]);
        let no_gps = PhotoFacts { has_exif: true, gps: None, captured_at: None };
        assert_eq!(
            assess(Some(&no_gps), Some(HERE), at("2017-05-20T02:00:00Z"), &[], &cfg()).flags,
            vec!["no_gps", "no_capture_time"]
        );
    }

    #[test]
    fn reuse_at_a_distant_place_is_flagged_even_before_the_bytes_arrive() {
        let a = assess(None, Some(HERE), at("2017-05-20T02:00:00Z"), &[(117.40, 39.80)], &cfg());
        assert_eq!(a.status, "pending");
        assert_eq!(a.flags, vec!["reused_elsewhere"]);
        let near = assess(None, Some(HERE), at("2017-05-20T02:00:00Z"), &[(117.3016, 39.7347)], &cfg());
        assert!(near.flags.is_empty());
    }

    #[test]
    fn distance_is_right_on_a_known_pair() {
        // One degree of latitude is about 111.2 km.
        let d = distance_m((117.0, 39.0), (117.0, 40.0));
        assert!((d - 111_195.0).abs() < 100.0, "{d}");
    }
}
