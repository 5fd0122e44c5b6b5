//! The web console (`/`) in a real browser: Debian's headless Chromium driven through
//! ChromeDriver (WebDriver), against a running `ovstream serve` with a token. Screenshots of
//! each page go to `target/console-screenshots/`.

use crate::common;

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

/// Three streams: two test patterns and the pedestrian clip (people: events, and short
/// recordings of them), all live.
fn service_file(dir: &Path) -> PathBuf {
    let text = format!(
        "[source]\nrealtime = true\nloop = true\n[model]\nmodel = \"pedestrian-ssdlite\"\n\
         [[sources]]\nname = \"front\"\ninput = \"test://?width=320&height=240&fps=10\"\n\
         [[sources]]\nname = \"back\"\ninput = \"test://?pattern=ball&width=320&height=240&fps=10\"\n\
         [[sources]]\nname = \"street\"\ninput = \"{}\"\n\
         [sources.record]\ndir = \"{}\"\npre_capture = 1\npost_capture = 1\nmax_clip = 3\n\
         [serve]\nmedia_roots = [\"{}\"]\n",
        vtest().display(),
        dir.join("clips").display(),
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

/// The text of the faces page's people list.
fn people(b: &Browser) -> String {
    b.eval(
        "return document.getElementById('people').textContent;",
        json!([]),
    )
    .as_str()
    .unwrap_or("")
    .to_string()
}

/// Whether JSON number `v` is within `tolerance` of `want`.
fn near(v: &Value, want: f64, tolerance: f64) -> bool {
    v.as_f64().is_some_and(|v| (v - want).abs() <= tolerance)
}

/// vtest.avi's frame size (the street stream), px.
const VTEST_SIZE: (f64, f64) = (768.0, 576.0);

/// `GET path` with the token, as JSON.
fn api(port: u16, path: &str) -> Value {
    let (status, body) = send(port, "GET", path, Some(TOKEN), "text/plain", b"");
    assert_eq!(status, 200, "{path}");
    serde_json::from_slice(&body).unwrap()
}

/// Width and height of a baseline JPEG (its SOF0 segment).
fn jpeg_size(jpeg: &[u8]) -> (u32, u32) {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a SOF0 segment");
    let at = |i: usize| u32::from(jpeg[sof + i]) << 8 | u32::from(jpeg[sof + i + 1]);
    (at(7), at(5))
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

    // Sign in: a wrong token is said so; the right one opens the cameras. (The waits are long
    // for a loaded machine: Chromium's start and first page took ~10 s once beside the heavy
    // tests; they end as soon as the page is there.)
    let input = b.wait_for("#token", Duration::from_secs(30));
    b.type_into(&input, "not-the-token");
    b.click(&b.find("#sign-in button").unwrap());
    let error = b.wait_for("#sign-in-error", Duration::from_secs(15));
    wait_until("the wrong-token message", Duration::from_secs(15), || {
        b.text(&error).contains("Wrong token")
    });
    b.type_into(&input, TOKEN);
    b.click(&b.find("#sign-in button").unwrap());
    b.wait_for("#grid", Duration::from_secs(30));
    let token_in_url = b.eval("return location.href;", json!([]));
    assert!(!token_in_url.as_str().unwrap().contains(TOKEN));

    // Three tiles whose video plays: currentTime advances over 3 s.
    let signed_in = Instant::now();
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
    eprintln!(
        "every tile playing {:?} after signing in",
        signed_in.elapsed()
    );
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
    // A bad main stream is shown by its own field.
    b.type_into(&input, "test://?width=160&height=120&fps=5");
    let record_input = b.find("#add-record-input").unwrap();
    b.type_into(&record_input, "ftp://camera/main");
    b.click(&submit);
    let record_error = b.find("#add-record-input-error").unwrap();
    wait_until(
        "the record input field's error",
        Duration::from_secs(10),
        || b.text(&record_error).starts_with("record_input: "),
    );
    assert!(b.text(&field_error).is_empty(), "{}", b.text(&field_error));
    b.eval(
        "document.getElementById('add-record-input').value = '';",
        json!([]),
    );
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
    let ticks = b.eval(
        "return document.querySelectorAll('#timelines .timeline[data-camera=street] line').length;",
        json!([]),
    );
    assert!(ticks.as_u64() > Some(0), "the street's timeline has ticks");
    let first = b.eval(
        "return document.querySelector('#events li').textContent;",
        json!([]),
    );
    assert!(first.as_str().unwrap().contains("street"), "{first}");

    // A new event is on the page within 2 s of the API having it, with its own thumbnail: the
    // crop of its object (the shape of the event's box).
    let newest = || api(port, "/api/events?source=street&type=new&limit=1")[0].clone();
    // Best of three (the machine may be busy with other tests): the page polls every second.
    let mut times = Vec::new();
    let mut event = Value::Null;
    while times.len() < 3 && !times.iter().any(|t| *t <= Duration::from_secs(2)) {
        let before = newest()["event_id"].clone();
        wait_until("a new event", Duration::from_secs(60), || {
            newest()["event_id"] != before
        });
        let made = Instant::now();
        event = newest();
        let id = event["event_id"].as_str().unwrap().to_string();
        wait_until("the new event on the page", Duration::from_secs(10), || {
            b.eval(
                "return [...document.querySelectorAll('#events li')].some(li => li.dataset.event === arguments[0]);",
                json!([id]),
            ) == true
        });
        times.push(made.elapsed());
    }
    eprintln!("new events listed {times:?} after the API had them");
    assert!(
        times.iter().any(|t| *t <= Duration::from_secs(2)),
        "listed after {times:?}"
    );
    let id = event["event_id"].as_str().unwrap().to_string();
    wait_until("its thumbnail loaded", Duration::from_secs(10), || {
        b.eval(
            "const li = [...document.querySelectorAll('#events li')].find(li => li.dataset.event === arguments[0]);
             const i = li && li.querySelector('img.thumb');
             return !!i && i.complete && i.naturalWidth > 0 && i.getAttribute('src').startsWith('/api/events/');",
            json!([id]),
        ) == true
    });
    let url = event["thumbnail"]
        .as_str()
        .expect("the event has a thumbnail");
    let (status, jpeg) = send(port, "GET", url, Some(TOKEN), "text/plain", b"");
    assert_eq!(status, 200);
    let (w, h) = jpeg_size(&jpeg);
    let bbox: Vec<f64> = serde_json::from_value(event["box"].clone()).unwrap();
    let (bw, bh) = (
        (bbox[2] - bbox[0]) * VTEST_SIZE.0,
        (bbox[3] - bbox[1]) * VTEST_SIZE.1,
    );
    let aspect = (w as f64 / h as f64) / (bw / bh);
    assert!(
        w.max(h) <= 160 && (0.85..1.15).contains(&aspect),
        "a {w}x{h} thumbnail of a {bw:.0}x{bh:.0} box"
    );
    let (status, _) = send(
        port,
        "GET",
        "/api/events/no-such-event/thumbnail.jpg",
        Some(TOKEN),
        "text/plain",
        b"",
    );
    assert_eq!(status, 404);
    b.screenshot(&shots().join("events.png"));

    // The zone editor: two clicks on the picture, a name, Add, Save → the stream has the line.
    b.goto(&format!("{base}/#/camera/street"));
    let overlay = b.wait_for("#overlay", Duration::from_secs(10));
    b.wait_for("#shape-name", Duration::from_secs(10));
    // The picture takes the frame's shape when its metadata arrives: the overlay's size is
    // final only once the video plays (measuring before that clicks the wrong spots).
    wait_until("the camera page's video", Duration::from_secs(20), || {
        b.eval(
            "return document.querySelector('video.big').currentTime;",
            json!([]),
        )
        .as_f64()
            > Some(0.5)
    });
    let (w, h) = {
        let r = b.eval(
            "const o = document.getElementById('overlay'); o.scrollIntoView({block: 'center'});
             const r = o.getBoundingClientRect(); return [r.width, r.height];",
            json!([]),
        );
        (r[0].as_f64().unwrap(), r[1].as_f64().unwrap())
    };
    // Offsets are from the element's center: a line down the middle of the street.
    b.click_at(&overlay, 0, (-h * 0.4) as i64);
    b.click_at(&overlay, (w * 0.02) as i64, (h * 0.45) as i64);
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
        stream(port, "street")["lines"][0]["name"] == "door-line"
    });
    let line = &stream(port, "street")["lines"][0];
    let points = line["points"].as_array().unwrap();
    assert!(
        (points[0][0].as_f64().unwrap() - 0.5).abs() < 0.05,
        "{line}"
    );
    assert!(
        (points[0][1].as_f64().unwrap() - 0.1).abs() < 0.05,
        "{line}"
    );
    assert!(
        (points[1][1].as_f64().unwrap() - 0.95).abs() < 0.05,
        "{line}"
    );
    b.eval("window.scrollTo(0, 0);", json!([]));
    // People walking down the street cross it: the page's counts move.
    let crossing = Instant::now();
    wait_until(
        "a crossing counted on the page",
        Duration::from_secs(90),
        || {
            let text = b.text(&b.find("#counts").unwrap());
            text.starts_with("door-line: ") && !text.contains("0 in, 0 out")
        },
    );
    eprintln!("first crossing shown {:?} after saving", crossing.elapsed());
    b.screenshot(&shots().join("zone-editor.png"));

    // Drag the line's lower point to the left: saved where it was dropped. (The picture has
    // its own aspect by now: measure again.)
    let (w, h) = {
        let r = b.eval(
            "const o = document.getElementById('overlay'); o.scrollIntoView({block: 'center'});
             const r = o.getBoundingClientRect(); return [r.width, r.height];",
            json!([]),
        );
        (r[0].as_f64().unwrap(), r[1].as_f64().unwrap())
    };
    let lower = b
        .find("#overlay [data-shape='line:0'][data-vertex='1']")
        .unwrap();
    b.drag(&lower, &overlay, -(w * 0.2) as i64, (h * 0.2) as i64);
    b.click(&b.find("#shapes-save").unwrap());
    wait_until("the dragged point saved", Duration::from_secs(10), || {
        let p = &stream(port, "street")["lines"][0]["points"][1];
        near(&p[0], 0.3, 0.03) && near(&p[1], 0.7, 0.03)
    });
    eprintln!("dragged: {}", stream(port, "street")["lines"][0]);

    // Keyboard only: a zone's three points placed with the arrow keys and Enter, the line's
    // upper point moved with the arrow keys (Tab from the picture reaches it).
    let upper_y = stream(port, "street")["lines"][0]["points"][0][1]
        .as_f64()
        .unwrap();
    b.eval("document.getElementById('overlay').focus();", json!([]));
    let (shift, left, up, right, down) =
        ("\u{E008}", "\u{E012}", "\u{E013}", "\u{E014}", "\u{E015}");
    let (enter, tab) = ("\u{E007}", "\u{E004}");
    let far = |arrow: &str| format!("{shift}{arrow}");
    b.press(&[&far(left), &far(left), enter]);
    b.press(&[&far(up), &far(up), enter]);
    b.press(&[&far(right), &far(right), &far(right), enter]);
    b.press(&[tab, down, down, down, down, down]);
    let focused = b.eval(
        "const a = document.activeElement; return a.dataset ? `${a.dataset.shape}/${a.dataset.vertex}` : a.id;",
        json!([]),
    );
    assert_eq!(
        focused, "line:0/0",
        "Tab from the picture reaches the first point"
    );
    b.send_keys(&b.find("#shape-kind").unwrap(), "Zone");
    b.type_into(&b.find("#shape-name").unwrap(), "kbd-zone");
    b.click(&b.find("#shape-add").unwrap());
    b.click(&b.find("#shapes-save").unwrap());
    wait_until("the keyboard's zone saved", Duration::from_secs(10), || {
        let s = stream(port, "street");
        let zone = &s["zones"][0];
        let want = [[0.3, 0.5], [0.3, 0.3], [0.6, 0.3]];
        zone["name"] == "kbd-zone"
            && (0..3).all(|i| (0..2).all(|k| near(&zone["polygon"][i][k], want[i][k], 0.005)))
            && near(&s["lines"][0]["points"][0][1], upper_y + 0.05, 0.005)
    });

    // A recording plays (HTTP Range through the session cookie: a <video src>).
    b.goto(&format!("{base}/#/clips"));
    let play = b.wait_for("#clips li button.play", Duration::from_secs(30));
    b.click(&play);
    wait_until("the clip playing", Duration::from_secs(20), || {
        b.eval(
            "return document.getElementById('clip-player').currentTime;",
            json!([]),
        )
        .as_f64()
            > Some(0.3)
    });
    b.screenshot(&shots().join("clips.png"));

    // The faces page of a service without [recognize] says so.
    b.goto(&format!("{base}/#/faces"));
    let status = b.wait_for("#faces-status", Duration::from_secs(10));
    wait_until("the faces page's note", Duration::from_secs(10), || {
        b.text(&status).contains("recognizes no faces")
    });

    // Without Media Source Extensions the tiles fall back to MJPEG, and the picture moves.
    b.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "delete window.MediaSource; delete window.ManagedMediaSource;"}),
    );
    b.goto(&format!("{base}/?mse=off#/"));
    wait_until("three MJPEG tiles", Duration::from_secs(30), || {
        b.eval(
            "return document.querySelectorAll('article.tile img.mjpeg').length;",
            json!([]),
        ) == 3
    });
    assert_eq!(b.eval("return 'MediaSource' in window;", json!([])), false);
    let picture = || {
        b.eval(
            "const i = document.querySelector('article.tile[data-name=back] img.mjpeg');
             if (!i || !i.complete || !i.naturalWidth) return null;
             const c = document.createElement('canvas');
             [c.width, c.height] = [i.naturalWidth, i.naturalHeight];
             const g = c.getContext('2d');
             g.drawImage(i, 0, 0);
             const d = g.getImageData(0, 0, c.width, c.height).data;
             let s = 0;
             for (let k = 0; k < d.length; k += 7) s = (s * 31 + d[k]) >>> 0;
             return s;",
            json!([]),
        )
    };
    let mut first = Value::Null;
    wait_until("an MJPEG picture", Duration::from_secs(20), || {
        first = picture();
        !first.is_null()
    });
    wait_until(
        "the MJPEG picture changing",
        Duration::from_secs(20),
        || {
            let now = picture();
            !now.is_null() && now != first
        },
    );
    b.screenshot(&shots().join("cameras-mjpeg.png"));

    // Signing out drops the session: the API refuses the cookie afterwards.
    b.click(&b.find("#sign-out").unwrap());
    b.wait_for("#token", Duration::from_secs(30));
    let status_after = b.eval(
        "const x = new XMLHttpRequest(); x.open('GET', '/api/streams', false); x.send(); return x.status;",
        json!([]),
    );
    assert_eq!(status_after, 401);
    drop(b);
    drop(served);
}

