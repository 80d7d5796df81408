//! Where webhooks may be sent: public addresses only, unless the installation
//! allows its own networks (`webhooks.allow_private_networks`).
//!
//! A town officer chooses webhook URLs and reads the delivery log, so an
//! unchecked URL would let them make the server call its own loopback, the
//! bureau's intranet or a cloud metadata service, and read back whether a port
//! answered. The URL is checked when it is registered or changed, and again on
//! every delivery: names are resolved by [`GuardedResolver`], which refuses the
//! whole delivery when any address a name resolves to is internal (so DNS
//! answers that change between the check and the connection do not matter: the
//! connection uses the checked addresses). Redirects are never followed.
//!
//! URLs are read with the `url` crate, the WHATWG parser the HTTP client uses
//! too, so odd spellings (`http://2130706433/`, `http://0x7f.1/`,
//! `http://%31%32%37.0.0.1/`, fullwidth dots) are judged as the address they
//! will reach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

/// Why an address may not be a webhook's.
pub fn forbidden_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "an unspecified address",
        (0, _, _) => "in 0.0.0.0/8 (this network)",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        // Shared address space; Alibaba Cloud's metadata service is 100.100.100.200.
        (100, 64..=127, _) => "a carrier-grade NAT address (cloud metadata services live there)",
        // The cloud metadata services of AWS, GCP, Azure, Tencent Cloud (169.254.169.254).
        (169, 254, _) => "a link-local address (cloud metadata services live there)",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // IPv4 written as IPv6 (::ffff:a.b.c.d, ::a.b.c.d) reaches the IPv4 address.
    if let Some(v4) = ip.to_ipv4() {
        return forbidden_v4(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(Ipv4Addr::from(u32::from(s[6]) << 16 | u32::from(s[7])));
    }
    // 6to4 (2002::/16) embeds an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return forbidden_v4(Ipv4Addr::from(u32::from(s[1]) << 16 | u32::from(s[2])));
    }
    Some(match s[0] {
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "a local-use NAT64 address",
        0x0100 if s[1..4] == [0, 0, 0] => "a discard address",
        0x2001 if s[1] == 0 => "a Teredo address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        // Unique local addresses (AWS's IPv6 metadata service is fd00:ec2::254).
        x if x & 0xfe00 == 0xfc00 => "a unique-local address (cloud metadata services live there)",
        x if x & 0xffc0 == 0xfe80 => "a link-local address",
        x if x & 0xffc0 == 0xfec0 => "a site-local address",
        x if x & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

/// Why a host name may not be a webhook's, before it is even resolved:
/// names that mean this machine or an internal network by convention.
pub fn forbidden_name(host: &str) -> Option<&'static str> {
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let ends = |suffix: &str| name == suffix || name.ends_with(&format!(".{suffix}"));
    if ends("localhost") || name == "localhost.localdomain" {
        return Some("names this machine");
    }
    if name == "metadata.google.internal" || name == "metadata" || name == "instance-data" {
        return Some("names a cloud metadata service");
    }
    if ["internal", "local", "localdomain", "home.arpa", "intranet", "lan", "corp"].iter().any(|s| ends(s)) {
        return Some("is an internal name");
    }
    if !name.contains('.') {
        // A single label is completed by the resolver's search domains: an intranet host.
        return Some("is a single-label (intranet) name");
    }
    None
}

/// Why a URL can not be a webhook's.
#[derive(Debug, PartialEq, Eq)]
pub enum BadUrl {
    /// Not an http(s) URL a receiver could have.
    Invalid(String),
    /// It names an internal address.
    Internal(String),
}

impl std::fmt::Display for BadUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadUrl::Invalid(w) | BadUrl::Internal(w) => f.write_str(w),
        }
    }
}

