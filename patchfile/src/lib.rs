//! Satellite change patches (卫片图斑) as the ministry delivers them: ESRI shapefiles,
//! often zipped, with GBK attribute text, in CGCS2000 Gauss-Krüger or lon/lat,
//! read into lon/lat polygons with mapped attributes. Pure: it reads only the
//! bytes given to it, and knows nothing of the server (which imports the
//! [`PatchFile::to_geojson`] FeatureCollection it makes).
//!
//! # The files
//!
//! A shapefile is a `.shp` (geometry), a `.dbf` (attributes, required), and
//! optionally `.shx`, `.prj` (the coordinate system) and `.cpg` (the code page of the
//! `.dbf` text). [`ShapefileSet::from_zip`] finds them in a zip archive by extension in
//! any case, at the root or in a folder; a zip with no `.shp` or several is refused, and
//! the members may unpack to at most [`Limits::max_uncompressed_bytes`]. Records must be
//! Polygon, PolygonZ or PolygonM (Z and M are dropped); any other shape type is a row
//! error naming the row. Rings are grouped into polygons by orientation: outer rings are
//! clockwise, holes counter-clockwise, each hole belonging to the outer ring around it
//! (a counter-clockwise ring inside no outer ring is taken as an outer ring).
//!
//! # Text encoding
//!
//! The `.cpg` file names it (`GBK`, `936`, `GB18030`, `UTF-8`, `65001`, `Big5`,
//! `1252`, any WHATWG label); without one, the DBF language driver byte does (0x4D, 0x7A
//! and 0x57 GBK; 0x4F and 0x78 Big5; 0x03 Windows-1252); without either, GBK.
//!
//! # Coordinate systems
//!
//! An explicit CRS ([`Crs::from_epsg`]) wins over the `.prj`. Accepted: EPSG:4490
//! (CGCS2000) and EPSG:4326 (WGS 84) lon/lat; EPSG:4513–4533 (CGCS2000 3° Gauss-Krüger
//! zones 25–45, false easting with the zone number in front, e.g. 4527: zone 39,
//! 39 500 000 m); EPSG:4534–4554 (3° zones by central meridian 75°E–135°E, false easting
//! 500 000 m, e.g. 4548: 117°E); EPSG:4491–4501 (6° zones 13–23, zone-prefixed) and
//! EPSG:4502–4512 (6° by central meridian). A `.prj` may be ESRI WKT1 as ArcGIS writes
//! it (`PROJCS["CGCS2000_3_Degree_GK_Zone_39", …, PROJECTION["Gauss_Kruger"], …]`, the
//! `CM_117E` form, `Transverse_Mercator`, or `GEOGCS[…]` for lon/lat), on the CGCS2000 or
//! WGS 84 ellipsoid, in metres, latitude of origin 0. Beijing 1954, Xi'an 1980 and every
//! other system are refused. CGCS2000 is taken as WGS 84 for routing (they differ by a
//! few centimetres). When a `.prj` says a central-meridian form (false easting 500 000 m)
//! but every easting carries that zone's number in front, the prefix is removed (and a
//! note says so). With no `.prj` and no CRS given, the file is read as lon/lat only if
//! every coordinate is plainly degrees (|x| ≤ 180, |y| ≤ 90), which no Chinese projected
//! coordinate is; otherwise it is refused.
//!
//! The inverse projection is Krüger's series to order n⁶ ([`gk`]); the fixtures' test
//! checks it against PROJ's forward projection (`fixtures/reference_points.json`) to under
//! a micrometre, the points' rounding, over Baodi, 1.5° either side of the central meridian,
//! and 6° from it (EPSG:4546); the test fails past 1 cm.
//!
//! # Columns
//!
//! Column names are matched case-insensitively; the first alias present wins.
//!
//! | attribute | aliases (in order) | becomes |
//! |---|---|---|
//! | patch number (required) | `patch_id`, `TBBH`, `JCBH`, `TBH`, `图斑编号`, `监测编号`, `图斑号`, `BSM` | `properties.patch_id`, the idempotency key |
//! | area | `area`, `JCMJ`, `TBMJ`, `MJ`, `监测面积`, `图斑面积`, `面积` | `reported_area` (as the file gives it) |
//! | change type | `change_type`, `BHLX`, `变化类型`, `JCLX`, `监测类型` | first part of `description` |
//! | town | `town`, `XZQMC`, `XZMC`, `乡镇名称`, `乡镇`, `行政区名称` | `address` |
//! | description | `description`, `BZ`, `备注`, `MS`, `描述`, `说明` | rest of `description` |
//! | discovered date | `discovered_at`, `date`, `JCSJ`, `JCRQ`, `监测时间`, `监测日期`, `发现时间` | `discovered_at` |
//! | land class | `land_class` | `land_class` (the API's values) |
//!
//! Dates may be dBase dates, `yyyymmdd`, `yyyy-mm-dd`, `yyyy/mm/dd`, `yyyy.mm.dd`,
//! `yyyy年m月d日` (midnight China time, +08:00) or RFC 3339. A file with no patch
//! number column is refused with the columns it has; a row without a patch number, with
//! a patch number another row has too, with an unreadable date or area, or with a
//! geometry that is not a polygon, carries its error ([`Row::error`]). Records marked
//! deleted in the `.dbf` are skipped.

