//! The shapefiles pyshp wrote from the Baodi fixtures (fixtures/make_fixtures.py) and
//! the Gauss-Krüger inverse against PROJ's forward projection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;

use landpatrol_patchfile::{Crs, Error, Limits, PatchFile, ShapefileSet, gk, read};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// Metres between two lon/lat points close together (on the CGCS2000 ellipsoid's
/// local radii: good to a fraction of a percent of the distance, at centimetres).
fn metres(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (a, e2) = (6_378_137.0_f64, 0.006_694_380_022_9_f64);
    let phi = lat1.to_radians();
    let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
    let (m, n) = (a * (1.0 - e2) / w.powi(3), a / w);
    let dy = (lat2 - lat1).to_radians() * m;
    let dx = (lon2 - lon1).to_radians() * n * phi.cos();
    dx.hypot(dy)
}

#[test]
fn the_inverse_lands_within_a_centimetre_of_proj() {
    let refs = json("reference_points.json");
    let mut worst = 0.0_f64;
    for (code, points) in refs["points"].as_object().unwrap() {
        let Crs::GaussKruger { projection, .. } = Crs::from_epsg(code).unwrap() else { panic!("{code}") };
        let inv = gk::Inverse::new(projection);
        let mut worst_here = 0.0_f64;
        for p in points.as_array().unwrap() {
            let f = |k: &str| p[k].as_f64().unwrap();
            let (lon, lat) = inv.to_lon_lat(f("x"), f("y"));
            let err = metres(f("lon"), f("lat"), lon, lat);
            assert!(err < 0.01, "{code}: ({}, {}) came back {err} m off", f("lon"), f("lat"));
            worst_here = worst_here.max(err);
        }
        println!("{code}: {} points, worst {:.2} µm", points.as_array().unwrap().len(), worst_here * 1e6);
        worst = worst.max(worst_here);
    }
    println!("worst of all: {:.2} µm (PROJ {}, the projected points rounded to 1 µm)", worst * 1e6, refs["proj"]);
}

#[test]
fn the_epsg_table_agrees_with_proj() {
    let refs = json("reference_points.json");
    let table = refs["epsg"].as_object().unwrap();
    assert_eq!(table.len(), 66);
    for (code, entry) in table {
        let crs = Crs::from_epsg(&format!("EPSG:{code}")).unwrap_or_else(|e| panic!("{code}: {e}"));
        match crs {
            Crs::LonLat { .. } => assert!(entry.get("central_meridian").is_none(), "{code}"),
            Crs::GaussKruger { projection: p, .. } => {
                assert_eq!(p.central_meridian, entry["central_meridian"].as_f64().unwrap(), "{code} {entry}");
                assert_eq!(p.false_easting, entry["false_easting"].as_f64().unwrap(), "{code} {entry}");
                assert_eq!(p.scale, entry["scale"].as_f64().unwrap(), "{code}");
            }
        }
    }
}

fn zip(name: &str) -> ShapefileSet {
    ShapefileSet::from_zip(&fixture(name), &Limits::default()).unwrap()
}

fn lonlat_files() -> ShapefileSet {
    let f = |ext: &str| fixture(&format!("baodi_4490.{ext}"));
    ShapefileSet::from_files("baodi_4490", f("shp"), Some(f("shx")), Some(f("dbf")), Some(f("prj")), None).unwrap()
}

