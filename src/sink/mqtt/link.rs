//! The connection thread: feeds the queue to the connection while it is up, keeps what is not
//! acknowledged, reconnects with backoff, and drains the queue at shutdown.

use super::{Message, Shared};
use crate::backoff::Backoff;
use rumqttc::{
    Client, Connection, ConnectionError, Event, Incoming, Outgoing, Publish, QoS, Request,
};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Reconnect backoff: first wait, and the longest.
const BACKOFF_INITIAL: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long shutdown waits for the queue to be delivered.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Poll slice of the connection thread while connected (new messages wait at most this long).
const POLL: Duration = Duration::from_millis(20);
/// A connect (TCP, TLS, CONNECT/CONNACK) is never cut short by the poll slice.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The sequence number of our own `online` message (not counted as published, not sent again
/// after a reconnect: each connect publishes its own).
const ONLINE: u64 = u64::MAX;

/// The connection and what it holds of the queue's messages.
pub(super) struct Link {
    client: Client,
    connection: Connection,
    qos: QoS,
    /// The `{prefix}/available` topic.
    available: String,
    /// The broker URL, password redacted.
    label: String,
    /// Handed to rumqttc, not yet written (order = our order: only this thread feeds it).
    handed: VecDeque<(u64, Message)>,
    /// Written with a packet id, waiting for the broker's acknowledgement.
    inflight: HashMap<u16, (u64, Message)>,
    connected: bool,
    ever_connected: bool,
    backoff: Backoff,
    /// When shutdown began to wait for the queue to be delivered.
    draining_since: Option<Instant>,
}

impl Link {
    pub(super) fn new(
        client: Client,
        connection: Connection,
        qos: QoS,
        available: &str,
        label: &str,
    ) -> Link {
        Link {
            client,
            connection,
            qos,
            available: available.to_string(),
            label: label.to_string(),
            handed: VecDeque::new(),
            inflight: HashMap::new(),
            connected: false,
            ever_connected: false,
            backoff: Backoff::new(BACKOFF_INITIAL, BACKOFF_MAX),
            draining_since: None,
        }
    }

    /// Runs until the queue is closed and delivered (or [`DRAIN_TIMEOUT`] after its close).
    pub(super) fn run(mut self, shared: &Shared) {
        loop {
            let (closed, waiting) = {
                let q = shared.queue.lock();
                (q.closed, q.waiting.len())
            };
            if self.finished(shared, closed, waiting) {
                return;
            }
            if self.connected {
                self.feed(shared);
            }
            let timeout = if self.connected {
                POLL
            } else {
                CONNECT_TIMEOUT
            };
            match self.connection.recv_timeout(timeout) {
                Err(_) => {} // nothing happened within POLL
                Ok(Ok(Event::Incoming(Incoming::ConnAck(_)))) => self.on_connected(shared),
                Ok(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => self.on_written(pkid, shared),
                Ok(Ok(Event::Incoming(Incoming::PubAck(ack)))) => self.on_acked(ack.pkid, shared),
                Ok(Ok(Event::Incoming(Incoming::PubComp(ack)))) => self.on_acked(ack.pkid, shared),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    self.on_lost(&e, shared);
                    if !(closed && self.drain_over()) {
                        self.back_off(shared);
                    }
                }
            }
        }
    }

    /// Publishes the count of messages outstanding (`waiting` in the queue, and those the
    /// link holds); once the queue is `closed`, whether everything was delivered or the drain
    /// time is over (then disconnects).
    fn finished(&mut self, shared: &Shared, closed: bool, waiting: usize) -> bool {
        let outstanding = waiting + self.handed.len() + self.inflight.len();
        shared
            .stats
            .queued
            .store(outstanding as u64, Ordering::Relaxed);
        if !closed {
            return false;
        }
        self.draining_since.get_or_insert_with(Instant::now);
        if outstanding > 0 && !self.drain_over() {
            return false;
        }
        if outstanding > 0 {
            tracing::warn!("mqtt: {outstanding} message(s) not delivered at shutdown");
        }
        if self.connected {
            let _ = self.client.try_disconnect();
            let _ = self.connection.recv_timeout(Duration::from_millis(200));
        }
        true
    }

