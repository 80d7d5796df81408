//! Resumable uploads (tus 1.0.0): discovery, creation, a transfer cut by the
//! network and resumed, checksums, offsets, termination, expiry.

use base64::Engine;
use landpatrol_tests::tus::{create, header, patch};
use landpatrol_tests::{TestApp, photo_fixture, sha256_hex};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sha2::Digest;
use tokio::io::AsyncWriteExt;

const PHOTO: &str = "drewnoakes__metadata-extractor-images/Oppo R7 Plus.jpg";

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn head(app: &TestApp, token: &str, url: &str) -> (StatusCode, HeaderMap) {
    let resp = app.client.head(url).bearer_auth(token).header("Tus-Resumable", "1.0.0").send().await.unwrap();
    (resp.status(), resp.headers().clone())
}

/// Sends a PATCH announcing all of `body` but writes only `sent` bytes, then
/// drops the connection: the network failing part way.
async fn cut_patch(app: &TestApp, token: &str, url: &str, offset: usize, body: &[u8], sent: usize) {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let path = url.trim_start_matches(&app.base).to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..sent]).await.unwrap();
    s.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(s);
}

#[tokio::test]
async fn options_advertise_the_protocol() {
    let app = TestApp::spawn().await;
    let resp = app.client.request(reqwest::Method::OPTIONS, app.url("/api/v1/uploads")).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let h = resp.headers();
    assert_eq!(header(h, "tus-version"), "1.0.0");
    assert_eq!(header(h, "tus-resumable"), "1.0.0");
    let ext = header(h, "tus-extension");
    for e in ["creation", "termination", "checksum", "expiration"] {
        assert!(ext.split(',').any(|x| x == e), "{ext}");
    }
    assert!(header(h, "tus-checksum-algorithm").split(',').any(|a| a == "sha256"));
    assert_eq!(header(h, "tus-max-size"), "31457280");
}

