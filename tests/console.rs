//! The web console (`/`) in a real browser: Debian's headless Chromium driven through
//! ChromeDriver (WebDriver), against a running `ovstream serve` with a token. Screenshots of
//! each page go to `target/console-screenshots/`.

mod common;

use common::http::send;
use common::serve::start_with_token;
use common::webdriver::Browser;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "console-test-token";

fn shots() -> PathBuf {
    let dir = root().join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Three streams: two test patterns and the pedestrian clip (people: events), all live.
fn service_file(dir: &Path) -> PathBuf {
    let text = format!(
        "[source]\nrealtime = true\nloop = true\n[model]\nmodel = \"pedestrian-ssdlite\"\n\
         [[sources]]\nname = \"front\"\ninput = \"test://?width=320&height=240&fps=10\"\n\
         [[sources]]\nname = \"back\"\ninput = \"test://?pattern=ball&width=320&height=240&fps=10\"\n\
         [[sources]]\nname = \"street\"\ninput = \"{}\"\n\
         [serve]\nmedia_roots = [\"{}\"]\n",
        vtest().display(),
        vtest().parent().unwrap().display()
    );
    let path = dir.join("console.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `currentTime` of every tile's `<video>`, by stream name.
fn video_times(b: &Browser) -> Value {
    b.eval(
        "const out = {}; for (const t of document.querySelectorAll('article.tile')) {
           const v = t.querySelector('video'); out[t.dataset.name] = v ? v.currentTime : -1; }
         return out;",
        json!([]),
    )
}

fn tiles(b: &Browser) -> Vec<String> {
    let names = b.eval(
        "return [...document.querySelectorAll('article.tile')].map(t => t.dataset.name);",
        json!([]),
    );
    serde_json::from_value(names).unwrap()
}

fn stream(port: u16, name: &str) -> Value {
    let (status, body) = send(
        port,
        "GET",
        &format!("/api/streams/{name}"),
        Some(TOKEN),
        "text/plain",
        b"",
    );
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn the_console_signs_in_shows_live_cameras_adds_and_removes_one_and_edits_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let served = start_with_token(dir.path(), &service_file(dir.path()), TOKEN);
    let port = served.port;
    let base = format!("http://127.0.0.1:{port}");
    let b = Browser::start(1280, 720);
    b.goto(&format!("{base}/"));

    // Sign in: a wrong token is said so; the right one opens the cameras.
    let input = b.wait_for("#token", Duration::from_secs(10));
    b.type_into(&input, "not-the-token");
    b.click(&b.find("#sign-in button").unwrap());
    let error = b.wait_for("#sign-in-error", Duration::from_secs(5));
    wait_until("the wrong-token message", Duration::from_secs(5), || {
        b.text(&error).contains("Wrong token")
    });
    b.type_into(&input, TOKEN);
    b.click(&b.find("#sign-in button").unwrap());
    b.wait_for("#grid", Duration::from_secs(10));
    let token_in_url = b.eval("return location.href;", json!([]));
    assert!(!token_in_url.as_str().unwrap().contains(TOKEN));

    // Three tiles whose video plays: currentTime advances over 3 s.
    wait_until("three tiles", Duration::from_secs(30), || {
        tiles(&b).len() == 3
    });
    wait_until("every tile playing", Duration::from_secs(40), || {
        let t = video_times(&b);
        t.as_object()
            .unwrap()
            .values()
            .all(|v| v.as_f64() > Some(0.0))
    });
    let before = video_times(&b);
    std::thread::sleep(Duration::from_secs(3));
    let after = video_times(&b);
    for (name, t) in before.as_object().unwrap() {
        assert!(
            after[name].as_f64().unwrap() > t.as_f64().unwrap() + 1.0,
            "{name}'s video advances: {before} → {after}"
        );
    }
    b.screenshot(&shots().join("cameras.png"));

    // Add a camera: a bad scheme is shown by the input field; markup in it stays text.
    let name = b.find("#add-name").unwrap();
    let input = b.find("#add-input").unwrap();
    let submit = b.find("#add-camera button").unwrap();
    b.type_into(&name, "fourth");
    b.type_into(&input, "ftp://camera/<img src=x onerror=window.pwned=1>");
    b.click(&submit);
    let field_error = b.find("#add-input-error").unwrap();
    wait_until("the input field's error", Duration::from_secs(10), || {
        b.text(&field_error)
            .contains("<img src=x onerror=window.pwned=1>")
    });
    assert_eq!(
        b.eval("return window.pwned === undefined;", json!([])),
        true
    );
    assert_eq!(
        b.eval(
            "return document.querySelectorAll('#add-camera img').length;",
            json!([])
        ),
        0,
        "the error is text, not markup"
    );
    b.type_into(&input, "test://?width=160&height=120&fps=5");
    b.click(&submit);
    wait_until("the fourth tile", Duration::from_secs(20), || {
        tiles(&b).contains(&"fourth".to_string())
    });
    let remove = b
        .find("article.tile[data-name=fourth] button.remove")
        .unwrap();
    b.click(&remove);
    b.accept_dialog();
    wait_until("the fourth tile to go", Duration::from_secs(20), || {
        !tiles(&b).contains(&"fourth".to_string())
    });

    // Events from the pedestrian clip are listed.
    b.goto(&format!("{base}/#/events"));
    wait_until("events listed", Duration::from_secs(30), || {
        b.eval(
            "return document.querySelectorAll('#events li').length;",
            json!([]),
        )
        .as_u64()
            > Some(0)
    });
    let first = b.eval(
        "return document.querySelector('#events li').textContent;",
        json!([]),
    );
    assert!(first.as_str().unwrap().contains("street"), "{first}");
    b.screenshot(&shots().join("events.png"));

    // The zone editor: two clicks on the picture, a name, Add, Save → the stream has the line.
    b.goto(&format!("{base}/#/camera/front"));
    let overlay = b.wait_for("#overlay", Duration::from_secs(10));
    b.wait_for("#shape-name", Duration::from_secs(10));
    let (w, h) = {
        let r = b.eval(
            "const r = document.getElementById('overlay').getBoundingClientRect(); return [r.width, r.height];",
            json!([]),
        );
        (r[0].as_f64().unwrap(), r[1].as_f64().unwrap())
    };
    // Offsets are from the element's center.
    b.click_at(&overlay, (-w * 0.3) as i64, 0);
    b.click_at(&overlay, (w * 0.3) as i64, (h * 0.1) as i64);
    let shape_name = b.find("#shape-name").unwrap();
    b.type_into(&shape_name, "door-line");
    b.click(&b.find("#shape-add").unwrap());
    b.click(&b.find("#shapes-save").unwrap());
    let status = b.find(".editor .status").unwrap();
    wait_until("the editor's status", Duration::from_secs(10), || {
        !b.text(&status).is_empty()
    });
    assert!(b.text(&status).starts_with("Saved"), "{}", b.text(&status));
    wait_until("the line saved", Duration::from_secs(10), || {
        stream(port, "front")["lines"][0]["name"] == "door-line"
    });
    let line = &stream(port, "front")["lines"][0];
    let points = line["points"].as_array().unwrap();
    assert!(
        (points[0][0].as_f64().unwrap() - 0.2).abs() < 0.05,
        "{line}"
    );
    assert!(
        (points[1][0].as_f64().unwrap() - 0.8).abs() < 0.05,
        "{line}"
    );
    wait_until("the camera page's video", Duration::from_secs(20), || {
        b.eval(
            "return document.querySelector('video.big').currentTime;",
            json!([]),
        )
        .as_f64()
            > Some(0.5)
    });
    b.eval("window.scrollTo(0, 0);", json!([]));
    b.screenshot(&shots().join("zone-editor.png"));

    // The faces page of a service without [recognize] says so.
    b.goto(&format!("{base}/#/faces"));
    let status = b.wait_for("#faces-status", Duration::from_secs(10));
    wait_until("the faces page's note", Duration::from_secs(10), || {
        b.text(&status).contains("recognizes no faces")
    });

    // Signing out drops the session: the API refuses the cookie afterwards.
    b.click(&b.find("#sign-out").unwrap());
    b.wait_for("#token", Duration::from_secs(10));
    let status_after = b.eval(
        "const x = new XMLHttpRequest(); x.open('GET', '/api/streams', false); x.send(); return x.status;",
        json!([]),
    );
    assert_eq!(status_after, 401);
    drop(b);
    drop(served);
}
