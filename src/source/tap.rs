//! The encoded stream of a source, tapped before its decoder: a ring of the camera's own
//! access units (H.264/H.265 packets as the decoder receives them, no copy: the buffers are
//! shared) covering at least the recorder's pre-capture plus one GOP. What DeepStream's Smart
//! Record keeps on a tee before its decoder; the recorder cuts clips out of it without
//! re-encoding ([`crate::record`]).
//!
//! A probe on the video decoder's sink pad (inside `uridecodebin`) sees every packet, the
//! caps (`codec_data`) and flushes. Timestamps are the source pipeline's own (ns); each
//! connection, seek (loop) or caps change starts a new *segment* whose packets are never mixed
//! with the previous one's. Decoded frames carry the segment and PTS they were decoded from
//! ([`crate::frame::Frame::segment`], [`crate::frame::Frame::raw_pts`]), which is how a frame
//! is found in the ring.

use gstreamer as gst;
use gstreamer::prelude::*;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Most bytes one tap keeps (96 MiB: 60 s of pre-capture at 12 Mbit/s). Past it the oldest
/// packets go even when a clip still needs them (counted in [`Tap::overflows`]).
pub const MAX_RING_BYTES: usize = 96 << 20;
/// Kept beyond the pre-capture: the decoded frames reach the recorder this much later at most
/// (queues between decoder and sink).
pub const LAG_MARGIN: Duration = Duration::from_secs(2);

/// One encoded access unit, as the decoder received it.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Number in this tap, from 0, increasing over every segment.
    pub index: u64,
    /// The segment it belongs to (a connection, a loop, a caps change).
    pub segment: u32,
    /// The packet itself (shared with the decoder, never written).
    pub buffer: gst::Buffer,
    /// Its time (ns in the source pipeline): PTS, else DTS.
    pub time: u64,
    /// A keyframe (IDR): a clip may start here.
    pub keyframe: bool,
}

/// The ring: packets of the current and maybe the previous segment, oldest first.
#[derive(Debug, Default)]
struct Ring {
    packets: VecDeque<Packet>,
    bytes: usize,
    /// Caps of the current segment's packets (`None`: not a codec the recorder can copy).
    caps: Option<gst::Caps>,
    /// Packets from this index on may not be dropped (a clip still has to write them).
    pinned: Option<u64>,
    /// The packets come from an encoder ([`Tap::push_encoded`]); the source's probe is ignored.
    encoded: bool,
}

/// Called with each packet the source's decoder receives (and the caps of its segment), on the
/// source's streaming thread: it must not block.
pub type Listener = Arc<dyn Fn(&gst::Caps, &Packet) + Send + Sync>;

struct Listening(Option<Listener>);

impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "listener" } else { "none" })
    }
}

#[derive(Debug)]
struct Inner {
    segment: AtomicU32,
    next_index: AtomicU64,
    overflows: AtomicU64,
    /// Time kept before the newest packet, from a keyframe.
    keep: Duration,
    ring: Mutex<Ring>,
    listener: Mutex<Listening>,
}

/// A source's encoded stream (cheap to clone: all clones share one ring).
#[derive(Debug, Clone)]
pub struct Tap {
    inner: Arc<Inner>,
}

/// The codecs whose packets can be stream-copied into an MP4 clip.
pub fn copyable(caps: &gst::CapsRef) -> bool {
    caps.structure(0)
        .is_some_and(|s| matches!(s.name().as_str(), "video/x-h264" | "video/x-h265"))
}

impl Tap {
    /// A tap keeping at least `pre_capture` (+ [`LAG_MARGIN`]) before its newest packet,
    /// from a keyframe.
    pub fn new(pre_capture: Duration) -> Tap {
        Tap {
            inner: Arc::new(Inner {
                segment: AtomicU32::new(0),
                next_index: AtomicU64::new(0),
                overflows: AtomicU64::new(0),
                keep: pre_capture + LAG_MARGIN,
                ring: Mutex::new(Ring::default()),
                listener: Mutex::new(Listening(None)),
            }),
        }
    }

    /// The current segment (0 until a decoder was attached).
    pub fn segment(&self) -> u32 {
        self.inner.segment.load(Ordering::Acquire)
    }