/// A webhook URL, read as the HTTP client will read it, with the address rules
/// applied unless `allow_private`. The error says why, in words for the user.
pub fn check(raw: &str, allow_private: bool) -> Result<Url, BadUrl> {
    let invalid = |w: &str| BadUrl::Invalid(w.to_owned());
    let url = Url::parse(raw).map_err(|e| BadUrl::Invalid(format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials; the signature authenticates deliveries"));
    }
    if url.port() == Some(0) {
        return Err(invalid("port 0 is not a port a receiver listens on"));
    }
    let host = url.host().ok_or_else(|| invalid("needs a host"))?;
    if !allow_private {
        let why = match &host {
            Host::Ipv4(ip) => forbidden_v4(*ip).map(|w| format!("{ip} is {w}")),
            Host::Ipv6(ip) => forbidden_v6(*ip).map(|w| format!("{ip} is {w}")),
            Host::Domain(name) => forbidden_name(name).map(|w| format!("{name:?} {w}")),
        };
        if let Some(why) = why {
            return Err(BadUrl::Internal(refusal(&why)));
        }
    }
    Ok(url)
}

/// The sentence a refused address gets.
fn refusal(why: &str) -> String {
    format!(
        "{why}: webhooks reach public addresses only (an installation may allow its own networks with webhooks.allow_private_networks)"
    )
}

/// Resolves a webhook's host now (bounded by `timeout`) and refuses it when
/// any of its addresses is internal. A name that does not resolve passes:
/// the delivery resolves it again and the delivery log shows the failure.
pub async fn check_resolved(url: &Url, timeout: Duration) -> Result<(), String> {
    let Some(Host::Domain(name)) = url.host() else { return Ok(()) };
    let port = url.port_or_known_default().unwrap_or(443);
    let Ok(Ok(addrs)) = tokio::time::timeout(timeout, tokio::net::lookup_host((name, port))).await else {
        return Ok(());
    };
    for a in addrs {
        if let Some(w) = forbidden_ip(a.ip()) {
            return Err(refusal(&format!("{name:?} resolves to {}, {w}", a.ip())));
        }
    }
    Ok(())
}

/// An address refused at delivery time (carried through the HTTP client's error).
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The refusal inside an HTTP client error, if that is what it was.
pub fn refused_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

/// Looks a name up: the system's resolver, or a fixed answer in tests.
type Lookup = Arc<dyn Fn(String) -> BoxFuture<std::io::Result<Vec<SocketAddr>>> + Send + Sync>;
type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The webhook client's resolver: the system's, with every answer checked.
/// One internal address among the answers refuses the delivery (a client
/// falling back from a public address to an internal one would still reach it).
pub struct GuardedResolver {
    lookup: Lookup,
}

impl GuardedResolver {
    /// Through the system's resolver (`getaddrinfo`: `/etc/hosts`, then DNS).
    pub fn system() -> Self {
        Self::with_lookup(|host| {
            Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect()) })
        })
    }

    /// Through `lookup` (a test's fixed answers).
    pub fn with_lookup(
        lookup: impl Fn(String) -> BoxFuture<std::io::Result<Vec<SocketAddr>>> + Send + Sync + 'static,
    ) -> Self {
        GuardedResolver { lookup: Arc::new(lookup) }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let lookup = self.lookup.clone();
        Box::pin(async move {
            if let Some(w) = forbidden_name(&host) {
                return Err(Box::new(Refused(refusal(&format!("{host:?} {w}")))) as _);
            }
            let addrs = lookup(host.clone()).await?;
            for a in &addrs {
                if let Some(w) = forbidden_ip(a.ip()) {
                    return Err(Box::new(Refused(refusal(&format!("{host:?} resolves to {}, {w}", a.ip())))) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_in_any_spelling_are_refused() {
        for url in [
            "http://127.0.0.1/h",
            "http://localhost:8080/h",
            "http://LOCALHOST./h",
            "http://a.b.localhost/h",
            "http://[::1]/h",
            "http://0.0.0.0/h",
            "http://0/h",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://%31%32%37.0.0.1/",
            "http://127\u{3002}0\u{3002}0\u{3002}1/",
            "http://10.0.0.1/",
            "http://172.16.5.4/",
            "http://192.168.1.1/",
            "http://100.100.100.200/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://metadata/",
            "http://intranet/h",
            "http://printer.local/h",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:c0a8:101::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
        ] {
            let e = check(url, false).expect_err(url);
            assert!(matches!(&e, BadUrl::Internal(w) if w.contains("public addresses only")), "{url}: {e}");
            assert!(check(url, true).is_ok(), "{url} allowed when private networks are");
        }
    }

    #[test]
    fn bad_urls_are_refused_whatever_the_setting() {
        for url in [
            "ftp://example.com/h",
            "file:///etc/passwd",
            "gopher://example.com/",
            "https://user:pw@example.com/h",
            "https://example.com:0/h",
            "https://example.com:65536/h",
            "https://example.com:99999/h",
            "http://",
            "not a url",
            "",
        ] {
            assert!(matches!(check(url, true), Err(BadUrl::Invalid(_))), "{url}");
            assert!(matches!(check(url, false), Err(BadUrl::Invalid(_))), "{url}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for url in [
            "https://zhoukou.example.gov.cn/landpatrol/hook",
            "http://8.8.8.8/h",
            "https://[2001:4860:4860::8888]/h",
            "https://example.com:8443/h",
            "http://172.32.0.1/h",
            "http://100.128.0.1/h",
            "http://[2002:0808:0808::1]/h",
        ] {
            assert!(check(url, false).is_ok(), "{url}: {:?}", check(url, false));
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_internal_addresses() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let e = GuardedResolver::system().resolve(name).await.err().expect("refused");
        assert!(refused_in(e.as_ref()).is_some(), "{e}");
        let url = check("http://localhost/h", true).unwrap();
        assert!(check_resolved(&url, Duration::from_secs(2)).await.is_err(), "localhost resolves to loopback");
    }

    /// A name whose DNS answer includes an internal address (DNS rebinding,
    /// or a record pointing inside): the real HTTP client, with the guarded
    /// resolver, sends nothing, and the refusal is found in its error.
    #[tokio::test]
    async fn a_client_with_the_guarded_resolver_never_connects_to_an_internal_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = accepted.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        for answer in [vec!["127.0.0.1"], vec!["93.184.215.14", "127.0.0.1"], vec!["::ffff:127.0.0.1"]] {
            let addrs: Vec<SocketAddr> = answer.iter().map(|a| SocketAddr::new(a.parse().unwrap(), 0)).collect();
            let resolver = GuardedResolver::with_lookup(move |_| {
                let addrs = addrs.clone();
                Box::pin(async move { Ok(addrs) })
            });
            let client = reqwest::Client::builder()
                .no_proxy()
                .dns_resolver(Arc::new(resolver))
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            let e = client.post(format!("http://hooks.example.com:{port}/h")).send().await.expect_err("refused");
            let r = refused_in(&e).unwrap_or_else(|| panic!("{answer:?}: not a refusal: {e:?}"));
            assert!(r.0.contains("127.0.0.1") && r.0.contains("loopback"), "{r}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection reached the listener");
    }
}