    fn drain_over(&self) -> bool {
        self.draining_since
            .is_some_and(|s| s.elapsed() > DRAIN_TIMEOUT)
    }

    /// Hands waiting messages to the client, up to the in-flight window. Through the client's
    /// request channel (rumqttc's `pending` list costs a timer tick per message); only this
    /// thread feeds it, so packets go out in this order.
    fn feed(&mut self, shared: &Shared) {
        let mut q = shared.queue.lock();
        while self.handed.len() + self.inflight.len() < shared.window {
            let Some((seq, m)) = q.waiting.pop_front() else {
                break;
            };
            match (self.client).try_publish(&m.topic, self.qos, m.retain, m.payload.clone()) {
                Ok(()) => self.handed.push_back((seq, m)),
                Err(_) => {
                    q.waiting.push_front((seq, m)); // channel full: next round
                    break;
                }
            }
        }
    }

    /// The broker took the connection: counts a reconnect and publishes `online` (retained)
    /// ahead of everything else.
    fn on_connected(&mut self, shared: &Shared) {
        self.connected = true;
        shared.stats.connected.store(true, Ordering::Relaxed);
        if self.ever_connected {
            shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        self.ever_connected = true;
        self.backoff.reset();
        tracing::info!("mqtt: connected to {}", self.label);
        let mut online = Publish::new(&self.available, QoS::AtLeastOnce, "online");
        online.retain = true;
        (self.connection.eventloop.pending).push_front(Request::Publish(online));
        self.handed.push_front((
            ONLINE,
            Message {
                topic: self.available.clone(),
                payload: b"online".to_vec(),
                retain: true,
            },
        ));
    }

    /// The oldest handed message was written as packet `pkid` (0: QoS 0, nothing to wait for).
    fn on_written(&mut self, pkid: u16, shared: &Shared) {
        let Some((seq, m)) = self.handed.pop_front() else {
            return;
        };
        if pkid != 0 {
            self.inflight.insert(pkid, (seq, m));
        } else if seq != ONLINE {
            shared.stats.published.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_acked(&mut self, pkid: u16, shared: &Shared) {
        if let Some((seq, _)) = self.inflight.remove(&pkid) {
            if seq != ONLINE {
                shared.stats.published.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The connection failed or dropped. A new session follows: rumqttc drops what it holds;
    /// we send it again, oldest first, ahead of anything newer.
    fn on_lost(&mut self, e: &ConnectionError, shared: &Shared) {
        shared.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
        if self.connected || !self.ever_connected {
            tracing::warn!("mqtt: {}: {}; retrying", self.label, describe(e));
        }
        self.connected = false;
        shared.stats.connected.store(false, Ordering::Relaxed);
        self.connection.eventloop.pending.clear();
        let mut again: Vec<(u64, Message)> = (self.inflight.drain().map(|(_, v)| v))
            .chain(self.handed.drain(..))
            .filter(|(seq, _)| *seq != ONLINE)
            .collect();
        again.sort_by_key(|(seq, _)| *seq);
        let mut q = shared.queue.lock();
        for m in again.into_iter().rev() {
            q.waiting.push_front(m);
        }
    }

    /// Waits out the backoff; new messages do not wake this, shutdown does (once: while
    /// draining the retries keep their backoff, bounded by the drain time, instead of spinning
    /// on a broker that refuses).
    fn back_off(&mut self, shared: &Shared) {
        let until = Instant::now() + self.backoff.next_delay();
        let until = (self.draining_since).map_or(until, |s| until.min(s + DRAIN_TIMEOUT));
        let mut q = shared.queue.lock();
        let draining = q.closed;
        while (draining || !q.closed) && Instant::now() < until {
            let _ = shared.wake.wait_until(&mut q, until);
        }
    }
}

/// A connection error in words (a refused login says so).
fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("broker refused the connection: {code:?}")
        }
        other => other.to_string(),
    }
}
