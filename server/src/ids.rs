//! Record ids on the wire: UUIDs, or WatermelonDB's 16-character ids.
//!
//! A WatermelonDB id is 16 ASCII letters and digits, exactly the 16 bytes of a
//! UUID, so it is stored as the UUID with those bytes and given back unchanged.
//! The mapping cannot collide with a real UUID: the variant bits of every RFC
//! 4122/9562 UUID put its byte 8 at 0x80 or above, never an ASCII character.

use uuid::Uuid;

/// A record id in a path: a UUID or the 16-character WatermelonDB id of a
/// record made on a phone (the same record either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordId(pub Uuid);

/// Either form of a record id, as the OpenAPI document describes it.
pub const RECORD_ID_PATTERN: &str =
    "^([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[A-Za-z0-9]{16})$";

impl utoipa::PartialSchema for RecordId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(RECORD_ID_PATTERN))
            .description(Some(
                "A record id: its UUID, or the 16-character WatermelonDB id of a record made on a phone (the UUID whose 16 bytes are those characters)",
            ))
            .examples(["0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0"])
            .into()
    }
}

impl utoipa::ToSchema for RecordId {}

impl<'de> serde::Deserialize<'de> for RecordId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        parse(&s).map(RecordId).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is neither a UUID nor a 16-character WatermelonDB id"))
        })
    }
}

/// The stored id of a wire id (a UUID, or a WatermelonDB id).
pub fn parse(id: &str) -> Option<Uuid> {
    if id.len() == 16 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(id.as_bytes());
        return Some(Uuid::from_bytes(bytes));
    }
    Uuid::parse_str(id).ok()
}

/// The wire form of a stored id: the WatermelonDB id it came from, or the UUID.
pub fn wire(id: Uuid) -> String {
    let bytes = id.as_bytes();
    if bytes.iter().all(u8::is_ascii_alphanumeric) {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermelon_ids_round_trip_and_uuids_stay_uuids() {
        let wm = "a1B2c3D4e5F6g7H8";
        let u = parse(wm).unwrap();
        assert_eq!(wire(u), wm);
        let v7 = Uuid::now_v7();
        assert_eq!(parse(&v7.to_string()), Some(v7));
        assert_eq!(wire(v7), v7.to_string());
        let v4 = Uuid::new_v4();
        assert_eq!(wire(v4), v4.to_string());
        assert!(parse("short").is_none());
        assert!(parse("a1B2c3D4e5F6g7H!").is_none());
        let r: RecordId = serde_json::from_value(serde_json::json!(wm)).unwrap();
        assert_eq!(r.0, u);
        assert!(serde_json::from_value::<RecordId>(serde_json::json!("nope")).is_err());
    }
}
