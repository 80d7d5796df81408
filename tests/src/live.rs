//! Test doubles for the live alert channels: a webhook receiver (a real HTTP
//! server on a loopback port whose answers a test scripts) and a
//! Server-Sent Events client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// How the receiver answers its n-th request (0-based).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Answer {
    Status(u16),
    /// Read the request, then never answer (a receiver that hangs, or a
    /// sender that dies before it hears back).
    Hang,
    /// `302 Found` to the same path on this port of 127.0.0.1.
    Redirect(u16),
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub delivery: String,
    pub signature: String,
    pub event: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub answer: Answer,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Checks the signature as a receiver must: HMAC-SHA256 of "<t>.<raw
    /// body>" under the secret, and a timestamp at most `max_age` old.
    pub fn signature_valid(&self, secret: &str, max_age: Duration) -> bool {
        let mut t = None;
        let mut v1 = None;
        for part in self.signature.split(',') {
            match part.split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) => v1 = hex::decode(v).ok(),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else { return false };
        let age = chrono::Utc::now().timestamp() - t;
        if age < -5 || age > i64::try_from(max_age.as_secs()).unwrap() {
            return false;
        }
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&self.body);
        mac.verify_slice(&v1).is_ok()
    }
}

/// A webhook receiver on a loopback port.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

type Script = Arc<dyn Fn(usize) -> Answer + Send + Sync>;

impl Receiver {
    /// Starts a receiver answering its n-th request with `script(n)`.
    pub async fn start(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let script: Script = Arc::new(script);
        let (g, a) = (got.clone(), arrived.clone());
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let (g, a, script) = (g.clone(), a.clone(), script.clone());
                tokio::spawn(async move { serve(sock, g, a, script).await });
            }
        });
        Receiver { url, got, arrived }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `pred` holds of what was received, or panics after `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.arrived.notified();
            let now = self.received();
            if pred(&now) {
                return now;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("webhook receiver: {what} not seen within {limit:?}; got {} requests", now.len());
            }
            // Woken by an arrival, or look again after a short while.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }
}

async fn serve(mut sock: tokio::net::TcpStream, got: Arc<Mutex<Vec<Received>>>, arrived: Arc<Notify>, script: Script) {
    loop {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        let answer = {
            let mut list = got.lock().unwrap();
            let answer = script(list.len());
            list.push(Received {
                delivery: header("x-landpatrol-delivery"),
                signature: header("x-landpatrol-signature"),
                event: header("x-landpatrol-event"),
                content_type: header("content-type"),
                body,
                answer,
                at: Instant::now(),
            });
            answer
        };
        arrived.notify_waiters();
        match answer {
            Answer::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Answer::Status(s) => {
                let resp = format!("HTTP/1.1 {s} X\r\ncontent-length: 0\r\n\r\n");
                if sock.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
            Answer::Redirect(port) => {
                let resp = format!(
                    "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/hook\r\ncontent-length: 0\r\n\r\n"
                );
                if sock.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One Server-Sent Event.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// A Server-Sent Events client over one streaming response.
pub struct SseClient {
    resp: reqwest::Response,
    buf: String,
    /// Comment lines seen (heartbeats).
    pub comments: Vec<String>,
    /// The server ended the stream.
    pub ended: bool,
}

impl SseClient {
    /// Connects with a bearer token, resuming after `last_event_id` if given.
    pub async fn connect(url: &str, token: &str, last_event_id: Option<&str>) -> SseClient {
        let mut req = reqwest::Client::new().get(url).bearer_auth(token).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "stream refused");
        assert!(
            resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"),
            "not an event stream"
        );
        SseClient { resp, buf: String::new(), comments: Vec::new(), ended: false }
    }

    /// The next event, or `None` when none comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = Event { id: None, event: None, data: String::new() };
                let mut is_event = false;
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        self.comments.push(c.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("id:") {
                        ev.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.event = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !ev.data.is_empty() {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        is_event = true;
                    }
                }
                if is_event {
                    return Some(ev);
                }
            }
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) => {
                    self.ended = true;
                    return None;
                }
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Collects events until none arrives for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(e) = self.next(quiet).await {
            out.push(e);
        }
        out
    }
}
