//! JPEG in and out, built with nothing but Rust and a C compiler.
//!
//! Decoding is libjpeg (MozJPEG's copy of libjpeg-turbo, compiled by the `cc` crate, without
//! the NASM SIMD code) because it decodes at a reduced DCT size: a 12-megapixel photo is
//! read straight to 1512×1134 for a 1024 box, which no pure-Rust decoder offers at a useful
//! speed (see BENCHMARKS.md). Encoding is the pure-Rust `jpeg-encoder` with its AVX2 path.
//!
//! libjpeg reports a fatal error by unwinding out of the C code (the `mozjpeg` crate's
//! documented contract), so every call into it runs under `catch_unwind`; the workspace must
//! keep `panic = "unwind"`. Its warnings (a truncated or slightly corrupt file) are silent:
//! decoding goes on to the end, filling what it could not read with grey, as before.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mozjpeg::{ColorSpace, Decompress};

use crate::PhotoError;

/// Most scans decoded in one JPEG: a progressive file of thousands of tiny scans is a CPU
/// bomb; real ones have about ten.
pub(crate) const MAX_SCANS: u32 = 500;

fn corrupt(what: impl Into<String>) -> PhotoError {
    PhotoError::Corrupt(what.into())
}

/// Runs `f`, turning libjpeg's unwinding fatal errors into `PhotoError::Corrupt`.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, PhotoError>) -> Result<T, PhotoError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("unknown error")
                .trim_start_matches("libjpeg fatal error: ");
            Err(corrupt(format!("{what}: {message}")))
        }
    }
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> PhotoError {
    move |e| corrupt(format!("{what}: {e}"))
}

/// What the marker walk tells before libjpeg is asked to decode anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Layout {
    /// Progressive (SOF2, SOF6, SOF10, SOF14): libjpeg keeps every coefficient of the image.
    pub progressive: bool,
    /// Start-of-scan markers up to EOI (or the end of the bytes).
    pub scans: u32,
}

