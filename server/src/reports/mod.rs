//! Campaign progress for the monthly meeting (月例会): per town and for the
//! district, from the ledger, for any date.

pub mod render;
pub mod routes;
pub mod service;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::towns::TownRef;

/// The whole report.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProgressReport {
    pub campaign: CampaignRef,
    /// The day the report describes (end of that day, Baodi time).
    pub as_of: NaiveDate,
    /// The period the "in the period" figures count: from the campaign's first day (or
    /// `from`) to `as_of` (at most the campaign's last day). Targets are judged over the campaign.
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    /// Whether the state was reconstructed from the ledger (a past `as_of`).
    pub reconstructed: bool,
    pub generated_at: DateTime<Utc>,
    /// One section per town in scope (and the unassigned queue for the bureau).
    pub towns: Vec<TownProgress>,
    /// The whole district (the bureau, the leadership group); null for a town office.
    pub district: Option<TownProgress>,
}

/// The campaign a report is about.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CampaignRef {
    pub id: Uuid,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// Counts of cases by status.
pub type StatusCounts = BTreeMap<String, i64>;

/// One town's progress (or the district's, `town` null and `district` true).
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct TownProgress {
    /// Null: the district total, or the unassigned queue (`unassigned` true).
    pub town: Option<TownRef>,
    pub unassigned: bool,
    /// Cases of the campaign on `as_of`, by source then status (with `total`).
    #[schema(value_type = Object)]
    pub cases_by_source: BTreeMap<String, StatusCounts>,
    pub cases_total: i64,
    /// Cases still owing work (reported, registered, rectifying).
    pub open: i64,
    /// Cases entered in the period.
    pub opened_in_period: i64,
    /// Cases closed (销号) in the period.
    pub closed_in_period: i64,
    /// Cases dismissed in the period.
    pub dismissed_in_period: i64,
    pub overdue: Overdue,
    /// Cases on the ledger (registered or further, not dismissed): the denominator of the rates.
    pub on_ledger: i64,
    /// Share of the ledger rectified or further (rectified, accepted, closed).
    pub rectified_rate: Option<f64>,
    /// Share of the ledger accepted on site or closed.
    pub accepted_rate: Option<f64>,
    pub investigation: InvestigationSummary,
    /// Idle land (闲置土地) in the period: newly idle vs disposed, idle at the end.
    pub idle_land: Option<crate::parcels::service::IdleBalance>,
    /// Land supply (批而未供) in the period: the stock to supply, what was supplied, the rate.
    pub supply: Option<crate::approvals::service::SupplyRate>,
    /// Village projects (五到位) missing a step that was due by `as_of`.
    pub five_in_place: FiveInPlace,
    pub targets: Vec<TargetStatus>,
}

impl TownProgress {
    /// Nothing to report: no cases, no idle land, no land to supply, no projects missing steps.
    pub fn is_empty(&self) -> bool {
        let idle = self.idle_land.as_ref().is_some_and(|b| b.newly_idle + b.disposed + b.idle_at_end > 0);
        let supply = self.supply.as_ref().is_some_and(|s| {
            s.approvals > 0 || s.stock_at_start_m2 + s.approved_in_period_m2 + s.supplied_in_period_m2 > 0.0
        });
        self.cases_total == 0 && !idle && !supply && self.five_in_place.projects_missing_steps == 0
    }
}

/// Five-in-place (五到位) gaps.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct FiveInPlace {
    pub projects_missing_steps: i64,
    /// Each project with the steps it misses (in the town sections; empty in the district total).
    pub projects: Vec<crate::projects::service::ProjectGap>,
}

/// Open cases past their deadline.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Overdue {
    pub count: i64,
    pub max_days: i64,
    pub total_days: i64,
    /// Most overdue first (in the town sections; empty in the district total).
    pub cases: Vec<OverdueCase>,
}

/// One overdue case.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OverdueCase {
    pub id: Uuid,
    pub case_number: String,
    pub source: String,
    pub status: String,
    pub deadline: NaiveDate,
    pub days_overdue: i64,
}

/// 查事又查人: what was done about the people, not only the land.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct InvestigationSummary {
    /// Confiscated illegal gains, fen (0.01 yuan).
    pub confiscated_gains_fen: i64,
    pub cases_with_confiscation: i64,
    /// Disciplinary actions taken (entries).
    pub disciplinary_actions: i64,
    pub judicial_referrals: i64,
    /// Typical cases publicised.
    pub publicised: i64,
}

/// Where a target stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Achieved.
    Met,
    /// Not achieved yet, and the pace so far reaches it in time.
    OnTrack,
    /// Not achieved yet, and the pace so far does not reach it in time.
    AtRisk,
    /// Its deadline has passed without it.
    NotMet,
    /// Nothing to measure (no cases of the kind).
    NotApplicable,
}

/// One target, evaluated.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TargetStatus {
    pub kind: String,
    pub label: String,
    pub state: TargetState,
    /// The figures behind the state, in words.
    pub detail: String,
    pub deadline: Option<NaiveDate>,
}
