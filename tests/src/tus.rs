//! tus 1.0.0 requests as the e2e tests send them (uploads, object storage).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::TestApp;

/// A response header as text; empty when absent.
pub fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// `POST /api/v1/uploads` announcing `length` bytes with `metadata` (`Upload-Metadata`).
pub async fn create(app: &TestApp, token: &str, length: usize, metadata: &str) -> (StatusCode, HeaderMap) {
    let resp = app
        .client
        .post(app.url("/api/v1/uploads"))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", metadata)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.headers().clone())
}

/// `PATCH url` with `body` at `offset`, and an `Upload-Checksum` when given.
pub async fn patch(
    app: &TestApp,
    token: &str,
    url: &str,
    offset: usize,
    body: &[u8],
    checksum: Option<String>,
) -> (StatusCode, HeaderMap, String) {
    let mut req = app
        .client
        .patch(url)
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(body.to_vec());
    if let Some(c) = checksum {
        req = req.header("Upload-Checksum", c);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.headers().clone(), resp.text().await.unwrap())
}
