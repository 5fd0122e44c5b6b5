//! Second-stage classification (`[[classify]]`): each detected object of `object_class` is cut
//! out ([`chip`]), run through the classifier's model files ([`head`], batched, their own
//! infer requests) and its output rows become attributes ([`decode`]), smoothed per track
//! ([`history`]). DL Streamer's `gvaclassify`, DeepStream's secondary GIE.
//!
//! A tracked object is classified when it is new, then every `reclassify_interval` frames (0:
//! once); between classifications it carries its smoothed attributes with `frames_ago`.
//! Untracked objects are classified on every frame. Boxes with a shorter side below
//! `min_size` pixels are skipped and counted.
//!
//! Debugging: with `OVSTREAM_DEBUG_DUMP_CROPS_DIR` set (like GStreamer's
//! `GST_DEBUG_DUMP_DOT_DIR`), every crop is written there as a binary PPM with its raw output
//! rows in `crops.jsonl` — what `tests/golden/classify_reference.py` checks against OpenVINO's
//! Python API.

pub mod chip;
pub mod decode;
mod dump;
pub mod head;
pub mod history;
mod resolve;

use crate::config::classify::{AttributeSpec, ClassifyConfig, Crop, Region};
use crate::engine::EngineOptions;
use crate::error::{Error, Result};
use crate::face::align::RgbFrame;
use crate::frame::{AnalyzedFrame, Attribute, BBox, Detection};
use decode::Decoder;
use head::{Head, Normalize};
use history::Histories;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Environment variable naming a folder that gets every crop and its raw outputs.
pub const DUMP_ENV: &str = "OVSTREAM_DEBUG_DUMP_CROPS_DIR";

/// Counters of one classifier, shared with whoever reports them.
#[derive(Debug, Default)]
pub struct ClassifyStats {
    /// Objects (or frames) classified.
    pub classified: AtomicU64,
    /// Infer requests run, all model files together.
    pub requests: AtomicU64,
    /// Objects skipped: shorter side below `min_size`.
    pub skipped_small: AtomicU64,
}

/// One `[[classify]]` table, built: its model files compiled, its attributes decoded.
pub struct Classifier {
    /// `model` as configured (manifest id or path).
    pub model: String,
    object_class: Option<Vec<String>>,
    region: Region,
    min_size: f32,
    crop: Crop,
    padding: f64,
    norm: Normalize,
    decoders: Vec<Decoder>,
    heads: Vec<Head>,
    histories: Histories,
    pub stats: Arc<ClassifyStats>,
    dump: Option<dump::Dump>,
}

/// One crop to classify: an object of a frame of the group (`None`: the whole frame).
#[derive(Debug, Clone, Copy)]
struct Due {
    frame: usize,
    object: Option<usize>,
}