#[tokio::test]
async fn an_upload_cut_in_the_middle_resumes_and_completes() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let bytes = photo_fixture(PHOTO);
    let sha = sha256_hex(&bytes);
    let meta = format!("sha256 {},filename {}", b64(sha.as_bytes()), b64(b"IMG_0001.jpg"));
    let (status, h) = create(&app, &token, bytes.len(), &meta).await;
    assert_eq!(status, 201);
    assert_eq!(header(&h, "tus-resumable"), "1.0.0");
    assert!(!header(&h, "upload-expires").is_empty());
    let url = header(&h, "location");
    assert!(url.starts_with(&app.base), "{url}");

    // First chunk, with a checksum.
    let first = 400_000;
    let sum = format!("sha256 {}", b64(&sha2::Sha256::digest(&bytes[..first])));
    let (status, h, _) = patch(&app, &token, &url, 0, &bytes[..first], Some(sum)).await;
    assert_eq!(status, 204);
    assert_eq!(header(&h, "upload-offset"), first.to_string());

    // The network drops 700 kB into the second chunk.
    let sent = 700_000;
    cut_patch(&app, &token, &url, first, &bytes[first..], sent).await;
    let mut offset = 0;
    for _ in 0..100 {
        let (status, h) = head(&app, &token, &url).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "upload-length"), bytes.len().to_string());
        assert_eq!(header(&h, "cache-control"), "no-store");
        offset = header(&h, "upload-offset").parse().unwrap();
        if offset == first + sent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(offset, first + sent, "the bytes that arrived before the cut are kept");

    // A stale offset is refused; the right one completes the upload.
    let (status, _, body) = patch(&app, &token, &url, first, &bytes[first..], None).await;
    assert_eq!(status, 409, "{body}");
    let (status, h, body) = patch(&app, &token, &url, offset, &bytes[offset..], None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(header(&h, "upload-offset"), bytes.len().to_string());
    assert_eq!(header(&h, "landpatrol-photo-sha256"), sha);
    // The final response was lost: the client asks again and is told it is done.
    let (status, h) = head(&app, &token, &url).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "upload-offset"), bytes.len().to_string());
    let (status, _, _) = patch(&app, &token, &url, bytes.len(), b"", None).await;
    assert_eq!(status, 204, "a replayed final PATCH is a no-op");

    let photo = app.settled_photo(&token, &sha).await;
    assert_eq!(photo["exif"]["make"], "OPPO");
    let resp =
        app.client.get(app.url(&format!("/api/v1/photos/{sha}/original"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap().to_vec(), bytes, "the resumed upload is byte-identical");
}

#[tokio::test]
async fn checksums_offsets_and_versions_are_enforced() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let bytes = photo_fixture(PHOTO);
    let (status, h) = create(&app, &token, bytes.len(), "").await;
    assert_eq!(status, 201);
    let url = header(&h, "location");
    let bad = format!("sha256 {}", b64(&sha2::Sha256::digest(b"other bytes")));
    let (status, _, body) = patch(&app, &token, &url, 0, &bytes[..1000], Some(bad)).await;
    assert_eq!(status.as_u16(), 460, "{body}");
    assert!(body.contains("checksum_mismatch"));
    assert_eq!(header(&head(&app, &token, &url).await.1, "upload-offset"), "0", "the bad chunk was discarded");
    let (status, _, body) = patch(&app, &token, &url, 0, &bytes[..1000], Some("md5 AAAA".into())).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("checksum_algorithm_unsupported"));
    let sha1 = format!("sha1 {}", b64(&sha1_of(&bytes[..1000])));
    assert_eq!(patch(&app, &token, &url, 0, &bytes[..1000], Some(sha1)).await.0, 204);
    let (status, _, body) = patch(&app, &token, &url, 5, &bytes[5..2000], None).await;
    assert_eq!(status, 409, "{body}");
    // More bytes than Upload-Length.
    let mut too_much = bytes[1000..].to_vec();
    too_much.extend_from_slice(b"extra");
    let (status, _, body) = patch(&app, &token, &url, 1000, &too_much, None).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(header(&head(&app, &token, &url).await.1, "upload-offset"), "1000");
    // Wrong content type, missing or wrong protocol version.
    let resp = app
        .client
        .patch(&url)
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "1000")
        .header("Content-Type", "image/jpeg")
        .body(bytes[1000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let resp = app
        .client
        .post(app.url("/api/v1/uploads"))
        .bearer_auth(&token)
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 412);
    assert_eq!(header(resp.headers(), "tus-version"), "1.0.0");
    let resp = app
        .client
        .post(app.url("/api/v1/uploads"))
        .bearer_auth(&token)
        .header("Tus-Resumable", "0.2.2")
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 412);
    // Bad creation headers.
    assert_eq!(create(&app, &token, 100_000_000, "").await.0, 413);
    let resp = app
        .client
        .post(app.url("/api/v1/uploads"))
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "Upload-Length is required");
    assert_eq!(create(&app, &token, 10, "sha256 !!!").await.0, 400);
    assert_eq!(create(&app, &token, 10, &format!("sha256 {}", b64(b"not-a-hash"))).await.0, 400);
    // Another user's upload does not exist for them.
    let other = app.token("admin").await;
    assert_eq!(head(&app, &other, &url).await.0, 404);
    // No token: an anonymous caller (public tips) owns no one's upload.
    let resp = app.client.head(&url).header("Tus-Resumable", "1.0.0").send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

fn sha1_of(b: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(b).to_vec()
}

