//! `ovstream serve`: the service mode (streams over a REST API); see `ovstream::serve`.

use anyhow::Context;
use clap::Args;
use ovstream::config::{Inputs, PipelineConfig};
use ovstream::error::exit_code;
use ovstream::serve::{default_state_file, ServeOptions, DEFAULT_API};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The pipeline file — the defaults of every stream (model, detect, track, analytics,
    /// outputs with `{name}`, MQTT); its inputs, if any, are the first streams — and the flags
    /// merged onto it, as `ovstream run` takes them.
    #[command(flatten)]
    overrides: crate::Overrides,
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
    /// Run only the pipeline file's inputs of shard K of N (`K/N`, K from 0; rendezvous hashing
    /// of their names: `ovstream shards FILE --replicas N` prints the table). Overrides
    /// `[serve] shard`.
    #[arg(long, env = "OVSTREAM_SHARD", value_name = "K/N")]
    shard: Option<ovstream::shard::Shard>,
    /// Take K from this host's name, a StatefulSet pod's `name-K`, of `--shard-count` shards.
    #[arg(long, requires = "shard_count", conflicts_with = "shard")]
    shard_from_hostname: bool,
    /// N for `--shard-from-hostname`: the StatefulSet's replica count.
    #[arg(long, env = "OVSTREAM_SHARD_COUNT", value_name = "N")]
    shard_count: Option<u32>,
}

/// The shard this process runs: `--shard`, else the hostname's ordinal, else `[serve] shard`.
fn shard(
    args: &ServeArgs,
    config: &PipelineConfig,
) -> anyhow::Result<Option<ovstream::shard::Shard>> {
    let config_error = |message: String| ovstream::Error::Config {
        path: args.overrides.pipeline.clone(),
        message,
    };
    if let Some(shard) = args.shard {
        return Ok(Some(shard));
    }
    if args.shard_from_hostname {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .context("reading this host's name for --shard-from-hostname")?;
        let count = args.shard_count.unwrap_or(1);
        let shard = ovstream::shard::Shard::from_hostname(&hostname, count)
            .map_err(|m| config_error(format!("--shard-from-hostname: {m}")))?;
        return Ok(Some(shard));
    }
    Ok(config.serve.shard().map_err(config_error)?)
}

/// Largest token file read.
const MAX_TOKEN_BYTES: u64 = 4096;

/// The bearer token in `path` (surrounding whitespace trimmed).
///
/// # Errors
/// [`ovstream::Error::Config`] naming the file when it cannot be read, is larger than
/// [`MAX_TOKEN_BYTES`], holds only whitespace, or holds more than one line or anything but
/// printable ASCII (exit code 2, as any bad setting).
fn read_token(path: &Path) -> Result<String, ovstream::Error> {
    let bad = |message: String| ovstream::Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let text = ovstream::config::read_capped(path, MAX_TOKEN_BYTES)
        .map_err(|e| bad(format!("cannot read the --api-token-file: {e}")))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(bad("the token file is empty".into()));
    }
    // It is compared with an `Authorization: Bearer …` header: anything else could never match
    // (every request would get 401).
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "the token must be one line of printable ASCII without spaces (it is sent as an \
             HTTP header)"
                .into(),
        ));
    }
    Ok(token.to_string())
}

pub(crate) fn run(args: &ServeArgs, lib: Option<&Path>) -> anyhow::Result<i32> {
    let o = &args.overrides;
    let config = PipelineConfig::load_with(&o.pipeline, &[&o.flags], Inputs::Optional)?;
    let token = args.api_token_file.as_deref().map(read_token).transpose()?;
    let shard = shard(args, &config)?;
    let options = ServeOptions {
        api: args.api.clone(),
        token,
        state_file: args.state.clone().unwrap_or_else(default_state_file),
        insecure: args.insecure,
        shard,
    };
    let stop = crate::install_signal_handler()?.stop;
    let summary = ovstream::serve::run(&config, &options, lib, &stop)?;
    eprintln!("{summary}");
    Ok(exit_code::OK)
}
