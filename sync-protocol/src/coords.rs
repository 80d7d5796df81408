//! Chinese map coordinate systems.
//!
//! Phones report positions in one of three datums:
//!
//! * **WGS-84** — raw GNSS; what landpatrol stores.
//! * **GCJ-02** — the obfuscated "Mars" datum required for maps published in
//!   mainland China (AutoNavi/Amap, Tencent, Apple Maps in China).
//! * **BD-09** — Baidu's further offset on top of GCJ-02.
//!
//! All functions take and return `(longitude, latitude)` in decimal degrees.
//! The GCJ-02 forward transform uses the widely published Krasovsky 1940
//! constants (as in `eviltransform`); its inverse is computed by fixed-point
//! iteration to well under a centimetre. Outside the rough China bounding box
//! (see [`out_of_china`]) GCJ-02 is identical to WGS-84.

use std::f64::consts::PI;

/// Semi-major axis of the Krasovsky 1940 ellipsoid used by GCJ-02, metres.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid (published as
/// 0.00669342162296594323; written here at f64 precision).
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
/// `PI * 3000 / 180`, the BD-09 angular constant.
const X_PI: f64 = PI * 3000.0 / 180.0;
/// Mean Earth radius (IUGG) used by [`haversine_m`], metres.
const MEAN_EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Returns `true` when the point lies outside the rough mainland-China bounding
/// box used by `eviltransform` (lon 72.004..=137.8347, lat 0.8293..=55.8271).
///
/// Points outside this box are not offset by GCJ-02. Non-finite input counts
/// as outside, so it passes through the transforms unchanged.
pub fn out_of_china(lon: f64, lat: f64) -> bool {
    !((72.004..=137.8347).contains(&lon) && (0.8293..=55.8271).contains(&lat))
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// The GCJ-02 offset `(d_lon, d_lat)` in degrees to add to a WGS-84 point,
/// without the out-of-China check.
fn gcj02_delta(lon: f64, lat: f64) -> (f64, f64) {
    let d_lat = transform_lat(lon - 105.0, lat - 35.0);
    let d_lon = transform_lon(lon - 105.0, lat - 35.0);
    let rad_lat = lat.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let d_lat = (d_lat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (d_lon, d_lat)
}

/// Converts WGS-84 to GCJ-02. Identity outside China.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lon, lat) {
        return (lon, lat);
    }
    let (d_lon, d_lat) = gcj02_delta(lon, lat);
    (lon + d_lon, lat + d_lat)
}

/// Converts GCJ-02 to WGS-84, inverting [`wgs84_to_gcj02`] by fixed-point
/// iteration (`w ← w − (gcj(w) − target)`), which converges to far below
/// 0.01 m within a handful of steps. Identity outside China.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lon, lat) {
        return (lon, lat);
    }
    // Stop once a step moves the estimate by less than ~1e-6 m.
    const TOLERANCE_DEG: f64 = 1e-11;
    let (d_lon, d_lat) = gcj02_delta(lon, lat);
    let (mut w_lon, mut w_lat) = (lon - d_lon, lat - d_lat);
    for _ in 0..30 {
        let (d_lon, d_lat) = gcj02_delta(w_lon, w_lat);
        let err_lon = w_lon + d_lon - lon;
        let err_lat = w_lat + d_lat - lat;
        w_lon -= err_lon;
        w_lat -= err_lat;
        if err_lon.abs() < TOLERANCE_DEG && err_lat.abs() < TOLERANCE_DEG {
            break;
        }
    }
    (w_lon, w_lat)
}

/// Converts GCJ-02 to BD-09 (Baidu), using the standard published formula.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Converts BD-09 (Baidu) to GCJ-02, using the standard published
/// approximate inverse of [`gcj02_to_bd09`]. The round trip
/// GCJ-02 → BD-09 → GCJ-02 is off by up to ~0.16 m around Baodi and ~0.23 m
/// anywhere in China, which is far below phone GNSS accuracy.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    (z * theta.cos(), z * theta.sin())
}

/// Converts WGS-84 to BD-09 (via GCJ-02).
pub fn wgs84_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let (g_lon, g_lat) = wgs84_to_gcj02(lon, lat);
    gcj02_to_bd09(g_lon, g_lat)
}

/// Converts BD-09 to WGS-84 (via GCJ-02).
pub fn bd09_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (g_lon, g_lat) = bd09_to_gcj02(lon, lat);
    gcj02_to_wgs84(g_lon, g_lat)
}

