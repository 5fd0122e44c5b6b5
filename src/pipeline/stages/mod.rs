//! The pipeline's stages, one file each: each is its per-frame work ([`super::stage::Stage`]);
//! the loop, channels and stats are [`super::stage::run`]'s. The work itself lives in the
//! library modules the GStreamer elements use too ([`crate::inference`], [`crate::track`],
//! [`crate::face`], [`crate::overlay`], [`crate::sink`]).

pub mod analytics;
pub mod classify;
pub mod events;
pub mod identify;
pub mod infer;
pub mod overlay;
pub mod postprocess;
pub mod preprocess;
pub mod sink;
