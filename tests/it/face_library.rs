//! The face library over the API (`/api/faces`) and remembered unknown people, on a running
//! `ovstream serve` with real BlazeFace + FaceNet: clips made here from the sample portraits
//! (as tests/it/faces.rs does), people enrolled and unknowns named while streams run.

use crate::common;

use common::http::send;
use common::serve::{start_with_token, Served};
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "face-library-test-token";
/// Frames per person in a clip ([`photo_clip`]).
const SEGMENT: usize = PHOTO_SEGMENT;

/// A face-recognition service file: files played in real time, JSON per stream in `dir`;
/// `source` and `recognize` are added to those tables.
fn service_file(dir: &Path, source: &str, recognize: &str) -> PathBuf {
    let text = format!(
        "[source]\nrealtime = true\n{source}\n[model]\nmodel = \"blazeface-full\"\n\
         [recognize]\ngallery = \"{0}/gallery\"\n{recognize}\n\
         [output]\nmetadata = \"{0}/{{name}}.jsonl\"\n[serve]\nmedia_roots = [\"{0}\"]\n",
        dir.display()
    );
    let path = dir.join("faces.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn api(port: u16, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, reply) = send(port, method, path, Some(TOKEN), "application/json", &bytes);
    (
        status,
        serde_json::from_slice(&reply).unwrap_or(Value::Null),
    )
}

fn get(port: u16, path: &str) -> Value {
    let (status, v) = api(port, "GET", path, &Value::Null);
    assert_eq!(status, 200, "GET {path}: {v}");
    v
}

fn upload(port: u16, path: &str, content_type: &str, bytes: &[u8]) -> (u16, Value) {
    let (status, reply) = send(port, "POST", path, Some(TOKEN), content_type, bytes);
    (
        status,
        serde_json::from_slice(&reply).unwrap_or(Value::Null),
    )
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(mut served: Served) -> String {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (status, log) = served.wait();
    assert!(status.success(), "serve exited with {status}: {log}");
    log
}

/// `(frame, name, unknown_id)` of the one face of each frame of a JSON file (faces: 0 or 1).
fn faces(path: &Path) -> Vec<(u64, String, Option<u64>)> {
    read_jsonl(path)
        .iter()
        .filter_map(|l| {
            let o = l["objects"].as_array()?.first()?;
            Some((
                l["frame"].as_u64().unwrap_or(u64::MAX),
                o["identity"]["name"].as_str().unwrap_or("").to_string(),
                o["unknown_id"].as_u64(),
            ))
        })
        .collect()
}

/// The most common `(name, unknown_id)` among the faces of frames `segment`, and its share.
fn segment_identity(
    all: &[(u64, String, Option<u64>)],
    segment: usize,
) -> ((String, Option<u64>), f64) {
    let range = (segment * SEGMENT) as u64 + 3..((segment + 1) * SEGMENT) as u64;
    let inside: Vec<_> = all.iter().filter(|f| range.contains(&f.0)).collect();
    let mut counts: Vec<((String, Option<u64>), usize)> = Vec::new();
    for f in &inside {
        let key = (f.1.clone(), f.2);
        match counts.iter_mut().find(|c| c.0 == key) {
            Some(c) => c.1 += 1,
            None => counts.push((key, 1)),
        }
    }
    let (key, n) = counts
        .into_iter()
        .max_by_key(|c| c.1)
        .unwrap_or(((String::new(), None), 0));
    (key, n as f64 / (SEGMENT - 3) as f64)
}

#[test]
fn unknown_people_keep_their_id_across_appearances_and_are_named_while_the_stream_runs() {
    let dir = tempfile::tempdir().unwrap();
    let clip_path = dir.path().join("door.mp4");
    // X, Y, X again (another photo of X), Y, X.
    photo_clip(
        &clip_path,
        &["obama2", "biden", "obama3", "biden", "obama2"],
    );
    let file = service_file(dir.path(), "", "");
    let served = start_with_token(dir.path(), &file, TOKEN);
    let port = served.port;
    let (status, _) = send(port, "GET", "/api/faces/unknown", None, "text/plain", b"");
    assert_eq!(status, 401, "the face library needs the token");
    let (status, v) = api(
        port,
        "POST",
        "/api/streams",
        &serde_json::json!({"name": "door", "input": clip_path}),
    );
    assert_eq!(status, 201, "{v}");

    // X comes back: its remembered person has two appearances.
    let mut x = 0;
    wait_for("X seen twice", Duration::from_secs(60), || {
        let list = get(port, "/api/faces/unknown");
        let twice = list.as_array().unwrap().iter().find(|u| {
            u["count"].as_u64() >= Some(2) && u["cameras"] == serde_json::json!(["door"])
        });
        x = twice.map_or(0, |u| u["unknown_id"].as_u64().unwrap());
        x != 0
    });
    let frames_then = get(port, "/api/streams/door")["frames"].as_u64().unwrap();
    let named_at = Instant::now();
    let (status, v) = api(
        port,
        "POST",
        &format!("/api/faces/unknown/{x}/name"),
        &serde_json::json!({"name": "xavier"}),
    );
    assert_eq!(status, 201, "{v}");
    assert!(
        !v.as_array().unwrap().is_empty(),
        "X's samples join the gallery: {v}"
    );
    assert!(
        frames_then < (4 * SEGMENT) as u64,
        "named before X's last appearance (frame {frames_then})"
    );
    wait_for("the clip to end", Duration::from_secs(60), || {
        get(port, "/api/streams/door")["state"] == "finished"
    });
    eprintln!("named {:?} after the call (clip end)", named_at.elapsed());

    let all = faces(&dir.path().join("door.jsonl"));
    let frames: Vec<u64> = all.iter().map(|f| f.0).collect();
    assert!(
        frames.windows(2).all(|w| w[0] < w[1]),
        "one run, no restart: frame numbers only grow"
    );
    let (x0, share0) = segment_identity(&all, 0);
    let (y1, share1) = segment_identity(&all, 1);
    let (y3, share3) = segment_identity(&all, 3);
    let (x4, share4) = segment_identity(&all, 4);
    assert_eq!(
        x0,
        ("unknown".to_string(), Some(x)),
        "X's first appearance ({share0})"
    );
    assert!(share0 >= 0.8, "X's unknown_id in {share0} of its frames");
    assert_eq!(y1.0, "unknown");
    assert!(
        y1.1.is_some() && y1.1 != Some(x),
        "Y is another person: {y1:?}"
    );
    assert!(share1 >= 0.8, "Y's unknown_id in {share1} of its frames");
    assert_eq!(y3, y1, "Y keeps its id ({share3})");
    assert_eq!(
        x4,
        ("xavier".to_string(), None),
        "X's next appearance is named ({share4})"
    );
    assert!(share4 >= 0.9, "xavier in {share4} of X's last frames");
    let events = get(port, "/api/events?source=door&limit=1000");
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["unknown_id"] == y1.1.unwrap()),
        "events carry unknown_id"
    );

    // Y's crop is served, and Y and xavier survive a restart.
    let y = y1.1.unwrap();
    let unknown = get(port, "/api/faces/unknown");
    let url = unknown[0]["samples"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, jpeg) = send(port, "GET", &url, Some(TOKEN), "text/plain", b"");
    assert_eq!(status, 200);
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG crop");
    stop(served);
    let served = start_with_token(dir.path(), &file, TOKEN);
    let port = served.port;
    let people = get(port, "/api/faces");
    assert_eq!(people[0]["name"], "xavier", "{people}");
    let unknown = get(port, "/api/faces/unknown");
    assert_eq!(unknown.as_array().unwrap().len(), 1, "{unknown}");
    assert_eq!(unknown[0]["unknown_id"], y);
    let (status, _) = api(
        port,
        "DELETE",
        &format!("/api/faces/unknown/{y}"),
        &Value::Null,
    );
    assert_eq!(status, 204);
    assert_eq!(get(port, "/api/faces/unknown"), serde_json::json!([]));
    let (status, _) = api(
        port,
        "DELETE",
        &format!("/api/faces/unknown/{y}"),
        &Value::Null,
    );
    assert_eq!(status, 404);
    stop(served);

    // The CLI sees the same library.
    let state = dir.path().join("state.json");
    let cli = |args: &[&str]| {
        let mut all = vec![
            "gallery",
            "--pipeline",
            file.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        ovstream(&all)
    };
    let out = cli(&["recognize", photo("obama3").to_str().unwrap()]);
    assert_ok(&out);
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["faces"][0]["name"], "xavier", "{line}");
    let out = cli(&["unknown", "list"]);
    assert_ok(&out);
    assert!(out.stdout.is_empty(), "Y was forgotten");
    let out = cli(&["unknown", "forget", &y.to_string()]);
    assert!(!out.status.success(), "nothing to forget");
}

