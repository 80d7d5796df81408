//! Coordinate systems of patch files: ESRI WKT1 `.prj` text and `EPSG:NNNN` codes,
//! CGCS2000 Gauss-Krüger zones and lon/lat only.

use std::fmt;

use crate::gk::{Ellipsoid, Inverse, TransverseMercator};

/// The coordinate system of a patch file.
#[derive(Clone, Debug, PartialEq)]
pub enum Crs {
    /// Longitude and latitude in degrees (CGCS2000 or WGS 84, taken as the same for
    /// routing: they differ by centimetres).
    LonLat { name: String },
    /// Gauss-Krüger (transverse Mercator) easting and northing in metres.
    GaussKruger { name: String, projection: TransverseMercator },
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Crs::LonLat { name } => write!(f, "{name} (lon/lat)"),
            Crs::GaussKruger { name, projection: p } => write!(
                f,
                "{name} (Gauss-Krüger, central meridian {}°E, false easting {} m)",
                p.central_meridian, p.false_easting
            ),
        }
    }
}

fn gk(name: String, central_meridian: f64, false_easting: f64) -> Crs {
    Crs::GaussKruger {
        name,
        projection: TransverseMercator {
            ellipsoid: Ellipsoid::CGCS2000,
            central_meridian,
            scale: 1.0,
            false_easting,
            false_northing: 0.0,
        },
    }
}

impl Crs {
    /// `EPSG:NNNN` (or the bare number): 4490 and 4326 (lon/lat), 4513–4533 (CGCS2000
    /// 3° Gauss-Krüger zones 25–45, false easting with the zone number in front),
    /// 4534–4554 (3° zones by central meridian 75°E–135°E, false easting 500 000 m),
    /// 4491–4501 (6° zones 13–23, zone-prefixed) and 4502–4512 (6° by central
    /// meridian 75°E–135°E).
    pub fn from_epsg(text: &str) -> Result<Crs, String> {
        let t = text.trim();
        let digits = t.strip_prefix("EPSG:").or_else(|| t.strip_prefix("epsg:")).unwrap_or(t);
        let code: u32 = digits.parse().map_err(|_| format!("{text:?} is not EPSG:NNNN"))?;
        let name = format!("EPSG:{code}");
        Ok(match code {
            4490 => Crs::LonLat { name: format!("{name} CGCS2000") },
            4326 => Crs::LonLat { name: format!("{name} WGS 84") },
            4513..=4533 => {
                let zone = code - 4488;
                gk(format!("{name} CGCS2000 3-degree GK zone {zone}"), 3.0 * zone as f64, zone as f64 * 1e6 + 5e5)
            }
            4534..=4554 => {
                let cm = 75 + 3 * (code - 4534);
                gk(format!("{name} CGCS2000 3-degree GK CM {cm}E"), cm as f64, 5e5)
            }
            4491..=4501 => {
                let zone = code - 4478;
                gk(format!("{name} CGCS2000 GK zone {zone}"), (6 * zone - 3) as f64, zone as f64 * 1e6 + 5e5)
            }
            4502..=4512 => {
                let cm = 75 + 6 * (code - 4502);
                gk(format!("{name} CGCS2000 GK CM {cm}E"), cm as f64, 5e5)
            }
            2327..=2390 | 2401..=2442 | 21413..=21483 => {
                return Err(format!(
                    "{name} is a Beijing 1954 or Xi'an 1980 system: its datum needs a transformation this importer \
                     does not make; deliver the patches in CGCS2000"
                ));
            }
            _ => return Err(format!("{name} is not supported: use a CGCS2000 Gauss-Krüger zone or lon/lat")),
        })
    }

