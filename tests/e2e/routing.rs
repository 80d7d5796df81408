//! Routing points to towns: the 15 real villages, from WGS-84 and GCJ-02.

use landpatrol_tests::{TestApp, assert_error, town_id};
use serde_json::json;

const VILLAGES: &str = include_str!("../../server/demo/geo/baodi_village_points.csv");

struct Village {
    name: String,
    town: String,
    wgs: (f64, f64),
    gcj: (f64, f64),
}

fn villages() -> Vec<Village> {
    VILLAGES
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let f = |i: usize| c[i].trim().parse::<f64>().unwrap();
            Village { name: c[0].into(), town: c[1].into(), wgs: (f(2), f(3)), gcj: (f(4), f(5)) }
        })
        .collect()
}

#[tokio::test]
async fn all_fifteen_villages_route_to_their_town_from_wgs84_and_gcj02() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let vs = villages();
    assert_eq!(vs.len(), 15);
    for v in &vs {
        for (crs, (lon, lat)) in [("wgs84", v.wgs), ("gcj02", v.gcj)] {
            let (status, body) =
                app.get(&format!("/api/v1/towns/locate?lon={lon}&lat={lat}&crs={crs}"), Some(&token)).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["town"]["name"], v.town.as_str(), "{} ({crs}) routed to {}", v.name, body["town"]);
            assert_eq!(body["unassigned"], false);
            assert_eq!(body["point"]["crs"], "wgs84");
            if crs == "gcj02" {
                // Converted back to within a metre of the surveyed WGS-84 position.
                let dlon = (body["point"]["lon"].as_f64().unwrap() - v.wgs.0).abs();
                let dlat = (body["point"]["lat"].as_f64().unwrap() - v.wgs.1).abs();
                assert!(dlon < 1e-5 && dlat < 1e-5, "{}: {dlon} {dlat}", v.name);
            }
        }
    }
}

#[tokio::test]
async fn cases_created_at_villages_belong_to_their_town() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let towns = app.get("/api/v1/towns", Some(&token)).await.1;
    for v in villages().iter().take(6) {
        let (status, body) = app
            .post(
                "/api/v1/cases",
                Some(&token),
                json!({"source": "patrol", "location": {"lon": v.gcj.0, "lat": v.gcj.1, "crs": "gcj02", "accuracy_m": 6}, "description": v.name}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["town"]["name"], v.town.as_str());
        let code = towns.as_array().unwrap().iter().find(|t| t["name"] == v.town.as_str()).unwrap()["code"].clone();
        assert_eq!(body["town"]["code"], code);
        assert_eq!(body["town"]["id"], town_id(code.as_str().unwrap()));
        assert!((body["location"]["lon"].as_f64().unwrap() - v.wgs.0).abs() < 1e-5, "stored as WGS-84");
    }
}

#[tokio::test]
async fn poor_and_mock_positions_are_accepted_but_flagged() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let (status, case) = app
        .post(
            "/api/v1/cases",
            Some(&token),
            json!({"source": "patrol", "location": {"lon": 117.295129, "lat": 39.733503, "accuracy_m": 120, "mock": true}}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    let flags = case["flags"].as_array().unwrap();
    assert!(flags.contains(&json!("low_accuracy")) && flags.contains(&json!("mock_location")), "{flags:?}");
    assert_eq!(case["town"]["code"], "120115001");
}

#[tokio::test]
async fn bd09_points_are_converted() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    // 北台村委会 in BD-09 (gcj02 + Baidu offset).
    let (lon, lat) = landpatrol_sync::coords::gcj02_to_bd09(117.301546, 39.734765);
    let (status, body) = app.get(&format!("/api/v1/towns/locate?lon={lon}&lat={lat}&crs=bd09"), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["town"]["name"], "海滨街道");
    assert!((body["point"]["lon"].as_f64().unwrap() - 117.295129).abs() < 1e-4);
}

