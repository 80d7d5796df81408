//! Header checks: dimensions and structure read from the headers only, every size checked
//! against the file's length before anything is read or skipped.

use std::io::{BufRead, Seek, SeekFrom};

use crate::{Format, Header, Limits, PhotoError};

fn corrupt(what: impl Into<String>) -> PhotoError {
    PhotoError::Corrupt(what.into())
}

/// A reader that knows the file's length and never reads or seeks past it.
pub(crate) struct Src<'a, R> {
    r: &'a mut R,
    len: u64,
    pos: u64,
}

impl<'a, R: BufRead + Seek> Src<'a, R> {
    /// Measures the file and rewinds to its start.
    pub(crate) fn new(r: &'a mut R) -> Result<Self, PhotoError> {
        let len = r.seek(SeekFrom::End(0)).map_err(io_error)?;
        r.seek(SeekFrom::Start(0)).map_err(io_error)?;
        Ok(Src { r, len, pos: 0 })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    pub(crate) fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), PhotoError> {
        if buf.len() as u64 > self.remaining() {
            return Err(corrupt(format!("the file ends inside the {what}")));
        }
        self.r.read_exact(buf).map_err(io_error)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// Reads `n` bytes into a new buffer; `n` has been checked against the file's length, so
    /// the allocation is never larger than the file.
    pub(crate) fn read_vec(&mut self, n: u64, what: &str) -> Result<Vec<u8>, PhotoError> {
        if n > self.remaining() {
            return Err(corrupt(format!("the {what} overflows the file")));
        }
        let n = usize::try_from(n).map_err(|_| corrupt(format!("the {what} is too large")))?;
        let mut buf = vec![0; n];
        self.read_exact(&mut buf, what)?;
        Ok(buf)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, PhotoError> {
        let mut b = [0; 1];
        self.read_exact(&mut b, what)?;
        Ok(b[0])
    }

    pub(crate) fn u16be(&mut self, what: &str) -> Result<u16, PhotoError> {
        let mut b = [0; 2];
        self.read_exact(&mut b, what)?;
        Ok(u16::from_be_bytes(b))
    }

    pub(crate) fn u32be(&mut self, what: &str) -> Result<u32, PhotoError> {
        let mut b = [0; 4];
        self.read_exact(&mut b, what)?;
        Ok(u32::from_be_bytes(b))
    }

    pub(crate) fn u64be(&mut self, what: &str) -> Result<u64, PhotoError> {
        let mut b = [0; 8];
        self.read_exact(&mut b, what)?;
        Ok(u64::from_be_bytes(b))
    }

    /// Skips `n` bytes, which must lie inside the file.
    pub(crate) fn skip(&mut self, n: u64, what: &str) -> Result<(), PhotoError> {
        if n > self.remaining() {
            return Err(corrupt(format!("the {what} overflows the file")));
        }
        let step = i64::try_from(n).map_err(|_| corrupt(format!("the {what} overflows the file")))?;
        self.r.seek_relative(step).map_err(io_error)?;
        self.pos += n;
        Ok(())
    }
}

fn io_error(e: std::io::Error) -> PhotoError {
    corrupt(format!("read error: {e}"))
}

pub(crate) fn inspect<R: BufRead + Seek>(reader: &mut R, limits: &Limits) -> Result<Header, PhotoError> {
    let mut src = Src::new(reader)?;
    if src.len() == 0 {
        return Err(PhotoError::Empty);
    }
    let mut head = [0u8; 16];
    let n = usize::try_from(src.len().min(16)).unwrap_or(16);
    src.read_exact(&mut head[..n], "file header")?;
    let format = Format::sniff(&head[..n]);
    src.r.seek(SeekFrom::Start(0)).map_err(io_error)?;
    src.pos = 0;
    let (width, height) = match format {
        Format::Unknown => return Err(PhotoError::Unrecognised),
        Format::Gif | Format::Bmp | Format::Tiff => return Err(PhotoError::UnsupportedFormat(format)),
        Format::Jpeg => {
            let (w, h) = jpeg_dimensions(&mut src)?;
            (Some(w), Some(h))
        }
        Format::Png => {
            let (w, h) = png_dimensions(&mut src)?;
            (Some(w), Some(h))
        }
        Format::Webp => {
            let (w, h) = webp_dimensions(&mut src)?;
            (Some(w), Some(h))
        }
        Format::Heic => match heic_dimensions(&mut src)? {
            Some((w, h)) => (Some(w), Some(h)),
            None => (None, None),
        },
    };
    if let (Some(w), Some(h)) = (width, height) {
        check_limits(w, h, limits)?;
    }
    Ok(Header { format, width, height })
}

/// Zero-sized images are damaged; oversized ones (decompression bombs) are refused.
pub(crate) fn check_limits(width: u32, height: u32, limits: &Limits) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(corrupt(format!("the image declares {width}×{height} pixels")));
    }
    let (w, h) = (u64::from(width), u64::from(height));
    if width > limits.max_dimension || height > limits.max_dimension || w * h > limits.max_pixels {
        return Err(PhotoError::TooLarge { width: w, height: h });
    }
    Ok(())
}

