//! Points as they travel on the wire: longitude, latitude, the coordinate
//! reference system they were measured in, and the reported accuracy.

use crate::coords;

/// Coordinate reference system of an incoming point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS-84 / CGCS2000, what GPS and EXIF report. Storage uses this.
    /// `cgcs2000` is accepted as a name of it (they differ by centimetres).
    #[default]
    #[serde(alias = "cgcs2000")]
    Wgs84,
    /// GCJ-02, the offset system of AutoNavi and Tencent map SDKs.
    Gcj02,
    /// BD-09, Baidu's system.
    Bd09,
}

impl Crs {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "wgs84" | "cgcs2000" => Some(Crs::Wgs84),
            "gcj02" => Some(Crs::Gcj02),
            "bd09" => Some(Crs::Bd09),
            _ => None,
        }
    }
}

/// A point as sent by a client: `{"lon": 117.31, "lat": 39.72, "crs": "gcj02", "accuracy_m": 8}`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"lon": 117.301546, "lat": 39.734765, "crs": "gcj02", "accuracy_m": 8.0})))]
pub struct GeoPoint {
    /// Longitude in degrees, -180..=180.
    #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
    pub lon: f64,
    /// Latitude in degrees, -90..=90.
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
    pub lat: f64,
    /// The system the point was measured in; `wgs84` when absent.
    #[serde(default)]
    pub crs: Crs,
    /// Horizontal accuracy reported by the phone, in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub accuracy_m: Option<f64>,
    /// The phone reports the position as mock/simulated; accepted but flagged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mock: bool,
}

/// Why a point was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeoPointError {
    #[error("longitude {0} is outside -180..=180")]
    Longitude(f64),
    #[error("latitude {0} is outside -90..=90")]
    Latitude(f64),
    #[error("accuracy {0} must be a finite, non-negative number of metres")]
    Accuracy(f64),
}

impl GeoPoint {
    /// A checked WGS-84 point.
    pub fn wgs84(lon: f64, lat: f64) -> Result<Self, GeoPointError> {
        Self { lon, lat, crs: Crs::Wgs84, accuracy_m: None, mock: false }.validated()
    }

    /// Checks ranges and finiteness.
    pub fn validated(self) -> Result<Self, GeoPointError> {
        if !self.lon.is_finite() || !(-180.0..=180.0).contains(&self.lon) {
            return Err(GeoPointError::Longitude(self.lon));
        }
        if !self.lat.is_finite() || !(-90.0..=90.0).contains(&self.lat) {
            return Err(GeoPointError::Latitude(self.lat));
        }
        if let Some(a) = self.accuracy_m
            && (!a.is_finite() || a < 0.0)
        {
            return Err(GeoPointError::Accuracy(a));
        }
        Ok(self)
    }

    /// The same place in WGS-84 (the storage system), after validation.
    pub fn to_wgs84(self) -> Result<Self, GeoPointError> {
        let p = self.validated()?;
        let (lon, lat) = match p.crs {
            Crs::Wgs84 => (p.lon, p.lat),
            Crs::Gcj02 => coords::gcj02_to_wgs84(p.lon, p.lat),
            Crs::Bd09 => coords::bd09_to_wgs84(p.lon, p.lat),
        };
        Ok(Self { lon, lat, crs: Crs::Wgs84, accuracy_m: p.accuracy_m, mock: p.mock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range() {
        assert_eq!(GeoPoint::wgs84(181.0, 0.0), Err(GeoPointError::Longitude(181.0)));
        assert_eq!(GeoPoint::wgs84(0.0, -90.5), Err(GeoPointError::Latitude(-90.5)));
        assert!(GeoPoint::wgs84(f64::NAN, 0.0).is_err());
        let bad_acc = GeoPoint { lon: 1.0, lat: 1.0, crs: Crs::Wgs84, accuracy_m: Some(-1.0), mock: false };
        assert!(bad_acc.validated().is_err());
    }

    #[test]
    fn crs_defaults_to_wgs84_and_converts() {
        let p: GeoPoint = serde_json::from_str(r#"{"lon":117.301546,"lat":39.734765,"crs":"gcj02"}"#).unwrap();
        let w = p.to_wgs84().unwrap();
        assert_eq!(w.crs, Crs::Wgs84);
        // 北台村委会: WGS-84 117.295129, 39.733503
        assert!((w.lon - 117.295129).abs() < 0.0001, "{w:?}");
        assert!((w.lat - 39.733503).abs() < 0.0001, "{w:?}");
        let q: GeoPoint = serde_json::from_str(r#"{"lon":1.5,"lat":2.5}"#).unwrap();
        assert_eq!(q.crs, Crs::Wgs84);
        assert!(serde_json::from_str::<GeoPoint>(r#"{"lon":1,"lat":2,"crs":"utm"}"#).is_err());
    }
}
