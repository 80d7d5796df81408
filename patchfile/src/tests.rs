use super::*;
use crate::dbf::tests::dbf_file;
use crate::shp::tests::{polygon_body, shp_file};

fn square(x: f64, y: f64, half: f64, clockwise: bool) -> Vec<[f64; 2]> {
    let mut r = vec![[x - half, y - half], [x + half, y - half], [x + half, y + half], [x - half, y + half]];
    if clockwise {
        r.reverse();
    }
    r.push(r[0]);
    r
}

const LONLAT_PRJ: &[u8] = br#"GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

/// A lon/lat shapefile of polygons (rings per record) with TBBH and JCSJ columns.
type Record<'a> = (Vec<Vec<[f64; 2]>>, &'a str, &'a str);

fn lonlat_set(records: &[Record<'_>]) -> ShapefileSet {
    let shp = shp_file(&records.iter().map(|r| (5, polygon_body(&r.0))).collect::<Vec<_>>());
    let gbk = |s: &str| encoding_rs::GBK.encode(s).0.into_owned();
    let cells: Vec<[Vec<u8>; 2]> = records.iter().map(|r| [gbk(r.1), gbk(r.2)]).collect();
    let rows: Vec<Vec<&[u8]>> = cells.iter().map(|c| vec![&c[0][..], &c[1][..]]).collect();
    let dbf = dbf_file(0x4D, &[(b"TBBH", b'C', 20), (b"jcsj", b'C', 25)], &rows);
    ShapefileSet::from_files("t", shp, None, Some(dbf), Some(LONLAT_PRJ.to_vec()), None).unwrap()
}

#[test]
fn rings_by_orientation_holes_and_parts() {
    let rings = vec![
        square(117.0, 39.0, 0.01, true),
        square(117.0, 39.0, 0.002, false),
        square(117.1, 39.0, 0.01, true),
        square(117.1, 39.0, 0.003, false),
        square(117.1, 39.0, 0.001, true),
    ];
    let file = read(&lonlat_set(&[(rings, "WP-1", "")]), None, &Limits::default()).unwrap();
    let g = file.rows[0].geometry.as_ref().unwrap();
    // Two outer rings with a hole each, and an island in the second hole.
    assert_eq!(g.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
    for poly in g {
        assert!(signed_area2(&poly[0]) > 0.0, "outer rings counter-clockwise");
        for hole in &poly[1..] {
            assert!(signed_area2(hole) < 0.0, "holes clockwise");
        }
    }
    assert!((g[2][0][0][0] - 117.099).abs() < 1e-9);
    let fc = file.to_geojson();
    assert_eq!(fc["features"][0]["geometry"]["type"], "MultiPolygon");
    assert_eq!(fc["features"][0]["properties"]["patch_id"], "WP-1");
}

#[test]
fn a_counter_clockwise_ring_alone_is_an_outer_ring() {
    let file =
        read(&lonlat_set(&[(vec![square(117.0, 39.0, 0.01, false)], "WP-1", "")]), None, &Limits::default()).unwrap();
    let g = file.rows[0].geometry.as_ref().unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].len(), 1);
    assert_eq!(file.to_geojson()["features"][0]["geometry"]["type"], "Polygon");
}

#[test]
fn row_errors_name_what_is_wrong() {
    let sq = || vec![square(117.0, 39.0, 0.01, true)];
    let flat = vec![vec![[117.0, 39.0], [117.1, 39.0], [117.2, 39.0], [117.0, 39.0]]];
    let file = read(
        &lonlat_set(&[
            (sq(), "WP-1", "20170312"),
            (sq(), "", ""),
            (sq(), "WP-1", ""),
            (sq(), "WP-4", "2017-13-45"),
            (flat, "WP-5", ""),
            (sq(), "WP-6", "2017-05-31T10:00:00+08:00"),
            (sq(), "WP-7", "2017年5月3日"),
        ]),
        None,
        &Limits::default(),
    )
    .unwrap();
    let errors: Vec<(usize, &str)> = file.errors().map(|r| (r.index, r.error.as_deref().unwrap_or(""))).collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].0 == 1 && errors[0].1.contains("no patch number in TBBH"));
    assert!(errors[1].0 == 2 && errors[1].1.contains("also that of row 0"));
    assert!(errors[2].0 == 3 && errors[2].1.contains("jcsj \"2017-13-45\" is not a date"));
    assert!(errors[3].0 == 4 && errors[3].1.contains("no area"));
    assert_eq!(file.rows[0].attributes.discovered_at.unwrap().to_rfc3339(), "2017-03-12T00:00:00+08:00");
    assert_eq!(file.rows[5].attributes.discovered_at.unwrap().to_rfc3339(), "2017-05-31T10:00:00+08:00");
    assert_eq!(file.rows[6].attributes.discovered_at.unwrap().to_rfc3339(), "2017-05-03T00:00:00+08:00");
    // Only the good rows are in the GeoJSON, each with its row index.
    let rows: Vec<u64> = file.to_geojson()["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![0, 5, 6]);
}

