//! Every file of `tests/fixtures/` (real phone photos, broken and hostile files) against its
//! line in `MANIFEST.tsv` and against the per-file expectations below.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use landpatrol_photo::{
    Exif, ExifData, Format, Limits, PhotoError, THUMBNAIL_SIZES, Thumbnail, analyze, inspect, read_exif, thumbnails,
};
use sha2::Digest;

/// Files that `inspect` refuses, and with which error code.
const REFUSED: &[(&str, &str)] = &[
    ("image-rs__jpeg-decoder/empty.jpg", "photo_empty"),
    // Decompression bombs: the SOF claims 64250×64250 and 65535×65535.
    ("fuzzdb-project__fuzzdb/lottapixel.jpg", "photo_too_large"),
    ("image-rs__jpeg-decoder/max_size.jpg", "photo_too_large"),
    // 3×62728 and 193×31423: one side beyond max_dimension (30,000).
    ("image-rs__image/oss-fuzz-36829.jpeg", "photo_too_large"),
    ("image-rs__jpeg-decoder/194531363df5b73f59c4c0517422f917.jpg", "photo_too_large"),
    // Not accepted as evidence at all, whatever they claim.
    ("fuzzdb-project__fuzzdb/uber.gif", "photo_format_unsupported"),
    ("python-pillow__Pillow/decompression_bomb.gif", "photo_format_unsupported"),
    ("python-pillow__Pillow/decompression_bomb_extents.gif", "photo_format_unsupported"),
    ("python-pillow__Pillow/zero_width.gif", "photo_format_unsupported"),
    ("image-rs__image/Bad_reallybig.bmp", "photo_format_unsupported"),
    // JPEG: height 0, width 0, an APPn segment longer than the file (no SOF), SOI+EOI only.
    ("image-rs__jpeg-decoder/null_height.jpg", "photo_corrupt"),
    ("image-rs__jpeg-decoder/invalid-dimensions.jpg", "photo_corrupt"),
    ("image-rs__jpeg-decoder/missing-sof.jpg", "photo_corrupt"),
    ("image-rs__jpeg-decoder/missing-frame-image-1410.jpg", "photo_corrupt"),
    // WebP fuzzer crashes: the RIFF size overflows the file (all three).
    ("drewnoakes__metadata-extractor-images/crash-1c881e4b93d62a1bd98138a5be0c45d134e24812.fuzzed", "photo_corrupt"),
    ("drewnoakes__metadata-extractor-images/crash-5694c3cf175f7c173948ca158a9dafa96c07b621.fuzzed", "photo_corrupt"),
    ("drewnoakes__metadata-extractor-images/crash-ef2965b3ce863f83f2dd6ef18b05f61785652c3e.fuzzed", "photo_corrupt"),
    // HEIF: 'iinf' declares 32768 entries but holds 2; a box overflowing 'iprp' and a top-level
    // box of 114 MB in an 8 KB file.
    ("drewnoakes__metadata-extractor-images/NegativeArraySizeException.ItemInfoBox.init.heif", "photo_corrupt"),
    ("drewnoakes__metadata-extractor-images/IllegalArgumentException.HeifReader.processBoxes.heif", "photo_corrupt"),
    // PNG whose first chunk is garbage, not IHDR.
    ("python-pillow__Pillow/broken.png", "photo_corrupt"),
];

/// Accepted by `inspect` (sound headers) but the pixels can not be decoded.
const THUMBNAILS_CORRUPT: &[&str] = &[
    // Cut in the middle of the IDAT data.
    "python-pillow__Pillow/truncated_image.png",
    // Frame header but no scan.
    "image-rs__jpeg-decoder/missing-sos.jpg",
    // A Huffman table libjpeg refuses ("Bogus Huffman table definition").
    "image-rs__jpeg-decoder/derive-huffman-codes-overflow.jpg",
];

