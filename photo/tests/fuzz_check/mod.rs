//! What the fuzz target `photo_analyze` (fuzz/fuzz_targets/) checks on every input, shared
//! with `tests/fuzz_regressions.rs`: the photo path of an upload must not panic, must keep
//! within its limits, and must give the same answers through the server's `BufReader`.

use std::io::{BufReader, Cursor};

use landpatrol_photo::{Analysis, Exif, Limits, THUMBNAIL_SIZES, analyze, inspect, read_exif};

/// Runs `bytes` through `analyze` (sniff, header check, EXIF, both thumbnails) and the
/// server's reads of a staging file; panics on any broken promise.
pub fn check(bytes: &[u8]) -> Option<Analysis> {
    let limits = Limits::default();
    let analysis = analyze(bytes, &limits).ok()?;
    let header = analysis.header;
    if let (Some(w), Some(h)) = (header.width, header.height) {
        assert!(w >= 1 && h >= 1, "zero-sized image accepted: {header:?}");
        assert!(w <= limits.max_dimension && h <= limits.max_dimension, "beyond max_dimension: {header:?}");
        assert!(u64::from(w) * u64::from(h) <= limits.max_pixels, "beyond max_pixels: {header:?}");
    }
    if let Exif::Found(e) = &analysis.exif {
        assert!(e.orientation.is_none_or(|o| (1..=8).contains(&o)), "orientation: {e:?}");
        if let Some(gps) = e.gps {
            assert!(gps.lat.is_finite() && gps.lon.is_finite(), "{gps:?}");
            assert!((-90.0..=90.0).contains(&gps.lat) && (-180.0..=180.0).contains(&gps.lon), "{gps:?}");
        }
    }
    if let Ok(thumbs) = &analysis.thumbnails {
        assert_eq!(thumbs.len(), THUMBNAIL_SIZES.len(), "one thumbnail per size");
        for t in thumbs {
            assert!(t.width >= 1 && t.height >= 1, "empty thumbnail {}×{}", t.width, t.height);
            assert!(t.width <= t.size && t.height <= t.size, "thumbnail {}×{} beyond {}", t.width, t.height, t.size);
            assert!(t.jpeg.starts_with(&[0xFF, 0xD8]), "a thumbnail that is not a JPEG");
        }
    }
    // The server reads a staging file through a 64 KiB BufReader: the same answers.
    let again = inspect(&mut BufReader::with_capacity(64 * 1024, Cursor::new(bytes)), &limits);
    assert_eq!(again.as_ref(), Ok(&header), "inspect through a BufReader differs");
    let exif = read_exif(&mut BufReader::with_capacity(64 * 1024, Cursor::new(bytes)), header.format);
    assert_eq!(exif, analysis.exif, "read_exif through a BufReader differs");
    Some(analysis)
}
