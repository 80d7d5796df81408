//! Computing the progress report. The current state comes from the cases;
//! a past `as_of` is reconstructed from the ledger (挂账销号), which is
//! append-only: the status each case had at the end of that day is its last
//! status change before then, and the town and investigation fields it had
//! are the `before` values of the first change after then. Land records
//! (idle land, supply, five-in-place) are counted as they had been entered
//! and changed by then (see `db::land_history`).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use landpatrol_sync::{CaseSource, CaseStatus, ErrorCode, Role};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use uuid::Uuid;

use super::*;
use crate::approvals::service::{SupplyRate, supply_rates};
use crate::auth::{AuthUser, Scope};
use crate::campaigns::targets::Target;
use crate::db::entities::{campaigns, case_events, cases};
use crate::error::{ApiError, ApiResult};
use crate::parcels::service::IdleBalance;
use crate::state::AppState;

/// Who reads progress reports: town offices (their town), the bureau and the leadership group.
pub const READERS: &[Role] = &[Role::TownOfficer, Role::BureauAdmin, Role::Verifier];

/// Report parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Campaign id; left out or empty: the campaign covering `as_of` (else the latest).
    #[param(pattern = "^(|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub campaign: Option<String>,
    /// The day to report on, `YYYY-MM-DD` (Baodi time), not in the future and not before the
    /// campaign starts; left out: today. A past day is reconstructed from the ledger.
    #[param(value_type = Option<NaiveDate>)]
    pub as_of: Option<String>,
    /// The first day of the period the "in the period" figures count (cases opened, closed
    /// and dismissed; parcels newly idle and disposed; land supplied), `YYYY-MM-DD`, within the
    /// campaign: e.g. the first of the month for the monthly meeting. Left out: the campaign's
    /// first day (also when empty). Targets are always judged over the campaign.
    #[param(pattern = "^\\s*([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})?\\s*$", example = "2017-06-01")]
    pub from: Option<String>,
    /// One town (id or code); a town officer gets the own town only.
    pub town: Option<String>,
    /// `json` (default), `csv` or `html` (also chosen by the path suffix).
    #[param(schema_with = crate::openapi::report_format_schema)]
    pub format: Option<String>,
    /// The access token, for a link a browser opens (a download, the printable page); the
    /// `Authorization` header wins. Such a link is as secret as the token, and as short-lived.
    pub access_token: Option<String>,
    /// `true`: leave out the towns with nothing to report (no cases, idle land, land to
    /// supply or projects); the district total still counts them.
    pub hide_empty: Option<bool>,
}

/// The parameters of `/reports/progress.json`, `.csv` and `.html`: those of
/// [`ReportQuery`] but `format`, which the path gives (the document only: the
/// handlers read a [`ReportQuery`] and ignore its `format`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReportPathQuery {
    /// Campaign id; left out or empty: the campaign covering `as_of` (else the latest).
    #[param(pattern = "^(|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub campaign: Option<String>,
    /// The day to report on, `YYYY-MM-DD` (Baodi time), not in the future and not before the
    /// campaign starts; left out: today.
    #[param(value_type = Option<NaiveDate>)]
    pub as_of: Option<String>,
    /// The first day of the period the "in the period" figures count, within the campaign (empty: its first day).
    #[param(pattern = "^\\s*([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})?\\s*$", example = "2017-06-01")]
    pub from: Option<String>,
    /// One town (id or code); a town officer gets the own town only.
    pub town: Option<String>,
    /// The access token, for a link a browser opens; the `Authorization` header wins.
    pub access_token: Option<String>,
    /// `true`: leave out the towns with nothing to report.
    pub hide_empty: Option<bool>,
}

fn bad_query(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message).with_details(serde_json::json!({ "field": field }))
}

/// The instant a Baodi calendar day ends.
pub fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    start_of_day(day + Duration::days(1))
}

/// The instant a Baodi calendar day starts.
pub fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    match FixedOffset::east_opt(8 * 3600).map(|o| o.from_local_datetime(&midnight)) {
        Some(chrono::LocalResult::Single(t)) => t.with_timezone(&Utc),
        _ => midnight.and_utc(),
    }
}

