//! Home Assistant MQTT discovery from `ovstream serve` (`[output.mqtt] home_assistant = true`):
//! a real mosquitto broker, `mosquitto_sub` as the client, the real binary and model.

use crate::common;

use common::broker::{Broker, Subscriber};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const TOKEN: &str = "ha-token";

fn call(port: u16, method: &str, path: &str, body: &str) -> u16 {
    common::http::request(
        port,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .0
}

/// The size of `jpeg` once decoded by GStreamer's `jpegdec`.
fn decode(jpeg: Vec<u8>) -> Option<(i32, i32)> {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(
        "appsrc name=src caps=image/jpeg ! jpegdec ! appsink name=out sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let out = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    src.push_buffer(gst::Buffer::from_mut_slice(jpeg)).unwrap();
    src.end_of_stream().unwrap();
    let sample = out.try_pull_sample(gst::ClockTime::from_seconds(10));
    pipeline.set_state(gst::State::Null).unwrap();
    let caps = sample?.caps()?.to_owned();
    let s = caps.structure(0)?;
    Some((s.get("width").ok()?, s.get("height").ok()?))
}

/// `count` non-retained messages of `topic`: (arrival time in s, payload).
fn binary_messages(port: u16, topic: &str, count: usize) -> Vec<(f64, Vec<u8>)> {
    let out = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-R",
        ])
        .args(["-C", &count.to_string(), "-W", "60", "-F", "%U %x"])
        .output()
        .expect("mosquitto_sub runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, hex)| {
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            (t.parse().unwrap(), bytes)
        })
        .collect()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The discovery configs seen so far: topic → payload (the last one).
fn configs(sub: &Subscriber) -> std::collections::BTreeMap<String, String> {
    sub.messages()
        .into_iter()
        .filter(|(t, _)| t.ends_with("/config"))
        .collect()
}

#[test]
fn each_stream_is_a_home_assistant_device_until_it_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let pipeline = dir.path().join("serve.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[model]\nmodel = \"pedestrian-ssdlite\"\n[detect]\nmode = \"motion\"\n\
             [output.mqtt]\nurl = \"{}\"\nhome_assistant = true\nsnapshot_interval = 1\n",
            broker.url("ovs")
        ),
    )
    .unwrap();
    let s = common::serve::start_with_token(dir.path(), &pipeline, TOKEN);
    // Noise: each snapshot is a JPEG of some 100 KiB, over rumqttc's 10 KiB default packet
    // size (which jammed the queue), under ovstream's 1 MiB.
    let body = r#"{"name": "door", "input": "test://?pattern=snow&width=640&height=480&fps=10",
        "zones": [{"name": "left", "polygon": [[0,0],[0.5,0],[0.5,1],[0,1]]}]}"#;
    assert_eq!(call(s.port, "POST", "/api/streams", body), 201);
    let states = Subscriber::start(broker.port, "ovs", &dir.path().join("states.txt"), &[]);
    assert!(
        states.wait_for("ovs/door/motion", "ON", Duration::from_secs(60)),
        "motion ON: {:?}",
        states.messages()
    );
    assert!(states.wait_for(
        "ovs/door/zones/left/occupancy",
        "OFF",
        Duration::from_secs(30)
    ));

    // Subscribed after the stream joined: the configs are retained.
    let sub = Subscriber::start(
        broker.port,
        "homeassistant",
        &dir.path().join("ha.txt"),
        &[],
    );
    let node = "ovs_door";
    let expected = [
        format!("homeassistant/camera/{node}/camera/config"),
        format!("homeassistant/sensor/{node}/person_count/config"),
        format!("homeassistant/binary_sensor/{node}/motion/config"),
        format!("homeassistant/binary_sensor/{node}/left_occupancy/config"),
    ];
    wait_for("the discovery configs", Duration::from_secs(30), || {
        let seen = configs(&sub);
        expected.iter().all(|t| seen.contains_key(t))
    });
    let seen = configs(&sub);
    assert_eq!(
        seen.len(),
        expected.len(),
        "one config per entity: {seen:?}"
    );
    let mut ids = std::collections::HashSet::new();
    for (topic, payload) in &seen {
        let c: Value = serde_json::from_str(payload).unwrap();
        for key in ["name", "unique_id", "availability_topic", "device"] {
            assert!(c.get(key).is_some(), "{topic}: no {key} in {c}");
        }
        for key in ["identifiers", "name", "model", "sw_version"] {
            assert!(c["device"].get(key).is_some(), "{topic}: no device.{key}");
        }
        assert_eq!(c["availability_topic"], "ovs/available");
        assert!(ids.insert(c["unique_id"].as_str().unwrap().to_string()));
        let state = if topic.contains("/camera/") {
            &c["topic"]
        } else {
            &c["state_topic"]
        };
        assert!(state.as_str().unwrap().starts_with("ovs/door/"), "{c}");
    }
    let motion: Value = serde_json::from_str(&seen[&expected[2]]).unwrap();
    assert_eq!(motion["state_topic"], "ovs/door/motion");
    assert_eq!(motion["device_class"], "motion");

    // The camera entity's pictures: decodable JPEGs, about one a second.
    let pictures = binary_messages(broker.port, "ovs/door/snapshot", 3);
    assert_eq!(pictures.len(), 3, "three snapshots within a minute");
    for (_, jpeg) in &pictures {
        assert!(jpeg.len() > 10 * 1024, "a {}-byte snapshot", jpeg.len());
        assert_eq!(decode(jpeg.clone()), Some((640, 480)));
    }
    let gap = (pictures[2].0 - pictures[0].0) / 2.0;
    assert!(
        (0.5..=2.5).contains(&gap),
        "a snapshot every {gap:.2} s (1 s asked)"
    );

    // Removed: every config is cleared with an empty retained payload.
    assert_eq!(call(s.port, "DELETE", "/api/streams/door", ""), 204);
    wait_for("the configs to be cleared", Duration::from_secs(30), || {
        let seen = configs(&sub);
        // mosquitto_sub -v shows an empty payload as `(null)`.
        expected
            .iter()
            .all(|t| seen.get(t).is_some_and(|p| p.is_empty() || p == "(null)"))
    });
}
