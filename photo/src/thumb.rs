//! Thumbnails: bounded decoding (JPEG at a reduced DCT size), Catmull-Rom (bicubic) resizing, EXIF
//! orientation, baseline JPEG without metadata.

use std::io::Cursor;
use std::time::{Duration, Instant};

use fast_image_resize as fr;

use crate::inspect::check_limits;
use crate::jpeg::{self, Space};
use crate::{Format, Limits, PhotoError, Thumbnail};

/// JPEG quality of the thumbnails (4:2:0 chroma subsampling).
pub const THUMBNAIL_QUALITY: u8 = 82;

/// Where the time of one `thumbnails` call went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThumbnailTimings {
    /// Header check and decoding to RGB (JPEG: at a reduced DCT size).
    pub decode: Duration,
    /// Catmull-Rom resizing (Pillow's BICUBIC), every size.
    pub resize: Duration,
    /// Turning upright by EXIF orientation, every size.
    pub orient: Duration,
    /// JPEG encoding, every size.
    pub encode: Duration,
}

/// An 8-bit image of three channels, rows packed: RGB, or YCbCr as a JPEG stores it (resizing
/// and turning treat the channels alike; the encoder takes either).
struct Rgb {
    width: u32,
    height: u32,
    ycc: bool,
    pixels: Vec<u8>,
}

/// Buffers kept between calls on one thread: the decoded image, the resized and the turned
/// ones are 2–5 MB each for a phone photo, and memory freshly mapped for every call costs a
/// page fault per 4 KiB (about 3 ms of a 40 ms thumbnail run). A worker thread keeps at most
/// [`RETAINED_BYTES`] of them.
#[derive(Default)]
struct Scratch {
    resizer: Option<fr::Resizer>,
    free: Vec<Vec<u8>>,
}

/// Most buffer capacity one thread keeps between calls.
const RETAINED_BYTES: usize = 48 << 20;

impl Scratch {
    /// A buffer of `len` zero bytes, reusing the largest free one.
    fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut v = self.free.pop().unwrap_or_default();
        v.clear();
        v.resize(len, 0);
        v
    }

    fn give(&mut self, v: Vec<u8>) {
        let kept: usize = self.free.iter().map(Vec::capacity).sum();
        if kept + v.capacity() <= RETAINED_BYTES {
            self.free.push(v);
            self.free.sort_by_key(Vec::capacity);
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
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
    let mut scratch = SCRATCH.take();
    let result = thumbnails_with(bytes, format, orientation, sizes, limits, timings, &mut scratch);
    SCRATCH.set(scratch);
    result
}

/// [`thumbnails`] with this thread's buffers.
fn thumbnails_with(
    bytes: &[u8],
    format: Format,
    orientation: Option<u16>,
    sizes: &[u32],
    limits: &Limits,
    timings: &mut ThumbnailTimings,
    scratch: &mut Scratch,
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
        Format::Jpeg => decode_jpeg(bytes, largest, limits, scratch.free.pop().unwrap_or_default())?,
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
    let mut resizer = scratch.resizer.take().unwrap_or_default();

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
                let resized = resize(&mut resizer, &source, sw, sh, scratch)?;
                timings.resize += t.elapsed();
                let t = Instant::now();
                let upright = orient(resized, orientation, scratch);
                timings.orient += t.elapsed();
                upright
            }
            Some(prev) => {
                let t = Instant::now();
                let resized = resize(&mut resizer, &prev, w, h, scratch)?;
                timings.resize += t.elapsed();
                previous = Some(prev);
                resized
            }
        };
        let t = Instant::now();
        let jpeg = jpeg::encode(&image.pixels, image.width, image.height, image.ycc, THUMBNAIL_QUALITY)?;
        timings.encode += t.elapsed();
        out[i] = Some(Thumbnail { size, width: image.width, height: image.height, jpeg });
        // Keep the largest upright result as the source of the smaller ones.
        let area = |i: &Rgb| u64::from(i.width) * u64::from(i.height);
        if previous.as_ref().is_none_or(|p| area(p) < area(&image)) {
            if let Some(p) = previous.replace(image) {
                scratch.give(p.pixels);
            }
        } else {
            scratch.give(image.pixels);
        }
    }
    scratch.give(source.pixels);
    if let Some(p) = previous {
        scratch.give(p.pixels);
    }
    scratch.resizer = Some(resizer);
    Ok(out.into_iter().flatten().collect())
}

