//! `ovstream` CLI: pipeline file + overrides → run; devices; models; bench.

extern crate gstovstream as ovstream;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ovstream::config::{Inputs, NamedSource, PipelineConfig};
use ovstream::detector::Detector;
use ovstream::error::{exit_code, Error};
use ovstream::pipeline::{self, RunOptions};
use ovstream::record::Recording;
use ovstream::sink::sinks_for_sources;
use ovstream::source::Source;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod bench;
mod classify;
mod config;
mod gallery;
mod locate;
mod models;
mod reference;
mod reload;
mod serve;
mod shards;

use bench::BenchArgs;
use gallery::GalleryArgs;

const DEFAULT_PIPELINE: &str = "pipelines/pedestrians.toml";

#[derive(Parser)]
#[command(
    name = "ovstream",
    version,
    about = "Real-time video analytics on OpenVINO + GStreamer"
)]
struct Cli {
    /// OpenVINO C library (libopenvino_c.so[.N]) or its folder; default: the .venv of the
    /// project this binary was built in, then the system (never the working directory).
    #[arg(long, global = true, env = "OVSTREAM_OPENVINO_LIB")]
    openvino_lib: Option<PathBuf>,
    /// Log filter (tracing env-filter syntax), e.g. `info`, `ovstream=debug`.
    #[arg(long, global = true, env = "OVSTREAM_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline file (default pipelines/pedestrians.toml) with overrides.
    Run(RunArgs),
    /// Benchmark: raw inference throughput vs. the pipeline (metadata-only, overlay+mp4).
    Bench(BenchArgs),
    /// List OpenVINO devices with their full names (`--properties`: every supported property
    /// and its current value).
    Devices {
        #[arg(long)]
        properties: bool,
    },
    /// List the model manifest (fetched or not, checksum, weight precision); `models annotate`
    /// stores a model's settings into an IR.
    Models(models::ModelsArgs),
    /// Face gallery: enroll people from photos or a video frame, list them, recognize the faces
    /// of a photo, list, name or forget remembered unknown people.
    Gallery(GalleryArgs),
    /// Second-stage classification of still images: every object the pipeline's detector
    /// finds, with its [[classify]] attributes (age and gender of faces), as JSON lines.
    Classify(classify::ClassifyArgs),
    /// Check pipeline files without opening inputs or compiling models (exit 0, or 2 listing
    /// the problems).
    Config(config::ConfigArgs),
    /// References generated from the code (docs/reference/): the CLI, the OpenAPI document.
    #[command(hide = true)]
    Reference(reference::ReferenceArgs),
    /// Service mode: streams added, changed and removed over a REST API.
    Serve(serve::ServeArgs),
    /// Which replica (`serve --shard K/N`) runs which of a pipeline file's inputs.
    Shards(shards::ShardsArgs),
}

/// The pipeline file and the flags every pipeline command merges onto it.
#[derive(Args, Clone)]
#[group(skip)] // the library's `Overrides` (flattened below) has the group of that name
pub(crate) struct Overrides {
    /// Pipeline file.
    #[arg(default_value = DEFAULT_PIPELINE)]
    pipeline: PathBuf,
    #[command(flatten)]
    flags: ovstream::config::Overrides,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    overrides: Overrides,
    #[command(flatten)]
    run: ovstream::config::RunOverrides,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464).
    #[arg(long)]
    metrics: Option<String>,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Do not re-read the analytics tables when the pipeline file changes or on SIGHUP.
    #[arg(long)]
    no_reload: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match dispatch(&cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            let code = err
                .chain()
                .find_map(|e| e.downcast_ref::<Error>())
                .map_or(exit_code::FAILURE, Error::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

/// The error and its causes, joined by `: `, each cause once: most of the library's errors
/// already end their message with their source (`output --api ADDR: invalid port value`), which
/// anyhow's `{:#}` would print a second time.
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let lib = cli.openvino_lib.as_deref();
    match &cli.command {
        Command::Run(args) => run(args, lib),
        Command::Bench(args) => bench::run(args, lib),
        Command::Devices { properties } => devices(*properties, lib),
        Command::Models(args) => models::run(args),
        Command::Gallery(args) => gallery::run(args, lib),
        Command::Classify(args) => classify::run(args, lib),
        Command::Reference(args) => reference::run::<Cli>(args),
        Command::Config(args) => config::run(args),
        Command::Serve(args) => serve::run(args, lib),
        Command::Shards(args) => shards::run(args),
    }
}

/// `ovstream devices [--properties]`. A closed stdout (`| head`) ends the listing quietly.
fn devices(properties: bool, lib: Option<&Path>) -> anyhow::Result<i32> {
    use std::io::Write;
    let mut text = String::new();
    for (name, full) in ovstream::engine::devices(lib)? {
        text += &format!("{name:<10} {full}\n");
    }
    if properties {
        for (device, props) in ovstream::engine::device_properties(lib)? {
            text += &format!("\n{device}:\n");
            for p in props.iter().filter(|p| p.name != "SUPPORTED_PROPERTIES") {
                let mode = format!("{} ", p.mode);
                text += &format!("  {:<40} {:<3}{}\n", p.name, mode.trim_start(), p.value);
            }
        }
    }
    text += &format!("OpenVINO {}\n", ovstream::engine::runtime_version());
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(exit_code::OK),
    }
}

