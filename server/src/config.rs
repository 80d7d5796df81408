//! Typed settings, layered: built-in defaults → an optional TOML file →
//! `LANDPATROL__SECTION__KEY` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Every setting of the server. See the README for the table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub auth: AuthSettings,
    pub routing: RoutingSettings,
    pub campaign: CampaignSettings,
    pub sync: SyncSettings,
    pub photos: PhotoSettings,
    pub alerts: AlertSettings,
    pub webhooks: WebhookSettings,
    pub console: ConsoleSettings,
    pub tips: TipSettings,
    pub parcels: ParcelSettings,
    pub log: LogSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParcelSettings {
    /// How often the idle-land sweep runs (the first run comes after at most an hour).
    pub sweep_interval_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// A town alert unacknowledged this long raises an alert to the bureau.
    pub escalate_after_secs: u64,
    /// How often deadline and escalation sweeps run.
    pub sweep_interval_secs: u64,
    /// Comment lines sent on an idle live stream.
    pub heartbeat_secs: u64,
    /// How long one webhook request may take.
    pub webhook_timeout_secs: u64,
    /// Delay before the second attempt; doubled each attempt, with jitter.
    pub retry_base_ms: u64,
    /// Longest delay between two attempts.
    pub retry_max_delay_secs: u64,
    /// A delivery still failing this long after the alert is dead-lettered.
    pub retry_window_secs: u64,
    /// How often the outbox is looked at when nothing wakes the worker.
    pub outbox_poll_ms: u64,
    /// Deliveries sent at once by one instance.
    pub delivery_concurrency: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Raster tile URL template for the console's and tip page's maps
    /// (`{z}/{x}/{y}`, optional `{s}`); empty: vector layers only.
    pub tile_url: String,
    /// `wgs84` or `gcj02`: the datum of those tiles.
    pub tile_crs: String,
    /// Credit shown on the map for the tiles.
    pub tile_attribution: String,
    /// The IANA zone the pages show times in.
    pub time_zone: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Let webhooks reach loopback, private, link-local and unique-local
    /// addresses and internal names (an installation's own intranet). Off:
    /// public addresses only, checked at registration and on every delivery.
    pub allow_private_networks: bool,
    /// Most webhooks one town may have (the district-wide ones count as one town).
    pub max_per_town: u64,
    /// Send every delivery through this HTTP proxy (an installation's egress
    /// proxy); empty: connect directly. Proxy variables of the environment
    /// are never used.
    pub proxy: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TipSettings {
    /// Tips accepted per client address per hour.
    pub per_address_per_hour: u32,
    /// Tips accepted per device (`X-Device-Id`, Open311 `device_id`) per hour.
    pub per_device_per_hour: u32,
    /// Anonymous photo uploads accepted per client address per hour.
    pub photo_uploads_per_address_per_hour: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Open cases this close to a tip are suggested as duplicates.
    pub duplicate_radius_m: f64,
    /// Most photos named by one tip.
    pub max_photos: usize,
    /// Open311 `api_key`s accepted for `POST requests` (demo mode adds `landpatrol-demo-key`).
    pub open311_api_keys: Vec<String>,
    /// Widest `start_date`..`end_date` window of an Open311 `GET requests`, in days.
    pub open311_max_window_days: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoSettings {
    /// Largest photo accepted (one `PUT` or one tus upload), in bytes.
    pub max_upload_bytes: u64,
    /// An unfinished tus upload untouched this long is removed.
    pub upload_expiry_hours: u64,
    /// Thumbnails made at once (each on a blocking thread); 0 means one per core.
    pub thumbnail_workers: usize,
    /// Largest width × height an image may declare (decompression bombs are refused).
    pub max_pixels: u64,
    /// Largest width or height an image may declare.
    pub max_dimension: u32,
    /// Largest buffer one decode may allocate, in MiB.
    pub max_decode_mib: u64,
    /// EXIF position further than this from the reported position flags `far_from_report`.
    pub max_distance_m: f64,
    /// Capture time further than this from the record's time flags `time_mismatch`.
    pub max_time_diff_secs: i64,
    /// The same photo linked to places further apart than this flags `reused_elsewhere`.
    pub reuse_distance_m: f64,
    /// Offset assumed for an EXIF capture time that carries none (phones write local time).
    pub camera_utc_offset_minutes: i32,
    /// Where photo bytes live: `local` (the data folder) or `s3` (an
    /// S3-compatible bucket shared by several instances).
    pub store: String,
    /// The bucket (`store = "s3"`).
    pub bucket: String,
    /// The S3 endpoint URL for S3-compatible servers (path-style requests);
    /// empty: AWS itself.
    pub endpoint: String,
    /// The bucket's region.
    pub region: String,
    /// Originals larger than this many MiB are sent in parts of this size
    /// (S3 multipart upload; S3's smallest part is 5 MiB).
    pub multipart_part_mib: u64,
    /// Whether the server takes `If-None-Match: *` on PUT (S3 and most
    /// compatible servers do): an original is then never overwritten even by a
    /// racing upload; off: a HEAD first, then the PUT.
    pub conditional_put: bool,
    /// S3 credentials given by code (tests); not a setting. Empty: from the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), or the instance's role.
    #[serde(skip)]
    pub s3_credentials: Option<S3Credentials>,
}

/// An S3 access key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret, should settings be printed.
        f.debug_struct("S3Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// Most ops in one push.
    pub max_batch: usize,
    /// A client clock further ahead than this is re-stamped and flagged `clock_skew`.
    pub max_skew_secs: u64,
    /// Largest page of a pull.
    pub max_pull_limit: u32,
    /// Largest WatermelonDB push body, in bytes: WatermelonDB sends every
    /// unsynced row in one request, so it is larger than `server.json_limit_bytes`.
    pub max_watermelon_push_bytes: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Largest JSON body accepted, in bytes.
    pub json_limit_bytes: usize,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/landpatrol.db`.
    pub url: String,
    /// Pool size for PostgreSQL (SQLite uses one writer connection).
    pub max_connections: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Holds the SQLite file, the photo folder and the generated JWT secret.
    pub data_dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC secret for access tokens (at least 32 bytes); empty means a random
    /// secret generated once and kept in `<data_dir>/jwt_secret`.
    pub jwt_secret: String,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_days: u64,
    /// Seconds an access token is still taken after its `exp` (clock drift
    /// between instances); at most 60.
    pub clock_leeway_secs: u64,
    /// Failed logins for one username before it is locked out.
    pub login_failures_per_user: u32,
    /// Failed logins from one client address before it is locked out.
    pub login_failures_per_address: u32,
    /// The first lockout; each further failure doubles it (at most 15 minutes).
    pub login_lockout_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// A point closer than this to a town border is flagged `near_boundary`.
    pub near_boundary_m: f64,
    /// A reported accuracy worse than this flags the position `low_accuracy`.
    pub max_accuracy_m: f64,
    /// How often each instance checks the database for towns imported elsewhere.
    pub refresh_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSettings {
    /// Days a patrol discovery has before its deadline ("find one, fix one").
    pub patrol_deadline_days: i64,
    /// Days a case made from a public tip has before its deadline.
    pub tip_deadline_days: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `landpatrol_server=debug,info`.
    pub level: String,
}

const DEFAULTS: &str = r#"
[server]
addr = "127.0.0.1:8080"
json_limit_bytes = 2097152
workers = 0

[database]
url = ""
max_connections = 10

[storage]
data_dir = "./data"

[auth]
jwt_secret = ""
issuer = "landpatrol"
audience = "landpatrol-api"
access_ttl_secs = 900
refresh_ttl_days = 30
clock_leeway_secs = 5
login_failures_per_user = 5
login_failures_per_address = 20
login_lockout_secs = 30

[routing]
near_boundary_m = 100.0
max_accuracy_m = 50.0
refresh_secs = 30

[campaign]
patrol_deadline_days = 7
tip_deadline_days = 15

[sync]
max_batch = 500
max_skew_secs = 300
max_pull_limit = 5000
max_watermelon_push_bytes = 33554432

[photos]
max_upload_bytes = 31457280
upload_expiry_hours = 24
thumbnail_workers = 0
max_pixels = 120000000
max_dimension = 30000
max_decode_mib = 128
max_distance_m = 200.0
max_time_diff_secs = 3600
reuse_distance_m = 500.0
camera_utc_offset_minutes = 480
store = "local"
bucket = ""
endpoint = ""
region = "us-east-1"
multipart_part_mib = 8
conditional_put = true

[alerts]
escalate_after_secs = 86400
sweep_interval_secs = 60
heartbeat_secs = 15
webhook_timeout_secs = 10
retry_base_ms = 5000
retry_max_delay_secs = 3600
retry_window_secs = 86400
outbox_poll_ms = 1000
delivery_concurrency = 8

[console]
tile_url = ""
tile_crs = "wgs84"
tile_attribution = ""
time_zone = "Asia/Shanghai"

[webhooks]
allow_private_networks = false
max_per_town = 10
proxy = ""

[tips]
per_address_per_hour = 20
per_device_per_hour = 10
photo_uploads_per_address_per_hour = 60
trust_forwarded_for = false
duplicate_radius_m = 100.0
max_photos = 10
open311_api_keys = []
open311_max_window_days = 90

[parcels]
sweep_interval_secs = 86400

[log]
format = "text"
level = "info"
"#;

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings: {0}")]
    Config(#[from] config::ConfigError),
    #[error("settings: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then `file` if given, then `LANDPATROL__…` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_with_env(file, true)
    }

    /// Defaults and file only: what tests start from, untouched by the environment.
    pub fn defaults() -> Result<Self, SettingsError> {
        Self::load_with_env(None, false)
    }

    fn load_with_env(file: Option<&Path>, env: bool) -> Result<Self, SettingsError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml).required(true));
        }
        if env {
            builder = builder.add_source(
                config::Environment::with_prefix("LANDPATROL")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("tips.open311_api_keys"),
            );
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        if !self.routing.near_boundary_m.is_finite() || self.routing.near_boundary_m < 0.0 {
            return Err(SettingsError::Invalid("routing.near_boundary_m must be >= 0".into()));
        }
        if self.auth.access_ttl_secs == 0 || self.auth.refresh_ttl_days == 0 {
            return Err(SettingsError::Invalid("auth TTLs must be positive".into()));
        }
        if self.auth.login_failures_per_user == 0 || self.auth.login_failures_per_address == 0 {
            return Err(SettingsError::Invalid("auth.login_failures_per_* must be positive".into()));
        }
        if self.auth.clock_leeway_secs > 60 {
            return Err(SettingsError::Invalid("auth.clock_leeway_secs must be at most 60".into()));
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            return Err(SettingsError::Invalid("auth.jwt_secret must be at least 32 bytes".into()));
        }
        let p = &self.photos;
        if p.max_upload_bytes == 0 || p.max_pixels == 0 || p.max_dimension == 0 || p.max_decode_mib == 0 {
            return Err(SettingsError::Invalid("photos limits must be positive".into()));
        }
        if !(p.max_distance_m.is_finite() && p.max_distance_m > 0.0 && p.reuse_distance_m.is_finite())
            || p.reuse_distance_m <= 0.0
            || p.max_time_diff_secs <= 0
        {
            return Err(SettingsError::Invalid("photos evidence thresholds must be positive".into()));
        }
        if !(-14 * 60..=14 * 60).contains(&p.camera_utc_offset_minutes) {
            return Err(SettingsError::Invalid("photos.camera_utc_offset_minutes must be within ±14 h".into()));
        }
        if !matches!(p.store.as_str(), "local" | "s3") {
            return Err(SettingsError::Invalid("photos.store must be local or s3".into()));
        }
        if p.store == "s3" && p.bucket.trim().is_empty() {
            return Err(SettingsError::Invalid("photos.bucket is needed with photos.store = \"s3\"".into()));
        }
        if !(5..=1024).contains(&p.multipart_part_mib) {
            return Err(SettingsError::Invalid("photos.multipart_part_mib must be 5 to 1024".into()));
        }
        let a = &self.alerts;
        if a.heartbeat_secs == 0 || a.webhook_timeout_secs == 0 || a.outbox_poll_ms == 0 || a.delivery_concurrency == 0
        {
            return Err(SettingsError::Invalid("alerts intervals and concurrency must be positive".into()));
        }
        if a.sweep_interval_secs == 0 || a.retry_max_delay_secs == 0 {
            return Err(SettingsError::Invalid(
                "alerts.sweep_interval_secs and retry_max_delay_secs must be positive".into(),
            ));
        }
        let c = &self.console;
        if !matches!(c.tile_crs.as_str(), "wgs84" | "gcj02") {
            return Err(SettingsError::Invalid("console.tile_crs must be wgs84 or gcj02".into()));
        }
        if !c.tile_url.is_empty() && crate::console::assets::tile_origin(&c.tile_url).is_none() {
            return Err(SettingsError::Invalid("console.tile_url must be an http(s) URL template".into()));
        }
        if !(1..=1000).contains(&self.webhooks.max_per_town) {
            return Err(SettingsError::Invalid("webhooks.max_per_town must be 1 to 1000".into()));
        }
        let t = &self.tips;
        let radius_ok = t.duplicate_radius_m.is_finite() && t.duplicate_radius_m >= 0.0;
        if !radius_ok || !(1..=366).contains(&t.open311_max_window_days) {
            return Err(SettingsError::Invalid(
                "tips.duplicate_radius_m must be >= 0 and open311_max_window_days 1..366".into(),
            ));
        }
        if self.parcels.sweep_interval_secs == 0 {
            return Err(SettingsError::Invalid("parcels.sweep_interval_secs must be positive".into()));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(SettingsError::Invalid("log.format must be text or json".into()));
        }
        if !self.database.url.is_empty() && !self.is_postgres() && !self.database.url.starts_with("sqlite:") {
            return Err(SettingsError::Invalid("database.url must start with sqlite: or postgres://".into()));
        }
        Ok(())
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}?mode=rwc", self.storage.data_dir.join("landpatrol.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// Whether the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database.url.starts_with("postgres://") || self.database.url.starts_with("postgresql://")
    }

    /// Where photos are kept.
    pub fn photos_dir(&self) -> PathBuf {
        self.storage.data_dir.join("photos")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.server.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.routing.near_boundary_m, 100.0);
        assert!(s.database_url().starts_with("sqlite://./data/landpatrol.db"));
        assert!(!s.is_postgres());
    }

    #[test]
    fn the_photo_store_is_local_or_a_named_bucket() {
        let s = Settings::defaults().unwrap();
        assert_eq!((s.photos.store.as_str(), s.photos.conditional_put), ("local", true));
        let dir = tempfile::tempdir().unwrap();
        let load = |toml: &str| {
            let path = dir.path().join("c.toml");
            std::fs::write(&path, toml).unwrap();
            Settings::load_with_env(Some(&path), false)
        };
        assert!(load("[photos]\nstore = \"s3\"\n").is_err(), "s3 without a bucket");
        assert!(load("[photos]\nstore = \"ftp\"\n").is_err());
        assert!(load("[photos]\nmultipart_part_mib = 4\n").is_err(), "S3 parts are 5 MiB at least");
        let s =
            load("[photos]\nstore = \"s3\"\nbucket = \"evidence\"\nendpoint = \"http://127.0.0.1:9000\"\n").unwrap();
        assert_eq!((s.photos.bucket.as_str(), s.photos.s3_credentials), ("evidence", None));
    }

    #[test]
    fn file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lp.toml");
        std::fs::write(&path, "[routing]\nnear_boundary_m = 250.0\n").unwrap();
        let s = Settings::load_with_env(Some(&path), false).unwrap();
        assert_eq!(s.routing.near_boundary_m, 250.0);
        std::fs::write(&path, "[routing]\nnear_boundary_mm = 250.0\n").unwrap();
        assert!(Settings::load_with_env(Some(&path), false).is_err(), "unknown keys are refused");
    }
}