#[tokio::test]
async fn creation_with_upload_termination_expiry_and_a_wrong_hash() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let bytes = photo_fixture("drewnoakes__metadata-extractor-images/HTC Desire.jpg");
    let sha = sha256_hex(&bytes);
    // creation-with-upload: the whole photo in the POST.
    let resp = app
        .client
        .post(app.url("/api/v1/uploads"))
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", bytes.len().to_string())
        .header("Upload-Metadata", format!("sha256 {}", b64(sha.as_bytes())))
        .header("Content-Type", "application/offset+octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(header(resp.headers(), "upload-offset"), bytes.len().to_string());
    assert_eq!(header(resp.headers(), "landpatrol-photo-sha256"), sha);
    assert_eq!(app.get(&format!("/api/v1/photos/{sha}"), Some(&token)).await.0, 200);

    // Termination.
    let (_, h) = create(&app, &token, 5000, "").await;
    let url = header(&h, "location");
    assert_eq!(patch(&app, &token, &url, 0, &bytes[..1000], None).await.0, 204);
    let resp = app.client.delete(&url).bearer_auth(&token).header("Tus-Resumable", "1.0.0").send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(head(&app, &token, &url).await.0, 404);

    // Expiry: an upload past its time is gone.
    let (_, h) = create(&app, &token, 5000, "").await;
    let url = header(&h, "location");
    let id = url.rsplit('/').next().unwrap();
    let db = &app.state.db;
    sea_orm::ConnectionTrait::execute_unprepared(
        db,
        &format!("UPDATE uploads SET expires_at = '2001-01-01T00:00:00Z' WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    let (status, _, body) = patch(&app, &token, &url, 0, &bytes[..100], None).await;
    assert_eq!(status, 410, "{body}");
    assert_eq!(head(&app, &token, &url).await.0, 404);

    // Bytes that do not match the announced hash are refused and not kept.
    let other = photo_fixture("drewnoakes__metadata-extractor-images/Apple iPhone 4.jpg");
    let (_, h) = create(&app, &token, other.len(), &format!("sha256 {}", b64(sha256_hex(b"x").as_bytes()))).await;
    let url = header(&h, "location");
    let (status, _, body) = patch(&app, &token, &url, 0, &other, None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("photo_hash_mismatch"), "{body}");
    assert_eq!(app.get(&format!("/api/v1/photos/{}", sha256_hex(&other)), Some(&token)).await.0, 404);
    let staging = app.state.settings.photos_dir().join("staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0, "no partial file is left behind");
}

#[tokio::test]
async fn the_sweep_removes_expired_uploads_and_their_bytes() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let bytes = photo_fixture(PHOTO);
    let (_, h) = create(&app, &token, bytes.len(), "").await;
    let url = header(&h, "location");
    assert_eq!(patch(&app, &token, &url, 0, &bytes[..10_000], None).await.0, 204);
    let (_, h) = create(&app, &token, bytes.len(), "").await;
    let live = header(&h, "location");
    let id = url.rsplit('/').next().unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.state.db,
        &format!("UPDATE uploads SET expires_at = '2001-01-01T00:00:00Z' WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    let part = app.state.settings.photos_dir().join("staging").join(format!("tus-{id}.part"));
    assert!(part.exists());
    assert_eq!(landpatrol_server::photos::tus::sweep(&app.state).await.unwrap(), 1);
    assert!(!part.exists(), "the expired upload's bytes are gone");
    assert_eq!(head(&app, &token, &url).await.0, 404);
    assert_eq!(head(&app, &token, &live).await.0, 200, "a live upload is untouched");
}

#[tokio::test]
async fn clients_that_can_only_post_override_the_method() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let bytes = photo_fixture("drewnoakes__metadata-extractor-images/HTC Desire.jpg");
    let (_, h) = create(&app, &token, bytes.len(), "").await;
    let url = header(&h, "location");
    let post = |method: &'static str, offset: usize, body: Vec<u8>| {
        app.client
            .post(&url)
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("X-HTTP-Method-Override", method)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(body)
            .send()
    };
    let resp = post("PATCH", 0, bytes[..5000].to_vec()).await.unwrap();
    assert_eq!(resp.status(), 204);
    let resp = post("HEAD", 0, vec![]).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(resp.headers(), "upload-offset"), "5000");
    let resp = post("PATCH", 5000, bytes[5000..].to_vec()).await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(header(resp.headers(), "landpatrol-photo-sha256"), sha256_hex(&bytes));
    let resp = post("PUT", 0, vec![]).await.unwrap();
    assert_eq!(resp.status(), 405);
    let resp = post("DELETE", 0, vec![]).await.unwrap();
    assert_eq!(resp.status(), 204);
}
