//! The case lifecycle: one table of who may move a case from which state to
//! which, used by the server to enforce and by clients to offer only what the
//! server will accept.
//!
//! `reported → registered (挂账) → rectifying → rectified → accepted (验收) → closed (销号)`,
//! `dismissed` from `reported`/`registered`, and `rectified → rectifying` when
//! acceptance fails.

/// Declares a string enum with wire names and an exhaustive list.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The wire and storage name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// Parses the wire and storage name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// Where a case came from.
    CaseSource {
        /// 卫片图斑: a change patch from satellite imagery; a lead until checked on site.
        Satellite = "satellite",
        /// 历史遗留: an older violation that still exists.
        Legacy = "legacy",
        /// 新发生: found on patrol this year.
        Patrol = "patrol",
        /// 闲置土地: idle land.
        IdleLand = "idle_land",
        /// 群众举报: a public tip.
        Tip = "tip",
    }
);

wire_enum!(
    /// Where a case is in its lifecycle.
    CaseStatus {
        Reported = "reported",
        /// 挂账: on the ledger.
        Registered = "registered",
        Rectifying = "rectifying",
        Rectified = "rectified",
        /// 验收: passed on-site acceptance.
        Accepted = "accepted",
        /// 销号: cancelled from the ledger.
        Closed = "closed",
        /// Not a violation, or a duplicate.
        Dismissed = "dismissed",
    }
);

wire_enum!(
    /// What a user may do.
    Role {
        /// 巡查人员: field staff on phones.
        Inspector = "inspector",
        /// 镇街: a town office, bound to one town.
        TownOfficer = "town_officer",
        /// 领导小组: the leadership group, who verify on site.
        Verifier = "verifier",
        /// 区国土分局: the district bureau.
        BureauAdmin = "bureau_admin",
    }
);

impl CaseStatus {
    /// Whether work on the case is still owed (so its deadline matters).
    pub fn is_open(self) -> bool {
        matches!(self, CaseStatus::Reported | CaseStatus::Registered | CaseStatus::Rectifying)
    }
}

/// One row of the lifecycle table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transition {
    pub from: CaseStatus,
    pub to: CaseStatus,
    /// Roles allowed to make it (within their scope).
    pub roles: &'static [Role],
    /// What the transition means.
    pub meaning: &'static str,
}

use CaseStatus as S;
use Role as R;

/// The lifecycle table: the one place that says who may move a case where.
pub const TRANSITIONS: &[Transition] = &[
    Transition {
        from: S::Reported,
        to: S::Registered,
        roles: &[R::TownOfficer, R::BureauAdmin],
        meaning: "register on the ledger (挂账); a satellite lead needs an on-site check with result `illegal` first",
    },
    Transition {
        from: S::Reported,
        to: S::Dismissed,
        roles: &[R::TownOfficer, R::BureauAdmin],
        meaning: "not a violation, a false change or a duplicate; reason required",
    },
    Transition {
        from: S::Registered,
        to: S::Dismissed,
        roles: &[R::BureauAdmin],
        meaning: "registered in error or duplicate; reason required",
    },
    Transition {
        from: S::Registered,
        to: S::Rectifying,
        roles: &[R::TownOfficer, R::BureauAdmin],
        meaning: "rectification ordered (penalty and legalisation, or demolition)",
    },
    Transition {
        from: S::Rectifying,
        to: S::Rectified,
        roles: &[R::Inspector, R::TownOfficer, R::BureauAdmin],
        meaning: "rectification done, ready for acceptance; a forced demolition needs notice served and the leadership group informed",
    },
    Transition {
        from: S::Rectified,
        to: S::Accepted,
        roles: &[R::Verifier],
        meaning: "passed on-site acceptance (验收) by the leadership group",
    },
    Transition {
        from: S::Rectified,
        to: S::Rectifying,
        roles: &[R::Verifier],
        meaning: "failed on-site acceptance: back to rectification",
    },
    Transition {
        from: S::Accepted,
        to: S::Closed,
        roles: &[R::BureauAdmin],
        meaning: "cancelled from the ledger (销号)",
    },
];

/// The table row for `from → to`, if the lifecycle has one.
pub fn transition(from: CaseStatus, to: CaseStatus) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|t| t.from == from && t.to == to)
}

/// The targets a role may move a case to from `from`.
pub fn allowed_targets(from: CaseStatus, role: Role) -> Vec<CaseStatus> {
    TRANSITIONS.iter().filter(|t| t.from == from && t.roles.contains(&role)).map(|t| t.to).collect()
}

/// What a transition is checked against, besides the table.
#[derive(Clone, Copy, Debug)]
pub struct TransitionFacts<'a> {
    pub source: CaseSource,
    pub current: CaseStatus,
    pub from: CaseStatus,
    pub to: CaseStatus,
    pub role: Role,
    /// An on-site check with result `illegal` is recorded on the case.
    pub has_illegal_site_check: bool,
    /// The disposition is a forced demolition.
    pub forced_demolition: bool,
    /// The legal notice was served (告知).
    pub notice_served: bool,
    /// The leadership group was informed.
    pub leadership_reported: bool,
    /// The note given with the transition.
    pub note: Option<&'a str>,
}