fn resize(resizer: &mut fr::Resizer, source: &Rgb, tw: u32, th: u32, scratch: &mut Scratch) -> Result<Rgb, PhotoError> {
    let (pixels, w, h, ycc) = (&source.pixels[..], source.width, source.height, source.ycc);
    if (w, h) == (tw, th) {
        let mut copy = scratch.buffer(0);
        copy.extend_from_slice(pixels);
        return Ok(Rgb { width: w, height: h, ycc, pixels: copy });
    }
    let src =
        fr::images::ImageRef::new(w, h, pixels, fr::PixelType::U8x3).map_err(|e| corrupt(format!("resize: {e}")))?;
    let buffer = scratch.buffer(tw as usize * th as usize * 3);
    let mut dst = fr::images::Image::from_vec_u8(tw, th, buffer, fr::PixelType::U8x3)
        .map_err(|e| corrupt(format!("resize: {e}")))?;
    let options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::CatmullRom));
    resizer.resize(&src, &mut dst, &options).map_err(|e| corrupt(format!("resize: {e}")))?;
    Ok(Rgb { width: tw, height: th, ycc, pixels: dst.into_vec() })
}

// ---------------------------------------------------------------- orientation

/// Turns an image stored with EXIF orientation `o` (1..=8) upright.
fn orient(image: Rgb, o: u16, scratch: &mut Scratch) -> Rgb {
    let (w, h) = (image.width as usize, image.height as usize);
    let src = &image.pixels;
    let turned = match o {
        2..=4 => {
            let mut out = scratch.buffer(src.len());
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
            Rgb { width: image.width, height: image.height, ycc: image.ycc, pixels: out }
        }
        5..=8 => {
            // The output is h wide and w high; output (ox, oy) comes from source (sx, sy).
            let mut out = scratch.buffer(src.len());
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
            Rgb { width: image.height, height: image.width, ycc: image.ycc, pixels: out }
        }
        _ => return image,
    };
    scratch.give(image.pixels);
    turned
}

// ---------------------------------------------------------------- JPEG decoding

