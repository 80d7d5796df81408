//! The bytes of a tus upload: appended to a local staging file (one instance) or, with a
//! shared store, each PATCH's bytes a part of their own in the store, read back in order
//! when the upload is complete. The protocol around them is in the parent module.

use super::*;

/// Appends the body at `offset` (the caller holds the upload's claim).
pub(super) async fn append(
    state: &AppState,
    row: uploads::Model,
    offset: u64,
    h: &HeaderMap,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let checksum = parse_checksum(h)?;
    // Re-read under the claim: another writer may have moved it meanwhile.
    let row = uploads::Entity::find_by_id(row.id.clone())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("upload"))?;
    if state.photos.store.shared() {
        return append_part(state, row, offset, checksum, payload).await;
    }
    let path = part_path(state, &row.id);
    let mut file = tokio::fs::OpenOptions::new().write(true).open(&path).await.map_err(ApiError::internal)?;
    let recorded = offset_of(&row);
    // Bytes written after the last recorded offset (a crash between the write
    // and the record) are cut off: the recorded offset is the truth.
    file.set_len(recorded).await.map_err(ApiError::internal)?;
    if offset != recorded {
        return Err(mismatch(&row));
    }
    file.seek(std::io::SeekFrom::Start(recorded)).await.map_err(ApiError::internal)?;
    let mut digests = digests_for(checksum.as_ref());
    let room = length_of(&row) - recorded;
    let received = body::receive(&mut payload, &mut file, room, &mut digests).await.map_err(ApiError::internal)?;
    let keep = match kept(&received, checksum.as_ref(), &mut digests) {
        Ok(n) => n,
        Err(e) => {
            file.set_len(recorded).await.map_err(ApiError::internal)?;
            return Err(e);
        }
    };
    file.set_len(recorded + keep).await.map_err(ApiError::internal)?;
    file.sync_data().await.map_err(ApiError::internal)?;
    drop(file);
    let mut m: uploads::ActiveModel = row.into();
    m.upload_offset = Set(i64::try_from(recorded + keep).unwrap_or(i64::MAX));
    m.expires_at = Set(Utc::now() + expiry(state));
    let row = m.update(&state.db).await?;
    written(state, row, received.ended).await
}

pub(super) fn digests_for(checksum: Option<&Checksum>) -> Digests {
    Digests { sha1: matches!(checksum, Some(Checksum::Sha1(_))).then(sha1::Sha1::default), ..Digests::default() }
}

/// How many of the received bytes are kept; an error when none may be.
pub(super) fn kept(received: &body::Received, checksum: Option<&Checksum>, digests: &mut Digests) -> ApiResult<u64> {
    match (&received.ended, checksum) {
        (Ended::TooLarge, _) => Err(ApiError::new(ErrorCode::PayloadTooLarge, "more bytes than Upload-Length")),
        // A broken chunk with a checksum can not be verified: drop it.
        (Ended::Interrupted(_), Some(_)) => Ok(0),
        (Ended::Interrupted(_), None) => Ok(received.bytes),
        (Ended::Complete, Some(sum)) => {
            let ok = match sum {
                Checksum::Sha256(d) => std::mem::take(&mut digests.sha256).finalize()[..] == d[..],
                Checksum::Sha1(d) => digests.sha1.take().is_some_and(|h| h.finalize()[..] == d[..]),
            };
            if !ok {
                return Err(ApiError::new(ErrorCode::ChecksumMismatch, "the chunk does not match Upload-Checksum"));
            }
            Ok(received.bytes)
        }
        (Ended::Complete, None) => Ok(received.bytes),
    }
}

/// After the offset is recorded: a broken chunk is reported, a complete
/// upload taken in.
pub(super) async fn written(state: &AppState, row: uploads::Model, ended: Ended) -> ApiResult<HttpResponse> {
    if let Ended::Interrupted(why) = ended {
        return Err(ApiError::new(ErrorCode::BodyIncomplete, format!("the chunk broke off: {why}"))
            .with_details(serde_json::json!({ "offset": row.upload_offset })));
    }
    let row = if offset_of(&row) == length_of(&row) { finish(state, row).await? } else { row };
    Ok(progress(&row, StatusCode::NO_CONTENT))
}

/// The names of an upload's parts in a shared store, in order.
pub(super) fn parts_of(row: &uploads::Model) -> ApiResult<Vec<String>> {
    match row.parts.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(raw) => serde_json::from_str(raw).map_err(ApiError::internal),
    }
}