    /// Starts a new segment: what follows is not continuous with what came before.
    pub fn new_segment(&self) -> u32 {
        self.inner.segment.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Packets dropped while a clip still needed them (the ring was full).
    pub fn overflows(&self) -> u64 {
        self.inner.overflows.load(Ordering::Relaxed)
    }

    /// The caps of the current segment's packets, when they can be stream-copied.
    pub fn caps(&self) -> Option<gst::Caps> {
        self.inner.ring.lock().caps.clone()
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.inner.ring.lock().bytes
    }

    /// Taps `decoder` if it is a video decoder: a probe on its sink pad feeds the ring. Called
    /// for every element added to a source pipeline; a new decoder starts a new segment.
    pub fn attach(&self, element: &gst::Element) {
        let is_video_decoder = element.factory().is_some_and(|f| {
            let klass = f.metadata(gst::ELEMENT_METADATA_KLASS).unwrap_or_default();
            klass.contains("Decoder") && klass.contains("Video")
        });
        let Some(pad) = element.static_pad("sink").filter(|_| is_video_decoder) else {
            return;
        };
        self.new_segment();
        let tap = self.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                match &info.data {
                    Some(gst::PadProbeData::Buffer(buffer)) => tap.push(buffer.clone()),
                    Some(gst::PadProbeData::Event(event)) => tap.event(event),
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
    }

    /// Notes a downstream event of the tapped stream: new caps (a new segment when they
    /// change), a flush (a new segment).
    pub(crate) fn event(&self, event: &gst::Event) {
        let mut ring = self.inner.ring.lock();
        if ring.encoded {
            return;
        }
        match event.view() {
            gst::EventView::Caps(c) => {
                let caps = c.caps_owned();
                if ring.caps.as_ref() != Some(&caps) {
                    if ring.caps.is_some() {
                        self.new_segment();
                    }
                    ring.caps = copyable(&caps).then_some(caps);
                }
            }
            gst::EventView::FlushStop(_) => {
                self.new_segment();
            }
            _ => {}
        }
    }

    /// Adds one packet (and drops what is no longer needed). Packets without a timestamp are
    /// skipped: a clip could not place them.
    pub fn push(&self, buffer: gst::Buffer) {
        let Some(time) = buffer.pts().or(buffer.dts()).map(|t| t.nseconds()) else {
            return;
        };
        self.push_at(buffer, time);
    }

    /// [`Self::push`] with the packet's time given (ns): a record input stamps its packets
    /// with their time on the system clock ([`crate::source::record_input`]).
    pub(crate) fn push_at(&self, buffer: gst::Buffer, time: u64) {
        let mut ring = self.inner.ring.lock();
        if ring.caps.is_none() || ring.encoded {
            return; // not a codec a clip can copy, or an encoder feeds the ring instead
        }
        let packet = self.push_packet(&mut ring, buffer, time);
        let caps = ring.caps.clone();
        drop(ring);
        let listener = self.inner.listener.lock().0.clone();
        if let (Some(listen), Some(caps)) = (listener, caps) {
            listen(&caps, &packet);
        }
    }

    /// Sets (or with `None` removes) the one listener of the source's own packets (not those
    /// of [`Self::push_encoded`]).
    pub fn set_listener(&self, listener: Option<Listener>) {
        self.inner.listener.lock().0 = listener;
    }

    /// From now on the ring holds only what [`Self::push_encoded`] adds (the source's packets
    /// are ignored, what it held is dropped): the recorder encodes the frames itself.
    pub fn use_encoder(&self) {
        let mut ring = self.inner.ring.lock();
        ring.encoded = true;
        ring.caps = None;
        ring.packets.clear();
        ring.bytes = 0;
        drop(ring);
        self.new_segment();
    }

    /// Adds a packet made elsewhere (the recorder's own encoder), with caps `caps`; only after
    /// [`Self::use_encoder`].
    pub fn push_encoded(&self, caps: &gst::Caps, buffer: gst::Buffer) {
        let Some(time) = buffer.pts().map(|t| t.nseconds()) else {
            return;
        };
        let mut ring = self.inner.ring.lock();
        if !ring.encoded {
            return;
        }
        if ring.caps.as_ref() != Some(caps) {
            if ring.caps.is_some() {
                self.new_segment();
            }
            ring.caps = Some(caps.clone());
        }
        self.push_packet(&mut ring, buffer, time);
    }

    /// Appends `buffer` (at `time`) to the current segment and trims the ring.
    fn push_packet(&self, ring: &mut Ring, buffer: gst::Buffer, time: u64) -> Packet {
        let packet = Packet {
            index: self.inner.next_index.fetch_add(1, Ordering::Relaxed),
            segment: self.segment(),
            keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
            time,
            buffer,
        };
        ring.bytes += packet.buffer.size();
        ring.packets.push_back(packet.clone());
        self.trim(ring);
        packet
    }

    /// Drops whole GOPs from the front while the rest still covers `keep` from a keyframe
    /// (and nothing pinned goes), then anything over [`MAX_RING_BYTES`].
    fn trim(&self, ring: &mut Ring) {
        let keep = self.inner.keep.as_nanos() as u64;
        loop {
            let Some(newest) = ring.packets.back() else {
                return;
            };
            let (segment, now) = (newest.segment, newest.time);
            // The second keyframe: everything before it may go if it alone covers `keep`.
            let Some(next_key) = ring.packets.iter().skip(1).position(|p| p.keyframe) else {
                break;
            };
            let k = &ring.packets[next_key + 1];
            let covers = k.segment != segment || now.saturating_sub(k.time) >= keep;
            let free = ring.pinned.is_none_or(|pin| k.index <= pin);
            if !(covers && free) {
                break;
            }
            for _ in 0..=next_key {
                let p = ring.packets.pop_front().expect("counted");
                ring.bytes -= p.buffer.size();
            }
        }
        while ring.bytes > MAX_RING_BYTES {
            let Some(p) = ring.packets.pop_front() else {
                break;
            };
            ring.bytes -= p.buffer.size();
            if ring.pinned.is_some_and(|pin| p.index >= pin) {
                self.inner.overflows.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Keeps packets from `index` on until unpinned (`None`): a clip writes them.
    pub fn pin(&self, index: Option<u64>) {
        let mut ring = self.inner.ring.lock();
        ring.pinned = index;
        self.trim(&mut ring);
    }

    /// The last keyframe of `segment` at or before `time` (the oldest one of the segment when
    /// none is that old), with the caps of its segment.
    pub fn keyframe_before(&self, segment: u32, time: u64) -> Option<(Packet, gst::Caps)> {
        let ring = self.inner.ring.lock();
        let caps = ring.caps.clone()?;
        let mut keys = ring
            .packets
            .iter()
            .filter(|p| p.segment == segment && p.keyframe);
        let first = keys.next()?;
        let best = std::iter::once(first)
            .chain(keys)
            .take_while(|p| p.time <= time)
            .last()
            .unwrap_or(first);
        Some((best.clone(), caps))
    }

    /// The packets of `segment` from index `from` on, in decode order, that `take` accepts,
    /// stopping at the first it refuses.
    pub fn packets_from(
        &self,
        segment: u32,
        from: u64,
        mut take: impl FnMut(&Packet) -> bool,
    ) -> Vec<Packet> {
        let ring = self.inner.ring.lock();
        let start = ring.packets.partition_point(|p| p.index < from);
        ring.packets
            .range(start..)
            .take_while(|p| p.segment == segment && take(p))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> gst::Caps {
        gst::Caps::builder("video/x-h264")
            .field("stream-format", "avc")
            .build()
    }

    fn packet(tap: &Tap, ms: u64, key: bool) {
        let mut b = gst::Buffer::with_size(1000).unwrap();
        {
            let b = b.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_mseconds(ms));
            if !key {
                b.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
        tap.push_encoded(&caps(), b);
    }

    #[test]
    fn ring_keeps_pre_capture_from_a_keyframe_and_respects_the_pin() {
        gst::init().unwrap();
        let tap = Tap::new(Duration::from_secs(1)); // keeps 1 s + 2 s margin
        tap.use_encoder();
        for i in 0..100u64 {
            packet(&tap, i * 100, i % 10 == 0); // 10 fps, a keyframe every second
        }
        let seg = tap.segment();
        // Newest at 9.9 s: the keyframe at 6 s covers 3.9 s >= 3 s; 7 s would cover only 2.9.
        let (k, _) = tap.keyframe_before(seg, 0).unwrap();
        assert_eq!(k.time, 6_000_000_000);
        let (k, _) = tap.keyframe_before(seg, 8_500_000_000).unwrap();
        assert_eq!(k.time, 8_000_000_000);
        tap.pin(Some(k.index));
        for i in 100..200u64 {
            packet(&tap, i * 100, i % 10 == 0);
        }
        let kept = tap.packets_from(seg, k.index, |_| true);
        assert_eq!(kept.first().unwrap().time, 8_000_000_000);
        assert_eq!(kept.len(), 120);
        tap.pin(None);
        let (k, _) = tap.keyframe_before(seg, 0).unwrap();
        assert_eq!(k.time, 16_000_000_000);
        assert_eq!(tap.overflows(), 0);
    }
}