/// One case as the report needs it, on `as_of`.
#[derive(Clone, Debug)]
pub struct Fact {
    pub id: Uuid,
    pub case_number: String,
    pub source: CaseSource,
    pub status: CaseStatus,
    pub town: Option<Uuid>,
    pub deadline: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub gains_fen: Option<i64>,
    pub disciplinary: i64,
    pub judicial: bool,
    pub publicised: bool,
    /// First time the case was rectified / dismissed, before the cut-off.
    pub first_rectified: Option<DateTime<Utc>>,
    pub first_dismissed: Option<DateTime<Utc>>,
}

#[derive(Debug, FromQueryResult)]
struct CaseRow {
    id: Uuid,
    case_number: String,
    source: String,
    status: String,
    town_id: Option<Uuid>,
    deadline: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    deleted: bool,
    confiscated_gains_fen: Option<i64>,
    disciplinary_actions: Value,
    judicial_referral: bool,
    publicised: bool,
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

fn count_entries(v: &Value) -> i64 {
    v.as_array().map_or(0, |a| i64::try_from(a.len()).unwrap_or(i64::MAX))
}

/// The campaign's cases as they stood at the end of `as_of`.
pub async fn facts(
    conn: &impl ConnectionTrait,
    campaign: Uuid,
    as_of: NaiveDate,
    reconstruct: bool,
) -> ApiResult<Vec<Fact>> {
    let cutoff = end_of_day(as_of);
    let t = std::time::Instant::now();
    let rows = cases::Entity::find()
        .select_only()
        .columns([
            cases::Column::Id,
            cases::Column::CaseNumber,
            cases::Column::Source,
            cases::Column::Status,
            cases::Column::TownId,
            cases::Column::Deadline,
            cases::Column::CreatedAt,
            cases::Column::Deleted,
            cases::Column::ConfiscatedGainsFen,
            cases::Column::DisciplinaryActions,
            cases::Column::JudicialReferral,
            cases::Column::Publicised,
        ])
        .filter(cases::Column::CampaignId.eq(campaign))
        .filter(cases::Column::CreatedAt.lt(cutoff))
        .into_model::<CaseRow>()
        .all(conn)
        .await?;
    tracing::debug!(ms = t.elapsed().as_millis(), cases = rows.len(), "report: cases read");
    let backend = conn.get_database_backend();
    let p1 = placeholder(backend, 1);
    let t = std::time::Instant::now();

    // The status changes before the cut-off, read from the (status, time, case) index
    // (covering): the first rectification and dismissal of each case and, for a past
    // day, its last status then. One pass instead of a grouped scan and a join.
    let which = if reconstruct { "to_status IS NOT NULL" } else { "to_status IN ('rectified', 'dismissed')" };
    let sql = format!("SELECT case_id, id, to_status, at FROM case_events WHERE {which} AND at < {p1}");
    let mut firsts: HashMap<(Uuid, bool), DateTime<Utc>> = HashMap::new();
    let mut last: HashMap<Uuid, (i64, String)> = HashMap::new();
    let changes = conn.query_all_raw(Statement::from_sql_and_values(backend, &sql, [cutoff.into()])).await?;
    let read = changes.len();
    for r in changes {
        let (case, id, status, at): (Uuid, i64, String, DateTime<Utc>) =
            (r.try_get_by_index(0)?, r.try_get_by_index(1)?, r.try_get_by_index(2)?, r.try_get_by_index(3)?);
        if status == "rectified" || status == "dismissed" {
            let first = firsts.entry((case, status == "rectified")).or_insert(at);
            *first = (*first).min(at);
        }
        if reconstruct {
            match last.get_mut(&case) {
                Some(l) if l.0 >= id => {}
                Some(l) => *l = (id, status),
                None => {
                    last.insert(case, (id, status));
                }
            }
        }
    }
    tracing::debug!(ms = t.elapsed().as_millis(), entries = read, "report: status changes before the cut-off");

    let status_then: HashMap<Uuid, String> = last.into_iter().map(|(case, (_, status))| (case, status)).collect();
    let mut withdrawn: HashSet<Uuid> = HashSet::new();
    let mut reverse: HashMap<Uuid, serde_json::Map<String, Value>> = HashMap::new();
    if reconstruct {
        let gone = case_events::Entity::find()
            .select_only()
            .column(case_events::Column::CaseId)
            .filter(case_events::Column::Action.eq("withdrawn"))
            .filter(case_events::Column::At.lt(cutoff))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?;
        withdrawn.extend(gone);
        // Fields the report reads, changed after the cut-off: the first
        // change's `before` is the value then. Only entries naming one of
        // them are read (the text is matched before it is parsed).
        let t = std::time::Instant::now();
        let keys = ["town_id", "confiscated_gains_fen", "disciplinary_actions", "judicial_referral", "publicised"];
        let like: Vec<String> = keys.iter().map(|k| format!("CAST(before AS TEXT) LIKE '%\"{k}\"%'")).collect();
        let sql = format!(
            "SELECT case_id, CAST(before AS TEXT) FROM case_events WHERE action IN ('updated', 'relocated', 'reassigned') \
             AND at >= {p1} AND ({}) ORDER BY id DESC",
            like.join(" OR ")
        );
        let later = conn.query_all_raw(Statement::from_sql_and_values(backend, &sql, [cutoff.into()])).await?;
        let read = later.len();
        // Newest first: each earlier change overwrites, so the first change after the cut-off wins.
        for r in later {
            let (id, before): (Uuid, Option<String>) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
            let Some(Ok(Value::Object(fields))) = before.as_deref().map(serde_json::from_str::<Value>) else {
                continue;
            };
            let entry = reverse.entry(id).or_default();
            for (k, v) in fields {
                if keys.contains(&k.as_str()) {
                    entry.insert(k, v);
                }
            }
        }
        tracing::debug!(ms = t.elapsed().as_millis(), entries = read, "report: fields changed after the cut-off");
    }

    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (status, town, gains, disc, judicial, publicised) = if reconstruct {
            if withdrawn.contains(&r.id) {
                continue;
            }
            let back = reverse.get(&r.id);
            let field = |k: &str| back.and_then(|b| b.get(k));
            let town = match field("town_id") {
                Some(v) => serde_json::from_value::<Option<Uuid>>(v.clone()).unwrap_or(r.town_id),
                None => r.town_id,
            };
            (
                status_then.get(&r.id).cloned().unwrap_or_else(|| CaseStatus::Reported.as_str().to_owned()),
                town,
                field("confiscated_gains_fen").map_or(r.confiscated_gains_fen, Value::as_i64),
                field("disciplinary_actions").map_or_else(|| count_entries(&r.disciplinary_actions), count_entries),
                field("judicial_referral").map_or(r.judicial_referral, |v| v.as_bool().unwrap_or(false)),
                field("publicised").map_or(r.publicised, |v| v.as_bool().unwrap_or(false)),
            )
        } else {
            if r.deleted {
                continue;
            }
            (
                r.status.clone(),
                r.town_id,
                r.confiscated_gains_fen,
                count_entries(&r.disciplinary_actions),
                r.judicial_referral,
                r.publicised,
            )
        };
        let (Some(source), Some(status)) = (CaseSource::parse(&r.source), CaseStatus::parse(&status)) else {
            continue;
        };
        out.push(Fact {
            id: r.id,
            case_number: r.case_number,
            source,
            status,
            town,
            deadline: r.deadline,
            created_at: r.created_at,
            gains_fen: gains,
            disciplinary: disc,
            judicial,
            publicised,
            first_rectified: firsts.get(&(r.id, true)).copied(),
            first_dismissed: firsts.get(&(r.id, false)).copied(),
        });
    }
    Ok(out)
}

