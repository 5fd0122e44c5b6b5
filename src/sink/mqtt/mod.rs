//! MQTT publishing (`rumqttc`) that never blocks the pipeline and loses nothing across a broker
//! outage at QoS ≥ 1.
//!
//! The pipeline hands messages to a bounded queue ([`Mqtt::publish`], never blocks); one thread
//! owns the MQTT connection: it feeds queued messages to the connection while it is up, keeps
//! every message until the broker acknowledged it, and after a reconnect (backoff 0.5 s → 30 s)
//! sends the unacknowledged ones again, in order, before anything newer. Only when the queue
//! overflows are the oldest messages dropped (counted, logged once per burst).
//!
//! Topics (`{prefix}` = `topic_prefix`, default `ovstream`): `{prefix}/available` is `online`
//! (retained) on every connect and `offline` (retained) as the last will and at shutdown.

use crate::config::MqttConfig;
use crate::error::{Error, Result};
use parking_lot::{Condvar, Mutex};
use rumqttc::{Client, LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

mod link;

/// Room in the client's request channel beyond `max_inflight` (the disconnect at shutdown).
const REQUEST_SLACK: usize = 4;

/// One message.
#[derive(Debug, Clone)]
struct Message {
    topic: String,
    payload: Vec<u8>,
    retain: bool,
}

/// Counters, shared with the summary and the metrics endpoint.
#[derive(Debug, Default)]
pub struct MqttStats {
    /// Acknowledged by the broker (QoS ≥ 1) or written (QoS 0).
    pub published: AtomicU64,
    /// Dropped because the queue overflowed.
    pub dropped: AtomicU64,
    /// Dropped because they were over `max_packet_size` (never sent).
    pub oversized: AtomicU64,
    /// Connections made after the first.
    pub reconnects: AtomicU64,
    /// Connection attempts that failed (refused, unreachable, TLS, login).
    pub failed_attempts: AtomicU64,
    pub connected: AtomicBool,
    /// Messages waiting (queued, or sent and not yet acknowledged).
    pub queued: AtomicU64,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<(u64, Message)>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    capacity: usize,
    stats: Arc<MqttStats>,
    /// Raised when a drop burst was logged; cleared when the queue has room again.
    burst_logged: AtomicBool,
    /// Largest packet the connection takes (`max_packet_size`).
    max_packet: usize,
    /// Messages handed to the connection and not yet acknowledged, at most (`max_inflight`).
    window: usize,
}

/// The publisher: a handle the sources clone, and the connection thread.
#[derive(Clone)]
pub struct Mqtt {
    shared: Arc<Shared>,
    /// The broker URL, password redacted.
    label: Arc<str>,
    prefix: Arc<str>,
    qos: QoS,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Mqtt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mqtt({})", self.prefix)
    }
}

