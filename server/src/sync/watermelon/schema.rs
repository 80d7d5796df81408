//! The WatermelonDB tables: every column a pull sends or a push may carry,
//! its type, whether it may be null, and who writes it. One declaration
//! serves the rows the server builds, the rules pushes go through and the
//! `appSchema` printed in `mobile-api-docs/guides/watermelondb.md`.

use landpatrol_sync::sync::Table;

/// A column's WatermelonDB type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Num,
    Bool,
}

/// Who writes a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// The server (pulled; a push naming it in `_changed` is refused).
    Server,
    /// The app when it makes the record; fixed afterwards.
    Create,
    /// The app, when it makes the record and later.
    Edit,
    /// WatermelonDB's own bookkeeping (`created_at`, `updated_at`): the app's
    /// values are kept for records it made, and `updated_at` is the edit time
    /// that decides same-field conflicts.
    Stamp,
    /// The app only: read from pushes, never pulled (e.g. a transition's note).
    Client,
}

/// A column of a WatermelonDB table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub optional: bool,
    pub write: Write,
    pub doc: &'static str,
}

const fn col(name: &'static str, kind: Kind, optional: bool, write: Write, doc: &'static str) -> Column {
    Column { name, kind, optional, write, doc }
}

use Kind::{Bool, Num, Str};
use Write::{Client, Create, Edit, Server, Stamp};

/// A WatermelonDB table.
#[derive(Debug)]
pub struct WmTable {
    pub name: &'static str,
    /// The native sync table it mirrors; None for `sync_rejections`.
    pub native: Option<Table>,
    pub doc: &'static str,
    pub columns: &'static [Column],
    /// Keys of the native record that the row leaves out, with the reason.
    pub dropped: &'static [(&'static str, &'static str)],
}

impl WmTable {
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether the app may write the table at all.
    pub fn writable(&self) -> bool {
        self.columns.iter().any(|c| matches!(c.write, Create | Edit))
    }
}

/// Why rows carry no `rev`.
const REV: &str = "the server's revision: a phone can not know the one its own edit gets, and needs none";

const POINT_CRS: &str =
    "Coordinate system of `lon`/`lat` as pushed: `wgs84` (default), `gcj02` or `bd09`. Pulled rows are always `wgs84`.";