/// Cases closed and dismissed in `[from, to]`, by case.
async fn ends_in_period(
    conn: &impl ConnectionTrait,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<HashMap<Uuid, (bool, bool)>> {
    let rows = case_events::Entity::find()
        .select_only()
        .columns([case_events::Column::CaseId, case_events::Column::ToStatus])
        .filter(case_events::Column::ToStatus.is_in(["closed", "dismissed"]))
        .filter(case_events::Column::At.gte(start_of_day(from)))
        .filter(case_events::Column::At.lt(end_of_day(to)))
        .into_tuple::<(Uuid, Option<String>)>()
        .all(conn)
        .await?;
    let mut out: HashMap<Uuid, (bool, bool)> = HashMap::new();
    for (id, status) in rows {
        let e = out.entry(id).or_default();
        match status.as_deref() {
            Some("closed") => e.0 = true,
            Some("dismissed") => e.1 = true,
            _ => {}
        }
    }
    Ok(out)
}

fn eliminated(s: CaseStatus) -> bool {
    matches!(s, CaseStatus::Rectified | CaseStatus::Accepted | CaseStatus::Closed | CaseStatus::Dismissed)
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The deadline a campaign sets for a source (patrol and tip cases have their own).
fn source_deadline(c: &campaigns::Model, source: CaseSource) -> Option<NaiveDate> {
    match source {
        CaseSource::Satellite => Some(c.satellite_deadline),
        CaseSource::Legacy => Some(c.legacy_deadline),
        CaseSource::IdleLand => Some(c.idle_land_deadline),
        CaseSource::Patrol | CaseSource::Tip => None,
    }
}

/// Evaluates one case-based target over `facts` (one town's, or all).
pub fn evaluate(c: &campaigns::Model, target: &Target, facts: &[&Fact], as_of: NaiveDate) -> TargetStatus {
    let (state, detail, deadline) = match target {
        Target::EliminateByDeadline { sources, .. } => {
            let mine: Vec<&&Fact> = facts.iter().filter(|f| sources.contains(&f.source)).collect();
            let deadline = sources.iter().filter_map(|s| source_deadline(c, *s)).max().unwrap_or(c.ends_on);
            let cut = end_of_day(deadline.min(as_of));
            let done = mine
                .iter()
                .filter(|f| {
                    eliminated(f.status) && [f.first_rectified, f.first_dismissed].iter().flatten().any(|at| *at < cut)
                })
                .count() as i64;
            let total = mine.len() as i64;
            let detail = format!("{done} of {total} eliminated by {}", deadline.min(as_of));
            let state = if total == 0 {
                TargetState::NotApplicable
            } else if done == total {
                TargetState::Met
            } else if as_of >= deadline {
                TargetState::NotMet
            } else {
                pace(c.starts_on, as_of, deadline, done, total)
            };
            (state, detail, Some(deadline))
        }
        Target::RectifiedWithinDeadline { sources, min_share, .. } => {
            // Cases whose deadline has come by `as_of`: rectified (or dismissed) by it?
            let due: Vec<&&Fact> = facts
                .iter()
                .filter(|f| sources.contains(&f.source) && f.deadline.is_some_and(|d| d <= as_of))
                .collect();
            let in_time = due
                .iter()
                .filter(|f| {
                    let cut = f.deadline.map(end_of_day);
                    [f.first_rectified, f.first_dismissed].iter().flatten().any(|at| cut.is_some_and(|c| *at < c))
                })
                .count() as i64;
            let total = due.len() as i64;
            let share = rate(in_time, total);
            let detail = match share {
                Some(s) => format!("{in_time} of {total} due were rectified in time ({:.1}%)", s * 100.0),
                None => "no case has reached its deadline yet".to_owned(),
            };
            let state = match share {
                None => TargetState::NotApplicable,
                Some(s) if s + 1e-9 >= *min_share => {
                    if as_of >= c.ends_on {
                        TargetState::Met
                    } else {
                        TargetState::OnTrack
                    }
                }
                Some(_) if as_of >= c.ends_on => TargetState::NotMet,
                Some(_) => TargetState::AtRisk,
            };
            (state, detail, None)
        }
        Target::IdleLandDynamicClearance { .. } | Target::SupplyRate { .. } => {
            (TargetState::NotApplicable, "measured from the idle-land and land-supply records".to_owned(), None)
        }
    };
    TargetStatus { kind: target.kind().to_owned(), label: target.label().to_owned(), state, detail, deadline }
}

/// Before a deadline: on track when the pace since the campaign start reaches the total by the deadline.
fn pace(start: NaiveDate, as_of: NaiveDate, deadline: NaiveDate, done: i64, total: i64) -> TargetState {
    let elapsed = (as_of - start).num_days().max(1) as f64;
    let span = (deadline - start).num_days().max(1) as f64;
    if done as f64 / elapsed * span >= total as f64 { TargetState::OnTrack } else { TargetState::AtRisk }
}

/// Aggregates one group of facts into a section.
pub fn section(
    c: &campaigns::Model,
    targets: &[Target],
    facts: &[&Fact],
    ends: &HashMap<Uuid, (bool, bool)>,
    from: NaiveDate,
    as_of: NaiveDate,
) -> TownProgress {
    let mut p = TownProgress::default();
    let from_at = start_of_day(from);
    for f in facts {
        let by = p.cases_by_source.entry(f.source.as_str().to_owned()).or_default();
        *by.entry(f.status.as_str().to_owned()).or_default() += 1;
        *by.entry("total".to_owned()).or_default() += 1;
        p.cases_total += 1;
        if f.status.is_open() {
            p.open += 1;
            if let Some(d) = f.deadline.filter(|d| *d < as_of) {
                let days = (as_of - d).num_days();
                p.overdue.count += 1;
                p.overdue.total_days += days;
                p.overdue.max_days = p.overdue.max_days.max(days);
                p.overdue.cases.push(OverdueCase {
                    id: f.id,
                    case_number: f.case_number.clone(),
                    source: f.source.as_str().to_owned(),
                    status: f.status.as_str().to_owned(),
                    deadline: d,
                    days_overdue: days,
                });
            }
        }
        if f.created_at >= from_at {
            p.opened_in_period += 1;
        }
        if let Some((closed, dismissed)) = ends.get(&f.id) {
            p.closed_in_period += i64::from(*closed);
            p.dismissed_in_period += i64::from(*dismissed);
        }
        if !matches!(f.status, CaseStatus::Reported | CaseStatus::Dismissed) {
            p.on_ledger += 1;
        }
        let inv = &mut p.investigation;
        if let Some(g) = f.gains_fen.filter(|g| *g > 0) {
            inv.confiscated_gains_fen += g;
            inv.cases_with_confiscation += 1;
        }
        inv.disciplinary_actions += f.disciplinary;
        inv.judicial_referrals += i64::from(f.judicial);
        inv.publicised += i64::from(f.publicised);
    }
    let rectified = facts
        .iter()
        .filter(|f| matches!(f.status, CaseStatus::Rectified | CaseStatus::Accepted | CaseStatus::Closed))
        .count() as i64;
    let accepted =
        facts.iter().filter(|f| matches!(f.status, CaseStatus::Accepted | CaseStatus::Closed)).count() as i64;
    p.rectified_rate = rate(rectified, p.on_ledger);
    p.accepted_rate = rate(accepted, p.on_ledger);
    p.overdue.cases.sort_by(|a, b| b.days_overdue.cmp(&a.days_overdue).then(a.case_number.cmp(&b.case_number)));
    p.targets = targets.iter().map(|t| evaluate(c, t, facts, as_of)).collect();
    p
}

/// A target judged at the end of the campaign: met or not then; before it,
/// on track while it holds and at risk while it does not.
fn by_year_end(holds: bool, as_of: NaiveDate, ends_on: NaiveDate) -> TargetState {
    match (holds, as_of >= ends_on) {
        (true, true) => TargetState::Met,
        (true, false) => TargetState::OnTrack,
        (false, true) => TargetState::NotMet,
        (false, false) => TargetState::AtRisk,
    }
}

/// One section's land figures for a period.
#[derive(Clone, Debug, Default)]
struct Land {
    idle: Option<IdleBalance>,
    supply: Option<SupplyRate>,
}

/// Idle-land balance and land supply per town for `from..=to`, as known at `known`.
struct LandFigures {
    idle: HashMap<Option<Uuid>, IdleBalance>,
    supply: HashMap<Uuid, SupplyRate>,
}

impl LandFigures {
    async fn read(
        conn: &impl ConnectionTrait,
        from: NaiveDate,
        to: NaiveDate,
        known: Option<DateTime<Utc>>,
    ) -> ApiResult<Self> {
        let idle = crate::parcels::service::idle_balance(conn, from, to, known).await?;
        let supply = supply_rates(conn, from, to, known).await?;
        Ok(LandFigures {
            idle: idle.into_iter().map(|b| (b.town_id, b)).collect(),
            supply: supply.into_iter().map(|r| (r.town_id, r)).collect(),
        })
    }

    /// A town's (or the unassigned queue's) figures.
    fn of(&self, town: Option<Uuid>) -> Land {
        Land {
            idle: Some(
                self.idle.get(&town).cloned().unwrap_or_else(|| IdleBalance { town_id: town, ..Default::default() }),
            ),
            supply: town.and_then(|t| self.supply.get(&t).cloned()),
        }
    }

    /// The district's figures.
    fn total(&self) -> Land {
        let mut idle = IdleBalance::default();
        self.idle.values().for_each(|b| idle.add(b));
        let supply = (!self.supply.is_empty()).then(|| {
            let mut all = SupplyRate::default();
            self.supply.values().for_each(|r| all.add(r));
            all
        });
        Land { idle: Some(idle), supply }
    }
}

/// Evaluates the targets measured from land records (idle land, supply).
/// `year` holds the figures over the campaign period (which the report's own
/// period may be shorter than).
fn land_targets(p: &mut TownProgress, year: &Land, targets: &[Target], c: &campaigns::Model, as_of: NaiveDate) {
    for (t, status) in targets.iter().zip(p.targets.iter_mut()) {
        if let (Target::IdleLandDynamicClearance { .. }, Some(b)) = (t, &year.idle) {
            status.detail = format!(
                "parcels disposed: {}, newly idle: {} since {}; idle at the end: {}",
                b.disposed, b.newly_idle, c.starts_on, b.idle_at_end
            );
            status.state = if b.disposed == 0 && b.newly_idle == 0 && b.idle_at_end == 0 {
                TargetState::NotApplicable
            } else {
                by_year_end(b.disposed > b.newly_idle, as_of, c.ends_on)
            };
            status.deadline = Some(c.ends_on);
        }
        if let Target::SupplyRate { min_rate, .. } = t {
            match year.supply.as_ref().and_then(|s| s.rate.map(|r| (s, r))) {
                Some((s, r)) => {
                    status.detail = format!(
                        "{:.0} of {:.0} m² supplied since {} ({:.1}%, target {:.0}%): {:.0} m² unsupplied then, {:.0} \
                         m² approved since",
                        s.supplied_in_period_m2,
                        s.stock_at_start_m2 + s.approved_in_period_m2,
                        c.starts_on,
                        r * 100.0,
                        min_rate * 100.0,
                        s.stock_at_start_m2,
                        s.approved_in_period_m2,
                    );
                    status.state = by_year_end(r + 1e-9 >= *min_rate, as_of, c.ends_on);
                }
                None => status.detail = "no approved land to supply".to_owned(),
            }
            status.deadline = Some(c.ends_on);
        }
    }
}

fn parse_day(field: &str, raw: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| bad_query(field, format!("{field} must be YYYY-MM-DD")))
}

async fn campaign_for(conn: &impl ConnectionTrait, raw: Option<&str>, as_of: NaiveDate) -> ApiResult<campaigns::Model> {
    let unknown = || ApiError::new(ErrorCode::UnknownCampaign, "no such campaign");
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let id = Uuid::parse_str(s).map_err(|_| bad_query("campaign", "campaign must be a campaign id"))?;
            campaigns::Entity::find_by_id(id).one(conn).await?.filter(|c| !c.deleted).ok_or_else(unknown)
        }
        None => match crate::campaigns::covering(conn, as_of).await? {
            Some(c) => Ok(c),
            None => campaigns::Entity::find()
                .filter(campaigns::Column::Deleted.eq(false))
                .order_by_desc(campaigns::Column::StartsOn)
                .one(conn)
                .await?
                .ok_or_else(unknown),
        },
    }
}

