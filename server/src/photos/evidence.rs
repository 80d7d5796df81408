//! Evidence checks on the link between a record and a photo: how far the
//! photo's EXIF position is from the position the record reports, how far its
//! capture time is from the record's time, whether it has EXIF at all, and
//! whether the same photo is used at places far apart.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
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

/// Checks one link; `reused` says whether the same photo is named by a
/// record further than `reuse_distance_m` away (see [`Places`]).
pub fn assess(
    photo: Option<&PhotoFacts>,
    point: Option<(f64, f64)>,
    at: DateTime<Utc>,
    reused: bool,
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
    if reused {
        flags.push("reused_elsewhere");
    }
    Assessment { status, flags, distance_m: distance, time_diff_secs: time_diff }
}

/// The places one photo is used at: a bounding box answers most questions
/// at once; the points themselves are needed only near the threshold.
#[derive(Clone, Debug, Default)]
pub struct Places {
    bbox: Option<[f64; 4]>,
    /// Every point, when loaded.
    pub points: Option<Vec<(f64, f64)>>,
}

const M_PER_DEG: f64 = 111_195.0;

impl Places {
    pub fn from_points(points: Vec<(f64, f64)>) -> Self {
        let mut p = Places::default();
        for q in &points {
            p.add(*q);
        }
        p.points = Some(points);
        p
    }

    /// Adds a point (also to the loaded points, if any).
    pub fn add(&mut self, q: (f64, f64)) {
        self.bbox = Some(match self.bbox {
            None => [q.0, q.1, q.0, q.1],
            Some([a, b, c, d]) => [a.min(q.0), b.min(q.1), c.max(q.0), d.max(q.1)],
        });
        if let Some(points) = &mut self.points {
            points.push(q);
        }
    }

    /// Whether a point is further than `r` metres from `p`: `None` when the
    /// bounding box can not tell and the points are not loaded.
    pub fn far_from(&self, p: (f64, f64), r: f64) -> Option<bool> {
        let Some([min_lon, min_lat, max_lon, max_lat]) = self.bbox else { return Some(false) };
        let poleward = min_lat.abs().max(max_lat.abs()).min(89.0).to_radians().cos();
        let lat_gap = (max_lat - p.1).max(p.1 - min_lat) * M_PER_DEG;
        let lon_gap = (max_lon - p.0).max(p.0 - min_lon) * M_PER_DEG * poleward;
        // Some point lies at least this far: a sure yes.
        if lat_gap.max(lon_gap) * 0.999 > r {
            return Some(true);
        }
        // No point lies further than the farthest corner: a sure no.
        let corners = [(min_lon, min_lat), (min_lon, max_lat), (max_lon, min_lat), (max_lon, max_lat)];
        if corners.iter().all(|c| distance_m(p, *c) <= r) {
            return Some(false);
        }
        self.points.as_ref().map(|pts| pts.iter().any(|q| distance_m(p, *q) > r))
    }
}

/// Namespace of link ids: one record naming one photo is one link, however
/// often it is replayed.
const LINK_NS: Uuid = Uuid::from_u128(0x6c70_7068_6f74_6f2d_6c69_6e6b_2d6e_7331);

/// The first half is the record id's first half (for UUIDv7 record ids, their
/// time), so that the links of new records are appended to the index rather
/// than scattered through it; the second half is from a name-based UUID of
/// the link.
fn link_id(kind: &str, record: Uuid, sha256: &str) -> Uuid {
    let named = Uuid::new_v5(&LINK_NS, format!("{kind}/{record}/{sha256}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&record.as_bytes()[..8]);
    bytes[8..].copy_from_slice(&named.as_bytes()[8..]);
    Uuid::from_bytes(bytes)
}

const CHUNK: usize = 500;

pub async fn photos_of(conn: &impl ConnectionTrait, shas: &[String]) -> ApiResult<HashMap<String, photos::Model>> {
    let mut out = HashMap::new();
    for chunk in shas.chunks(CHUNK) {
        for p in photos::Entity::find().filter(photos::Column::Sha256.is_in(chunk.to_vec())).all(conn).await? {
            out.insert(p.sha256.clone(), p);
        }
    }
    Ok(out)
}

fn point_of(l: &photo_links::Model) -> Option<(f64, f64)> {
    l.lon.zip(l.lat)
}

/// WGS-84 (lon, lat).
type Point = (f64, f64);

/// An existing link as the linking needs it: id, photo, lon, lat, reused.
type ExistingLink = (Uuid, String, Option<f64>, Option<f64>, bool);

/// Every point one photo is used at.
async fn points_of(conn: &impl ConnectionTrait, sha: &str) -> ApiResult<Vec<(f64, f64)>> {
    let rows: Vec<(Option<f64>, Option<f64>)> = photo_links::Entity::find()
        .select_only()
        .column(photo_links::Column::Lon)
        .column(photo_links::Column::Lat)
        .filter(photo_links::Column::Sha256.eq(sha))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(a, b)| a.zip(b)).collect())
}