/// Appends the body at `offset` as a new part in the shared store: received
/// into a local chunk file (hashed on the way in), sent to the store, and only
/// then recorded, with the new offset, by an UPDATE conditional on the offset
/// read (so of two writers, one whose claim lapsed mid-request included, only
/// one records; the other's part is an orphan, removed with the upload).
pub(super) async fn append_part(
    state: &AppState,
    row: uploads::Model,
    offset: u64,
    checksum: Option<Checksum>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let recorded = offset_of(&row);
    if offset != recorded {
        return Err(mismatch(&row));
    }
    let store = &state.photos.store;
    let chunk = store.staging_dir().join(format!("chunk-{}", uuid::Uuid::new_v4().simple()));
    let stored: ApiResult<(body::Received, u64, Option<String>)> = async {
        let mut file = tokio::fs::File::create(&chunk).await.map_err(ApiError::internal)?;
        let mut digests = digests_for(checksum.as_ref());
        let room = length_of(&row) - recorded;
        let received = body::receive(&mut payload, &mut file, room, &mut digests).await.map_err(ApiError::internal)?;
        let keep = kept(&received, checksum.as_ref(), &mut digests)?;
        if keep == 0 {
            return Ok((received, 0, None));
        }
        file.set_len(keep).await.map_err(ApiError::internal)?;
        drop(file);
        let name = format!("{recorded:020}-{}", uuid::Uuid::new_v4().simple());
        // The store has the part durably once this returns (S3 answers a PUT
        // after storing it), before the offset below says it exists.
        store.put_file(&chunk, &storage::part_key(&row.id, &name)).await.map_err(ApiError::internal)?;
        Ok((received, keep, Some(name)))
    }
    .await;
    service::discard(&chunk).await;
    let (received, keep, name) = stored?;
    let mut parts = parts_of(&row)?;
    if let Some(name) = &name {
        parts.push(name.clone());
    }
    let recorded_i = i64::try_from(recorded).unwrap_or(i64::MAX);
    let updated = uploads::Entity::update_many()
        .col_expr(uploads::Column::UploadOffset, Expr::value(i64::try_from(recorded + keep).unwrap_or(i64::MAX)))
        .col_expr(uploads::Column::Parts, Expr::value(serde_json::to_string(&parts).map_err(ApiError::internal)?))
        .col_expr(uploads::Column::ExpiresAt, Expr::value(Utc::now() + expiry(state)))
        .filter(uploads::Column::Id.eq(row.id.clone()))
        .filter(uploads::Column::UploadOffset.eq(recorded_i))
        .exec(&state.db)
        .await?
        .rows_affected;
    let current = uploads::Entity::find_by_id(row.id.clone())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("upload"))?;
    if updated != 1 {
        // Another writer moved the upload meanwhile: this part is not recorded
        // (an orphan under the upload's folder, removed with the upload).
        return Err(mismatch(&current));
    }
    written(state, current, received.ended).await
}

/// Reads the parts of a finished upload in a shared store back, in order,
/// into a staging file, hashing on the way.
pub(super) async fn assemble(state: &AppState, row: &uploads::Model) -> ApiResult<Incoming> {
    let store = &state.photos.store;
    let path = store.staging_dir().join(format!("tus-{}-{}.whole", row.id, uuid::Uuid::new_v4().simple()));
    let assembled: ApiResult<(u64, String)> = async {
        let mut out = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        for name in parts_of(row)? {
            let mut blob = store.open(&storage::part_key(&row.id, &name)).await.map_err(ApiError::internal)?;
            loop {
                let n = blob.reader.read(&mut buf).await.map_err(ApiError::internal)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).await.map_err(ApiError::internal)?;
                total += n as u64;
            }
        }
        out.flush().await.map_err(ApiError::internal)?;
        Ok((total, hex::encode(hasher.finalize())))
    }
    .await;
    match assembled {
        Ok((len, sha256)) if len == length_of(row) => Ok(Incoming { path, len, sha256 }),
        Ok((len, _)) => {
            service::discard(&path).await;
            Err(ApiError::internal(std::io::Error::other(format!(
                "the parts of upload {} hold {len} bytes, not {}",
                row.id,
                length_of(row)
            ))))
        }
        Err(e) => {
            service::discard(&path).await;
            Err(e)
        }
    }
}

/// Hashes a whole file from disk in blocking chunks.
pub(super) async fn hash_file(path: std::path::PathBuf) -> ApiResult<String> {
    let mut file = tokio::fs::File::open(&path).await.map_err(ApiError::internal)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).await.map_err(ApiError::internal)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