/// Damaged files that still give thumbnails: libjpeg finishes a truncated JPEG with a
/// warning (grey at the end), and the rest are broken only in their metadata or were fuzzer
/// finds for other decoders.
const DAMAGED_BUT_DECODED: &[&str] = &[
    "python-pillow__Pillow/truncated_jpeg.jpg",
    "image-rs__jpeg-decoder/dc-predictor-overflow.jpg",
    "image-rs__image/panic.webp",
    "MikeKovarik__exifr/broken1.jpg",
    "MikeKovarik__exifr/RangeError_Invalid_typed_array_length.jpg",
    "MikeKovarik__exifr/RangeError_Offset_outside_bounds.jpg",
    "fuzzdb-project__fuzzdb/POC_phpinfo-metadata.jpg",
    "python-pillow__Pillow/multiple_exif.jpg",
    "python-pillow__Pillow/truncated_exif_dpi.jpg",
    "python-pillow__Pillow/exif_gps.jpg",
    "python-pillow__Pillow/exif_gps_typeerror.jpg",
];

/// Where `read_exif` does not find readable EXIF: `false` = `Absent`, `true` = `Unreadable`.
/// Every other file with a format that carries EXIF gives `Found`.
const NO_EXIF: &[(&str, bool)] = &[
    ("MikeKovarik__exifr/noexif.jpg", false),
    ("MikeKovarik__exifr/heic-single.heic", false),
    ("MikeKovarik__exifr/RangeError_Invalid_typed_array_length.jpg", false),
    ("MikeKovarik__exifr/RangeError_Offset_outside_bounds.jpg", false),
    ("image-rs__image/exif-xmp-metadata.jpg", false),
    ("image-rs__image/panic.webp", false),
    ("python-pillow__Pillow/truncated_jpeg.jpg", false),
    ("image-rs__jpeg-decoder/missing-sos.jpg", false),
    ("image-rs__jpeg-decoder/dc-predictor-overflow.jpg", false),
    ("image-rs__jpeg-decoder/null_height.jpg", false),
    ("image-rs__jpeg-decoder/invalid-dimensions.jpg", false),
    ("image-rs__jpeg-decoder/max_size.jpg", false),
    ("image-rs__jpeg-decoder/missing-frame-image-1410.jpg", false),
    ("image-rs__jpeg-decoder/194531363df5b73f59c4c0517422f917.jpg", false),
    ("image-rs__image/oss-fuzz-36829.jpeg", false),
    ("fuzzdb-project__fuzzdb/lottapixel.jpg", false),
    ("drewnoakes__metadata-extractor-images/IllegalArgumentException.HeifReader.processBoxes.heif", false),
    // Two APP1 Exif segments, the first with a value pointing past its end.
    ("python-pillow__Pillow/multiple_exif.jpg", true),
    // The TIFF header itself is cut.
    ("python-pillow__Pillow/truncated_exif_dpi.jpg", true),
    ("python-pillow__Pillow/truncated_image.png", true),
    ("python-pillow__Pillow/broken.png", true),
    ("image-rs__jpeg-decoder/missing-sof.jpg", true),
    ("drewnoakes__metadata-extractor-images/NegativeArraySizeException.ItemInfoBox.init.heif", true),
    ("drewnoakes__metadata-extractor-images/crash-1c881e4b93d62a1bd98138a5be0c45d134e24812.fuzzed", true),
    ("drewnoakes__metadata-extractor-images/crash-5694c3cf175f7c173948ca158a9dafa96c07b621.fuzzed", true),
    ("drewnoakes__metadata-extractor-images/crash-ef2965b3ce863f83f2dd6ef18b05f61785652c3e.fuzzed", true),
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures")
}

struct Entry {
    file: String,
    cols: HashMap<String, String>,
    bytes: Vec<u8>,
}

impl Entry {
    fn col(&self, name: &str) -> &str {
        self.cols.get(name).map(String::as_str).unwrap_or_else(|| panic!("MANIFEST.tsv has no column {name}"))
    }

    fn format(&self) -> Format {
        Format::sniff(&self.bytes[..self.bytes.len().min(16)])
    }
}

fn manifest() -> Vec<Entry> {
    let dir = fixtures_dir();
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    for column in ["file", "make_model", "gps_lat_lon", "orientation", "size_bytes", "sha256", "magic", "dims_pil"] {
        assert!(header.contains(&column), "MANIFEST.tsv lacks {column}");
    }
    let entries: Vec<Entry> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: HashMap<String, String> =
                header.iter().zip(line.split('\t')).map(|(h, v)| (h.to_string(), v.to_string())).collect();
            let file = cols["file"].clone();
            let bytes = std::fs::read(dir.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            Entry { file, cols, bytes }
        })
        .collect();
    assert_eq!(entries.len(), 67, "every fixture of the manifest");
    entries
}