/// Whether `p` is far from another use of the photo, loading the points only
/// when the bounding box can not tell.
async fn is_reused(
    conn: &impl ConnectionTrait,
    sha: &str,
    places: &mut Places,
    fresh_points: &[(f64, f64)],
    p: Option<(f64, f64)>,
    r: f64,
) -> ApiResult<bool> {
    let Some(p) = p else { return Ok(false) };
    if let Some(answer) = places.far_from(p, r) {
        return Ok(answer);
    }
    let mut points = points_of(conn, sha).await?;
    points.extend_from_slice(fresh_points);
    *places = Places::from_points(points);
    Ok(places.far_from(p, r).unwrap_or(false))
}

/// Links records to the photos they name (in the caller's transaction) with
/// the checks run; older links of the same photos that a new, distant use
/// makes `reused_elsewhere` are updated. Replays change nothing.
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
    // One look at the links these photos already have: which of ours exist
    // (replays), where the photos are used, and which links are not yet
    // flagged as reused (a new distant use may flag them).
    let mut known = HashSet::new();
    let mut boxes: HashMap<String, Places> = HashMap::new();
    let mut unflagged: HashMap<String, Vec<(Uuid, Point)>> = HashMap::new();
    for chunk in shas.chunks(CHUNK) {
        let rows: Vec<ExistingLink> = photo_links::Entity::find()
            .select_only()
            .column(photo_links::Column::Id)
            .column(photo_links::Column::Sha256)
            .column(photo_links::Column::Lon)
            .column(photo_links::Column::Lat)
            .column(photo_links::Column::Reused)
            .filter(photo_links::Column::Sha256.is_in(chunk.to_vec()))
            .into_tuple()
            .all(conn)
            .await?;
        for (id, sha, lon, lat, reused) in rows {
            known.insert(id);
            if let Some(p) = lon.zip(lat) {
                boxes.entry(sha.clone()).or_default().add(p);
                if !reused {
                    unflagged.entry(sha).or_default().push((id, p));
                }
            }
        }
    }
    fresh.retain(|(id, _, _)| !known.contains(id));
    if fresh.is_empty() {
        return Ok(());
    }
    let photos = photos_of(conn, &shas).await?;
    let now = Utc::now();
    let mut inserts = Vec::with_capacity(fresh.len());
    let mut updates = Vec::new();
    let mut by_sha: HashMap<&str, Vec<&(Uuid, &LinkTarget, &str)>> = HashMap::new();
    for f in &fresh {
        by_sha.entry(f.2).or_default().push(f);
    }
    for sha in &shas {
        let facts = photos.get(sha).map(PhotoFacts::from);
        let mine = by_sha.remove(sha.as_str()).unwrap_or_default();
        let fresh_points: Vec<(f64, f64)> = mine.iter().filter_map(|(_, t, _)| t.point).collect();
        let mut places = boxes.remove(sha).unwrap_or_default();
        for q in &fresh_points {
            places.add(*q);
        }
        for (id, t, _) in mine {
            let reused = is_reused(conn, sha, &mut places, &fresh_points, t.point, cfg.reuse_distance_m).await?;
            let a = assess(facts.as_ref(), t.point, t.at, reused, cfg);
            inserts.push(photo_links::ActiveModel {
                id: Set(*id),
                sha256: Set(sha.clone()),
                record_kind: Set(t.kind.to_owned()),
                record_id: Set(t.record_id),
                case_id: Set(t.case_id),
                town_id: Set(t.town_id),
                lon: Set(t.point.map(|p| p.0)),
                lat: Set(t.point.map(|p| p.1)),
                reported_at: Set(t.at),
                status: Set(a.status.to_owned()),
                flags: Set(json!(a.flags)),
                reused: Set(reused),
                distance_m: Set(a.distance_m),
                time_diff_secs: Set(a.time_diff_secs),
                linked_by: Set(by),
                linked_at: Set(now),
                checked_at: Set((a.status == "checked").then_some(now)),
            });
        }
        for (id, p) in unflagged.remove(sha).unwrap_or_default() {
            if is_reused(conn, sha, &mut places, &fresh_points, Some(p), cfg.reuse_distance_m).await?
                && let Some(old) = photo_links::Entity::find_by_id(id).one(conn).await?
            {
                updates.push(old);
            }
        }
        for old in updates.iter_mut().filter(|l| &l.sha256 == sha) {
            let a = assess(facts.as_ref(), point_of(old), old.reported_at, true, cfg);
            old.flags = json!(a.flags);
            old.reused = true;
        }
    }
    while !inserts.is_empty() {
        let rest = inserts.split_off(inserts.len().min(CHUNK));
        photo_links::Entity::insert_many(inserts)
            .on_conflict(OnConflict::column(photo_links::Column::Id).do_nothing().to_owned())
            .exec_without_returning(conn)
            .await?;
        inserts = rest;
    }
    for l in updates {
        let mut m: photo_links::ActiveModel = l.clone().into();
        m.flags = Set(l.flags);
        m.reused = Set(true);
        m.update(conn).await?;
    }
    Ok(())
}

