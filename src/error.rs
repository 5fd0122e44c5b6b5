//! Error types of the library, one enum; the binary maps each kind to an exit code.

use std::path::PathBuf;

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Process exit codes, documented in docs/troubleshooting.md.
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
    /// A pipeline file is unreadable or invalid; `path` is the file.
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    /// A setting that does not come from a file is invalid: a flag (`--api`), a table applied
    /// at run time (`analytics`, `[output.mqtt]`), a stream (`serve`); `key` names it.
    #[error("config {key}: {message}")]
    Setting { key: String, message: String },
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
    /// An OpenCV call failed (drawing, warps, resizes).
    #[error("OpenCV {context}: {source}")]
    OpenCv {
        context: String,
        #[source]
        source: opencv::Error,
    },
    /// A frame or tensor has not the size, format or alignment a stage needs (a frame smaller
    /// than its caps, a pixel format a stage does not draw on, a batch larger than the model's).
    #[error("{context}: {message}")]
    Layout { context: String, message: String },
    /// The service's HTTP runtime (tokio) could not start or serve.
    #[error("HTTP server {context}: {source}")]
    Http {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// An output file could not be written.
    #[error("output {path}: {message}")]
    Output { path: PathBuf, message: String },
    /// An endpoint could not listen on its address (`--api`, `--metrics`).
    #[error("output {what} {addr}: {source}")]
    Listen {
        what: &'static str,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The run was interrupted by a signal; outputs were finalized.
    #[error("interrupted by signal; outputs were finalized")]
    Interrupted,
}

impl Error {
    /// The process exit code for this error (see [`exit_code`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::Setting { .. } | Error::Library(_) => exit_code::CONFIG,
            Error::Input { .. } => exit_code::INPUT,
            Error::Model { .. } => exit_code::MODEL,
            // The port is taken or not ours to bind: the machine's state. Anything else (a
            // port over 65535, a host that does not resolve) is the address as written.
            Error::Listen { source, .. }
                if !matches!(
                    source.kind(),
                    std::io::ErrorKind::AddrInUse | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                exit_code::CONFIG
            }
            Error::Output { .. } | Error::Listen { .. } => exit_code::OUTPUT,
            Error::Interrupted => exit_code::INTERRUPTED,
            Error::OpenVino { .. }
            | Error::Gst { .. }
            | Error::OpenCv { .. }
            | Error::Layout { .. }
            | Error::Http { .. } => exit_code::FAILURE,
        }
    }

    pub(crate) fn gst(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Gst {
            context: context.into(),
            message: err.to_string(),
        }
    }

    pub(crate) fn opencv(context: impl Into<String>, source: opencv::Error) -> Self {
        Error::OpenCv {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn layout(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Layout {
            context: context.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn openvino(context: impl Into<String>, source: openvino::InferenceError) -> Self {
        Error::OpenVino {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each cause says what it is: only GStreamer failures say "GStreamer".
    #[test]
    fn messages_name_their_cause() {
        let cv = opencv::Error::new(opencv::core::StsError, "bad size");
        let io = std::io::Error::other("no threads");
        let not_gst = [
            Error::opencv("overlay", cv),
            Error::layout("preprocess", "frame buffer too small"),
            Error::Http {
                context: "runtime".into(),
                source: io,
            },
            Error::Setting {
                key: "--api".into(),
                message: "taken".into(),
            },
        ];
        for e in &not_gst {
            assert!(!e.to_string().contains("GStreamer"), "{e}");
            assert_ne!(e.exit_code(), exit_code::OK);
        }
        assert!(not_gst[0].to_string().starts_with("OpenCV overlay"));
        assert!(std::error::Error::source(&not_gst[0]).is_some());
        assert!(std::error::Error::source(&not_gst[2]).is_some());
        assert_eq!(not_gst[3].exit_code(), exit_code::CONFIG);
        assert!(Error::gst("source", "x")
            .to_string()
            .starts_with("GStreamer"));
    }
}
