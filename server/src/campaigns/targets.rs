//! A campaign's measurable targets, as data: next year's campaign is
//! configuration, not code.

use landpatrol_sync::CaseSource;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};

/// One target of a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// Every case of these sources eliminated (rectified, accepted, closed or
    /// dismissed) by the campaign's deadline for its source.
    EliminateByDeadline { label: String, sources: Vec<CaseSource> },
    /// Idle land "cleared dynamically": parcels disposed in the campaign
    /// period outnumber parcels newly idle in it.
    IdleLandDynamicClearance { label: String },
    /// Approved-but-unsupplied land supplied in the campaign period at least
    /// at this rate (0–1): the area supplied in the period over the area
    /// unsupplied at its start plus the area approved in it.
    SupplyRate { label: String, min_rate: f64 },
    /// Cases of these sources rectified within their own deadline, at least
    /// this share of those whose deadline has come (0–1).
    RectifiedWithinDeadline { label: String, sources: Vec<CaseSource>, min_share: f64 },
}

impl Target {
    pub fn label(&self) -> &str {
        match self {
            Target::EliminateByDeadline { label, .. }
            | Target::IdleLandDynamicClearance { label }
            | Target::SupplyRate { label, .. }
            | Target::RectifiedWithinDeadline { label, .. } => label,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Target::EliminateByDeadline { .. } => "eliminate_by_deadline",
            Target::IdleLandDynamicClearance { .. } => "idle_land_dynamic_clearance",
            Target::SupplyRate { .. } => "supply_rate",
            Target::RectifiedWithinDeadline { .. } => "rectified_within_deadline",
        }
    }
}

/// The targets of the 2017 plan (违法违规用地治理年), used by a campaign that
/// names none.
pub fn standard() -> Vec<Target> {
    vec![
        Target::EliminateByDeadline {
            label: "卫片图斑 satellite cases eliminated by their deadline".into(),
            sources: vec![CaseSource::Satellite],
        },
        Target::EliminateByDeadline {
            label: "历史遗留 legacy cases eliminated by their deadline".into(),
            sources: vec![CaseSource::Legacy],
        },
        Target::IdleLandDynamicClearance { label: "闲置土地动态清零 idle land cleared dynamically".into() },
        Target::SupplyRate { label: "批而未供 supply rate at least 60%".into(), min_rate: 0.6 },
        Target::RectifiedWithinDeadline {
            label: "新发生 patrol discoveries rectified within their deadline".into(),
            sources: vec![CaseSource::Patrol],
            min_share: 1.0,
        },
    ]
}

/// Refuses targets that can not be evaluated.
pub fn check(targets: &[Target]) -> ApiResult<()> {
    if targets.len() > 50 {
        return Err(ApiError::field("targets", "at most 50 targets"));
    }
    for (i, t) in targets.iter().enumerate() {
        let field = format!("targets[{i}]");
        if t.label().trim().is_empty() || t.label().chars().count() > 200 {
            return Err(ApiError::field(&field, "a target's label must be 1 to 200 characters"));
        }
        match t {
            Target::EliminateByDeadline { sources, .. } | Target::RectifiedWithinDeadline { sources, .. }
                if sources.is_empty() =>
            {
                return Err(ApiError::field(&field, "name at least one case source"));
            }
            Target::SupplyRate { min_rate: r, .. } | Target::RectifiedWithinDeadline { min_share: r, .. }
                if !(r.is_finite() && (0.0..=1.0).contains(r)) =>
            {
                return Err(ApiError::field(&field, "rates and shares are between 0 and 1"));
            }
            _ => {}
        }
    }
    Ok(())
}