pub const CASES: WmTable = WmTable {
    name: "cases",
    native: Some(Table::Cases),
    doc: "Cases (图斑/案件) in the user's scope. The app may create patrol cases and edit the fields marked edit; `status` changes are transitions checked against the lifecycle table.",
    columns: &[
        col(
            "case_number",
            Str,
            false,
            Server,
            "Readable number, unique per year (`BD-2017-00042`); `''` until the server has numbered a case made on the phone.",
        ),
        col(
            "source",
            Str,
            false,
            Create,
            "`satellite`, `legacy`, `patrol`, `idle_land` or `tip`; phones create `patrol` cases.",
        ),
        col(
            "status",
            Str,
            false,
            Edit,
            "Lifecycle state; a change is a transition from the server's current state (refused ones come back in `sync_rejections`).",
        ),
        col(
            "transition_note",
            Str,
            true,
            Client,
            "Note for the transition the app makes by changing `status` (a dismissal needs one).",
        ),
        col("lon", Num, false, Edit, "Longitude (WGS-84 in pulled rows)."),
        col("lat", Num, false, Edit, "Latitude (WGS-84 in pulled rows)."),
        col("accuracy_m", Num, true, Edit, "Reported GPS accuracy in metres."),
        col("crs", Str, true, Edit, POINT_CRS),
        col("polygon", Str, true, Edit, "Patch outline, GeoJSON Polygon/MultiPolygon as a JSON string."),
        col("area_m2", Num, true, Server, "Patch area in m²."),
        col("town_id", Str, true, Server, "The responsible town (`towns` id); null: the bureau's unassigned queue."),
        col("near_boundary", Bool, false, Server, "Within the configured distance of a town border."),
        col("neighbour_town_id", Str, true, Server, "The town across the nearby border."),
        col("description", Str, false, Edit, "What was found."),
        col("address", Str, false, Edit, "Where, in words."),
        col("land_class", Str, true, Edit, "`inside_plan`, `outside_plan` or `basic_farmland`."),
        col("violation_type", Str, true, Edit, "Violation type (see the OpenAPI enum `ViolationType`)."),
        col("disposition", Str, true, Edit, "`legalise_after_penalty`, `demolish_self` or `demolish_forced`."),
        col("notice_served_at", Num, true, Edit, "When the legal notice (告知) was served, ms."),
        col(
            "leadership_reported_at",
            Num,
            true,
            Edit,
            "When the leadership group was informed of a forced demolition, ms.",
        ),
        col("campaign_id", Str, true, Server, "The campaign whose deadline applies."),
        col("deadline", Str, true, Server, "Deadline day, `YYYY-MM-DD` (Asia/Shanghai)."),
        col("discovered_at", Num, false, Create, "When it was found, ms."),
        col("confiscated_gains_fen", Num, true, Edit, "查事又查人: confiscated illegal gains, fen."),
        col("disciplinary_actions", Str, false, Edit, "Disciplinary actions, a JSON array of strings (`'[]'`)."),
        col("judicial_referral", Bool, false, Edit, "Referred to the judiciary."),
        col("publicised", Bool, false, Edit, "Publicised as a typical case."),
        col("site_check_result", Str, true, Server, "Latest on-site check: `illegal`, `legal` or `false_change`."),
        col("dismiss_reason", Str, true, Server, "Why it was dismissed."),
        col("external_ref", Str, true, Create, "Patch id in the file it was imported from."),
        col(
            "photos",
            Str,
            true,
            Client,
            "Photos of a case made on the phone, a JSON array of SHA-256 hashes (sent with the create).",
        ),
        col(
            "flags",
            Str,
            false,
            Server,
            "Routing and evidence flags, a JSON array (`near_boundary`, `low_accuracy`, …).",
        ),
        col(
            "allowed_transitions",
            Str,
            false,
            Server,
            "The statuses this user may move the case to now, a JSON array.",
        ),
        col("created_by", Str, true, Server, "User who made it."),
        col("created_at", Num, false, Stamp, "When it was made, ms."),
        col("updated_at", Num, false, Stamp, "When it was last edited, ms: the later edit of a field wins."),
    ],
    dropped: &[
        ("id", "the record id"),
        ("sync_id", "the same as id"),
        ("rev", REV),
        ("location", "as lon, lat, accuracy_m, crs"),
        ("town", "as town_id"),
        ("neighbour_town", "as neighbour_town_id"),
        ("investigation", "as its four columns"),
        ("overdue", "changes with the date, not with the record: deadline < today and status before rectified"),
    ],
};

pub const INSPECTIONS: WmTable = WmTable {
    name: "inspections",
    native: Some(Table::Inspections),
    doc: "Inspections: patrols (on no case) and site checks, rectification checks and acceptance on a case. Append-only: made on the phone, never changed after they synced.",
    columns: &[
        col("case_id", Str, true, Create, "The case (`cases` id, also one made on the phone); null for a patrol."),
        col("kind", Str, false, Create, "`patrol`, `site_check`, `rectification_check` or `acceptance`."),
        col(
            "result",
            Str,
            true,
            Create,
            "A site check: `illegal`, `legal` or `false_change`; a rectification check or acceptance: `passed` or `failed`.",
        ),
        col("note", Str, false, Create, "What the inspector recorded."),
        col("lon", Num, true, Create, "Longitude; null when the phone had no GPS fix."),
        col("lat", Num, true, Create, "Latitude; null when the phone had no GPS fix."),
        col("accuracy_m", Num, true, Create, "Reported GPS accuracy in metres."),
        col("crs", Str, true, Create, POINT_CRS),
        col("photos", Str, true, Create, "A JSON array of SHA-256 hashes; null or `''` for none."),
        col("inspected_at", Num, true, Create, "When, ms; null: when it reached the server."),
        col("inspector_id", Str, false, Server, "The inspector (user id)."),
        col("device_id", Str, true, Server, "The device it came from."),
        col("created_at", Num, false, Stamp, "When it was made, ms."),
        col("updated_at", Num, false, Stamp, "When it was last edited on the phone, ms."),
    ],
    dropped: &[("id", "the record id"), ("rev", REV), ("location", "as lon, lat, accuracy_m, crs")],
};

