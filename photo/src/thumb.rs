//! Thumbnails: bounded decoding (JPEG at a reduced DCT size), Lanczos3 resizing, EXIF
//! orientation, baseline JPEG without metadata.

use std::io::Cursor;
use std::time::{Duration, Instant};

use fast_image_resize as fr;
use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor, Subsamp};

use crate::inspect::check_limits;
use crate::{Format, Limits, PhotoError, Thumbnail};

/// Most progressive scans decoded in one JPEG.
const MAX_SCANS: u32 = 500;

/// JPEG quality of the thumbnails (4:2:0 chroma subsampling).
pub const THUMBNAIL_QUALITY: i32 = 82;

/// Where the time of one `thumbnails` call went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThumbnailTimings {
    /// Header check and decoding to RGB (JPEG: at a reduced DCT size).
    pub decode: Duration,
    /// Lanczos3 resizing, every size.
    pub resize: Duration,
    /// Turning upright by EXIF orientation, every size.
    pub orient: Duration,
    /// JPEG encoding, every size.
    pub encode: Duration,
}

/// An 8-bit RGB image, rows packed.
struct Rgb {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

fn corrupt(what: impl Into<String>) -> PhotoError {
    PhotoError::Corrupt(what.into())
}

/// The size that fits a `w`×`h` image in a `size`×`size` box, never enlarging.
pub(crate) fn fit(w: u32, h: u32, size: u32) -> (u32, u32) {
    let size = size.max(1);
    if w <= size && h <= size {
        return (w, h);
    }
    let (long, short) = (u64::from(w.max(h)), u64::from(w.min(h)));
    let scaled = ((short * u64::from(size) + long / 2) / long).max(1) as u32;
    if w >= h { (size, scaled) } else { (scaled, size) }
}

pub(crate) fn thumbnails(
    bytes: &[u8],
    format: Format,
    orientation: Option<u16>,
    sizes: &[u32],
    limits: &Limits,
    timings: &mut ThumbnailTimings,
) -> Result<Vec<Thumbnail>, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    match format {
        Format::Gif | Format::Bmp | Format::Tiff => return Err(PhotoError::UnsupportedFormat(format)),
        Format::Unknown => return Err(PhotoError::Unrecognised),
        Format::Jpeg | Format::Png | Format::Webp | Format::Heic => {}
    }
    let started = Instant::now();
    let header = crate::inspect(&mut Cursor::new(bytes), limits)?;
    if header.format != format {
        return Err(corrupt(format!("the bytes are {:?}, not {format:?}", header.format)));
    }
    if format == Format::Heic {
        return Err(PhotoError::Undecodable(Format::Heic));
    }
    if sizes.is_empty() {
        return Ok(Vec::new());
    }
    let largest = sizes.iter().copied().max().unwrap_or(1).max(1);
    let source = match format {
        Format::Jpeg => decode_jpeg(bytes, largest, limits)?,
        _ => decode_image(bytes, format, limits)?,
    };
    timings.decode += started.elapsed();

    let orientation = orientation.filter(|o| (1..=8).contains(o)).unwrap_or(1);
    let (full_w, full_h) = match (header.width, header.height) {
        (Some(w), Some(h)) => (w, h),
        _ => (source.width, source.height),
    };
    // The upright size of the whole image, from which every box size is computed.
    let (upright_w, upright_h) = if orientation >= 5 { (full_h, full_w) } else { (full_w, full_h) };

    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut out: Vec<Option<Thumbnail>> = vec![None; sizes.len()];
    let mut resizer = fr::Resizer::new();
    let mut compressor = turbojpeg::Compressor::new().map_err(|e| corrupt(format!("JPEG encoder: {e}")))?;
    compressor.set_quality(THUMBNAIL_QUALITY).map_err(|e| corrupt(format!("JPEG encoder: {e}")))?;
    compressor.set_subsamp(Subsamp::Sub2x2).map_err(|e| corrupt(format!("JPEG encoder: {e}")))?;

