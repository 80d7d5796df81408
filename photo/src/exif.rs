//! EXIF: located in the container, parsed by kamadak-exif (going on past broken entries), and
//! cleaned: wrong types dropped, strings made safe, impossible values dropped.

use std::io::{BufRead, Seek, SeekFrom};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use exif::{Field, In, Tag, Value};

use crate::inspect::{JpegSegment, Src, riff_chunk, riff_header, walk_jpeg};
use crate::{Exif, ExifData, Format, GpsFix, PhotoError};

/// Longest Make / Model kept, in characters.
const MAX_TEXT: usize = 64;

/// The largest EXIF block read from a WebP (a JPEG APP1 can not exceed 64 KiB; HEIC blocks
/// are capped by kamadak-exif at 128 KiB).
const MAX_WEBP_EXIF: u64 = 4 * 1024 * 1024;

pub(crate) fn read_exif<R: BufRead + Seek>(reader: &mut R, format: Format) -> Exif {
    let mut parser = exif::Reader::new();
    parser.continue_on_error(true);
    let parsed = match format {
        Format::Jpeg => match jpeg_exif(reader) {
            Ok(Some(raw)) => parser.read_raw(raw),
            Ok(None) => return Exif::Absent,
            Err(e) => return Exif::Unreadable { reason: reason(&e) },
        },
        Format::Webp => match webp_exif(reader) {
            Ok(Some(raw)) => parser.read_raw(raw),
            Ok(None) => return Exif::Absent,
            Err(e) => return Exif::Unreadable { reason: reason(&e) },
        },
        Format::Png | Format::Heic => match reader.seek(SeekFrom::Start(0)) {
            Ok(_) => parser.read_from_container(reader),
            Err(e) => return Exif::Unreadable { reason: e.to_string() },
        },
        Format::Gif | Format::Bmp | Format::Tiff | Format::Unknown => return Exif::Absent,
    };
    match parsed {
        Ok(exif) => Exif::Found(clean(&exif)),
        Err(exif::Error::PartialResult(partial)) => {
            let (exif, errors) = partial.into_inner();
            if exif.fields().len() == 0 {
                let reason = errors.first().map_or_else(|| "no readable field".to_owned(), ToString::to_string);
                Exif::Unreadable { reason }
            } else {
                Exif::Found(clean(&exif))
            }
        }
        Err(exif::Error::NotFound(_)) => Exif::Absent,
        Err(e) => Exif::Unreadable { reason: e.to_string() },
    }
}

fn reason(e: &PhotoError) -> String {
    match e {
        PhotoError::Corrupt(why) => why.clone(),
        other => other.to_string(),
    }
}

/// The first APP1 Exif segment before the image data.
fn jpeg_exif<R: BufRead + Seek>(reader: &mut R) -> Result<Option<Vec<u8>>, PhotoError> {
    let mut src = Src::new(reader)?;
    let mut found = None;
    walk_jpeg(&mut src, |seg| {
        if let JpegSegment::Exif(raw) = seg {
            found = Some(raw);
            return Ok(true);
        }
        Ok(false)
    })?;
    Ok(found)
}

/// The `EXIF` chunk of a WebP, without the `Exif\0\0` prefix some writers put before the TIFF
/// header (kamadak-exif 0.6.2 refuses those blocks).
fn webp_exif<R: BufRead + Seek>(reader: &mut R) -> Result<Option<Vec<u8>>, PhotoError> {
    let mut src = Src::new(reader)?;
    let mut left = riff_header(&mut src)?;
    while left > 0 {
        let (fourcc, size, padded) = riff_chunk(&mut src, left)?;
        left -= 8 + padded;
        if &fourcc == b"EXIF" {
            if size > MAX_WEBP_EXIF {
                return Err(PhotoError::Corrupt("a WebP EXIF chunk beyond 4 MiB".into()));
            }
            let mut raw = src.read_vec(size, "WebP EXIF chunk")?;
            if raw.starts_with(b"Exif\0\0") {
                raw.drain(..6);
            }
            return Ok(Some(raw));
        }
        src.skip(padded, "WebP chunk")?;
    }
    Ok(None)
}

fn field(exif: &exif::Exif, tag: Tag) -> Option<&Field> {
    exif.get_field(tag, In::PRIMARY)
}

/// The first string of an ASCII field, as bytes with trailing NULs and spaces removed.
fn ascii_bytes(exif: &exif::Exif, tag: Tag) -> Option<&[u8]> {
    match &field(exif, tag)?.value {
        Value::Ascii(strings) => {
            let s = strings.iter().find(|s| !s.is_empty())?;
            let end = s.iter().rposition(|&b| b != 0 && b != b' ').map_or(0, |p| p + 1);
            Some(&s[..end])
        }
        _ => None,
    }
}

