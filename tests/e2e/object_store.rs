//! Photos in S3-compatible object storage (`photos.store = "s3"`), against a
//! real moto_server (tests/src/s3.rs): a direct upload, tus uploads whose
//! parts live in the bucket, thumbnails, originals streamed out of the
//! bucket, the never-overwrite rule, a big original sent in parts (multipart),
//! and two instances on one database and one bucket.

use landpatrol_server::config::PhotoSettings;
use landpatrol_server::photos::storage::{self, BlobStore, S3Store};
use landpatrol_tests::s3::{self, use_bucket};
use landpatrol_tests::tus::{self, header};
use landpatrol_tests::{TestApp, photo_fixture, sha256_hex};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sea_orm::ConnectionTrait;

const PHOTO: &str = "drewnoakes__metadata-extractor-images/Oppo R7 Plus.jpg";

async fn s3_app() -> (TestApp, String) {
    let bucket = s3::bucket().await;
    let app = TestApp::spawn_demo_with(|s| use_bucket(s, &bucket)).await;
    (app, bucket)
}

/// Starts a tus upload on `app`; its URL path (`/api/v1/uploads/<id>`).
async fn create(app: &TestApp, token: &str, length: usize, sha: &str) -> String {
    use base64::Engine;
    let metadata = format!("sha256 {}", base64::engine::general_purpose::STANDARD.encode(sha));
    let (status, h) = tus::create(app, token, length, &metadata).await;
    assert_eq!(status, 201);
    let location = header(&h, "location");
    location[location.find("/api/v1/uploads/").unwrap()..].to_owned()
}

async fn patch(app: &TestApp, token: &str, path: &str, offset: usize, body: &[u8]) -> (StatusCode, HeaderMap) {
    let (status, h, _) = tus::patch(app, token, &app.url(path), offset, body, None).await;
    (status, h)
}

