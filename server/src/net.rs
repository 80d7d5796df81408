//! What the server knows of the client at the other end of a request.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The client's address: the first `X-Forwarded-For` entry when the
/// installation says a proxy it trusts sets it (`tips.trust_forwarded_for`),
/// else the peer address of the connection.
pub fn client_addr(req: &HttpRequest, trust_forwarded_for: bool) -> Option<String> {
    if trust_forwarded_for
        && let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .and_then(|v| v.parse::<IpAddr>().ok())
    {
        return Some(first.to_string());
    }
    req.peer_addr().map(|a| a.ip().to_string())
}
