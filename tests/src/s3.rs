//! An S3-compatible server for the tests: `moto_server` (PyPI `moto[server]`,
//! pinned in `tests/clients/s3/requirements.txt`, installed by
//! `tests/clients/s3/install.sh` into `tests/clients/s3/.venv`), started once
//! per test binary on a free port; each test makes a bucket of its own.
//! A missing moto is installed by that script on first use (it needs Python 3
//! and PyPI). Where it can not be (a machine with nothing but Rust), the
//! object-storage tests say so and pass without running, unless
//! `LANDPATROL_REQUIRE_S3` is set, as CI sets it: then they fail.

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use landpatrol_server::config::{S3Credentials, Settings};

/// The running server: its endpoint, and the shell that kills it when the
/// test binary ends (its stdin, held here, closes then).
pub struct Moto {
    pub endpoint: String,
    _keeper: Mutex<Child>,
}

/// The `moto_server` program: `LANDPATROL_TEST_MOTO`, or the installed one.
fn program() -> std::path::PathBuf {
    match std::env::var_os("LANDPATROL_TEST_MOTO") {
        Some(p) => p.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/s3/.venv/bin/moto_server"),
    }
}

/// Installs moto with `tests/clients/s3/install.sh` when it is missing; whether it is there.
fn installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let program = program();
        if program.exists() || std::env::var_os("LANDPATROL_TEST_MOTO").is_some() {
            return program.exists();
        }
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/s3/install.sh");
        let ok = Command::new("bash").arg(&script).status().is_ok_and(|s| s.success());
        ok && program.exists()
    })
}

/// Whether the object-storage tests can run here. When moto can not be installed they
/// are skipped with a notice, or fail when `LANDPATROL_REQUIRE_S3` is set (CI).
pub fn available() -> bool {
    if installed() {
        return true;
    }
    assert!(
        std::env::var_os("LANDPATROL_REQUIRE_S3").is_none(),
        "{} is missing and tests/clients/s3/install.sh could not install it (Python 3 and PyPI are needed)",
        program().display()
    );
    eprintln!("skipped: no moto_server (tests/clients/s3/install.sh needs Python 3 and PyPI)");
    false
}

/// The shared server, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let program = program();
        assert!(installed(), "{} is missing: install it with tests/clients/s3/install.sh", program.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // The shell starts moto and waits on its stdin; when this process ends
        // (however it ends) the pipe closes and the shell stops moto.
        let keeper = Command::new("bash")
            .arg("-c")
            .arg(r#""$0" -H 127.0.0.1 -p "$1" </dev/null >"$2" 2>&1 & pid=$!; read -r _; kill "$pid""#)
            .arg(&program)
            .arg(port.to_string())
            .arg(std::env::temp_dir().join(format!("landpatrol-moto-{port}.log")))
            .stdin(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(started.elapsed().as_secs() < 60, "moto_server did not listen on {port} within 60 s");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Moto { endpoint, _keeper: Mutex::new(keeper) }
    })
}

/// A new empty bucket; its name.
pub async fn bucket() -> String {
    let name = format!("lp-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let resp = reqwest::Client::new().put(format!("{}/{name}", moto().endpoint)).send().await.unwrap();
    assert!(resp.status().is_success(), "create bucket {name}: {}", resp.status());
    name
}

/// Settings for photos in `bucket` on the test server.
pub fn use_bucket(s: &mut Settings, bucket: &str) {
    s.photos.store = "s3".into();
    s.photos.bucket = bucket.to_owned();
    s.photos.endpoint = moto().endpoint.clone();
    s.photos.region = "us-east-1".into();
    s.photos.s3_credentials = Some(S3Credentials {
        access_key_id: "landpatrol-test".into(),
        secret_access_key: "landpatrol-test-secret".into(),
        session_token: None,
    });
}

/// A client of the test server for `bucket`, signing as the tests' instances do.
fn client(bucket: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_endpoint(&moto().endpoint)
        .with_allow_http(true)
        .with_access_key_id("landpatrol-test")
        .with_secret_access_key("landpatrol-test-secret")
        .build()
        .unwrap()
}

/// The keys in `bucket` under the folder `prefix` (empty: all), read straight from the server.
pub async fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    use futures_util::TryStreamExt;
    use object_store::ObjectStore;
    let prefix = (!prefix.is_empty()).then(|| object_store::path::Path::from(prefix.trim_end_matches('/')));
    let listed: Vec<_> = client(bucket).list(prefix.as_ref()).try_collect().await.unwrap();
    let mut keys: Vec<String> = listed.into_iter().map(|m| m.location.to_string()).collect();
    keys.sort();
    keys
}

/// An object straight from the server: its ETag and bytes (`None`: not there).
pub async fn object(bucket: &str, key: &str) -> Option<(String, Vec<u8>)> {
    use object_store::ObjectStoreExt;
    match client(bucket).get(&object_store::path::Path::from(key)).await {
        Ok(got) => {
            let etag = got.meta.e_tag.clone().unwrap_or_default();
            Some((etag, got.bytes().await.unwrap().to_vec()))
        }
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("get {key}: {e}"),
    }
}