fn refused_code(file: &str) -> Option<&'static str> {
    REFUSED.iter().find(|(f, _)| *f == file).map(|(_, code)| *code)
}

fn found(exif: &Exif) -> Option<&ExifData> {
    match exif {
        Exif::Found(data) => Some(data),
        _ => None,
    }
}

/// Collects failures so one run reports every file that is wrong.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, file: &str, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(format!("{file}: {}", what()));
        }
    }

    fn assert_none(self) {
        assert!(self.0.is_empty(), "{} failures:\n{}", self.0.len(), self.0.join("\n"));
    }
}

#[test]
fn every_fixture_matches_its_sha256_and_size() {
    let mut failures = Failures::default();
    for e in manifest() {
        let sha = hex::encode(sha2::Sha256::digest(&e.bytes));
        failures.check(sha == e.col("sha256"), &e.file, || format!("sha256 {sha}"));
        let size: usize = e.col("size_bytes").parse().unwrap();
        failures.check(e.bytes.len() == size, &e.file, || format!("size {}", e.bytes.len()));
    }
    failures.assert_none();
}

#[test]
fn formats_are_sniffed_as_the_manifest_says() {
    let mut failures = Failures::default();
    for e in manifest() {
        let expected = match e.col("magic") {
            "jpeg" => Format::Jpeg,
            "png" => Format::Png,
            "webp" => Format::Webp,
            "gif" => Format::Gif,
            "bmp" => Format::Bmp,
            m if m.starts_with("isobmff:") => Format::Heic,
            "empty" => Format::Unknown,
            other => panic!("{}: magic {other}", e.file),
        };
        failures.check(e.format() == expected, &e.file, || format!("sniffed {:?}", e.format()));
    }
    failures.assert_none();
}

#[test]
fn inspect_refuses_exactly_the_listed_files_and_reads_dimensions() {
    let mut failures = Failures::default();
    let limits = Limits::default();
    let files: Vec<String> = manifest().iter().map(|e| e.file.clone()).collect();
    for (file, _) in REFUSED {
        assert!(files.iter().any(|f| f == file), "{file} is not in the manifest");
    }
    for e in manifest() {
        let result = inspect(&mut Cursor::new(&e.bytes), &limits);
        match (refused_code(&e.file), &result) {
            (Some(code), Err(err)) => failures.check(err.code() == code, &e.file, || format!("{err:?}, not {code}")),
            (Some(code), Ok(h)) => failures.check(false, &e.file, || format!("accepted {h:?}, expected {code}")),
            (None, Err(err)) => failures.check(false, &e.file, || format!("refused: {err:?}")),
            (None, Ok(header)) => {
                failures.check(header.format == e.format(), &e.file, || format!("format {:?}", header.format));
                let dims = e.col("dims_pil");
                let got = match (header.width, header.height) {
                    (Some(w), Some(h)) => format!("{w}x{h}"),
                    _ => String::new(),
                };
                // HEIC: the primary item's size turned by 'irot', as Pillow's HEIF plugin gives.
                failures.check(got == dims, &e.file, || format!("dimensions {got:?}, Pillow {dims:?}"));
            }
        }
    }
    failures.assert_none();
}

