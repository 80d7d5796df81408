//! Open311 GeoReport v2 at `/open311/v2/`, JSON and XML, on top of the tips
//! service: the services are the violation types, a service request is a
//! tip (channel `open311`), its status `open`/`closed` follows the tip and
//! its case.

pub mod docs;
pub mod format;
pub mod routes;

use chrono::{DateTime, SecondsFormat, Utc};
use landpatrol_sync::{CaseStatus, Crs, GeoPoint, ViolationType};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::db::entities::{cases, tips};
use crate::state::AppState;
use crate::tips::service::{Submission, check_contact, check_header, public_status};
use crate::tips::types::{CASE_CREATED, Contact, MERGED, RECEIVED, REJECTED};
use format::O311Error;

/// When this implementation's discovery document last changed.
pub const CHANGESET: &str = "2026-11-28T00:00:00Z";
/// The group every service belongs to.
pub const GROUP: &str = "land_use";

/// The kind of answer an attribute takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrType {
    /// A non-negative number.
    Number,
    /// A whole number 0..=200.
    Storeys,
    /// `yes` or `no`.
    YesNo,
}

/// One question of a service definition.
#[derive(Clone, Copy, Debug)]
pub struct Attribute {
    pub code: &'static str,
    pub kind: AttrType,
    pub description: &'static str,
}

const AREA: Attribute = Attribute {
    code: "area_m2",
    kind: AttrType::Number,
    description: "Approximate area affected, in square metres (面积，平方米)",
};
const STOREYS: Attribute = Attribute {
    code: "building_storeys",
    kind: AttrType::Storeys,
    description: "Storeys of the building, 0 if none yet (建筑层数)",
};
const ONGOING: Attribute =
    Attribute { code: "ongoing", kind: AttrType::YesNo, description: "Is work still going on? (是否正在施工)" };

/// One Open311 service: a violation type.
#[derive(Clone, Copy, Debug)]
pub struct Service {
    pub violation: ViolationType,
    pub name_en: &'static str,
    pub name_zh: &'static str,
    pub description: &'static str,
    pub keywords: &'static str,
    pub attributes: &'static [Attribute],
}

/// Every service, one per violation type.
pub const SERVICES: &[Service] = &[
    Service {
        violation: ViolationType::BuiltWithoutApproval,
        name_en: "Building without approval",
        name_zh: "未批先建",
        description: "Land occupied or built on before any approval: new houses, sheds, walls, hardened ground.",
        keywords: "illegal construction,building,未批先建,违法建设",
        attributes: &[AREA, STOREYS, ONGOING],
    },
    Service {
        violation: ViolationType::BeyondApproval,
        name_en: "Occupying more land than approved",
        name_zh: "少批多占",
        description: "A project with approval that uses more land than it was granted.",
        keywords: "beyond approval,over-occupation,少批多占",
        attributes: &[AREA, STOREYS, ONGOING],
    },
    Service {
        violation: ViolationType::FarmlandOccupation,
        name_en: "Farmland occupation",
        name_zh: "非法占用耕地",
        description: "Cultivated land used for building, storage, parking or other non-farm use.",
        keywords: "farmland,cultivated land,耕地,占用耕地",
        attributes: &[AREA, ONGOING],
    },
    Service {
        violation: ViolationType::AquacultureOnFarmland,
        name_en: "Fish ponds on basic farmland",
        name_zh: "挖塘养鱼",
        description: "Ponds dug for aquaculture on basic (protected) farmland.",
        keywords: "fish pond,aquaculture,挖塘养鱼,基本农田",
        attributes: &[AREA, ONGOING],
    },
    Service {
        violation: ViolationType::IllegalTransfer,
        name_en: "Illegal transfer of land",
        name_zh: "非法转让土地",
        description: "Land use rights sold, leased or transferred without approval.",
        keywords: "transfer,sale,lease,非法转让",
        attributes: &[],
    },
    Service {
        violation: ViolationType::IdleLand,
        name_en: "Idle land",
        name_zh: "闲置土地",
        description: "Granted construction land left unused past its start date.",
        keywords: "idle land,unused,闲置土地",
        attributes: &[AREA],
    },
    Service {
        violation: ViolationType::Other,
        name_en: "Other land-use violation",
        name_zh: "其他违法用地",
        description: "Anything else about land use that looks wrong.",
        keywords: "other,其他",
        attributes: &[],
    },
];

/// The service of a code.
pub fn service(code: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.violation.as_str() == code)
}