/// The pipeline file with `o`'s flags merged, validated once (an input required).
pub(crate) fn load_config(o: &Overrides) -> Result<PipelineConfig, Error> {
    PipelineConfig::load_with(&o.pipeline, &[&o.flags], Inputs::Required)
}

fn run(args: &RunArgs, lib: Option<&Path>) -> anyhow::Result<i32> {
    let loaded = reload::stamp(&args.overrides.pipeline);
    let config = PipelineConfig::load_with(
        &args.overrides.pipeline,
        &[&args.overrides.flags, &args.run],
        Inputs::Required,
    )?;

    // Open the inputs first: a bad input fails before the (slow) model compile.
    let streams = config.streams().map_err(|message| Error::Config {
        path: args.overrides.pipeline.clone(),
        message,
    })?;
    let names: Vec<String> = streams.iter().filter_map(|s| s.name.clone()).collect();
    let (recordings, sources) = open_inputs(&config, &streams, &names)?;
    let live = sources.iter().any(|s| s.live);
    let inputs: Vec<String> = streams.iter().map(|s| s.input.clone()).collect();
    ovstream::sink::check_outputs(&config, &names, &inputs)?;
    check_gallery(&config)?;
    let mut detector = Detector::from_config(&config, lib)?;
    let mut recognizer = ovstream::face::recognizer_from_config(&config, lib, &mut detector)?;
    let mut classifiers = ovstream::classify::Classifiers::from_config(&config, lib)?;
    if let Some(r) = &recognizer {
        let g = r.gallery.current();
        let (images, people) = (g.entries.len(), g.names().len());
        let (dir, threshold) = (g.dir.display(), r.threshold);
        eprintln!(
            "gallery {dir}: {images} image(s) of {people} people; similarity threshold {threshold}"
        );
    }
    eprintln!("{}", compiled_model_line(&detector));
    // Bind what can fail (metrics port; the RTSP port comes first in sinks_for_sources) before
    // any output file is created or truncated.
    let bind = ovstream::pipeline::metrics::Endpoint::bind;
    let metrics_endpoint = (args.metrics.as_deref())
        .map(bind)
        .transpose()?
        .map(Arc::new);
    let mut sinks = sinks_for_sources(&config, &names)?;
    for (sinks, rec) in sinks.iter_mut().zip(recordings) {
        rec.into_iter().for_each(|rec| rec.attach(sinks));
    }
    if names.len() > 1 {
        for (s, src) in names.iter().zip(&sources) {
            eprintln!("source {s}: {}", src.uri);
        }
    }
    let Signals { stop, hup } = install_signal_handler()?;
    let options = RunOptions {
        progress: !args.no_progress && std::io::stderr().is_terminal(),
        metrics: args.metrics.clone(),
        metrics_endpoint,
        ..RunOptions::for_config(&config, live)
    };
    let analytics: Vec<_> = names.iter().map(|n| config.analytics_for(n)).collect();
    let inputs = sources
        .into_iter()
        .zip(sinks)
        .zip(analytics.iter().cloned())
        .map(|((source, sinks), analytics)| pipeline::Input {
            source,
            sinks,
            analytics,
        })
        .collect();
    let summary = pipeline::run_many_with(
        inputs,
        &mut detector.engine,
        &detector.adapter,
        pipeline::Secondary::new(recognizer.as_mut(), classifiers.as_mut()),
        &options,
        &stop,
        |p, ids| {
            let watch = options.analytics && !args.no_reload;
            match watch {
                true => reload::watch(p, ids, &names, &args.overrides, analytics, loaded, &hup),
                false => Ok(()),
            }
        },
    )?;
    eprintln!("{summary}");
    for line in classifiers.iter().flat_map(|c| c.report()) {
        eprintln!("{line}");
    }
    Ok(exit_status(&summary)?)
}

/// How a finished run exits: an error for damaged input (everything that decoded was
/// processed and the outputs are finalized; still an error), [`exit_code::INTERRUPTED`] after
/// a signal, else [`exit_code::OK`].
///
/// # Errors
/// [`Error::Input`] naming the damaged sources.
fn exit_status(summary: &pipeline::Summary) -> Result<i32, Error> {
    if let Some(message) = summary.damage.clone() {
        let damaged: Vec<&str> = (summary.sources.iter())
            .filter(|s| s.damage.is_some())
            .map(|s| s.uri.as_str())
            .collect();
        return Err(Error::Input {
            uri: damaged.join(", "),
            message,
        });
    }
    if summary.interrupted {
        eprintln!("interrupted: outputs finalized");
        return Ok(exit_code::INTERRUPTED);
    }
    Ok(exit_code::OK)
}