/// The progress report for the caller.
pub async fn progress(state: &AppState, user: &AuthUser, q: &ReportQuery) -> ApiResult<ProgressReport> {
    user.require(READERS)?;
    let today = crate::cases::store::local_today();
    let as_of = match q.as_of.as_deref() {
        Some(raw) => parse_day("as_of", raw)?,
        None => today,
    };
    if as_of > today {
        return Err(bad_query("as_of", "as_of is in the future; a report describes a day that has ended or today"));
    }
    let db = &state.db;
    let c = campaign_for(db, q.campaign.as_deref(), as_of).await?;
    if as_of < c.starts_on {
        return Err(bad_query("as_of", format!("as_of is before the campaign starts ({})", c.starts_on)));
    }
    // Which towns: a town officer the own town; the bureau all, or one.
    let only: Option<Uuid> = match q.town.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(key) => {
            let town = crate::auth::service::resolve_town(db, key).await?;
            user.require_town(Some(town.id))?;
            Some(town.id)
        }
        None => match user.scope() {
            Scope::District => None,
            Scope::Towns(list) => list.first().copied(),
        },
    };
    let district_view = matches!(user.scope(), Scope::District) && only.is_none();
    let reconstructed = as_of < today;
    let started = std::time::Instant::now();
    let all = facts(db, c.id, as_of, reconstructed).await?;
    let to = as_of.min(c.ends_on);
    let from = match q.from.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            let from = parse_day("from", raw)?;
            if from < c.starts_on || from > to {
                return Err(bad_query(
                    "from",
                    format!("from must lie in the campaign period, {} to {to}", c.starts_on),
                ));
            }
            from
        }
        None => c.starts_on,
    };
    let ends = ends_in_period(db, from, to).await?;
    let targets = crate::campaigns::targets_of(&c.targets);

    let mut by_town: BTreeMap<Option<Uuid>, Vec<&Fact>> = BTreeMap::new();
    if district_view {
        for t in state.towns.snapshot().by_id.keys() {
            by_town.entry(Some(*t)).or_default();
        }
    } else if let Some(t) = only {
        by_town.entry(Some(t)).or_default();
    }
    for f in &all {
        if district_view || f.town == only && only.is_some() {
            by_town.entry(f.town).or_default().push(f);
        }
    }
    // Land records as they were known at the end of a past day; today: as they are.
    let known = reconstructed.then(|| end_of_day(as_of));
    // The targets are judged over the campaign; the figures shown are the report's period's.
    let year = LandFigures::read(db, c.starts_on, to, known).await?;
    let period = if from == c.starts_on { None } else { Some(LandFigures::read(db, from, to, known).await?) };
    let shown = period.as_ref().unwrap_or(&year);
    let mut gaps: HashMap<Uuid, Vec<crate::projects::service::ProjectGap>> = HashMap::new();
    for g in crate::projects::service::five_in_place_gaps(db, as_of, known).await? {
        gaps.entry(g.town_id).or_default().push(g);
    }
    let mut towns: Vec<TownProgress> = by_town
        .iter()
        .map(|(town, list)| {
            let mut s = section(&c, &targets, list, &ends, from, as_of);
            s.town = town.and_then(|t| state.towns.get(t));
            s.unassigned = town.is_none();
            let land = shown.of(*town);
            (s.idle_land, s.supply) = (land.idle, land.supply);
            if let Some(t) = town {
                let projects = gaps.get(t).cloned().unwrap_or_default();
                s.five_in_place = FiveInPlace { projects_missing_steps: projects.len() as i64, projects };
            }
            land_targets(&mut s, &year.of(*town), &targets, &c, as_of);
            s
        })
        .collect();
    towns.sort_by(|a, b| {
        (a.unassigned, a.town.as_ref().map(|t| t.code.clone()))
            .cmp(&(b.unassigned, b.town.as_ref().map(|t| t.code.clone())))
    });
    let district = district_view.then(|| {
        let every: Vec<&Fact> = all.iter().collect();
        let mut d = section(&c, &targets, &every, &ends, from, as_of);
        // The towns list their overdue cases; the district gives the figures.
        d.overdue.cases.clear();
        let land = shown.total();
        (d.idle_land, d.supply) = (land.idle, land.supply);
        d.five_in_place.projects_missing_steps = gaps.values().map(|g| g.len() as i64).sum();
        land_targets(&mut d, &year.total(), &targets, &c, as_of);
        d
    });
    tracing::debug!(ms = started.elapsed().as_millis(), cases = all.len(), "report: computed");
    Ok(ProgressReport {
        campaign: CampaignRef { id: c.id, name: c.name.clone(), starts_on: c.starts_on, ends_on: c.ends_on },
        as_of,
        period_from: from,
        period_to: to,
        reconstructed,
        generated_at: Utc::now(),
        towns,
        district,
    })
}