// ---------------------------------------------------------------- JPEG

/// What a walk over a JPEG's marker segments found before the first scan.
pub(crate) enum JpegSegment {
    /// A frame header (SOFn): width, height.
    Frame(u32, u32),
    /// The payload of an APP1 segment starting with `Exif\0`, the identifier removed.
    Exif(Vec<u8>),
}

/// True for the SOFn markers (frame headers), which are C0–CF except DHT (C4), JPG (C8) and
/// DAC (CC).
fn is_sof(code: u8) -> bool {
    matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC)
}

/// Walks the marker segments from SOI, skipping each by its length, and hands SOFn and APP1
/// Exif segments to `visit`, which returns `true` to stop. Ends with `Ok(false)` at the first
/// scan (SOS) or EOI.
pub(crate) fn walk_jpeg<R: BufRead + Seek>(
    src: &mut Src<'_, R>,
    mut visit: impl FnMut(JpegSegment) -> Result<bool, PhotoError>,
) -> Result<bool, PhotoError> {
    let mut soi = [0u8; 2];
    src.read_exact(&mut soi, "JPEG start of image")?;
    if soi != [0xFF, 0xD8] {
        return Err(corrupt("not a JPEG start of image"));
    }
    loop {
        // A marker is 0xFF, any number of fill bytes 0xFF, then the code. Bytes that are
        // not 0xFF where a marker should be are skipped, as libjpeg does.
        let mut b = src.u8("JPEG marker")?;
        while b != 0xFF {
            b = src.u8("JPEG marker")?;
        }
        let mut code = src.u8("JPEG marker")?;
        while code == 0xFF {
            code = src.u8("JPEG marker")?;
        }
        match code {
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            0xD8 => return Err(corrupt("a second JPEG start of image")),
            0xD9 | 0xDA => return Ok(false),
            _ => {}
        }
        let len = src.u16be("JPEG segment length")?;
        if len < 2 {
            return Err(corrupt("a JPEG segment length below 2"));
        }
        let body = u64::from(len) - 2;
        if body > src.remaining() {
            return Err(corrupt(format!("a JPEG segment (marker 0x{code:02X}) overflows the file")));
        }
        if is_sof(code) {
            let seg = src.read_vec(body, "JPEG frame header")?;
            if seg.len() < 6 {
                return Err(corrupt("a JPEG frame header too short"));
            }
            let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
            let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            let components = usize::from(seg[5]);
            if components == 0 || seg.len() < 6 + 3 * components {
                return Err(corrupt("a JPEG frame header with a bad component count"));
            }
            if visit(JpegSegment::Frame(width, height))? {
                return Ok(true);
            }
        } else if code == 0xE1 && body >= 6 {
            let seg = src.read_vec(body, "JPEG APP1 segment")?;
            if let Some(rest) = seg.strip_prefix(b"Exif\0") {
                // "Exif\0\0" is the standard identifier; a few writers put "Exif\0" alone.
                let payload = match rest.first() {
                    Some(0) | Some(0xFF) => rest[1..].to_vec(),
                    _ => rest.to_vec(),
                };
                if visit(JpegSegment::Exif(payload))? {
                    return Ok(true);
                }
            }
        } else {
            src.skip(body, "JPEG segment")?;
        }
    }
}

fn jpeg_dimensions<R: BufRead + Seek>(src: &mut Src<'_, R>) -> Result<(u32, u32), PhotoError> {
    let mut found = None;
    walk_jpeg(src, |seg| {
        if let JpegSegment::Frame(w, h) = seg {
            found = Some((w, h));
            return Ok(true);
        }
        Ok(false)
    })?;
    found.ok_or_else(|| corrupt("no JPEG frame header (SOF) before the image data"))
}