#[tokio::test]
async fn a_point_outside_every_town_goes_to_the_unassigned_queue() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let (status, body) = app.get("/api/v1/towns/locate?lon=116.40&lat=39.90", Some(&inspector)).await;
    assert_eq!(status, 200);
    assert_eq!(body["town"], serde_json::Value::Null);
    assert_eq!(body["unassigned"], true);

    let (status, case) = app
        .post("/api/v1/cases", Some(&inspector), json!({"source": "patrol", "location": {"lon": 116.40, "lat": 39.90}}))
        .await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(case["town"], serde_json::Value::Null);
    assert!(case["flags"].as_array().unwrap().contains(&json!("unassigned")));

    let admin = app.token("admin").await;
    let queue = app.get("/api/v1/cases?town=unassigned", Some(&admin)).await.1;
    let ids: Vec<_> = queue["items"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    assert!(ids.contains(&case["id"]), "the bureau sees it in the unassigned queue");
    let officer = app.token("officer-120115001").await;
    assert_error(&app.get("/api/v1/cases?town=unassigned", Some(&officer)).await, 403, "out_of_scope");
}

#[tokio::test]
async fn points_near_a_border_are_flagged_with_the_neighbour() {
    // 北台村 is about 532 m from the 海滨/朝霞 border in the approximate polygons.
    let app = TestApp::spawn_with(|s| s.routing.near_boundary_m = 600.0).await;
    landpatrol_server::demo::load(&app.state).await.unwrap();
    let token = app.token("inspector").await;
    let (_, body) = app.get("/api/v1/towns/locate?lon=117.295129&lat=39.733503", Some(&token)).await;
    assert_eq!(body["town"]["name"], "海滨街道");
    assert_eq!(body["near_boundary"], true, "{body}");
    assert_eq!(body["neighbour"]["name"], "朝霞街道");
    assert!(body["border_distance_m"].as_f64().unwrap() < 600.0);

    let (status, case) = app
        .post(
            "/api/v1/cases",
            Some(&token),
            json!({"source": "patrol", "location": {"lon": 117.295129, "lat": 39.733503}}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(case["near_boundary"], true);
    assert_eq!(case["neighbour_town"]["name"], "朝霞街道");

    // With the default 100 m the same point is well inside.
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let (_, body) = app.get("/api/v1/towns/locate?lon=117.295129&lat=39.733503", Some(&token)).await;
    assert_eq!(body["near_boundary"], false);
    assert_eq!(body["neighbour"], serde_json::Value::Null);
}

#[tokio::test]
async fn towns_list_get_and_import() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("officer-120115002").await;
    let (status, list) = app.get("/api/v1/towns", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 23);
    let (status, town) = app.get("/api/v1/towns/120115001", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(town["name"], "海滨街道");
    assert_eq!(town["boundary"]["type"], "Polygon");
    let (status, same) = app.get(&format!("/api/v1/towns/{}", town_id("120115001")), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(same["code"], "120115001");
    assert_error(&app.get("/api/v1/towns/999999999", Some(&token)).await, 404, "not_found");

    // Re-importing the same file changes nothing; an edited boundary updates one town.
    let admin = app.token("admin").await;
    let doc: serde_json::Value = serde_json::from_str(landpatrol_server::demo::TOWNS_GEOJSON).unwrap();
    let (status, report) = app.post("/api/v1/towns/import", Some(&admin), doc).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({"created": 0, "updated": 0, "unchanged": 23}));
    let square = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "999000001", "name": "测试镇"},
        "geometry": {"type": "Polygon", "coordinates": [[[118.0, 40.0], [118.1, 40.0], [118.1, 40.1], [118.0, 40.1], [118.0, 40.0]]]}}]});
    let (status, report) = app.post("/api/v1/towns/import", Some(&admin), square).await;
    assert_eq!(status, 200);
    assert_eq!(report["created"], 1);
    let (_, located) = app.get("/api/v1/towns/locate?lon=118.05&lat=40.05", Some(&admin)).await;
    assert_eq!(located["town"]["code"], "999000001", "the routing index is refreshed after an import");
}

#[tokio::test]
async fn a_second_instance_picks_up_towns_imported_by_the_first() {
    let app = TestApp::spawn().await;
    let second = landpatrol_server::startup::build_state((*app.state.settings).clone()).await.unwrap();
    assert!(second.towns.locate(117.295129, 39.733503).town.is_none());
    landpatrol_server::demo::load(&app.state).await.unwrap();
    assert!(second.towns.locate(117.295129, 39.733503).town.is_none(), "not yet refreshed");
    assert!(landpatrol_server::towns::service::refresh_if_changed(&second.db, &second.towns).await.unwrap());
    assert_eq!(second.towns.locate(117.295129, 39.733503).town.unwrap().code, "120115001");
    assert!(
        !landpatrol_server::towns::service::refresh_if_changed(&second.db, &second.towns).await.unwrap(),
        "nothing new"
    );
}
