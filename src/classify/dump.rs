//! `OVSTREAM_DEBUG_DUMP_CROPS_DIR`: every classifier crop as a binary PPM (RGB) and its raw
//! output rows as one line of `crops.jsonl`:
//! `{"source": 0, "frame": 12, "object": 1, "model_file": "gender-v1.onnx",
//!   "crop": "000042-0-000012-01-gender-v1.ppm", "outputs": {"gender": [0.1, 0.9]}}` (the
//!   name starts with the number of crops written before it).
//! For checking a classifier against a reference, not for production: write errors are logged
//! once and the dump stops.

use super::decode::Decoder;
use crate::frame::Frame;
use opencv::core::Mat;
use opencv::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(super) struct Dump {
    dir: PathBuf,
    failed: bool,
    /// Crops written so far: the first part of each name (still images all are frame 0).
    written: u64,
}

impl Dump {
    pub(super) fn new(dir: PathBuf) -> Self {
        Dump {
            dir,
            failed: false,
            written: 0,
        }
    }

    /// Writes `crops` (cut for `model_file`) and their rows of this model's attributes.
    pub(super) fn write(
        &mut self,
        whence: &[(&Frame, Option<usize>)],
        model_file: &Path,
        crops: &[Mat],
        rows: &[Vec<Vec<f32>>],
        decoders: &[(usize, &Decoder)],
    ) {
        if self.failed {
            return;
        }
        if let Err(e) = self.try_write(whence, model_file, crops, rows, decoders) {
            tracing::warn!(dir = %self.dir.display(), "crop dump stopped: {e}");
            self.failed = true;
        }
    }

    fn try_write(
        &mut self,
        whence: &[(&Frame, Option<usize>)],
        model_file: &Path,
        crops: &[Mat],
        rows: &[Vec<Vec<f32>>],
        decoders: &[(usize, &Decoder)],
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let stem = model_file.file_stem().unwrap_or_default().to_string_lossy();
        let file_name = model_file.file_name().unwrap_or_default().to_string_lossy();
        let mut lines = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("crops.jsonl"))?;
        for ((crop, per), &(frame, object)) in crops.iter().zip(rows).zip(whence) {
            let object = object.map_or(-1, |i| i as i64);
            let name = format!(
                "{:06}-{}-{:06}-{object:02}-{stem}.ppm",
                self.written, frame.source_id, frame.seq
            );
            self.written += 1;
            let bytes = crop.data_bytes().map_err(std::io::Error::other)?;
            let mut ppm = format!("P6\n{} {}\n255\n", crop.cols(), crop.rows()).into_bytes();
            ppm.extend_from_slice(bytes);
            std::fs::write(self.dir.join(&name), ppm)?;
            let outputs: serde_json::Map<String, serde_json::Value> = (decoders.iter())
                .map(|(i, d)| (d.name.to_string(), serde_json::json!(per[*i])))
                .collect();
            let line = serde_json::json!({
                "source": frame.source_id,
                "frame": frame.seq,
                "object": object,
                "model_file": file_name,
                "crop": name,
                "outputs": outputs,
            });
            writeln!(lines, "{line}")?;
        }
        Ok(())
    }
}