#[test]
fn exif_matches_the_manifest() {
    let mut failures = Failures::default();
    for e in manifest() {
        let exif = read_exif(&mut Cursor::new(&e.bytes), e.format());
        let data = found(&exif);
        let carries_exif = matches!(e.format(), Format::Jpeg | Format::Png | Format::Webp | Format::Heic);
        match NO_EXIF.iter().find(|(f, _)| *f == e.file) {
            Some((_, false)) => failures.check(exif == Exif::Absent, &e.file, || format!("{exif:?}, expected Absent")),
            Some((_, true)) => failures
                .check(matches!(exif, Exif::Unreadable { .. }), &e.file, || format!("{exif:?}, expected Unreadable")),
            None if carries_exif => failures.check(data.is_some(), &e.file, || format!("{exif:?}, expected Found")),
            None => failures.check(exif == Exif::Absent, &e.file, || format!("{exif:?}, expected Absent")),
        }

        // Make / Model, trimmed; "[PIL]" marks a value read by Pillow only.
        let make_model = e.col("make_model").trim_end_matches(" [PIL]");
        let (make, model) = match make_model.split_once(" / ") {
            Some((make, model)) => (Some(make.trim()), Some(model.trim())),
            None => (None, None),
        };
        let got_make = data.and_then(|d| d.make.as_deref());
        let got_model = data.and_then(|d| d.model.as_deref());
        failures.check(got_make == make && got_model == model, &e.file, || {
            format!("make/model {got_make:?}/{got_model:?}, manifest {make_model:?}")
        });

        // GPS: a real fix within 1e-5 degrees; 0,0, NaN (malformed) and nothing give no fix.
        let gps_col = e.col("gps_lat_lon");
        let expected_fix = gps_col.split_whitespace().next().and_then(|ll| {
            let (lat, lon) = ll.split_once(',')?;
            let (lat, lon): (f64, f64) = (lat.parse().ok()?, lon.parse().ok()?);
            (lat.is_finite() && lon.is_finite() && (lat, lon) != (0.0, 0.0)).then_some((lat, lon))
        });
        let got_fix = data.and_then(|d| d.gps);
        match (expected_fix, got_fix) {
            (Some((lat, lon)), Some(fix)) => {
                failures.check((fix.lat - lat).abs() < 1e-5 && (fix.lon - lon).abs() < 1e-5, &e.file, || {
                    format!("GPS {fix:?}, manifest {gps_col}")
                })
            }
            (None, None) => {}
            (expected, got) => failures.check(false, &e.file, || format!("GPS {got:?}, expected {expected:?}")),
        }
        if let Some(fix) = got_fix {
            failures.check(fix.lat.is_finite() && fix.lon.is_finite(), &e.file, || format!("{fix:?}"));
        }

        // Orientation: "6" or "1 (via PIL)"; "invalid: …" and nothing give None.
        let orientation_col = e.col("orientation");
        let expected_orientation: Option<u16> = orientation_col.split_whitespace().next().and_then(|o| o.parse().ok());
        let got_orientation = data.and_then(|d| d.orientation);
        failures.check(got_orientation == expected_orientation, &e.file, || {
            format!("orientation {got_orientation:?}, manifest {orientation_col:?}")
        });

        // Where kamadak-exif read the block whole, the same number of fields and the same
        // DateTimeOriginal.
        if let Some(kamadak) = e.cols.get("kamadak_exif_0.6.2").and_then(|k| k.strip_prefix("OK ")) {
            let fields: usize =
                kamadak.split_whitespace().find_map(|p| p.strip_prefix("fields=")?.parse().ok()).unwrap();
            let got_fields = data.map(|d| d.fields);
            failures.check(got_fields == Some(fields), &e.file, || format!("{got_fields:?} fields, kamadak {fields}"));
            let dto = kamadak.split("dto=").nth(1).map(|rest| rest.split(" gps=").next().unwrap_or("").trim());
            if let Some(dto) = dto.filter(|d| !d.is_empty()) {
                let got = data.and_then(|d| d.captured_at_local).map(|t| t.to_string());
                failures.check(got.as_deref() == Some(dto), &e.file, || format!("captured {got:?}, kamadak {dto}"));
            }
        }
    }
    failures.assert_none();
}