pub const OBSERVATIONS: WmTable = WmTable {
    name: "observations",
    native: Some(Table::Observations),
    doc: "What an inspector saw at one place, during an inspection. Append-only. One with `propose_violation_type` opens a patrol case for its town.",
    columns: &[
        col("inspection_id", Str, true, Create, "The inspection (`inspections` id, also one made on the phone)."),
        col("case_id", Str, true, Create, "The case it is about; for a proposed case, the case the server opened."),
        col("town_id", Str, true, Server, "The town of its position."),
        col("lon", Num, false, Create, "Longitude (required)."),
        col("lat", Num, false, Create, "Latitude (required)."),
        col("accuracy_m", Num, true, Create, "Reported GPS accuracy in metres."),
        col("crs", Str, true, Create, POINT_CRS),
        col("note", Str, false, Create, "What was seen."),
        col("photos", Str, true, Create, "A JSON array of SHA-256 hashes; null or `''` for none."),
        col("observed_at", Num, true, Create, "When, ms; null: when it reached the server."),
        col(
            "propose_violation_type",
            Str,
            true,
            Client,
            "A new violation seen here: the server opens a patrol case of this type.",
        ),
        col("proposed_case_id", Str, true, Server, "The case the server opened for it."),
        col("flags", Str, false, Server, "Position flags, a JSON array."),
        col("created_by", Str, true, Server, "User who made it."),
        col("created_at", Num, false, Stamp, "When it was made, ms."),
        col("updated_at", Num, false, Stamp, "When it was last edited on the phone, ms."),
    ],
    dropped: &[("id", "the record id"), ("rev", REV), ("location", "as lon, lat, accuracy_m, crs")],
};

pub const TOWNS: WmTable = WmTable {
    name: "towns",
    native: Some(Table::Towns),
    doc: "The district's towns (镇街) with their boundaries. Read-only.",
    columns: &[
        col("code", Str, false, Server, "Administrative code, e.g. `120115001`."),
        col("name", Str, false, Server, "Name, e.g. 海滨街道."),
        col("kind", Str, true, Server, "`街道` or `镇`."),
        col("area_m2", Num, false, Server, "Area in m²."),
        col("bbox", Str, false, Server, "`[min_lon, min_lat, max_lon, max_lat]`, a JSON string."),
        col("boundary", Str, false, Server, "GeoJSON Polygon/MultiPolygon, a JSON string."),
    ],
    dropped: &[("id", "the record id"), ("rev", REV)],
};

pub const CAMPAIGNS: WmTable = WmTable {
    name: "campaigns",
    native: Some(Table::Campaigns),
    doc: "Campaigns and their deadlines. Read-only.",
    columns: &[
        col("name", Str, false, Server, "Name."),
        col("year", Num, false, Server, "Year."),
        col("starts_on", Str, false, Server, "`YYYY-MM-DD`."),
        col("ends_on", Str, false, Server, "`YYYY-MM-DD`."),
        col("satellite_deadline", Str, false, Server, "`YYYY-MM-DD`."),
        col("legacy_deadline", Str, false, Server, "`YYYY-MM-DD`."),
        col("idle_land_deadline", Str, false, Server, "`YYYY-MM-DD`."),
        col("patrol_days", Num, false, Server, "Days a patrol discovery has."),
        col("tip_days", Num, false, Server, "Days a case from a tip has."),
        col("targets", Str, false, Server, "The campaign's targets, a JSON array."),
    ],
    dropped: &[("id", "the record id"), ("rev", REV)],
};