    /// The CRS of ESRI WKT1 `.prj` text: `GEOGCS[…]` (lon/lat) or `PROJCS[…]` with
    /// `PROJECTION["Gauss_Kruger"]` or `["Transverse_Mercator"]`, in metres, on the
    /// CGCS2000 or WGS 84 ellipsoid, with latitude of origin 0.
    pub fn from_wkt(text: &str) -> Result<Crs, String> {
        let root = parse_wkt(text)?;
        match root.keyword.as_str() {
            "GEOGCS" => {
                check_geogcs(&root)?;
                Ok(Crs::LonLat { name: root.name().unwrap_or("GEOGCS").to_owned() })
            }
            "PROJCS" => {
                let geog = root.child("GEOGCS").ok_or("PROJCS without GEOGCS")?;
                let ellipsoid = check_geogcs(geog)?;
                let method = root.child("PROJECTION").and_then(Node::name).ok_or("PROJCS without PROJECTION")?;
                let norm: String =
                    method.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
                if !matches!(norm.as_str(), "gausskruger" | "transversemercator" | "gaussiankruger") {
                    return Err(format!("projection {method:?}: only Gauss-Krüger (transverse Mercator) is supported"));
                }
                let param = |names: &[&str]| -> Option<f64> {
                    root.children("PARAMETER").find_map(|p| {
                        let n = p.name()?.to_lowercase();
                        if names.contains(&n.as_str()) { p.number(1) } else { None }
                    })
                };
                let central_meridian = param(&["central_meridian", "longitude_of_origin", "longitude_of_center"])
                    .ok_or("no Central_Meridian parameter")?;
                let latitude_of_origin = param(&["latitude_of_origin", "latitude_of_center"]).unwrap_or(0.0);
                if latitude_of_origin != 0.0 {
                    return Err(format!("latitude of origin {latitude_of_origin}: only 0 (the equator) is supported"));
                }
                let unit = root.child("UNIT").ok_or("PROJCS without UNIT")?;
                if unit.number(1).is_none_or(|m| (m - 1.0).abs() > 1e-12) {
                    return Err(format!("unit {:?}: only metres are supported", unit.name().unwrap_or("?")));
                }
                let projection = TransverseMercator {
                    ellipsoid,
                    central_meridian,
                    scale: param(&["scale_factor", "scale_factor_at_natural_origin"]).unwrap_or(1.0),
                    false_easting: param(&["false_easting"]).unwrap_or(0.0),
                    false_northing: param(&["false_northing"]).unwrap_or(0.0),
                };
                let sane = (0.5..1.5).contains(&projection.scale)
                    && (-180.0..=180.0).contains(&central_meridian)
                    && projection.false_easting.is_finite()
                    && projection.false_northing.is_finite();
                if !sane {
                    return Err("projection parameters out of range".into());
                }
                Ok(Crs::GaussKruger { name: root.name().unwrap_or("PROJCS").to_owned(), projection })
            }
            other => Err(format!("{other}[…]: only ESRI WKT1 GEOGCS or PROJCS is supported (or give EPSG:NNNN)")),
        }
    }

    /// The function from file coordinates to lon/lat, if projected.
    pub(crate) fn inverse(&self) -> Option<Inverse> {
        match self {
            Crs::LonLat { .. } => None,
            Crs::GaussKruger { projection, .. } => Some(Inverse::new(*projection)),
        }
    }
}

/// The ellipsoid of a GEOGCS node, if CGCS2000 or WGS 84 with the Greenwich meridian.
fn check_geogcs(g: &Node) -> Result<Ellipsoid, String> {
    let datum = g.child("DATUM").ok_or("GEOGCS without DATUM")?;
    let datum_name = datum.name().unwrap_or("?");
    let sph = datum.child("SPHEROID").ok_or("DATUM without SPHEROID")?;
    let (a, inv_f) = (sph.number(1).unwrap_or(0.0), sph.number(2).unwrap_or(0.0));
    if let Some(pm) = g.child("PRIMEM")
        && pm.number(1).is_some_and(|v| v != 0.0)
    {
        return Err("the prime meridian is not Greenwich".into());
    }
    if (a - 6_378_137.0).abs() < 1e-6 && (inv_f - 298.257_222_101).abs() < 1e-6 {
        Ok(Ellipsoid::CGCS2000)
    } else if (a - 6_378_137.0).abs() < 1e-6 && (inv_f - 298.257_223_563).abs() < 1e-6 {
        Ok(Ellipsoid::WGS84)
    } else {
        Err(format!(
            "datum {datum_name:?} (ellipsoid a = {a}, 1/f = {inv_f}) is neither CGCS2000 nor WGS 84: Beijing 1954 and \
             Xi'an 1980 coordinates need a datum transformation this importer does not make"
        ))
    }
}