#![forbid(unsafe_code)]

mod archive;
mod crs;
mod dbf;
pub mod gk;
mod shp;

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use serde_json::{Value as Json, json};

pub use archive::{Limits, ShapefileSet};
pub use crs::Crs;
pub use dbf::Value;

/// Why a patch file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a readable zip archive: {0}")]
    Zip(String),
    #[error("the zip archive holds no .shp file (it holds: {0})")]
    NoShp(String),
    #[error("the zip archive holds several .shp files ({0}): send one shapefile at a time")]
    SeveralShp(String),
    #[error("the shapefile {name} has no .{ext} file beside it")]
    Missing { name: String, ext: &'static str },
    #[error("the shapefile's files unpack to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("too many features: {0}")]
    TooMany(String),
    #[error("the .shp file is damaged: {0}")]
    Shp(String),
    #[error("the .dbf file is damaged: {0}")]
    Dbf(String),
    #[error("the .shp has {shp} records and the .dbf {dbf}")]
    RecordCounts { shp: usize, dbf: usize },
    #[error("coordinate system: {0}")]
    Crs(String),
    #[error("no patch number column (one of {expected}); the file's columns are: {found}")]
    NoPatchColumn { expected: String, found: String },
}

impl Error {
    /// A stable name of the kind of error, for API error details.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Zip(_) => "zip",
            Error::NoShp(_) => "no_shp",
            Error::SeveralShp(_) => "several_shp",
            Error::Missing { .. } => "missing_file",
            Error::TooLarge { .. } => "too_large",
            Error::TooMany(_) => "too_many",
            Error::Shp(_) => "shp",
            Error::Dbf(_) => "dbf",
            Error::RecordCounts { .. } => "record_counts",
            Error::Crs(_) => "crs",
            Error::NoPatchColumn { .. } => "no_patch_column",
        }
    }
}

/// An attribute of a patch that columns map to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attribute {
    PatchId,
    Area,
    ChangeType,
    Town,
    Description,
    Date,
    LandClass,
}

impl Attribute {
    pub const ALL: [Attribute; 7] = [
        Attribute::PatchId,
        Attribute::Area,
        Attribute::ChangeType,
        Attribute::Town,
        Attribute::Description,
        Attribute::Date,
        Attribute::LandClass,
    ];

    /// The attribute's name in reports and in the GeoJSON the crate writes.
    pub fn key(self) -> &'static str {
        match self {
            Attribute::PatchId => "patch_id",
            Attribute::Area => "reported_area",
            Attribute::ChangeType => "change_type",
            Attribute::Town => "town",
            Attribute::Description => "description",
            Attribute::Date => "discovered_at",
            Attribute::LandClass => "land_class",
        }
    }

    /// The column names mapped to it, case-insensitively, the first present winning.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Attribute::PatchId => &["patch_id", "tbbh", "jcbh", "tbh", "图斑编号", "监测编号", "图斑号", "bsm"],
            Attribute::Area => &["area", "jcmj", "tbmj", "mj", "监测面积", "图斑面积", "面积"],
            Attribute::ChangeType => &["change_type", "bhlx", "变化类型", "jclx", "监测类型"],
            Attribute::Town => &["town", "xzqmc", "xzmc", "乡镇名称", "乡镇", "行政区名称"],
            Attribute::Description => &["description", "bz", "备注", "ms", "描述", "说明"],
            Attribute::Date => &["discovered_at", "date", "jcsj", "jcrq", "监测时间", "监测日期", "发现时间"],
            Attribute::LandClass => &["land_class"],
        }
    }
}

