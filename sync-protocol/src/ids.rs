//! Typed ids: a `CaseId` can never be passed where a `TownId` is expected.

use std::fmt;
use std::str::FromStr;

/// Declares a UUID newtype with serde, parsing and display.
macro_rules! typed_id {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7), as clients create offline.
            pub fn new_v7() -> Self {
                Self(uuid::Uuid::now_v7())
            }
            /// The underlying UUID.
            pub fn uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(value: uuid::Uuid) -> Self {
                Self(value)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

typed_id!(
    /// A user account.
    UserId,
    /// A registered phone or browser.
    DeviceId,
    /// A town (镇/街道), the unit of territorial responsibility.
    TownId,
    /// A case (图斑/案件).
    CaseId,
    /// An enforcement campaign.
    CampaignId,
    /// An inspection (patrol, site check, rectification check, acceptance).
    InspectionId,
    /// A sync operation made by a device.
    OpId,
);

/// The namespace for town ids derived from their official division codes, so
/// that every installation gives the same town the same id.
pub const TOWN_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6c61_6e64_7061_7472_6f6c_2d74_6f77_6e73);

impl TownId {
    /// The stable id of a town with the given official division code.
    pub fn from_code(code: &str) -> Self {
        Self(uuid::Uuid::new_v5(&TOWN_NAMESPACE, code.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn town_ids_are_stable_per_code() {
        assert_eq!(TownId::from_code("120115001"), TownId::from_code("120115001"));
        assert_ne!(TownId::from_code("120115001"), TownId::from_code("120115002"));
    }

    #[test]
    fn ids_round_trip_through_json_as_strings() {
        let id = CaseId::new_v7();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: CaseId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!("not-a-uuid".parse::<CaseId>().is_err());
    }
}