// ---------------------------------------------------------------- PNG

fn png_dimensions<R: BufRead + Seek>(src: &mut Src<'_, R>) -> Result<(u32, u32), PhotoError> {
    src.skip(8, "PNG signature")?;
    let len = src.u32be("PNG chunk")?;
    let mut kind = [0u8; 4];
    src.read_exact(&mut kind, "PNG chunk")?;
    if &kind != b"IHDR" {
        return Err(corrupt("the first PNG chunk is not IHDR"));
    }
    if len != 13 {
        return Err(corrupt("a PNG IHDR chunk of the wrong length"));
    }
    let width = src.u32be("PNG IHDR chunk")?;
    let height = src.u32be("PNG IHDR chunk")?;
    // Chunk data (5 more bytes) and the CRC must be there.
    src.skip(5 + 4, "PNG IHDR chunk")?;
    if width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(corrupt("PNG dimensions beyond 2^31-1"));
    }
    Ok((width, height))
}

// ---------------------------------------------------------------- WebP

fn le16(b: &[u8], at: usize) -> u32 {
    u32::from(b[at]) | u32::from(b[at + 1]) << 8
}

fn le24(b: &[u8], at: usize) -> u32 {
    le16(b, at) | u32::from(b[at + 2]) << 16
}

fn le32(b: &[u8], at: usize) -> u32 {
    le24(b, at) | u32::from(b[at + 3]) << 24
}

/// Reads the RIFF header and checks that the RIFF size fits the file; returns the number of
/// bytes of chunks that follow the `WEBP` form type.
pub(crate) fn riff_header<R: BufRead + Seek>(src: &mut Src<'_, R>) -> Result<u64, PhotoError> {
    let mut head = [0u8; 12];
    src.read_exact(&mut head, "RIFF header")?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WEBP" {
        return Err(corrupt("not a RIFF WEBP header"));
    }
    let riff_size = u64::from(le32(&head, 4));
    if riff_size < 4 {
        return Err(corrupt("a RIFF size below 4"));
    }
    // Trailing bytes after the RIFF form are tolerated; a form larger than the file is not.
    if riff_size + 8 > src.len() {
        return Err(corrupt("the RIFF size overflows the file"));
    }
    Ok(riff_size - 4)
}

/// Reads one chunk header inside a RIFF form with `left` bytes left; returns the FourCC, the
/// chunk's size and its padded size, checked against `left`.
pub(crate) fn riff_chunk<R: BufRead + Seek>(
    src: &mut Src<'_, R>,
    left: u64,
) -> Result<([u8; 4], u64, u64), PhotoError> {
    if left < 8 {
        return Err(corrupt("a RIFF chunk header overflows the RIFF form"));
    }
    let mut head = [0u8; 8];
    src.read_exact(&mut head, "RIFF chunk header")?;
    let size = u64::from(le32(&head, 4));
    let padded = size + (size & 1);
    if size > left - 8 {
        return Err(corrupt("a RIFF chunk overflows the RIFF form"));
    }
    let fourcc = [head[0], head[1], head[2], head[3]];
    Ok((fourcc, size, padded.min(left - 8)))
}

fn webp_dimensions<R: BufRead + Seek>(src: &mut Src<'_, R>) -> Result<(u32, u32), PhotoError> {
    let left = riff_header(src)?;
    let (fourcc, size, _) = riff_chunk(src, left)?;
    match &fourcc {
        b"VP8 " => {
            if size < 10 {
                return Err(corrupt("a WebP VP8 chunk too short"));
            }
            let mut b = [0u8; 10];
            src.read_exact(&mut b, "WebP VP8 frame header")?;
            if b[0] & 1 != 0 || b[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(corrupt("a WebP VP8 chunk without a key frame"));
            }
            Ok((le16(&b, 6) & 0x3FFF, le16(&b, 8) & 0x3FFF))
        }
        b"VP8L" => {
            if size < 5 {
                return Err(corrupt("a WebP VP8L chunk too short"));
            }
            let mut b = [0u8; 5];
            src.read_exact(&mut b, "WebP VP8L header")?;
            let bits = le32(&b, 1);
            if b[0] != 0x2F || bits >> 29 != 0 {
                return Err(corrupt("a bad WebP VP8L signature"));
            }
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            if size < 10 {
                return Err(corrupt("a WebP VP8X chunk too short"));
            }
            let mut b = [0u8; 10];
            src.read_exact(&mut b, "WebP VP8X header")?;
            Ok((le24(&b, 4) + 1, le24(&b, 7) + 1))
        }
        _ => Err(corrupt("the first WebP chunk is not VP8, VP8L or VP8X")),
    }
}

