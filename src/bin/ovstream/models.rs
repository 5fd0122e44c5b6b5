//! `ovstream models`: the manifest listing, and `models annotate` (a model's settings stored in
//! an IR's `rt_info/model_info`, so it runs by path with no flags).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use ovstream::error::{exit_code, Error};
use ovstream::manifest::{read_labels, FetchState, Manifest};
use std::path::{Path, PathBuf};

/// The annotation script, run with the project's .venv (OpenVINO's Python API writes rt_info;
/// the C API cannot).
const ANNOTATE_SCRIPT: &str = include_str!("../../../scripts/annotate_model.py");

#[derive(Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: Option<ModelsCommand>,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Store the adapter, labels and thresholds into an IR's rt_info/model_info (the OpenVINO
    /// Model API convention DL Streamer also reads), so `--model OUT.xml` needs no flags.
    Annotate {
        /// A model file (.onnx, .xml, .tflite, .pb) or a manifest id.
        model: String,
        /// ssd or yolo.
        #[arg(long)]
        adapter: String,
        /// Class names, one per line (default: the manifest's, for a manifest id).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// confidence_threshold to store.
        #[arg(long)]
        threshold: Option<f32>,
        /// iou_threshold to store.
        #[arg(long)]
        iou: Option<f32>,
        /// The IR to write (`.xml`, its weights beside it as `.bin`); never the input.
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub fn run(args: &ModelsArgs) -> anyhow::Result<i32> {
    match &args.command {
        None => list(),
        Some(ModelsCommand::Annotate {
            model,
            adapter,
            labels,
            threshold,
            iou,
            output,
        }) => annotate(model, adapter, labels.as_deref(), *threshold, *iou, output),
    }
}

fn config_error(path: &Path, message: impl Into<String>) -> anyhow::Error {
    Error::Config {
        path: path.to_path_buf(),
        message: message.into(),
    }
    .into()
}

fn annotate(
    model: &str,
    adapter: &str,
    labels: Option<&Path>,
    threshold: Option<f32>,
    iou: Option<f32>,
    output: &Path,
) -> anyhow::Result<i32> {
    let resolved = ovstream::detector::resolve_model(model)?;
    if !resolved.path.is_file() {
        return Err(Error::Model {
            path: resolved.path,
            message: "file not found".into(),
        }
        .into());
    }
    if output.extension().is_none_or(|e| e != "xml") {
        return Err(config_error(output, "the output is an IR: name it *.xml"));
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let bin = output.with_extension("bin");
    let input_bin = resolved.path.with_extension("bin");
    if same(&resolved.path, output) || same(&input_bin, &bin) {
        return Err(config_error(
            output,
            "is the input model; write the IR elsewhere",
        ));
    }
    for (v, name) in [(threshold, "--threshold"), (iou, "--iou")] {
        if v.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
            return Err(config_error(output, format!("{name} is outside [0, 1]")));
        }
    }
    let names = match labels {
        Some(file) => read_labels(file)?,
        None => resolved.labels.clone(),
    };
    let pairs = ovstream::model_info::annotation(adapter, &names, threshold, iou)
        .map_err(|m| config_error(output, m))?;
    let python = ovstream::engine::library::venv_python()
        .context("the project's .venv (with the openvino wheel) is missing: run `make setup`")?;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    let status = std::process::Command::new(&python)
        .arg("-c")
        .arg(ANNOTATE_SCRIPT)
        .arg(&resolved.path)
        .arg(output)
        .args(pairs.iter().map(|(k, v)| format!("{k}={v}")))
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!("annotating {} failed ({status})", resolved.path.display());
    }
    println!(
        "{}: {}",
        output.display(),
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(exit_code::OK)
}

/// The manifest as a table. A closed stdout (`| head`) ends the listing quietly.
fn list() -> anyhow::Result<i32> {
    use std::io::Write;
    let manifest = Manifest::load(&Manifest::default_dir())?;
    let mut text = format!(
        "{:<22} {:<9} {:<10} {:<40} path\n",
        "id", "weights", "state", "package"
    );
    for m in &manifest.models {
        let state = match manifest.fetch_state(m) {
            FetchState::Ok => "ok",
            FetchState::Missing => "missing",
            FetchState::ChecksumMismatch { .. } => "BAD-SHA256",
        };
        text += &format!(
            "{:<22} {:<9} {:<10} {:<40} {}\n",
            m.id,
            m.precision,
            state,
            format!("{} {}=={}", m.source, m.package, m.version),
            manifest.path_of(m).display()
        );
    }
    for c in &manifest.classifiers {
        let state = match manifest.classifier_state(c) {
            FetchState::Ok => "ok",
            FetchState::Missing => "missing",
            FetchState::ChecksumMismatch { .. } => "BAD-SHA256",
        };
        let attributes: Vec<&str> = c.outputs.iter().map(|o| o.name.as_str()).collect();
        text += &format!(
            "{:<22} {:<9} {:<10} {:<40} {} (classifier: {})\n",
            c.id,
            c.precision,
            state,
            format!("{} {}=={}", c.source, c.package, c.version),
            manifest.dir.join(&c.id).display(),
            attributes.join(", ")
        );
    }
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(exit_code::OK)
}