/// The mapped attributes of one row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes {
    pub patch_id: Option<String>,
    pub reported_area: Option<f64>,
    pub change_type: Option<String>,
    pub town: Option<String>,
    pub description: Option<String>,
    pub discovered_at: Option<DateTime<FixedOffset>>,
    pub land_class: Option<String>,
}

/// Lon/lat polygons: each an outer ring (counter-clockwise) then its holes
/// (clockwise), rings closed, `[lon, lat]` in degrees.
pub type MultiPolygon = Vec<Vec<Vec<[f64; 2]>>>;

/// One record of the file.
#[derive(Clone, Debug)]
pub struct Row {
    /// The record's index in the file, from 0.
    pub index: usize,
    pub attributes: Attributes,
    pub geometry: Option<MultiPolygon>,
    /// Why the row cannot be imported.
    pub error: Option<String>,
    /// Marked deleted in the `.dbf`: skipped.
    pub deleted: bool,
}

/// A patch file, read.
#[derive(Clone, Debug)]
pub struct PatchFile {
    pub name: String,
    /// The coordinate system and where it came from.
    pub crs: String,
    /// The text encoding and where it came from.
    pub encoding: String,
    /// The `.dbf` columns, in order.
    pub columns: Vec<String>,
    /// Which column each attribute was read from.
    pub mapping: Vec<(Attribute, String)>,
    pub rows: Vec<Row>,
    /// Things the reader did that the user should know (e.g. a zone prefix removed).
    pub notes: Vec<String>,
}

/// How to read coordinates: which CRS, from where.
enum Frame {
    LonLat,
    Projected(gk::Inverse),
}

impl PatchFile {
    /// Rows that cannot be imported.
    pub fn errors(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.error.is_some())
    }

    /// The importable rows (not deleted, no error) as a GeoJSON FeatureCollection in
    /// lon/lat, with `properties.patch_id`, `row`, `description` (change type, then
    /// description), `address` (the town column), `discovered_at` (RFC 3339),
    /// `change_type`, `reported_area` and `land_class` where the file has them.
    pub fn to_geojson(&self) -> Json {
        let features: Vec<Json> = self
            .rows
            .iter()
            .filter(|r| !r.deleted && r.error.is_none())
            .filter_map(|r| {
                let g = r.geometry.as_ref()?;
                let a = &r.attributes;
                let description = match (&a.change_type, &a.description) {
                    (Some(c), Some(d)) => Some(format!("{c}：{d}")),
                    (Some(c), None) => Some(c.clone()),
                    (None, d) => d.clone(),
                };
                let mut props = serde_json::Map::new();
                props.insert("patch_id".into(), json!(a.patch_id));
                props.insert("row".into(), json!(r.index));
                let mut put = |k: &str, v: Option<Json>| {
                    if let Some(v) = v {
                        props.insert(k.into(), v);
                    }
                };
                put("description", description.map(Json::from));
                put("address", a.town.clone().map(Json::from));
                put("discovered_at", a.discovered_at.map(|d| Json::from(d.to_rfc3339())));
                put("change_type", a.change_type.clone().map(Json::from));
                put("reported_area", a.reported_area.map(Json::from));
                put("land_class", a.land_class.clone().map(Json::from));
                let geometry = if g.len() == 1 {
                    json!({"type": "Polygon", "coordinates": g[0]})
                } else {
                    json!({"type": "MultiPolygon", "coordinates": g})
                };
                Some(json!({"type": "Feature", "properties": props, "geometry": geometry}))
            })
            .collect();
        json!({"type": "FeatureCollection", "features": features})
    }
}