/// Trimmed text without control characters, at most 64 characters, `None` when empty.
fn text(exif: &exif::Exif, tag: Tag) -> Option<String> {
    let raw = ascii_bytes(exif, tag)?;
    let s: String = String::from_utf8_lossy(raw).chars().filter(|c| !c.is_control()).collect();
    let s: String = s.trim().chars().take(MAX_TEXT).collect();
    let s = s.trim_end().to_owned();
    (!s.is_empty()).then_some(s)
}

fn ascii_str(exif: &exif::Exif, tag: Tag) -> Option<&str> {
    std::str::from_utf8(ascii_bytes(exif, tag)?).ok().map(str::trim)
}

/// Rational-like numbers of a field: RATIONAL or SRATIONAL (some writers), zero
/// denominators giving `None`.
fn numbers(exif: &exif::Exif, tag: Tag) -> Option<Vec<Option<f64>>> {
    Some(match &field(exif, tag)?.value {
        Value::Rational(v) => v.iter().map(|r| (r.denom != 0).then(|| f64::from(r.num) / f64::from(r.denom))).collect(),
        Value::SRational(v) => {
            v.iter().map(|r| (r.denom != 0).then(|| f64::from(r.num) / f64::from(r.denom))).collect()
        }
        _ => return None,
    })
}

fn first_uint(exif: &exif::Exif, tag: Tag) -> Option<u32> {
    match &field(exif, tag)?.value {
        Value::Byte(v) | Value::Undefined(v, _) => v.first().map(|&b| u32::from(b)),
        Value::Short(v) => v.first().map(|&s| u32::from(s)),
        Value::Long(v) => v.first().copied(),
        _ => None,
    }
}

/// Degrees from degrees, minutes, seconds (minutes and seconds may be missing).
fn degrees(exif: &exif::Exif, tag: Tag) -> Option<f64> {
    let parts = numbers(exif, tag)?;
    let d = (*parts.first()?)?;
    let m = match parts.get(1) {
        Some(m) => (*m)?,
        None => 0.0,
    };
    let s = match parts.get(2) {
        Some(s) => (*s)?,
        None => 0.0,
    };
    let value = d + m / 60.0 + s / 3600.0;
    value.is_finite().then_some(value)
}

/// Applies a GPS reference: `negative` (S or W) makes the value negative, `positive` (N or E)
/// keeps it; a missing reference keeps the value as written; any other reference is invalid.
fn with_ref(exif: &exif::Exif, tag: Tag, value: f64, positive: u8, negative: u8) -> Option<f64> {
    match ascii_str(exif, tag).map(|s| s.bytes().next().map(|b| b.to_ascii_uppercase())) {
        None | Some(None) => Some(value),
        Some(Some(r)) if r == positive => Some(value),
        Some(Some(r)) if r == negative => Some(-value.abs()),
        Some(Some(_)) => None,
    }
}

fn gps(exif: &exif::Exif) -> Option<GpsFix> {
    let lat = with_ref(exif, Tag::GPSLatitudeRef, degrees(exif, Tag::GPSLatitude)?, b'N', b'S')?;
    let lon = with_ref(exif, Tag::GPSLongitudeRef, degrees(exif, Tag::GPSLongitude)?, b'E', b'W')?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    // 0,0 ("null island") is what some phones write when they have no fix.
    if lat == 0.0 && lon == 0.0 {
        return None;
    }
    let altitude_m = numbers(exif, Tag::GPSAltitude)
        .and_then(|v| v.first().copied().flatten())
        .filter(|a| a.is_finite() && a.abs() < 1.0e6)
        .map(|a| if first_uint(exif, Tag::GPSAltitudeRef) == Some(1) { -a.abs() } else { a });
    Some(GpsFix { lat, lon, altitude_m })
}

