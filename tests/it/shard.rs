//! Scale-out: a camera list sharded across `ovstream serve --shard K/N` replicas (rendezvous
//! hashing, `src/shard.rs`), all publishing to one real mosquitto on 127.0.0.1.

use crate::common;

use common::broker::{Broker, Subscriber};
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CAMERAS: usize = 6;
const REPLICAS: u32 = 3;
const PREFIX: &str = "site";

fn cameras() -> Vec<String> {
    (1..=CAMERAS).map(|i| format!("cam{i}")).collect()
}

/// Six live `test://` cameras, every frame's record on `site/<camera>/frames`.
fn pipeline(dir: &Path, broker: u16) -> PathBuf {
    let mut text = format!(
        "[model]\nmodel = \"pedestrian-ssdlite\"\n[detect]\nmode = \"always\"\n\
         [output.mqtt]\nurl = \"mqtt://127.0.0.1:{broker}/{PREFIX}\"\nqos = 0\nframes = true\n"
    );
    for name in cameras() {
        text += &format!(
            "[[sources]]\nname = \"{name}\"\ninput = \"test://?fps=5&width=160&height=120\"\n"
        );
    }
    let path = dir.join("cameras.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `ovstream serve --shard K/N` on a port the kernel picked, killed when dropped.
struct Replica {
    served: common::serve::Served,
    port: u16,
}

impl Replica {
    fn start(dir: &Path, pipeline: &Path, shard: u32) -> Replica {
        let state = dir.join(format!("state-{shard}.json"));
        let shard_arg = format!("{shard}/{REPLICAS}");
        let served = common::serve::start(
            &[
                pipeline.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
                "--shard",
                &shard_arg,
            ],
            Duration::from_secs(90),
        );
        let port = served.port;
        Replica { served, port }
    }

    fn get(&self, path: &str) -> (u16, String) {
        common::http::get(self.port, path)
    }

    /// The names of the streams it runs.
    fn streams(&self) -> BTreeSet<String> {
        let (status, body) = self.get("/api/streams");
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// `ovstream shards FILE --replicas N`: camera → shard.
fn table(pipeline: &Path, replicas: u32) -> BTreeMap<String, u32> {
    let out = ovstream(&[
        "shards",
        pipeline.to_str().unwrap(),
        "--replicas",
        &replicas.to_string(),
    ]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rows: BTreeMap<String, u32> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let name = f.next()?;
            let shard = f.next()?.parse().ok()?;
            name.starts_with("cam").then(|| (name.to_string(), shard))
        })
        .collect();
    assert_eq!(rows.len(), CAMERAS, "{text}");
    rows
}

/// Frames received per camera so far.
fn frames_per_camera(sub: &Subscriber) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for (topic, _) in sub.messages() {
        let parts: Vec<&str> = topic.split('/').collect();
        if let [PREFIX, camera, "frames"] = parts.as_slice() {
            *n.entry(camera.to_string()).or_default() += 1;
        }
    }
    n
}

fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn three_replicas_split_six_cameras_and_a_killed_one_stops_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(broker_dir.path());
    let sub = Subscriber::start(broker.port, PREFIX, &dir.path().join("sub.txt"), &[]);
    let pipeline = pipeline(dir.path(), broker.port);
    let table = table(&pipeline, REPLICAS);
    let mut replicas: Vec<Replica> = (0..REPLICAS)
        .map(|k| Replica::start(dir.path(), &pipeline, k))
        .collect();
    // Each replica runs exactly its rows of the table; together, every camera once.
    let mut all = BTreeSet::new();
    for (k, r) in replicas.iter().enumerate() {
        let expected: BTreeSet<String> = table
            .iter()
            .filter(|(_, &s)| s == k as u32)
            .map(|(c, _)| c.clone())
            .collect();
        let runs = r.streams();
        assert_eq!(runs, expected, "replica {k}");
        assert!(all.is_disjoint(&runs), "{all:?} and {runs:?}");
        all.extend(runs);
    }
    assert_eq!(all.len(), CAMERAS);
    // One bus: frames of all six cameras arrive.
    wait_until("frames from every camera", Duration::from_secs(60), || {
        frames_per_camera(&sub).len() == CAMERAS
    });

    // Kill a replica that runs at least one camera: only its cameras stop.
    let victim = (0..REPLICAS)
        .find(|k| table.values().any(|s| s == k))
        .unwrap();
    let own: BTreeSet<String> = table
        .iter()
        .filter(|(_, &s)| s == victim)
        .map(|(c, _)| c.clone())
        .collect();
    {
        let r = &mut replicas[victim as usize];
        r.served.child.kill().unwrap();
        r.served.wait();
    }
    std::thread::sleep(Duration::from_secs(1)); // what was in flight lands
    let before = frames_per_camera(&sub);
    std::thread::sleep(Duration::from_secs(3));
    let after = frames_per_camera(&sub);
    for camera in cameras() {
        let grew = after[&camera] > before[&camera];
        assert_eq!(
            grew,
            !own.contains(&camera),
            "{camera}: {before:?} → {after:?}"
        );
    }

    // Restarted with the same shard, it resumes exactly its cameras.
    replicas[victim as usize] = Replica::start(dir.path(), &pipeline, victim);
    assert_eq!(replicas[victim as usize].streams(), own);
    let restart = frames_per_camera(&sub);
    wait_until(
        "the restarted replica's frames",
        Duration::from_secs(60),
        || {
            let now = frames_per_camera(&sub);
            own.iter().all(|c| now[c] > restart[c])
        },
    );
}

#[test]
fn bad_shards_exit_2_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), 1883);
    let out = ovstream(&["serve", pipeline.to_str().unwrap(), "--shard", "3/3"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("3/3"), "{}", stderr(&out));
    let out = ovstream(&["shards", pipeline.to_str().unwrap(), "--replicas", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    std::fs::write(
        dir.path().join("bad.toml"),
        std::fs::read_to_string(&pipeline).unwrap() + "[serve]\nshard = \"1\"\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    let out = ovstream(&["shards", bad.to_str().unwrap(), "--replicas", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("shard"), "{}", stderr(&out));
    // Going from 2 to 3 replicas moves only cameras to the new shard.
    let two = table(&pipeline, 2);
    let three = table(&pipeline, 3);
    for (camera, &k) in &three {
        assert!(
            k == 2 || two[camera] == k,
            "{camera}: {} → {k}",
            two[camera]
        );
    }
}