    // The first (largest) thumbnail is made from the decoded image, still stored sideways,
    // and then turned; every smaller one from the previous, already upright, result.
    let mut previous: Option<Rgb> = None;
    for i in order {
        let size = sizes[i].max(1);
        let (w, h) = fit(upright_w, upright_h, size);
        let image = match previous.take() {
            None => {
                let (sw, sh) = if orientation >= 5 { (h, w) } else { (w, h) };
                let t = Instant::now();
                let resized = resize(&mut resizer, source_view(&source), sw, sh)?;
                timings.resize += t.elapsed();
                let t = Instant::now();
                let upright = orient(resized, orientation);
                timings.orient += t.elapsed();
                upright
            }
            Some(prev) => {
                let t = Instant::now();
                let resized = resize(&mut resizer, source_view(&prev), w, h)?;
                timings.resize += t.elapsed();
                previous = Some(prev);
                resized
            }
        };
        let t = Instant::now();
        let jpeg = encode(&mut compressor, &image)?;
        timings.encode += t.elapsed();
        out[i] = Some(Thumbnail { size, width: image.width, height: image.height, jpeg });
        // Keep the largest upright result as the source of the smaller ones.
        let area = |i: &Rgb| u64::from(i.width) * u64::from(i.height);
        if previous.as_ref().is_none_or(|p| area(p) < area(&image)) {
            previous = Some(image);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

fn source_view(image: &Rgb) -> (&[u8], u32, u32) {
    (&image.pixels, image.width, image.height)
}

fn resize(resizer: &mut fr::Resizer, (pixels, w, h): (&[u8], u32, u32), tw: u32, th: u32) -> Result<Rgb, PhotoError> {
    if (w, h) == (tw, th) {
        return Ok(Rgb { width: w, height: h, pixels: pixels.to_vec() });
    }
    let src =
        fr::images::ImageRef::new(w, h, pixels, fr::PixelType::U8x3).map_err(|e| corrupt(format!("resize: {e}")))?;
    let mut dst = fr::images::Image::new(tw, th, fr::PixelType::U8x3);
    let options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    resizer.resize(&src, &mut dst, &options).map_err(|e| corrupt(format!("resize: {e}")))?;
    Ok(Rgb { width: tw, height: th, pixels: dst.into_vec() })
}

fn encode(compressor: &mut turbojpeg::Compressor, image: &Rgb) -> Result<Vec<u8>, PhotoError> {
    let view = turbojpeg::Image {
        pixels: &image.pixels[..],
        width: image.width as usize,
        pitch: image.width as usize * 3,
        height: image.height as usize,
        format: PixelFormat::RGB,
    };
    compressor.compress_to_vec(view).map_err(|e| corrupt(format!("JPEG encoder: {e}")))
}

// ---------------------------------------------------------------- orientation

/// Turns an image stored with EXIF orientation `o` (1..=8) upright.
fn orient(image: Rgb, o: u16) -> Rgb {
    let (w, h) = (image.width as usize, image.height as usize);
    let src = &image.pixels;
    match o {
        2..=4 => {
            let mut out = vec![0u8; src.len()];
            for (y, row) in out.chunks_exact_mut(w * 3).enumerate() {
                let sy = if o == 2 { y } else { h - 1 - y };
                let srow = &src[sy * w * 3..(sy + 1) * w * 3];
                if o == 4 {
                    row.copy_from_slice(srow);
                } else {
                    for (dst, px) in row.chunks_exact_mut(3).zip(srow.chunks_exact(3).rev()) {
                        dst.copy_from_slice(px);
                    }
                }
            }
            Rgb { width: image.width, height: image.height, pixels: out }
        }
        5..=8 => {
            // The output is h wide and w high; output (ox, oy) comes from source (sx, sy).
            let mut out = vec![0u8; src.len()];
            for (oy, row) in out.chunks_exact_mut(h * 3).enumerate() {
                for (ox, dst) in row.chunks_exact_mut(3).enumerate() {
                    let (sx, sy) = match o {
                        5 => (oy, ox),
                        6 => (oy, h - 1 - ox),
                        7 => (w - 1 - oy, h - 1 - ox),
                        _ => (w - 1 - oy, ox),
                    };
                    let at = (sy * w + sx) * 3;
                    dst.copy_from_slice(&src[at..at + 3]);
                }
            }
            Rgb { width: image.height, height: image.width, pixels: out }
        }
        _ => image,
    }
}

// ---------------------------------------------------------------- JPEG decoding

/// libjpeg's warnings (JWRN_*): the decoder went on to the end of the image, filling what it
/// could not read (a truncated file ends in grey).
fn is_jpeg_warning(message: &str) -> bool {
    const WARNINGS: [&str; 8] = [
        "Corrupt JPEG data",
        "Premature end of JPEG file",
        "Warning:",
        "Inconsistent progression sequence",
        "Invalid SOS parameters for sequential JPEG",
        "Unknown Adobe color transform code",
        "Application transferred too many scanlines",
        "Invalid color quantization mode change",
    ];
    WARNINGS.iter().any(|w| message.starts_with(w))
}

/// Bytes of coefficients libjpeg keeps for a whole image when decoding a progressive (or
/// multi-scan) JPEG: two bytes per sample, chroma planes by their subsampling.
fn coefficient_bytes(w: u64, h: u64, subsamp: Subsamp) -> u64 {
    let luma = w.div_ceil(16) * 16 * h.div_ceil(16) * 16;
    let chroma_per_luma_x4 = match subsamp {
        Subsamp::None => 8,
        Subsamp::Sub2x1 | Subsamp::Sub1x2 => 4,
        Subsamp::Sub2x2 | Subsamp::Sub4x1 => 2,
        Subsamp::Gray => 0,
        _ => 12,
    };
    2 * (luma + luma * chroma_per_luma_x4 / 4)
}

fn decode_jpeg(bytes: &[u8], largest: u32, limits: &Limits) -> Result<Rgb, PhotoError> {
    let tj = |e: turbojpeg::Error| corrupt(format!("JPEG decoder: {e}"));
    let mut decompressor = Decompressor::new().map_err(tj)?;
    let header = decompressor.read_header(bytes).map_err(tj)?;
    let w = u32::try_from(header.width).map_err(|_| corrupt("JPEG width beyond u32"))?;
    let h = u32::try_from(header.height).map_err(|_| corrupt("JPEG height beyond u32"))?;
    check_limits(w, h, limits)?;

    // The smallest DCT scaling whose output still covers the largest box.
    let (tw, th) = fit(w, h, largest);
    let factor = if header.is_lossless {
        ScalingFactor::ONE
    } else {
        Decompressor::supported_scaling_factors()
            .into_iter()
            .filter(|f| f.num() <= f.denom())
            .filter(|f| f.scale(header.width) >= tw as usize && f.scale(header.height) >= th as usize)
            .min_by(|a, b| (a.num() * b.denom()).cmp(&(b.num() * a.denom())))
            .unwrap_or(ScalingFactor::ONE)
    };
    decompressor.set_scaling_factor(factor).map_err(tj)?;
    // A progressive JPEG with thousands of tiny scans is a CPU bomb; real ones have about ten.
    decompressor.set_scan_limit(MAX_SCANS).map_err(tj)?;
    let (sw, sh) = (factor.scale(header.width), factor.scale(header.height));

    let cmyk = matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    let px = if cmyk { 4 } else { 3 };
    let output = (sw as u64) * (sh as u64) * px;
    let coefficients =
        if header.is_progressive { coefficient_bytes(u64::from(w), u64::from(h), header.subsamp) } else { 0 };
    if output + coefficients > limits.max_decode_bytes {
        return Err(PhotoError::TooLarge { width: u64::from(w), height: u64::from(h) });
    }
    let mut pixels = vec![0u8; sw * sh * px as usize];
    let image = turbojpeg::Image {
        pixels: &mut pixels[..],
        width: sw,
        pitch: sw * px as usize,
        height: sh,
        format: if cmyk { PixelFormat::CMYK } else { PixelFormat::RGB },
    };
    match decompressor.decompress(bytes, image) {
        Ok(()) => {}
        Err(turbojpeg::Error::TurboJpegError(message)) if is_jpeg_warning(&message) => {}
        Err(e) => return Err(tj(e)),
    }
    if cmyk {
        // Adobe CMYK JPEGs (nearly all of them) store inverted values: 255 is no ink.
        let rgb = pixels
            .chunks_exact(4)
            .flat_map(|p| {
                let k = u32::from(p[3]);
                [p[0], p[1], p[2]].map(|c| ((u32::from(c) * k + 127) / 255) as u8)
            })
            .collect();
        pixels = rgb;
    }
    Ok(Rgb { width: sw as u32, height: sh as u32, pixels })
}

// ---------------------------------------------------------------- PNG and WebP

fn decode_image(bytes: &[u8], format: Format, limits: &Limits) -> Result<Rgb, PhotoError> {
    use image::{DynamicImage, ImageDecoder, ImageReader};
    let image_format = match format {
        Format::Png => image::ImageFormat::Png,
        _ => image::ImageFormat::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut bounds = image::Limits::default();
    bounds.max_image_width = Some(limits.max_dimension);
    bounds.max_image_height = Some(limits.max_dimension);
    bounds.max_alloc = Some(limits.max_decode_bytes);
    reader.limits(bounds);
    let decoder = reader.into_decoder().map_err(image_error)?;
    let (w, h) = decoder.dimensions();
    check_limits(w, h, limits)?;
    // The decoded image plus the RGB copy made from it.
    if decoder.total_bytes().saturating_add(u64::from(w) * u64::from(h) * 3) > limits.max_decode_bytes {
        return Err(PhotoError::TooLarge { width: u64::from(w), height: u64::from(h) });
    }
    let decoded = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    let (width, height) = (decoded.width(), decoded.height());
    let pixels = match decoded {
        DynamicImage::ImageRgb8(rgb) => rgb.into_raw(),
        other if other.color().has_alpha() => flatten_on_white(&other.into_rgba8().into_raw()),
        other => other.into_rgb8().into_raw(),
    };
    Ok(Rgb { width, height, pixels })
}

fn flatten_on_white(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|p| {
            let a = u32::from(p[3]);
            [p[0], p[1], p[2]].map(|c| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8)
        })
        .collect()
}

fn image_error(e: image::ImageError) -> PhotoError {
    match e {
        image::ImageError::Limits(l) => corrupt(format!("decoding limits: {l}")),
        other => corrupt(format!("{other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_never_enlarges_and_keeps_aspect() {
        assert_eq!(fit(4032, 3024, 1024), (1024, 768));
        assert_eq!(fit(3024, 4032, 256), (192, 256));
        assert_eq!(fit(48, 80, 256), (48, 80));
        assert_eq!(fit(1, 30000, 256), (1, 256));
        assert_eq!(fit(5000, 5000, 1024), (1024, 1024));
    }

    fn numbered(w: u32, h: u32) -> Rgb {
        let pixels = (0..w * h).flat_map(|i| [i as u8, (i >> 8) as u8, 0]).collect();
        Rgb { width: w, height: h, pixels }
    }

    fn at(img: &Rgb, x: u32, y: u32) -> u16 {
        let i = ((y * img.width + x) * 3) as usize;
        u16::from(img.pixels[i]) | u16::from(img.pixels[i + 1]) << 8
    }

    #[test]
    fn orientations_move_the_top_left_pixel_where_exif_says() {
        // Stored 3 wide, 2 high; pixel index = y*3 + x. Where does stored (0,0) end up, and
        // what is at the upright top-left?
        let cases = [(1, (3, 2), 0), (2, (3, 2), 2), (3, (3, 2), 5), (4, (3, 2), 3), (5, (2, 3), 0), (6, (2, 3), 3)];
        for (o, (w, h), top_left) in cases {
            let r = orient(numbered(3, 2), o);
            assert_eq!((r.width, r.height), (w, h), "orientation {o}");
            assert_eq!(at(&r, 0, 0), top_left, "orientation {o}");
        }
        let r = orient(numbered(3, 2), 7);
        assert_eq!(at(&r, 0, 0), 5);
        let r = orient(numbered(3, 2), 8);
        assert_eq!(at(&r, 0, 0), 2);
        // 6 is a quarter turn clockwise: the stored top row becomes the right column.
        let r = orient(numbered(3, 2), 6);
        assert_eq!([at(&r, 1, 0), at(&r, 1, 1), at(&r, 1, 2)], [0, 1, 2]);
    }

    fn jpeg(format: PixelFormat, subsamp: Subsamp, progressive: bool, pixel: &[u8], w: usize, h: usize) -> Vec<u8> {
        let pixels: Vec<u8> = pixel.iter().copied().cycle().take(pixel.len() * w * h).collect();
        let mut c = turbojpeg::Compressor::new().unwrap();
        c.set_subsamp(subsamp).unwrap();
        c.set_progressive(progressive).unwrap();
        c.set_quality(95).unwrap();
        let image = turbojpeg::Image { pixels: &pixels[..], width: w, pitch: w * pixel.len(), height: h, format };
        c.compress_to_vec(image).unwrap()
    }

    fn first_pixel(t: &Thumbnail) -> [u8; 3] {
        let img = turbojpeg::decompress(&t.jpeg, PixelFormat::RGB).unwrap();
        [img.pixels[0], img.pixels[1], img.pixels[2]]
    }

    fn near(a: [u8; 3], b: [u8; 3]) -> bool {
        a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6)
    }

    fn make(bytes: &[u8], format: Format, limits: &Limits) -> Result<Vec<Thumbnail>, PhotoError> {
        thumbnails(bytes, format, Some(6), &[1024, 256], limits, &mut ThumbnailTimings::default())
    }

    #[test]
    fn progressive_grey_and_cmyk_jpegs() {
        let limits = Limits::default();
        let progressive = jpeg(PixelFormat::RGB, Subsamp::Sub2x2, true, &[200, 40, 40], 2000, 1000);
        let t = make(&progressive, Format::Jpeg, &limits).unwrap();
        assert_eq!([(t[0].width, t[0].height), (t[1].width, t[1].height)], [(512, 1024), (128, 256)]);
        assert!(near(first_pixel(&t[1]), [200, 40, 40]), "{:?}", first_pixel(&t[1]));
        // Its whole-image coefficient buffer (2000×1008 luma + chroma, 2 bytes each) counts.
        let budget = Limits { max_decode_bytes: 5_000_000, ..limits };
        assert!(matches!(make(&progressive, Format::Jpeg, &budget), Err(PhotoError::TooLarge { .. })));
        let baseline = jpeg(PixelFormat::RGB, Subsamp::Sub2x2, false, &[200, 40, 40], 2000, 1000);
        assert!(make(&baseline, Format::Jpeg, &budget).is_ok());

        let grey = jpeg(PixelFormat::GRAY, Subsamp::Gray, false, &[90], 300, 200);
        let t = make(&grey, Format::Jpeg, &limits).unwrap();
        assert!(near(first_pixel(&t[0]), [90, 90, 90]));

        // Adobe-style inverted CMYK: 255 is no ink.
        let cmyk = jpeg(PixelFormat::CMYK, Subsamp::None, false, &[255, 0, 0, 255], 64, 64);
        let t = make(&cmyk, Format::Jpeg, &limits).unwrap();
        assert!(near(first_pixel(&t[0]), [255, 0, 0]), "{:?}", first_pixel(&t[0]));
    }

    #[test]
    fn png_alpha_grey_and_sixteen_bits() {
        use image::ImageEncoder;
        let png = |w: u32, h: u32, color: image::ExtendedColorType, data: &[u8]| {
            let mut out = Vec::new();
            image::codecs::png::PngEncoder::new(&mut out).write_image(data, w, h, color).unwrap();
            out
        };
        let limits = Limits::default();
        // Fully transparent black comes out white; opaque red stays red.
        let data: Vec<u8> =
            (0..32 * 16).flat_map(|i| if i % 32 < 16 { [0, 0, 0, 0] } else { [255, 0, 0, 255] }).collect();
        let rgba = png(32, 16, image::ExtendedColorType::Rgba8, &data);
        let t = thumbnails(&rgba, Format::Png, None, &[256], &limits, &mut ThumbnailTimings::default()).unwrap();
        let img = turbojpeg::decompress(&t[0].jpeg, PixelFormat::RGB).unwrap();
        assert_eq!((img.width, img.height), (32, 16));
        let px = |x: usize| [img.pixels[x * 3], img.pixels[x * 3 + 1], img.pixels[x * 3 + 2]];
        assert!(near(px(2), [255, 255, 255]) && near(px(29), [255, 0, 0]), "{:?} {:?}", px(2), px(29));
        let grey16: Vec<u8> = (0..64 * 64).flat_map(|_| 30000u16.to_ne_bytes()).collect();
        let t = make(&png(64, 64, image::ExtendedColorType::L16, &grey16), Format::Png, &limits).unwrap();
        assert!(near(first_pixel(&t[0]), [117, 117, 117]), "{:?}", first_pixel(&t[0]));
        // The decode budget covers PNG too.
        let big = png(1000, 1000, image::ExtendedColorType::Rgb8, &vec![7; 3_000_000]);
        let budget = Limits { max_decode_bytes: 2_000_000, ..limits };
        assert!(matches!(make(&big, Format::Png, &budget), Err(PhotoError::TooLarge { .. })));
    }

    #[test]
    fn warnings_are_told_from_errors() {
        assert!(is_jpeg_warning("Premature end of JPEG file"));
        assert!(is_jpeg_warning("Corrupt JPEG data: 12 extraneous bytes before marker 0xd9"));
        assert!(!is_jpeg_warning("Bogus Huffman table definition"));
    }
}