/// Reads a shapefile's patches into lon/lat. `crs`, if given, wins over the `.prj`.
pub fn read(set: &ShapefileSet, crs: Option<&Crs>, limits: &Limits) -> Result<PatchFile, Error> {
    let (encoding, encoding_note) = dbf::encoding(set.cpg.as_deref(), &set.dbf)?;
    let table = dbf::read(&set.dbf, encoding, limits)?;
    let shapes = shp::read(&set.shp, limits)?;
    if shapes.len() != table.records.len() {
        return Err(Error::RecordCounts { shp: shapes.len(), dbf: table.records.len() });
    }
    let columns: Vec<String> = table.fields.iter().map(|f| f.name.clone()).collect();
    let mut mapping: Vec<(Attribute, usize)> = Vec::new();
    for attr in Attribute::ALL {
        let lower: Vec<String> = columns.iter().map(|c| c.to_lowercase()).collect();
        if let Some(i) = attr.aliases().iter().find_map(|a| lower.iter().position(|c| c == a)) {
            mapping.push((attr, i));
        }
    }
    if !mapping.iter().any(|m| m.0 == Attribute::PatchId) {
        return Err(Error::NoPatchColumn {
            expected: Attribute::PatchId.aliases().iter().map(|a| a.to_uppercase()).collect::<Vec<_>>().join(", "),
            found: if columns.is_empty() { "none".into() } else { columns.join(", ") },
        });
    }

    let mut notes = Vec::new();
    let (chosen, how) = match (crs, &set.prj) {
        (Some(c), _) => (Some(c.clone()), "given"),
        (None, Some(prj)) => {
            let text = String::from_utf8_lossy(prj);
            (Some(Crs::from_wkt(&text).map_err(|e| Error::Crs(format!("the .prj: {e}")))?), ".prj")
        }
        (None, None) => (None, ""),
    };
    let all_points = || {
        shapes.iter().filter_map(|s| if let shp::Shape::Polygon(r) = s { Some(r) } else { None }).flatten().flatten()
    };
    let (frame, crs_text) = match chosen {
        Some(c @ Crs::LonLat { .. }) => (Frame::LonLat, format!("{c}, {how}")),
        Some(c @ Crs::GaussKruger { .. }) => {
            let mut inverse = c.inverse().ok_or_else(|| Error::Crs("not projected".into()))?;
            let mut p = *inverse.projection();
            if let Some(zone) = zone_prefix(all_points(), &p) {
                p.false_easting += zone as f64 * 1e6;
                inverse = gk::Inverse::new(p);
                notes.push(format!(
                    "the eastings carry zone number {zone} in front: read with false easting {}",
                    p.false_easting
                ));
            }
            (Frame::Projected(inverse), format!("{c}, {how}"))
        }
        None => {
            if let Some(p) = all_points().find(|p| p[0].abs() > 180.0 || p[1].abs() > 90.0) {
                return Err(Error::Crs(format!(
                    "no .prj file and no CRS given, and the coordinates ({}, {}) are not degrees: give the CRS, \
                     e.g. EPSG:4527",
                    p[0], p[1]
                )));
            }
            notes.push("no .prj file: the coordinates are all degrees, read as CGCS2000 lon/lat".into());
            (Frame::LonLat, "EPSG:4490 CGCS2000 (lon/lat), assumed: no .prj and every coordinate is degrees".into())
        }
    };

    fn cell<'r>(
        rec: &'r dbf::Record,
        attr: Attribute,
        mapping: &[(Attribute, usize)],
        columns: &'r [String],
    ) -> Option<(&'r Value, &'r str)> {
        let &(_, i) = mapping.iter().find(|m| m.0 == attr)?;
        Some((rec.values.get(i)?, columns.get(i)?.as_str()))
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rows = Vec::with_capacity(shapes.len());
    for (index, (shape, rec)) in shapes.into_iter().zip(&table.records).enumerate() {
        let mut errors: Vec<String> = Vec::new();
        let mut attributes = Attributes::default();
        for attr in Attribute::ALL {
            let Some((v, col)) = cell(rec, attr, &mapping, &columns) else { continue };
            match attr {
                Attribute::PatchId => attributes.patch_id = text(v).filter(|s| !s.is_empty()),
                Attribute::Area => match v {
                    Value::Number(n) => attributes.reported_area = Some(*n),
                    Value::Null => {}
                    other => match text(other).and_then(|s| s.parse::<f64>().ok()) {
                        Some(n) => attributes.reported_area = Some(n),
                        None => errors.push(format!("{col} {:?} is not a number", text(other).unwrap_or_default())),
                    },
                },
                Attribute::ChangeType => attributes.change_type = text(v),
                Attribute::Town => attributes.town = text(v),
                Attribute::Description => attributes.description = text(v),
                Attribute::LandClass => attributes.land_class = text(v),
                Attribute::Date => match date(v) {
                    Ok(d) => attributes.discovered_at = d,
                    Err(raw) => errors.push(format!("{col} {raw:?} is not a date (yyyymmdd or ISO 8601)")),
                },
            }
        }
        match &attributes.patch_id {
            None => errors.push(format!(
                "no patch number in {}",
                cell(rec, Attribute::PatchId, &mapping, &columns).map_or("", |c| c.1)
            )),
            Some(id) if id.chars().count() > 100 => {
                errors.push("the patch number is longer than 100 characters".into())
            }
            Some(id) if !rec.deleted => {
                if let Some(first) = seen.insert(id.clone(), index) {
                    errors.push(format!("patch number {id} is also that of row {first}"));
                }
            }
            Some(_) => {}
        }
        let geometry = match shape {
            shp::Shape::Null => {
                errors.push("no geometry (a null shape)".into());
                None
            }
            shp::Shape::Refused(why) => {
                errors.push(why);
                None
            }
            shp::Shape::Polygon(rings) => match polygons(rings).and_then(|p| to_lon_lat(p, &frame)) {
                Ok(g) => Some(g),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        let error = if rec.deleted || errors.is_empty() { None } else { Some(errors.join("; ")) };
        rows.push(Row { index, attributes, geometry, error, deleted: rec.deleted });
    }
    if rows.iter().any(|r| r.deleted) {
        notes.push(format!(
            "{} records marked deleted in the .dbf are skipped",
            rows.iter().filter(|r| r.deleted).count()
        ));
    }
    Ok(PatchFile {
        name: set.name.clone(),
        crs: crs_text,
        encoding: encoding_note,
        mapping: mapping.iter().map(|&(a, i)| (a, columns[i].clone())).collect(),
        columns,
        rows,
        notes,
    })
}

/// A cell as text: numbers without a needless `.0`, dates as `yyyy-mm-dd`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(s) => Some(s.clone()),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
        Value::Number(n) => Some(n.to_string()),
        Value::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
        Value::Bool(b) => Some(b.to_string()),
    }
}