#[test]
fn hostile_exif_values_are_dropped_or_cleaned() {
    let dir = fixtures_dir();
    let read = |file: &str| {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        read_exif(&mut Cursor::new(&bytes), Format::sniff(&bytes[..16]))
    };
    // Every tag holds "<?php phpinfo(); ?>": kept as text where text belongs (to be escaped
    // by whoever shows it), dropped everywhere else.
    let php = read("fuzzdb-project__fuzzdb/POC_phpinfo-metadata.jpg");
    let php = found(&php).unwrap();
    assert_eq!(php.make.as_deref(), Some("<?php phpinfo(); ?>"));
    assert_eq!((php.orientation, php.gps, php.captured_at_local, php.offset_minutes), (None, None, None, None));
    // Samsung pads Make with spaces, and writes 0,0 without a fix.
    let samsung = read("drewnoakes__metadata-extractor-images/Samsung GT-I9000 (Galaxy S).jpg");
    let samsung = found(&samsung).unwrap();
    assert_eq!(samsung.make.as_deref(), Some("SAMSUNG"));
    assert_eq!(samsung.gps, None);
    // Zero denominators.
    for file in ["MikeKovarik__exifr/broken1.jpg", "drewnoakes__metadata-extractor-images/Issue 487.heic"] {
        let exif = read(file);
        assert_eq!(found(&exif).unwrap().gps, None, "{file}");
    }
    // The HEIC from Guangzhou, with its altitude, offset-free local time and GPS time (UTC).
    let heic = read("drewnoakes__metadata-extractor-images/IMG_1034.heic");
    let heic = found(&heic).unwrap();
    let fix = heic.gps.unwrap();
    assert!((fix.lat - 23.177917).abs() < 1e-5 && (fix.lon - 113.394317).abs() < 1e-5);
    assert!(fix.altitude_m.is_some_and(|a| a > 0.0));
    assert_eq!(heic.captured_at_local.unwrap().to_string(), "2018-02-05 15:11:44");
    assert_eq!(heic.gps_time.unwrap().to_rfc3339(), "2018-02-05T07:11:43.070+00:00");
    // OffsetTimeOriginal (iPhone 11 Pro in Mongolia: -04:00 as written by the phone).
    let eof = read("drewnoakes__metadata-extractor-images/exif-at-eof.heic");
    assert_eq!(found(&eof).unwrap().offset_minutes, Some(-240));
    // WebP whose EXIF chunk starts with "Exif\0\0" (kamadak-exif 0.6.2 alone fails on it).
    let webp = read("drewnoakes__metadata-extractor-images/Issue 473 (Java).webp");
    let webp = found(&webp).unwrap();
    assert_eq!((webp.make.as_deref(), webp.orientation), (Some("Apple"), Some(6)));
    // Serialises without trouble.
    serde_json::to_string(&Exif::Found(php.clone())).unwrap();
}

/// The segments of a JPEG before its first scan: marker codes.
fn markers(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        assert_eq!(jpeg[i], 0xFF, "marker expected at {i}");
        let code = jpeg[i + 1];
        out.push(code);
        if code == 0xDA {
            break;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        i += 2 + len;
    }
    out
}