/// Checks a file's rows against expected.json; returns the first vertex of each row.
fn check(file: &PatchFile, epsg: &str) -> Vec<[f64; 2]> {
    let expected = json("expected.json");
    let patches = expected["patches"].as_array().unwrap();
    assert_eq!(file.rows.len(), patches.len());
    assert_eq!(file.errors().count(), 0, "{:?}", file.errors().collect::<Vec<_>>());
    let mut firsts = Vec::new();
    for (row, want) in file.rows.iter().zip(patches) {
        let a = &row.attributes;
        let s = |k: &str| want[k].as_str().unwrap();
        assert_eq!(a.patch_id.as_deref(), Some(format!("BD2017-{epsg}-{}", s("suffix")).as_str()));
        assert_eq!(a.change_type.as_deref(), Some(s("change_type")));
        assert_eq!(a.town.as_deref(), Some(s("town_name")));
        assert_eq!(a.reported_area, want["area_m2"].as_f64());
        let d = a.discovered_at.unwrap();
        assert_eq!(d.format("%Y%m%d").to_string(), s("date"));
        assert_eq!(d.offset().local_minus_utc(), 8 * 3600);
        let g = row.geometry.as_ref().unwrap();
        assert_eq!(g.len() as u64, want["parts"].as_u64().unwrap(), "row {}", row.index);
        assert_eq!(g.iter().map(|p| p.len() as u64 - 1).sum::<u64>(), want["holes"].as_u64().unwrap());
        firsts.push(g[0][0][0]);
    }
    let fc = file.to_geojson();
    assert_eq!(fc["features"].as_array().unwrap().len(), patches.len());
    assert_eq!(fc["features"][0]["properties"]["address"], "海滨街道");
    assert_eq!(fc["features"][0]["properties"]["description"], "新增建设用地：厂房扩建");
    assert_eq!(fc["features"][0]["properties"]["discovered_at"], "2017-03-12T00:00:00+08:00");
    assert_eq!(fc["features"][1]["geometry"]["coordinates"].as_array().unwrap().len(), 2, "the hole");
    assert_eq!(fc["features"][2]["geometry"]["type"], "MultiPolygon");
    firsts
}

fn close(a: &[[f64; 2]], b: &[[f64; 2]]) {
    for (p, q) in a.iter().zip(b) {
        let d = metres(p[0], p[1], q[0], q[1]);
        assert!(d < 0.01, "{p:?} and {q:?} are {d} m apart");
    }
}

#[test]
fn zone_39_zip_with_an_arcgis_prj_and_gbk_by_language_driver() {
    let set = zip("baodi_4527.zip");
    assert_eq!(set.name, "WP2017_4527");
    let file = read(&set, None, &Limits::default()).unwrap();
    assert!(file.crs.contains("CGCS2000_3_Degree_GK_Zone_39") && file.crs.contains("39500000"), "{}", file.crs);
    assert!(file.encoding.starts_with("GBK (language driver 0x4D"), "{}", file.encoding);
    let projected = check(&file, "4527");
    close(&projected, &check(&read(&lonlat_files(), None, &Limits::default()).unwrap(), "4490"));
}

#[test]
fn cm_117e_zip_in_a_folder_with_a_cpg() {
    let set = zip("baodi_4548.zip");
    assert_eq!(set.name, "baodi_4548");
    let file = read(&set, None, &Limits::default()).unwrap();
    assert!(file.crs.contains("CM_117E"), "{}", file.crs);
    assert!(file.encoding.contains(".cpg \"936\""), "{}", file.encoding);
    let projected = check(&file, "4548");
    close(&projected, &check(&read(&lonlat_files(), None, &Limits::default()).unwrap(), "4490"));
    // The same file named by code instead of its .prj reads the same.
    let given = read(&set, Some(&Crs::from_epsg("EPSG:4548").unwrap()), &Limits::default()).unwrap();
    assert!(given.crs.starts_with("EPSG:4548"));
    close(&projected, &check(&given, "4548"));
}

#[test]
fn lon_lat_files_with_chinese_columns_and_default_gbk() {
    let file = read(&lonlat_files(), None, &Limits::default()).unwrap();
    assert!(file.crs.contains("lon/lat"));
    assert!(file.encoding.starts_with("GBK (no .cpg"), "{}", file.encoding);
    assert_eq!(file.columns, ["图斑编号", "监测面积", "变化类型", "乡镇名称", "JCSJ", "备注"]);
    check(&file, "4490");
    // Without its .prj, lon/lat is recognised (and said to be assumed).
    let mut set = lonlat_files();
    set.prj = None;
    let file = read(&set, None, &Limits::default()).unwrap();
    assert!(file.crs.contains("assumed"));
    check(&file, "4490");
}

#[test]
fn projected_coordinates_need_a_prj_or_a_crs() {
    let mut set = zip("baodi_4527.zip");
    set.prj = None;
    let err = read(&set, None, &Limits::default()).unwrap_err();
    assert!(matches!(&err, Error::Crs(m) if m.contains("EPSG:4527")), "{err}");
    let file = read(&set, Some(&Crs::from_epsg("EPSG:4527").unwrap()), &Limits::default()).unwrap();
    check(&file, "4527");
}