/// Why a transition is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionDenied {
    #[error("the case is {current}, not {from}")]
    Conflict { current: CaseStatus, from: CaseStatus },
    #[error("there is no transition from {from} to {to}")]
    NoSuchTransition { from: CaseStatus, to: CaseStatus },
    #[error("the role {role} may not move a case from {from} to {to}")]
    RoleNotAllowed { role: Role, from: CaseStatus, to: CaseStatus },
    #[error("a satellite lead needs an on-site check with result `illegal` before it is registered")]
    SiteCheckRequired,
    #[error("a forced demolition needs the legal notice served and the leadership group informed first")]
    ForcedDemolitionUnprepared,
    #[error("dismissing a case needs a reason")]
    ReasonRequired,
}

impl TransitionDenied {
    /// The stable error code for this refusal.
    pub fn code(self) -> crate::ErrorCode {
        use crate::ErrorCode as E;
        match self {
            TransitionDenied::Conflict { .. } => E::TransitionConflict,
            TransitionDenied::NoSuchTransition { .. } => E::InvalidTransition,
            TransitionDenied::RoleNotAllowed { .. } => E::TransitionForbidden,
            TransitionDenied::SiteCheckRequired => E::SiteCheckRequired,
            TransitionDenied::ForcedDemolitionUnprepared => E::ForcedDemolitionUnprepared,
            TransitionDenied::ReasonRequired => E::ReasonRequired,
        }
    }
}

/// Checks a requested transition against the table and the case's facts.
/// Scope (which town) is checked by the caller.
pub fn check_transition(f: &TransitionFacts<'_>) -> Result<&'static Transition, TransitionDenied> {
    let row = transition(f.from, f.to).ok_or(TransitionDenied::NoSuchTransition { from: f.from, to: f.to })?;
    if f.current != f.from {
        return Err(TransitionDenied::Conflict { current: f.current, from: f.from });
    }
    if !row.roles.contains(&f.role) {
        return Err(TransitionDenied::RoleNotAllowed { role: f.role, from: f.from, to: f.to });
    }
    if f.to == S::Registered && f.source == CaseSource::Satellite && !f.has_illegal_site_check {
        return Err(TransitionDenied::SiteCheckRequired);
    }
    if f.to == S::Rectified && f.forced_demolition && !(f.notice_served && f.leadership_reported) {
        return Err(TransitionDenied::ForcedDemolitionUnprepared);
    }
    if f.to == S::Dismissed && f.note.is_none_or(|n| n.trim().is_empty()) {
        return Err(TransitionDenied::ReasonRequired);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(from: CaseStatus, to: CaseStatus, role: Role) -> TransitionFacts<'static> {
        TransitionFacts {
            source: CaseSource::Patrol,
            current: from,
            from,
            to,
            role,
            has_illegal_site_check: false,
            forced_demolition: false,
            notice_served: false,
            leadership_reported: false,
            note: Some("ok"),
        }
    }

    #[test]
    fn table_has_no_duplicate_rows_and_every_status_is_reachable() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            for b in &TRANSITIONS[i + 1..] {
                assert!(!(a.from == b.from && a.to == b.to), "duplicate {a:?}");
            }
            assert!(!a.roles.is_empty());
        }
        for s in CaseStatus::ALL {
            if *s != CaseStatus::Reported {
                assert!(TRANSITIONS.iter().any(|t| t.to == *s), "{s} unreachable");
            }
        }
    }

    #[test]
    fn happy_path_with_roles() {
        use CaseStatus::*;
        let path = [
            (Reported, Registered, Role::TownOfficer),
            (Registered, Rectifying, Role::TownOfficer),
            (Rectifying, Rectified, Role::Inspector),
            (Rectified, Accepted, Role::Verifier),
            (Accepted, Closed, Role::BureauAdmin),
        ];
        for (from, to, role) in path {
            assert!(check_transition(&facts(from, to, role)).is_ok(), "{from}->{to}");
        }
    }

    #[test]
    fn refusals_have_their_codes() {
        use CaseStatus::*;
        let f = facts(Closed, Rectifying, Role::BureauAdmin);
        assert_eq!(check_transition(&f).unwrap_err().code(), crate::ErrorCode::InvalidTransition);
        let f = facts(Rectified, Accepted, Role::TownOfficer);
        assert_eq!(check_transition(&f).unwrap_err().code(), crate::ErrorCode::TransitionForbidden);
        let mut f = facts(Reported, Registered, Role::TownOfficer);
        f.current = Dismissed;
        assert_eq!(
            check_transition(&f).unwrap_err(),
            TransitionDenied::Conflict { current: Dismissed, from: Reported }
        );
        let mut f = facts(Reported, Registered, Role::TownOfficer);
        f.source = CaseSource::Satellite;
        assert_eq!(check_transition(&f).unwrap_err(), TransitionDenied::SiteCheckRequired);
        f.has_illegal_site_check = true;
        assert!(check_transition(&f).is_ok());
        let mut f = facts(Rectifying, Rectified, Role::TownOfficer);
        f.forced_demolition = true;
        f.notice_served = true;
        assert_eq!(check_transition(&f).unwrap_err(), TransitionDenied::ForcedDemolitionUnprepared);
        f.leadership_reported = true;
        assert!(check_transition(&f).is_ok());
        let mut f = facts(Reported, Dismissed, Role::TownOfficer);
        f.note = Some("  ");
        assert_eq!(check_transition(&f).unwrap_err(), TransitionDenied::ReasonRequired);
    }

    #[test]
    fn allowed_targets_follow_the_table() {
        assert_eq!(
            allowed_targets(CaseStatus::Rectified, Role::Verifier),
            vec![CaseStatus::Accepted, CaseStatus::Rectifying]
        );
        assert!(allowed_targets(CaseStatus::Closed, Role::BureauAdmin).is_empty());
    }
}
