//! One clip file: the tapped packets, stream-copied into a fragmented MP4 (`appsrc ! mp4mux
//! fragment-duration=1000 ! filesink`; `h264parse`/`h265parse` only for byte-stream input, which
//! MP4 cannot hold as is). Fragmented, so a process killed with SIGKILL leaves a file that
//! plays up to its last fragment. Timestamps start at 0 at the clip's first keyframe.

use crate::error::{Error, Result};
use crate::source::tap::Packet;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};

/// MP4 fragment length (ms): at most this much of a clip is lost when the process is killed.
pub const FRAGMENT_MS: u32 = 1000;
/// How long finishing a clip may take.
const FINISH_TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(30);

/// A clip being written.
pub struct ClipWriter {
    pub path: PathBuf,
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    /// Subtracted from every timestamp (the first packet's DTS, else PTS).
    base: u64,
    /// Source-pipeline time (ns) of the first and of the last packet written.
    pub first_time: u64,
    pub last_time: u64,
    pub packets: u64,
    /// Retention passes this clip over while it is written.
    _hold: super::retention::Hold,
}

impl ClipWriter {
    /// Starts a clip at `path` (its folder created) for packets with `caps`, the first of
    /// which is `first` (a keyframe).
    ///
    /// # Errors
    /// [`Error::Output`] naming the path when the folder or the pipeline cannot be made.
    pub fn create(path: &Path, caps: &gst::Caps, first: &Packet) -> Result<ClipWriter> {
        let err = |message: String| Error::Output {
            path: path.to_path_buf(),
            message,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
        }
        let s = caps
            .structure(0)
            .ok_or_else(|| err("caps without a structure".into()))?;
        let parse = match (s.name().as_str(), s.get::<&str>("stream-format").ok()) {
            ("video/x-h264", Some("avc" | "avc3")) | ("video/x-h265", Some("hvc1" | "hev1")) => "",
            ("video/x-h264", _) => "h264parse ! ",
            ("video/x-h265", _) => "h265parse ! ",
            (other, _) => return Err(err(format!("cannot stream-copy {other} into MP4"))),
        };
        // The muxer's video pad by name: linked by caps, a caps-less appsrc could get audio_0.
        let description = format!(
            "appsrc name=src format=time block=false max-bytes=0 ! {parse}mux.video_0 \
             mp4mux name=mux fragment-duration={FRAGMENT_MS} ! filesink name=file buffer-mode=unbuffered"
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| err(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| err("not a pipeline".into()))?;
        let file = pipeline.by_name("file").expect("named in the description");
        file.set_property("location", path.to_string_lossy().as_ref());
        let appsrc = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .expect("named in the description");
        appsrc.set_caps(Some(caps));
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| err(format!("cannot start: {e}")))?;
        let buffer = &first.buffer;
        let base = buffer.dts().or(buffer.pts()).map_or(0, |t| t.nseconds());
        Ok(ClipWriter {
            path: path.to_path_buf(),
            pipeline,
            appsrc,
            base,
            first_time: first.time,
            last_time: first.time,
            packets: 0,
            _hold: super::retention::Hold::new(path),
        })
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Output {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }

    /// The pipeline's first error (a full disk, an unwritable file), if any.
    fn check(&self) -> Result<()> {
        let bus = self.pipeline.bus().expect("pipeline has a bus");
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(e) = msg.view() {
                return Err(self.error(e.error()));
            }
        }
        Ok(())
    }

    /// Appends `packet` (the buffer is shared; only its timestamps are rebased).
    ///
    /// # Errors
    /// [`Error::Output`] when writing failed (the pipeline reported an error).
    pub fn push(&mut self, packet: &Packet) -> Result<()> {
        self.check()?;
        let mut buffer = packet.buffer.copy(); // metadata only: the memory is shared
        {
            let b = buffer.get_mut().expect("a fresh copy is writable");
            let rebase = |t: Option<gst::ClockTime>| {
                t.map(|t| gst::ClockTime::from_nseconds(t.nseconds().saturating_sub(self.base)))
            };
            let (pts, dts) = (rebase(b.pts()), rebase(b.dts()));
            b.set_pts(pts);
            b.set_dts(dts);
            if self.packets == 0 {
                b.set_flags(gst::BufferFlags::DISCONT);
            } else {
                b.unset_flags(gst::BufferFlags::DISCONT);
            }
        }
        self.appsrc
            .push_buffer(buffer)
            .map_err(|e| self.error(format!("push failed: {e:?}")))?;
        self.packets += 1;
        self.last_time = self.last_time.max(packet.time);
        Ok(())
    }

    /// Ends the clip: EOS, then waits until the muxer has written the file.
    ///
    /// # Errors
    /// [`Error::Output`] when the file could not be finalized.
    pub fn finish(self) -> Result<()> {
        let _ = self.appsrc.end_of_stream();
        let bus = self.pipeline.bus().expect("pipeline has a bus");
        let msg = bus.timed_pop_filtered(
            FINISH_TIMEOUT,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        let _ = self.pipeline.set_state(gst::State::Null);
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => Ok(()),
            Some(gst::MessageView::Error(e)) => Err(self.error(e.error())),
            _ => Err(self.error(format!("not finalized within {FINISH_TIMEOUT}"))),
        }
    }

    /// Stops without finalizing (after an error): what was written stays as it is.
    pub fn abandon(self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