/// A JPEG decoded whole to RGB by libjpeg.
struct Decoded {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

fn decompress(jpeg: &[u8]) -> Decoded {
    let mut d = mozjpeg::Decompress::new_mem(jpeg).unwrap().rgb().unwrap();
    let (width, height) = (d.width() as u32, d.height() as u32);
    let pixels = d.read_scanlines::<u8>().unwrap();
    d.finish().unwrap();
    Decoded { width, height, pixels }
}

/// Decodes a thumbnail back and checks it is a plain upright JPEG fitting its box.
fn check_thumbnail(failures: &mut Failures, file: &str, t: &Thumbnail, upright: (u32, u32)) -> Vec<u8> {
    let image = decompress(&t.jpeg);
    failures.check((image.width, image.height) == (t.width, t.height), file, || {
        format!("{}: decoded {}x{}, said {}x{}", t.size, image.width, image.height, t.width, t.height)
    });
    let codes = markers(&t.jpeg);
    failures.check(codes.contains(&0xC0) && !codes.contains(&0xC2), file, || "not a baseline thumbnail".into());
    failures.check(!codes.contains(&0xE1), file, || format!("{}: an APP1 (EXIF/XMP) segment", t.size));
    failures.check(!t.jpeg.windows(6).any(|w| w == b"Exif\0\0"), file, || "an Exif identifier".into());
    failures.check(codes.iter().all(|c| !(0xE2..=0xEF).contains(c)), file, || format!("APPn segments {codes:02X?}"));
    failures.check(t.width.max(t.height) <= t.size, file, || format!("{}x{} in a {} box", t.width, t.height, t.size));
    let (uw, uh) = upright;
    if uw.max(uh) > t.size {
        failures.check(t.width.max(t.height) == t.size, file, || {
            format!("{}x{} does not fill {}", t.width, t.height, t.size)
        });
    } else {
        failures.check((t.width, t.height) == upright, file, || format!("{}x{} enlarged or cut", t.width, t.height));
    }
    // Same aspect as the upright image, to a pixel of rounding.
    let expected_h = f64::from(t.width) * f64::from(uh) / f64::from(uw);
    failures.check((expected_h - f64::from(t.height)).abs() <= 1.0, file, || {
        format!("{}x{} is not the aspect of the upright {uw}x{uh}", t.width, t.height)
    });
    image.pixels
}

#[test]
fn thumbnails_are_upright_plain_jpegs_or_the_listed_errors() {
    let mut failures = Failures::default();
    let limits = Limits::default();
    let mut decoded = 0;
    for e in manifest() {
        let format = e.format();
        let exif = read_exif(&mut Cursor::new(&e.bytes), format);
        let orientation = found(&exif).and_then(|d| d.orientation);
        let result = thumbnails(&e.bytes, format, orientation, &THUMBNAIL_SIZES, &limits);
        let header = inspect(&mut Cursor::new(&e.bytes), &limits);
        let expected_code = if let Some(code) = refused_code(&e.file) {
            Some(code)
        } else if THUMBNAILS_CORRUPT.contains(&e.file.as_str()) {
            Some("photo_corrupt")
        } else if format == Format::Heic {
            Some("thumbnail_unavailable")
        } else {
            None
        };
        match (expected_code, result) {
            (Some(code), Err(err)) => failures.check(err.code() == code, &e.file, || format!("{err:?}, not {code}")),
            (Some(code), Ok(_)) => failures.check(false, &e.file, || format!("thumbnails made, expected {code}")),
            (None, Err(err)) => failures.check(false, &e.file, || format!("no thumbnails: {err:?}")),
            (None, Ok(thumbs)) => {
                decoded += 1;
                let header = header.unwrap();
                let (w, h) = (header.width.unwrap(), header.height.unwrap());
                let upright = if orientation.is_some_and(|o| o >= 5) { (h, w) } else { (w, h) };
                failures.check(thumbs.len() == 2, &e.file, || format!("{} thumbnails", thumbs.len()));
                for (t, size) in thumbs.iter().zip(THUMBNAIL_SIZES) {
                    failures.check(t.size == size, &e.file, || format!("size {} for {size}", t.size));
                    check_thumbnail(&mut failures, &e.file, t, upright);
                }
            }
        }
        if format == Format::Heic && refused_code(&e.file).is_none() {
            // HEIC: EXIF (where the file has it) but no pixels here.
            failures.check(
                thumbnails(&e.bytes, format, None, &THUMBNAIL_SIZES, &limits)
                    == Err(PhotoError::Undecodable(Format::Heic)),
                &e.file,
                || "HEIC not Undecodable".into(),
            );
        }
    }
    for file in DAMAGED_BUT_DECODED {
        assert!(refused_code(file).is_none() && !THUMBNAILS_CORRUPT.contains(file), "{file}");
    }
    assert_eq!(decoded, 38, "JPEG, PNG and WebP files that give thumbnails");
    failures.assert_none();
}

/// Mean absolute difference of two RGB images of one size, after averaging 4×4 blocks.
fn block_difference(a: &[u8], b: &[u8], w: usize, h: usize) -> f64 {
    let block = |img: &[u8], bx: usize, by: usize, c: usize| -> f64 {
        let mut sum = 0u32;
        for y in by * 4..by * 4 + 4 {
            for x in bx * 4..bx * 4 + 4 {
                sum += u32::from(img[(y * w + x) * 3 + c]);
            }
        }
        f64::from(sum) / 16.0
    };
    let (bw, bh) = (w / 4, h / 4);
    let mut total = 0.0;
    for by in 0..bh {
        for bx in 0..bw {
            for c in 0..3 {
                total += (block(a, bx, by, c) - block(b, bx, by, c)).abs();
            }
        }
    }
    total / (bw * bh * 3) as f64
}

fn upright_pixels(file: &str) -> (u32, u32, Vec<u8>, Format) {
    let bytes = std::fs::read(fixtures_dir().join(file)).unwrap();
    let format = Format::sniff(&bytes[..16]);
    let exif = read_exif(&mut Cursor::new(&bytes), format);
    let orientation = found(&exif).and_then(|d| d.orientation);
    let thumbs = thumbnails(&bytes, format, orientation, &THUMBNAIL_SIZES, &Limits::default()).unwrap();
    let t = &thumbs[1];
    let image = decompress(&t.jpeg);
    (t.width, t.height, image.pixels, format)
}

#[test]
fn the_eight_orientations_come_out_the_same_way_up() {
    // f1t … f8t are one picture stored eight ways (f5t–f8t 80×48, sideways) with EXIF
    // orientations 1 … 8: turned upright, all must look like f1t.
    let (w1, h1, reference, _) = upright_pixels("MikeKovarik__exifr/f1t.jpg");
    assert_eq!((w1, h1), (48, 80));
    for n in 2..=8 {
        let file = format!("MikeKovarik__exifr/f{n}t.jpg");
        let (w, h, pixels, _) = upright_pixels(&file);
        assert_eq!((w, h), (48, 80), "{file} is not upright portrait");
        let d = block_difference(&reference, &pixels, 48, 80);
        assert!(d < 8.0, "{file}: mean difference {d:.1} from f1t");
    }
    // The threshold means something: f1t against itself turned half a turn is far off.
    let mut turned = reference.clone();
    turned.reverse();
    for px in turned.chunks_exact_mut(3) {
        px.reverse();
    }
    let d = block_difference(&reference, &turned, 48, 80);
    assert!(d > 30.0, "half a turn differs by only {d:.1}");
}

#[test]
fn hopper_and_portrait_come_out_upright() {
    // The same picture with orientation 6 in a JPEG and in a WebP (EXIF with "Exif\0\0").
    let (wj, hj, jpeg, _) = upright_pixels("python-pillow__Pillow/hopper_orientation_6.jpg");
    let (ww, hw, webp, format) = upright_pixels("python-pillow__Pillow/hopper_orientation_6.webp");
    assert_eq!(format, Format::Webp);
    assert_eq!((wj, hj, ww, hw), (128, 128, 128, 128));
    let d = block_difference(&jpeg, &webp, 128, 128);
    assert!(d < 8.0, "hopper JPEG and WebP differ by {d:.1}");
    // And both differ from the stored (sideways) picture.
    let bytes = std::fs::read(fixtures_dir().join("python-pillow__Pillow/hopper_orientation_6.jpg")).unwrap();
    let stored = thumbnails(&bytes, Format::Jpeg, None, &[256], &Limits::default()).unwrap();
    let stored = decompress(&stored[0].jpeg);
    let d = block_difference(&jpeg, &stored.pixels, 128, 128);
    assert!(d > 15.0, "turning changed little: {d:.1}");

    // portrait_2: mirrored, stays 113×150 portrait, and is the mirror of what is stored.
    let (w, h, upright, _) = upright_pixels("image-rs__image/portrait_2.jpg");
    assert_eq!((w, h), (113, 150));
    let bytes = std::fs::read(fixtures_dir().join("image-rs__image/portrait_2.jpg")).unwrap();
    let stored = thumbnails(&bytes, Format::Jpeg, Some(1), &[256], &Limits::default()).unwrap();
    let stored = decompress(&stored[0].jpeg);
    let mut mirrored = Vec::with_capacity(stored.pixels.len());
    for row in stored.pixels.chunks_exact(113 * 3) {
        for px in row.chunks_exact(3).rev() {
            mirrored.extend_from_slice(px);
        }
    }
    let d = block_difference(&upright, &mirrored, 112, 148);
    assert!(d < 8.0, "portrait_2 is not the mirror of what is stored: {d:.1}");
}

#[test]
fn analyze_runs_on_every_fixture() {
    let mut failures = Failures::default();
    let limits = Limits::default();
    for e in manifest() {
        let result = analyze(&e.bytes, &limits);
        match (refused_code(&e.file), result) {
            (Some(code), Err(err)) => failures.check(err.code() == code, &e.file, || format!("{err:?}")),
            (Some(code), Ok(_)) => failures.check(false, &e.file, || format!("analysed, expected {code}")),
            (None, Err(err)) => failures.check(false, &e.file, || format!("{err:?}")),
            (None, Ok(a)) => {
                failures.check(a.sha256 == e.col("sha256"), &e.file, || "sha256".into());
                failures.check(a.header.format == e.format(), &e.file, || "format".into());
                let corrupt = THUMBNAILS_CORRUPT.contains(&e.file.as_str());
                let ok = match &a.thumbnails {
                    Ok(t) => t.len() == 2 && !corrupt && a.header.format != Format::Heic,
                    Err(PhotoError::Corrupt(_)) => corrupt,
                    Err(PhotoError::Undecodable(Format::Heic)) => a.header.format == Format::Heic,
                    Err(_) => false,
                };
                failures.check(ok, &e.file, || format!("thumbnails {:?}", a.thumbnails.as_ref().map(Vec::len)));
                serde_json::to_string(&(&a.header, &a.exif)).unwrap();
            }
        }
    }
    failures.assert_none();
}

#[test]
fn limits_are_enforced_on_real_photos() {
    let bytes = std::fs::read(fixtures_dir().join("drewnoakes__metadata-extractor-images/Apple iPhone 5.jpg")).unwrap();
    let small = Limits { max_pixels: 1_000_000, ..Limits::default() };
    assert_eq!(inspect(&mut Cursor::new(&bytes), &small), Err(PhotoError::TooLarge { width: 3264, height: 2448 }));
    assert_eq!(
        thumbnails(&bytes, Format::Jpeg, None, &THUMBNAIL_SIZES, &small),
        Err(PhotoError::TooLarge { width: 3264, height: 2448 })
    );
    // The 1024 box decodes at 3/8 scale (1224×918 RGB, 3.4 MB): refused with a 1 MB budget,
    // made with a 4 MB one.
    let tight = Limits { max_decode_bytes: 1 << 20, ..Limits::default() };
    assert!(matches!(
        thumbnails(&bytes, Format::Jpeg, None, &THUMBNAIL_SIZES, &tight),
        Err(PhotoError::TooLarge { .. })
    ));
    let enough = Limits { max_decode_bytes: 4 << 20, ..Limits::default() };
    assert!(thumbnails(&bytes, Format::Jpeg, None, &THUMBNAIL_SIZES, &enough).is_ok());
    // A 256 box alone decodes at 1/8.
    let t = thumbnails(&bytes, Format::Jpeg, Some(3), &[256], &tight).unwrap();
    assert_eq!((t[0].width, t[0].height), (256, 192));

    let png = std::fs::read(fixtures_dir().join("python-pillow__Pillow/truncated_image.png")).unwrap();
    let narrow = Limits { max_dimension: 600, ..Limits::default() };
    assert_eq!(
        thumbnails(&png, Format::Png, None, &THUMBNAIL_SIZES, &narrow),
        Err(PhotoError::TooLarge { width: 640, height: 480 })
    );
    // The wrong format for the bytes is refused, not guessed.
    let limits = Limits::default();
    assert!(matches!(thumbnails(&png, Format::Jpeg, None, &THUMBNAIL_SIZES, &limits), Err(PhotoError::Corrupt(_))));
    assert_eq!(thumbnails(&[], Format::Jpeg, None, &THUMBNAIL_SIZES, &narrow), Err(PhotoError::Empty));
}

#[test]
fn truncated_copies_of_real_files_never_panic() {
    // Every prefix length class of a few real files, through the whole pipeline.
    for file in [
        "drewnoakes__metadata-extractor-images/HTC Desire.webp",
        "kamadak__exif-rs/exif.heic",
        "kamadak__exif-rs/exif.png",
        "MikeKovarik__exifr/png_with_exif_and_gps.png",
        "python-pillow__Pillow/hopper_orientation_6.jpg",
    ] {
        let bytes = std::fs::read(fixtures_dir().join(file)).unwrap();
        let step = (bytes.len() / 300).max(1);
        for n in (0..bytes.len()).step_by(step) {
            let _ = analyze(&bytes[..n], &Limits::default());
            let _ = read_exif(&mut Cursor::new(&bytes[..n]), Format::sniff(&bytes[..n.min(16)]));
        }
    }
}

#[test]
fn mutated_copies_of_small_fixtures_never_panic() {
    // Deterministic byte flips (xorshift) in every fixture under 64 KB, through analyze and
    // every public step on its own. PHOTO_MUTATIONS=N for more than 10 per file.
    let mut state = 0x2017_0531_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let per_file: usize = std::env::var("PHOTO_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let limits = Limits::default();
    let mut runs = 0;
    for e in manifest().into_iter().filter(|e| !e.bytes.is_empty() && e.bytes.len() < 64 * 1024) {
        for _ in 0..per_file {
            let mut bytes = e.bytes.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            let format = Format::sniff(&bytes[..bytes.len().min(16)]);
            let _ = analyze(&bytes, &limits);
            let _ = read_exif(&mut Cursor::new(&bytes), format);
            let _ = thumbnails(&bytes, format, Some((next() % 10) as u16), &THUMBNAIL_SIZES, &limits);
            runs += 1;
        }
    }
    assert!(runs > 40 * per_file, "{runs} runs");
}