// ---------------------------------------------------------------- HEIC (ISO-BMFF)

/// The largest `meta` box read into memory. Real ones are a few kilobytes.
const MAX_META: u64 = 16 * 1024 * 1024;

/// A box: its type and its body.
type BoxRef<'a> = ([u8; 4], &'a [u8]);

/// Bounds-checked reads from a byte slice.
struct Bytes<'a> {
    b: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PhotoError> {
        if n > self.b.len() {
            return Err(corrupt(format!("the {what} overflows its box")));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, PhotoError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, PhotoError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, PhotoError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, PhotoError> {
        let hi = u64::from(self.u32(what)?);
        let lo = u64::from(self.u32(what)?);
        Ok(hi << 32 | lo)
    }

    /// version and flags of a FullBox.
    fn full_box(&mut self, what: &str) -> Result<(u8, u32), PhotoError> {
        let v = self.u32(what)?;
        Ok(((v >> 24) as u8, v & 0x00FF_FFFF))
    }

    /// Splits off the next child box: its type and body.
    fn child(&mut self) -> Result<BoxRef<'a>, PhotoError> {
        let size = self.u32("box header")?;
        let t = self.take(4, "box header")?;
        let kind = [t[0], t[1], t[2], t[3]];
        let body = match size {
            0 => self.b.len() as u64,
            1 => self.u64("box header")?.checked_sub(16).ok_or_else(|| corrupt("a box smaller than its header"))?,
            n => u64::from(n).checked_sub(8).ok_or_else(|| corrupt("a box smaller than its header"))?,
        };
        if body > self.b.len() as u64 {
            return Err(corrupt(format!("a '{}' box overflows its parent", String::from_utf8_lossy(&kind))));
        }
        let body = self.take(body as usize, "box")?;
        Ok((kind, body))
    }

    fn children(mut self) -> Result<Vec<BoxRef<'a>>, PhotoError> {
        let mut out = Vec::new();
        while !self.b.is_empty() {
            out.push(self.child()?);
        }
        Ok(out)
    }
}

/// Walks the top-level boxes (skipping `mdat` and the like by seeking), reads the `meta` box
/// and returns the primary item's size from its `ispe` property, turned by its `irot`
/// property, as a decoder would output it. `None` when the file does not say.
fn heic_dimensions<R: BufRead + Seek>(src: &mut Src<'_, R>) -> Result<Option<(u32, u32)>, PhotoError> {
    let mut meta: Option<Vec<u8>> = None;
    let mut first = true;
    while src.remaining() > 0 {
        if src.remaining() < 8 {
            return Err(corrupt("trailing bytes too short for a box header"));
        }
        let size = src.u32be("box header")?;
        let mut kind = [0u8; 4];
        src.read_exact(&mut kind, "box header")?;
        let body = match size {
            0 => src.remaining(),
            1 => src.u64be("box header")?.checked_sub(16).ok_or_else(|| corrupt("a box smaller than its header"))?,
            n => u64::from(n).checked_sub(8).ok_or_else(|| corrupt("a box smaller than its header"))?,
        };
        if body > src.remaining() {
            return Err(corrupt(format!("a '{}' box overflows the file", String::from_utf8_lossy(&kind))));
        }
        if first && &kind != b"ftyp" {
            return Err(corrupt("the file does not start with an 'ftyp' box"));
        }
        first = false;
        if &kind == b"meta" {
            if meta.is_some() {
                return Err(corrupt("two 'meta' boxes"));
            }
            if body > MAX_META {
                return Err(corrupt("a 'meta' box beyond 16 MiB"));
            }
            meta = Some(src.read_vec(body, "'meta' box")?);
        } else {
            src.skip(body, "box")?;
        }
    }
    let meta = meta.ok_or_else(|| corrupt("no 'meta' box"))?;
    heic_meta(&meta)
}