pub const ALERTS: WmTable = WmTable {
    name: "alerts",
    native: Some(Table::Alerts),
    doc: "Town alerts (town officers: their town's; the bureau: all). Read-only but for acknowledging: setting `acked_at` acknowledges the alert (the server records who and when).",
    columns: &[
        col("event_id", Num, false, Server, "Position in the live alert stream."),
        col(
            "kind",
            Str,
            false,
            Server,
            "`case_new`, `case_routed_in`, `case_routed_out`, `tip_received`, `deadline_7d`, `deadline_1d`, `deadline_passed`, `acceptance_failed`, `escalation`.",
        ),
        col("town_id", Str, true, Server, "The town it is for; null: the bureau."),
        col("case_id", Str, true, Server, "The case it is about."),
        col("tip_id", Str, true, Server, "The tip it is about."),
        col("title", Str, false, Server, "One line for people."),
        col("detail", Str, false, Server, "Details, a JSON object as a string."),
        col("created_at", Num, false, Server, "When it was raised, ms."),
        col("acked_at", Num, true, Edit, "When it was acknowledged, ms; set it (any value) to acknowledge."),
        col("acked_by", Str, true, Server, "Who acknowledged it."),
        col("escalated_at", Num, true, Server, "When the bureau was alerted because nobody acknowledged it."),
    ],
    dropped: &[("id", "the record id"), ("rev", REV), ("town", "as town_id")],
};

pub const PARCELS: WmTable = WmTable {
    name: "parcels",
    native: Some(Table::Parcels),
    doc: "Idle-land parcels (闲置土地) of the town (town officers and the bureau). Read-only.",
    columns: &[
        col("code", Str, false, Server, "Contract or allocation number."),
        col("holder", Str, false, Server, "Land holder."),
        col("area_m2", Num, false, Server, "Area in m²."),
        col("agreed_start", Str, false, Server, "Agreed construction start, `YYYY-MM-DD`."),
        col("actual_start", Str, true, Server, "Actual construction start, `YYYY-MM-DD`."),
        col("town_id", Str, true, Server, "The town."),
        col("lon", Num, false, Server, "Longitude, WGS-84."),
        col("lat", Num, false, Server, "Latitude, WGS-84."),
        col("accuracy_m", Num, true, Server, "Always null for parcels."),
        col("crs", Str, true, Server, "Always `wgs84`."),
        col("polygon", Str, true, Server, "GeoJSON outline as a JSON string."),
        col("status", Str, false, Server, "`active`, `idle` or `disposed`."),
        col("idle_since", Str, true, Server, "`YYYY-MM-DD`."),
        col("idle_case_id", Str, true, Server, "The `idle_land` case the sweep opened."),
        col("disposed_on", Str, true, Server, "`YYYY-MM-DD`."),
        col("disposal", Str, true, Server, "Kind of the disposal that closed it."),
        col("created_at", Num, false, Server, "Entered, ms."),
        col("updated_at", Num, false, Server, "Last changed, ms."),
    ],
    dropped: &[
        ("id", "the record id"),
        ("sync_id", "the same as id"),
        ("rev", REV),
        ("location", "as lon, lat, accuracy_m, crs"),
        ("town", "as town_id"),
    ],
};

pub const APPROVALS: WmTable = WmTable {
    name: "approvals",
    native: Some(Table::Approvals),
    doc: "Approved-but-unsupplied land (批而未供) of the town (town officers and the bureau). Read-only.",
    columns: &[
        col("code", Str, false, Server, "Approval number."),
        col("town_id", Str, false, Server, "The town."),
        col("approved_on", Str, false, Server, "`YYYY-MM-DD`."),
        col("approved_area_m2", Num, false, Server, "Approved area, m²."),
        col("supplied_area_m2", Num, false, Server, "Supplied so far, m²."),
        col("unsupplied_area_m2", Num, false, Server, "Still to supply, m²."),
        col("supply_rate", Num, false, Server, "supplied / approved."),
        col("note", Str, false, Server, "Note."),
        col("created_at", Num, false, Server, "Entered, ms."),
        col("updated_at", Num, false, Server, "Last changed, ms."),
    ],
    dropped: &[("id", "the record id"), ("rev", REV), ("town", "as town_id")],
};

