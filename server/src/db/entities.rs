//! sea-orm entities, one module per table. Synced tables carry the sync
//! columns: `rev`, `seq`, `deleted`, `field_clock`, `created_by`, timestamps.

pub mod towns {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "towns")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub code: String,
        pub name: String,
        pub kind: Option<String>,
        pub boundary: Json,
        pub min_lon: f64,
        pub min_lat: f64,
        pub max_lon: f64,
        pub max_lat: f64,
        pub area_m2: f64,
        pub rev: i64,
        pub seq: i64,
        /// The change-sequence position at which the record was made.
        pub created_seq: i64,
        pub deleted: bool,
        pub field_clock: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod users {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub username: String,
        pub display_name: String,
        pub password_hash: String,
        pub role: String,
        /// The town of a town officer.
        pub town_id: Option<Uuid>,
        /// The towns an inspector patrols (JSON array of ids; empty: the whole district).
        pub patrol_towns: Json,
        pub active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod devices {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "devices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub name: String,
        pub platform: String,
        pub app_version: String,
        pub created_at: DateTimeUtc,
        pub last_seen_at: DateTimeUtc,
        /// The highest op `seq` of this device applied by sync.
        pub last_seq: i64,
        /// Set when the device is revoked (lost, stolen, handed on): its sessions end.
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh_tokens {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub family_id: Uuid,
        pub user_id: Uuid,
        pub device_id: Option<Uuid>,
        /// SHA-256 of the token; the token itself is never stored.
        #[sea_orm(unique)]
        pub token_hash: String,
        pub expires_at: DateTimeUtc,
        pub created_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod campaigns {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "campaigns")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub year: i32,
        pub starts_on: Date,
        pub ends_on: Date,
        pub satellite_deadline: Date,
        pub legacy_deadline: Date,
        pub idle_land_deadline: Date,
        pub patrol_days: i32,
        pub tip_days: i32,
        /// The campaign's targets (`campaigns::targets::Target`); null: the standard ones.
        pub targets: Option<Json>,
        pub rev: i64,
        pub seq: i64,
        /// The change-sequence position at which the record was made.
        pub created_seq: i64,
        pub deleted: bool,
        pub field_clock: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cases {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "cases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub case_number: String,
        pub year: i32,
        pub source: String,
        pub status: String,
        pub lon: f64,
        pub lat: f64,
        pub accuracy_m: Option<f64>,
        pub input_crs: String,
        pub polygon: Option<Json>,
        pub area_m2: Option<f64>,
        pub town_id: Option<Uuid>,
        pub near_boundary: bool,
        pub neighbour_town_id: Option<Uuid>,
        pub description: String,
        pub address: String,
        pub land_class: Option<String>,
        pub violation_type: Option<String>,
        pub disposition: Option<String>,
        pub notice_served_at: Option<DateTimeUtc>,
        pub leadership_reported_at: Option<DateTimeUtc>,
        pub campaign_id: Option<Uuid>,
        pub deadline: Option<Date>,
        pub discovered_at: DateTimeUtc,
        pub confiscated_gains_fen: Option<i64>,
        pub disciplinary_actions: Json,
        pub judicial_referral: bool,
        pub publicised: bool,
        pub site_check_result: Option<String>,
        pub dismiss_reason: Option<String>,
        pub external_ref: Option<String>,
        pub flags: Json,
        pub rev: i64,
        pub seq: i64,
        /// The change-sequence position at which the record was made.
        pub created_seq: i64,
        pub deleted: bool,
        pub field_clock: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod inspections {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "inspections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub case_id: Option<Uuid>,
        pub town_id: Option<Uuid>,
        pub kind: String,
        pub result: Option<String>,
        pub note: String,
        pub lon: Option<f64>,
        pub lat: Option<f64>,
        pub accuracy_m: Option<f64>,
        pub photos: Json,
        pub inspected_at: DateTimeUtc,
        pub inspector_id: Uuid,
        pub device_id: Option<Uuid>,
        pub rev: i64,
        pub seq: i64,
        /// The change-sequence position at which the record was made.
        pub created_seq: i64,
        pub deleted: bool,
        pub field_clock: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod case_events {
    use sea_orm::entity::prelude::*;

    /// The ledger (挂账销号): one row per change of a case, never updated or deleted.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: Uuid,
        pub at: DateTimeUtc,
        pub actor_id: Option<Uuid>,
        pub actor_name: String,
        pub device_id: Option<Uuid>,
        pub action: String,
        pub from_status: Option<String>,
        pub to_status: Option<String>,
        pub before: Option<Json>,
        pub after: Option<Json>,
        pub note: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod observations {
    use sea_orm::entity::prelude::*;

    /// What an inspector saw at one place: append-only.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "observations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub inspection_id: Option<Uuid>,
        pub case_id: Option<Uuid>,
        /// The town the observation lies in (its scope).
        pub town_id: Option<Uuid>,
        pub lon: f64,
        pub lat: f64,
        pub accuracy_m: Option<f64>,
        pub note: String,
        pub photos: Json,
        pub observed_at: DateTimeUtc,
        /// A case made from this observation's proposal of a new violation.
        pub proposed_case_id: Option<Uuid>,
        pub flags: Json,
        pub device_id: Option<Uuid>,
        pub rev: i64,
        pub seq: i64,
        /// The change-sequence position at which the record was made.
        pub created_seq: i64,
        pub deleted: bool,
        pub field_clock: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sync_ops {
    use sea_orm::entity::prelude::*;

    /// The stored result of every pushed op, written in the same transaction as
    /// its effect: a retried op gets this back and changes nothing.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_ops")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub op_id: Uuid,
        pub device_id: Uuid,
        pub user_id: Uuid,
        pub op_seq: i64,
        pub status: String,
        pub result: Json,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod scope_events {
    use sea_orm::entity::prelude::*;

    /// A record that left a town (reassigned, relocated): pulls of that town's
    /// users get an `evict` for it.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "scope_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub table_name: String,
        pub record_id: Uuid,
        /// The town the record left (None: the unassigned queue).
        pub left_town_id: Option<Uuid>,
        pub seq: i64,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod photos {
    use sea_orm::entity::prelude::*;

    /// A photo's bytes have arrived: its facts, keyed by SHA-256.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "photos")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sha256: String,
        pub size_bytes: i64,
        pub format: String,
        pub width: Option<i32>,
        pub height: Option<i32>,
        /// `found`, `absent` or `unreadable`.
        pub exif_status: String,
        pub exif: Option<Json>,
        pub gps_lon: Option<f64>,
        pub gps_lat: Option<f64>,
        pub captured_at: Option<DateTimeUtc>,
        /// How `captured_at` was fixed: `exif_offset`, `gps_time` or `assumed_offset`.
        pub captured_at_basis: Option<String>,
        /// `pending`, `ready`, `unavailable` or `failed`.
        pub thumbnail_status: String,
        pub thumbnail_error: Option<String>,
        pub uploaded_by: Option<Uuid>,
        pub uploaded_at: DateTimeUtc,
        /// The instance making the thumbnails now, until `thumbnail_lease_until`.
        pub thumbnail_worker: Option<String>,
        pub thumbnail_lease_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod photo_links {
    use sea_orm::entity::prelude::*;

    /// A record (observation, inspection, transition, tip) names a photo; the
    /// evidence checks are stored here.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "photo_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub sha256: String,
        pub record_kind: String,
        pub record_id: Uuid,
        pub case_id: Option<Uuid>,
        pub town_id: Option<Uuid>,
        /// The position the record reports, WGS-84.
        pub lon: Option<f64>,
        pub lat: Option<f64>,
        /// The time the record reports (observed, inspected, transitioned).
        pub reported_at: DateTimeUtc,
        /// `pending` until the bytes arrive, then `checked`.
        pub status: String,
        pub flags: Json,
        /// The same photo is used further than `reuse_distance_m` away.
        pub reused: bool,
        pub distance_m: Option<f64>,
        pub time_diff_secs: Option<i64>,
        pub linked_by: Option<Uuid>,
        pub linked_at: DateTimeUtc,
        pub checked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod uploads {
    use sea_orm::entity::prelude::*;

    /// A tus upload in progress (or finished, until it expires).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "uploads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub length: i64,
        pub upload_offset: i64,
        /// The `Upload-Metadata` header as received.
        pub metadata: String,
        /// The SHA-256 the client announced in its metadata, if any.
        pub declared_sha256: Option<String>,
        /// The photo the finished upload became.
        pub sha256: Option<String>,
        /// `active` or `complete`.
        pub status: String,
        pub created_by: Uuid,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        /// The request writing to it now (shared stores), until `lease_until`.
        pub writer: Option<String>,
        pub lease_until: Option<DateTimeUtc>,
        /// Shared stores: the names of its parts in the bucket, in order (a JSON array).
        pub parts: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod alerts {
    use sea_orm::entity::prelude::*;

    /// Something a town office (or the bureau, `town_id` null) must know.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "alerts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The change-sequence position the alert was created at; the live
        /// stream's event id, never changed.
        pub created_seq: i64,
        /// The town it is for; null: the bureau.
        pub town_id: Option<Uuid>,
        pub kind: String,
        pub case_id: Option<Uuid>,
        pub tip_id: Option<Uuid>,
        pub title: String,
        pub detail: Json,
        /// Makes sweeps idempotent: one alert per key.
        pub dedupe_key: Option<String>,
        pub acked_at: Option<DateTimeUtc>,
        pub acked_by: Option<Uuid>,
        /// When the unacknowledged alert was escalated to the bureau.
        pub escalated_at: Option<DateTimeUtc>,
        pub rev: i64,
        pub seq: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhooks {
    use sea_orm::entity::prelude::*;

    /// A receiver of a town's alerts (`town_id` null: every alert, bureau only).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhooks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub town_id: Option<Uuid>,
        pub url: String,
        /// The HMAC key deliveries are signed with.
        pub secret: String,
        pub description: String,
        pub active: bool,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook_deliveries {
    use sea_orm::entity::prelude::*;

    /// One alert owed to one webhook: the outbox row (its id is the delivery id).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub webhook_id: Uuid,
        pub alert_id: Uuid,
        /// `pending`, `delivered` or `dead`.
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        /// Claimed by a worker until then.
        pub locked_until: Option<DateTimeUtc>,
        pub last_status: Option<i32>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub delivered_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod webhook_attempts {
    use sea_orm::entity::prelude::*;

    /// One try of a delivery.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_attempts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub delivery_id: Uuid,
        pub attempt: i32,
        pub at: DateTimeUtc,
        pub status_code: Option<i32>,
        pub error: Option<String>,
        pub duration_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tips {
    use sea_orm::entity::prelude::*;

    /// A public tip (群众举报).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "tips")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub town_id: Option<Uuid>,
        /// WGS-84.
        pub lon: f64,
        pub lat: f64,
        pub input_crs: String,
        pub accuracy_m: Option<f64>,
        pub address: String,
        pub description: String,
        /// The violation type (the Open311 service code), if the reporter chose one.
        pub service_code: Option<String>,
        /// Open311 `attribute[...]` values and other extra answers.
        pub attributes: Json,
        pub media_url: Option<String>,
        /// Name, phone, email: shown only to the office handling the tip.
        pub contact: Option<Json>,
        /// `received`, `case_created`, `merged` or `rejected`.
        pub status: String,
        pub case_id: Option<Uuid>,
        pub triage_note: Option<String>,
        pub triaged_by: Option<Uuid>,
        pub triaged_at: Option<DateTimeUtc>,
        /// `api` or `open311`.
        pub channel: String,
        pub client_addr: Option<String>,
        pub device_id: Option<String>,
        pub idempotency_key: Option<String>,
        /// SHA-256 of the submitted request, to tell a retry from a reused key.
        pub request_hash: Option<String>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod parcels {
    use sea_orm::entity::prelude::*;

    /// A parcel of supplied land that may become idle (闲置土地).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "parcels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Contract or allocation number (出让合同 / 划拨决定书编号); never changes.
        #[sea_orm(unique)]
        pub code: String,
        pub holder: String,
        pub area_m2: f64,
        pub agreed_start: Date,
        pub actual_start: Option<Date>,
        pub town_id: Option<Uuid>,
        /// WGS-84: the point, or the polygon's representative point.
        pub lon: f64,
        pub lat: f64,
        pub polygon: Option<Json>,
        /// `active`, `idle` or `disposed`.
        pub status: String,
        pub idle_since: Option<Date>,
        pub idle_case_id: Option<Uuid>,
        pub disposed_on: Option<Date>,
        /// The kind of the disposal that closed it.
        pub disposal: Option<String>,
        pub rev: i64,
        pub seq: i64,
        /// The change-sequence position at which the record was made.
        pub created_seq: i64,
        pub deleted: bool,
        pub field_clock: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod parcel_disposals {
    use sea_orm::entity::prelude::*;

    /// A disposal of an idle parcel (construction started, fee, repossession, other).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "parcel_disposals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub parcel_id: Uuid,
        pub kind: String,
        pub disposed_on: Date,
        /// 闲置费 in fen, for `fee_collected`.
        pub fee_fen: Option<i64>,
        pub note: String,
        pub recorded_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approvals {
    use sea_orm::entity::prelude::*;

    /// An approval of land for conversion (批文), with the area supplied so far.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approvals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The approval document number (批文号), unique.
        pub code: String,
        pub town_id: Uuid,
        pub approved_on: Date,
        pub approved_area_m2: f64,
        /// The sum of its supplies.
        pub supplied_area_m2: f64,
        pub note: String,
        pub rev: i64,
        pub seq: i64,
        /// The change-sequence position at which the record was made.
        pub created_seq: i64,
        pub deleted: bool,
        pub field_clock: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval_supplies {
    use sea_orm::entity::prelude::*;

    /// Land supplied under an approval (供地).
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_supplies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub approval_id: Uuid,
        pub supplied_on: Date,
        pub area_m2: f64,
        pub note: String,
        pub recorded_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod village_projects {
    use sea_orm::entity::prelude::*;

    /// A village construction project, followed by its five-in-place (五到位) steps.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "village_projects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub village: String,
        pub town_id: Uuid,
        /// WGS-84.
        pub lon: f64,
        pub lat: f64,
        pub planned_start: Date,
        pub planned_end: Date,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod project_steps {
    use sea_orm::entity::prelude::*;

    /// One five-in-place step of a project, recorded once.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_steps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub project_id: Uuid,
        /// A `ProjectStep` wire name.
        pub step: String,
        pub done_on: Date,
        /// Who was in place.
        pub person: String,
        pub note: String,
        /// SHA-256 hashes of the photo evidence.
        pub photos: Json,
        pub recorded_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod land_changes {
    use sea_orm::entity::prelude::*;

    /// A parcel's or an approval's report fields before one change, and when it was made.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "land_changes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `parcel` or `approval`.
        pub record_type: String,
        pub record_id: Uuid,
        pub at: DateTimeUtc,
        pub action: String,
        pub before: Json,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod wm_marks {
    use sea_orm::entity::prelude::*;

    /// What a WatermelonDB device holds of a record after its last push.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "wm_marks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub device_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub table_name: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub record_id: Uuid,
        /// `echo`: the record's position when the device's copy equalled it;
        /// otherwise the position at which the record is sent to it again.
        pub seq: i64,
        /// The device holds a copy (false after a refused delete).
        pub has: bool,
        /// The device's copy equals the server's record at `seq`.
        pub echo: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sync_rejections {
    use sea_orm::entity::prelude::*;

    /// A pushed row the server refused, kept and pulled back by its device.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_rejections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub device_id: Uuid,
        pub user_id: Uuid,
        pub table_name: String,
        /// The record's id as the device knows it.
        pub record_id: String,
        /// `create`, `update` or `delete`.
        pub op: String,
        pub code: String,
        pub message: String,
        /// The columns the refused change named.
        pub columns: Json,
        /// The row as the device pushed it.
        pub row: Json,
        pub rev: i64,
        pub seq: i64,
        pub created_seq: i64,
        pub deleted: bool,
        pub field_clock: Json,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod feed_tokens {
    use sea_orm::entity::prelude::*;

    /// A read-only key to `GET /cases.geojson` for a GIS tool (QGIS): it reads
    /// as its user, with that user's current rights, until revoked.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        /// SHA-256 (hex) of the token; the token itself is shown once.
        pub token_hash: String,
        pub label: String,
        pub created_at: DateTimeUtc,
        pub last_used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
