//! The stable, machine-readable error codes of the API, in one table.
//!
//! A code never changes meaning once published; new codes may be added. Clients
//! that meet a code they do not know get [`ErrorCode::Unknown`].

/// Declares the error table: variant, wire code, HTTP status, meaning.
macro_rules! error_codes {
    ($($(#[$meta:meta])* $variant:ident = ($code:literal, $status:literal, $meaning:literal)),+ $(,)?) => {
        /// A stable error code (`{"error": {"code": …}}`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(as = String, example = "invalid_transition"))]
        pub enum ErrorCode {
            $($(#[$meta])* $variant,)+
            /// A code this client version does not know yet.
            Unknown,
        }

        impl ErrorCode {
            /// Every known code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The wire form, `stable_snake_case`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// The HTTP status an API response with this code carries.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)+
                    ErrorCode::Unknown => 500,
                }
            }

            /// What the code means, for documentation.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)+
                    ErrorCode::Unknown => "A code this client does not know.",
                }
            }

            /// Parses the wire form; unknown strings give [`ErrorCode::Unknown`].
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $($code => ErrorCode::$variant,)+
                    _ => ErrorCode::Unknown,
                }
            }
        }
    };
}

error_codes! {
    InvalidJson = ("invalid_json", 400, "The body is not valid JSON, or does not have the expected shape or types."),
    InvalidQuery = ("invalid_query", 400, "A query-string parameter is missing, malformed or of the wrong type."),
    InvalidPath = ("invalid_path", 400, "A path parameter is malformed (for example an id that is not a UUID)."),
    ValidationFailed = ("validation_failed", 422, "A field has a value outside what the rules allow; `details.field` names it."),
    CoordinateOutOfRange = ("coordinate_out_of_range", 422, "A longitude outside -180..180 or latitude outside -90..90, or a non-finite number."),
    InvalidGeometry = ("invalid_geometry", 422, "A GeoJSON geometry or collection is malformed, or of an unsupported type."),
    InvalidShapefile = ("invalid_shapefile", 422, "A patch file (an ESRI shapefile, zipped) can not be imported: a damaged or incomplete archive, no or several `.shp` files, an unknown coordinate system, no patch number column, or rows that are not polygons; `details.kind` says which, `details.rows` lists the refused rows; nothing was imported."),
    UnsupportedMediaType = ("unsupported_media_type", 415, "The Content-Type is not the one the endpoint accepts."),
    PayloadTooLarge = ("payload_too_large", 413, "The body is larger than the configured limit."),
    Unauthenticated = ("unauthenticated", 401, "No bearer token was sent."),
    InvalidToken = ("invalid_token", 401, "The access token is malformed, has a bad signature, issuer or audience, or has expired."),
    InvalidCredentials = ("invalid_credentials", 401, "Unknown user, wrong password, or disabled account."),
    InvalidRefreshToken = ("invalid_refresh_token", 401, "The refresh token is unknown, expired or revoked."),
    RefreshTokenReused = ("refresh_token_reused", 401, "A refresh token was used twice; its whole family is now revoked and the user must log in again."),
    Forbidden = ("forbidden", 403, "The caller's role may not do this."),
    CsrfRefused = ("csrf_refused", 403, "A console session request came without the `X-Landpatrol-Console` header or from another origin; nothing was done."),
    OutOfScope = ("out_of_scope", 403, "The record or town belongs to another town than the caller's."),
    NotFound = ("not_found", 404, "No such record, or not visible to the caller."),
    RouteNotFound = ("route_not_found", 404, "No such endpoint."),
    MethodNotAllowed = ("method_not_allowed", 405, "The endpoint exists but not with this method."),
    UsernameTaken = ("username_taken", 409, "A user with this username exists."),
    UnknownTown = ("unknown_town", 422, "The town id or code names no town."),
    UnknownDevice = ("unknown_device", 422, "The device id is not registered to this user."),
    DeviceRevoked = ("device_revoked", 403, "The device was revoked (lost, stolen or handed on); register a new one."),
    NoActiveCampaign = ("no_active_campaign", 422, "No campaign covers this case, so no deadline can be set."),
    InvalidTransition = ("invalid_transition", 422, "The lifecycle table has no such transition."),
    TransitionForbidden = ("transition_forbidden", 403, "The transition exists but the caller's role may not make it."),
    TransitionConflict = ("transition_conflict", 409, "The case is no longer in the `from` state given; `details.current` has the real one."),
    SiteCheckRequired = ("site_check_required", 422, "A satellite lead needs an on-site check with result `illegal` before it is registered."),
    ForcedDemolitionUnprepared = ("forced_demolition_unprepared", 422, "A forced demolition needs the legal notice served and the report to the leadership group recorded first."),
    ReasonRequired = ("reason_required", 422, "Dismissing a case needs a reason in `note`."),
    ImmutableField = ("immutable_field", 422, "The patch names a field that can never change (id, source, case_number, created_by, server-computed fields)."),
    StatusViaTransition = ("status_via_transition", 422, "`status` changes only through a transition."),
    StaleRevision = ("stale_revision", 409, "`base_rev` is not the record's current revision."),
    DuplicateRecord = ("duplicate_record", 409, "A record with this id or external reference exists with other content."),
    UnknownTable = ("unknown_table", 422, "A sync op names a table that sync does not carry or that clients may not write."),
    UnknownOp = ("unknown_op", 422, "A sync op kind this server does not know (from a newer client); the rest of the batch is applied."),
    MalformedOp = ("malformed_op", 422, "A sync op is missing fields or has fields of the wrong type."),
    InvalidHlc = ("invalid_hlc", 422, "The op's `hlc` is not `<unix ms>-<4 hex digits>-<node>`."),
    AppendOnly = ("append_only", 422, "Inspections and observations are append-only: they can be created, not changed."),
    DeleteForbidden = ("delete_forbidden", 422, "Only a case still `reported` and an own observation may be deleted (tombstoned)."),
    DuplicateOpInBatch = ("duplicate_op_in_batch", 422, "The same `op_id` appears twice in one push; the first one counts."),
    BatchTooLarge = ("batch_too_large", 413, "More ops in one push than the configured batch size."),
    InvalidCursor = ("invalid_cursor", 400, "The pull cursor is not one this server gave."),
    InvalidPhotoHash = ("invalid_photo_hash", 400, "A photo is named by its SHA-256 as 64 hexadecimal characters; this is not one."),
    BodyIncomplete = ("body_incomplete", 400, "The request body broke off before its end; nothing of it was kept (a tus upload keeps what arrived)."),
    PhotoHashMismatch = ("photo_hash_mismatch", 422, "The bytes received do not have the SHA-256 they were sent under; nothing was kept."),
    PhotoEmpty = ("photo_empty", 422, "The photo has no bytes."),
    PhotoUnrecognised = ("photo_unrecognised", 415, "The bytes are not an image format the service recognises."),
    PhotoFormatUnsupported = ("photo_format_unsupported", 415, "The image format is recognised but not accepted as evidence (JPEG, PNG, WebP and HEIC are)."),
    PhotoTooLarge = ("photo_too_large", 422, "The image declares more pixels or a larger side than the configured limits (a decompression bomb is refused this way)."),
    PhotoCorrupt = ("photo_corrupt", 422, "The image's structure is damaged (no frame header, zero size, boxes overflowing the file)."),
    PhotoNotUploaded = ("photo_not_uploaded", 404, "No bytes have arrived for this photo yet; records may name it before it is uploaded."),
    ThumbnailPending = ("thumbnail_pending", 409, "The thumbnail is still being made; retry after the `Retry-After` seconds."),
    ThumbnailUnavailable = ("thumbnail_unavailable", 404, "No thumbnail can be made for this photo (a format that can not be decoded here, such as HEIC, or damaged pixel data); the original and its EXIF are kept."),
    TusVersionUnsupported = ("tus_version_unsupported", 412, "The `Tus-Resumable` header is missing or names a tus version other than 1.0.0."),
    InvalidUploadHeader = ("invalid_upload_header", 400, "A tus header (`Upload-Length`, `Upload-Offset`, `Upload-Metadata`, `Upload-Checksum`) is missing or malformed."),
    UploadOffsetMismatch = ("upload_offset_mismatch", 409, "`Upload-Offset` is not the upload's current offset; send HEAD to learn it and resume from there."),
    UploadInProgress = ("upload_in_progress", 423, "Another request is writing to this upload right now."),
    ChecksumAlgorithmUnsupported = ("checksum_algorithm_unsupported", 400, "`Upload-Checksum` names an algorithm other than sha1 or sha256."),
    ChecksumMismatch = ("checksum_mismatch", 460, "The chunk's bytes do not match its `Upload-Checksum`; the chunk was discarded, resend it."),
    UploadExpired = ("upload_expired", 410, "The unfinished upload expired and its bytes were removed; start a new upload."),
    IdempotencyConflict = ("idempotency_conflict", 409, "The `Idempotency-Key` was used before for a different request; nothing was created."),
    TipAlreadyTriaged = ("tip_already_triaged", 409, "The tip was triaged before; `details.status` and `details.case_id` say how."),
    WebhookUrlInvalid = ("webhook_url_invalid", 422, "A webhook URL must be an absolute http or https URL with a host, without credentials."),
    WebhookUrlForbidden = ("webhook_url_forbidden", 422, "The webhook URL names or resolves to an internal address (loopback, private, link-local, unique-local, multicast, a metadata service, an internal name); webhooks reach public addresses unless the installation sets `webhooks.allow_private_networks`."),
    WebhookLimitReached = ("webhook_limit_reached", 409, "The town has as many webhooks as `webhooks.max_per_town` allows; remove one first."),
    UnknownCampaign = ("unknown_campaign", 404, "No campaign has this id (or there is no campaign at all)."),
    RateLimited = ("rate_limited", 429, "Too many requests; retry after the `Retry-After` seconds."),
    ServiceUnavailable = ("service_unavailable", 503, "A dependency (the database) is unreachable; retry later."),
    InternalError = ("internal_error", 500, "An unexpected server error; nothing more is said."),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(ErrorCode::parse(&s))
    }
}

/// The body of every error response: `{"error": {"code", "message", "details"}}`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"error": {"code": "invalid_transition", "message": "no transition from closed to rectifying", "details": {}}})))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The inside of an error response.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub code: ErrorCode,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    /// Structured context (field names, current state, …).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {c}");
            assert!(c.as_str().chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'));
            assert_eq!(ErrorCode::parse(c.as_str()), *c);
            assert!((400..600).contains(&c.http_status()));
        }
        assert_eq!(ErrorCode::parse("from_the_future"), ErrorCode::Unknown);
    }
}
