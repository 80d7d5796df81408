//! Every input the fuzzer (`scripts/fuzz.sh`, target `photo_analyze`) kept in
//! `tests/fixtures/fuzz-regressions/`, and the hostile fixtures (bombs, fuzzer crashes of
//! other decoders, truncated and broken files), through the fuzz target's checks: no panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod fuzz_check;

use std::path::{Path, PathBuf};

/// Fixtures made to break decoders; all must go through `analyze` without a panic.
const HOSTILE: &[&str] = &[
    "fuzzdb-project__fuzzdb/lottapixel.jpg",
    "fuzzdb-project__fuzzdb/uber.gif",
    "fuzzdb-project__fuzzdb/POC_phpinfo-metadata.jpg",
    "image-rs__jpeg-decoder/max_size.jpg",
    "image-rs__jpeg-decoder/empty.jpg",
    "image-rs__jpeg-decoder/null_height.jpg",
    "image-rs__jpeg-decoder/invalid-dimensions.jpg",
    "image-rs__jpeg-decoder/missing-sof.jpg",
    "image-rs__jpeg-decoder/missing-sos.jpg",
    "image-rs__jpeg-decoder/missing-frame-image-1410.jpg",
    "image-rs__jpeg-decoder/dc-predictor-overflow.jpg",
    "image-rs__jpeg-decoder/derive-huffman-codes-overflow.jpg",
    "image-rs__jpeg-decoder/194531363df5b73f59c4c0517422f917.jpg",
    "image-rs__image/oss-fuzz-36829.jpeg",
    "image-rs__image/panic.webp",
    "image-rs__image/Bad_reallybig.bmp",
    "python-pillow__Pillow/decompression_bomb.gif",
    "python-pillow__Pillow/decompression_bomb_extents.gif",
    "python-pillow__Pillow/zero_width.gif",
    "python-pillow__Pillow/broken.png",
    "python-pillow__Pillow/truncated_image.png",
    "python-pillow__Pillow/truncated_jpeg.jpg",
    "python-pillow__Pillow/truncated_exif_dpi.jpg",
    "python-pillow__Pillow/exif_gps_typeerror.jpg",
    "MikeKovarik__exifr/broken1.jpg",
    "MikeKovarik__exifr/RangeError_Invalid_typed_array_length.jpg",
    "MikeKovarik__exifr/RangeError_Offset_outside_bounds.jpg",
    "drewnoakes__metadata-extractor-images/crash-1c881e4b93d62a1bd98138a5be0c45d134e24812.fuzzed",
    "drewnoakes__metadata-extractor-images/crash-5694c3cf175f7c173948ca158a9dafa96c07b621.fuzzed",
    "drewnoakes__metadata-extractor-images/crash-ef2965b3ce863f83f2dd6ef18b05f61785652c3e.fuzzed",
    "drewnoakes__metadata-extractor-images/NegativeArraySizeException.ItemInfoBox.init.heif",
    "drewnoakes__metadata-extractor-images/IllegalArgumentException.HeifReader.processBoxes.heif",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The files of the regression folder (which must exist), without its README.
fn regressions() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("fuzz-regressions"))
        .expect("tests/fixtures/fuzz-regressions/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

#[test]
fn fuzz_regressions_do_not_panic() {
    for path in regressions() {
        let bytes = std::fs::read(&path).unwrap();
        eprintln!("{}", path.display());
        fuzz_check::check(&bytes);
    }
}

#[test]
fn hostile_fixtures_do_not_panic() {
    for file in HOSTILE {
        let bytes = std::fs::read(fixtures().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        fuzz_check::check(&bytes);
    }
}

#[test]
fn cut_and_flipped_fixtures_do_not_panic() {
    // Cheap mutations of small real photos: every prefix length class and a flipped byte.
    for file in ["kamadak__exif-rs/exif.jpg", "kamadak__exif-rs/exif.png", "kamadak__exif-rs/exif.webp"] {
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        for cut in [0, 1, 2, 3, 4, 11, 12, 16, 30, 64, 200, bytes.len() / 2, bytes.len() - 1] {
            fuzz_check::check(&bytes[..cut.min(bytes.len())]);
        }
        for at in [2, 3, 4, 5, 12, 20, 24, 40] {
            let mut flipped = bytes.clone();
            if let Some(b) = flipped.get_mut(at) {
                *b ^= 0xFF;
            }
            fuzz_check::check(&flipped);
        }
    }
}