#[test]
fn a_wrong_crs_is_a_row_error_not_a_wrong_place() {
    // CM 117E coordinates read as zone 39: every easting 39 000 km off.
    let file = read(&zip("baodi_4548.zip"), Some(&Crs::from_epsg("EPSG:4527").unwrap()), &Limits::default()).unwrap();
    assert_eq!(file.errors().count(), file.rows.len());
    assert!(file.rows[0].error.as_deref().unwrap().contains("not in this coordinate system"));
    // Zone 39 coordinates with a .prj of the central-meridian form: the prefix is removed.
    let mut set = zip("baodi_4527.zip");
    set.prj = Some(zip("baodi_4548.zip").prj.unwrap());
    let file = read(&set, None, &Limits::default()).unwrap();
    assert!(file.notes.iter().any(|n| n.contains("zone number 39")), "{:?}", file.notes);
    check(&file, "4527");
}

#[test]
fn a_bad_prj_is_refused() {
    let mut set = lonlat_files();
    set.prj = Some(b"PROJCS[\"Lambert\",GEOGCS[\"GCS_China_Geodetic_Coordinate_System_2000\",DATUM[\"D_China_2000\",SPHEROID[\"CGCS2000\",6378137.0,298.257222101]],PRIMEM[\"Greenwich\",0.0],UNIT[\"Degree\",0.0174532925199433]],PROJECTION[\"Lambert_Conformal_Conic\"],UNIT[\"Meter\",1.0]]".to_vec());
    let err = read(&set, None, &Limits::default()).unwrap_err();
    assert!(matches!(&err, Error::Crs(m) if m.contains("Lambert_Conformal_Conic")), "{err}");
    set.prj = Some(b"\xff\xfe garbage".to_vec());
    assert!(matches!(read(&set, None, &Limits::default()), Err(Error::Crs(m)) if m.contains(".prj")));
    // Beijing 1954 (Krassowsky ellipsoid) is refused, not silently shifted by 100 m.
    let beijing = String::from_utf8(zip("baodi_4527.zip").prj.unwrap())
        .unwrap()
        .replace("6378137.0,298.257222101", "6378245.0,298.3");
    set.prj = Some(beijing.into_bytes());
    assert!(matches!(read(&set, None, &Limits::default()), Err(Error::Crs(m)) if m.contains("Beijing 1954")));
}

#[test]
fn point_shapefiles_are_refused_row_by_row() {
    let file = read(&zip("points_4527.zip"), None, &Limits::default()).unwrap();
    assert_eq!(file.errors().count(), 2);
    let e = file.rows[1].error.as_deref().unwrap();
    assert!(e.contains("shape type Point"), "{e}");
    assert_eq!(file.rows[1].index, 1);
    assert!(file.to_geojson()["features"].as_array().unwrap().is_empty());
}

#[test]
fn zips_with_two_shapefiles_or_no_dbf_are_refused() {
    let err = ShapefileSet::from_zip(&fixture("two_shp.zip"), &Limits::default()).unwrap_err();
    assert!(matches!(&err, Error::SeveralShp(m) if m.contains("a.shp") && m.contains("b.shp")), "{err}");
    let err = ShapefileSet::from_zip(&fixture("missing_dbf.zip"), &Limits::default()).unwrap_err();
    assert!(matches!(&err, Error::Missing { ext: "dbf", .. }), "{err}");
    let err = ShapefileSet::from_zip(&fixture("expected.json"), &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Zip(_)));
    let err = ShapefileSet::from_zip(&fixture("reference_points.json")[..0], &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Zip(_)));
}

#[test]
fn zip_bombs_stop_at_the_bound() {
    let bomb = fixture("bomb.zip");
    assert!(bomb.len() < 16 << 10, "a few KB");
    let limits = Limits { max_uncompressed_bytes: 4 << 20, ..Limits::default() };
    let err = ShapefileSet::from_zip(&bomb, &limits).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit } if limit == 4 << 20), "{err}");
    // Under a larger bound it unpacks, and the zeros are no table.
    let set = ShapefileSet::from_zip(&bomb, &Limits::default()).unwrap();
    assert!(matches!(read(&set, None, &Limits::default()), Err(Error::Dbf(_))));
}

#[test]
fn a_zip_without_a_shapefile_names_what_it_holds() {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file("readme.txt", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut w, b"no shapefile here").unwrap();
        w.finish().unwrap();
    }
    let err = ShapefileSet::from_zip(buf.get_ref(), &Limits::default()).unwrap_err();
    assert!(matches!(&err, Error::NoShp(m) if m == "readme.txt"), "{err}");
}
