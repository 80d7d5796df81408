//! The `landpatrol` command line, run in-process against the test database.

use landpatrol_server::cli::run_args;
use landpatrol_server::config::Settings;
use landpatrol_server::startup::build_state;
use landpatrol_tests::TestDb;
use serde_json::json;

const TOWNS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/demo/geo/baodi_towns_approx.geojson");

fn args<'a>(db: &'a TestDb, rest: &[&'a str]) -> Vec<String> {
    let mut v = vec![
        "landpatrol".to_owned(),
        "--data-dir".into(),
        db.dir.path().display().to_string(),
        "--database-url".into(),
        db.url.clone(),
    ];
    v.extend(rest.iter().map(|s| (*s).to_owned()));
    v
}

#[tokio::test]
async fn migrate_import_towns_create_users_and_import_patches() {
    let db = TestDb::new().await;
    run_args(args(&db, &["migrate"])).await.unwrap();
    run_args(args(&db, &["import", "towns", TOWNS])).await.unwrap();
    run_args(args(&db, &["import", "towns", TOWNS])).await.unwrap();
    run_args(args(
        &db,
        &[
            "admin",
            "create-user",
            "--username",
            "cli-officer",
            "--password",
            "long enough pass",
            "--role",
            "town_officer",
            "--town",
            "120115002",
        ],
    ))
    .await
    .unwrap();
    assert!(
        run_args(args(
            &db,
            &[
                "admin",
                "create-user",
                "--username",
                "cli-officer",
                "--password",
                "long enough pass",
                "--role",
                "inspector"
            ]
        ))
        .await
        .is_err(),
        "duplicate username"
    );
    assert!(
        run_args(args(
            &db,
            &["admin", "create-user", "--username", "x", "--password", "long enough pass", "--role", "emperor"]
        ))
        .await
        .is_err()
    );
    assert!(run_args(args(&db, &["import", "towns", "/nonexistent.geojson"])).await.is_err());

    let patches = db.dir.path().join("patches.geojson");
    let h = 0.0004;
    let (a, b) = (117.295129, 39.733503);
    std::fs::write(
        &patches,
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"patch_id": "CLI-1"}, "geometry": {"type": "Polygon", "coordinates": [[[a - h, b - h], [a + h, b - h], [a + h, b + h], [a - h, b + h], [a - h, b - h]]]}},
            {"type": "Feature", "properties": {"patch_id": "CLI-2", "source": "idle_land"}, "geometry": {"type": "Polygon", "coordinates": [[[a, b], [a + h, b], [a + h, b + h], [a, b]]]}}
        ]})
        .to_string(),
    )
    .unwrap();
    let path = patches.display().to_string();
    run_args(args(&db, &["import", "patches", &path])).await.unwrap();
    run_args(args(&db, &["import", "patches", &path])).await.unwrap();
    assert!(run_args(args(&db, &["import", "patches", &path, "--source", "ufo"])).await.is_err());

    let out = db.dir.path().join("docs");
    run_args(args(&db, &["openapi", "--out", &out.display().to_string()])).await.unwrap();
    assert_eq!(std::fs::read_to_string(out.join("openapi.json")).unwrap(), landpatrol_server::openapi::document());

    // What the commands left in the database.
    let mut settings = Settings::defaults().unwrap();
    settings.storage.data_dir = db.dir.path().to_path_buf();
    settings.database.url = db.url.clone();
    let state = build_state(settings).await.unwrap();
    assert_eq!(landpatrol_server::towns::service::list(&state.db).await.unwrap().len(), 23);
    let users = landpatrol_server::auth::service::list_users(&state.db).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].town_id.unwrap().to_string(), landpatrol_tests::town_id("120115002"));
    use sea_orm::{EntityTrait, PaginatorTrait};
    let cases = landpatrol_server::db::entities::cases::Entity::find().all(&state.db).await.unwrap();
    assert_eq!(cases.len(), 2, "the second import added nothing");
    assert!(cases.iter().all(|c| c.town_id.is_some()));
    assert!(cases.iter().any(|c| c.source == "idle_land"));
    let events = landpatrol_server::db::entities::case_events::Entity::find().count(&state.db).await.unwrap();
    assert_eq!(events, 2);
}
