//! `ovstream` CLI: pipeline file + overrides → run; devices; models; bench.

extern crate gstovstream as ovstream;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ovstream::config::{Hint, PipelineConfig, Precision, RtspTransport};
use ovstream::detector::Detector;
use ovstream::error::{exit_code, Error};
use ovstream::pipeline::{self, RunOptions};
use ovstream::sink::sinks_for_sources;
use ovstream::source::supervise::{Supervision, DEFAULT_STALL_TIMEOUT};
use ovstream::source::Source;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod bench;
mod gallery;
mod models;
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
    /// Face gallery: enroll people from photos or a video frame, list them.
    Gallery(GalleryArgs),
    /// Service mode: streams added, changed and removed over a REST API.
    Serve(serve::ServeArgs),
    /// Which replica (`serve --shard K/N`) runs which of a pipeline file's inputs.
    Shards(shards::ShardsArgs),
}

#[derive(Args, Clone)]
pub(crate) struct Overrides {
    /// Pipeline file.
    #[arg(default_value = DEFAULT_PIPELINE)]
    pipeline: PathBuf,
    /// Input file or URI; repeat for several sources in one process (one model, one request
    /// pool; names from the file stem or host, `{name}` in output paths).
    #[arg(long)]
    input: Vec<String>,
    /// Model: manifest id or path to a model file.
    #[arg(long)]
    model: Option<String>,
    /// OpenVINO device string: CPU, GPU, GPU.1, NPU, AUTO, HETERO:GPU,CPU, …
    #[arg(long)]
    device: Option<String>,
    /// Infer requests in flight, or `auto` to measure (default: OPTIMAL_NUMBER_OF_INFER_REQUESTS).
    #[arg(long)]
    nireq: Option<ovstream::config::Nireq>,
    /// PERFORMANCE_HINT: latency or throughput.
    #[arg(long)]
    hint: Option<Hint>,
    /// INFERENCE_PRECISION_HINT: f32, f16 or bf16.
    #[arg(long)]
    precision: Option<Precision>,
    /// Images per inference, gathered across sources (default 1).
    #[arg(long)]
    batch: Option<usize>,
    /// NUM_STREAMS: a number, or `auto` to measure (default: the device's choice for the hint).
    #[arg(long)]
    nstreams: Option<String>,
    /// Static model input size `HEIGHTxWIDTH` (e.g. 300x300); needed for a model file with a
    /// dynamic input that is not in the manifest.
    #[arg(long, value_parser = parse_size)]
    input_size: Option<[u32; 2]>,
    /// Detection confidence threshold in [0, 1].
    #[arg(long)]
    threshold: Option<f32>,
    /// Keep only these classes (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// Compiled-model cache directory.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Disable the compiled-model cache.
    #[arg(long)]
    no_cache: bool,
    /// Face gallery folder (pipelines with [recognize]).
    #[arg(long)]
    gallery: Option<PathBuf>,
    /// Output decoder for a model file: ssd, blazeface or yolo (default: the manifest, the
    /// model file's rt_info, else chosen from the output shapes).
    #[arg(long)]
    adapter: Option<String>,
    /// Class names, one per line (line i is class i for YOLO, label id i+1 for SSD).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// NMS IoU threshold in (0, 1] (YOLO; default 0.45).
    #[arg(long)]
    iou: Option<f32>,
    /// An OpenVINO property set on the device before compiling, KEY=VALUE (repeatable;
    /// added to `[model] properties`).
    #[arg(long = "ov-property", value_parser = parse_property)]
    ov_property: Vec<(String, String)>,
}

