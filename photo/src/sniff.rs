//! Magic numbers.

use crate::Format;

/// ISO-BMFF major brands taken as HEIC/HEIF still images. AVIF (`avif`, `avis`) is not among
/// them: it is a different codec and is treated as unknown.
const HEIF_BRANDS: [&[u8; 4]; 8] = [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"];

pub(crate) fn sniff(head: &[u8]) -> Format {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Format::Jpeg
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Format::Png
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Format::Webp
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" && HEIF_BRANDS.iter().any(|b| &head[8..12] == *b) {
        Format::Heic
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Format::Gif
    } else if head.starts_with(b"BM") {
        Format::Bmp
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Format::Tiff
    } else {
        Format::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Format::Jpeg);
        assert_eq!(sniff(b"\xFF\xD8"), Format::Unknown);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"), Format::Png);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Format::Webp);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Format::Unknown);
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Format::Heic);
        assert_eq!(sniff(b"\0\0\0\x18ftypmif1\0\0\0\0"), Format::Heic);
        assert_eq!(sniff(b"\0\0\0\x18ftypavif\0\0\0\0"), Format::Unknown);
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0"), Format::Unknown);
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Format::Gif);
        assert_eq!(sniff(b"GIF90a"), Format::Unknown);
        assert_eq!(sniff(b"BM\x36\0\0\0"), Format::Bmp);
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Format::Tiff);
        assert_eq!(sniff(b"MM\0*\0\0\0\x08"), Format::Tiff);
        assert_eq!(sniff(b""), Format::Unknown);
        assert_eq!(sniff(b"<?php"), Format::Unknown);
    }
}