/// "YYYY:MM:DD HH:MM:SS", tolerant of trailing NULs and spaces and of '-' in the date.
fn local_time(exif: &exif::Exif, tag: Tag) -> Option<NaiveDateTime> {
    let s = ascii_str(exif, tag)?;
    let s = s.get(..19)?;
    ["%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// "+08:00" (or "+0800") as minutes east of UTC.
fn offset_minutes(exif: &exif::Exif, tag: Tag) -> Option<i32> {
    let s = ascii_str(exif, tag)?.as_bytes();
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: Vec<i32> = s[1..].iter().filter(|b| **b != b':').map(|b| i32::from(*b) - i32::from(b'0')).collect();
    if digits.len() != 4 || digits.iter().any(|d| !(0..=9).contains(d)) {
        return None;
    }
    let (h, m) = (digits[0] * 10 + digits[1], digits[2] * 10 + digits[3]);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

/// GPSDateStamp "YYYY:MM:DD" with GPSTimeStamp h, m, s: UTC by definition.
fn gps_time(exif: &exif::Exif) -> Option<DateTime<Utc>> {
    let date = ascii_str(exif, Tag::GPSDateStamp)?;
    let date = date.get(..10)?;
    let date =
        NaiveDate::parse_from_str(date, "%Y:%m:%d").or_else(|_| NaiveDate::parse_from_str(date, "%Y-%m-%d")).ok()?;
    let hms = numbers(exif, Tag::GPSTimeStamp)?;
    let (h, m, s) = ((*hms.first()?)?, (*hms.get(1)?)?, (*hms.get(2)?)?);
    if !(0.0..24.0).contains(&h) || !(0.0..60.0).contains(&m) || !(0.0..61.0).contains(&s) {
        return None;
    }
    if h.fract() != 0.0 || m.fract() != 0.0 {
        return None;
    }
    let whole = s.floor();
    let nanos = ((s - whole) * 1e9).round().min(999_999_999.0) as u32;
    let time = NaiveTime::from_hms_nano_opt(h as u32, m as u32, (whole as u32).min(59), nanos)?;
    Some(date.and_time(time).and_utc())
}

fn orientation(exif: &exif::Exif) -> Option<u16> {
    match &field(exif, Tag::Orientation)?.value {
        Value::Short(v) => v.first().copied().filter(|o| (1..=8).contains(o)),
        _ => None,
    }
}

pub(crate) fn clean(exif: &exif::Exif) -> ExifData {
    ExifData {
        make: text(exif, Tag::Make),
        model: text(exif, Tag::Model),
        orientation: orientation(exif),
        captured_at_local: local_time(exif, Tag::DateTimeOriginal).or_else(|| local_time(exif, Tag::DateTime)),
        offset_minutes: offset_minutes(exif, Tag::OffsetTimeOriginal).or_else(|| offset_minutes(exif, Tag::OffsetTime)),
        gps_time: gps_time(exif),
        gps: gps(exif),
        fields: exif.fields().len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::experimental::Writer;
    use exif::{Rational, SRational};
    use std::io::Cursor;

    fn f(tag: Tag, value: Value) -> Field {
        Field { tag, ifd_num: In::PRIMARY, value }
    }

    fn r(n: u32, d: u32) -> Rational {
        Rational { num: n, denom: d }
    }

    /// Builds a TIFF block with the fields and reads it back cleaned.
    fn cleaned(fields: &[Field]) -> ExifData {
        let mut w = Writer::new();
        for field in fields {
            w.push_field(field);
        }
        let mut buf = Cursor::new(Vec::new());
        w.write(&mut buf, true).unwrap();
        let exif = exif::Reader::new().read_raw(buf.into_inner()).unwrap();
        clean(&exif)
    }

    #[test]
    fn gps_refs_and_signs() {
        let e = cleaned(&[
            f(Tag::GPSLatitudeRef, Value::Ascii(vec![b"S".to_vec()])),
            f(Tag::GPSLatitude, Value::Rational(vec![r(33, 1), r(30, 1), r(0, 1)])),
            f(Tag::GPSLongitudeRef, Value::Ascii(vec![b"W".to_vec()])),
            f(Tag::GPSLongitude, Value::Rational(vec![r(70, 1), r(15, 1), r(36, 1)])),
            f(Tag::GPSAltitudeRef, Value::Byte(vec![1])),
            f(Tag::GPSAltitude, Value::Rational(vec![r(105, 10)])),
        ]);
        let fix = e.gps.unwrap();
        assert!((fix.lat + 33.5).abs() < 1e-9);
        assert!((fix.lon + 70.26).abs() < 1e-9);
        assert_eq!(fix.altitude_m, Some(-10.5));
    }

    #[test]
    fn zero_denominator_null_island_and_range_give_no_fix() {
        let zero_denominator = cleaned(&[
            f(Tag::GPSLatitudeRef, Value::Ascii(vec![b"N".to_vec()])),
            f(Tag::GPSLatitude, Value::Rational(vec![r(0, 0), r(0, 0), r(0, 0)])),
            f(Tag::GPSLongitudeRef, Value::Ascii(vec![b"E".to_vec()])),
            f(Tag::GPSLongitude, Value::Rational(vec![r(0, 0), r(0, 0), r(0, 0)])),
        ]);
        assert_eq!(zero_denominator.gps, None);
        let null_island = cleaned(&[
            f(Tag::GPSLatitude, Value::Rational(vec![r(0, 1), r(0, 1), r(0, 1)])),
            f(Tag::GPSLongitude, Value::Rational(vec![r(0, 1), r(0, 1), r(0, 1)])),
        ]);
        assert_eq!(null_island.gps, None);
        let out_of_range = cleaned(&[
            f(Tag::GPSLatitude, Value::Rational(vec![r(91, 1), r(0, 1), r(0, 1)])),
            f(Tag::GPSLongitude, Value::Rational(vec![r(10, 1), r(0, 1), r(0, 1)])),
        ]);
        assert_eq!(out_of_range.gps, None);
        let signed = cleaned(&[
            f(Tag::GPSLatitude, Value::SRational(vec![SRational { num: -12, denom: 1 }])),
            f(Tag::GPSLongitude, Value::SRational(vec![SRational { num: 100, denom: 4 }])),
        ]);
        assert_eq!(signed.gps, Some(GpsFix { lat: -12.0, lon: 25.0, altitude_m: None }));
    }

    #[test]
    fn times_offsets_text_and_orientation() {
        let e = cleaned(&[
            f(Tag::Make, Value::Ascii(vec![b"SAMSUNG     \x07  ".to_vec()])),
            f(Tag::Model, Value::Ascii(vec![b"  GT-I9000\0\0".to_vec()])),
            f(Tag::Orientation, Value::Short(vec![6])),
            f(Tag::DateTime, Value::Ascii(vec![b"2011:04:02 18:30:10".to_vec()])),
            f(Tag::DateTimeOriginal, Value::Ascii(vec![b"2011:04:02 18:30:09\0\0  ".to_vec()])),
            f(Tag::OffsetTimeOriginal, Value::Ascii(vec![b"+08:00".to_vec()])),
            f(Tag::GPSDateStamp, Value::Ascii(vec![b"2011:04:02".to_vec()])),
            f(Tag::GPSTimeStamp, Value::Rational(vec![r(10, 1), r(30, 1), r(95, 10)])),
        ]);
        assert_eq!(e.make.as_deref(), Some("SAMSUNG"));
        assert_eq!(e.model.as_deref(), Some("GT-I9000"));
        assert_eq!(e.orientation, Some(6));
        assert_eq!(e.captured_at_local.unwrap().to_string(), "2011-04-02 18:30:09");
        assert_eq!(e.offset_minutes, Some(480));
        assert_eq!(e.gps_time.unwrap().to_rfc3339(), "2011-04-02T10:30:09.500+00:00");

        let bad = cleaned(&[
            f(Tag::Make, Value::Ascii(vec![vec![b'x'; 200]])),
            f(Tag::Orientation, Value::Short(vec![9])),
            f(Tag::DateTimeOriginal, Value::Ascii(vec![b"    :  :     :  :  ".to_vec()])),
            f(Tag::OffsetTimeOriginal, Value::Ascii(vec![b"08:00".to_vec()])),
        ]);
        assert_eq!(bad.make.map(|m| m.chars().count()), Some(64));
        assert_eq!(bad.orientation, None);
        assert_eq!(bad.captured_at_local, None);
        assert_eq!(bad.offset_minutes, None);
    }

    #[test]
    fn webp_exif_prefix_is_stripped_and_bad_chunks_are_unreadable() {
        let mut w = Writer::new();
        let o = f(Tag::Orientation, Value::Short(vec![3]));
        w.push_field(&o);
        let mut tiff = Cursor::new(Vec::new());
        w.write(&mut tiff, false).unwrap();
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend(tiff.into_inner());
        let mut chunk = b"EXIF".to_vec();
        chunk.extend((payload.len() as u32).to_le_bytes());
        chunk.extend(&payload);
        if payload.len() % 2 == 1 {
            chunk.push(0);
        }
        let mut file = b"RIFF".to_vec();
        file.extend(((4 + chunk.len()) as u32).to_le_bytes());
        file.extend(b"WEBP");
        file.extend(&chunk);
        match read_exif(&mut Cursor::new(&file), Format::Webp) {
            Exif::Found(e) => assert_eq!(e.orientation, Some(3)),
            other => panic!("{other:?}"),
        }
        // A chunk size beyond the file.
        let mut broken = file.clone();
        broken[16] = 0xFF;
        broken[17] = 0xFF;
        assert!(matches!(read_exif(&mut Cursor::new(&broken), Format::Webp), Exif::Unreadable { .. }));
        for n in 0..file.len() {
            let _ = read_exif(&mut Cursor::new(&file[..n]), Format::Webp);
        }
    }
}
