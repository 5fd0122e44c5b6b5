//! The integration tests, one module per area, in one test binary: `tests/common` would
//! otherwise be compiled, and the library linked, once per file (33 times). Run one area with
//! `cargo nextest run --release -E 'test(/^rtsp::/)'`.

#![allow(
    clippy::too_many_lines,
    reason = "a test reads as one scenario, start to end: its setup, the run and every check"
)]

mod common;

mod analytics;
mod bad_input;
mod camera;
mod classify;
mod coco;
mod console;
mod detection;
mod dynamic_sources;
mod events;
mod face_library;
mod faces;
mod hardening;
mod home_assistant;
mod image;
mod kubernetes;
mod live;
mod live_view;
mod metrics;
mod motion;
mod multi_source;
mod ovdetect_order;
mod plugin;
mod realtime;
mod record;
mod record_input;
mod robustness;
mod rtsp;
mod serve;
mod serve_hardening;
mod shard;
mod tools;
mod yolo;
