//! The real binary with no configuration at all: `landpatrol serve` in an empty
//! folder creates `./data`, migrates, listens and logs its URL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn serve_with_no_configuration_just_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_landpatrol"))
        .args(["serve", "--addr", "127.0.0.1:0", "--demo"])
        .current_dir(dir.path())
        .env_remove("LANDPATROL_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut url = None;
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        banner.push_str(&line);
        if let Some(rest) = line.split("listening on http://").nth(1) {
            url = rest.split('/').next().map(str::to_owned);
            break;
        }
    }
    let addr = url.expect("the URL is printed");
    assert!(banner.contains("landpatrol-demo") && banner.contains("officer-120115001"), "demo users printed: {banner}");
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.write_all(format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    child.kill().ok();
    child.wait().ok();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"ready\""));
    assert!(dir.path().join("data/landpatrol.db").exists());
    assert!(dir.path().join("data/photos").is_dir());
    assert!(dir.path().join("data/jwt_secret").exists());
}
