//! Upload memory benchmark: N photos of about M MiB sent at once to the real
//! `landpatrol` binary (release build beside this one), with the server's
//! resident memory sampled from /proc while the uploads stream in and the
//! thumbnails are made.
//!
//! `cargo build --release --bin landpatrol && cargo run --release -p landpatrol-tests --bin upload-bench -- [--uploads 20] [--mib 10] [--tus]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use landpatrol_tests::{DEMO_PASSWORD, sha256_hex};
use serde_json::{Value, json};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A noisy photo-sized JPEG of about `mib` MiB (noise compresses badly, like a
/// detailed field photo at high quality).
fn noise_jpeg(mib: usize) -> Vec<u8> {
    let target = mib * 1024 * 1024;
    let (mut w, mut h) = (2000usize, 1500usize);
    loop {
        let mut seed: u32 = 0x9E37_79B9;
        let pixels: Vec<u8> = (0..w * h * 3)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                // Smooth gradient plus noise: a photo, not pure static.
                let base = ((i / 3) % w * 255 / w) as u32;
                ((base + (seed & 0x7f)) & 0xff) as u8
            })
            .collect();
        let mut jpeg = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, 95);
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
        encoder.encode(&pixels, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).unwrap();
        if jpeg.len() >= target || w > 8000 {
            return jpeg;
        }
        let scale = ((target as f64 / jpeg.len() as f64).sqrt() * 1.05).max(1.1);
        w = (w as f64 * scale) as usize;
        h = (h as f64 * scale) as usize;
    }
}

/// The same picture with a distinct comment segment: a distinct photo by hash.
fn variant(jpeg: &[u8], i: usize) -> Vec<u8> {
    let comment = format!("upload-bench {i}");
    let mut out = Vec::with_capacity(jpeg.len() + 64);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&u16::try_from(comment.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(comment.as_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let uploads = arg("--uploads", 20);
    let mib = arg("--mib", 10);
    let tus = std::env::args().any(|a| a == "--tus");
    let binary = std::env::current_exe().unwrap().with_file_name("landpatrol");
    assert!(binary.exists(), "build it first: cargo build --release --bin landpatrol ({})", binary.display());
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(&binary)
        .args(["serve", "--demo", "--addr", &format!("127.0.0.1:{port}")])
        .env("LANDPATROL__STORAGE__DATA_DIR", dir.path())
        .env("LANDPATROL__LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "inspector", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();

    eprintln!("making {uploads} photos of about {mib} MiB…");
    let base_jpeg = noise_jpeg(mib);
    let photos: Vec<Vec<u8>> = (0..uploads).map(|i| variant(&base_jpeg, i)).collect();
    let idle_rss = status_kib(pid, "VmRSS:");

    let peak = Arc::new(AtomicU64::new(idle_rss));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for bytes in photos.iter().cloned() {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let sha = sha256_hex(&bytes);
            if tus {
                let meta = format!("sha256 {}", base64::engine::general_purpose::STANDARD.encode(sha.as_bytes()));
                let resp = client
                    .post(format!("{base}/api/v1/uploads"))
                    .bearer_auth(&token)
                    .header("Tus-Resumable", "1.0.0")
                    .header("Upload-Length", bytes.len().to_string())
                    .header("Upload-Metadata", meta)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
                let url = resp.headers()["location"].to_str().unwrap().to_owned();
                let mut offset = 0;
                for chunk in bytes.chunks(1024 * 1024) {
                    let resp = client
                        .patch(&url)
                        .bearer_auth(&token)
                        .header("Tus-Resumable", "1.0.0")
                        .header("Upload-Offset", offset.to_string())
                        .header("Content-Type", "application/offset+octet-stream")
                        .body(chunk.to_vec())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap_or_default());
                    offset += chunk.len();
                }
            } else {
                let resp = client
                    .put(format!("{base}/api/v1/photos/{sha}"))
                    .bearer_auth(&token)
                    .header("content-type", "image/jpeg")
                    .body(bytes)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
            }
            sha
        }));
    }
    let mut shas = Vec::new();
    for t in tasks {
        shas.push(t.await.unwrap());
    }
    let uploaded = started.elapsed();
    let peak_uploading = peak.load(Ordering::Relaxed);
    for sha in &shas {
        loop {
            let v: Value = client
                .get(format!("{base}/api/v1/photos/{sha}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["thumbnail"] != "pending" {
                assert_eq!(v["thumbnail"], "ready", "{v}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let settled = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let hwm = status_kib(pid, "VmHWM:");
    child.kill().ok();
    child.wait().ok();
    let total: usize = photos.iter().map(Vec::len).sum();
    println!(
        "{} {uploads} uploads at once of {:.1} MiB each ({:.0} MiB in all): uploaded in {:.2} s, thumbnails done at {:.2} s",
        if tus { "tus (1 MiB chunks)" } else { "PUT" },
        base_jpeg.len() as f64 / 1048576.0,
        total as f64 / 1048576.0,
        uploaded.as_secs_f64(),
        settled.as_secs_f64()
    );
    println!(
        "server resident memory: idle {:.1} MiB, peak while uploading {:.1} MiB, peak sampled {:.1} MiB, VmHWM {:.1} MiB (limit 200 MiB)",
        idle_rss as f64 / 1024.0,
        peak_uploading as f64 / 1024.0,
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    assert!(hwm < 200 * 1024, "peak resident memory {hwm} KiB is over 200 MiB");
}