/// Great-circle distance in metres between two points given as
/// `(lon, lat)` degrees, by the haversine formula on a sphere of radius
/// 6 371 008.8 m (IUGG mean Earth radius).
pub fn haversine_m(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = phi2 - phi1;
    let d_lambda = (lon2 - lon1).to_radians();
    let h = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * MEAN_EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VILLAGES_CSV: &str = include_str!("../../server/demo/geo/baodi_village_points.csv");

    /// One row of the village fixture.
    struct Village {
        name: String,
        wgs: (f64, f64),
        gcj: (f64, f64),
    }

    fn villages() -> Vec<Village> {
        let mut lines = VILLAGES_CSV.lines();
        let header = lines.next().unwrap();
        assert_eq!(header.trim(), "village,town,wgs84_lon,wgs84_lat,gcj02_lon,gcj02_lat");
        lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.trim().split(',').collect();
                assert_eq!(f.len(), 6, "bad row {l}");
                let n = |i: usize| f[i].parse::<f64>().unwrap();
                Village { name: f[0].to_string(), wgs: (n(2), n(3)), gcj: (n(4), n(5)) }
            })
            .collect()
    }

    #[test]
    fn out_of_china_bbox() {
        assert!(!out_of_china(117.3, 39.7)); // Baodi
        assert!(!out_of_china(116.391, 39.907)); // Beijing
        assert!(out_of_china(-0.1276, 51.5072)); // London
        assert!(out_of_china(151.2093, -33.8688)); // Sydney
        assert!(out_of_china(139.6917, 35.6895)); // Tokyo, east of 137.8347
        assert!(out_of_china(f64::NAN, 39.7));
    }

    #[test]
    fn identity_outside_china() {
        let london = (-0.1276, 51.5072);
        assert_eq!(wgs84_to_gcj02(london.0, london.1), london);
        assert_eq!(gcj02_to_wgs84(london.0, london.1), london);
    }

    #[test]
    fn gcj02_forward_matches_known_offset() {
        // Baodi district government area: the GCJ-02 shift is roughly 550 m
        // east and 140 m north.
        let (lon, lat) = (117.309848, 39.726825);
        let (g_lon, g_lat) = wgs84_to_gcj02(lon, lat);
        assert!((g_lon - lon - 0.00645).abs() < 0.0002, "dlon {}", g_lon - lon);
        assert!((g_lat - lat - 0.00129).abs() < 0.0002, "dlat {}", g_lat - lat);
        let shift = haversine_m(lon, lat, g_lon, g_lat);
        assert!((500.0..650.0).contains(&shift), "shift {shift}");
    }

    #[test]
    fn wgs_gcj_round_trip_within_1cm() {
        for &(lon, lat) in &[
            (117.3, 39.7),
            (116.391, 39.907),
            (121.4737, 31.2304),
            (113.2644, 23.1291),
            (87.6168, 43.8256),
            (126.535, 45.8038),
            (110.35, 20.02),
        ] {
            let (g_lon, g_lat) = wgs84_to_gcj02(lon, lat);
            let (w_lon, w_lat) = gcj02_to_wgs84(g_lon, g_lat);
            let err = haversine_m(lon, lat, w_lon, w_lat);
            assert!(err < 0.01, "({lon},{lat}) round trip error {err} m");
        }
    }

    #[test]
    fn bd09_round_trip() {
        for &(lon, lat) in &[(117.3, 39.7), (116.391, 39.907), (121.4737, 31.2304), (113.2644, 23.1291)] {
            let (b_lon, b_lat) = gcj02_to_bd09(lon, lat);
            // BD-09 shifts by roughly 0.0065/0.006 degrees (~500–900 m).
            assert!((b_lon - lon - 0.0065).abs() < 0.0005, "bd dlon {}", b_lon - lon);
            assert!((b_lat - lat - 0.006).abs() < 0.0005, "bd dlat {}", b_lat - lat);
            let (g_lon, g_lat) = bd09_to_gcj02(b_lon, b_lat);
            let err = haversine_m(lon, lat, g_lon, g_lat);
            assert!(err > 0.0 && err < 0.25, "gcj->bd->gcj error {err} m");

            let (b_lon, b_lat) = wgs84_to_bd09(lon, lat);
            let (w_lon, w_lat) = bd09_to_wgs84(b_lon, b_lat);
            let err = haversine_m(lon, lat, w_lon, w_lat);
            assert!(err < 0.25, "wgs->bd->wgs error {err} m");
        }
    }

    #[test]
    fn haversine_known_distances() {
        // One degree of latitude on the mean sphere.
        let one_deg = haversine_m(117.0, 39.0, 117.0, 40.0);
        assert!((one_deg - 111_195.08).abs() < 0.1, "{one_deg}");
        // Beijing (Tiananmen) to Tianjin railway station, ~110.4 km great-circle.
        let d = haversine_m(116.3975, 39.9087, 117.2103, 39.1361);
        assert!((d - 110_400.0).abs() < 1_000.0, "{d}");
        assert_eq!(haversine_m(117.3, 39.7, 117.3, 39.7), 0.0);
        // Symmetric.
        let a = haversine_m(117.3, 39.7, 117.4, 39.6);
        let b = haversine_m(117.4, 39.6, 117.3, 39.7);
        assert!((a - b).abs() < 1e-9);
    }

    /// The fixture's GCJ-02 and WGS-84 columns are rounded to 6 decimals
    /// (~0.1 m), so the measured worst case (0.064 m) is rounding noise; the
    /// bound leaves a little headroom above it.
    #[test]
    fn baodi_villages_gcj02_to_wgs84() {
        let villages = villages();
        assert_eq!(villages.len(), 15);
        let mut max_err: f64 = 0.0;
        for v in &villages {
            // Without correction the two columns are ~550 m apart.
            let raw = haversine_m(v.gcj.0, v.gcj.1, v.wgs.0, v.wgs.1);
            assert!((500.0..650.0).contains(&raw), "{}: raw offset {raw} m", v.name);

            let (lon, lat) = gcj02_to_wgs84(v.gcj.0, v.gcj.1);
            let err = haversine_m(lon, lat, v.wgs.0, v.wgs.1);
            max_err = max_err.max(err);

            let (g_lon, g_lat) = wgs84_to_gcj02(v.wgs.0, v.wgs.1);
            let fwd = haversine_m(g_lon, g_lat, v.gcj.0, v.gcj.1);
            assert!(fwd < 0.08, "{}: forward error {fwd} m", v.name);
        }
        assert!(max_err < 0.08, "max GCJ-02 -> WGS-84 error {max_err} m");
        assert!(max_err > 0.0);
    }
}
