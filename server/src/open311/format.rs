//! Open311 answers in JSON or XML from one JSON value, and the spec's error
//! bodies (`[{"code", "description"}]`, `<errors><error>…</error></errors>`).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use landpatrol_sync::ErrorCode;
use serde_json::{Value, json};

use crate::error::ApiError;

/// The two formats of every endpoint (the path's suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "json" => Some(Format::Json),
            "xml" => Some(Format::Xml),
            _ => None,
        }
    }
}

/// Escapes text for XML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow at all are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The element name of one item of a list named `plural` (`endpoints` → `endpoint`).
fn singular(plural: &str) -> &str {
    plural.strip_suffix('s').unwrap_or(plural)
}

fn write_value(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in map {
                write_value(out, k, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            for v in items {
                write_value(out, singular(name), v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        Value::Bool(b) => out.push_str(&format!("<{name}>{b}</{name}>")),
        Value::Number(n) => out.push_str(&format!("<{name}>{n}</{name}>")),
    }
}

/// A document: `root` holding `value`; a top-level list's items are `item`.
pub fn to_xml(root: &str, item: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    match value {
        Value::Array(items) => {
            out.push_str(&format!("<{root}>"));
            for v in items {
                write_value(&mut out, item, v);
            }
            out.push_str(&format!("</{root}>"));
        }
        other => write_value(&mut out, root, other),
    }
    out
}

/// An answer in the requested format. `root`/`item` name the XML elements.
pub fn respond(status: StatusCode, format: Format, root: &str, item: &str, value: &Value) -> HttpResponse {
    match format {
        Format::Json => HttpResponse::build(status).content_type("application/json; charset=utf-8").json(value),
        Format::Xml => {
            HttpResponse::build(status).content_type("text/xml; charset=utf-8").body(to_xml(root, item, value))
        }
    }
}

/// An Open311 error: an HTTP status and a description.
#[derive(Debug)]
pub struct O311Error {
    pub status: u16,
    pub description: String,
    /// Seconds for `Retry-After` (a 429).
    pub retry_after: Option<u64>,
}

impl O311Error {
    pub fn new(status: u16, description: impl Into<String>) -> Self {
        Self { status, description: description.into(), retry_after: None }
    }

    /// The answer in the spec's error format.
    pub fn respond(&self, format: Format) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!([{ "code": self.status, "description": self.description }]);
        let mut res = respond(status, format, "errors", "error", &body);
        if let Some(secs) = self.retry_after
            && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(actix_web::http::header::RETRY_AFTER, v);
        }
        res
    }
}

impl From<ApiError> for O311Error {
    /// Service errors in Open311 terms: what the client sent is a 400, a
    /// missing record a 404, limits 429, failures 500 (said once in the log).
    fn from(e: ApiError) -> Self {
        let status = e.code.http_status();
        match e.code {
            ErrorCode::RateLimited => Self {
                status: 429,
                description: e.message.clone(),
                retry_after: e.details.get("retry_after_secs").and_then(Value::as_u64).or(Some(5)),
            },
            ErrorCode::NotFound => Self::new(404, e.message),
            ErrorCode::ServiceUnavailable => Self::new(503, "the service is unavailable; retry later"),
            _ if status >= 500 => {
                tracing::error!(error = %e, "open311 request failed");
                Self::new(500, "internal error")
            }
            _ => {
                let field = e.details.get("field").and_then(Value::as_str);
                Self::new(
                    400,
                    match field {
                        Some(f) => format!("{f}: {}", e.message),
                        None => e.message,
                    },
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn renders_lists_objects_and_nulls() {
        let v = json!([{"code": 400, "description": "x < y", "formats": ["text/xml"], "zipcode": null}]);
        assert_eq!(
            to_xml("errors", "error", &v),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><errors><error><code>400</code><description>x &lt; y</description>\
             <formats><format>text/xml</format></formats><zipcode/></error></errors>"
        );
    }
}
