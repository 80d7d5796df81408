//! A reader of the `.shp` main file (ESRI Shapefile Technical Description, 1998),
//! for polygons: every length is checked against the bytes given, so a damaged or
//! hostile file is an error, never a panic or a large allocation.

use crate::{Error, Limits};

/// Rings of one record, in the file's coordinates, in file order.
pub(crate) type Rings = Vec<Vec<[f64; 2]>>;

/// One record of the `.shp` file.
#[derive(Debug)]
pub(crate) enum Shape {
    /// A null shape (no geometry).
    Null,
    Polygon(Rings),
    /// A record this importer does not take, with its reason.
    Refused(String),
}

pub(crate) fn shape_type_name(t: i32) -> String {
    match t {
        0 => "Null".into(),
        1 => "Point".into(),
        3 => "PolyLine".into(),
        5 => "Polygon".into(),
        8 => "MultiPoint".into(),
        11 => "PointZ".into(),
        13 => "PolyLineZ".into(),
        15 => "PolygonZ".into(),
        18 => "MultiPointZ".into(),
        21 => "PointM".into(),
        23 => "PolyLineM".into(),
        25 => "PolygonM".into(),
        28 => "MultiPointM".into(),
        31 => "MultiPatch".into(),
        other => format!("unknown ({other})"),
    }
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_f64(b: &[u8], at: usize) -> Option<f64> {
    Some(f64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn malformed(msg: impl Into<String>) -> Error {
    Error::Shp(msg.into())
}

/// Reads every record of a `.shp` file.
pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Vec<Shape>, Error> {
    if bytes.len() < 100 || be_i32(bytes, 0) != Some(9994) {
        return Err(malformed("not a shapefile (.shp header missing)"));
    }
    let declared = be_i32(bytes, 24).unwrap_or(0).max(0) as usize * 2;
    let end = if declared >= 100 { declared.min(bytes.len()) } else { bytes.len() };
    let mut at = 100;
    let mut shapes = Vec::new();
    let mut points_total = 0usize;
    while at + 8 <= end {
        let index = shapes.len();
        let words = be_i32(bytes, at + 4).ok_or_else(|| malformed("truncated record header"))?;
        let len = usize::try_from(words).map_err(|_| malformed(format!("record {index}: negative length")))? * 2;
        let body = bytes
            .get(at + 8..at + 8 + len)
            .ok_or_else(|| malformed(format!("record {index}: {len} bytes declared, the file ends before")))?;
        at += 8 + len;
        if shapes.len() >= limits.max_records {
            return Err(Error::TooMany(format!("more than {} records", limits.max_records)));
        }
        let kind = le_i32(body, 0).ok_or_else(|| malformed(format!("record {index}: empty")))?;
        let shape = match kind {
            0 => Shape::Null,
            5 | 15 | 25 => {
                let rings = polygon(body).map_err(|e| malformed(format!("record {index}: {e}")))?;
                points_total += rings.iter().map(Vec::len).sum::<usize>();
                if points_total > limits.max_points {
                    return Err(Error::TooMany(format!("more than {} vertices", limits.max_points)));
                }
                match rings.iter().position(|r| r.iter().any(|p| !p[0].is_finite() || !p[1].is_finite())) {
                    Some(_) => Shape::Refused("a vertex is not a finite number".into()),
                    None => match rings.iter().position(|r| r.len() < 4) {
                        Some(k) => Shape::Refused(format!("ring {k} has {} vertices (4 at least)", rings[k].len())),
                        None if rings.is_empty() => Shape::Null,
                        None => Shape::Polygon(rings),
                    },
                }
            }
            other => Shape::Refused(format!(
                "shape type {}: only Polygon, PolygonZ and PolygonM records are patches",
                shape_type_name(other)
            )),
        };
        shapes.push(shape);
    }
    Ok(shapes)
}

/// The rings of a Polygon, PolygonZ or PolygonM record body (Z and M values skipped).
fn polygon(body: &[u8]) -> Result<Rings, String> {
    let num_parts = le_i32(body, 36).ok_or("truncated polygon header")?;
    let num_points = le_i32(body, 40).ok_or("truncated polygon header")?;
    let num_parts = usize::try_from(num_parts).map_err(|_| "negative part count")?;
    let num_points = usize::try_from(num_points).map_err(|_| "negative point count")?;
    let points_at =
        44usize.checked_add(num_parts.checked_mul(4).ok_or("part count too large")?).ok_or("part count too large")?;
    let needed = points_at.checked_add(num_points.checked_mul(16).ok_or("point count too large")?);
    if needed.is_none_or(|n| n > body.len()) {
        return Err(format!("{num_parts} parts and {num_points} points do not fit in {} bytes", body.len()));
    }
    let mut starts = Vec::with_capacity(num_parts);
    for p in 0..num_parts {
        let s = le_i32(body, 44 + 4 * p).ok_or("truncated part index")?;
        starts.push(usize::try_from(s).map_err(|_| "negative part index")?);
    }
    let mut rings = Vec::with_capacity(num_parts);
    for (p, &start) in starts.iter().enumerate() {
        let stop = starts.get(p + 1).copied().unwrap_or(num_points);
        if start > stop || stop > num_points || (p == 0 && start != 0) {
            return Err(format!("part {p} starts at point {start}, out of order"));
        }
        let mut ring = Vec::with_capacity(stop - start);
        for i in start..stop {
            let x = le_f64(body, points_at + 16 * i).ok_or("truncated points")?;
            let y = le_f64(body, points_at + 16 * i + 8).ok_or("truncated points")?;
            ring.push([x, y]);
        }
        if let (Some(&first), Some(&last)) = (ring.first(), ring.last())
            && first != last
        {
            ring.push(first);
        }
        rings.push(ring);
    }
    Ok(rings)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `.shp` file of the given records (shape type, body after the type).
    pub(crate) fn shp_file(records: &[(i32, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0u8; 100];
        out[0..4].copy_from_slice(&9994i32.to_be_bytes());
        out[28..32].copy_from_slice(&1000i32.to_le_bytes());
        out[32..36].copy_from_slice(&records.first().map_or(5, |r| r.0).to_le_bytes());
        for (n, (kind, body)) in records.iter().enumerate() {
            out.extend_from_slice(&(n as i32 + 1).to_be_bytes());
            out.extend_from_slice(&(((body.len() + 4) / 2) as i32).to_be_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(body);
        }
        let words = (out.len() / 2) as i32;
        out[24..28].copy_from_slice(&words.to_be_bytes());
        out
    }

    /// The body of a Polygon record (after its type) with these rings.
    pub(crate) fn polygon_body(rings: &[Vec<[f64; 2]>]) -> Vec<u8> {
        let mut out = vec![0u8; 32];
        let points: usize = rings.iter().map(Vec::len).sum();
        out.extend_from_slice(&(rings.len() as i32).to_le_bytes());
        out.extend_from_slice(&(points as i32).to_le_bytes());
        let mut start = 0;
        for r in rings {
            out.extend_from_slice(&(start as i32).to_le_bytes());
            start += r.len();
        }
        for r in rings {
            for p in r {
                out.extend_from_slice(&p[0].to_le_bytes());
                out.extend_from_slice(&p[1].to_le_bytes());
            }
        }
        out
    }

    fn square() -> Vec<[f64; 2]> {
        vec![[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    }

    #[test]
    fn reads_polygons_null_and_refuses_other_types() {
        // PolygonZ: Z range and values, then M range and values; PolygonM: M range and values.
        let with = |extra: usize| {
            let mut b = polygon_body(&[square()]);
            b.extend_from_slice(&vec![0; extra]);
            b
        };
        let file = shp_file(&[
            (5, polygon_body(&[square()])),
            (0, vec![]),
            (1, vec![0; 16]),
            (15, with(2 * (16 + 5 * 8))),
            (25, with(16 + 5 * 8)),
            (13, with(16 + 5 * 8)),
        ]);
        let shapes = read(&file, &Limits::default()).unwrap();
        assert!(matches!(&shapes[0], Shape::Polygon(r) if r.len() == 1 && r[0].len() == 5));
        assert!(matches!(&shapes[1], Shape::Null));
        assert!(matches!(&shapes[2], Shape::Refused(m) if m.contains("Point")));
        assert!(matches!(&shapes[3], Shape::Polygon(r) if r[0].len() == 5));
        assert!(matches!(&shapes[4], Shape::Polygon(r) if r[0].len() == 5));
        assert!(matches!(&shapes[5], Shape::Refused(m) if m.contains("PolyLineZ")));
    }

    #[test]
    fn closes_open_rings_and_refuses_short_ones() {
        let open = vec![[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]];
        let short = vec![[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
        let file = shp_file(&[(5, polygon_body(&[open])), (5, polygon_body(&[short]))]);
        let shapes = read(&file, &Limits::default()).unwrap();
        assert!(matches!(&shapes[0], Shape::Polygon(r) if r[0].len() == 5));
        assert!(matches!(&shapes[1], Shape::Refused(m) if m.contains("ring 0")));
    }

    #[test]
    fn damaged_files_are_errors() {
        assert!(read(b"not a shapefile", &Limits::default()).is_err());
        let mut file = shp_file(&[(5, polygon_body(&[square()]))]);
        // A point count far past the record.
        file[100 + 8 + 4 + 32 + 4..100 + 8 + 4 + 32 + 8].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(matches!(read(&file, &Limits::default()), Err(Error::Shp(m)) if m.contains("record 0")));
        let mut file = shp_file(&[(5, polygon_body(&[square()]))]);
        file.truncate(file.len() - 10);
        assert!(read(&file, &Limits::default()).is_err());
        let file = shp_file(&[(5, polygon_body(&[square()])), (5, polygon_body(&[square()]))]);
        let limits = Limits { max_records: 1, ..Limits::default() };
        assert!(matches!(read(&file, &limits), Err(Error::TooMany(_))));
    }
}
