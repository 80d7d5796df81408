//! The console's and the tip page's files, built into the binary: no CDN, no
//! runtime download. Each answer carries the security headers (a strict
//! Content-Security-Policy: scripts and styles from this origin only, no
//! inline code, no framing) and an ETag, so a browser revalidates cheaply.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// One built-in file.
pub struct Asset {
    /// The path under the site's root (`index.html` for the root itself).
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($dir:literal, $name:literal, $ty:expr) => {
        Asset { name: $name, content_type: $ty, bytes: include_bytes!(concat!("../../web/", $dir, "/", $name)) }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
const WOFF2: &str = "font/woff2";

/// The console (`/console/`): town offices, the bureau, verifiers.
pub static CONSOLE: &[Asset] = &[
    asset!("console", "index.html", HTML),
    asset!("console", "app.js", JS),
    asset!("console", "api.js", JS),
    asset!("console", "map.js", JS),
    asset!("console", "i18n.js", JS),
    asset!("console", "style.css", CSS),
    asset!("console", "icon.svg", SVG),
    asset!("console", "cjk.woff2", WOFF2),
];

/// The public tip page (`/report-a-problem/`).
pub static REPORT: &[Asset] = &[
    asset!("report", "index.html", HTML),
    asset!("report", "report.js", JS),
    asset!("report", "report.css", CSS),
    asset!("console", "map.js", JS),
    asset!("console", "i18n.js", JS),
    asset!("console", "style.css", CSS),
    asset!("console", "icon.svg", SVG),
    asset!("console", "cjk.woff2", WOFF2),
];

fn etag(a: &Asset) -> &'static str {
    static TAGS: OnceLock<Vec<(usize, String)>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        CONSOLE
            .iter()
            .chain(REPORT)
            .map(|a| (a.bytes.as_ptr() as usize, format!("\"{}\"", &hex::encode(Sha256::digest(a.bytes))[..20])))
            .collect()
    });
    tags.iter().find(|(p, _)| *p == a.bytes.as_ptr() as usize).map_or("\"0\"", |(_, t)| t.as_str())
}

/// The Content-Security-Policy of every page: this origin only, plus the
/// configured map tile server's origin for images.
pub fn csp(state: &AppState) -> String {
    let tiles = tile_origin(&state.settings.console.tile_url).map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:{tiles}; \
         connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The CSP source of a tile URL template: `scheme://host[:port]`, with a
/// subdomain placeholder (`t{s}.tianditu.gov.cn`) as a wildcard label.
pub fn tile_origin(template: &str) -> Option<String> {
    let (scheme, rest) = template.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains(['@', ' ', '\'', ';', ',', '"']) {
        return None;
    }
    let host = match authority.split_once('.') {
        Some((first, tail)) if first.contains('{') => format!("*.{tail}"),
        _ => authority.to_owned(),
    };
    (!host.contains(['{', '}'])).then(|| format!("{scheme}://{host}"))
}

/// The headers every console and tip page answer carries.
pub fn secure(state: &AppState, res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CONTENT_SECURITY_POLICY, csp(state)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header(("Cross-Origin-Opener-Policy", "same-origin"))
        .insert_header(("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()"));
}

/// Answers `name` from `site`, or a 404 page.
pub fn serve(state: &AppState, req: &HttpRequest, site: &'static [Asset], name: &str) -> HttpResponse {
    let name = if name.is_empty() { "index.html" } else { name };
    let Some(a) = site.iter().find(|a| a.name == name) else {
        let mut res = HttpResponse::NotFound();
        secure(state, &mut res);
        return res.content_type("text/plain; charset=utf-8").body("not found");
    };
    let tag = etag(a);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut res = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    secure(state, &mut res);
    res.insert_header((header::ETAG, tag)).insert_header((header::CACHE_CONTROL, "no-cache"));
    if fresh {
        return res.finish();
    }
    res.content_type(a.content_type).body(a.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_origins_are_read_from_templates() {
        assert_eq!(
            tile_origin("https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}&tk=KEY").as_deref(),
            Some("https://*.tianditu.gov.cn")
        );
        assert_eq!(
            tile_origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png").as_deref(),
            Some("https://tile.openstreetmap.org")
        );
        assert_eq!(tile_origin(""), None);
        assert_eq!(tile_origin("javascript:alert(1)"), None);
    }

    /// The Chinese the pages print themselves must be in `cjk.woff2` (rerun
    /// `scripts/make-cjk-font.sh` after changing their words).
    #[test]
    fn the_font_subset_has_every_character_the_pages_print() {
        let have: std::collections::HashSet<char> = include_str!("../../web/console/cjk.chars.txt").chars().collect();
        let cjk = |c: &char| matches!(*c as u32, 0x3000..=0x303F | 0x3300..=0x33FF | 0x3400..=0x9FFF | 0xFF00..=0xFFEF);
        let texts = CONSOLE
            .iter()
            .chain(REPORT)
            .filter(|a| !a.content_type.starts_with("font/"))
            .map(|a| (a.name, std::str::from_utf8(a.bytes).unwrap_or("")))
            .chain([("render.rs", include_str!("../reports/render.rs"))]);
        for (name, text) in texts {
            let missing: String = text.chars().filter(cjk).filter(|c| !have.contains(c)).collect();
            assert!(missing.is_empty(), "{name} prints {missing:?}, which cjk.woff2 lacks");
        }
    }

    #[test]
    fn every_asset_has_its_own_etag() {
        let tags: std::collections::HashSet<&str> = CONSOLE.iter().map(etag).collect();
        assert_eq!(tags.len(), CONSOLE.len());
    }
}
