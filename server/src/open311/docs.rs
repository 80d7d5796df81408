//! The shapes of the Open311 answers, for the OpenAPI document only: the
//! handlers build these answers as JSON values (one value renders as JSON or
//! XML), so these types are never constructed. They mirror `mod.rs`
//! (`Service::summary`, `Service::definition`, `request_view`) and `routes.rs`.
#![allow(dead_code)]

use utoipa::ToSchema;

/// One Open311 error; an error answer is a list of them
/// (`[{"code": 404, "description": "…"}]`, in XML `<errors><error>…`).
#[derive(ToSchema)]
#[schema(as = Open311Error, example = json!({"code": 400, "description": "service_code is required"}))]
pub struct ErrorItem {
    /// The HTTP status.
    pub code: u16,
    pub description: String,
}

/// The discovery document.
#[derive(ToSchema)]
#[schema(as = Open311Discovery)]
pub struct Discovery {
    pub changeset: String,
    pub contact: String,
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

/// Where the GeoReport v2 endpoint is.
#[derive(ToSchema)]
#[schema(as = Open311Endpoint)]
pub struct Endpoint {
    pub specification: String,
    pub url: String,
    pub changeset: String,
    /// `production`.
    pub r#type: String,
    pub formats: Vec<String>,
}

/// A service: one violation type.
#[derive(ToSchema)]
#[schema(as = Open311Service)]
pub struct Service {
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    /// Whether the service has attributes (`services/{code}`).
    pub metadata: bool,
    /// `realtime`.
    pub r#type: String,
    pub keywords: String,
    pub group: String,
}

/// A service's definition.
#[derive(ToSchema)]
#[schema(as = Open311ServiceDefinition)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<Attribute>,
}

/// An attribute a request may answer (`attribute[code]=value`).
#[derive(ToSchema)]
#[schema(as = Open311Attribute)]
pub struct Attribute {
    pub variable: bool,
    pub code: String,
    /// `number` or `singlevaluelist`.
    pub datatype: String,
    pub required: bool,
    pub datatype_description: String,
    pub order: u32,
    pub description: String,
    /// The choices of a `singlevaluelist`.
    pub values: Option<Vec<AttributeValue>>,
}

/// One choice of a `singlevaluelist` attribute.
#[derive(ToSchema)]
#[schema(as = Open311AttributeValue)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// A service request (a public tip made through Open311), public fields only.
#[derive(ToSchema)]
#[schema(as = Open311ServiceRequest)]
pub struct ServiceRequest {
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: String,
    pub status_notes: String,
    pub service_name: Option<String>,
    pub service_code: Option<String>,
    pub description: String,
    pub agency_responsible: String,
    pub service_notice: String,
    pub requested_datetime: String,
    pub updated_datetime: String,
    pub expected_datetime: Option<String>,
    pub address: String,
    #[schema(value_type = Option<Object>)]
    pub address_id: Option<serde_json::Value>,
    pub zipcode: Option<String>,
    pub lat: f64,
    pub long: f64,
    pub media_url: Option<String>,
}

/// The answer to a new service request.
#[derive(ToSchema)]
#[schema(as = Open311RequestCreated)]
pub struct RequestCreated {
    pub service_request_id: String,
    pub service_notice: String,
    pub account_id: Option<String>,
}

/// The request id of a token.
#[derive(ToSchema)]
#[schema(as = Open311Token)]
pub struct Token {
    pub service_request_id: String,
    pub token: String,
}

/// The form of `POST requests` (`application/x-www-form-urlencoded`). Besides
/// these fields: `attribute[<code>]=<value>` for the service's attributes.
#[derive(ToSchema)]
#[schema(as = Open311RequestForm, example = json!({"api_key": "landpatrol-demo-key", "service_code": "farmland_occupation",
    "lat": 39.733503, "long": 117.295129, "description": "村东头耕地上正在盖两层砖房"}))]
pub struct RequestForm {
    /// A key the bureau gave out.
    pub api_key: String,
    pub service_code: String,
    /// WGS-84 latitude.
    pub lat: f64,
    /// WGS-84 longitude.
    pub long: f64,
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    #[schema(max_length = 500)]
    pub address_string: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[schema(max_length = 100)]
    pub device_id: Option<String>,
    /// An http or https URL of a photo.
    #[schema(max_length = 2000)]
    pub media_url: Option<String>,
}

/// The suffix of every Open311 path.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Open311Format)]
pub enum FormatName {
    Json,
    Xml,
}
