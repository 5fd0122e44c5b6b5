//! Value checks of a pipeline config, run after loading and after every override.

use super::{
    alerts, Nireq, PipelineConfig, MAX_DETECT_FPS, MAX_INTERVAL, MAX_SECONDS, MIN_STATS_INTERVAL,
};
use crate::error::{Error, Result};
use std::path::Path;

impl PipelineConfig {
    /// [`Self::validate`] without requiring an input.
    ///
    /// # Errors
    /// The first of [`Self::problems`].
    pub fn validate_settings(&self, path: &Path) -> Result<()> {
        match self.problems(path).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem of the settings (inputs not required), in the order they are checked:
    /// [`Error::Config`] naming `path` and the key, or the MQTT table's own error.
    pub fn problems(&self, path: &Path) -> Vec<Error> {
        let bad = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let mut out: Vec<Error> = (self.composition_problems().into_iter())
            .chain(self.detect_problems())
            .chain(self.source_problems())
            .map(&bad)
            .collect();
        if let Some(m) = &self.output.mqtt {
            // URL, QoS, queue, TLS files, password variable: checked before anything starts.
            if let Err(e) = m.target() {
                out.push(e);
            }
        }
        out.extend(
            (self.model_problems().into_iter())
                .chain(self.analytics_problems())
                .map(&bad),
        );
        out
    }

    /// The inputs, output names, alerts, recordings, classifiers, motion and service tables.
    fn composition_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if !self.source.input.is_empty() && !self.sources.is_empty() {
            out.push("inputs given twice: use `[source] input` or `[[sources]]`, not both".into());
        }
        if let Err(message) = self.streams() {
            out.push(message);
        }
        if let Err(message) = crate::config::names::check_templates(&self.output) {
            out.push(message);
        }
        if let Err(message) = alerts::validate(&self.alerts) {
            out.push(message);
        }
        if !self.alerts.is_empty() && !self.track.enabled {
            out.push("[[alerts]] follow tracked objects: turn [track] enabled back on".into());
        }
        for stream in self.streams().unwrap_or_default() {
            let Some(record_input) = &stream.record_input else {
                continue;
            };
            let name = stream.name.as_deref().unwrap_or("the source");
            let record = stream.record.as_ref().or(self.record.as_ref());
            let realtime = self.source.realtime;
            let problem =
                super::record_input_problem(name, &stream.input, record_input, record, realtime);
            out.extend(problem);
        }
        let own_records = self.sources.iter().filter_map(|s| s.record.as_ref());
        for record in self.record.iter().chain(own_records) {
            if let Err(message) = record.validate() {
                out.push(message);
            }
        }
        for (i, c) in self.classify.iter().enumerate() {
            if let Err((key, message)) = c.validate(&format!("classify[{i}]")) {
                out.push(format!("{key}: {message}"));
            }
        }
        if let Err(message) = self.motion.validate() {
            out.push(message);
        }
        if let Err(message) = self.serve.shard().and_then(|_| self.serve.validate_live()) {
            out.push(message);
        }
        out
    }