#[test]
fn the_faces_page_names_an_unknown_person_and_enrolls_a_photo_on_a_phone_sized_screen() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("door.mp4");
    photo_clip(&clip, &["obama2"]);
    let file = dir.path().join("faces.toml");
    std::fs::write(
        &file,
        format!(
            "[source]\nrealtime = true\nloop = true\n[model]\nmodel = \"blazeface-full\"\n\
             [recognize]\ngallery = \"{0}/gallery\"\n\
             [[sources]]\nname = \"door\"\ninput = \"{1}\"\n[serve]\nmedia_roots = [\"{0}\"]\n",
            dir.path().display(),
            clip.display()
        ),
    )
    .unwrap();
    let served = start_with_token(dir.path(), &file, TOKEN);
    let port = served.port;
    let base = format!("http://127.0.0.1:{port}");
    let b = Browser::start(390, 844);
    b.goto(&format!("{base}/#/faces"));
    let input = b.wait_for("#token", Duration::from_secs(30));
    b.type_into(&input, TOKEN);
    b.click(&b.find("#sign-in button").unwrap());

    // The unknown person at the door shows up with its crop (an <img> fetched by cookie).
    b.wait_for("#enroll", Duration::from_secs(10));
    wait_until(
        "an unknown person with a loaded crop",
        Duration::from_secs(30),
        || {
            b.eval(
            "const i = document.querySelector('#unknown img'); return !!i && i.complete && i.naturalWidth > 0;",
            json!([]),
        ) == true
        },
    );
    b.screenshot(&shots().join("faces-phone.png"));
    let name_input = b.find("#unknown input").unwrap();
    b.type_into(&name_input, "xavier");
    b.click(&b.find("#unknown button").unwrap());
    wait_until("xavier in the gallery", Duration::from_secs(20), || {
        people(&b).contains("xavier")
    });
    wait_until(
        "the door stream naming xavier",
        Duration::from_secs(20),
        || {
            let (_, body) = send(
                port,
                "GET",
                "/api/events?source=door&limit=1",
                Some(TOKEN),
                "text/plain",
                b"",
            );
            let events: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            events[0]["identity"]["name"] == "xavier"
        },
    );

    // Enroll a photo through the file input.
    b.type_into(&b.find("#enroll-name").unwrap(), "joe");
    let upload = b.find("#enroll-file").unwrap();
    b.send_keys(&upload, photo("biden").to_str().unwrap());
    b.click(&b.find("#enroll button").unwrap());
    wait_until("joe in the gallery", Duration::from_secs(20), || {
        people(&b).contains("joe")
    });
    let status = b.text(&b.find("#faces-status").unwrap());
    assert!(status.contains("joe enrolled"), "{status}");
    let width = b.eval("return document.documentElement.scrollWidth;", json!([]));
    assert!(
        width.as_u64() <= Some(390),
        "no sideways scrolling on a phone: {width}"
    );
    drop(b);
    drop(served);
}
