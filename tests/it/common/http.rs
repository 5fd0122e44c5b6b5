//! A plain HTTP/1.1 GET over 127.0.0.1 (no client library: only the service's own stack is
//! under test).

use std::io::{Read, Write};
use std::time::Duration;

/// `GET path` on `127.0.0.1:port`: (status, body); status 0 when nothing answers.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// Sends `request` (a whole raw HTTP/1.1 request, `Connection: close`) to `127.0.0.1:port`:
/// (status, head, body bytes); status 0 when nothing answers.
pub fn request(port: u16, request: &str) -> (u16, String, Vec<u8>) {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), Vec::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    if s.write_all(request.as_bytes()).is_err() {
        return (0, String::new(), Vec::new());
    }
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let split = all.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (
            String::from_utf8_lossy(&all[..i]).to_string(),
            all[i + 4..].to_vec(),
        ),
        None => (String::from_utf8_lossy(&all).to_string(), Vec::new()),
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head, body)
}

/// `METHOD path` with `body` of `content_type` (and `Authorization: Bearer token`) on
/// `127.0.0.1:port`: (status, body bytes).
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, Vec::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // A refused upload may be answered (and the socket closed) before all of it is sent.
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body));
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let Some(i) = all.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, Vec::new());
    };
    let status = String::from_utf8_lossy(&all[..i])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, all[i + 4..].to_vec())
}

/// Serves `file` over HTTP on a free 127.0.0.1 port, each response `delay` after its request
/// (an input that takes that long to open), with byte ranges (`Range: bytes=A-[B]`, as a
/// demuxer seeking to an index asks). Runs until the test process ends.
pub fn slow_file_server(file: &std::path::Path, delay: Duration) -> u16 {
    let data = std::sync::Arc::new(std::fs::read(file).unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let data = std::sync::Arc::clone(&data);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    if conn.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                std::thread::sleep(delay);
                let head = String::from_utf8_lossy(&head).to_lowercase();
                let range = head.lines().find_map(|l| {
                    let spec = l.strip_prefix("range: bytes=")?;
                    let (a, b) = spec.split_once('-')?;
                    let a: usize = a.trim().parse().ok()?;
                    let b: usize = b.trim().parse().unwrap_or(data.len() - 1);
                    Some((a.min(data.len()), b.min(data.len() - 1)))
                });
                let (status, start, end) = match range {
                    Some((a, b)) => ("206 Partial Content", a, b + 1),
                    None => ("200 OK", 0, data.len()),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\n\
                     Accept-Ranges: bytes\r\nContent-Range: bytes {start}-{}/{}\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    end.saturating_sub(1),
                    data.len(),
                    end - start
                );
                let _ = conn.write_all(&data[start..end.max(start)]);
            });
        }
    });
    port
}
