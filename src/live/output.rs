//! The live view as one output of a stream: [`LiveOutput`] hands frames to a worker thread
//! only while someone watches (a frame costs one atomic load otherwise); the worker draws the
//! overlay on a copy when the pipeline did not already draw on the frame, feeds the H.264
//! encoder while `live.mp4` viewers wait, and encodes a JPEG per width MJPEG viewers are due.
//! The encoder stops when the last `live.mp4` viewer leaves.

use super::encoder::Mp4Encoder;
use super::mjpeg::{self, JpegEncoder};
use super::{Chunk, Live, Track, Wanted, WORKER_QUEUE};
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::sink::Output;
use crossbeam::channel::{self, Receiver, Sender, TrySendError};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// How long the encoders are not restarted after one failed.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The live view of one stream, as its output.
pub struct LiveOutput {
    live: Arc<Live>,
    frames: Option<Sender<(AnalyzedFrame, Instant)>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl LiveOutput {
    /// The output feeding `live`, with its worker thread.
    ///
    /// # Errors
    /// [`crate::Error::Output`] when the thread cannot be started.
    pub fn new(live: Arc<Live>) -> Result<Self> {
        let (tx, rx) = channel::bounded(WORKER_QUEUE);
        let hub = Arc::clone(&live);
        let worker = std::thread::Builder::new()
            .name(format!("ovstream-live {}", live.name))
            .spawn(move || Worker::new(hub).run(&rx))
            .map_err(|e| crate::Error::Output {
                path: format!("live view of {}", live.name).into(),
                message: e.to_string(),
            })?;
        Ok(LiveOutput {
            live,
            frames: Some(tx),
            worker: Some(worker),
        })
    }
}

impl Output for LiveOutput {
    fn describe(&self) -> String {
        format!("live view of {}", self.live.name)
    }

    fn write(&mut self, frame: &mut AnalyzedFrame, _source: &str) -> Result<()> {
        if !self.live.watched() {
            return Ok(());
        }
        if let Some(tx) = &self.frames {
            if let Err(TrySendError::Full(_)) = tx.try_send((frame.clone(), Instant::now())) {
                self.live
                    .stats
                    .frames_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.frames = None; // the worker ends
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        self.live.close();
        Ok(())
    }
}

impl Drop for LiveOutput {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The live view's encoders, on their own thread.
struct Worker {
    live: Arc<Live>,
    mp4: Option<Mp4Encoder>,
    /// `?raw=1` of a source with no H.264 to copy: the decoded frames, encoded.
    raw: Option<Mp4Encoder>,
    /// When the H.264 encoder last failed: it is not restarted for [`RETRY_AFTER`].
    failed: Option<Instant>,
    jpeg: HashMap<Option<u32>, JpegEncoder>,
}

impl Worker {
    fn new(live: Arc<Live>) -> Self {
        Worker {
            live,
            mp4: None,
            raw: None,
            failed: None,
            jpeg: HashMap::new(),
        }
    }

    fn run(mut self, frames: &Receiver<(AnalyzedFrame, Instant)>) {
        for (frame, at) in frames {
            let wanted = self.live.wanted(Instant::now());
            if let Err(e) = self.serve(frame, at, &wanted) {
                tracing::warn!(stream = self.live.name, "live view: {e}");
                self.stop_mp4();
                self.live.end_mp4(Track::Annotated);
                self.live.end_mp4(Track::Raw);
                self.failed = Some(Instant::now());
            }
        }
        self.stop_mp4();
    }

    fn stop_mp4(&mut self) {
        if let Some(e) = self.mp4.take() {
            e.stop();
            self.live.stats.encoding.store(false, Ordering::Relaxed);
        }
        self.stop_raw();
    }

    fn stop_raw(&mut self) {
        if let Some(e) = self.raw.take() {
            e.stop();
        }
    }

    /// Encodes the frame as decoded for `?raw=1` viewers (before any drawing on a copy).
    fn serve_raw(&mut self, frame: &AnalyzedFrame, at: Instant, keyframe: bool) -> Result<()> {
        if self.raw.as_ref().is_some_and(|e| !e.fits(&frame.frame)) {
            self.stop_raw();
            self.live.end_mp4(Track::Raw);
            return Ok(());
        }
        let encoder = match &mut self.raw {
            Some(e) => e,
            None => self.raw.insert(Mp4Encoder::start(
                &frame.frame,
                Arc::clone(&self.live),
                Track::Raw,
            )?),
        };
        encoder.push(frame.frame.buffer.clone(), frame.frame.pts, at, keyframe)
    }

    /// Encodes `frame` for what `wanted` says.
    fn serve(&mut self, mut frame: AnalyzedFrame, at: Instant, wanted: &Wanted) -> Result<()> {
        if self.failed.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            return Ok(()); // an encoder just failed: not every frame
        }
        // A stream with an MP4 output shares its encoder: no second one here.
        let own = wanted.h264 && !self.live.shares_encoder();
        if !own {
            if let Some(e) = self.mp4.take() {
                e.stop();
                self.live.stats.encoding.store(false, Ordering::Relaxed);
            }
        }
        let raw = wanted.raw && !self.live.copies() && !frame.drawn;
        if raw {
            self.serve_raw(&frame, at, wanted.keyframe)?;
        } else {
            self.stop_raw();
        }
        self.jpeg.retain(|w, _| wanted.jpeg_widths.contains(w));
        if !own && wanted.jpeg_widths.is_empty() {
            return Ok(());
        }
        if !frame.drawn {
            frame.frame.buffer = frame
                .frame
                .buffer
                .copy_deep()
                .map_err(|e| crate::Error::gst("live view copy", e))?;
            crate::overlay::draw(&mut frame)?;
        }
        if own {
            if self.mp4.as_ref().is_some_and(|e| !e.fits(&frame.frame)) {
                // A new size: viewers start over with the new init segment.
                self.stop_mp4();
                self.live.end_mp4(Track::Annotated);
                return Ok(());
            }
            let encoder = match &mut self.mp4 {
                Some(e) => e,
                None => {
                    let e =
                        Mp4Encoder::start(&frame.frame, Arc::clone(&self.live), Track::Annotated)?;
                    self.live.stats.encoding.store(true, Ordering::Relaxed);
                    self.mp4.insert(e)
                }
            };
            encoder.push(
                frame.frame.buffer.clone(),
                frame.frame.pts,
                at,
                wanted.keyframe,
            )?;
        }
        for width in &wanted.jpeg_widths {
            if self.jpeg.get(width).is_some_and(|e| !e.fits(&frame.frame)) {
                self.jpeg.remove(width);
            }
            let encoder = match self.jpeg.entry(*width) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(JpegEncoder::start(&frame.frame, *width)?)
                }
            };
            let jpeg = encoder.encode(frame.frame.buffer.clone())?;
            self.live.publish_jpeg(
                *width,
                Chunk {
                    bytes: mjpeg::part(&jpeg).into(),
                    first_frame: None, // the latency reported is the MP4's
                },
            );
        }
        Ok(())
    }
}
