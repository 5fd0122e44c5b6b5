//! Command-line settings merged onto a pipeline file before it is validated — once — by
//! [`PipelineConfig::load_with`]. `ovstream run`, `serve`, `bench`, `gallery` and the hot reload
//! all merge through here, so a flag means the same thing on every command and a file that
//! names no input is fine when `--input` gives one.
//!
//! The flags themselves (`Overrides`, `RunOverrides`, in `flags.rs`) derive `clap::Args`: the
//! binary flattens them into its subcommands, so each flag is declared once, beside the key it
//! overrides (feature `cli`).

use super::PipelineConfig;
use crate::error::Result;
use std::path::Path;

/// Something that changes a pipeline config before validation (a set of CLI flags).
pub trait Override {
    /// Writes its settings over `config`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the flag, for a combination the file cannot take (e.g.
    /// `--gallery` on a pipeline without `[recognize]`).
    fn apply(&self, config: &mut PipelineConfig) -> Result<()>;
}

/// Whether a pipeline must name an input once everything is merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    /// `run`, `bench`: at least one input (`[source] input`, `[[sources]]` or `--input`).
    Required,
    /// `serve`, `shards`: streams may all come over the API.
    Optional,
}

impl PipelineConfig {
    /// Reads the pipeline file at `path`, merges `overrides` onto it in order, and validates
    /// the result once (errors name `path`, or "command line" for a flag that cannot apply).
    ///
    /// # Errors
    /// [`Error::Config`]: unreadable file, bad TOML, unknown key, a value out of range after
    /// the merge, no input with [`Inputs::Required`], or an override's own error.
    pub fn load_with(path: &Path, overrides: &[&dyn Override], inputs: Inputs) -> Result<Self> {
        let mut config = Self::read(path)?;
        for o in overrides {
            o.apply(&mut config)?;
        }
        match inputs {
            Inputs::Required => config.validate(path)?,
            Inputs::Optional => config.validate_settings(path)?,
        }
        Ok(config)
    }
}

/// Parses `HEIGHTxWIDTH`.
///
/// # Errors
/// A message naming the value when it is not two integers around an `x`.
pub fn parse_size(s: &str) -> std::result::Result<[u32; 2], String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}`: expected HEIGHTxWIDTH, e.g. 300x300"))?;
    let num = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("`{s}`: {e}"));
    Ok([num(h)?, num(w)?])
}

/// Parses `KEY=VALUE`.
///
/// # Errors
/// A message naming the value when it has no `=` or an empty key.
pub fn parse_property(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_properties_parse() {
        assert_eq!(parse_size("300x400"), Ok([300, 400]));
        assert!(parse_size("300").is_err());
        assert_eq!(
            parse_property("A = b"),
            Ok(("A".to_string(), "b".to_string()))
        );
        assert!(parse_property("=b").is_err());
    }
}
