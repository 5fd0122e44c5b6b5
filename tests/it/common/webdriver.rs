//! Headless Chromium driven through ChromeDriver's W3C WebDriver protocol (JSON over HTTP on
//! 127.0.0.1): only what the console tests need — open a page, find elements, click, type,
//! run a script, accept a `confirm()`, take a screenshot. ChromeDriver is started on a port
//! the kernel picked and killed (with its browser) when the [`Browser`] is dropped.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Headless Chromium's narrowest window (CSS pixels).
const MIN_WINDOW_WIDTH: u32 = 500;

/// The W3C key of an element reference in a response.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

/// A found element.
#[derive(Clone)]
pub struct Element(String);

fn call(port: u16, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, Value::Null);
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(request.as_bytes()).is_err() {
        return (0, Value::Null);
    }
    // ChromeDriver may keep the connection open: read the head, then Content-Length bytes.
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = all.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return (0, Value::Null),
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&all[..head_end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while all.len() < head_end + length {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    let body = &all[head_end..(head_end + length).min(all.len())];
    (status, serde_json::from_slice(body).unwrap_or(Value::Null))
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium at `width`x`height` (panics, saying what to
    /// install, when they are missing: `make setup` installs Debian's chromium and
    /// chromium-driver).
    pub fn start(width: u32, height: u32) -> Browser {
        let port = super::broker::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver runs (make setup installs Debian's chromium and chromium-driver)",
            );
        let deadline = Instant::now() + Duration::from_secs(30);
        while call(port, "GET", "/status", &Value::Null).1["value"]["ready"] != true {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
            &format!("--window-size={width},{height}"),
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut chrome = json!({"binary": "/usr/bin/chromium", "args": args});
        if width < MIN_WINDOW_WIDTH {
            // A window is never narrower than this: a phone's screen is emulated instead.
            chrome["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 3.0}});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "unhandledPromptBehavior": "ignore",
        }}});
        let (status, v) = call(port, "POST", "/session", &caps);
        assert_eq!(status, 200, "new session: {v}");
        let session = v["value"]["sessionId"].as_str().unwrap().to_string();
        Browser {
            driver,
            port,
            session,
            _profile: profile,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, v) = call(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            &body,
        );
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url }));
    }

    /// The first element matching the CSS `selector`, if any.
    pub fn find(&self, selector: &str) -> Option<Element> {
        let (status, v) = call(
            self.port,
            "POST",
            &format!("/session/{}/element", self.session),
            &json!({"using": "css selector", "value": selector}),
        );
        (status == 200).then(|| Element(v["value"][ELEMENT].as_str().unwrap().to_string()))
    }

    /// Waits (up to `limit`) for an element matching `selector`.
    pub fn wait_for(&self, selector: &str, limit: Duration) -> Element {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(e) = self.find(selector) {
                return e;
            }
            assert!(Instant::now() < deadline, "no {selector} within {limit:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn click(&self, e: &Element) {
        self.cmd("POST", &format!("/element/{}/click", e.0), json!({}));
    }

    /// Sends `text` as key presses (a file input takes a file's path this way).
    pub fn send_keys(&self, e: &Element, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            json!({ "text": text }),
        );
    }

    pub fn type_into(&self, e: &Element, text: &str) {
        self.cmd("POST", &format!("/element/{}/clear", e.0), json!({}));
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            json!({ "text": text }),
        );
    }

    pub fn text(&self, e: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", e.0), Value::Null)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; its return value.
    pub fn eval(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// Accepts the open `confirm()`/`alert()`.
    pub fn accept_dialog(&self) {
        self.cmd("POST", "/alert/accept", json!({}));
    }

    /// Clicks at (`x`, `y`) CSS pixels from the top-left corner of element `e`.
    pub fn click_at(&self, e: &Element, x: i64, y: i64) {
        let origin = json!({ ELEMENT: e.0 });
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse",
            "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "origin": origin, "x": x, "y": y},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0}]}]});
        self.cmd("POST", "/actions", actions);
    }

    /// Drags with the mouse from the center of `from` to (`x`, `y`) CSS pixels from the
    /// center of `to`, in steps (so the page sees pointer moves between).
    pub fn drag(&self, from: &Element, to: &Element, x: i64, y: i64) {
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse",
            "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "origin": { ELEMENT: from.0 }, "x": 0, "y": 0},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerMove", "origin": { ELEMENT: to.0 }, "x": x / 2, "y": y / 2,
                 "duration": 100},
                {"type": "pointerMove", "origin": { ELEMENT: to.0 }, "x": x, "y": y,
                 "duration": 100},
                {"type": "pointerUp", "button": 0}]}]});
        self.cmd("POST", "/actions", actions);
    }

    /// Presses each chord in turn to the focused element: a chord's keys go down in order and
    /// up in reverse (WebDriver key codes: `\u{E008}` Shift, `\u{E012}`–`\u{E015}` arrows
    /// left, up, right, down, `\u{E007}` Enter, `\u{E004}` Tab).
    pub fn press(&self, chords: &[&str]) {
        let mut keys = Vec::new();
        for chord in chords {
            let chars: Vec<String> = chord.chars().map(String::from).collect();
            keys.extend(chars.iter().map(|c| json!({"type": "keyDown", "value": c})));
            keys.extend(
                chars
                    .iter()
                    .rev()
                    .map(|c| json!({"type": "keyUp", "value": c})),
            );
        }
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]});
        self.cmd("POST", "/actions", actions);
    }

    /// A Chrome DevTools Protocol command (ChromeDriver's `goog/cdp/execute`).
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
    }

    /// A PNG of the window, written to `path`.
    pub fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.cmd("GET", "/screenshot", Value::Null);
        let bytes = decode_base64(b64.as_str().unwrap());
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = call(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            &Value::Null,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (the screenshot's encoding).
pub fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| u32::from(value(c))).collect();
        let n = v.iter().fold(0u32, |acc, x| (acc << 6) | x) << (6 * (4 - v.len()));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..v.len() - 1]);
    }
    out
}
