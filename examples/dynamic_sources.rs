//! The library's dynamic pipeline: sources join and leave while it runs, as `ovstream serve`
//! uses it. The first input plays from the start; the second joins once the first has 100
//! frames written and leaves 200 frames later, its MP4 finalized. The first loses no frame.
//!
//! ```sh
//! cargo run --release --example dynamic_sources -- samples/vtest.avi samples/carphone.mp4 out/dynamic
//! ```
//!
//! Writes `{name}.jsonl` and `{name}.mp4` (annotated H.264) per input into the output folder.
//! `make lint` compiles this file (clippy `--all-targets`); docs/gstreamer.md quotes it, and
//! `tools::rust_blocks_in_the_docs_are_compiled_examples` checks the quote is verbatim.

use gstovstream::config::PipelineConfig;
use gstovstream::detector::Detector;
use gstovstream::pipeline::{self, Pipeline, RunOptions, Secondary, SourceId};
use gstovstream::sink::sinks_from_config;
use gstovstream::source::Source;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [first, second, out] = args.as_slice() else {
        return Err("usage: dynamic_sources FIRST_INPUT SECOND_INPUT OUTPUT_DIR".into());
    };
    std::fs::create_dir_all(out)?;
    gstovstream::gst_init()?;

    // example: start
    let mut config = PipelineConfig::new("", "pedestrian-ssdlite");
    config.output.metadata = Some(format!("{out}/{{name}}.jsonl"));
    config.output.mp4 = Some(format!("{out}/{{name}}.mp4").into());
    let mut detector = Detector::from_config(&config, None)?;
    // Sources may come with an MP4 output: the overlay stage must run.
    let options = RunOptions {
        overlay: true,
        ..RunOptions::for_config(&config, false)
    };
    let opts = config.source.options();
    let stop = AtomicBool::new(false); // set it (e.g. on SIGINT) to end every source
    let summary = pipeline::run_dynamic(
        &mut detector.engine,
        &detector.adapter,
        Secondary::none(),
        &options,
        &stop,
        |p| {
            let a = p.add_source(
                Source::open(first, &opts)?,
                sinks_from_config(&config, "a")?,
            )?;
            wait_for_frames(p, a, 100);
            // … later, from this thread or any other (the handle is Sync):
            let b = p.add_source(
                Source::open(second, &opts)?,
                sinks_from_config(&config, "b")?,
            )?;
            wait_for_frames(p, a, 300);
            p.remove_source(b)?; // stops it, lets its queued frames through, finalizes its MP4
            Ok(()) // the run ends when the remaining sources end
        },
    )?;
    // example: end
    for s in &summary.sources {
        println!("{}: {} frames", s.name, s.frames);
    }
    Ok(())
}

/// Waits until source `id` has `n` frames written (or every source has ended).
fn wait_for_frames(p: &Pipeline<'_, '_>, id: SourceId, n: u64) {
    while p.frames_written(id) < n && !p.all_ended() {
        std::thread::sleep(Duration::from_millis(10));
    }
}