impl Classifier {
    /// Builds `config` (the table `key`, e.g. `classify[0]`) on `options`' device.
    ///
    /// # Errors
    /// [`Error::Setting`] naming the key for an unknown model id, an output tensor the model
    /// lacks, labels or bins that do not match its classes, a `model_file` that is not one of
    /// its files; [`Error::Model`] for a missing or unfetched model file.
    pub fn build(config: &ClassifyConfig, key: &str, options: &EngineOptions) -> Result<Self> {
        config
            .validate(key)
            .map_err(|(key, message)| Error::Setting { key, message })?;
        let r = resolve::resolve(config, key)?;
        crate::config::classify::validate_outputs(&r.outputs, &format!("{key}.outputs"))
            .map_err(|(key, message)| Error::Setting { key, message })?;
        let mut options = options.clone();
        options.nireq = config.nireq;
        options.batch = config.batch;
        let decoders: Vec<Decoder> = r.outputs.iter().map(Decoder::new).collect();
        // The file each output is read from (`model_file`, or the only file), checked before
        // anything compiles.
        let mut file_of = Vec::with_capacity(r.outputs.len());
        for (i, o) in r.outputs.iter().enumerate() {
            let found = match &o.model_file {
                Some(f) => {
                    (r.files.iter()).position(|p| p.file_name().is_some_and(|n| n == f.as_str()))
                }
                None => (r.files.len() == 1).then_some(0),
            };
            let Some(file) = found else {
                let names: Vec<_> = r.files.iter().filter_map(|p| p.file_name()).collect();
                return Err(Error::Setting {
                    key: format!("{key}.outputs[{i}].model_file"),
                    message: format!(
                        "{:?}: name one of the classifier's files {names:?}",
                        o.model_file.as_deref().unwrap_or("(none)")
                    ),
                });
            };
            file_of.push(file);
        }
        let mut heads = Vec::new();
        for (f, file) in r.files.iter().enumerate() {
            let mine: Vec<(usize, &AttributeSpec, usize)> = (r.outputs.iter().enumerate())
                .filter(|(i, _)| file_of[*i] == f)
                .map(|(i, o)| (i, o, decoders[i].classes()))
                .collect();
            if !mine.is_empty() {
                heads.push(Head::load(file, &options, &mine, key)?);
            }
        }
        let names = decoders.iter().map(|d| Arc::clone(&d.name)).collect();
        let dump = std::env::var_os(DUMP_ENV).map(|d| dump::Dump::new(PathBuf::from(d)));
        tracing::info!(
            model = config.model,
            files = r.files.len(),
            "classifier ready"
        );
        Ok(Classifier {
            model: config.model.clone(),
            object_class: r.object_class,
            region: config.region,
            min_size: config.min_size as f32,
            crop: r.crop,
            padding: f64::from(r.padding),
            norm: Normalize {
                mean: r.mean,
                scale: r.scale,
            },
            decoders,
            heads,
            histories: Histories::new(names, config.reclassify_interval as u64, config.smoothing),
            stats: Arc::default(),
            dump,
        })
    }

    /// Whether `d` is an object this classifier runs on.
    fn wants(&self, d: &Detection) -> bool {
        self.object_class
            .as_ref()
            .is_none_or(|classes| classes.iter().any(|c| **c == *d.label))
    }