    /// `[detect]`'s numbers.
    fn detect_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let idle = self.detect.max_idle_seconds;
        if !(idle > 0.0 && idle <= MAX_SECONDS) {
            out.push(format!(
                "detect.max_idle_seconds = {idle} is outside (0, {MAX_SECONDS}]"
            ));
        }
        if !(1..=MAX_INTERVAL).contains(&self.detect.interval) {
            out.push(format!(
                "detect.interval = {} is outside 1..={MAX_INTERVAL}",
                self.detect.interval
            ));
        }
        if let Some(fps) = self
            .detect
            .fps
            .filter(|v| !(*v > 0.0 && *v <= MAX_DETECT_FPS))
        {
            out.push(format!(
                "detect.fps = {fps} is outside (0, {MAX_DETECT_FPS}] (frames per second)"
            ));
        }
        if let Some(iou) = self.detect.iou.filter(|v| !(*v > 0.0 && *v <= 1.0)) {
            out.push(format!("detect.iou = {iou} is outside (0, 1]"));
        }
        if !(0.0..=1.0).contains(&self.detect.threshold) {
            out.push(format!(
                "detect.threshold = {} is outside [0, 1]",
                self.detect.threshold
            ));
        }
        out
    }

    /// `[source]`'s numbers and `output.stats_interval`.
    fn source_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(t) = self.source.stall_timeout {
            if !(t > 0.0 && t <= MAX_SECONDS) {
                out.push(format!(
                    "source.stall_timeout = {t:?}: expected seconds in (0, {MAX_SECONDS}]"
                ));
            }
        }
        let s = &self.source;
        if [s.width, s.height, s.framerate].contains(&Some(0)) {
            out.push("source.width, height and framerate must be positive".into());
        }
        if let Some(t) = self.output.stats_interval {
            if !(t == 0.0 || (MIN_STATS_INTERVAL..=MAX_SECONDS).contains(&t)) {
                out.push(format!(
                    "output.stats_interval = {t:?}: expected 0 (off) or seconds in \
                     [{MIN_STATS_INTERVAL}, {MAX_SECONDS}]"
                ));
            }
        }
        out
    }

    /// `[recognize]`, `[model]`, and `detect.classes`.
    fn model_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(r) = &self.recognize {
            if !(-1.0..=1.0).contains(&r.threshold) {
                out.push(format!(
                    "recognize.threshold = {} is outside [-1, 1]",
                    r.threshold
                ));
            }
            if r.reidentify_interval == 0 || r.nireq == Some(0) {
                out.push("recognize.reidentify_interval and nireq must be at least 1".into());
            }
        }
        if self.model.nireq == Some(Nireq::Count(0)) {
            out.push("model.nireq must be at least 1".into());
        }
        if !(1..=super::model::MAX_MODEL_BATCH).contains(&self.model.batch) {
            out.push(format!(
                "model.batch = {} is outside 1..={}",
                self.model.batch,
                super::model::MAX_MODEL_BATCH
            ));
        }
        if self.model.batch > 1 && self.recognize.is_some() {
            out.push(
                "model.batch > 1 is for detection pipelines; face recognition (the gallery's \
                 face finder, one photo at a time) needs batch = 1"
                    .into(),
            );
        }
        if let Some(n) = &self.model.nstreams {
            let ok = n.eq_ignore_ascii_case("auto")
                || n.parse::<usize>().is_ok_and(|v| (1..=256).contains(&v));
            if !ok {
                out.push(format!(
                    "model.nstreams = `{n}`: expected a number of streams from 1 to 256, or \"auto\""
                ));
            }
        }
        if self.detect.classes.iter().any(|c| c.trim().is_empty()) {
            out.push(format!(
                "detect.classes = {:?}: empty class names (a list like person,car)",
                self.detect.classes
            ));
        }
        if let Some([h, w]) = self.model.input_size {
            if h % 2 != 0 || w % 2 != 0 {
                out.push(format!(
                    "model.input_size = [{h}, {w}]: height and width must be even (the frame is \
                     resized as I420)"
                ));
            }
            if h == 0 || w == 0 {
                out.push("model.input_size must be positive [height, width]".into());
            }
        }
        out
    }

    /// Zones and lines (top-level and per source), and the model device.
    fn analytics_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in std::iter::once(&self.analytics)
            .chain(self.sources.iter().filter_map(|s| s.analytics.as_ref()))
        {
            if let Err(message) = a.validate() {
                out.push(message);
            }
        }
        if self.has_analytics() && !self.track.enabled {
            out.push(
                "analytics (zones, lines) work on track ids: turn tracking on ([track] enabled \
                 = true)"
                    .into(),
            );
        }
        if self.model.device.trim().is_empty() {
            out.push("model.device is empty".into());
        }
        out
    }
}