/// A WKT node: `KEYWORD[arg, arg, …]`.
#[derive(Debug)]
struct Node {
    keyword: String,
    args: Vec<Arg>,
}

#[derive(Debug)]
enum Arg {
    Text(String),
    Number(f64),
    Word,
    Node(Node),
}

impl Node {
    fn name(&self) -> Option<&str> {
        match self.args.first()? {
            Arg::Text(s) => Some(s),
            _ => None,
        }
    }
    fn number(&self, i: usize) -> Option<f64> {
        match self.args.get(i)? {
            Arg::Number(n) => Some(*n),
            _ => None,
        }
    }
    fn children(&self, keyword: &'static str) -> impl Iterator<Item = &Node> {
        self.args.iter().filter_map(move |a| match a {
            Arg::Node(n) if n.keyword == keyword => Some(n),
            _ => None,
        })
    }
    fn child(&self, keyword: &'static str) -> Option<&Node> {
        self.children(keyword).next()
    }
}

/// Parses WKT1 text (keywords upper-cased; `[` or `(` brackets; nesting bounded).
fn parse_wkt(text: &str) -> Result<Node, String> {
    if text.len() > 64 * 1024 {
        return Err("the .prj text is too long".into());
    }
    let chars: Vec<char> = text.trim().trim_start_matches('\u{feff}').chars().collect();
    let mut at = 0;
    let node = parse_node(&chars, &mut at, 0)?;
    skip_space(&chars, &mut at);
    if at != chars.len() {
        return Err(format!("unexpected text after the WKT at character {at}"));
    }
    Ok(node)
}

fn skip_space(c: &[char], at: &mut usize) {
    while c.get(*at).is_some_and(|c| c.is_whitespace()) {
        *at += 1;
    }
}