/// Checks that `[recognize]`'s gallery folder exists.
///
/// # Errors
/// [`Error::Config`] naming the folder, with how to enroll people.
fn check_gallery(config: &PipelineConfig) -> Result<(), Error> {
    match config.recognize.as_ref().filter(|r| !r.gallery.is_dir()) {
        Some(r) => Err(Error::Config {
            path: r.gallery.clone(),
            message: "gallery folder not found; enroll people first: `ovstream gallery add NAME \
                      IMAGE…` (or check the --gallery path)"
                .into(),
        }),
        None => Ok(()),
    }
}

/// Each stream's recording (`None` without one) and its opened source, in `streams` order.
/// Recordings first: their taps see the encoded stream from the first packet (preroll); a
/// record input (the camera's main stream) is opened and feeds its tap instead.
///
/// # Errors
/// Recording settings, and inputs that cannot be opened (naming the URI).
fn open_inputs(
    config: &PipelineConfig,
    streams: &[NamedSource],
    names: &[String],
) -> Result<(Vec<Option<Recording>>, Vec<Source>), Error> {
    let mut recordings = Vec::with_capacity(streams.len());
    for (s, n) in streams.iter().zip(names) {
        let Some(record) = config.record_for(n) else {
            recordings.push(None);
            continue;
        };
        let mut recording = Recording::build(record, n, None)?;
        if let Some(input) = &s.record_input {
            let (options, policy) = (config.source.options(), config.source.supervision());
            recording = recording.record_input(n, input, &options, policy)?;
        }
        recordings.push(Some(recording));
    }
    let mut sources = Vec::with_capacity(streams.len());
    for (s, rec) in streams.iter().zip(&recordings) {
        let tap = rec.as_ref().and_then(|r| r.tap.clone());
        sources.push(Source::open_tapped(
            &s.input,
            &config.source.options(),
            tap,
        )?);
    }
    Ok((recordings, sources))
}

/// The line `run` prints once the model is compiled: where inference really runs, at what
/// precision, with how many requests, streams and images a request.
fn compiled_model_line(detector: &Detector) -> String {
    let engine = &detector.engine;
    format!(
        "model {}: compiled in {} ms for {}; inference runs on {}{}; nireq {}{}{}",
        detector.model,
        engine.compile_time.as_millis(),
        engine.device,
        engine.execution_devices,
        match engine.precision.as_str() {
            "" => String::new(),
            p => format!(" at {p}"),
        },
        engine.nireq,
        engine
            .nstreams
            .map_or(String::new(), |n| format!("; streams {n}")),
        match engine.input.batch {
            1 => String::new(),
            n => format!("; batch {n}"),
        }
    )
}

/// The process's signals: SIGINT and SIGTERM raise `stop` (a second one exits at once with
/// 130); SIGHUP raises `hup` (`run` re-reads its analytics; nothing else ends on it).
pub(crate) struct Signals {
    pub stop: Arc<AtomicBool>,
    pub hup: Arc<AtomicBool>,
}

/// First SIGINT/SIGTERM: stop the sources (EOS flows, outputs are finalized). Second: exit now.
/// SIGHUP never ends the process (before, ctrlc's `termination` feature caught it as a stop).
pub(crate) fn install_signal_handler() -> anyhow::Result<Signals> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("installing the signal handlers")?;
    let stop = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    let (flag, reload) = (Arc::clone(&stop), Arc::clone(&hup));
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut stops = 0;
            for signal in signals.forever() {
                if signal == SIGHUP {
                    reload.store(true, Ordering::SeqCst);
                    continue;
                }
                stops += 1;
                if stops == 1 {
                    eprintln!("\nstopping: finalizing outputs (again to exit at once)");
                    flag.store(true, Ordering::SeqCst);
                } else {
                    std::process::exit(exit_code::INTERRUPTED);
                }
            }
        })
        .context("starting the signal thread")?;
    Ok(Signals { stop, hup })
}

#[cfg(test)]
mod cli_tests {
    /// clap's own consistency checks (debug builds run them at start; a release build never
    /// would): unique argument and group names, valid defaults. Two flattened argument structs
    /// once shared the group name `Overrides`, and every debug run panicked.
    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    /// A cause that its error's message already ends with is not repeated; context above it
    /// and causes it does not show are kept.
    #[test]
    fn an_error_s_causes_are_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidInput, "invalid port value");
        let listen = super::Error::Listen {
            what: "--api",
            addr: "127.0.0.1:99999".into(),
            source: io,
        };
        let err = anyhow::Error::new(listen).context("starting the service");
        assert_eq!(
            super::describe(&err),
            "starting the service: output --api 127.0.0.1:99999: invalid port value"
        );
        let inner = anyhow::anyhow!("connection refused").context("opening rtsp://cam");
        assert_eq!(
            super::describe(&inner),
            "opening rtsp://cam: connection refused"
        );
    }
}