impl Service {
    pub fn name(&self) -> String {
        format!("{} ({})", self.name_en, self.name_zh)
    }

    /// The `services` entry.
    pub fn summary(&self) -> Value {
        json!({
            "service_code": self.violation.as_str(),
            "service_name": self.name(),
            "description": self.description,
            "metadata": !self.attributes.is_empty(),
            "type": "realtime",
            "keywords": self.keywords,
            "group": GROUP,
        })
    }

    /// The service definition: its attributes.
    pub fn definition(&self) -> Value {
        let attributes: Vec<Value> = self
            .attributes
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut v = json!({
                    "variable": true,
                    "code": a.code,
                    "datatype": match a.kind { AttrType::YesNo => "singlevaluelist", _ => "number" },
                    "required": false,
                    "datatype_description": match a.kind {
                        AttrType::Number => "a number of square metres, 0 or more",
                        AttrType::Storeys => "a whole number 0 to 200",
                        AttrType::YesNo => "yes or no",
                    },
                    "order": i + 1,
                    "description": a.description,
                });
                if a.kind == AttrType::YesNo {
                    v["values"] = json!([{ "key": "yes", "name": "Yes (是)" }, { "key": "no", "name": "No (否)" }]);
                }
                v
            })
            .collect();
        json!({ "service_code": self.violation.as_str(), "attributes": attributes })
    }

    /// Checks one `attribute[code]` answer.
    fn check(&self, code: &str, value: &str) -> Result<Value, O311Error> {
        let a = self.attributes.iter().find(|a| a.code == code).ok_or_else(|| {
            O311Error::new(400, format!("attribute[{code}] is not an attribute of service {}", self.violation))
        })?;
        let v = value.trim();
        let bad = || O311Error::new(400, format!("attribute[{code}]: {v:?} is not {}", a.description));
        match a.kind {
            AttrType::Number => {
                let n: f64 = v.parse().map_err(|_| bad())?;
                if !(0.0..=1.0e9).contains(&n) {
                    return Err(bad());
                }
                Ok(json!(n))
            }
            AttrType::Storeys => {
                let n: u32 = v.parse().map_err(|_| bad())?;
                if n > 200 {
                    return Err(bad());
                }
                Ok(json!(n))
            }
            AttrType::YesNo => match v {
                "yes" | "no" => Ok(json!(v)),
                _ => Err(bad()),
            },
        }
    }
}

fn fields<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

fn too_long(name: &str, v: &str, max: usize) -> Result<(), O311Error> {
    if v.chars().count() > max {
        return Err(O311Error::new(400, format!("{name} is longer than {max} characters")));
    }
    Ok(())
}

