//! `ovstream shards FILE --replicas N`: which replica runs which of the file's inputs (the
//! table `ovstream serve --shard K/N` follows; see `ovstream::shard`).

use clap::Args;
use ovstream::config::PipelineConfig;
use ovstream::error::exit_code;
use ovstream::shard::{owner, Shard};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct ShardsArgs {
    /// Pipeline file whose `[[sources]]` are the camera list.
    pipeline: PathBuf,
    /// Number of replicas (shards).
    #[arg(long)]
    replicas: u32,
}

/// Prints `name  shard  input` per input (credentials redacted) and the count per shard. A
/// closed stdout (`| head`) ends the listing quietly.
pub(crate) fn run(args: &ShardsArgs) -> anyhow::Result<i32> {
    let config = PipelineConfig::load_for_service(&args.pipeline)?;
    Shard::new(0, args.replicas).map_err(|message| ovstream::Error::Config {
        path: args.pipeline.clone(),
        message: format!("--replicas: {message}"),
    })?;
    let streams: Vec<_> = config
        .streams()
        .map_err(|message| ovstream::Error::Config {
            path: args.pipeline.clone(),
            message,
        })?
        .into_iter()
        .filter(|s| !s.input.is_empty())
        .collect();
    if streams.is_empty() {
        println!(
            "{}: no inputs ([source] input or [[sources]]): nothing to shard; streams added \
             over the API are not sharded by this file",
            args.pipeline.display()
        );
        return Ok(exit_code::OK);
    }
    let mut text = format!("{:<24} {:>5}  input\n", "name", "shard");
    let mut counts = vec![0usize; args.replicas as usize];
    for s in &streams {
        let name = s.name.as_deref().unwrap_or_default();
        let k = owner(name, args.replicas);
        counts[k as usize] += 1;
        text += &format!(
            "{name:<24} {k:>5}  {}\n",
            ovstream::redact::redact(&s.input)
        );
    }
    let per_shard: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(k, n)| format!("{k}/{}: {n}", args.replicas))
        .collect();
    text += &format!(
        "{} input(s); per shard {}\n",
        streams.len(),
        per_shard.join(", ")
    );
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(exit_code::OK)
}