impl Mqtt {
    /// Starts the connection thread for `config` (connecting in the background: an
    /// unreachable broker or a refused login is logged and retried, never fatal).
    ///
    /// # Errors
    /// [`Error::Config`] for an unusable URL or a TLS file that cannot be read.
    pub fn start(config: &MqttConfig) -> Result<Mqtt> {
        let target = config.target()?;
        let err = |message: String| Error::Setting {
            key: "[output.mqtt]".into(),
            message,
        };
        let mut options = MqttOptions::new(config.client_id(), &target.host, target.port);
        options.set_keep_alive(Duration::from_secs(config.keep_alive.max(5)));
        // Every connect is a new session: what the broker did not acknowledge is sent again
        // from our own queue (rumqttc drops its pending list on a new session).
        options.set_clean_session(true);
        let max_packet = config.max_packet_size.as_u64() as usize;
        options.set_max_packet_size(max_packet, max_packet);
        let window = config.max_inflight.clamp(1, u32::from(u16::MAX)) as usize;
        // rumqttc's own window, one more for the `online` message sent ahead of the queue.
        options.set_inflight((window + 1).min(usize::from(u16::MAX)) as u16);
        let prefix: Arc<str> = target.prefix.clone().into();
        let available = format!("{prefix}/available");
        options.set_last_will(LastWill::new(&available, "offline", QoS::AtLeastOnce, true));
        if let Some(user) = &target.username {
            options.set_credentials(user, target.password.clone().unwrap_or_default());
        }
        if target.tls {
            let read = |p: &std::path::PathBuf| {
                std::fs::read(p).map_err(|e| err(format!("{}: {e}", p.display())))
            };
            let mut builder = native_tls::TlsConnector::builder();
            if let Some(ca) = &config.ca {
                let cert = native_tls::Certificate::from_pem(&read(ca)?)
                    .map_err(|e| err(format!("ca {}: {e}", ca.display())))?;
                builder.add_root_certificate(cert);
            }
            if let (Some(cert), Some(key)) = (&config.cert, &config.key) {
                let id = native_tls::Identity::from_pkcs8(&read(cert)?, &read(key)?)
                    .map_err(|e| err(format!("cert/key {}: {e}", cert.display())))?;
                builder.identity(id);
            }
            let connector = builder.build().map_err(|e| err(format!("TLS: {e}")))?;
            options.set_transport(Transport::tls_with_config(
                TlsConfiguration::NativeConnector(connector),
            ));
        }
        let qos = match config.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            capacity: config.queue.max(1),
            stats: Arc::default(),
            burst_logged: AtomicBool::new(false),
            max_packet,
            window,
        });
        let (client, connection) = Client::new(options, window + REQUEST_SLACK);
        let thread = {
            let shared = Arc::clone(&shared);
            let label = target.redacted.clone();
            std::thread::Builder::new()
                .name("mqtt".into())
                .spawn(move || {
                    link::Link::new(client, connection, qos, &available, &label).run(&shared)
                })
                .map_err(|e| err(format!("mqtt thread: {e}")))?
        };
        eprintln!(
            "mqtt: publishing to {} (QoS {})",
            target.redacted, config.qos
        );
        Ok(Mqtt {
            shared,
            label: target.redacted.clone().into(),
            prefix,
            qos,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// `{prefix}/{rest}`.
    pub fn topic(&self, rest: &str) -> String {
        format!("{}/{rest}", self.prefix)
    }

    /// The QoS messages are published with.
    pub fn qos(&self) -> u8 {
        self.qos as u8
    }

    pub fn stats(&self) -> Arc<MqttStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Queues `payload` for `topic`; never blocks. When the queue is full the oldest message is
    /// dropped (counted; logged once per burst).
    pub fn publish(&self, topic: String, payload: Vec<u8>, retain: bool) {
        // A PUBLISH is its payload, the topic and at most 9 bytes of header and packet id.
        let size = payload.len() + topic.len() + 9;
        if size > self.shared.max_packet {
            let n = self.shared.stats.oversized.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                tracing::warn!(
                    "mqtt: a {size}-byte message on {topic} is over max_packet_size ({} bytes): \
                     dropped ({} so far)",
                    self.shared.max_packet,
                    n + 1
                );
            }
            return;
        }
        let mut q = self.shared.queue.lock();
        if q.closed {
            return;
        }
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        q.waiting.push_back((
            seq,
            Message {
                topic,
                payload,
                retain,
            },
        ));
        if q.waiting.len() > self.shared.capacity {
            q.waiting.pop_front();
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.shared.burst_logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    capacity = self.shared.capacity,
                    "mqtt: queue full while the broker is unreachable; dropping the oldest messages"
                );
            }
        } else if q.waiting.len() < self.shared.capacity / 2 {
            self.shared.burst_logged.store(false, Ordering::Relaxed);
        }
        drop(q);
        self.shared.wake.notify_all();
    }

    /// Waits until connected, or until `attempts` connection attempts have failed.
    ///
    /// # Errors
    /// [`Error::Output`] naming the broker when it could not be reached.
    pub fn wait_connected(&self, attempts: u64) -> Result<()> {
        let stats = &self.shared.stats;
        while !stats.connected.load(Ordering::Relaxed) {
            if stats.failed_attempts.load(Ordering::Relaxed) >= attempts {
                return Err(Error::Output {
                    path: self.label.to_string().into(),
                    message: format!("no connection after {attempts} attempt(s)"),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Publishes `offline` (retained), waits until everything queued is delivered (at most
    /// 10 s; what is left is reported), and disconnects. Idempotent.
    pub fn shutdown(&self) {
        let Some(thread) = self.thread.lock().take() else {
            return;
        };
        self.publish(self.topic("available"), b"offline".to_vec(), true);
        self.shared.queue.lock().closed = true;
        self.shared.wake.notify_all();
        let _ = thread.join();
    }
}