/// `KEY=VALUE`.
fn parse_property(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    overrides: Overrides,
    /// Annotated H.264 MP4 output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// JSON-lines metadata output (`-` for stdout).
    #[arg(long)]
    metadata: Option<String>,
    /// Object events (new/update/end per track), one JSON object per line.
    #[arg(long)]
    events: Option<String>,
    /// Publish events to MQTT: mqtt://[user[:password]@]host[:port][/prefix] (or mqtts://).
    #[arg(long)]
    mqtt: Option<String>,
    /// MQTT QoS: 0, 1 (default) or 2.
    #[arg(long)]
    mqtt_qos: Option<u8>,
    /// Show the annotated video.
    #[arg(long)]
    display: bool,
    /// Serve the annotated video over RTSP, e.g. rtsp://127.0.0.1:8554/ovstream.
    #[arg(long)]
    rtsp_out: Option<String>,
    /// Stop after N frames (of each source).
    #[arg(long)]
    limit: Option<u64>,
    /// Restart the file at EOS.
    #[arg(long = "loop")]
    looping: bool,
    /// Play files at their own frame rate as live cameras (drop-oldest, never blocking).
    #[arg(long)]
    realtime: bool,
    /// Live sources: give up after N reconnects in a row (default: retry forever).
    #[arg(long)]
    max_reconnects: Option<u32>,
    /// RTSP inputs: lower transport: tcp, udp or auto.
    #[arg(long)]
    rtsp_transport: Option<RtspTransport>,
    /// RTSP inputs: jitter-buffer latency in ms (default 200).
    #[arg(long)]
    rtsp_latency: Option<u32>,
    /// Seconds between stats lines (health, FPS, drops, latency); 0: off. Default: 10 for
    /// live sources, off for files.
    #[arg(long)]
    stats_interval: Option<f64>,
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
            eprintln!("error: {err:#}");
            let code = err
                .chain()
                .find_map(|e| e.downcast_ref::<Error>())
                .map_or(exit_code::FAILURE, Error::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let lib = cli.openvino_lib.as_deref();
    match &cli.command {
        Command::Run(args) => run(args, lib),
        Command::Bench(args) => bench::run(args, lib),
        Command::Devices { properties } => devices(*properties, lib),
        Command::Models(args) => models::run(args),
        Command::Gallery(args) => gallery::run(args, lib),
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

pub(crate) fn load_config(o: &Overrides) -> Result<PipelineConfig, Error> {
    let mut c = PipelineConfig::load(&o.pipeline)?;
    if !o.input.is_empty() {
        c.set_inputs(&o.input);
    }
    if let Some(v) = &o.model {
        c.model.model = v.clone();
    }
    if let Some(v) = &o.device {
        c.model.device = v.clone();
    }
    c.model.nireq = o.nireq.or(c.model.nireq);
    c.model.hint = o.hint.unwrap_or(c.model.hint);
    c.model.precision = o.precision.or(c.model.precision);
    c.model.nstreams = o.nstreams.clone().or(c.model.nstreams);
    c.model.batch = o.batch.unwrap_or(c.model.batch);
    c.model.cache_dir = o.cache_dir.clone().or(c.model.cache_dir);
    c.model.cache &= !o.no_cache;
    c.model.input_size = o.input_size.or(c.model.input_size);
    if let Some(t) = o.threshold {
        c.detect.threshold = t;
        c.detect.threshold_given = true;
    }
    if let Some(v) = &o.classes {
        c.detect.classes = v.clone();
    }
    c.model.adapter = o.adapter.clone().or(c.model.adapter.take());
    c.detect.labels_file = o.labels.clone().or(c.detect.labels_file.take());
    c.detect.iou = o.iou.or(c.detect.iou);
    for (k, v) in &o.ov_property {
        c.model.properties.insert(k.clone(), v.clone());
    }
    match (&o.gallery, c.recognize.as_mut()) {
        (Some(dir), Some(r)) => r.gallery = dir.clone(),
        (Some(_), None) => {
            return Err(Error::Config {
                path: o.pipeline.clone(),
                message: "--gallery needs a pipeline with a [recognize] table \
                          (e.g. pipelines/faces.toml)"
                    .into(),
            })
        }
        _ => {}
    }
    c.validate(Path::new("command line"))?;
    Ok(c)
}

fn run(args: &RunArgs, lib: Option<&Path>) -> anyhow::Result<i32> {
    let loaded = reload::stamp(&args.overrides.pipeline);
    let mut config = load_config(&args.overrides)?;
    if let Some(v) = &args.output {
        config.output.mp4 = Some(v.clone());
    }
    if let Some(v) = &args.metadata {
        config.output.metadata = Some(v.clone());
    }
    if let Some(v) = &args.events {
        config.output.events = Some(v.clone());
    }
    if let Some(url) = &args.mqtt {
        let mut m = config
            .output
            .mqtt
            .take()
            .unwrap_or_else(|| ovstream::config::MqttConfig::new(url.clone()));
        m.url = url.clone();
        config.output.mqtt = Some(m);
    }
    if let Some(qos) = args.mqtt_qos {
        match config.output.mqtt.as_mut() {
            Some(m) => m.qos = qos,
            None => anyhow::bail!(Error::Config {
                path: "command line".into(),
                message: "--mqtt-qos needs --mqtt or [output.mqtt]".into(),
            }),
        }
    }
    config.output.display |= args.display;
    if let Some(v) = &args.rtsp_out {
        config.output.rtsp = Some(v.clone());
    }
    config.source.looping |= args.looping;
    config.source.realtime |= args.realtime;
    config.source.limit = args.limit.or(config.source.limit);
    config.source.max_reconnects = args.max_reconnects.or(config.source.max_reconnects);
    config.source.rtsp_transport = args.rtsp_transport.or(config.source.rtsp_transport);
    config.source.rtsp_latency = args.rtsp_latency.or(config.source.rtsp_latency);
    config.output.stats_interval = args.stats_interval.or(config.output.stats_interval);
    config.validate(Path::new("command line"))?;

    // Open the inputs first: a bad input fails before the (slow) model compile.
    let streams = config.streams().map_err(|message| Error::Config {
        path: args.overrides.pipeline.clone(),
        message,
    })?;
    let mut sources = Vec::with_capacity(streams.len());
    for s in &streams {
        sources.push(Source::open(&s.input, &config.source.options())?);
    }
    let names: Vec<String> = streams.iter().filter_map(|s| s.name.clone()).collect();
    let live = sources.iter().any(|s| s.live);
    let inputs: Vec<String> = streams.iter().map(|s| s.input.clone()).collect();
    ovstream::sink::check_outputs(&config, &names, &inputs)?;
    if let Some(r) = config.recognize.as_ref().filter(|r| !r.gallery.is_dir()) {
        return Err(Error::Config {
            path: r.gallery.clone(),
            message: "gallery folder not found; enroll people first: `ovstream gallery add NAME \
                      IMAGE…` (or check the --gallery path)"
                .into(),
        }
        .into());
    }
    let mut detector = Detector::from_config(&config, lib)?;
    let mut recognizer = ovstream::face::recognizer_from_config(&config, lib, &mut detector)?;
    if let Some(r) = &recognizer {
        eprintln!(
            "gallery {}: {} image(s) of {} people; similarity threshold {}",
            r.gallery.dir.display(),
            r.gallery.entries.len(),
            r.gallery.names().len(),
            r.threshold
        );
    }
    eprintln!(
        "model {}: compiled in {} ms for {}; inference runs on {}; nireq {}{}{}",
        detector.model,
        detector.engine.compile_time.as_millis(),
        detector.engine.device,
        detector.engine.execution_devices,
        detector.engine.nireq,
        detector
            .engine
            .nstreams
            .map_or(String::new(), |n| format!("; streams {n}")),
        match detector.engine.input.batch {
            1 => String::new(),
            n => format!("; batch {n}"),
        }
    );
    // Bind what can fail (metrics port; the RTSP port comes first in sinks_for_sources) before
    // any output file is created or truncated.
    let metrics_endpoint = args
        .metrics
        .as_deref()
        .map(ovstream::pipeline::metrics::Endpoint::bind)
        .transpose()?
        .map(Arc::new);
    let sinks = sinks_for_sources(&config, &names)?;
    if names.len() > 1 {
        for (s, src) in names.iter().zip(&sources) {
            eprintln!("source {s}: {}", src.uri);
        }
    }
    let stop = install_signal_handler()?;
    let options = RunOptions {
        looping: config.source.looping,
        limit: config.source.limit,
        progress: !args.no_progress && std::io::stderr().is_terminal(),
        supervision: Supervision {
            stall_timeout: config
                .source
                .stall_timeout
                .map_or(DEFAULT_STALL_TIMEOUT, Duration::from_secs_f64),
            max_reconnects: config.source.max_reconnects,
            ..Supervision::default()
        },
        stats_interval: config.output.stats_interval(live),
        track: config.track_options(),
        metrics: args.metrics.clone(),
        metrics_endpoint,
        // run_many adds the overlay and events stages when an output needs them.
        overlay: false,
        events: false,
        // With tracking, the analytics stage runs even without zones: the pipeline file may
        // get some while this runs (hot reload).
        analytics: config.track.enabled,
        alerts: config.alerts.clone().into(),
        interval: config.detect.interval,
        motion: ovstream::pipeline::gate::MotionGate::for_config(&config, live),
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
        recognizer.as_mut(),
        &options,
        &stop,
        |p, ids| {
            let watch = options.analytics && !args.no_reload;
            match watch {
                true => reload::watch(p, ids, &names, &args.overrides, analytics, loaded),
                false => Ok(()),
            }
        },
    )?;
    eprintln!("{summary}");
    if let Some(damage) = summary.damage {
        // Everything that decoded was processed and the outputs are finalized; still an error.
        let damaged: Vec<_> = summary
            .sources
            .iter()
            .filter(|s| s.damage.is_some())
            .collect();
        return Err(Error::Input {
            uri: damaged
                .iter()
                .map(|s| s.uri.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            message: damage,
        }
        .into());
    }
    if summary.interrupted {
        eprintln!("interrupted: outputs finalized");
        return Ok(exit_code::INTERRUPTED);
    }
    Ok(exit_code::OK)
}

/// Parses `HEIGHTxWIDTH`.
fn parse_size(s: &str) -> Result<[u32; 2], String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}`: expected HEIGHTxWIDTH, e.g. 300x300"))?;
    let num = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("`{s}`: {e}"));
    Ok([num(h)?, num(w)?])
}

/// First SIGINT/SIGTERM: stop the sources (EOS flows, outputs are finalized). Second: exit now.
pub(crate) fn install_signal_handler() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = AtomicUsize::new(0);
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("\nstopping: finalizing outputs (again to exit at once)");
            flag.store(true, Ordering::SeqCst);
        } else {
            std::process::exit(exit_code::INTERRUPTED);
        }
    })
    .context("installing the SIGINT handler")?;
    Ok(stop)
}