/// Runs the checks again on every link of one photo (its bytes have arrived).
pub async fn recheck(conn: &impl ConnectionTrait, cfg: &PhotoSettings, sha256: &str) -> ApiResult<()> {
    let links = photo_links::Entity::find().filter(photo_links::Column::Sha256.eq(sha256)).all(conn).await?;
    if links.is_empty() {
        return Ok(());
    }
    let photo = photos::Entity::find_by_id(sha256.to_owned()).one(conn).await?;
    let facts = photo.as_ref().map(PhotoFacts::from);
    let places = Places::from_points(links.iter().filter_map(point_of).collect());
    let now = Utc::now();
    for l in links {
        let reused = point_of(&l).is_some_and(|p| places.far_from(p, cfg.reuse_distance_m).unwrap_or(false));
        let a = assess(facts.as_ref(), point_of(&l), l.reported_at, reused, cfg);
        let flags = json!(a.flags);
        if l.status == a.status
            && l.flags == flags
            && l.distance_m == a.distance_m
            && l.time_diff_secs == a.time_diff_secs
        {
            continue;
        }
        let mut m: photo_links::ActiveModel = l.into();
        m.status = Set(a.status.to_owned());
        m.flags = Set(flags);
        m.reused = Set(reused);
        m.distance_m = Set(a.distance_m);
        m.time_diff_secs = Set(a.time_diff_secs);
        m.checked_at = Set((a.status == "checked").then_some(now));
        m.update(conn).await?;
    }
    Ok(())
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
        let a = assess(Some(&p), Some(HERE), at("2017-05-20T02:10:00Z"), false, &cfg());
        assert_eq!(a.status, "checked");
        assert!(a.flags.is_empty(), "{:?}", a.flags);
        assert!(a.distance_m.unwrap() < 20.0);
        assert_eq!(a.time_diff_secs, Some(-600));
    }

    #[test]
    fn far_late_and_missing_exif_are_flagged() {
        let far =
            PhotoFacts { has_exif: true, gps: Some((117.40, 39.80)), captured_at: Some(at("2017-05-18T02:00:00Z")) };
        let a = assess(Some(&far), Some(HERE), at("2017-05-20T02:00:00Z"), false, &cfg());
        assert_eq!(a.flags, vec!["far_from_report", "time_mismatch"]);
        assert!(a.distance_m.unwrap() > 10_000.0);
        let none = PhotoFacts { has_exif: false, gps: None, captured_at: None };
        assert_eq!(assess(Some(&none), Some(HERE), at("2017-05-20T02:00:00Z"), false, &cfg()).flags, vec!["no_exif"]);
        let no_gps = PhotoFacts { has_exif: true, gps: None, captured_at: None };
        assert_eq!(
            assess(Some(&no_gps), Some(HERE), at("2017-05-20T02:00:00Z"), false, &cfg()).flags,
            vec!["no_gps", "no_capture_time"]
        );
    }

    #[test]
    fn reuse_is_decided_by_the_box_or_else_by_the_points() {
        let r = cfg().reuse_distance_m;
        let pending = assess(None, Some(HERE), at("2017-05-20T02:00:00Z"), true, &cfg());
        assert_eq!((pending.status, pending.flags), ("pending", vec!["reused_elsewhere"]));
        // Far apart: the box alone says yes.
        let mut places = Places::default();
        places.add(HERE);
        places.add((117.40, 39.80));
        assert_eq!(places.far_from(HERE, r), Some(true));
        // Close together: the box alone says no.
        let near = Places::from_points(vec![HERE, (117.3016, 39.7347)]);
        assert_eq!(near.far_from(HERE, r), Some(false));
        // Two points 400 m east and 400 m north: the far corner is 566 m away, but
        // no point is further than 400 m; the points decide.
        let east = (HERE.0 + 400.0 / (M_PER_DEG * HERE.1.to_radians().cos()), HERE.1);
        let north = (HERE.0, HERE.1 + 400.0 / M_PER_DEG);
        let mut boxed = Places::default();
        for p in [HERE, east, north] {
            boxed.add(p);
        }
        assert_eq!(boxed.far_from(HERE, r), None, "the box can not tell");
        assert_eq!(Places::from_points(vec![HERE, east, north]).far_from(HERE, r), Some(false));
    }

    #[test]
    fn distance_is_right_on_a_known_pair() {
        // One degree of latitude is about 111.2 km.
        let d = distance_m((117.0, 39.0), (117.0, 40.0));
        assert!((d - 111_195.0).abs() < 100.0, "{d}");
    }
}
