//! Schema migrations, append-only: never edit a published migration, add one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Foundation),
            Box::new(M0002Sync),
            Box::new(M0003Photos),
            Box::new(M0004Alerts),
            Box::new(M0005Parcels),
            Box::new(M0006Supply),
            Box::new(M0007Reports),
            Box::new(M0008LandHistory),
            Box::new(M0009Watermelon),
            Box::new(M0010Accounts),
            Box::new(M0011FeedTokens),
            Box::new(M0012RateLimits),
            Box::new(M0013SharedPhotos),
        ]
    }
}

fn t(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The sync columns every synced table carries (ARCHITECTURE.md "Storage").
fn sync_columns(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(big_integer(t("rev")).default(1))
        .col(big_integer(t("seq")))
        .col(boolean(t("deleted")).default(false))
        .col(json_binary(t("field_clock")))
        .col(uuid_null(t("created_by")))
        .col(timestamp_with_time_zone(t("created_at")))
        .col(timestamp_with_time_zone(t("updated_at")))
}

fn index(name: &str, table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(t(table));
    for c in cols {
        idx.col(t(c));
    }
    idx.to_owned()
}

struct M0001Foundation;

impl MigrationName for M0001Foundation {
    fn name(&self) -> &str {
        "m0001_foundation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Foundation {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(t("sync_counters"))
                .col(string(t("name")).primary_key())
                .col(big_integer(t("value")))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(t("case_counters"))
                .col(integer(t("year")).primary_key())
                .col(big_integer(t("value")))
                .to_owned(),
        )
        .await?;

        let mut towns = Table::create();
        towns
            .table(t("towns"))
            .col(uuid(t("id")).primary_key())
            .col(string_uniq(t("code")))
            .col(string(t("name")))
            .col(string_null(t("kind")))
            .col(json_binary(t("boundary")))
            .col(double(t("min_lon")))
            .col(double(t("min_lat")))
            .col(double(t("max_lon")))
            .col(double(t("max_lat")))
            .col(double(t("area_m2")));
        m.create_table(sync_columns(&mut towns).to_owned()).await?;

        m.create_table(
            Table::create()
                .table(t("users"))
                .col(uuid(t("id")).primary_key())
                .col(string_uniq(t("username")))
                .col(string(t("display_name")))
                .col(string(t("password_hash")))
                .col(string(t("role")))
                .col(uuid_null(t("town_id")))
                .col(json_binary(t("patrol_towns")))
                .col(boolean(t("active")).default(true))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone(t("updated_at")))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(t("devices"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("user_id")))
                .col(string(t("name")))
                .col(string(t("platform")))
                .col(string(t("app_version")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone(t("last_seen_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_devices_user", "devices", &["user_id"])).await?;

        m.create_table(
            Table::create()
                .table(t("refresh_tokens"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("family_id")))
                .col(uuid(t("user_id")))
                .col(uuid_null(t("device_id")))
                .col(string_uniq(t("token_hash")))
                .col(timestamp_with_time_zone(t("expires_at")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone_null(t("used_at")))
                .col(timestamp_with_time_zone_null(t("revoked_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_refresh_family", "refresh_tokens", &["family_id"])).await?;

        let mut campaigns = Table::create();
        campaigns
            .table(t("campaigns"))
            .col(uuid(t("id")).primary_key())
            .col(string(t("name")))
            .col(integer(t("year")))
            .col(date(t("starts_on")))
            .col(date(t("ends_on")))
            .col(date(t("satellite_deadline")))
            .col(date(t("legacy_deadline")))
            .col(date(t("idle_land_deadline")))
            .col(integer(t("patrol_days")))
            .col(integer(t("tip_days")));
        m.create_table(sync_columns(&mut campaigns).to_owned()).await?;

        let mut cases = Table::create();
        cases
            .table(t("cases"))
            .col(uuid(t("id")).primary_key())
            .col(string_uniq(t("case_number")))
            .col(integer(t("year")))
            .col(string(t("source")))
            .col(string(t("status")))
            .col(double(t("lon")))
            .col(double(t("lat")))
            .col(double_null(t("accuracy_m")))
            .col(string(t("input_crs")))
            .col(json_binary_null(t("polygon")))
            .col(double_null(t("area_m2")))
            .col(uuid_null(t("town_id")))
            .col(boolean(t("near_boundary")).default(false))
            .col(uuid_null(t("neighbour_town_id")))
            .col(text(t("description")))
            .col(text(t("address")))
            .col(string_null(t("land_class")))
            .col(string_null(t("violation_type")))
            .col(string_null(t("disposition")))
            .col(timestamp_with_time_zone_null(t("notice_served_at")))
            .col(timestamp_with_time_zone_null(t("leadership_reported_at")))
            .col(uuid_null(t("campaign_id")))
            .col(date_null(t("deadline")))
            .col(timestamp_with_time_zone(t("discovered_at")))
            .col(big_integer_null(t("confiscated_gains_fen")))
            .col(json_binary(t("disciplinary_actions")))
            .col(boolean(t("judicial_referral")).default(false))
            .col(boolean(t("publicised")).default(false))
            .col(string_null(t("site_check_result")))
            .col(text_null(t("dismiss_reason")))
            .col(string_null(t("external_ref")))
            .col(json_binary(t("flags")));
        m.create_table(sync_columns(&mut cases).to_owned()).await?;
        m.create_index(index("idx_cases_town_status", "cases", &["town_id", "status"])).await?;
        m.create_index(index("idx_cases_seq", "cases", &["seq"])).await?;
        m.create_index(index("idx_cases_lon_lat", "cases", &["lon", "lat"])).await?;
        m.create_index(index("idx_cases_external_ref", "cases", &["source", "external_ref"]).unique().to_owned())
            .await?;

        let mut inspections = Table::create();
        inspections
            .table(t("inspections"))
            .col(uuid(t("id")).primary_key())
            .col(uuid_null(t("case_id")))
            .col(uuid_null(t("town_id")))
            .col(string(t("kind")))
            .col(string_null(t("result")))
            .col(text(t("note")))
            .col(double_null(t("lon")))
            .col(double_null(t("lat")))
            .col(double_null(t("accuracy_m")))
            .col(json_binary(t("photos")))
            .col(timestamp_with_time_zone(t("inspected_at")))
            .col(uuid(t("inspector_id")))
            .col(uuid_null(t("device_id")));
        m.create_table(sync_columns(&mut inspections).to_owned()).await?;
        m.create_index(index("idx_inspections_case", "inspections", &["case_id"])).await?;
        m.create_index(index("idx_inspections_seq", "inspections", &["seq"])).await?;

        m.create_table(
            Table::create()
                .table(t("case_events"))
                .col(big_pk_auto(t("id")))
                .col(uuid(t("case_id")))
                .col(timestamp_with_time_zone(t("at")))
                .col(uuid_null(t("actor_id")))
                .col(string(t("actor_name")))
                .col(uuid_null(t("device_id")))
                .col(string(t("action")))
                .col(string_null(t("from_status")))
                .col(string_null(t("to_status")))
                .col(json_binary_null(t("before")))
                .col(json_binary_null(t("after")))
                .col(text_null(t("note")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_case_events_case", "case_events", &["case_id", "id"])).await?;

        let seed = Query::insert()
            .into_table(t("sync_counters"))
            .columns([t("name"), t("value")])
            .values_panic(["changes".into(), 0i64.into()])
            .to_owned();
        m.exec_stmt(seed).await?;
        Ok(())
    }
}

struct M0002Sync;

impl MigrationName for M0002Sync {
    fn name(&self) -> &str {
        "m0002_sync"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002Sync {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut observations = Table::create();
        observations
            .table(t("observations"))
            .col(uuid(t("id")).primary_key())
            .col(uuid_null(t("inspection_id")))
            .col(uuid_null(t("case_id")))
            .col(uuid_null(t("town_id")))
            .col(double(t("lon")))
            .col(double(t("lat")))
            .col(double_null(t("accuracy_m")))
            .col(text(t("note")))
            .col(json_binary(t("photos")))
            .col(timestamp_with_time_zone(t("observed_at")))
            .col(uuid_null(t("proposed_case_id")))
            .col(json_binary(t("flags")))
            .col(uuid_null(t("device_id")));
        m.create_table(sync_columns(&mut observations).to_owned()).await?;
        m.create_index(index("idx_observations_seq", "observations", &["seq"])).await?;
        m.create_index(index("idx_observations_case", "observations", &["case_id"])).await?;

        m.create_table(
            Table::create()
                .table(t("sync_ops"))
                .col(uuid(t("op_id")).primary_key())
                .col(uuid(t("device_id")))
                .col(uuid(t("user_id")))
                .col(big_integer(t("op_seq")))
                .col(string(t("status")))
                .col(json_binary(t("result")))
                .col(timestamp_with_time_zone(t("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_sync_ops_device", "sync_ops", &["device_id", "op_seq"])).await?;

        m.create_table(
            Table::create()
                .table(t("scope_events"))
                .col(big_pk_auto(t("id")))
                .col(string(t("table_name")))
                .col(uuid(t("record_id")))
                .col(uuid_null(t("left_town_id")))
                .col(big_integer(t("seq")))
                .col(timestamp_with_time_zone(t("at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_scope_events_seq", "scope_events", &["seq"])).await?;

        m.alter_table(Table::alter().table(t("devices")).add_column(big_integer(t("last_seq")).default(0)).to_owned())
            .await?;
        m.create_index(index("idx_towns_seq", "towns", &["seq"])).await?;
        m.create_index(index("idx_campaigns_seq", "campaigns", &["seq"])).await?;
        Ok(())
    }
}

struct M0003Photos;

impl MigrationName for M0003Photos {
    fn name(&self) -> &str {
        "m0003_photos"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003Photos {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(t("photos"))
                .col(string_len(t("sha256"), 64).primary_key())
                .col(big_integer(t("size_bytes")))
                .col(string(t("format")))
                .col(integer_null(t("width")))
                .col(integer_null(t("height")))
                .col(string(t("exif_status")))
                .col(json_binary_null(t("exif")))
                .col(double_null(t("gps_lon")))
                .col(double_null(t("gps_lat")))
                .col(timestamp_with_time_zone_null(t("captured_at")))
                .col(string_null(t("captured_at_basis")))
                .col(string(t("thumbnail_status")))
                .col(string_null(t("thumbnail_error")))
                .col(uuid_null(t("uploaded_by")))
                .col(timestamp_with_time_zone(t("uploaded_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_photos_thumbnail_status", "photos", &["thumbnail_status"])).await?;

        m.create_table(
            Table::create()
                .table(t("photo_links"))
                .col(uuid(t("id")).primary_key())
                .col(string_len(t("sha256"), 64))
                .col(string(t("record_kind")))
                .col(uuid(t("record_id")))
                .col(uuid_null(t("case_id")))
                .col(uuid_null(t("town_id")))
                .col(double_null(t("lon")))
                .col(double_null(t("lat")))
                .col(timestamp_with_time_zone(t("reported_at")))
                .col(string(t("status")))
                .col(json_binary(t("flags")))
                .col(boolean(t("reused")).default(false))
                .col(double_null(t("distance_m")))
                .col(big_integer_null(t("time_diff_secs")))
                .col(uuid_null(t("linked_by")))
                .col(timestamp_with_time_zone(t("linked_at")))
                .col(timestamp_with_time_zone_null(t("checked_at")))
                .to_owned(),
        )
        .await?;
        // By photo (views, rechecks) and, within a photo, the links not yet flagged as reused.
        m.create_index(index("idx_photo_links_sha256", "photo_links", &["sha256", "reused"])).await?;
        m.create_index(index("idx_photo_links_case", "photo_links", &["case_id"])).await?;

        m.create_table(
            Table::create()
                .table(t("uploads"))
                .col(string_len(t("id"), 64).primary_key())
                .col(big_integer(t("length")))
                .col(big_integer(t("upload_offset")))
                .col(text(t("metadata")))
                .col(string_len_null(t("declared_sha256"), 64))
                .col(string_len_null(t("sha256"), 64))
                .col(string(t("status")))
                .col(uuid(t("created_by")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone(t("expires_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_uploads_expires", "uploads", &["expires_at"])).await?;
        Ok(())
    }
}

struct M0004Alerts;

impl MigrationName for M0004Alerts {
    fn name(&self) -> &str {
        "m0004_alerts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004Alerts {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(t("alerts"))
                .col(uuid(t("id")).primary_key())
                // The change-sequence position at creation: the live stream's event id.
                .col(big_integer(t("created_seq")))
                .col(uuid_null(t("town_id")))
                .col(string(t("kind")))
                .col(uuid_null(t("case_id")))
                .col(uuid_null(t("tip_id")))
                .col(string(t("title")))
                .col(json_binary(t("detail")))
                .col(string_null(t("dedupe_key")))
                .col(timestamp_with_time_zone_null(t("acked_at")))
                .col(uuid_null(t("acked_by")))
                .col(timestamp_with_time_zone_null(t("escalated_at")))
                .col(big_integer(t("rev")).default(1))
                .col(big_integer(t("seq")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone(t("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_alerts_created_seq", "alerts", &["created_seq"]).unique().to_owned()).await?;
        m.create_index(index("idx_alerts_seq", "alerts", &["seq"])).await?;
        m.create_index(index("idx_alerts_town", "alerts", &["town_id", "created_seq"])).await?;
        m.create_index(index("idx_alerts_dedupe", "alerts", &["dedupe_key"]).unique().to_owned()).await?;
        m.create_index(index("idx_alerts_unacked", "alerts", &["acked_at", "escalated_at", "created_at"])).await?;

        m.create_table(
            Table::create()
                .table(t("webhooks"))
                .col(uuid(t("id")).primary_key())
                .col(uuid_null(t("town_id")))
                .col(string_len(t("url"), 2000))
                .col(string(t("secret")))
                .col(string(t("description")))
                .col(boolean(t("active")).default(true))
                .col(uuid_null(t("created_by")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone(t("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_webhooks_town", "webhooks", &["town_id"])).await?;

        m.create_table(
            Table::create()
                .table(t("webhook_deliveries"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("webhook_id")))
                .col(uuid(t("alert_id")))
                .col(string(t("status")))
                .col(integer(t("attempts")).default(0))
                .col(timestamp_with_time_zone(t("next_attempt_at")))
                .col(timestamp_with_time_zone_null(t("locked_until")))
                .col(integer_null(t("last_status")))
                .col(string_null(t("last_error")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone_null(t("delivered_at")))
                .col(timestamp_with_time_zone(t("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("idx_deliveries_webhook_alert", "webhook_deliveries", &["webhook_id", "alert_id"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_deliveries_due", "webhook_deliveries", &["status", "next_attempt_at"])).await?;

        m.create_table(
            Table::create()
                .table(t("webhook_attempts"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("delivery_id")))
                .col(integer(t("attempt")))
                .col(timestamp_with_time_zone(t("at")))
                .col(integer_null(t("status_code")))
                .col(string_null(t("error")))
                .col(big_integer(t("duration_ms")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_attempts_delivery", "webhook_attempts", &["delivery_id", "attempt"])).await?;

        m.create_table(
            Table::create()
                .table(t("tips"))
                .col(uuid(t("id")).primary_key())
                .col(uuid_null(t("town_id")))
                .col(double(t("lon")))
                .col(double(t("lat")))
                .col(string(t("input_crs")))
                .col(double_null(t("accuracy_m")))
                .col(string(t("address")))
                .col(text(t("description")))
                .col(string_null(t("service_code")))
                .col(json_binary(t("attributes")))
                .col(string_len_null(t("media_url"), 2000))
                .col(json_binary_null(t("contact")))
                .col(string(t("status")))
                .col(uuid_null(t("case_id")))
                .col(text_null(t("triage_note")))
                .col(uuid_null(t("triaged_by")))
                .col(timestamp_with_time_zone_null(t("triaged_at")))
                .col(string(t("channel")))
                .col(string_null(t("client_addr")))
                .col(string_null(t("device_id")))
                .col(string_null(t("idempotency_key")))
                .col(string_len_null(t("request_hash"), 64))
                .col(uuid_null(t("created_by")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone(t("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_tips_idempotency", "tips", &["idempotency_key"]).unique().to_owned()).await?;
        m.create_index(index("idx_tips_town", "tips", &["town_id", "created_at"])).await?;
        m.create_index(index("idx_tips_created", "tips", &["created_at"])).await?;
        Ok(())
    }
}

struct M0005Parcels;

impl MigrationName for M0005Parcels {
    fn name(&self) -> &str {
        "m0005_parcels"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0005Parcels {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut parcels = Table::create();
        parcels
            .table(t("parcels"))
            .col(uuid(t("id")).primary_key())
            // 出让合同 / 划拨决定书编号: the contract or allocation number.
            .col(string_uniq(t("code")))
            .col(string(t("holder")))
            .col(double(t("area_m2")))
            .col(date(t("agreed_start")))
            .col(date_null(t("actual_start")))
            .col(uuid_null(t("town_id")))
            .col(double(t("lon")))
            .col(double(t("lat")))
            .col(json_binary_null(t("polygon")))
            .col(string(t("status")))
            .col(date_null(t("idle_since")))
            .col(uuid_null(t("idle_case_id")))
            .col(date_null(t("disposed_on")))
            .col(string_null(t("disposal")));
        m.create_table(sync_columns(&mut parcels).to_owned()).await?;
        m.create_index(index("idx_parcels_seq", "parcels", &["seq"])).await?;
        m.create_index(index("idx_parcels_town_status", "parcels", &["town_id", "status"])).await?;
        m.create_index(index("idx_parcels_status_start", "parcels", &["status", "agreed_start"])).await?;
        m.create_index(index("idx_parcels_idle_since", "parcels", &["idle_since"])).await?;

        m.create_table(
            Table::create()
                .table(t("parcel_disposals"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("parcel_id")))
                .col(string(t("kind")))
                .col(date(t("disposed_on")))
                .col(big_integer_null(t("fee_fen")))
                .col(text(t("note")))
                .col(uuid_null(t("recorded_by")))
                .col(timestamp_with_time_zone(t("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_parcel_disposals_parcel", "parcel_disposals", &["parcel_id", "created_at"])).await?;
        Ok(())
    }
}

struct M0007Reports;

impl MigrationName for M0007Reports {
    fn name(&self) -> &str {
        "m0007_reports"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0007Reports {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(t("campaigns")).add_column(json_binary_null(t("targets"))).to_owned())
            .await?;
        // Reports reconstruct past states from the ledger: status changes by time, covering
        // the case id so that no table row is read.
        m.create_index(index("idx_case_events_status_at", "case_events", &["to_status", "at", "case_id"])).await?;
        m.create_index(index("idx_cases_campaign", "cases", &["campaign_id"])).await?;
        Ok(())
    }
}

struct M0006Supply;

impl MigrationName for M0006Supply {
    fn name(&self) -> &str {
        "m0006_supply"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0006Supply {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut approvals = Table::create();
        approvals
            .table(t("approvals"))
            .col(uuid(t("id")).primary_key())
            // The approval document number (批文号).
            .col(string_uniq(t("code")))
            .col(uuid(t("town_id")))
            .col(date(t("approved_on")))
            .col(double(t("approved_area_m2")))
            // The sum of the supplies, kept in the same transaction as each supply.
            .col(double(t("supplied_area_m2")).default(0.0))
            .col(text(t("note")));
        m.create_table(sync_columns(&mut approvals).to_owned()).await?;
        m.create_index(index("idx_approvals_seq", "approvals", &["seq"])).await?;
        m.create_index(index("idx_approvals_town", "approvals", &["town_id", "approved_on"])).await?;

        m.create_table(
            Table::create()
                .table(t("approval_supplies"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("approval_id")))
                .col(date(t("supplied_on")))
                .col(double(t("area_m2")))
                .col(text(t("note")))
                .col(uuid_null(t("recorded_by")))
                .col(timestamp_with_time_zone(t("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_supplies_approval", "approval_supplies", &["approval_id", "supplied_on"])).await?;

        m.create_table(
            Table::create()
                .table(t("village_projects"))
                .col(uuid(t("id")).primary_key())
                .col(string(t("name")))
                .col(string(t("village")))
                .col(uuid(t("town_id")))
                .col(double(t("lon")))
                .col(double(t("lat")))
                .col(date(t("planned_start")))
                .col(date(t("planned_end")))
                .col(uuid_null(t("created_by")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone(t("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_projects_town", "village_projects", &["town_id", "planned_start"])).await?;

        m.create_table(
            Table::create()
                .table(t("project_steps"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("project_id")))
                .col(string(t("step")))
                .col(date(t("done_on")))
                .col(string(t("person")))
                .col(text(t("note")))
                .col(json_binary(t("photos")))
                .col(uuid_null(t("recorded_by")))
                .col(timestamp_with_time_zone(t("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_project_steps_step", "project_steps", &["project_id", "step"]).unique().to_owned())
            .await?;
        Ok(())
    }
}

struct M0008LandHistory;

impl MigrationName for M0008LandHistory {
    fn name(&self) -> &str {
        "m0008_land_history"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0008LandHistory {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // What parcels and approvals looked like before each change that a
        // report reads, so that a past report is reproduced from what was
        // known then (the land records' counterpart of the case ledger).
        m.create_table(
            Table::create()
                .table(t("land_changes"))
                .col(big_pk_auto(t("id")))
                .col(string(t("record_type")))
                .col(uuid(t("record_id")))
                .col(timestamp_with_time_zone(t("at")))
                .col(string(t("action")))
                .col(json_binary(t("before")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_land_changes_type_at", "land_changes", &["record_type", "at"])).await?;
        // Records entered after a report's day are left out of it.
        m.create_index(index("idx_parcels_created", "parcels", &["created_at"])).await?;
        m.create_index(index("idx_approval_supplies_created", "approval_supplies", &["created_at"])).await?;
        Ok(())
    }
}

struct M0009Watermelon;

impl MigrationName for M0009Watermelon {
    fn name(&self) -> &str {
        "m0009_watermelon"
    }
}

/// The synced tables that gain `created_seq` (alerts have it since m0004).
const CREATED_SEQ_TABLES: [&str; 7] =
    ["cases", "inspections", "observations", "towns", "campaigns", "parcels", "approvals"];

#[async_trait::async_trait]
impl MigrationTrait for M0009Watermelon {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The change-sequence position at which each record was made, so that
        // a WatermelonDB pull tells `created` (the client can not have it)
        // from `updated`. Rows made before this migration: their creation
        // position where they never changed since (rev 1), else 0 (older than
        // any client's last pull).
        for table in CREATED_SEQ_TABLES {
            m.alter_table(
                Table::alter().table(Alias::new(table)).add_column(big_integer(t("created_seq")).default(0)).to_owned(),
            )
            .await?;
            m.get_connection()
                .execute_unprepared(&format!("UPDATE {table} SET created_seq = CASE WHEN rev <= 1 THEN seq ELSE 0 END"))
                .await?;
        }

        // What each WatermelonDB device holds of a record after its last push:
        // `echo` = its copy equals the server's at `seq` (the next pull leaves
        // the record out unless it changed since); otherwise the record is
        // sent again to that device in its next pull (`seq` is then a position
        // of its own), as `updated` when the device `has` a copy, as
        // `created` when it does not (a refused delete).
        m.create_table(
            Table::create()
                .table(t("wm_marks"))
                .col(uuid(t("device_id")))
                .col(string(t("table_name")))
                .col(uuid(t("record_id")))
                .col(big_integer(t("seq")))
                .col(boolean(t("has")))
                .col(boolean(t("echo")))
                .primary_key(Index::create().col(t("device_id")).col(t("table_name")).col(t("record_id")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_wm_marks_device_seq", "wm_marks", &["device_id", "seq"])).await?;

        // Rows a device pushed that the server refused, pulled back by that
        // device (table `sync_rejections`) so that the app can show why; the
        // refused row is kept. Removed (a tombstone) once the record syncs.
        let mut rejections = Table::create();
        rejections
            .table(t("sync_rejections"))
            .col(uuid(t("id")).primary_key())
            .col(uuid(t("device_id")))
            .col(uuid(t("user_id")))
            .col(string(t("table_name")))
            .col(string(t("record_id")))
            .col(string(t("op")))
            .col(string(t("code")))
            .col(text(t("message")))
            .col(json_binary(t("columns")))
            .col(json_binary(t("row")))
            .col(big_integer(t("created_seq")));
        m.create_table(sync_columns(&mut rejections).to_owned()).await?;
        m.create_index(index("idx_sync_rejections_device_seq", "sync_rejections", &["device_id", "seq"])).await?;
        m.create_index(
            index("idx_sync_rejections_record", "sync_rejections", &["device_id", "table_name", "record_id"])
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}

/// Devices can be revoked: a revoked device's sessions end on their next request.
struct M0010Accounts;

impl MigrationName for M0010Accounts {
    fn name(&self) -> &str {
        "m0010_accounts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0010Accounts {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(t("devices")).add_column(timestamp_with_time_zone_null(t("revoked_at"))).to_owned(),
        )
        .await?;
        Ok(())
    }
}

/// Read-only feed tokens (a GIS tool's long-lived, revocable key to `cases.geojson`).
struct M0011FeedTokens;

impl MigrationName for M0011FeedTokens {
    fn name(&self) -> &str {
        "m0011_feed_tokens"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0011FeedTokens {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(t("feed_tokens"))
                .col(uuid(t("id")).primary_key())
                .col(uuid(t("user_id")))
                .col(string(t("token_hash")))
                .col(string(t("label")))
                .col(timestamp_with_time_zone(t("created_at")))
                .col(timestamp_with_time_zone_null(t("last_used_at")))
                .col(timestamp_with_time_zone_null(t("revoked_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_feed_tokens_hash", "feed_tokens", &["token_hash"]).unique().to_owned()).await?;
        m.create_index(index("idx_feed_tokens_user", "feed_tokens", &["user_id"])).await?;
        Ok(())
    }
}

/// Rate limits and login lockouts shared by every instance on one PostgreSQL (on SQLite,
/// one instance, they stay in memory and the table is unused).
struct M0012RateLimits;

impl MigrationName for M0012RateLimits {
    fn name(&self) -> &str {
        "m0012_rate_limits"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0012RateLimits {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(t("rate_limits"))
                .col(string(t("key")).primary_key())
                .col(timestamp_with_time_zone(t("window_start")))
                .col(integer(t("count")))
                .col(timestamp_with_time_zone_null(t("locked_until")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_rate_limits_window", "rate_limits", &["window_start"])).await?;
        Ok(())
    }
}

/// Several instances sharing one bucket: the writer of a tus upload and the
/// maker of a photo's thumbnails are claimed through the database (a lease
/// that lapses when its instance dies), and an upload's parts in the bucket
/// are listed on its row.
struct M0013SharedPhotos;

impl MigrationName for M0013SharedPhotos {
    fn name(&self) -> &str {
        "m0013_shared_photos"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0013SharedPhotos {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column at a time.
        for (table, col) in [
            ("uploads", string_null(t("writer"))),
            ("uploads", timestamp_with_time_zone_null(t("lease_until"))),
            ("uploads", text_null(t("parts"))),
            ("photos", string_null(t("thumbnail_worker"))),
            ("photos", timestamp_with_time_zone_null(t("thumbnail_lease_until"))),
        ] {
            m.alter_table(Table::alter().table(t(table)).add_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
