//! `ovstream config check FILE…`: a pipeline file checked without opening its inputs or
//! compiling a model — TOML, keys, values, and that every model it names exists;
//! `ovstream config schema`: its JSON Schema.

use clap::{Args, Subcommand};
use ovstream::config::PipelineConfig;
use ovstream::error::{exit_code, Error};
use ovstream::manifest::{FetchState, Manifest};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Check pipeline files: TOML syntax, unknown keys (with line and column), every value out
    /// of range, and that each model named is a file or a fetched manifest id. Nothing is
    /// opened or compiled. Exit 0 when every file is fine, 2 otherwise.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the pipeline file's JSON Schema (every table and key with its doc comment, type
    /// and default), for editors: docs/reference/pipeline.schema.json.
    Schema,
}

pub(crate) fn run(args: &ConfigArgs) -> anyhow::Result<i32> {
    let files = match &args.action {
        Action::Schema => {
            println!("{}", ovstream::config::schema::pipeline_schema());
            return Ok(exit_code::OK);
        }
        Action::Check { files } => files,
    };
    let manifest = Manifest::load(&Manifest::default_dir()).ok();
    // A closed pipe (`| head`) ends the listing, not the process with a panic.
    let mut out = std::io::stdout().lock();
    let mut bad = 0;
    for file in files {
        let problems = match PipelineConfig::read(file) {
            Err(e) => vec![e.to_string()],
            Ok(config) => (config.problems(file).into_iter())
                .map(|e| match e {
                    // The file is named at the start of the line already.
                    Error::Config { message, .. } => message,
                    other => other.to_string(),
                })
                .map(|message| at_key(file, message))
                .chain(model_problems(&config, manifest.as_ref()))
                .collect(),
        };
        if problems.is_empty() {
            let _ = writeln!(out, "{}: ok", file.display());
        } else {
            bad += 1;
            for p in problems {
                let _ = writeln!(out, "{}: {p}", file.display());
            }
        }
    }
    Ok(if bad == 0 {
        exit_code::OK
    } else {
        exit_code::CONFIG
    })
}

/// `line L, column C: message` where the message's key is found in the file.
fn at_key(file: &Path, message: String) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    match crate::locate::locate(&text, &message) {
        Some((line, column)) => {
            let message = as_written(&message, text.lines().nth(line - 1).unwrap_or_default());
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// `message` with an `inf` that the file wrote as a finite number too large for the setting
/// (`1e308` read as a 32-bit float) shown as written on its `line`.
fn as_written(message: &str, line: &str) -> String {
    let Some(value) = line
        .split_once('=')
        .map(|(_, v)| v.split('#').next().unwrap_or("").trim())
    else {
        return message.to_string();
    };
    let finite = value.parse::<f64>().is_ok_and(f64::is_finite);
    match (
        finite,
        message.find("= -inf").or_else(|| message.find("= inf")),
    ) {
        (true, Some(at)) => {
            let end = message[at + 2..]
                .find(' ')
                .map_or(message.len(), |e| at + 2 + e);
            format!("{}= {value} (too large){}", &message[..at], &message[end..])
        }
        _ => message.to_string(),
    }
}

/// Every model the file names that is neither a file nor a (fetched) manifest entry.
fn model_problems(config: &PipelineConfig, manifest: Option<&Manifest>) -> Vec<String> {
    let mut named: Vec<(String, &str, bool)> =
        vec![("model.model".into(), &config.model.model, false)];
    if let Some(r) = &config.recognize {
        named.push(("recognize.model".into(), &r.model, false));
    }
    for (i, c) in config.classify.iter().enumerate() {
        named.push((format!("classify[{i}].model"), &c.model, true));
    }
    let mut problems = Vec::new();
    for (key, model, classifier) in named {
        let path = Path::new(model);
        if ovstream::manifest::is_model_path(model) {
            if !path.is_file() {
                problems.push(format!("{key}: {model}: file not found"));
            }
            continue;
        }
        let Some(m) = manifest else {
            problems.push(format!(
                "{key}: `{model}`: no model manifest to look it up in"
            ));
            continue;
        };
        let state = match classifier {
            true => m.classifier(model).map(|c| m.classifier_state(c)),
            false => m.get(model).map(|e| m.fetch_state(e)),
        };
        match state {
            None => problems.push(format!(
                "{key}: `{model}` is neither a file nor a manifest id"
            )),
            Some(FetchState::Missing) => {
                problems.push(format!("{key}: `{model}` is not fetched; run models/fetch"))
            }
            Some(FetchState::ChecksumMismatch { .. }) => problems.push(format!(
                "{key}: `{model}` fails its checksum; run models/fetch"
            )),
            Some(FetchState::Ok) => {}
        }
    }
    problems
}
