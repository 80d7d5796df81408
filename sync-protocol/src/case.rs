//! Case attributes shared by server and clients.

use crate::lifecycle::wire_enum;

wire_enum!(
    /// The land's standing against the land-use master plan.
    LandClass {
        /// 圈内: conforms (rural homestead, public facilities, public welfare) → penalty, then legalisation.
        InsidePlan = "inside_plan",
        /// 圈外: does not conform → demolition.
        OutsidePlan = "outside_plan",
        /// 基本农田: basic farmland (e.g. aquaculture ponds dug on it) → demolition.
        BasicFarmland = "basic_farmland",
    }
);

wire_enum!(
    /// What kind of violation it is.
    ViolationType {
        /// 未批先建: occupied or built without approval.
        BuiltWithoutApproval = "built_without_approval",
        /// 少批多占: occupied more than approved.
        BeyondApproval = "beyond_approval",
        /// 非法占用耕地: farmland occupied for non-farm use.
        FarmlandOccupation = "farmland_occupation",
        /// 挖塘养鱼: aquaculture dug on basic farmland.
        AquacultureOnFarmland = "aquaculture_on_farmland",
        /// 非法转让: illegal transfer of land use rights.
        IllegalTransfer = "illegal_transfer",
        /// 闲置: idle land past its construction start date.
        IdleLand = "idle_land",
        Other = "other",
    }
);

wire_enum!(
    /// How the case is to be put right.
    Disposition {
        /// 罚款后补办用地手续: penalty, then legalisation (inside the plan).
        LegaliseAfterPenalty = "legalise_after_penalty",
        /// 自拆: the party demolishes.
        DemolishSelf = "demolish_self",
        /// 强拆: forced demolition; needs a served notice and a report to the leadership group first.
        DemolishForced = "demolish_forced",
    }
);

wire_enum!(
    /// The kind of an inspection.
    InspectionKind {
        /// 动态巡查: a routine patrol.
        Patrol = "patrol",
        /// 实地核查: checking a lead on site.
        SiteCheck = "site_check",
        /// Checking the progress or result of rectification.
        RectificationCheck = "rectification_check",
        /// 验收: on-site acceptance by the leadership group.
        Acceptance = "acceptance",
    }
);

wire_enum!(
    /// The result an inspection records.
    InspectionResult {
        /// Site check: an illegal land use.
        Illegal = "illegal",
        /// Site check: an approved, legal use.
        Legal = "legal",
        /// Site check: 实地伪变化, the imagery changed but the ground did not.
        FalseChange = "false_change",
        /// Rectification check or acceptance: passed.
        Passed = "passed",
        /// Rectification check or acceptance: failed.
        Failed = "failed",
    }
);

impl InspectionKind {
    /// The results this kind of inspection may record (empty: none).
    pub fn allowed_results(self) -> &'static [InspectionResult] {
        match self {
            InspectionKind::Patrol => &[],
            InspectionKind::SiteCheck => {
                &[InspectionResult::Illegal, InspectionResult::Legal, InspectionResult::FalseChange]
            }
            InspectionKind::RectificationCheck | InspectionKind::Acceptance => {
                &[InspectionResult::Passed, InspectionResult::Failed]
            }
        }
    }
}

impl Disposition {
    /// Whether the disposition fits the land class: legalisation only inside the plan.
    pub fn fits(self, land: LandClass) -> bool {
        match self {
            Disposition::LegaliseAfterPenalty => land == LandClass::InsidePlan,
            Disposition::DemolishSelf | Disposition::DemolishForced => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for v in ViolationType::ALL {
            assert_eq!(ViolationType::parse(v.as_str()), Some(*v));
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(v.as_str()));
        }
        assert_eq!(LandClass::parse("basic_farmland"), Some(LandClass::BasicFarmland));
        assert!(InspectionKind::SiteCheck.allowed_results().contains(&InspectionResult::FalseChange));
        assert!(!Disposition::LegaliseAfterPenalty.fits(LandClass::BasicFarmland));
    }
}
