//! Photo evidence, the pure part: what a file is, whether it is safe to decode, what its
//! EXIF says, and upright thumbnails without metadata. No storage, no database.

use std::io::{BufRead, Seek};

mod exif;
mod inspect;
mod jpeg;
mod sniff;
mod thumb;

pub use thumb::{THUMBNAIL_QUALITY, ThumbnailTimings};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

/// What the bytes are, by their magic numbers (never by a file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Heic,
    Gif,
    Bmp,
    Tiff,
    Unknown,
}

impl Format {
    /// Reads the first bytes (16 are enough) of a file.
    pub fn sniff(head: &[u8]) -> Format {
        sniff::sniff(head)
    }

    /// The lowercase name, as serialised (`jpeg`, `png`, `webp`, `heic`, …).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Heic => "heic",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
            Format::Tiff => "tiff",
            Format::Unknown => "unknown",
        }
    }

    /// The format of a [`Format::name`]; anything else is `Unknown`.
    pub fn from_name(name: &str) -> Format {
        [Format::Jpeg, Format::Png, Format::Webp, Format::Heic, Format::Gif, Format::Bmp, Format::Tiff]
            .into_iter()
            .find(|f| f.name() == name)
            .unwrap_or(Format::Unknown)
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Heic => "image/heic",
            Format::Gif => "image/gif",
            Format::Bmp => "image/bmp",
            Format::Tiff => "image/tiff",
            Format::Unknown => "application/octet-stream",
        }
    }

    /// Formats accepted as photo evidence.
    pub fn is_accepted(self) -> bool {
        matches!(self, Format::Jpeg | Format::Png | Format::Webp | Format::Heic)
    }
}

/// Bounds on what will be decoded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest width × height a header may declare.
    pub max_pixels: u64,
    /// Largest width or height a header may declare.
    pub max_dimension: u32,
    /// Largest buffer a decode may allocate, in bytes.
    pub max_decode_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_pixels: 120_000_000, max_dimension: 30_000, max_decode_bytes: 128 * 1024 * 1024 }
    }
}

/// Why a file is refused or cannot be decoded; `code()` is the API's stable error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the file is empty")]
    Empty,
    #[error("the bytes are not an image format this service knows")]
    Unrecognised,
    #[error("{0:?} is not accepted as photo evidence (JPEG, PNG, WebP or HEIC)")]
    UnsupportedFormat(Format),
    #[error("the image declares {width}×{height} pixels, beyond the limits")]
    TooLarge { width: u64, height: u64 },
    #[error("the image is damaged: {0}")]
    Corrupt(String),
    #[error("{0:?} images can not be decoded here")]
    Undecodable(Format),
}

impl PhotoError {
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::Empty => "photo_empty",
            PhotoError::Unrecognised => "photo_unrecognised",
            PhotoError::UnsupportedFormat(_) => "photo_format_unsupported",
            PhotoError::TooLarge { .. } => "photo_too_large",
            PhotoError::Corrupt(_) => "photo_corrupt",
            PhotoError::Undecodable(_) => "thumbnail_unavailable",
        }
    }
}

/// The cheap facts read from a file's header without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Header {
    pub format: Format,
    /// Stored (not oriented) dimensions, when the header gives them (HEIC may not).
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Checks a whole file cheaply: format, dimensions and bounds, without decoding pixels and
/// without reading more than the headers. Refuses empty, unknown, unsupported, zero-sized
/// and oversized (decompression bomb) files.
///
/// HEIC: the size is the primary item's `ispe` turned by its `irot`, as a HEIF decoder would
/// output it (`None` when the file does not say).
pub fn inspect<R: BufRead + Seek>(reader: &mut R, limits: &Limits) -> Result<Header, PhotoError> {
    inspect::inspect(reader, limits)
}

/// A GPS fix from EXIF, WGS-84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GpsFix {
    pub lat: f64,
    pub lon: f64,
    pub altitude_m: Option<f64>,
}

