//! Overlay: boxes and labels drawn in place on the frames of sources whose outputs show
//! pixels (MP4, display, RTSP); the others pass untouched.

use crate::error::Result;
use crate::frame::AnalyzedFrame;
use crate::pipeline::source_stats::SourceList;
use crate::pipeline::stage::{Emit, Stage};

pub struct Overlay<'a> {
    pub sources: &'a SourceList,
}

impl Stage for Overlay<'_> {
    type In = AnalyzedFrame;
    type Out = AnalyzedFrame;

    fn process(&mut self, mut frame: AnalyzedFrame, out: &mut Emit<AnalyzedFrame>) -> Result<()> {
        if self
            .sources
            .get(frame.frame.source_id)
            .is_some_and(|s| s.draw)
        {
            crate::overlay::draw(&mut frame)?;
        }
        out.push(frame);
        Ok(())
    }
}