/// A discovered date: dates at midnight China time (+08:00); `Err` holds the raw text.
fn date(v: &Value) -> Result<Option<DateTime<FixedOffset>>, String> {
    let china = FixedOffset::east_opt(8 * 3600).ok_or_else(String::new)?;
    let at_midnight = |d: NaiveDate| -> Option<DateTime<FixedOffset>> {
        china.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single()
    };
    let day = match v {
        Value::Null => return Ok(None),
        Value::Date(d) => *d,
        other => {
            let s = text(other).unwrap_or_default();
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Ok(Some(t));
            }
            ["%Y%m%d", "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
                .ok_or_else(|| s.to_owned())?
        }
    };
    at_midnight(day).map(Some).ok_or_else(|| day.to_string())
}

/// Twice the signed area of a closed ring, positive counter-clockwise, computed about
/// its first vertex (zone-prefixed eastings are 4·10⁷: products of raw values lose
/// the digits a small ring's area is made of).
fn signed_area2(ring: &[[f64; 2]]) -> f64 {
    let Some(&[x0, y0]) = ring.first() else { return 0.0 };
    ring.windows(2).map(|w| (w[0][0] - x0) * (w[1][1] - y0) - (w[1][0] - x0) * (w[0][1] - y0)).sum()
}

fn inside(p: [f64; 2], ring: &[[f64; 2]]) -> bool {
    let mut c = false;
    for w in ring.windows(2) {
        let ([x1, y1], [x2, y2]) = (w[0], w[1]);
        if (y1 > p[1]) != (y2 > p[1]) && p[0] < (x2 - x1) * (p[1] - y1) / (y2 - y1) + x1 {
            c = !c;
        }
    }
    c
}

