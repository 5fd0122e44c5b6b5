//! Home Assistant MQTT discovery (`[output.mqtt] home_assistant = true`): each stream of the
//! service appears in Home Assistant as a device with
//!
//! - a `camera` fed with the annotated JPEG on `{prefix}/{source}/snapshot` every
//!   `snapshot_interval` seconds (a thread of its own, [`Snapshots`]);
//! - a `sensor` per label it counts (its `classes`, else the model's labels), state on the
//!   existing `{prefix}/{source}/{label}` count topics;
//! - a `binary_sensor` for motion (`{prefix}/{source}/motion`) where the stream has a motion
//!   detector, and one per zone for occupancy (`{prefix}/{source}/zones/{zone}/occupancy`);
//!
//! all tied to the availability topic `{prefix}/available`. Configs are retained under
//! `homeassistant/{component}/{node}/{object}/config` (HA's documented discovery schema) and
//! cleared with empty retained payloads when the stream is removed.

use super::Service;
use crate::sink::events::{OFF, ON};
use crate::sink::mqtt::Mqtt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Home Assistant's default discovery prefix.
pub const DISCOVERY_PREFIX: &str = "homeassistant";

/// What a stream is announced with.
pub struct Announce<'a> {
    pub source: &'a str,
    pub labels: &'a [String],
    pub zones: &'a [String],
    pub motion: bool,
}

/// `s` with every character outside `[A-Za-z0-9_-]` as `_` (HA's node and object ids).
fn id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The discovery configs of a stream: `(config topic, payload)` per entity.
pub fn entities(mqtt: &Mqtt, model: &str, a: &Announce<'_>) -> Vec<(String, Value)> {
    let node = id(&mqtt.topic(a.source).replace('/', "_"));
    let topic = |rest: &str| mqtt.topic(&format!("{}/{rest}", a.source));
    let device = json!({
        "identifiers": [node],
        "name": a.source,
        "model": format!("ovstream ({model})"),
        "manufacturer": "ovstream",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let base = |name: String, object: &str| {
        json!({
            "name": name,
            "unique_id": format!("{node}_{}", id(object)),
            "object_id": format!("{node}_{}", id(object)),
            "availability_topic": mqtt.topic("available"),
            "device": device.clone(),
        })
    };
    let config = |component: &str, object: &str| {
        format!(
            "{DISCOVERY_PREFIX}/{component}/{node}/{}/config",
            id(object)
        )
    };
    let mut out = Vec::new();
    let mut camera = base(a.source.to_string(), "camera");
    camera["topic"] = json!(topic("snapshot"));
    out.push((config("camera", "camera"), camera));
    for label in a.labels {
        let object = format!("{label}_count");
        let mut sensor = base(format!("{label} count"), &object);
        sensor["state_topic"] = json!(topic(label));
        sensor["state_class"] = json!("measurement");
        sensor["unit_of_measurement"] = json!("objects");
        out.push((config("sensor", &object), sensor));
    }
    let mut binary = |name: String, object: &str, state: String, class: &str| {
        let mut b = base(name, object);
        b["state_topic"] = json!(state);
        b["payload_on"] = json!(ON);
        b["payload_off"] = json!(OFF);
        b["device_class"] = json!(class);
        out.push((config("binary_sensor", object), b));
    };
    if a.motion {
        binary("motion".into(), "motion", topic("motion"), "motion");
    }
    for zone in a.zones {
        let object = format!("{zone}_occupancy");
        let state = topic(&format!("zones/{zone}/occupancy"));
        binary(format!("{zone} occupancy"), &object, state, "occupancy");
    }
    out
}

/// Publishes the configs (retained); returns their topics, to clear them later.
pub fn announce(mqtt: &Mqtt, model: &str, a: &Announce<'_>) -> Vec<String> {
    entities(mqtt, model, a)
        .into_iter()
        .map(|(topic, payload)| {
            let body = serde_json::to_vec(&payload).expect("a config serializes");
            mqtt.publish(topic.clone(), body, true);
            topic
        })
        .collect()
}

/// Removes the entities: an empty retained payload on each config topic (and the stream's
/// retained snapshot).
pub fn clear(mqtt: &Mqtt, source: &str, topics: &[String]) {
    for t in topics {
        mqtt.publish(t.clone(), Vec::new(), true);
    }
    mqtt.publish(mqtt.topic(&format!("{source}/snapshot")), Vec::new(), true);
}

/// The thread publishing every stream's annotated JPEG on `{prefix}/{source}/snapshot` every
/// `interval`, while the broker is connected (no snapshot waits in the queue of an outage).
pub struct Snapshots {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the thread checks for its stop.
const TICK: Duration = Duration::from_millis(100);

impl Snapshots {
    /// The thread `[output.mqtt]` asks for (`home_assistant = true`), publishing on `mqtt`.
    ///
    /// # Errors
    /// [`crate::Error::Setting`] when the thread cannot start.
    pub fn for_config(
        config: &crate::config::PipelineConfig,
        mqtt: Option<&Mqtt>,
        service: &Arc<Service>,
    ) -> crate::error::Result<Option<Self>> {
        let (Some(m), Some(c)) = (mqtt, &config.output.mqtt) else {
            return Ok(None);
        };
        if !c.home_assistant {
            return Ok(None);
        }
        let interval = Duration::from_secs_f64(c.snapshot_interval);
        Snapshots::start(Arc::clone(service), m.clone(), interval)
            .map(Some)
            .map_err(|e| crate::Error::Setting {
                key: "output.mqtt.home_assistant".into(),
                message: e.to_string(),
            })
    }

    pub fn start(service: Arc<Service>, mqtt: Mqtt, interval: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ovstream-ha-snapshots".into())
            .spawn(move || {
                let mut next = Instant::now() + interval;
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    if Instant::now() < next {
                        continue;
                    }
                    next += interval;
                    if !mqtt.stats().connected.load(Ordering::Relaxed) {
                        continue;
                    }
                    let names: Vec<String> = service.streams.read().keys().cloned().collect();
                    for name in names {
                        if let Ok(jpeg) = service.snapshot(&name, false) {
                            mqtt.publish(mqtt.topic(&format!("{name}/snapshot")), jpeg, true);
                        }
                    }
                }
            })?;
        Ok(Snapshots {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_only_what_home_assistant_allows() {
        assert_eq!(id("traffic light"), "traffic_light");
        assert_eq!(id("ovstream/door-1"), "ovstream_door-1");
    }
}