/// A JPEG of `photos` side by side, each 400x400.
fn side_by_side(out: &Path, photos: &[&str]) {
    let mut description = format!(
        "compositor name=m ! videoconvert ! jpegenc ! filesink location=\"{}\"",
        out.display()
    );
    for (k, p) in photos.iter().enumerate() {
        description.push_str(&format!(
            " filesrc location=\"{}\" ! jpegdec ! videoconvert ! videoscale ! \
             video/x-raw,width=400,height=400 ! imagefreeze num-buffers=1 ! m.sink_{k}",
            photo(p).display()
        ));
    }
    description = description.replacen(
        "compositor name=m",
        &format!(
            "compositor name=m {}",
            (0..photos.len())
                .map(|k| format!("sink_{k}::xpos={}", 400 * k))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        1,
    );
    run_gst(&description);
}

/// Waits for an event of stream `cam` whose identity is `name`; returns how long it took.
fn named_within(port: u16, name: &str, since: Instant) -> Duration {
    wait_for(
        &format!("an event naming {name}"),
        Duration::from_secs(30),
        || {
            get(port, "/api/events?source=cam&limit=20")
                .as_array()
                .unwrap()
                .first()
                .is_some_and(|e| e["identity"]["name"] == name)
        },
    );
    since.elapsed()
}

#[test]
fn photos_enrolled_over_the_api_name_faces_at_once_and_bad_images_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clip_path = dir.path().join("cam.mp4");
    photo_clip(&clip_path, &["obama2"]);
    // A track is identified once only: a gallery change must make it vote again.
    let file = service_file(dir.path(), "loop = true", "reidentify_interval = 100000");
    let served = start_with_token(dir.path(), &file, TOKEN);
    let port = served.port;
    let obama = std::fs::read(photo("obama")).unwrap();
    let (status, _) = send(port, "POST", "/api/faces/alice", None, "image/jpeg", &obama);
    assert_eq!(status, 401);
    let (status, v) = api(
        port,
        "POST",
        "/api/streams",
        &serde_json::json!({"name": "cam", "input": clip_path}),
    );
    assert_eq!(status, 201, "{v}");
    named_within(port, "unknown", Instant::now());

    // Enroll: the running stream names the face within moments, no restart.
    let asked = Instant::now();
    let (status, sample) = upload(port, "/api/faces/alice", "image/jpeg", &obama);
    assert_eq!(status, 201, "{sample}");
    let took = named_within(port, "alice", asked);
    eprintln!("alice named {took:?} after the POST");
    let recognized = |image: &str| {
        let bytes = std::fs::read(photo(image)).unwrap();
        let (status, v) = upload(port, "/api/faces/recognize", "image/jpeg", &bytes);
        assert_eq!(status, 200, "{v}");
        assert_eq!(v.as_array().unwrap().len(), 1, "{image}: {v}");
        v[0]["name"].as_str().unwrap().to_string()
    };
    assert_eq!(recognized("obama3"), "alice");
    assert_eq!(recognized("biden"), "unknown");

    // A multipart upload; another person; the list.
    let biden = std::fs::read(photo("biden")).unwrap();
    let mut form =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"b.jpg\"\r\n\
                     Content-Type: image/jpeg\r\n\r\n"
            .to_vec();
    form.extend_from_slice(&biden);
    form.extend_from_slice(b"\r\n--XyZ--\r\n");
    let (status, v) = upload(
        port,
        "/api/faces/joe",
        "multipart/form-data; boundary=XyZ",
        &form,
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(recognized("biden"), "joe");
    let people = get(port, "/api/faces");
    assert_eq!(people[0]["name"], "alice");
    assert_eq!(people[1]["name"], "joe");
    assert_eq!(people[1]["embedding_count"], 1);
    let url = people[0]["samples"][0]["url"].as_str().unwrap();
    let (status, jpeg) = send(port, "GET", url, Some(TOKEN), "text/plain", b"");
    assert_eq!(status, 200);
    assert!(
        jpeg.starts_with(&[0xFF, 0xD8]),
        "the aligned crop is a JPEG"
    );

    // Refused, each for its reason.
    let text = b"name,similarity\nalice,0.9\n".to_vec();
    let one_pixel = dir.path().join("1.png");
    run_gst(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,width=1,height=1 ! pngenc ! filesink location=\"{}\"",
        one_pixel.display()
    ));
    let two = dir.path().join("two.jpg");
    side_by_side(&two, &["obama", "biden"]);
    for (what, bytes, kind, want) in [
        ("a text file", text, "image/jpeg", "not an image"),
        (
            "a 1x1 image",
            std::fs::read(&one_pixel).unwrap(),
            "image/png",
            "no face",
        ),
        (
            "two faces",
            std::fs::read(&two).unwrap(),
            "image/jpeg",
            "2 faces",
        ),
    ] {
        let (status, v) = upload(port, "/api/faces/bob", kind, &bytes);
        assert_eq!(status, 422, "{what}: {v}");
        assert!(v["error"].as_str().unwrap().contains(want), "{what}: {v}");
    }
    let (status, v) = upload(port, "/api/faces/unknown", "image/jpeg", &obama);
    assert_eq!(status, 405, "a reserved name is a path of the API: {v}");
    assert!(v["error"].is_string(), "405 is JSON too: {v}");
    let (status, v) = api(port, "GET", "/api/faces/unknown/seven/name", &Value::Null);
    assert_eq!(status, 405);
    assert!(v["error"].is_string(), "{v}");
    let (status, v) = api(port, "GET", "/api/clips?limit=many", &Value::Null);
    assert_eq!(status, 400);
    assert!(
        v["error"].as_str().unwrap().contains("limit"),
        "a query error is JSON: {v}"
    );
    let big = vec![0xFFu8; 9 << 20];
    let (status, _) = upload(port, "/api/faces/bob", "image/jpeg", &big);
    assert_eq!(status, 413, "a 9 MiB body");
    assert_eq!(
        get(port, "/api/faces").as_array().unwrap().len(),
        2,
        "nothing added"
    );

    // Rename, delete.
    let (status, _) = api(
        port,
        "PATCH",
        "/api/faces/joe",
        &serde_json::json!({"name": "alice"}),
    );
    assert_eq!(status, 409);
    let (status, _) = api(
        port,
        "PATCH",
        "/api/faces/joe",
        &serde_json::json!({"name": "joseph"}),
    );
    assert_eq!(status, 204);
    assert_eq!(recognized("biden"), "joseph");
    let id = sample["id"].as_str().unwrap();
    let (status, _) = api(
        port,
        "DELETE",
        &format!("/api/faces/alice/samples/{id}"),
        &Value::Null,
    );
    assert_eq!(status, 204, "alice's last sample: alice is gone");
    let asked = Instant::now();
    named_within(port, "unknown", asked);
    assert_eq!(recognized("obama3"), "unknown");
    let (status, _) = api(port, "DELETE", "/api/faces/joseph", &Value::Null);
    assert_eq!(status, 204);
    assert_eq!(get(port, "/api/faces"), serde_json::json!([]));
    let (status, _) = api(port, "DELETE", "/api/faces/joseph", &Value::Null);
    assert_eq!(status, 404);
    stop(served);
}