fn decode_jpeg(bytes: &[u8], largest: u32, limits: &Limits, buffer: Vec<u8>) -> Result<Rgb, PhotoError> {
    let layout = jpeg::layout(bytes);
    if layout.scans > jpeg::MAX_SCANS {
        return Err(corrupt(format!("a JPEG of more than {} scans", jpeg::MAX_SCANS)));
    }
    let decoded = jpeg::decode(
        bytes,
        |frame| {
            let (w, h) = (frame.width, frame.height);
            check_limits(w, h, limits)?;
            // The smallest DCT scaling whose output still covers the largest box.
            let (tw, th) = fit(w, h, largest);
            let num = (1..=8u8).find(|&n| jpeg::scaled(w, n) >= tw && jpeg::scaled(h, n) >= th).unwrap_or(8);
            let channels = if frame.space == Space::Cmyk { 4 } else { 3 };
            let output = u64::from(jpeg::scaled(w, num)) * u64::from(jpeg::scaled(h, num)) * channels;
            let coefficients = if layout.progressive { frame.coefficient_bytes } else { 0 };
            if output + coefficients > limits.max_decode_bytes {
                return Err(PhotoError::TooLarge { width: u64::from(w), height: u64::from(h) });
            }
            Ok(num)
        },
        buffer,
    )?;
    let pixels = if decoded.space == Space::Cmyk {
        // Adobe CMYK JPEGs (nearly all of them) store inverted values: 255 is no ink.
        decoded
            .pixels
            .chunks_exact(4)
            .flat_map(|p| {
                let k = u32::from(p[3]);
                [p[0], p[1], p[2]].map(|c| ((u32::from(c) * k + 127) / 255) as u8)
            })
            .collect()
    } else {
        decoded.pixels
    };
    Ok(Rgb { width: decoded.width, height: decoded.height, ycc: decoded.space == Space::YCbCr, pixels })
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
    Ok(Rgb { width, height, ycc: false, pixels })
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
        Rgb { width: w, height: h, ycc: false, pixels }
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
            let r = orient(numbered(3, 2), o, &mut Scratch::default());
            assert_eq!((r.width, r.height), (w, h), "orientation {o}");
            assert_eq!(at(&r, 0, 0), top_left, "orientation {o}");
        }
        let r = orient(numbered(3, 2), 7, &mut Scratch::default());
        assert_eq!(at(&r, 0, 0), 5);
        let r = orient(numbered(3, 2), 8, &mut Scratch::default());
        assert_eq!(at(&r, 0, 0), 2);
        // 6 is a quarter turn clockwise: the stored top row becomes the right column.
        let r = orient(numbered(3, 2), 6, &mut Scratch::default());
        assert_eq!([at(&r, 1, 0), at(&r, 1, 1), at(&r, 1, 2)], [0, 1, 2]);
    }

    use crate::jpeg::tests::{make as jpeg, rgb};
    use mozjpeg::ColorSpace;

    fn first_pixel(t: &Thumbnail) -> [u8; 3] {
        let (_, _, px) = rgb(&t.jpeg);
        [px[0], px[1], px[2]]
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
        let progressive = jpeg(ColorSpace::JCS_RGB, true, &[200, 40, 40], 2000, 1000);
        let t = make(&progressive, Format::Jpeg, &limits).unwrap();
        assert_eq!([(t[0].width, t[0].height), (t[1].width, t[1].height)], [(512, 1024), (128, 256)]);
        assert!(near(first_pixel(&t[1]), [200, 40, 40]), "{:?}", first_pixel(&t[1]));
        // Its whole-image coefficient buffer (2000×1008 luma + chroma, 2 bytes each) counts.
        let budget = Limits { max_decode_bytes: 5_000_000, ..limits };
        assert!(matches!(make(&progressive, Format::Jpeg, &budget), Err(PhotoError::TooLarge { .. })));
        let baseline = jpeg(ColorSpace::JCS_RGB, false, &[200, 40, 40], 2000, 1000);
        assert!(make(&baseline, Format::Jpeg, &budget).is_ok());

        // A progressive file whose first scan repeats 600 times is refused before decoding.
        let sos = progressive.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let next = sos
            + 2
            + progressive[sos + 2..]
                .windows(2)
                .position(|w| w[0] == 0xFF && w[1] > 0 && !(0xD0..=0xD7).contains(&w[1]))
                .unwrap();
        let mut bomb = progressive[..sos].to_vec();
        (0..600).for_each(|_| bomb.extend_from_slice(&progressive[sos..next]));
        bomb.extend_from_slice(&[0xFF, 0xD9]);
        assert!(matches!(make(&bomb, Format::Jpeg, &limits), Err(PhotoError::Corrupt(m)) if m.contains("500 scans")));

        let grey = jpeg(ColorSpace::JCS_GRAYSCALE, false, &[90], 300, 200);
        let t = make(&grey, Format::Jpeg, &limits).unwrap();
        assert!(near(first_pixel(&t[0]), [90, 90, 90]));

        // Adobe-style inverted CMYK: 255 is no ink.
        let cmyk = jpeg(ColorSpace::JCS_CMYK, false, &[255, 0, 0, 255], 64, 64);
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
        let (w, h, pixels) = rgb(&t[0].jpeg);
        assert_eq!((w, h), (32, 16));
        let px = |x: usize| [pixels[x * 3], pixels[x * 3 + 1], pixels[x * 3 + 2]];
        assert!(near(px(2), [255, 255, 255]) && near(px(29), [255, 0, 0]), "{:?} {:?}", px(2), px(29));
        let grey16: Vec<u8> = (0..64 * 64).flat_map(|_| 30000u16.to_ne_bytes()).collect();
        let t = make(&png(64, 64, image::ExtendedColorType::L16, &grey16), Format::Png, &limits).unwrap();
        assert!(near(first_pixel(&t[0]), [117, 117, 117]), "{:?}", first_pixel(&t[0]));
        // The decode budget covers PNG too.
        let big = png(1000, 1000, image::ExtendedColorType::Rgb8, &vec![7; 3_000_000]);
        let budget = Limits { max_decode_bytes: 2_000_000, ..limits };
        assert!(matches!(make(&big, Format::Png, &budget), Err(PhotoError::TooLarge { .. })));
    }
}