#[test]
fn deleted_records_are_skipped() {
    let mut set = lonlat_set(&[(vec![square(117.0, 39.0, 0.01, true)], "WP-1", ""), (vec![], "WP-1", "")]);
    let header_len = u16::from_le_bytes([set.dbf[8], set.dbf[9]]) as usize;
    let record_len = u16::from_le_bytes([set.dbf[10], set.dbf[11]]) as usize;
    set.dbf[header_len + record_len] = b'*';
    let file = read(&set, None, &Limits::default()).unwrap();
    assert!(file.rows[1].deleted && file.rows[1].error.is_none());
    assert_eq!(file.errors().count(), 0);
    assert_eq!(file.to_geojson()["features"].as_array().unwrap().len(), 1);
    assert!(file.notes.iter().any(|n| n.contains("deleted")));
}

#[test]
fn a_file_without_a_patch_number_column_is_refused_naming_its_columns() {
    let shp = shp_file(&[(5, polygon_body(&[square(117.0, 39.0, 0.01, true)]))]);
    let (name, _, _) = encoding_rs::GBK.encode("名称");
    let dbf = dbf_file(0x4D, &[(&name, b'C', 10), (b"AREA", b'N', 10)], &[vec![b"x", b"1"]]);
    let set = ShapefileSet::from_files("t", shp, None, Some(dbf), None, None).unwrap();
    let err = read(&set, None, &Limits::default()).unwrap_err();
    assert!(matches!(&err, Error::NoPatchColumn { found, .. } if found == "名称, AREA"), "{err}");
    assert!(err.to_string().contains("TBBH"));
}

#[test]
fn columns_map_case_insensitively_first_alias_winning() {
    let shp = shp_file(&[(5, polygon_body(&[square(117.0, 39.0, 0.01, true)]))]);
    let dbf = dbf_file(
        0,
        &[(b"BSM", b'N', 10), (b"tbbh", b'C', 10), (b"Tbmj", b'N', 12), (b"XZMC", b'C', 10), (b"JCSJ", b'N', 8)],
        &[vec![b"42", b"WP-9", b"  12.5", b"town", b"20170312"]],
    );
    let set = ShapefileSet::from_files("t", shp, None, Some(dbf), None, None).unwrap();
    let file = read(&set, None, &Limits::default()).unwrap();
    let a = &file.rows[0].attributes;
    assert_eq!(a.patch_id.as_deref(), Some("WP-9"));
    assert_eq!(a.reported_area, Some(12.5));
    assert_eq!(a.town.as_deref(), Some("town"));
    assert_eq!(a.discovered_at.unwrap().date_naive(), NaiveDate::from_ymd_opt(2017, 3, 12).unwrap());
    assert!(file.mapping.contains(&(Attribute::PatchId, "tbbh".into())));
    // No .prj, every coordinate degrees: lon/lat, said so.
    assert!(file.crs.contains("assumed"));
}

#[test]
fn numeric_patch_numbers_print_as_integers() {
    assert_eq!(text(&Value::Number(1201152017001.0)).as_deref(), Some("1201152017001"));
    assert_eq!(text(&Value::Number(12.5)).as_deref(), Some("12.5"));
}

#[test]
fn a_zone_prefix_the_crs_lacks_is_removed() {
    let p = gk::TransverseMercator {
        ellipsoid: gk::Ellipsoid::CGCS2000,
        central_meridian: 117.0,
        scale: 1.0,
        false_easting: 500_000.0,
        false_northing: 0.0,
    };
    let pts = [[39_512_000.0, 4_400_000.0], [39_498_000.0, 4_410_000.0]];
    assert_eq!(zone_prefix(pts.iter(), &p), Some(39));
    // 6-degree zone 20 is central meridian 117°E too.
    assert_eq!(zone_prefix([[20_512_000.0, 4_400_000.0]].iter(), &p), Some(20));
    // Zone 38 is not 117°E; mixed prefixes are not a prefix; prefixed CRS needs none.
    assert_eq!(zone_prefix([[38_512_000.0, 4_400_000.0]].iter(), &p), None);
    assert_eq!(zone_prefix(pts.iter().chain([[512_000.0, 4e6]].iter()), &p), None);
    assert_eq!(zone_prefix(pts.iter(), &gk::TransverseMercator { false_easting: 39_500_000.0, ..p }), None);
}