fn heic_meta(meta: &[u8]) -> Result<Option<(u32, u32)>, PhotoError> {
    let mut b = Bytes { b: meta };
    b.full_box("'meta' box")?;
    let mut primary = None;
    let mut properties: Vec<BoxRef<'_>> = Vec::new();
    let mut associations: Vec<(u32, Vec<u16>)> = Vec::new();
    for (kind, body) in b.children()? {
        match &kind {
            b"pitm" => {
                let mut p = Bytes { b: body };
                let (version, _) = p.full_box("'pitm' box")?;
                primary = Some(if version == 0 { u32::from(p.u16("'pitm' box")?) } else { p.u32("'pitm' box")? });
            }
            b"iinf" => {
                let mut p = Bytes { b: body };
                let (version, _) = p.full_box("'iinf' box")?;
                let count = if version == 0 { u32::from(p.u16("'iinf' box")?) } else { p.u32("'iinf' box")? };
                let entries = p.children()?;
                if (count as usize) > entries.len() {
                    return Err(corrupt(format!("'iinf' declares {count} item entries but holds {}", entries.len())));
                }
            }
            b"iprp" => {
                for (kind, body) in (Bytes { b: body }).children()? {
                    match &kind {
                        b"ipco" => properties = (Bytes { b: body }).children()?,
                        b"ipma" => associations.extend(ipma(body)?),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let Some(primary) = primary else { return Ok(None) };
    let mut size = None;
    let mut quarter_turns = 0u8;
    for (_, indices) in associations.iter().filter(|(item, _)| *item == primary) {
        for &index in indices {
            let Some((kind, body)) = usize::from(index).checked_sub(1).and_then(|i| properties.get(i)) else {
                continue;
            };
            let mut p = Bytes { b: body };
            match kind {
                b"ispe" => {
                    p.full_box("'ispe' box")?;
                    size = Some((p.u32("'ispe' box")?, p.u32("'ispe' box")?));
                }
                b"irot" => quarter_turns = p.u8("'irot' box")? & 3,
                _ => {}
            }
        }
    }
    Ok(size.map(|(w, h)| if quarter_turns % 2 == 1 { (h, w) } else { (w, h) }))
}

/// Item property associations: item id and 1-based property indices (0 = none).
fn ipma(body: &[u8]) -> Result<Vec<(u32, Vec<u16>)>, PhotoError> {
    let mut p = Bytes { b: body };
    let (version, flags) = p.full_box("'ipma' box")?;
    let count = p.u32("'ipma' box")?;
    let mut out = Vec::new();
    for _ in 0..count {
        let item = if version < 1 { u32::from(p.u16("'ipma' box")?) } else { p.u32("'ipma' box")? };
        let n = p.u8("'ipma' box")?;
        let mut indices = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let index =
                if flags & 1 == 1 { p.u16("'ipma' box")? & 0x7FFF } else { u16::from(p.u8("'ipma' box")? & 0x7F) };
            indices.push(index);
        }
        out.push((item, indices));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn run(bytes: &[u8]) -> Result<Header, PhotoError> {
        inspect(&mut Cursor::new(bytes), &Limits::default())
    }

    #[test]
    fn truncations_never_panic() {
        let jpeg: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xC0\x00\x11\x08\x00\x10\x00\x20\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xFF\xDA";
        assert_eq!(run(jpeg), Ok(Header { format: Format::Jpeg, width: Some(32), height: Some(16) }));
        for n in 1..jpeg.len() - 2 {
            let r = run(&jpeg[..n]);
            assert!(matches!(r, Err(PhotoError::Corrupt(_)) | Err(PhotoError::Unrecognised)), "{n}: {r:?}");
        }
    }

    #[test]
    fn png_and_webp_headers() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x01\0\0\0\0\x80\x08\x02\0\0\0\0\0\0\0";
        assert_eq!(run(png), Ok(Header { format: Format::Png, width: Some(256), height: Some(128) }));
        let vp8x = b"RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\x0f\0\0\x07\0\0";
        assert_eq!(run(vp8x), Ok(Header { format: Format::Webp, width: Some(16), height: Some(8) }));
        let vp8x_big = b"RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\xff\xff\xff\xff\xff\xff";
        assert!(matches!(run(vp8x_big), Err(PhotoError::TooLarge { .. })));
    }
}