    /// Classifies what is due in `frames` (consecutive frames of any sources, in pipeline
    /// order) and sets every wanted object's attributes (the frame's own for
    /// `region = "full-frame"`). The crops of all the frames go out together, so a frame with
    /// one face and the next one's share the requests. `rgb[i]` is frame i's RGB copy, made
    /// when first needed; frames with `skip[i]` are left alone (a stream that chose other
    /// classifiers).
    ///
    /// # Errors
    /// OpenVINO and OpenCV failures.
    pub fn classify(
        &mut self,
        frames: &mut [AnalyzedFrame],
        rgb: &mut [Option<RgbFrame>],
        skip: &[bool],
    ) -> Result<()> {
        // 1. What is due, frame by frame (a track due in one frame is marked, so it is not
        //    due again in the next one of the group).
        let mut due: Vec<Due> = Vec::new();
        for (f, frame) in frames.iter().enumerate().filter(|(f, _)| !skip[*f]) {
            let (seq, source) = (frame.frame.seq, frame.frame.source_id);
            if self.region == Region::FullFrame {
                let key = (source, u64::MAX);
                if self.histories.due(key, seq) {
                    self.histories.mark(key, seq);
                    due.push(Due {
                        frame: f,
                        object: None,
                    });
                }
                continue;
            }
            let (w, h) = (
                frame.frame.info.width() as f32,
                frame.frame.info.height() as f32,
            );
            for (i, d) in frame.detections.iter().enumerate() {
                if !self.wants(d) {
                    continue;
                }
                if let Some(t) = d.track_id {
                    if !self.histories.due((source, t), seq) {
                        continue;
                    }
                }
                let b = &d.bbox;
                if ((b.x_max - b.x_min) * w).min((b.y_max - b.y_min) * h) < self.min_size {
                    self.stats.skipped_small.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(t) = d.track_id {
                    self.histories.mark((source, t), seq);
                }
                due.push(Due {
                    frame: f,
                    object: Some(i),
                });
            }
        }
        // 2. Every crop through every model file.
        let results = match due.is_empty() {
            true => Vec::new(),
            false => self.infer(frames, rgb, &due)?,
        };
        // 3. Results and smoothed attributes, frame by frame in order.
        let mut results = due.iter().zip(results).peekable();
        for (f, frame) in frames.iter_mut().enumerate() {
            if skip[f] {
                continue;
            }
            let (seq, source) = (frame.frame.seq, frame.frame.source_id);
            while let Some((d, r)) = results.next_if(|(d, _)| d.frame == f) {
                match d.object {
                    None => self.histories.record((source, u64::MAX), seq, r),
                    Some(i) => match frame.detections[i].track_id {
                        Some(t) => self.histories.record((source, t), seq, r),
                        None => {
                            let attributes = self.untracked(r);
                            frame.detections[i].attributes.extend(attributes);
                        }
                    },
                }
            }
            if self.region == Region::FullFrame {
                let attributes = self.histories.attributes((source, u64::MAX), seq);
                frame.attributes.extend(attributes);
                continue;
            }
            for d in &mut frame.detections {
                if let Some(t) = d.track_id.filter(|_| self.wants(d)) {
                    let attributes = self.histories.attributes((source, t), seq);
                    d.attributes.extend(attributes);
                }
            }
            self.histories.forget(source, Some(seq));
        }
        Ok(())
    }

    /// An untracked object's results, as attributes of this frame.
    fn untracked(&self, results: Vec<Option<crate::frame::AttributeValue>>) -> Vec<Attribute> {
        (self.decoders.iter().zip(results))
            .filter_map(|(d, r)| {
                Some(Attribute {
                    name: Arc::clone(&d.name),
                    value: r?,
                    frames_ago: 0,
                })
            })
            .collect()
    }

    /// Cuts each due object (or whole frame) for every model file, runs them and decodes
    /// each attribute: `results[due][attribute]`.
    fn infer(
        &mut self,
        frames: &[AnalyzedFrame],
        rgb: &mut [Option<RgbFrame>],
        due: &[Due],
    ) -> Result<Vec<Vec<Option<crate::frame::AttributeValue>>>> {
        for d in due {
            if rgb[d.frame].is_none() {
                rgb[d.frame] = Some(RgbFrame::from_frame(&frames[d.frame].frame)?);
            }
        }
        let whole = Detection {
            bbox: BBox {
                x_min: 0.0,
                y_min: 0.0,
                x_max: 1.0,
                y_max: 1.0,
            },
            ..Detection::default()
        };
        let mut rows = vec![vec![Vec::new(); self.decoders.len()]; due.len()];
        for head in &mut self.heads {
            let (iw, ih) = head.input_size();
            let crops = (due.iter())
                .map(|d| {
                    let rgb = rgb[d.frame].as_ref().expect("made above");
                    let (fw, fh) = rgb.size();
                    let object = d.object.map_or(&whole, |i| &frames[d.frame].detections[i]);
                    let m = chip::input_map(
                        object,
                        self.crop,
                        self.padding,
                        (f64::from(fw), f64::from(fh)),
                        (f64::from(iw), f64::from(ih)),
                    );
                    rgb.warp(m, iw, ih)
                })
                .collect::<Result<Vec<_>>>()?;
            let before = head.requests_run;
            head.run(&crops, self.norm, &mut rows)?;
            let run = head.requests_run - before;
            self.stats.requests.fetch_add(run, Ordering::Relaxed);
            if let Some(dump) = &mut self.dump {
                let mine: Vec<(usize, &Decoder)> = head
                    .attributes()
                    .into_iter()
                    .map(|i| (i, &self.decoders[i]))
                    .collect();
                let whence: Vec<(&crate::frame::Frame, Option<usize>)> = due
                    .iter()
                    .map(|d| (&frames[d.frame].frame, d.object))
                    .collect();
                dump.write(&whence, &head.engine.model_path, &crops, &rows, &mine);
            }
        }
        self.stats
            .classified
            .fetch_add(due.len() as u64, Ordering::Relaxed);
        Ok(rows
            .iter()
            .map(|per| {
                (self.decoders.iter().zip(per))
                    .map(|(d, row)| (!row.is_empty()).then(|| d.decode(row)).flatten())
                    .collect()
            })
            .collect())
    }

    /// Forgets what it knows of source `id` (it left the pipeline).
    pub fn end_source(&mut self, id: usize) {
        self.histories.forget(id, None);
    }

    /// One line for the run's summary: objects classified, requests, skipped.
    pub fn report(&self) -> String {
        let s = &self.stats;
        format!(
            "classify {}: {} classified in {} requests; {} skipped (smaller than {} px)",
            self.model,
            s.classified.load(Ordering::Relaxed),
            s.requests.load(Ordering::Relaxed),
            s.skipped_small.load(Ordering::Relaxed),
            self.min_size
        )
    }
}

/// Every `[[classify]]` table of a pipeline, run in order on each frame.
pub struct Classifiers {
    pub list: Vec<Classifier>,
}

impl Classifiers {
    /// Builds the tables in order (`classify[i]` in errors); `None` when there are none.
    ///
    /// # Errors
    /// As [`Classifier::build`].
    pub fn build(configs: &[ClassifyConfig], options: &EngineOptions) -> Result<Option<Self>> {
        if configs.is_empty() {
            return Ok(None);
        }
        let list = (configs.iter().enumerate())
            .map(|(i, c)| Classifier::build(c, &format!("classify[{i}]"), options))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Classifiers { list }))
    }

    /// The classifiers of `config` (`[[classify]]`), compiled for `[model]`'s device.
    ///
    /// # Errors
    /// As [`Classifier::build`].
    pub fn from_config(
        config: &crate::config::PipelineConfig,
        openvino_lib: Option<&Path>,
    ) -> Result<Option<Self>> {
        Self::build(
            &config.classify,
            &crate::detector::engine_options(config, openvino_lib),
        )
    }

    /// Runs every classifier on `frames` (consecutive frames, any sources; one RGB conversion
    /// per frame shared); `only[i]`: frame i runs just the classifiers whose `model` it names
    /// (its stream's own choice; `None`: all).
    ///
    /// # Errors
    /// As [`Classifier::classify`].
    pub fn classify(
        &mut self,
        frames: &mut [AnalyzedFrame],
        only: &[Option<&[String]>],
    ) -> Result<()> {
        let mut rgb: Vec<Option<RgbFrame>> = frames.iter().map(|_| None).collect();
        for c in &mut self.list {
            let skip: Vec<bool> = (0..frames.len())
                .map(|i| {
                    only.get(i)
                        .copied()
                        .flatten()
                        .is_some_and(|models| !models.contains(&c.model))
                })
                .collect();
            c.classify(frames, &mut rgb, &skip)?;
        }
        Ok(())
    }

    /// [`Self::classify`] on one frame.
    ///
    /// # Errors
    /// As [`Classifier::classify`].
    pub fn classify_one(&mut self, frame: &mut AnalyzedFrame) -> Result<()> {
        self.classify(std::slice::from_mut(frame), &[None])
    }

    /// Forgets source `id` in every classifier.
    pub fn end_source(&mut self, id: usize) {
        self.list.iter_mut().for_each(|c| c.end_source(id));
    }

    /// One summary line per classifier.
    pub fn report(&self) -> Vec<String> {
        self.list.iter().map(Classifier::report).collect()
    }
}
