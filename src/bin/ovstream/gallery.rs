//! `ovstream gallery add|list|recognize|unknown`.

use anyhow::Result;
use clap::{Args, Subcommand};
use ovstream::config::{Inputs, Overrides, PipelineConfig};
use ovstream::error::{exit_code, Error};
use std::path::{Path, PathBuf};

const FACES_PIPELINE: &str = "pipelines/faces.toml";

#[derive(Args)]
pub(crate) struct GalleryArgs {
    /// Pipeline file whose [model] finds faces and whose [recognize] names the gallery.
    #[arg(long, default_value = FACES_PIPELINE, global = true)]
    pipeline: PathBuf,
    /// Gallery folder (overrides [recognize] gallery).
    #[arg(long, global = true)]
    gallery: Option<PathBuf>,
    /// The state file of the `ovstream serve` whose remembered unknown people to use: they
    /// are kept in `unknown/` beside it (default $XDG_STATE_HOME/ovstream/streams.json).
    #[arg(long, global = true)]
    state: Option<PathBuf>,
    #[command(subcommand)]
    action: GalleryAction,
}

#[derive(Subcommand)]
enum GalleryAction {
    /// Enroll NAME from images (each must show exactly one face) or from one video frame.
    Add {
        name: String,
        images: Vec<PathBuf>,
        /// Enroll from this video's frame `--frame` instead of images.
        #[arg(long, requires = "frame", conflicts_with = "images")]
        video: Option<PathBuf>,
        #[arg(long)]
        frame: Option<u64>,
    },
    /// List the people in the gallery and their images.
    List,
    /// Every face in each IMAGE: box, name or `unknown`, similarity and the remembered
    /// unknown person it matches (one JSON line per image).
    Recognize {
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Remembered unknown people: list them, name one (its samples join the gallery), or
    /// forget one.
    Unknown {
        #[command(subcommand)]
        action: UnknownAction,
    },
}

#[derive(Subcommand)]
enum UnknownAction {
    /// One line per remembered person: id, appearances, cameras, first and last seen.
    List,
    /// Its samples join the gallery as NAME (a new person or an existing one).
    Name { unknown_id: u64, name: String },
    /// Forget it (its samples are deleted).
    Forget { unknown_id: u64 },
}

/// `unknown/` beside the state file.
fn unknown_dir(state: Option<&Path>) -> PathBuf {
    let state = state.map_or_else(ovstream::serve::default_state_file, Path::to_path_buf);
    state
        .parent()
        .unwrap_or(Path::new("."))
        .join(ovstream::serve::UNKNOWN_DIR)
}

fn time(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `gallery recognize` and `gallery unknown …`.
fn library_action(
    config: &PipelineConfig,
    lib: Option<&Path>,
    state: Option<&Path>,
    action: &GalleryAction,
) -> Result<i32> {
    use ovstream::face::unknown::{UnknownStore, DEFAULT_MAX_UNKNOWN};
    let dir = unknown_dir(state);
    match action {
        GalleryAction::Unknown {
            action: UnknownAction::List,
        } => {
            let max = config
                .recognize
                .as_ref()
                .map_or(DEFAULT_MAX_UNKNOWN, |r| r.max_unknown);
            for u in UnknownStore::open(Some(&dir), max)?.list() {
                let cameras: Vec<&str> = u.cameras.iter().map(String::as_str).collect();
                println!(
                    "unknown #{:<6} seen {:>4} time(s)  {} .. {}  cameras {}  samples {}",
                    u.unknown_id,
                    u.count,
                    time(u.first_seen),
                    time(u.last_seen),
                    cameras.join(","),
                    u.samples.len()
                );
            }
        }
        GalleryAction::Unknown {
            action: UnknownAction::Forget { unknown_id },
        } => {
            let max = config
                .recognize
                .as_ref()
                .map_or(DEFAULT_MAX_UNKNOWN, |r| r.max_unknown);
            if !UnknownStore::open(Some(&dir), max)?.forget(*unknown_id) {
                anyhow::bail!(
                    "no remembered unknown person {unknown_id} in {}",
                    dir.display()
                );
            }
            println!("unknown #{unknown_id}: forgotten");
        }
        GalleryAction::Unknown {
            action: UnknownAction::Name { unknown_id, name },
        } => {
            let (_detector, library) = ovstream::face::open_library(config, lib, &dir)?;
            let added = library.name_unknown(*unknown_id, name)?;
            println!(
                "unknown #{unknown_id}: named {name} ({} sample(s))",
                added.len()
            );
        }
        GalleryAction::Recognize { images } => {
            let (_detector, library) = ovstream::face::open_library(config, lib, &dir)?;
            for image in images {
                let bytes = std::fs::read(image).map_err(|e| Error::Input {
                    uri: image.display().to_string(),
                    message: e.to_string(),
                })?;
                let faces = library.recognize(&bytes).map_err(|e| Error::Input {
                    uri: image.display().to_string(),
                    message: e.to_string(),
                })?;
                let line = serde_json::json!({ "image": image, "faces": faces });
                println!("{line}");
            }
        }
        _ => unreachable!("only library actions come here"),
    }
    Ok(exit_code::OK)
}

/// `gallery add` and `gallery list` on the pipeline's `[recognize]` gallery (or `--gallery`).
pub(crate) fn run(args: &GalleryArgs, lib: Option<&Path>) -> Result<i32> {
    use ovstream::face::enroll;
    let flags = Overrides {
        gallery: args.gallery.clone(),
        ..Overrides::default()
    };
    let config = PipelineConfig::load_with(&args.pipeline, &[&flags], Inputs::Optional)?;
    if matches!(
        args.action,
        GalleryAction::Recognize { .. } | GalleryAction::Unknown { .. }
    ) {
        return library_action(&config, lib, args.state.as_deref(), &args.action);
    }
    match &args.action {
        GalleryAction::Add {
            name,
            images: _,
            video: Some(video),
            frame,
        } => {
            let path = enroll::add_video_frame(&config, lib, name, video, frame.unwrap_or(0))?;
            println!("{name}: enrolled {}", path.display());
        }
        GalleryAction::Add { name, images, .. } => {
            if images.is_empty() {
                anyhow::bail!("give IMAGE files, or --video FILE --frame N");
            }
            let done = enroll::add_images(&config, lib, name, images)?;
            for p in &done.added {
                println!("{name}: enrolled {}", p.display());
            }
            for (p, why) in &done.refused {
                eprintln!("{name}: refused {}: {why}", p.display());
            }
            if done.added.is_empty() {
                return Err(Error::Input {
                    uri: images[0].display().to_string(),
                    message: "no image enrolled".into(),
                }
                .into());
            }
        }
        GalleryAction::List => {
            for (name, images) in enroll::list(&config)? {
                println!("{name:<20} {} image(s)", images.len());
                for i in images {
                    println!("    {}", i.display());
                }
            }
        }
        GalleryAction::Recognize { .. } | GalleryAction::Unknown { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(exit_code::OK)
}