/// What EXIF says, cleaned: strings trimmed and stripped of control characters, values
/// of the wrong type dropped, impossible values (NaN, 0,0, out of range) dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExifData {
    pub make: Option<String>,
    pub model: Option<String>,
    /// 1..=8 only.
    pub orientation: Option<u16>,
    /// DateTimeOriginal (or DateTime), the camera's wall clock.
    pub captured_at_local: Option<NaiveDateTime>,
    /// OffsetTimeOriginal (or OffsetTime), minutes east of UTC.
    pub offset_minutes: Option<i32>,
    /// GPSDateStamp + GPSTimeStamp, which are UTC by definition.
    pub gps_time: Option<DateTime<Utc>>,
    pub gps: Option<GpsFix>,
    /// How many fields the EXIF block holds.
    pub fields: usize,
}

/// The outcome of looking for EXIF: never an error, a photo without readable EXIF is
/// still a photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Exif {
    Found(ExifData),
    Absent,
    Unreadable { reason: String },
}

/// Reads EXIF from JPEG, PNG, WebP (also `Exif\0\0`-prefixed blocks) and HEIC.
/// Broken entries are skipped (the fields that could be read are kept); a block of which
/// nothing can be read is `Unreadable`.
pub fn read_exif<R: BufRead + Seek>(reader: &mut R, format: Format) -> Exif {
    exif::read_exif(reader, format)
}

/// One thumbnail: a JPEG without metadata, upright, fitting a `size`×`size` box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// Makes one thumbnail per requested box size (largest first is fine), turned upright by
/// `orientation`. Decoding is bounded by `limits`; JPEG is decoded at a reduced size.
/// HEIC gives `Undecodable` (after the same header check).
///
/// The header is checked with [`inspect`] first, so the same refusals apply. Thumbnails come
/// back in the order of `sizes`; an image smaller than a box is not enlarged. Truncated JPEGs
/// that libjpeg can still finish (with a warning) get thumbnails; hard decoder errors are
/// `Corrupt`.
pub fn thumbnails(
    bytes: &[u8],
    format: Format,
    orientation: Option<u16>,
    sizes: &[u32],
    limits: &Limits,
) -> Result<Vec<Thumbnail>, PhotoError> {
    thumb::thumbnails(bytes, format, orientation, sizes, limits, &mut ThumbnailTimings::default())
}

/// `thumbnails`, also telling where the time went (for the benchmark).
pub fn thumbnails_timed(
    bytes: &[u8],
    format: Format,
    orientation: Option<u16>,
    sizes: &[u32],
    limits: &Limits,
) -> (Result<Vec<Thumbnail>, PhotoError>, ThumbnailTimings) {
    let mut timings = ThumbnailTimings::default();
    let result = thumb::thumbnails(bytes, format, orientation, sizes, limits, &mut timings);
    (result, timings)
}

/// Everything the service does with a new photo, in one call (used by the benchmark and
/// by tests): hash, header, EXIF, the two thumbnails.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub sha256: String,
    pub header: Header,
    pub exif: Exif,
    pub thumbnails: Result<Vec<Thumbnail>, PhotoError>,
}

pub const THUMBNAIL_SIZES: [u32; 2] = [1024, 256];

pub fn analyze(bytes: &[u8], limits: &Limits) -> Result<Analysis, PhotoError> {
    use sha2::Digest;
    let sha256 = hex::encode(sha2::Sha256::digest(bytes));
    let header = inspect(&mut std::io::Cursor::new(bytes), limits)?;
    let exif = read_exif(&mut std::io::Cursor::new(bytes), header.format);
    let orientation = match &exif {
        Exif::Found(e) => e.orientation,
        _ => None,
    };
    let thumbnails = thumbnails(bytes, header.format, orientation, &THUMBNAIL_SIZES, limits);
    Ok(Analysis { sha256, header, exif, thumbnails })
}
