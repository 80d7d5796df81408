//! Streams a request body into a file: chunk by chunk, never the whole body in
//! memory, with a byte limit, hashing on the way.

use actix_web::web;
use futures_util::StreamExt;
use sha2::Digest;
use tokio::io::AsyncWriteExt;

/// Digests kept while bytes arrive.
#[derive(Default)]
pub struct Digests {
    pub sha256: sha2::Sha256,
    pub sha1: Option<sha1::Sha1>,
}

impl Digests {
    fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        if let Some(h) = &mut self.sha1 {
            h.update(chunk);
        }
    }
}

/// How a body ended.
pub enum Ended {
    /// All of it arrived.
    Complete,
    /// More than the limit was sent; the bytes past it were not written.
    TooLarge,
    /// The connection broke (or the client stopped) part way.
    Interrupted(String),
}

/// What was received.
pub struct Received {
    pub bytes: u64,
    pub ended: Ended,
}

/// Appends the body to `file` until it ends, breaks or passes `limit` bytes.
/// Write errors are returned; the caller decides what to keep of the rest.
pub async fn receive(
    payload: &mut web::Payload,
    file: &mut tokio::fs::File,
    limit: u64,
    digests: &mut Digests,
) -> std::io::Result<Received> {
    let mut bytes: u64 = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                file.flush().await?;
                return Ok(Received { bytes, ended: Ended::Interrupted(e.to_string()) });
            }
        };
        let len = chunk.len() as u64;
        if bytes.saturating_add(len) > limit {
            file.flush().await?;
            return Ok(Received { bytes, ended: Ended::TooLarge });
        }
        file.write_all(&chunk).await?;
        digests.update(&chunk);
        bytes += len;
    }
    file.flush().await?;
    Ok(Received { bytes, ended: Ended::Complete })
}
