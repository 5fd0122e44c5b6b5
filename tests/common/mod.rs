//! Helpers for the integration tests: paths to fetched assets, running the `ovstream` binary,
//! reading its JSON lines. Assets come from `make setup`; a missing one fails the test loudly.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fetched sample or model; panics with the set-up command when it is missing.
pub fn asset(rel: &str) -> PathBuf {
    let p = root().join(rel);
    assert!(
        p.is_file(),
        "{} is missing: run `make setup` (models/fetch, samples/fetch) first",
        p.display()
    );
    p
}

pub fn vtest() -> PathBuf {
    asset("samples/vtest.avi")
}

/// Runs `ovstream ARGS…` from the repository root.
pub fn ovstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ovstream"))
        .args(args)
        .current_dir(root())
        .env("OVSTREAM_LOG", "warn")
        .output()
        .expect("spawn ovstream")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stderr.
pub fn assert_ok(out: &Output) -> String {
    let err = stderr(out);
    assert!(
        out.status.success(),
        "ovstream failed ({:?}):\n{err}",
        out.status
    );
    err
}

/// Writes a pipeline file into `dir` with `[output]` set to metadata only, over `pedestrians`.
pub fn pipeline_file(dir: &Path, extra_model: &str, metadata: &Path) -> PathBuf {
    let text = format!(
        "[source]\ninput = \"{}\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n{extra_model}\n\
         [output]\nmetadata = \"{}\"\n",
        vtest().display(),
        metadata.display()
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Parses a JSON-lines file.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}