fn parse_node(c: &[char], at: &mut usize, depth: usize) -> Result<Node, String> {
    if depth > 16 {
        return Err("the WKT nests too deep".into());
    }
    skip_space(c, at);
    let start = *at;
    while c.get(*at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
        *at += 1;
    }
    let keyword: String = c[start..*at].iter().collect::<String>().to_uppercase();
    if keyword.is_empty() {
        return Err(format!("not WKT: expected a keyword at character {start}"));
    }
    skip_space(c, at);
    let close = match c.get(*at) {
        Some('[') => ']',
        Some('(') => ')',
        _ => return Err(format!("not WKT: expected '[' after {keyword}")),
    };
    *at += 1;
    let mut args = Vec::new();
    loop {
        skip_space(c, at);
        match c.get(*at) {
            None => return Err(format!("not WKT: {keyword}[ is never closed")),
            Some(&ch) if ch == close && args.is_empty() => {
                *at += 1;
                break;
            }
            Some('"') => {
                *at += 1;
                let mut s = String::new();
                loop {
                    match c.get(*at) {
                        None => return Err("not WKT: a quoted name is never closed".into()),
                        Some('"') if c.get(*at + 1) == Some(&'"') => {
                            s.push('"');
                            *at += 2;
                        }
                        Some('"') => {
                            *at += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            *at += 1;
                        }
                    }
                }
                args.push(Arg::Text(s));
            }
            Some(ch) if ch.is_ascii_digit() || matches!(ch, '-' | '+' | '.') => {
                let start = *at;
                while c.get(*at).is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) {
                    *at += 1;
                }
                let s: String = c[start..*at].iter().collect();
                args.push(Arg::Number(s.parse().map_err(|_| format!("not WKT: bad number {s:?}"))?));
            }
            Some(_) => {
                let save = *at;
                while c.get(*at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    *at += 1;
                }
                let word: String = c[save..*at].iter().collect();
                skip_space(c, at);
                if matches!(c.get(*at), Some('[' | '(')) {
                    *at = save;
                    args.push(Arg::Node(parse_node(c, at, depth + 1)?));
                } else if word.is_empty() {
                    return Err(format!("not WKT: unexpected {:?} at character {}", c[*at], *at));
                } else {
                    args.push(Arg::Word);
                }
            }
        }
        skip_space(c, at);
        match c.get(*at) {
            Some(',') => *at += 1,
            Some(&ch) if ch == close => {
                *at += 1;
                break;
            }
            _ => return Err(format!("not WKT: expected ',' or '{close}' at character {}", *at)),
        }
    }
    Ok(Node { keyword, args })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE_39: &str = r#"PROJCS["CGCS2000_3_Degree_GK_Zone_39",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",39500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    fn projection(c: &Crs) -> TransverseMercator {
        match c {
            Crs::GaussKruger { projection, .. } => *projection,
            Crs::LonLat { .. } => panic!("not projected: {c}"),
        }
    }

    #[test]
    fn arcgis_gauss_kruger_zone_and_cm_forms() {
        let z = Crs::from_wkt(ZONE_39).unwrap();
        assert_eq!(projection(&z).false_easting, 39_500_000.0);
        assert_eq!(projection(&z).central_meridian, 117.0);
        assert_eq!(projection(&z).ellipsoid, Ellipsoid::CGCS2000);
        let cm = ZONE_39.replace("Zone_39", "CM_117E").replace("39500000.0", "500000.0");
        assert_eq!(projection(&Crs::from_wkt(&cm).unwrap()).false_easting, 500_000.0);
        let tm = ZONE_39.replace("Gauss_Kruger", "Transverse_Mercator");
        assert_eq!(projection(&Crs::from_wkt(&tm).unwrap()), projection(&z));
        // OGC WKT1 as GDAL writes it: AUTHORITY nodes, other parameter names.
        let ogc = r#"PROJCS["CGCS2000 / 3-degree Gauss-Kruger CM 117E",GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",117],PARAMETER["scale_factor",1],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Northing",NORTH],AXIS["Easting",EAST],AUTHORITY["EPSG","4548"]]"#;
        let p = projection(&Crs::from_wkt(ogc).unwrap());
        assert_eq!((p.central_meridian, p.false_easting), (117.0, 500_000.0));
    }

    #[test]
    fn geographic_wkt_is_lon_lat() {
        let g = r#"GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert!(matches!(Crs::from_wkt(g), Ok(Crs::LonLat { .. })));
        let wgs = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert!(matches!(Crs::from_wkt(wgs), Ok(Crs::LonLat { .. })));
    }

    #[test]
    fn refuses_other_datums_projections_units_and_garbage() {
        let xian = ZONE_39.replace("6378137.0,298.257222101", "6378140.0,298.257");
        assert!(Crs::from_wkt(&xian).unwrap_err().contains("Xi'an 1980"));
        let lcc = ZONE_39.replace("Gauss_Kruger", "Lambert_Conformal_Conic");
        assert!(Crs::from_wkt(&lcc).unwrap_err().contains("Lambert_Conformal_Conic"));
        let feet = ZONE_39.replace(r#"UNIT["Meter",1.0]"#, r#"UNIT["Foot_US",0.3048006096012192]"#);
        assert!(Crs::from_wkt(&feet).unwrap_err().contains("metres"));
        let lat0 = ZONE_39.replace(r#""Latitude_Of_Origin",0.0"#, r#""Latitude_Of_Origin",30.0"#);
        assert!(Crs::from_wkt(&lat0).is_err());
        for bad in ["", "hello", "PROJCS[", r#"PROJCS["x",GEOGCS["y"]"#, "LOCAL_CS[\"x\"]", &"A[".repeat(40)] {
            assert!(Crs::from_wkt(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn epsg_codes() {
        assert!(matches!(Crs::from_epsg("EPSG:4490"), Ok(Crs::LonLat { .. })));
        assert!(matches!(Crs::from_epsg("4326"), Ok(Crs::LonLat { .. })));
        let p = projection(&Crs::from_epsg("EPSG:4527").unwrap());
        assert_eq!((p.central_meridian, p.false_easting), (117.0, 39_500_000.0));
        let p = projection(&Crs::from_epsg("epsg:4548").unwrap());
        assert_eq!((p.central_meridian, p.false_easting), (117.0, 500_000.0));
        assert!(Crs::from_epsg("EPSG:2436").unwrap_err().contains("Beijing 1954"));
        assert!(Crs::from_epsg("EPSG:3857").is_err());
        assert!(Crs::from_epsg("WGS84").is_err());
    }
}
