//! Starting the service: the API bound, the model compiled, the [`Service`] made, the pipeline
//! file's inputs and the state file's streams added, then the dynamic pipeline run until
//! stopped.

use super::control::{Command, Control};
use super::streams::{self, StreamSpec};
use super::{
    api, console, home_assistant, live, openapi, outputs, state, Origin, ServeOptions, Service,
    MAX_EVENTS, UNKNOWN_DIR,
};
use crate::config::PipelineConfig;
use crate::detector::Detector;
use crate::error::{Error, Result};
use crate::pipeline::http::HttpServer;
use crate::pipeline::{self, metrics::Endpoint, RunOptions, Summary};
use crate::sink::events::EventRing;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Runs the service until `stop` (SIGINT/SIGTERM): binds the API, compiles the model, restores
/// the streams of the state file and the pipeline file's own inputs, then serves.
///
/// # Errors
/// [`Error::Config`] for a non-loopback address without a token (unless `insecure`), a bad
/// state file or unsupported outputs; [`Error::Listen`] for an address that cannot be bound;
/// model errors.
pub fn run(
    config: &PipelineConfig,
    options: &ServeOptions,
    openvino_lib: Option<&Path>,
    stop: &AtomicBool,
) -> Result<Summary> {
    let (listener, addr) = bind_api(options)?;
    let restored = state::load_state(&options.state_file).map_err(|message| Error::Config {
        path: options.state_file.clone(),
        message,
    })?;
    let stream_config = outputs::per_stream_outputs(config)?;
    let mut detector = Detector::from_config(config, openvino_lib)?;
    // Remembered unknown people live beside the state file.
    let unknown_dir = options.state_file.parent().map(|d| d.join(UNKNOWN_DIR));
    let mut recognizer = crate::face::recognizer_with_unknowns(
        config,
        openvino_lib,
        &mut detector,
        unknown_dir.as_deref(),
    )?;
    let mut classifiers = crate::classify::Classifiers::from_config(config, openvino_lib)?;
    let faces = recognizer
        .as_ref()
        .map(|r| crate::face::library_for(config, openvino_lib, &mut detector, r))
        .transpose()?
        .map(Arc::new);
    let (metrics, scraper) = Endpoint::in_process();
    let metrics = Arc::new(metrics);
    let mqtt = config
        .output
        .mqtt
        .as_ref()
        .map(crate::sink::mqtt::Mqtt::start)
        .transpose()?;
    let (tx, rx) = crossbeam::channel::unbounded();
    let parts = Parts {
        commands: tx,
        metrics: scraper,
        faces,
        api_addr: addr,
    };
    let service = Arc::new(Service::new(
        config,
        options,
        &detector,
        stream_config.output.clone(),
        parts,
    )?);
    add_initial_streams(&service, config, options.shard, restored)?;
    // Home Assistant: every stream's annotated JPEG for its camera entity.
    let _snapshots = home_assistant::Snapshots::for_config(config, mqtt.as_ref(), &service)?;
    let http = HttpServer::start(
        "--api",
        listener,
        api::router(Arc::clone(&service)),
        service.live.viewer_timeout,
    )?;
    eprintln!("serving the API at http://{addr}/api/streams");
    // Streams come and go: the detection mode is the file's (`always` unless it says
    // `motion`); loop and limit apply per stream (`control`).
    let run_options = RunOptions {
        metrics_endpoint: Some(metrics),
        overlay: config.output.mp4.is_some() || config.record.as_ref().is_some_and(|r| r.annotated),
        // Every stream's events go to the ring behind `GET /api/events`.
        events: true,
        ..RunOptions::for_config(config, false)
    };
    let control = Control {
        service: Arc::clone(&service),
        commands: rx,
        config: &stream_config,
        mqtt,
        stop,
    };
    let summary = pipeline::run_dynamic(
        &mut detector.engine,
        &detector.adapter,
        pipeline::Secondary::new(recognizer.as_mut(), classifiers.as_mut()),
        &run_options,
        stop,
        |p| {
            let result = control.run(p);
            http.stop();
            result
        },
    );
    drop(http);
    summary
}

/// What the service is given beside the pipeline file and the detector.
struct Parts {
    /// To the control loop.
    commands: crossbeam::channel::Sender<Command>,
    metrics: crate::pipeline::metrics::Scraper,
    faces: Option<Arc<crate::face::library::FaceLibrary>>,
    api_addr: std::net::SocketAddr,
}