pub const SYNC_REJECTIONS: WmTable = WmTable {
    name: "sync_rejections",
    native: None,
    doc: "The rows this device pushed that the server refused, with the reason, so the app can show them. A rejection goes away (a pulled deletion) once the record syncs; the refused row itself is kept on the server.",
    columns: &[
        col("table_name", Str, false, Server, "The table of the refused row."),
        col("record_id", Str, false, Server, "Its id."),
        col("op", Str, false, Server, "`create`, `update` or `delete`."),
        col("code", Str, false, Server, "Stable error code (mobile-api-docs/errors.md), e.g. `transition_forbidden`."),
        col("message", Str, false, Server, "What to tell the inspector."),
        col("columns", Str, false, Server, "The columns of the refused change, a JSON array."),
        col("rejected_at", Num, false, Server, "When, ms."),
    ],
    dropped: &[],
};

/// Every table, in push order (cases before the records that point at them).
pub const TABLES: [&WmTable; 9] =
    [&CASES, &INSPECTIONS, &OBSERVATIONS, &ALERTS, &TOWNS, &CAMPAIGNS, &PARCELS, &APPROVALS, &SYNC_REJECTIONS];

pub fn table(name: &str) -> Option<&'static WmTable> {
    TABLES.iter().copied().find(|t| t.name == name)
}

/// The schema version of the tables above; bumped when a column is added.
pub const SCHEMA_VERSION: u32 = 1;

/// The `appSchema` for these tables, as the guide prints it.
pub fn app_schema_js() -> String {
    let mut s = String::from("import { appSchema, tableSchema } from '@nozbe/watermelondb'\n\n");
    s.push_str(&format!("export const schema = appSchema({{\n  version: {SCHEMA_VERSION},\n  tables: [\n"));
    for t in TABLES {
        s.push_str(&format!("    tableSchema({{\n      name: '{}',\n      columns: [\n", t.name));
        for c in t.columns {
            let kind = match c.kind {
                Str => "string",
                Num => "number",
                Bool => "boolean",
            };
            let optional = if c.optional { ", isOptional: true" } else { "" };
            let indexed = if c.name.ends_with("_id") || c.name == "status" { ", isIndexed: true" } else { "" };
            s.push_str(&format!("        {{ name: '{}', type: '{kind}'{optional}{indexed} }},\n", c.name));
        }
        s.push_str("      ],\n    }),\n");
    }
    s.push_str("  ],\n})\n");
    s
}

/// The column table of the guide (markdown).
pub fn columns_markdown() -> String {
    let mut s = String::new();
    for t in TABLES {
        s.push_str(&format!(
            "### `{}`\n\n{}\n\n| column | type | null | written by | meaning |\n|---|---|---|---|---|\n",
            t.name, t.doc
        ));
        for c in t.columns {
            let kind = match c.kind {
                Str => "string",
                Num => "number",
                Bool => "boolean",
            };
            let who = match c.write {
                Server => "server",
                Create => "app, on create",
                Edit => "app",
                Stamp => "app (WatermelonDB)",
                Client => "app, push only",
            };
            let null = if c.optional { "yes" } else { "no" };
            s.push_str(&format!("| `{}` | {kind} | {null} | {who} | {} |\n", c.name, c.doc.replace('|', "\\|")));
        }
        s.push('\n');
    }
    s
}

const SCHEMA_START: &str = "<!-- file: schema.js (generated) -->\n";
const COLUMNS_START: &str = "<!-- columns (generated) -->\n";
const END: &str = "<!-- end generated -->";

fn replace_section(text: &str, start: &str, body: &str) -> String {
    let Some(i) = text.find(start) else { return text.to_owned() };
    let from = i + start.len();
    let Some(len) = text[from..].find(END) else { return text.to_owned() };
    format!("{}{body}{}", &text[..from], &text[from + len..])
}

/// `mobile-api-docs/guides/watermelondb.md` with its generated sections
/// (the `appSchema` and the column tables) made from the declaration above.
pub fn guide(current: &str) -> String {
    let with_schema = replace_section(current, SCHEMA_START, &format!("```js\n{}```\n", app_schema_js()));
    replace_section(&with_schema, COLUMNS_START, &columns_markdown())
}
