//! Error types of the library, one enum; the binary maps each kind to an exit code.

use std::path::PathBuf;

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Process exit codes, documented in README.md.
pub mod exit_code {
    /// Everything was processed.
    pub const OK: i32 = 0;
    /// An unexpected internal failure (GStreamer/OpenVINO runtime error not tied to an input).
    pub const FAILURE: i32 = 1;
    /// Bad configuration: pipeline file, CLI value, missing library.
    pub const CONFIG: i32 = 2;
    /// Bad input: missing/undecodable file or unreachable URI.
    pub const INPUT: i32 = 3;
    /// Bad model: missing file, unreadable, outputs no adapter understands, compile failure.
    pub const MODEL: i32 = 4;
    /// An output could not be written.
    pub const OUTPUT: i32 = 5;
    /// Stopped by SIGINT/SIGTERM (outputs were finalized).
    pub const INTERRUPTED: i32 = 130;
}

/// Everything that can go wrong in ovstream. Each variant names the file, URI or key involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pipeline file or CLI setting is invalid.
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    /// The OpenVINO C library could not be found or loaded.
    #[error("OpenVINO library: {0}")]
    Library(String),
    /// An input (file/URI) is missing or cannot be decoded.
    #[error("input {}: {message}", crate::redact::redact(uri))]
    Input { uri: String, message: String },
    /// A model is missing, unreadable, unsupported or failed to compile.
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },
    /// An OpenVINO call failed at run time (not tied to loading a model).
    #[error("OpenVINO {context}: {source}")]
    OpenVino {
        context: String,
        #[source]
        source: openvino::InferenceError,
    },
    /// A GStreamer pipeline could not be built or failed while running.
    #[error("GStreamer {context}: {message}")]
    Gst { context: String, message: String },
    /// An output file could not be written.
    #[error("output {path}: {message}")]
    Output { path: PathBuf, message: String },
    /// The run was interrupted by a signal; outputs were finalized.
    #[error("interrupted by signal; outputs were finalized")]
    Interrupted,
}

impl Error {
    /// The process exit code for this error (see [`exit_code`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::Library(_) => exit_code::CONFIG,
            Error::Input { .. } => exit_code::INPUT,
            Error::Model { .. } => exit_code::MODEL,
            Error::Output { .. } => exit_code::OUTPUT,
            Error::Interrupted => exit_code::INTERRUPTED,
            Error::OpenVino { .. } | Error::Gst { .. } => exit_code::FAILURE,
        }
    }

    pub(crate) fn gst(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Gst {
            context: context.into(),
            message: err.to_string(),
        }
    }

    pub(crate) fn openvino(context: impl Into<String>, source: openvino::InferenceError) -> Self {
        Error::OpenVino {
            context: context.into(),
            source,
        }
    }
}
