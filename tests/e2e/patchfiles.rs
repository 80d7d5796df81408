//! Satellite patches as the ministry delivers them: zipped ESRI shapefiles in
//! CGCS2000 Gauss-Krüger (zone 39 and CM 117E) and lon/lat, GBK text, through the
//! HTTP import and the command line (fixtures: patchfile/fixtures, written by pyshp).

use landpatrol_server::cli::run_args;
use landpatrol_tests::{TestApp, TestDb, assert_error};
use serde_json::Value;

fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../patchfile/fixtures").join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

/// expected.json: each patch's town (by area), date, change type, stated area.
fn expected() -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&fixture("expected.json")).unwrap();
    doc["patches"].as_array().unwrap().clone()
}

async fn post_zip(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> (reqwest::StatusCode, Value) {
    app.raw("POST", &format!("/api/v1/cases/import{query}"), Some(token), "application/zip", body).await
}

/// Checks an import report against expected.json for the fixture of one EPSG code.
fn check_report(report: &Value, epsg: &str, created: bool) {
    let want = expected();
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), want.len(), "{report}");
    for (c, w) in cases.iter().zip(&want) {
        let id = format!("BD2017-{epsg}-{}", w["suffix"].as_str().unwrap());
        assert_eq!(c["external_ref"], id.as_str());
        assert_eq!(c["town_code"], w["town"], "{id} goes to {}", w["town_name"]);
        assert_eq!(c["created"], created);
        assert_eq!(c["row"], w["index"]);
        assert_eq!(c["reported_area"], w["area_m2"]);
        let (area, stated) = (c["area_m2"].as_f64().unwrap(), w["area_m2"].as_f64().unwrap());
        assert!((area - stated).abs() < 0.01 * stated, "{id}: computed {area} m², the file says {stated}");
    }
}

#[tokio::test]
async fn shapefile_patches_route_to_their_towns_in_both_projections_and_lon_lat_and_reimport_is_a_no_op() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    for (file, epsg, query) in [
        ("baodi_4527.zip", "4527", ""),
        ("baodi_4548.zip", "4548", "?crs=EPSG:4548&source=satellite"),
        ("baodi_4490.zip", "4490", ""),
    ] {
        let (status, report) = post_zip(&app, &admin, query, fixture(file)).await;
        assert_eq!(status, 200, "{file}: {report}");
        assert_eq!(report["created"], 6, "{file}");
        assert_eq!(report["unassigned"], 0, "{file}");
        check_report(&report, epsg, true);
        let crs = report["file"]["crs"].as_str().unwrap();
        assert!(crs.contains(if epsg == "4490" { "lon/lat" } else { "Gauss-Krüger" }), "{crs}");
        assert!(report["file"]["encoding"].as_str().unwrap().starts_with("GBK"));
        assert!(report["file"]["columns"]["patch_id"].is_string());

        // The first patch: a case with the file's attributes.
        let id = report["cases"][0]["case_id"].as_str().unwrap();
        let (_, case) = app.get(&format!("/api/v1/cases/{id}"), Some(&admin)).await;
        assert_eq!(case["source"], "satellite");
        assert_eq!(case["external_ref"], format!("BD2017-{epsg}-01"));
        assert_eq!(case["description"], "新增建设用地：厂房扩建");
        assert_eq!(case["address"], "海滨街道");
        let discovered = chrono::DateTime::parse_from_rfc3339(case["discovered_at"].as_str().unwrap()).unwrap();
        assert_eq!(discovered, chrono::DateTime::parse_from_rfc3339("2017-03-12T00:00:00+08:00").unwrap());
        assert_eq!(case["polygon"]["type"], "Polygon");
        // The patch with a hole keeps it; the two-part one is a MultiPolygon.
        let hole = report["cases"][1]["case_id"].as_str().unwrap();
        let (_, case) = app.get(&format!("/api/v1/cases/{hole}"), Some(&admin)).await;
        assert_eq!(case["polygon"]["coordinates"].as_array().unwrap().len(), 2, "outer ring and hole");
        let parts = report["cases"][2]["case_id"].as_str().unwrap();
        let (_, case) = app.get(&format!("/api/v1/cases/{parts}"), Some(&admin)).await;
        assert_eq!(case["polygon"]["type"], "MultiPolygon");

        // Again: nothing changes.
        let before = app.fingerprint().await;
        let (status, again) = post_zip(&app, &admin, query, fixture(file)).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!((again["created"].as_u64(), again["existing"].as_u64()), (Some(0), Some(6)));
        check_report(&again, epsg, false);
        assert_eq!(app.fingerprint().await, before, "re-importing {file} changes nothing");
    }
    // The patch across 林亭口镇 and 八门城镇 went to 八门城镇, where most of it lies.
    let (_, page) = app.get("/api/v1/cases?source=satellite&limit=100", Some(&admin)).await;
    let across: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["external_ref"].as_str().is_some_and(|r| r.ends_with("-06")))
        .collect();
    assert_eq!(across.len(), 3);
    assert!(across.iter().all(|c| c["town"]["code"] == "120115106"), "{across:?}");
}