/// Walks the JPEG's markers, skipping segments by their length and entropy-coded data up to
/// the next marker, counting the scans. Cheap (one pass over the bytes, no decoding).
pub(crate) fn layout(bytes: &[u8]) -> Layout {
    let mut out = Layout::default();
    let mut at = 2; // after SOI, which the header check has seen
    while at + 1 < bytes.len() {
        if bytes[at] != 0xFF {
            at += 1;
            continue;
        }
        let code = bytes[at + 1];
        at += 2;
        match code {
            0xFF => at -= 1, // fill byte
            0x00 | 0x01 | 0xD0..=0xD8 => {}
            0xD9 => break,
            _ => {
                let Some(len) = bytes.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))) else {
                    break;
                };
                if matches!(code, 0xC2 | 0xC6 | 0xCA | 0xCE) {
                    out.progressive = true;
                }
                at += len.max(2);
                if code == 0xDA {
                    out.scans += 1;
                    // Entropy-coded data: 0xFF is followed by a stuffed 0x00 or a restart marker
                    // (D0–D7) inside it; anything else is the next marker.
                    while at + 1 < bytes.len() {
                        match bytes[at..].iter().position(|&b| b == 0xFF) {
                            None => at = bytes.len(),
                            Some(p) => {
                                at += p;
                                match bytes.get(at + 1) {
                                    Some(0x00 | 0xD0..=0xD7 | 0xFF) => at += 1,
                                    _ => break,
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// A JPEG's frame as libjpeg reads it: size, what its pixels decode to, and the bytes libjpeg
/// would hold for the coefficients of a progressive (multi-scan) decode.
pub(crate) struct Frame {
    pub width: u32,
    pub height: u32,
    pub space: Space,
    pub coefficient_bytes: u64,
}

/// What a decoded pixel holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    Rgb,
    /// JFIF YCbCr, full range: what a colour JPEG stores, so it goes through the resize and
    /// back into the encoder without a conversion either way.
    YCbCr,
    /// Four bytes, as stored (Adobe files invert them).
    Cmyk,
}

/// A decoded image, rows packed.
pub(crate) struct Decoded {
    pub width: u32,
    pub height: u32,
    pub space: Space,
    pub pixels: Vec<u8>,
}

/// Decodes at `scale`/8 of the full size (1..=8), after `check` has seen the frame and may
/// refuse it (sizes, budgets) before libjpeg allocates anything for the image.
/// The pixels go into `buffer` (its capacity reused).
pub(crate) fn decode(
    bytes: &[u8],
    scale: impl FnOnce(&Frame) -> Result<u8, PhotoError>,
    mut buffer: Vec<u8>,
) -> Result<Decoded, PhotoError> {
    guarded("JPEG decoder", || {
        let mut d = Decompress::new_mem(bytes).map_err(io("JPEG decoder"))?;
        let (w, h) = d.size();
        let width = u32::try_from(w).map_err(|_| corrupt("JPEG width beyond u32"))?;
        let height = u32::try_from(h).map_err(|_| corrupt("JPEG height beyond u32"))?;
        let space = match d.color_space() {
            ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => Space::Cmyk,
            ColorSpace::JCS_YCbCr => Space::YCbCr,
            _ => Space::Rgb,
        };
        let comps = d.components();
        let max_h = comps.iter().map(|c| c.h_samp_factor).max().unwrap_or(1).max(1);
        let max_v = comps.iter().map(|c| c.v_samp_factor).max().unwrap_or(1).max(1);
        // Each component's blocks of 8×8 coefficients, two bytes each, over whole MCUs.
        let (mcu_w, mcu_h) = (8 * max_h as u64, 8 * max_v as u64);
        let (mcus_x, mcus_y) = (u64::from(width).div_ceil(mcu_w), u64::from(height).div_ceil(mcu_h));
        let coefficient_bytes =
            comps.iter().map(|c| mcus_x * c.h_samp_factor as u64 * mcus_y * c.v_samp_factor as u64 * 64 * 2).sum();
        let num = scale(&Frame { width, height, space, coefficient_bytes })?.clamp(1, 8);
        d.scale(num);
        let mut started = match space {
            Space::Cmyk => d.to_colorspace(ColorSpace::JCS_CMYK),
            Space::YCbCr => d.to_colorspace(ColorSpace::JCS_YCbCr),
            Space::Rgb => d.rgb(),
        }
        .map_err(io("JPEG decoder"))?;
        let (ow, oh) = (started.width(), started.height());
        let len = ow * oh * if space == Space::Cmyk { 4 } else { 3 };
        buffer.clear();
        buffer.resize(len, 0);
        let read = started.read_scanlines_into(&mut buffer[..]).map_err(io("JPEG decoder"))?.len();
        if read != len {
            return Err(corrupt("JPEG decoder: fewer lines than the frame has"));
        }
        let pixels = buffer;
        // Whatever follows the last scan (trailing garbage, a missing EOI) is not our concern.
        drop(started.finish());
        Ok(Decoded { width: ow as u32, height: oh as u32, space, pixels })
    })
}

/// The size libjpeg gives a side of `full` pixels at `num`/8.
pub(crate) fn scaled(full: u32, num: u8) -> u32 {
    (u64::from(full) * u64::from(num)).div_ceil(8) as u32
}

/// Baseline JPEG, 4:2:0, standard Huffman tables, no metadata, from RGB or YCbCr pixels.
pub(crate) fn encode(pixels: &[u8], width: u32, height: u32, ycc: bool, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let w = u16::try_from(width).map_err(|_| corrupt("JPEG encoder: wider than 65535"))?;
    let h = u16::try_from(height).map_err(|_| corrupt("JPEG encoder: higher than 65535"))?;
    let mut out = Vec::with_capacity(pixels.len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    let color = if ycc { jpeg_encoder::ColorType::Ycbcr } else { jpeg_encoder::ColorType::Rgb };
    encoder.encode(pixels, w, h, color).map_err(|e| corrupt(format!("JPEG encoder: {e}")))?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test JPEG from libjpeg: `pixel` repeated, in `space` (RGB, grey, or CMYK stored as
    /// given), 4:2:0 where it has chroma.
    pub(crate) fn make(space: ColorSpace, progressive: bool, pixel: &[u8], w: usize, h: usize) -> Vec<u8> {
        let pixels: Vec<u8> = pixel.iter().copied().cycle().take(pixel.len() * w * h).collect();
        let mut c = mozjpeg::Compress::new(space);
        c.set_fastest_defaults();
        c.set_size(w, h);
        c.set_quality(95.0);
        if progressive {
            c.set_progressive_mode();
        }
        let mut c = c.start_compress(Vec::new()).unwrap();
        c.write_scanlines(&pixels).unwrap();
        c.finish().unwrap()
    }

    /// Decodes a JPEG whole to RGB: (width, height, pixels).
    pub(crate) fn rgb(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut d = Decompress::new_mem(bytes).unwrap().rgb().unwrap();
        let (w, h) = (d.width() as u32, d.height() as u32);
        let pixels = d.read_scanlines::<u8>().unwrap();
        (w, h, pixels)
    }

    #[test]
    fn scans_are_counted_without_decoding() {
        let baseline = make(ColorSpace::JCS_RGB, false, &[10, 20, 30], 64, 48);
        assert_eq!(layout(&baseline), Layout { progressive: false, scans: 1 });
        let progressive = make(ColorSpace::JCS_RGB, true, &[10, 20, 30], 64, 48);
        let l = layout(&progressive);
        assert!(l.progressive && l.scans > 5, "{l:?}");
        // Truncated anywhere, the walk ends without panicking.
        for cut in 0..progressive.len() {
            layout(&progressive[..cut]);
        }
    }

    #[test]
    fn fatal_libjpeg_errors_come_back_as_errors() {
        let good = make(ColorSpace::JCS_RGB, false, &[10, 20, 30], 640, 480);
        // A broken Huffman table definition is fatal to libjpeg.
        let dht = good.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap();
        let mut bad = good.clone();
        bad[dht + 4..dht + 20].fill(0xFF);
        let err = decode(&bad, |_| Ok(8), Vec::new()).err().unwrap();
        assert!(matches!(&err, PhotoError::Corrupt(m) if m.starts_with("JPEG decoder: ")), "{err:?}");
        // A truncated file decodes (libjpeg warns, then fills with grey).
        let d = decode(&good[..good.len() / 2], |_| Ok(8), Vec::new()).unwrap();
        assert_eq!((d.width, d.height), (640, 480));
    }

    #[test]
    fn decodes_at_a_reduced_size_and_encodes_baseline() {
        let jpeg = make(ColorSpace::JCS_RGB, false, &[200, 40, 40], 4032, 3024);
        let d = decode(
            &jpeg,
            |f| {
                assert_eq!((f.width, f.height, f.space), (4032, 3024, Space::YCbCr));
                Ok(3)
            },
            Vec::new(),
        )
        .unwrap();
        assert_eq!((d.width, d.height), (scaled(4032, 3), scaled(3024, 3)));
        assert_eq!((d.width, d.height, d.space), (1512, 1134, Space::YCbCr));
        let out = encode(&d.pixels, d.width, d.height, true, 82).unwrap();
        assert_eq!(layout(&out), Layout { progressive: false, scans: 1 });
        let (w, h, px) = rgb(&out);
        assert_eq!((w, h), (1512, 1134));
        assert!(px[..3].iter().zip([200u8, 40, 40]).all(|(a, b)| a.abs_diff(b) <= 6), "{:?}", &px[..3]);
    }
}