/// Checks a form-encoded `POST requests` and makes it a tip submission.
pub fn submission(
    state: &AppState,
    pairs: &[(String, String)],
    client_addr: Option<String>,
) -> Result<Submission, O311Error> {
    let key = fields(pairs, "api_key").ok_or_else(|| O311Error::new(403, "api_key is required"))?;
    if !state.settings.tips.open311_api_keys.iter().any(|k| k == key) {
        return Err(O311Error::new(403, "api_key is not valid"));
    }
    let code = fields(pairs, "service_code").ok_or_else(|| O311Error::new(400, "service_code is required"))?;
    let svc = service(code).ok_or_else(|| O311Error::new(400, format!("service_code {code:?} is not a service")))?;
    let (lat, lon) = match (fields(pairs, "lat"), fields(pairs, "long")) {
        (Some(lat), Some(lon)) => (lat, lon),
        (None, None) => {
            return Err(O311Error::new(
                400,
                "location required: send lat and long (WGS-84); address_string or address_id alone can not be placed",
            ));
        }
        _ => return Err(O311Error::new(400, "location required: send both lat and long")),
    };
    let coord = |name: &str, v: &str| {
        v.parse::<f64>().map_err(|_| O311Error::new(400, format!("{name} {v:?} is not a number of degrees")))
    };
    let point = GeoPoint::wgs84(coord("long", lon)?, coord("lat", lat)?)
        .map_err(|e| O311Error::new(400, format!("location: {e}")))?;
    let mut attributes = Map::new();
    for (k, v) in pairs {
        if let Some(code) = k.strip_prefix("attribute[").and_then(|r| r.strip_suffix(']')) {
            if v.trim().is_empty() {
                continue;
            }
            attributes.insert(code.to_owned(), svc.check(code, v)?);
        }
    }
    let description = match fields(pairs, "description") {
        Some(d) => {
            too_long("description", d, 4000)?;
            d.to_owned()
        }
        None => svc.name(),
    };
    let address = fields(pairs, "address_string").unwrap_or_default().to_owned();
    too_long("address_string", &address, 500)?;
    for extra in ["address_id", "account_id"] {
        if let Some(v) = fields(pairs, extra) {
            too_long(extra, v, 200)?;
            attributes.insert(format!("_{extra}"), json!(v));
        }
    }
    let media_url = match fields(pairs, "media_url") {
        Some(u) => {
            too_long("media_url", u, 2000)?;
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() > 8
                && !u.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(O311Error::new(400, "media_url must be an http or https URL"));
            }
            Some(u.to_owned())
        }
        None => None,
    };
    let name = [fields(pairs, "first_name"), fields(pairs, "last_name")].into_iter().flatten().collect::<Vec<_>>();
    let contact = check_contact(Some(Contact {
        name: (!name.is_empty()).then(|| name.join(" ")),
        phone: fields(pairs, "phone").map(str::to_owned),
        email: fields(pairs, "email").map(str::to_owned),
    }))
    .map_err(O311Error::from)?;
    let device_id = check_header("device_id", fields(pairs, "device_id"), 100).map_err(O311Error::from)?;
    let mut sorted: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "api_key").collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    hasher.update(b"open311\n");
    for (k, v) in sorted {
        hasher.update(k.as_bytes());
        hasher.update(b"=");
        hasher.update(v.as_bytes());
        hasher.update(b"\n");
    }
    Ok(Submission {
        channel: "open311",
        point,
        input_crs: Crs::Wgs84,
        description,
        address,
        service_code: Some(svc.violation.as_str().to_owned()),
        attributes: Value::Object(attributes),
        media_url,
        contact,
        photos: Vec::new(),
        client_addr,
        device_id,
        idempotency_key: None,
        request_hash: hex::encode(hasher.finalize()),
        created_by: None,
    })
}

fn datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `open` or `closed`, from the tip and its case.
pub fn status(tip: &tips::Model, case: Option<&cases::Model>) -> &'static str {
    if public_status(tip, case) == "closed" { "closed" } else { "open" }
}

/// A service request as the public sees it (never the reporter's contact).
pub fn request_view(state: &AppState, tip: &tips::Model, case: Option<&cases::Model>) -> Value {
    let number = case.map(|c| c.case_number.as_str()).unwrap_or("");
    let case_status = case.and_then(|c| CaseStatus::parse(&c.status));
    let notes = match tip.status.as_str() {
        RECEIVED => "Received; the town office will look into it.".to_owned(),
        REJECTED => "Not taken up.".to_owned(),
        CASE_CREATED | MERGED => match case_status {
            Some(CaseStatus::Closed) => format!("Case {number} was closed after rectification and acceptance."),
            Some(CaseStatus::Dismissed) => format!("Case {number} was dismissed."),
            _ if tip.status == CASE_CREATED => format!("Case {number} was opened."),
            _ => format!("Added to case {number}, already under way."),
        },
        _ => String::new(),
    };
    let agency = match tip.town_id.and_then(|t| state.towns.get(t)) {
        Some(t) => t.name,
        None => "宝坻区规划和自然资源局 (Baodi District bureau)".to_owned(),
    };
    let updated = match case {
        Some(c) if c.updated_at > tip.updated_at => c.updated_at,
        _ => tip.updated_at,
    };
    let svc = tip.service_code.as_deref().and_then(service);
    json!({
        "service_request_id": tip.id.to_string(),
        "status": status(tip, case),
        "status_notes": notes,
        "service_name": svc.map(Service::name),
        "service_code": tip.service_code,
        "description": tip.description,
        "agency_responsible": agency,
        "service_notice": "",
        "requested_datetime": datetime(tip.created_at),
        "updated_datetime": datetime(updated),
        "expected_datetime": case.and_then(|c| c.deadline).map(|d| format!("{d}T23:59:59+08:00")),
        "address": tip.address,
        "address_id": tip.attributes.get("_address_id"),
        "zipcode": null,
        "lat": tip.lat,
        "long": tip.lon,
        "media_url": tip.media_url,
    })
}

/// The notice a new request is answered with.
pub fn notice(state: &AppState, tip: &tips::Model) -> String {
    match tip.town_id.and_then(|t| state.towns.get(t)) {
        Some(t) => format!("Received. The {} office handles reports at this place.", t.name),
        None => "Received. The place is outside every town; the district bureau handles it.".to_owned(),
    }
}
