//! `ovstream serve` for the service tests: started with a token and a state file in a
//! temporary folder, spoken to with a plain HTTP/1.1 client (so nothing but the service's own
//! stack is under test), killed when dropped.

use super::read_jsonl;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const TOKEN: &str = "s3cret-token";

/// A running `ovstream serve` on a port the kernel picked, killed when dropped.
pub struct Service {
    pub served: super::serve::Served,
    pub port: u16,
}

impl Service {
    pub fn start(dir: &Path, pipeline: &Path) -> Service {
        let served = super::serve::start_with_token(dir, pipeline, TOKEN);
        let port = served.port;
        Service { served, port }
    }

    /// `method path` with an optional token and body: (status, body).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let body = body.unwrap_or("");
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut text = Vec::new();
        let _ = s.read_to_end(&mut text);
        let text = String::from_utf8_lossy(&text).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    /// `GET path` with the token: the raw body of a 200 response.
    pub fn bytes(&self, path: &str) -> Vec<u8> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Authorization: Bearer {TOKEN}\r\n\r\n"
        );
        s.write_all(request.as_bytes()).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&all[..split]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_lowercase().contains("content-type: image/jpeg"),
            "{head}"
        );
        all[split + 4..].to_vec()
    }

    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (status, text) = self.call(method, path, Some(TOKEN), body);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn streams(&self) -> Vec<Value> {
        let (status, v) = self.api("GET", "/api/streams", None);
        assert_eq!(status, 200, "{v}");
        v.as_array().unwrap().clone()
    }

    pub fn stream(&self, name: &str) -> Value {
        self.streams()
            .into_iter()
            .find(|s| s["name"] == name)
            .unwrap_or(Value::Null)
    }

    /// SIGTERM; waits for the exit; returns (exit code, stderr).
    pub fn stop(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.served.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (status, log) = self.served.wait();
        (status.code(), log)
    }
}

pub fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A service pipeline file: pedestrian SSD, JSON per stream in `dir/out`, plus `extra`.
pub fn pipeline(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("serve.toml");
    let text = format!(
        "[model]\nmodel = \"pedestrian-ssdlite\"\n[output]\nmetadata = \"{}/out/{{name}}.jsonl\"\n{extra}",
        dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

pub fn add(s: &Service, name: &str, input: &str) -> (u16, Value) {
    let body = serde_json::json!({ "name": name, "input": input }).to_string();
    s.api("POST", "/api/streams", Some(&body))
}

/// Width and height from a baseline JPEG's SOF0 segment.
pub fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if marker == 0xC0 {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return Some((u32::from(w), u32::from(h)));
        }
        i += 2 + len;
    }
    None
}

/// Frame numbers in a stream's JSON lines, in file order.
pub fn frames_of(path: &Path) -> Vec<u64> {
    read_jsonl(path)
        .iter()
        .map(|r| r["frame"].as_u64().unwrap())
        .collect()
}
