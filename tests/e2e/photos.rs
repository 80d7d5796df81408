//! Photos: content-addressed upload, EXIF, thumbnails, hostile files, evidence
//! checks on the records naming a photo, scope.

use landpatrol_tests::{TestApp, assert_error, photo_fixture, photo_fixtures, sha256_hex};
use serde_json::{Value, json};

const IPHONE4: &str = "drewnoakes__metadata-extractor-images/Apple iPhone 4.jpg";
const IPHONE5: &str = "drewnoakes__metadata-extractor-images/Apple iPhone 5.jpg";
/// A point in 海滨街道 (北台村), WGS-84.
const HAIBIN: (f64, f64) = (117.295129, 39.733503);

async fn bytes_of(
    app: &TestApp,
    token: &str,
    path: &str,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

fn jpeg_size(jpeg: &[u8]) -> (u32, u32) {
    // Walks the markers to the frame header.
    let mut i = 2;
    while i + 9 < jpeg.len() {
        assert_eq!(jpeg[i], 0xFF, "marker expected at {i}");
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if (0xC0..=0xC3).contains(&marker) {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return (u32::from(w), u32::from(h));
        }
        i += 2 + len;
    }
    panic!("no frame header");
}

fn has_app1(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 < jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if marker == 0xE1 {
            return true;
        }
        if marker == 0xDA {
            return false;
        }
        i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
    }
    false
}