impl Service {
    /// No streams yet; the settings from `config` and `options`, the detector's model and
    /// labels, every stream's default `outputs`. Creates `[serve] output_root` and starts the
    /// `[serve] rtsp` server.
    ///
    /// # Errors
    /// [`Error::Setting`] for `[serve] allowed_inputs` that do not parse or an `output_root`
    /// that cannot be created; the RTSP server's errors.
    fn new(
        config: &PipelineConfig,
        options: &ServeOptions,
        detector: &Detector,
        defaults: crate::config::OutputConfig,
        parts: Parts,
    ) -> Result<Service> {
        if let Some(root) = &config.serve.output_root {
            std::fs::create_dir_all(root).map_err(|e| Error::Setting {
                key: "serve".into(),
                message: format!("[serve] output_root {}: {e}", root.display()),
            })?;
        }
        let rtsp = config
            .serve
            .rtsp
            .as_deref()
            .map(|a| {
                crate::live::rtsp::RtspService::start(a, options.token.as_deref(), options.insecure)
            })
            .transpose()?;
        Ok(Service {
            streams: RwLock::new(BTreeMap::new()),
            commands: parts.commands,
            token: options.token.clone(),
            media_roots: config.serve.media_roots.clone(),
            allowed_inputs: (config.serve.allowed_inputs.as_deref())
                .map(crate::config::allowed::AllowedInputs::parse)
                .transpose()
                .map_err(|message| Error::Setting {
                    key: "serve.allowed_inputs".into(),
                    message,
                })?,
            output_root: config.serve.output_root.clone(),
            model: detector.model.clone(),
            metrics: parts.metrics,
            state_file: options.state_file.clone(),
            compiled: AtomicBool::new(false),
            openapi: Arc::new(openapi::document()),
            events: Arc::new(EventRing::new(MAX_EVENTS)),
            detect: streams::Model {
                threshold: config.detect.threshold,
                labels: detector
                    .adapter
                    .labels()
                    .iter()
                    .map(|l| l.to_string())
                    .collect(),
                classifiers: config.classify.iter().map(|c| c.model.clone()).collect(),
            },
            record: config.record.clone(),
            realtime: config.source.realtime,
            api_addr: parts.api_addr,
            allowed_hosts: config.serve.allowed_hosts.clone(),
            live: live::options(&config.serve),
            rtsp,
            faces: parts.faces,
            max_image_bytes: config.serve.max_image_bytes(),
            sessions: console::Sessions::default(),
            defaults,
            released: parking_lot::Mutex::default(),
            state_lock: parking_lot::Mutex::default(),
        })
    }
}

/// The API's listener and its address; a non-loopback one needs a token (or `--insecure`).
///
/// # Errors
/// [`Error::Listen`] naming `--api`; [`Error::Setting`] for an open address without a token.
fn bind_api(options: &ServeOptions) -> Result<(std::net::TcpListener, std::net::SocketAddr)> {
    let listen = |source| Error::Listen {
        what: "--api",
        addr: options.api.clone(),
        source,
    };
    let listener = std::net::TcpListener::bind(&options.api).map_err(listen)?;
    let addr = listener.local_addr().map_err(listen)?;
    if !addr.ip().is_loopback() && options.token.is_none() && !options.insecure {
        return Err(Error::Setting {
            key: "--api".into(),
            message: format!(
                "{addr} is reachable from other machines and no --api-token-file is given: \
                 anyone could add or remove streams. Give a token, bind 127.0.0.1, or pass \
                 --insecure"
            ),
        });
    }
    Ok((listener, addr))
}

/// Adds the pipeline file's inputs that `shard` owns, then the state file's `restored`
/// streams (which win on a name). A stream that cannot be added is logged, not fatal.
///
/// # Errors
/// As [`file_streams`].
fn add_initial_streams(
    service: &Service,
    config: &PipelineConfig,
    shard: Option<crate::shard::Shard>,
    restored: Vec<StreamSpec>,
) -> Result<()> {
    let (initial, file_names) = file_streams(config, shard)?;
    for spec in initial.into_values() {
        if let Err(r) = service.add_from(spec, Origin::File) {
            tracing::error!("{}", r.message);
        }
    }
    state::restore_all(service, restored, &file_names);
    Ok(())
}

/// The pipeline file's inputs that `shard` owns (all without one), as streams by name; and
/// the names of all the file's inputs. The file's sources come from the file (and the shard)
/// at each start: a state entry with a file source's name (saved by an older version) gives
/// way to the file's.
///
/// # Errors
/// [`Error::Setting`] when the file's inputs do not make streams (see
/// [`PipelineConfig::streams`]).
fn file_streams(
    config: &PipelineConfig,
    shard: Option<crate::shard::Shard>,
) -> Result<(
    BTreeMap<String, StreamSpec>,
    std::collections::BTreeSet<String>,
)> {
    let mut initial: BTreeMap<String, StreamSpec> = BTreeMap::new();
    let streams = if config.source.input.is_empty() && config.sources.is_empty() {
        Vec::new()
    } else {
        config.streams().map_err(|message| Error::Setting {
            key: "pipeline".into(),
            message,
        })?
    };
    let configured = streams.len();
    let file_names = streams.iter().filter_map(|s| s.name.clone()).collect();
    for s in streams {
        let name = s.name.clone().unwrap_or_default();
        if shard.is_some_and(|shard| !shard.owns(&name)) {
            continue;
        }
        initial.insert(
            name.clone(),
            StreamSpec {
                name,
                input: s.input,
                zones: s.analytics.as_ref().map(|a| a.zones.clone()),
                lines: s.analytics.as_ref().map(|a| a.lines.clone()),
                threshold: None,
                classes: None,
                outputs: None,
                record: s.record,
                record_input: s.record_input,
                classify: None,
            },
        );
    }
    if let Some(shard) = shard {
        tracing::info!(
            "shard {shard}: running {} of the pipeline file's {configured} input(s)",
            initial.len()
        );
    }
    Ok((initial, file_names))
}
