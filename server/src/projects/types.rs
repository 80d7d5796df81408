//! Wire types of `/projects`.

use chrono::{DateTime, NaiveDate, Utc};
use landpatrol_sync::GeoPoint;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::towns::TownRef;

/// The five steps (五到位) of a village construction project, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStep {
    /// 选址踏勘到位: site selection survey; due before the planned start.
    SiteSelection,
    /// 审批到位: approval; due before the planned start.
    Approval,
    /// 放线到位: staking out the lines; due before the planned start.
    Staking,
    /// 施工巡查到位: construction supervision; due by the planned start + 30 days.
    ConstructionSupervision,
    /// 竣工验收到位: completion acceptance; due by the planned end.
    CompletionAcceptance,
}

impl ProjectStep {
    /// Every step, in order.
    pub const ALL: &'static [ProjectStep] = &[
        ProjectStep::SiteSelection,
        ProjectStep::Approval,
        ProjectStep::Staking,
        ProjectStep::ConstructionSupervision,
        ProjectStep::CompletionAcceptance,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStep::SiteSelection => "site_selection",
            ProjectStep::Approval => "approval",
            ProjectStep::Staking => "staking",
            ProjectStep::ConstructionSupervision => "construction_supervision",
            ProjectStep::CompletionAcceptance => "completion_acceptance",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    /// Whether the step is overdue on `as_of` when not done: the first three
    /// are due before `planned_start` (missing from that day on), the fourth
    /// by `planned_start` + 30 days, the fifth by `planned_end` (missing the
    /// day after).
    pub fn overdue(self, planned_start: NaiveDate, planned_end: NaiveDate, as_of: NaiveDate) -> bool {
        match self {
            ProjectStep::SiteSelection | ProjectStep::Approval | ProjectStep::Staking => as_of >= planned_start,
            ProjectStep::ConstructionSupervision => {
                planned_start.checked_add_days(chrono::Days::new(30)).is_some_and(|due| as_of > due)
            }
            ProjectStep::CompletionAcceptance => as_of > planned_end,
        }
    }
}

/// A project to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "东刘庄村文化活动中心", "village": "东刘庄村", "town": "120115001",
    "location": {"lon": 117.295129, "lat": 39.733503, "crs": "wgs84"}, "planned_start": "2017-04-01", "planned_end": "2017-09-30"}))]
pub struct NewProject {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub village: String,
    /// Town id or code; when left out, the town containing `location`.
    pub town: Option<String>,
    pub location: GeoPoint,
    pub planned_start: NaiveDate,
    /// On or after `planned_start`.
    pub planned_end: NaiveDate,
}

/// A step to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"step": "site_selection", "done_on": "2017-03-10", "person": "王建国 (镇国土所)",
    "note": "选址不占基本农田", "photos": ["9f2c4e1d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"]}))]
pub struct NewStep {
    /// One of the five steps.
    #[schema(value_type = ProjectStep)]
    pub step: String,
    /// Not after today.
    pub done_on: NaiveDate,
    /// Who was in place, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub person: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
    /// SHA-256 hashes of photos (upload them with `PUT /photos/{sha256}`).
    #[serde(default)]
    #[schema(value_type = Vec<crate::photos::types::PhotoHash>, max_items = 100)]
    pub photos: Vec<String>,
}

/// A recorded step.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StepView {
    pub id: Uuid,
    pub step: ProjectStep,
    pub done_on: NaiveDate,
    pub person: String,
    pub note: String,
    pub photos: Vec<String>,
    pub recorded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A project with its steps and the steps missing as of today.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f5e-8a2b-7c3d-9e4f-5a6b7c8d9e02", "name": "东刘庄村文化活动中心", "village": "东刘庄村",
    "town_id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "town": {"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道"},
    "location": {"lon": 117.295129, "lat": 39.733503}, "planned_start": "2017-04-01", "planned_end": "2017-09-30",
    "steps": [{"id": "01936f5e-8a2b-7c3d-9e4f-5a6b7c8d9e03", "step": "site_selection", "done_on": "2017-03-10", "person": "王建国 (镇国土所)",
               "note": "选址不占基本农田", "photos": [], "recorded_by": "01936f5e-0000-7000-8000-000000000001", "created_at": "2017-03-10T06:00:00Z"}],
    "missing": ["approval", "staking", "construction_supervision", "completion_acceptance"],
    "created_at": "2017-03-01T02:00:00Z", "updated_at": "2017-03-10T06:00:00Z"}))]
pub struct ProjectView {
    pub id: Uuid,
    pub name: String,
    pub village: String,
    pub town_id: Uuid,
    pub town: Option<TownRef>,
    /// WGS-84.
    pub location: Location,
    pub planned_start: NaiveDate,
    pub planned_end: NaiveDate,
    /// In step order.
    pub steps: Vec<StepView>,
    /// Steps due by today and not recorded.
    pub missing: Vec<ProjectStep>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A WGS-84 position.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
}

/// A page of projects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectPage {
    pub items: Vec<ProjectView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Project list filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    /// Town id or code (a town office: its own).
    pub town: Option<String>,
    /// Page size (default 100), oldest first.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page (empty: the first page).
    #[param(pattern = "^(|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub cursor: Option<String>,
}