/// Groups a record's rings into polygons by orientation (ESRI: outer rings clockwise).
fn polygons(rings: shp::Rings) -> Result<MultiPolygon, String> {
    let mut outers: Vec<(Vec<[f64; 2]>, f64)> = Vec::new();
    let mut holes: Vec<Vec<[f64; 2]>> = Vec::new();
    for (k, ring) in rings.into_iter().enumerate() {
        let a = signed_area2(&ring);
        if a == 0.0 || !a.is_finite() {
            return Err(format!("ring {k} has no area"));
        }
        if a < 0.0 { outers.push((ring, -a)) } else { holes.push(ring) }
    }
    let mut polys: Vec<(Vec<Vec<[f64; 2]>>, f64)> = outers.into_iter().map(|(r, a)| (vec![r], a)).collect();
    for hole in holes {
        // The smallest outer ring holding most of the hole's vertices.
        let best = polys
            .iter()
            .enumerate()
            .map(|(i, (p, a))| (i, hole.iter().filter(|v| inside(**v, &p[0])).count(), *a))
            .filter(|&(_, n, _)| 2 * n >= hole.len())
            .min_by(|x, y| x.2.total_cmp(&y.2));
        match best {
            Some((i, _, _)) => polys[i].0.push(hole),
            None => {
                let a = signed_area2(&hole).abs();
                polys.push((vec![hole], a));
            }
        }
    }
    Ok(polys.into_iter().map(|(p, _)| p).collect())
}

/// The zone number in front of every easting, when the CRS's false easting has none but
/// the eastings do (a `.prj` in the central-meridian form for zone-prefixed data).
fn zone_prefix<'a>(mut points: impl Iterator<Item = &'a [f64; 2]>, p: &gk::TransverseMercator) -> Option<u32> {
    if p.false_easting >= 1e6 {
        return None;
    }
    let first = points.next()?;
    let zone = (first[0] / 1e6).floor();
    if !(13.0..=45.0).contains(&zone) || points.any(|q| (q[0] / 1e6).floor() != zone) {
        return None;
    }
    let z = zone as u32;
    let cm = p.central_meridian;
    let fits = (3.0 * zone - cm).abs() < 1e-9 || (6.0 * zone - 3.0 - cm).abs() < 1e-9;
    fits.then_some(z)
}

/// Projects polygons to lon/lat and orients them as GeoJSON wants (outer rings
/// counter-clockwise, holes clockwise).
fn to_lon_lat(polys: MultiPolygon, frame: &Frame) -> Result<MultiPolygon, String> {
    let mut out = Vec::with_capacity(polys.len());
    for poly in polys {
        let mut rings = Vec::with_capacity(poly.len());
        for (k, ring) in poly.into_iter().enumerate() {
            let mut r = Vec::with_capacity(ring.len());
            for [x, y] in ring {
                let (lon, lat) = match frame {
                    Frame::LonLat => (x, y),
                    Frame::Projected(inv) => {
                        let tm = inv.projection();
                        let (dx, dy) = (x - tm.false_easting, y - tm.false_northing);
                        if dx.abs() > 1_000_000.0 || !(0.0..=10_000_000.0).contains(&dy) {
                            return Err(format!(
                                "the vertex ({x}, {y}) is {:.0} km from the central meridian's easting {}: \
                                 not in this coordinate system (a wrong .prj or CRS?)",
                                dx.abs() / 1000.0,
                                tm.false_easting
                            ));
                        }
                        inv.to_lon_lat(x, y)
                    }
                };
                if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                    return Err(format!("the vertex ({x}, {y}) is not a longitude and latitude"));
                }
                r.push([lon, lat]);
            }
            let ccw = signed_area2(&r) > 0.0;
            if ccw != (k == 0) {
                r.reverse();
            }
            rings.push(r);
        }
        out.push(rings);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
