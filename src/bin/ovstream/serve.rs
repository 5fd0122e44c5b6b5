//! `ovstream serve`: the service mode (streams over a REST API); see `ovstream::serve`.

use anyhow::Context;
use clap::Args;
use ovstream::config::PipelineConfig;
use ovstream::error::exit_code;
use ovstream::serve::{default_state_file, ServeOptions, DEFAULT_API};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Pipeline file: the defaults of every stream (model, detect, track, analytics, outputs
    /// with `{name}`, MQTT); its inputs, if any, are the first streams.
    #[arg(default_value = crate::DEFAULT_PIPELINE)]
    pipeline: PathBuf,
    /// Address of the API (HOST:PORT).
    #[arg(long, default_value = DEFAULT_API)]
    api: String,
    /// File holding the bearer token every /api request must carry.
    #[arg(long)]
    api_token_file: Option<PathBuf>,
    /// Where streams added over the API are kept (default
    /// $XDG_STATE_HOME/ovstream/streams.json).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Allow a non-loopback --api without a token.
    #[arg(long)]
    insecure: bool,
}

pub(crate) fn run(args: &ServeArgs, lib: Option<&Path>) -> anyhow::Result<i32> {
    let config = PipelineConfig::load_for_service(&args.pipeline)?;
    let token = match &args.api_token_file {
        Some(path) => {
            let text = ovstream::config::read_capped(path, 4096)
                .with_context(|| format!("reading the token file {}", path.display()))?;
            let token = text.trim().to_string();
            anyhow::ensure!(
                !token.is_empty(),
                ovstream::Error::Config {
                    path: path.clone(),
                    message: "the token file is empty".into(),
                }
            );
            Some(token)
        }
        None => None,
    };
    let options = ServeOptions {
        api: args.api.clone(),
        token,
        state_file: args.state.clone().unwrap_or_else(default_state_file),
        insecure: args.insecure,
    };
    let stop = crate::install_signal_handler()?;
    let summary = ovstream::serve::run(&config, &options, lib, &stop)?;
    eprintln!("{summary}");
    Ok(exit_code::OK)
}