#[tokio::test]
async fn bad_patch_files_are_refused_whole_with_stable_codes_and_change_nothing() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let inspector = app.token("inspector").await;
    let before = app.fingerprint().await;

    assert_error(&post_zip(&app, &inspector, "", fixture("baodi_4527.zip")).await, 403, "forbidden");

    // A point shapefile: every row refused, each named in the details.
    let resp = post_zip(&app, &admin, "", fixture("points_4527.zip")).await;
    assert_error(&resp, 422, "invalid_shapefile");
    let details = &resp.1["error"]["details"];
    assert_eq!(details["kind"], "rows");
    assert_eq!(details["row"], 0);
    assert_eq!(details["rows"][1]["row"], 1);
    assert_eq!(details["rows"][1]["patch_id"], "PT-02");
    assert!(details["rows"][1]["reason"].as_str().unwrap().contains("shape type Point"));

    for (file, kind) in [("two_shp.zip", "several_shp"), ("missing_dbf.zip", "missing_file")] {
        let resp = post_zip(&app, &admin, "", fixture(file)).await;
        assert_error(&resp, 422, "invalid_shapefile");
        assert_eq!(resp.1["error"]["details"]["kind"], kind, "{file}");
    }
    let resp = post_zip(&app, &admin, "", b"PK\x03\x04 not really a zip".to_vec()).await;
    assert_error(&resp, 422, "invalid_shapefile");
    assert_eq!(resp.1["error"]["details"]["kind"], "zip");

    // CM 117E coordinates said to be zone 39: every vertex out of the zone, refused.
    let resp = post_zip(&app, &admin, "?crs=EPSG:4527", fixture("baodi_4548.zip")).await;
    assert_error(&resp, 422, "invalid_shapefile");
    assert_eq!(resp.1["error"]["details"]["rows"].as_array().unwrap().len(), 6);
    // Unsupported or malformed CRS codes are query errors.
    for crs in ["EPSG:3857", "EPSG:2436", "utm"] {
        assert_error(
            &post_zip(&app, &admin, &format!("?crs={crs}"), fixture("baodi_4527.zip")).await,
            400,
            "invalid_query",
        );
    }
    // Neither JSON nor a zip; a zip over 16 MiB.
    let resp = app
        .raw("POST", "/api/v1/cases/import", Some(&admin), "application/x-esri-shape", fixture("baodi_4490.shp"))
        .await;
    assert_error(&resp, 415, "unsupported_media_type");
    assert_error(&post_zip(&app, &admin, "", vec![0u8; 16 * 1024 * 1024 + 1]).await, 413, "payload_too_large");

    assert_eq!(app.fingerprint().await, before, "nothing was written");
}

fn args(db: &TestDb, rest: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["landpatrol".into(), "--data-dir".into(), db.dir.path().display().to_string()];
    v.extend(["--database-url".to_owned(), db.url.clone()]);
    v.extend(rest.iter().map(|s| (*s).to_owned()));
    v
}

#[tokio::test]
async fn the_command_line_imports_zips_and_shp_files_with_their_siblings() {
    let db = TestDb::new().await;
    let towns = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/demo/geo/baodi_towns_approx.geojson");
    run_args(args(&db, &["migrate"])).await.unwrap();
    run_args(args(&db, &["import", "towns", towns])).await.unwrap();

    // The lon/lat set as separate files, its siblings' extensions in upper case.
    let dir = db.dir.path().join("delivery");
    std::fs::create_dir_all(&dir).unwrap();
    for (from, to) in [("shp", "shp"), ("shx", "SHX"), ("dbf", "DBF"), ("prj", "Prj")] {
        std::fs::copy(fixture_path(&format!("baodi_4490.{from}")), dir.join(format!("baodi_4490.{to}"))).unwrap();
    }
    let shp = dir.join("baodi_4490.shp").display().to_string();
    let zone39 = fixture_path("baodi_4527.zip").display().to_string();
    let cm117 = fixture_path("baodi_4548.zip").display().to_string();
    for _ in 0..2 {
        run_args(args(&db, &["import", "patches", &shp])).await.unwrap();
        run_args(args(&db, &["import", "patches", &zone39, "--crs", "EPSG:4527"])).await.unwrap();
        run_args(args(&db, &["import", "patches", &cm117, "--source", "satellite"])).await.unwrap();
    }
    let points = fixture_path("points_4527.zip").display().to_string();
    let err = run_args(args(&db, &["import", "patches", &points])).await.unwrap_err();
    assert!(err.to_string().contains("invalid_shapefile"), "{err}");
    assert!(run_args(args(&db, &["import", "patches", &zone39, "--crs", "EPSG:3857"])).await.is_err());
    // Without its .dbf a .shp is refused.
    std::fs::remove_file(dir.join("baodi_4490.DBF")).unwrap();
    let err = run_args(args(&db, &["import", "patches", &shp])).await.unwrap_err();
    assert!(err.to_string().contains(".dbf"), "{err}");

    let mut settings = landpatrol_server::config::Settings::defaults().unwrap();
    settings.storage.data_dir = db.dir.path().to_path_buf();
    settings.database.url = db.url.clone();
    let state = landpatrol_server::startup::build_state(settings).await.unwrap();
    use sea_orm::EntityTrait;
    let cases = landpatrol_server::db::entities::cases::Entity::find().all(&state.db).await.unwrap();
    assert_eq!(cases.len(), 18, "three files of six patches, each imported once");
    let want = expected();
    for c in &cases {
        let r = c.external_ref.as_deref().unwrap();
        let w = want.iter().find(|w| r.ends_with(&format!("-{}", w["suffix"].as_str().unwrap()))).unwrap();
        assert_eq!(
            c.town_id.map(|t| t.to_string()),
            Some(landpatrol_tests::town_id(w["town"].as_str().unwrap())),
            "{r}"
        );
        assert_eq!(c.source, "satellite");
    }
}
