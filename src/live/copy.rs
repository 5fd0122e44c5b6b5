//! H.264 made elsewhere, re-muxed into fragmented MP4 for `live.mp4` viewers without an
//! encode: the camera's own packets as its decoder receives them ([`crate::source::Tap`], for
//! `?raw=1`), or the access units of the stream's MP4 output's encoder (annotated, shared with
//! the file: [`crate::sink::Output::share_encoder`]). `appsrc ! [h264parse !] mp4mux
//! fragment-duration=100 ! appsink` (the parser only for byte-stream input) runs while the
//! track's viewers wait, starting at a keyframe. A new segment (a reconnect, a loop, new caps)
//! restarts the muxer: viewers get the new init segment and go on from its first keyframe.

use super::encoder::{muxed_to, FRAGMENT_MS, TIMESCALE};
use super::{Live, Track};
use crate::error::{Error, Result};
use crate::source::tap::Packet;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use parking_lot::Mutex;
use std::sync::Arc;

/// Packets queued at the muxer; more are dropped (a viewer never slows the source).
const APPSRC_MAX_BUFFERS: u64 = 60;

/// A running copy muxer.
struct Muxer {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    caps: gst::Caps,
    segment: u32,
    /// Decode time of the first packet: the stream starts at 0.
    base: u64,
}

impl Muxer {
    fn start(
        live: &Arc<Live>,
        track: Track,
        caps: &gst::Caps,
        segment: u32,
        base: u64,
    ) -> Result<Muxer> {
        let what = format!("live copy of {}", live.name);
        let byte_stream = caps
            .structure(0)
            .and_then(|s| s.get::<&str>("stream-format").ok())
            .is_none_or(|f| f == "byte-stream");
        let parse = if byte_stream { "h264parse ! " } else { "" };
        let crate::launch::AppPipeline {
            pipeline,
            src: appsrc,
            out: appsink,
        } = crate::launch::app_pipeline(
            &format!(
                "appsrc name=src format=time leaky-type=downstream \
                 max-buffers={APPSRC_MAX_BUFFERS} ! {parse}mux.video_0 \
                 mp4mux name=mux fragment-duration={FRAGMENT_MS} streamable=true \
                 trak-timescale={TIMESCALE} ! appsink name=out sync=false enable-last-sample=false"
            ),
            &what,
        )?;
        appsink.set_callbacks(muxed_to(Arc::clone(live), track, None));
        appsrc.set_caps(Some(caps));
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| Error::gst(&what, e))?;
        Ok(Muxer {
            pipeline,
            appsrc,
            caps: caps.clone(),
            segment,
            base,
        })
    }

    /// Pushes `packet` (shared, re-stamped relative to the first).
    fn push(&self, packet: &Packet) {
        let mut buffer = packet.buffer.copy();
        let b = buffer.make_mut();
        let shift = |t: Option<gst::ClockTime>| {
            t.map(|t| gst::ClockTime::from_nseconds(t.nseconds().saturating_sub(self.base)))
        };
        let (pts, dts) = (shift(b.pts()), shift(b.dts()));
        b.set_pts(pts);
        b.set_dts(dts);
        let _ = self.appsrc.push_buffer(buffer);
    }
}

impl Drop for Muxer {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Re-muxes packets of one stream into `track` while it has viewers.
pub struct Copier {
    live: Arc<Live>,
    track: Track,
    muxer: Mutex<Option<Muxer>>,
}

impl Copier {
    pub fn new(live: Arc<Live>, track: Track) -> Arc<Copier> {
        Arc::new(Copier {
            live,
            track,
            muxer: Mutex::new(None),
        })
    }

    fn wanted(&self) -> bool {
        match self.track {
            Track::Raw => self.live.wants_raw_copy(),
            Track::Annotated => self.live.wants_annotated(),
        }
    }

    /// One packet of the source with the caps of its segment (called on the source's
    /// streaming thread; never blocks).
    pub fn packet(&self, caps: &gst::Caps, packet: &Packet) {
        let mut muxer = self.muxer.lock();
        if !self.wanted() {
            if muxer.take().is_some() {
                self.live.end_mp4(self.track);
            }
            return;
        }
        let current = muxer
            .as_ref()
            .is_some_and(|m| m.segment == packet.segment && &m.caps == caps);
        if !current {
            if muxer.take().is_some() {
                self.live.end_mp4(self.track); // viewers reconnect to the new segment
            }
            if !packet.keyframe {
                return; // a stream starts at a keyframe
            }
            let base = packet
                .buffer
                .dts()
                .or(packet.buffer.pts())
                .map_or(0, |t| t.nseconds());
            match Muxer::start(&self.live, self.track, caps, packet.segment, base) {
                Ok(m) => *muxer = Some(m),
                Err(e) => {
                    tracing::warn!(stream = self.live.name, "live copy: {e}");
                    self.live.end_mp4(self.track);
                    return;
                }
            }
        }
        if let Some(m) = muxer.as_ref() {
            m.push(packet);
        }
    }
}