#[tokio::test]
async fn put_head_get_original_and_thumbnails() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let bytes = photo_fixture(IPHONE5);
    let sha = sha256_hex(&bytes);
    let head = |token: String| {
        let req = app.client.head(app.url(&format!("/api/v1/photos/{sha}"))).bearer_auth(token);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(head(inspector.clone()).await, 404, "not stored yet: the phone should send it");

    let (status, photo) = app.put_photo(&inspector, &bytes).await;
    assert_eq!(status, 201, "{photo}");
    assert_eq!(photo["sha256"], sha);
    assert_eq!(photo["size_bytes"], bytes.len());
    assert_eq!(photo["media_type"], "image/jpeg");
    assert_eq!((photo["width"].as_i64(), photo["height"].as_i64()), (Some(3264), Some(2448)));
    assert_eq!(photo["exif"]["status"], "found");
    assert_eq!(photo["exif"]["make"], "Apple");
    assert_eq!(photo["exif"]["model"], "iPhone 5");
    assert_eq!(photo["exif"]["orientation"], 3);
    assert!((photo["exif"]["gps"]["lat"].as_f64().unwrap() - 47.627167).abs() < 1e-5);
    assert!((photo["exif"]["gps"]["lon"].as_f64().unwrap() + 122.337333).abs() < 1e-5);
    assert_eq!(head(inspector.clone()).await, 200);

    // A retry after a lost response changes nothing.
    let before = app.fingerprint().await;
    let (status, again) = app.put_photo(&inspector, &bytes).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(app.fingerprint().await, before);

    let photo = app.settled_photo(&inspector, &sha).await;
    assert_eq!(photo["thumbnail"], "ready", "{photo}");
    let (status, headers, original) = bytes_of(&app, &inspector, &format!("/api/v1/photos/{sha}/original")).await;
    assert_eq!(status, 200);
    assert_eq!(original, bytes, "the original is kept byte for byte");
    assert_eq!(headers["etag"], format!("\"{sha}\"").as_str());
    for size in [256u32, 1024] {
        let (status, headers, thumb) =
            bytes_of(&app, &inspector, &format!("/api/v1/photos/{sha}/thumb?size={size}")).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "image/jpeg");
        let (w, h) = jpeg_size(&thumb);
        assert_eq!(w.max(h), size, "fits the {size} box: {w}x{h}");
        assert!(w > h, "orientation 3 keeps landscape: {w}x{h}");
        assert!(!has_app1(&thumb), "thumbnails carry no EXIF");
        assert!(!thumb.windows(4).any(|w| w == b"Exif"), "no metadata at all");
    }
    let (status, _, _) = bytes_of(&app, &inspector, &format!("/api/v1/photos/{sha}/thumb?size=300")).await;
    assert_eq!(status, 400);
    // No token, no photo.
    let resp = app.client.get(app.url(&format!("/api/v1/photos/{sha}"))).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn wrong_bytes_for_the_hash_are_refused_and_nothing_is_kept() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let bytes = photo_fixture(IPHONE4);
    let other = sha256_hex(b"some other photo");
    let before = app.fingerprint().await;
    let resp = app.put_photo_as(&inspector, &other, &bytes).await;
    assert_error(&resp, 422, "photo_hash_mismatch");
    assert_eq!(resp.1["error"]["details"]["received"], sha256_hex(&bytes));
    assert_eq!(app.fingerprint().await, before);
    assert_error(&app.get(&format!("/api/v1/photos/{other}"), Some(&inspector)).await, 404, "photo_not_uploaded");
    assert_error(&app.put_photo_as(&inspector, "abc", &bytes).await, 400, "invalid_photo_hash");
    let staging = app.state.settings.photos_dir().join("staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0, "no staging file left behind");
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused() {
    let app = TestApp::spawn_with(|s| s.photos.max_upload_bytes = 100_000).await;
    landpatrol_server::demo::load(&app.state).await.unwrap();
    let inspector = app.token("inspector").await;
    let before = app.fingerprint().await;
    assert_error(&app.put_photo(&inspector, &photo_fixture(IPHONE4)).await, 413, "payload_too_large");
    assert_eq!(app.fingerprint().await, before);
}

/// A chunked body (no Content-Length) is cut off at the limit while it streams.
#[tokio::test]
async fn a_chunked_upload_over_the_limit_is_refused_while_it_streams() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|s| s.photos.max_upload_bytes = 100_000).await;
    landpatrol_server::demo::load(&app.state).await.unwrap();
    let inspector = app.token("inspector").await;
    let bytes = photo_fixture(IPHONE4);
    let sha = sha256_hex(&bytes);
    let before = app.fingerprint().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut reader, mut writer) = s.into_split();
    let head = format!(
        "PUT /api/v1/photos/{sha} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {inspector}\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    // The writer may block once the server stops reading: it runs on its own
    // and is dropped when the answer has come.
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in bytes.chunks(16 * 1024) {
            let frame = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk.to_vec(), b"\r\n".to_vec()].concat();
            writer.write_all(&frame).await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !String::from_utf8_lossy(&answer).contains("payload_too_large") {
        match tokio::time::timeout_at(deadline, reader.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    sender.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert_eq!(app.fingerprint().await, before);
    let staging = app.state.settings.photos_dir().join("staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0, "the partial body is not kept");
}

#[tokio::test]
async fn two_phones_sending_the_same_photo_at_once_store_it_once() {
    let app = TestApp::spawn_demo().await;
    let a = app.token("inspector").await;
    let b = app.token("admin").await;
    let bytes = photo_fixture(IPHONE4);
    let (ra, rb) = tokio::join!(app.put_photo(&a, &bytes), app.put_photo(&b, &bytes));
    let mut statuses = [ra.0.as_u16(), rb.0.as_u16()];
    statuses.sort_unstable();
    assert!(statuses == [200, 201] || statuses == [201, 201] || statuses == [200, 200], "{statuses:?}");
    assert!(statuses.contains(&201), "one of them stored it: {ra:?} {rb:?}");
    let count = app.fingerprint().await.into_iter().find(|(t, _)| t == "photos").unwrap().1;
    assert_eq!(count, 1);
    let originals: Vec<_> = walk(&app.state.settings.photos_dir().join("originals"));
    assert_eq!(originals.len(), 1, "{originals:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

struct Row {
    file: String,
    make_model: String,
    gps: String,
    kamadak: String,
    pillow: String,
    image_rs: String,
    magic: String,
}

fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(photo_fixtures().join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("column {name}"));
    let (file, mm, gps, magic) = (col("file"), col("make_model"), col("gps_lat_lon"), col("magic"));
    let (kam, pil, img) = (col("kamadak_exif_0.6.2"), col("pillow_decode"), col("image_0.25.10_decode"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or_default().to_owned();
            Row {
                file: get(file),
                make_model: get(mm),
                gps: get(gps),
                kamadak: get(kam),
                pillow: get(pil),
                image_rs: get(img),
                magic: get(magic),
            }
        })
        .collect()
}

/// The refusal each hostile file must get.
fn expected_refusal(file: &str) -> Option<&'static str> {
    let name = file.rsplit('/').next().unwrap();
    Some(match name {
        "empty.jpg" => "photo_empty",
        "lottapixel.jpg" | "max_size.jpg" => "photo_too_large",
        "uber.gif"
        | "Bad_reallybig.bmp"
        | "decompression_bomb.gif"
        | "decompression_bomb_extents.gif"
        | "zero_width.gif" => "photo_format_unsupported",
        "missing-sof.jpg" | "null_height.jpg" | "invalid-dimensions.jpg" | "missing-frame-image-1410.jpg" => {
            "photo_corrupt"
        }
        _ if name.ends_with(".fuzzed") => "photo_corrupt",
        _ => return None,
    })
}

#[tokio::test]
async fn every_fixture_is_read_as_the_manifest_says_and_hostile_ones_are_refused() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let refusals =
        ["photo_empty", "photo_unrecognised", "photo_format_unsupported", "photo_too_large", "photo_corrupt"];
    let mut accepted = Vec::new();
    for row in manifest() {
        let bytes = std::fs::read(photo_fixtures().join(&row.file)).unwrap();
        let (status, body) = app.put_photo(&inspector, &bytes).await;
        let sha = sha256_hex(&bytes);
        if let Some(code) = expected_refusal(&row.file) {
            assert_eq!(body["error"]["code"], code, "{}: {status} {body}", row.file);
        }
        if !status.is_success() {
            let code = body["error"]["code"].as_str().unwrap_or_default();
            assert!(refusals.contains(&code), "{}: unexpected refusal {status} {body}", row.file);
            assert_error(&app.get(&format!("/api/v1/photos/{sha}"), Some(&inspector)).await, 404, "photo_not_uploaded");
            continue;
        }
        assert_eq!(status, 201, "{}: {body}", row.file);
        accepted.push((row, sha));
    }
    assert!(accepted.len() >= 40, "most fixtures are real photos: {}", accepted.len());
    for (row, sha) in &accepted {
        let photo = app.settled_photo(&inspector, sha).await;
        let exif = &photo["exif"];
        // GPS as the manifest says; 0,0 and malformed values are no fix.
        let gps = row.gps.replace(" (via PIL)", "");
        let fix: Option<(f64, f64)> = gps.split_once(',').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        match fix {
            Some((lat, lon)) if lat != 0.0 || lon != 0.0 => {
                assert!((exif["gps"]["lat"].as_f64().unwrap_or(f64::NAN) - lat).abs() < 1e-5, "{}: {exif}", row.file);
                assert!((exif["gps"]["lon"].as_f64().unwrap_or(f64::NAN) - lon).abs() < 1e-5, "{}: {exif}", row.file);
            }
            _ => assert!(exif["gps"].is_null(), "{}: no fix expected: {exif}", row.file),
        }
        // Make and model, where the EXIF is well formed.
        let readable = row.kamadak.starts_with("OK") || row.file.ends_with("Issue 473 (Java).webp");
        if readable && let Some((make, model)) = row.make_model.replace(" [PIL]", "").split_once(" / ") {
            assert_eq!(exif["make"], make.trim(), "{}: {exif}", row.file);
            assert_eq!(exif["model"], model.trim(), "{}: {exif}", row.file);
        }
        let thumb = photo["thumbnail"].as_str().unwrap();
        if row.magic.starts_with("isobmff") {
            assert_eq!(thumb, "unavailable", "{}: HEIC keeps original and EXIF", row.file);
        } else if row.pillow == "ok" && row.image_rs.starts_with("OK") {
            assert_eq!(thumb, "ready", "{}: {photo}", row.file);
        } else {
            assert!(["ready", "failed"].contains(&thumb), "{}: {photo}", row.file);
        }
    }
    // The PHP payload in every EXIF field is data, never a make or a orientation.
    let php = sha256_hex(&photo_fixture("fuzzdb-project__fuzzdb/POC_phpinfo-metadata.jpg"));
    let photo = app.settled_photo(&inspector, &php).await;
    assert!(photo["exif"]["orientation"].is_null(), "{photo}");
    // The server is unharmed.
    assert_eq!(app.get("/healthz", None).await.0, 200);
    assert_eq!(app.put_photo(&inspector, &photo_fixture(IPHONE4)).await.0, 200, "stored once, a replay is a no-op");
}

async fn case_at(app: &TestApp, token: &str, p: (f64, f64)) -> String {
    let (status, case) = app
        .post(
            "/api/v1/cases",
            Some(token),
            json!({"source": "patrol", "location": {"lon": p.0, "lat": p.1, "crs": "wgs84", "accuracy_m": 5}, "description": "新建彩钢房", "discovered_at": "2017-05-20T00:03:11Z"}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

fn links_of(case: &Value, sha: &str) -> Vec<Value> {
    case["photos"].as_array().unwrap().iter().filter(|l| l["sha256"] == sha).cloned().collect()
}

#[tokio::test]
async fn records_name_photos_before_the_bytes_arrive_and_evidence_is_checked_after() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let bytes = photo_fixture(IPHONE4); // taken in Rome, 2011
    let sha = sha256_hex(&bytes);
    let case = case_at(&app, &inspector, HAIBIN).await;
    let (status, _) = app
        .post(
            &format!("/api/v1/cases/{case}/inspections"),
            Some(&inspector),
            json!({"kind": "site_check", "result": "illegal", "photos": [sha],
                   "location": {"lon": 117.301546, "lat": 39.734765, "crs": "gcj02", "accuracy_m": 5},
                   "inspected_at": "2017-05-20T02:30:00Z"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, detail) = app.get(&format!("/api/v1/cases/{case}"), Some(&inspector)).await;
    let links = links_of(&detail, &sha);
    assert_eq!(links.len(), 1, "{detail}");
    assert_eq!(links[0]["status"], "pending");
    assert_eq!(links[0]["thumbnail"], "missing");
    assert_eq!(links[0]["record_kind"], "inspection");

    assert_eq!(app.put_photo(&inspector, &bytes).await.0, 201);
    let (_, detail) = app.get(&format!("/api/v1/cases/{case}"), Some(&inspector)).await;
    let link = &links_of(&detail, &sha)[0];
    assert_eq!(link["status"], "checked", "{link}");
    let flags: Vec<&str> = link["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(flags.contains(&"far_from_report"), "Rome is far from Baodi: {link}");
    assert!(flags.contains(&"time_mismatch"), "2011 is not 2017: {link}");
    assert!(link["distance_m"].as_f64().unwrap() > 7_000_000.0, "{link}");

    // The same photo on a case 20 km away (周良街道): both uses are flagged.
    let far = case_at(&app, &inspector, (117.341136, 39.557182)).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/cases/{far}/inspections"),
            Some(&inspector),
            json!({"kind": "site_check", "result": "illegal", "photos": [sha],
                   "location": {"lon": 117.341136, "lat": 39.557182, "crs": "wgs84"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, far_detail) = app.get(&format!("/api/v1/cases/{far}"), Some(&inspector)).await;
    assert!(links_of(&far_detail, &sha)[0]["flags"].as_array().unwrap().contains(&json!("reused_elsewhere")));
    let (_, detail) = app.get(&format!("/api/v1/cases/{case}"), Some(&inspector)).await;
    let link = &links_of(&detail, &sha)[0];
    assert!(link["flags"].as_array().unwrap().contains(&json!("reused_elsewhere")), "{link}");

    // The photo view shows the links and their flags.
    let (_, photo) = app.get(&format!("/api/v1/photos/{sha}"), Some(&inspector)).await;
    assert!(photo["links"].as_array().unwrap().len() >= 2, "{photo}");
    assert!(photo["evidence_flags"].as_array().unwrap().contains(&json!("reused_elsewhere")), "{photo}");
}

#[tokio::test]
async fn an_officer_sees_only_photos_of_the_town() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let bytes = photo_fixture(IPHONE4);
    let sha = sha256_hex(&bytes);
    let case = case_at(&app, &inspector, HAIBIN).await;
    app.post(
        &format!("/api/v1/cases/{case}/inspections"),
        Some(&inspector),
        json!({"kind": "site_check", "result": "illegal", "photos": [sha]}),
    )
    .await;
    assert_eq!(app.put_photo(&inspector, &bytes).await.0, 201);
    let own = app.token("officer-120115001").await;
    let other = app.token("officer-120115006").await;
    assert_eq!(app.get(&format!("/api/v1/photos/{sha}"), Some(&own)).await.0, 200);
    assert_error(&app.get(&format!("/api/v1/photos/{sha}"), Some(&other)).await, 404, "not_found");
    let resp =
        app.client.get(app.url(&format!("/api/v1/photos/{sha}/original"))).bearer_auth(&other).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp =
        app.client.get(app.url(&format!("/api/v1/photos/{sha}/thumb"))).bearer_auth(&other).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn thumbnails_left_pending_by_a_stop_are_made_by_the_sweep() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let bytes = photo_fixture(IPHONE4);
    let sha = sha256_hex(&bytes);
    assert_eq!(app.put_photo(&inspector, &bytes).await.0, 201);
    app.settled_photo(&inspector, &sha).await;
    // As if the server had stopped before the thumbnails were made.
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.state.db,
        &format!("UPDATE photos SET thumbnail_status = 'pending' WHERE sha256 = '{sha}'"),
    )
    .await
    .unwrap();
    let thumbs = app.state.settings.photos_dir().join("thumbnails");
    std::fs::remove_dir_all(&thumbs).unwrap();
    let resp =
        app.client.get(app.url(&format!("/api/v1/photos/{sha}/thumb"))).bearer_auth(&inspector).send().await.unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(resp.headers()["retry-after"], "1");
    let queued = landpatrol_server::photos::service::resume_pending(&app.state).await.unwrap();
    assert_eq!(queued, 1);
    assert_eq!(app.settled_photo(&inspector, &sha).await["thumbnail"], "ready");
    let (status, _, thumb) = bytes_of(&app, &inspector, &format!("/api/v1/photos/{sha}/thumb?size=256")).await;
    assert_eq!(status, 200);
    assert_eq!(jpeg_size(&thumb).0, 256);
}

#[tokio::test]
async fn photos_named_by_synced_observations_are_linked() {
    let app = TestApp::spawn_demo().await;
    let (token, device) = app.device_session("inspector").await;
    let bytes = photo_fixture(IPHONE5);
    let sha = sha256_hex(&bytes);
    let obs = |seq: u64, lon: f64, propose: bool| {
        let mut fields = json!({"location": {"lon": lon, "lat": HAIBIN.1, "crs": "wgs84", "accuracy_m": 5},
            "note": "新建彩钢房", "photos": [sha], "observed_at": "2017-05-20T02:00:00Z"});
        if propose {
            fields["propose_case"] = json!({"description": "新建彩钢房"});
        }
        json!({"op_id": uuid::Uuid::now_v7(), "seq": seq, "hlc": format!("{}-0000-dev", chrono::Utc::now().timestamp_millis()),
               "op": "create", "table": "observations", "id": uuid::Uuid::now_v7(), "fields": fields})
    };
    // One plain observation (the batch fast path) and one proposing a case (the general path).
    let push = json!({"device_id": device, "ops": [obs(1, HAIBIN.0, false), obs(2, HAIBIN.0 + 0.0001, true)]});
    let (status, body) = app.post("/api/v1/sync/push", Some(&token), push.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{body}");
    // A replayed push links nothing twice.
    let (status, _) = app.post("/api/v1/sync/push", Some(&token), push).await;
    assert_eq!(status, 200);
    let count = |table: &'static str| {
        let app = &app;
        async move { app.fingerprint().await.into_iter().find(|(t, _)| t == table).unwrap().1 }
    };
    assert_eq!(count("photo_links").await, 2);
    assert_eq!(app.put_photo(&token, &bytes).await.0, 201);
    let (_, photo) = app.get(&format!("/api/v1/photos/{sha}"), Some(&token)).await;
    let links = photo["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{photo}");
    assert!(links.iter().all(|l| l["record_kind"] == "observation" && l["status"] == "checked"), "{photo}");
    assert!(links.iter().any(|l| !l["case_id"].is_null()), "the proposed case carries the photo: {photo}");
    assert!(!photo["evidence_flags"].as_array().unwrap().contains(&json!("reused_elsewhere")), "9 m apart: {photo}");
}

#[tokio::test]
async fn a_case_entered_with_photos_links_them() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let bytes = photo_fixture("MikeKovarik__exifr/IMG_20180725_163423-tiny.jpg");
    let sha = sha256_hex(&bytes);
    let body = json!({"source": "legacy", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "discovered_at": "2017-03-01T00:00:00Z",
                      "photos": [sha]});
    let (status, case) = app.post("/api/v1/cases", Some(&admin), body.clone()).await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap();
    let (_, detail) = app.get(&format!("/api/v1/cases/{id}"), Some(&admin)).await;
    let links = links_of(&detail, &sha);
    assert_eq!(links.len(), 1, "{detail}");
    assert_eq!((links[0]["record_kind"].as_str(), links[0]["status"].as_str()), (Some("case"), Some("pending")));
    let mut bad = body;
    bad["photos"] = json!(["not-a-hash"]);
    let before = app.fingerprint().await;
    assert_error(&app.post("/api/v1/cases", Some(&admin), bad).await, 422, "validation_failed");
    assert_eq!(app.fingerprint().await, before);
}