async fn bytes_of(app: &TestApp, token: &str, path: &str) -> (StatusCode, Vec<u8>) {
    let resp = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

/// The files left in an instance's staging folder.
fn staging_files(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(app.state.photos.store.staging_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A valid JPEG of about `size` bytes: a real photo with bytes after its end
/// marker (decoders stop at the marker; the hash covers everything).
fn big_jpeg(size: usize) -> Vec<u8> {
    let mut bytes = photo_fixture(PHOTO);
    let mut filler = 0x5eed_u32;
    while bytes.len() < size {
        filler = filler.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        bytes.push((filler >> 16) as u8);
    }
    bytes
}

#[tokio::test]
async fn a_direct_upload_lands_in_the_bucket_and_streams_back() {
    if !s3::available() {
        return;
    }
    let (app, bucket) = s3_app().await;
    let token = app.token("inspector").await;
    let bytes = photo_fixture(PHOTO);
    let sha = sha256_hex(&bytes);
    let (status, body) = app.put_photo(&token, &bytes).await;
    assert_eq!(status, 201, "{body}");
    let photo = app.settled_photo(&token, &sha).await;
    assert_eq!(photo["thumbnail"], "ready", "{photo}");

    // The original and both thumbnails are in the bucket, nothing in the data folder.
    let (_, stored) = s3::object(&bucket, &storage::original_key(&sha)).await.expect("in the bucket");
    assert!(stored == bytes);
    let keys = s3::keys(&bucket, "").await;
    assert_eq!(
        keys,
        [storage::original_key(&sha), storage::thumbnail_key(&sha, 1024), storage::thumbnail_key(&sha, 256)],
    );
    assert!(!app.state.settings.photos_dir().join("originals").exists());
    assert!(staging_files(&app).is_empty(), "{:?}", staging_files(&app));

    let (st, original) = bytes_of(&app, &token, &format!("/api/v1/photos/{sha}/original")).await;
    assert_eq!(st, 200);
    assert!(original == bytes, "the original streams back byte for byte");
    for size in [256, 1024] {
        let (st, thumb) = bytes_of(&app, &token, &format!("/api/v1/photos/{sha}/thumb?size={size}")).await;
        assert_eq!(st, 200);
        assert_eq!(&thumb[..2], [0xff, 0xd8], "a JPEG");
        let (_, in_bucket) = s3::object(&bucket, &storage::thumbnail_key(&sha, size)).await.unwrap();
        assert!(thumb == in_bucket);
    }
    assert_eq!(app.put_photo(&token, &bytes).await.0, 200, "sending it again is a no-op");
    assert_eq!(app.state.photos.thumbnail_jobs(), 1);
}

#[tokio::test]
async fn a_stored_original_is_never_overwritten() {
    if !s3::available() {
        return;
    }
    let bucket = s3::bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let sha = "ab".repeat(32);
    let key = storage::original_key(&sha);
    // Both ways the store keeps the first bytes: a conditional PUT
    // (`If-None-Match: *`) and, for servers without it, a look before the PUT;
    // and a big file (a multipart upload, always looked before).
    for conditional_put in [true, false] {
        let mut settings = landpatrol_server::config::Settings::defaults().unwrap();
        use_bucket(&mut settings, &bucket);
        settings.photos.conditional_put = conditional_put;
        settings.photos.multipart_part_mib = 5;
        let cfg: PhotoSettings = settings.photos.clone();
        let store = S3Store::open(&cfg, dir.path()).unwrap();
        let key = format!("{key}-{conditional_put}");
        let staged = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        assert!(store.commit(&staged("a", b"first"), &key).await.unwrap(), "stored");
        assert!(!store.commit(&staged("b", b"second"), &key).await.unwrap(), "already there");
        let big = vec![7u8; 6 << 20];
        assert!(!store.commit(&staged("c", &big), &key).await.unwrap(), "a big one neither");
        assert_eq!(store.read(&key).await.unwrap(), b"first");
        assert!(!dir.path().join("a").exists() && !dir.path().join("b").exists() && !dir.path().join("c").exists());
    }
    assert_eq!(s3::keys(&bucket, "originals/").await.len(), 2);
}

#[tokio::test]
async fn a_tus_upload_keeps_its_parts_in_the_bucket_and_a_big_original_goes_multipart() {
    if !s3::available() {
        return;
    }
    let (app, bucket) = s3_app().await;
    let token = app.token("inspector").await;
    // 18 MiB: three PATCHes of 6 MiB, then an original of more than one
    // 8 MiB part (`photos.multipart_part_mib`).
    let bytes = big_jpeg(18 << 20);
    let sha = sha256_hex(&bytes);
    let path = create(&app, &token, bytes.len(), &sha).await;
    let id = path.rsplit('/').next().unwrap().to_owned();
    let chunk = 6 << 20;
    for (i, part) in bytes.chunks(chunk).enumerate() {
        let (st, h) = patch(&app, &token, &path, i * chunk, part).await;
        assert_eq!(st, 204, "{h:?}");
        if i < 2 {
            let parts = s3::keys(&bucket, &format!("uploads/{id}/")).await;
            assert_eq!(parts.len(), i + 1, "each PATCH is a part in the bucket: {parts:?}");
            assert!(parts[i].starts_with(&format!("uploads/{id}/{:020}-", i * chunk)), "{parts:?}");
        } else {
            assert_eq!(header(&h, "landpatrol-photo-sha256"), sha);
        }
    }
    assert!(s3::keys(&bucket, "uploads/").await.is_empty(), "the parts are removed once taken in");
    assert!(staging_files(&app).is_empty(), "{:?}", staging_files(&app));
    assert!(!app.state.settings.photos_dir().join("staging").join(format!("tus-{id}.part")).exists());

    let (etag, stored) = s3::object(&bucket, &storage::original_key(&sha)).await.expect("in the bucket");
    assert!(stored == bytes);
    assert!(etag.trim_matches('"').ends_with("-3"), "sent as a multipart upload of three parts: {etag}");
    let (st, original) = bytes_of(&app, &token, &format!("/api/v1/photos/{sha}/original")).await;
    assert_eq!(st, 200);
    assert_eq!(original.len(), bytes.len());
    assert!(original == bytes, "streamed back byte for byte");
    assert_eq!(app.settled_photo(&token, &sha).await["thumbnail"], "ready");

    // A refused chunk (wrong checksum) records no part and moves nothing.
    let small = photo_fixture("drewnoakes__metadata-extractor-images/HTC Desire.jpg");
    let path = create(&app, &token, small.len(), &sha256_hex(&small)).await;
    let resp = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Upload-Checksum", "sha256 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .header("Content-Type", "application/offset+octet-stream")
        .body(small[..1000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 460);
    assert!(s3::keys(&bucket, "uploads/").await.is_empty());
    // Terminating an upload removes its parts.
    assert_eq!(patch(&app, &token, &path, 0, &small[..1000]).await.0, 204);
    assert_eq!(s3::keys(&bucket, "uploads/").await.len(), 1);
    let resp = app.client.delete(app.url(&path)).bearer_auth(&token).header("Tus-Resumable", "1.0.0").send().await;
    assert_eq!(resp.unwrap().status(), 204);
    assert!(s3::keys(&bucket, "uploads/").await.is_empty());
}

#[tokio::test]
async fn two_instances_share_one_upload_and_make_its_thumbnails_once() {
    if !s3::available() {
        return;
    }
    let (a, bucket) = s3_app().await;
    let b = a.instance_elsewhere().await;
    let token = a.token("inspector").await;
    let bytes = photo_fixture(PHOTO);
    let sha = sha256_hex(&bytes);
    let third = bytes.len() / 3;

    // Created on A, its middle PATCH lands on B, the last one on A again.
    let path = create(&a, &token, bytes.len(), &sha).await;
    assert_eq!(patch(&a, &token, &path, 0, &bytes[..third]).await.0, 204);
    let (st, h) = patch(&b, &token, &path, third, &bytes[third..2 * third]).await;
    assert_eq!(st, 204);
    assert_eq!(header(&h, "upload-offset"), (2 * third).to_string());
    let resp = b.client.head(b.url(&path)).bearer_auth(&token).header("Tus-Resumable", "1.0.0").send().await.unwrap();
    assert_eq!(header(resp.headers(), "upload-offset"), (2 * third).to_string(), "B sees A's offset too");
    let (st, h) = patch(&a, &token, &path, 2 * third, &bytes[2 * third..]).await;
    assert_eq!(st, 204);
    assert_eq!(header(&h, "landpatrol-photo-sha256"), sha);

    // Both instances' sweeps look for pending thumbnails at once: one makes them.
    let (ra, rb) = tokio::join!(
        landpatrol_server::photos::service::resume_pending(&a.state),
        landpatrol_server::photos::service::resume_pending(&b.state),
    );
    ra.unwrap();
    rb.unwrap();
    for app in [&a, &b] {
        assert_eq!(app.settled_photo(&token, &sha).await["thumbnail"], "ready");
    }
    assert_eq!(
        a.state.photos.thumbnail_jobs() + b.state.photos.thumbnail_jobs(),
        1,
        "the thumbnails were made exactly once across the two instances"
    );
    assert_eq!(s3::keys(&bucket, "thumbnails/").await.len(), 2);

    // Readable from both, the same bytes.
    let mut thumbs = Vec::new();
    for app in [&a, &b] {
        let (st, original) = bytes_of(app, &token, &format!("/api/v1/photos/{sha}/original")).await;
        assert_eq!(st, 200);
        assert!(original == bytes);
        let (st, thumb) = bytes_of(app, &token, &format!("/api/v1/photos/{sha}/thumb?size=256")).await;
        assert_eq!(st, 200);
        thumbs.push(thumb);
    }
    assert!(thumbs[0] == thumbs[1]);
    assert!(s3::keys(&bucket, "uploads/").await.is_empty());
    assert!(staging_files(&a).is_empty() && staging_files(&b).is_empty());
}

#[tokio::test]
async fn claims_hold_across_instances_and_lapse_with_a_dead_one() {
    if !s3::available() {
        return;
    }
    let (a, _bucket) = s3_app().await;
    let b = a.instance_elsewhere().await;
    let token = a.token("inspector").await;
    let bytes = photo_fixture(PHOTO);
    let sha = sha256_hex(&bytes);

    // A writer on A holds the upload: B answers 423 until the claim is released.
    let path = create(&a, &token, bytes.len(), &sha).await;
    let id = path.rsplit('/').next().unwrap().to_owned();
    let claim = a.state.photos.claim_upload(&a.state.db, &id).await.unwrap().expect("claimed");
    assert_eq!(patch(&b, &token, &path, 0, &bytes[..1000]).await.0, 423);
    assert!(b.state.photos.claim_upload(&b.state.db, &id).await.unwrap().is_none());
    claim.release().await;
    assert_eq!(patch(&b, &token, &path, 0, &bytes[..1000]).await.0, 204);

    // A claim whose instance died (its lease past) is taken over.
    let stale = a.state.photos.claim_upload(&a.state.db, &id).await.unwrap().expect("claimed");
    assert_eq!(patch(&b, &token, &path, 1000, &bytes[1000..2000]).await.0, 423);
    a.state
        .db
        .execute_unprepared(&format!("UPDATE uploads SET lease_until = '2001-01-01T00:00:00Z' WHERE id = '{id}'"))
        .await
        .unwrap();
    let (st, h) = patch(&b, &token, &path, 1000, &bytes[1000..]).await;
    assert_eq!(st, 204);
    assert_eq!(header(&h, "landpatrol-photo-sha256"), sha);
    stale.release().await;
    assert_eq!(b.settled_photo(&token, &sha).await["thumbnail"], "ready");

    // A photo whose thumbnails another instance claimed is left to it while
    // its lease runs, and made by the next sweep once the lease has lapsed.
    let jobs = a.state.photos.thumbnail_jobs() + b.state.photos.thumbnail_jobs();
    let reset = |until: &str| {
        format!(
            "UPDATE photos SET thumbnail_status = 'pending', thumbnail_worker = 'a-dead-instance', \
             thumbnail_lease_until = '{until}' WHERE sha256 = '{sha}'"
        )
    };
    a.state.db.execute_unprepared(&reset("2999-01-01T00:00:00Z")).await.unwrap();
    assert!(!landpatrol_server::photos::service::claim_thumbnails(&a.state, &sha).await.unwrap());
    assert!(!landpatrol_server::photos::service::claim_thumbnails(&b.state, &sha).await.unwrap());
    a.state.db.execute_unprepared(&reset("2001-01-01T00:00:00Z")).await.unwrap();
    landpatrol_server::photos::service::resume_pending(&b.state).await.unwrap();
    assert_eq!(b.settled_photo(&token, &sha).await["thumbnail"], "ready");
    assert_eq!(a.state.photos.thumbnail_jobs() + b.state.photos.thumbnail_jobs(), jobs + 1);
}
