//! `ovstream gallery add|list`.

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
}

/// `gallery add` and `gallery list` on the pipeline's `[recognize]` gallery (or `--gallery`).
pub(crate) fn run(args: &GalleryArgs, lib: Option<&Path>) -> Result<i32> {
    use ovstream::face::enroll;
    let flags = Overrides {
        gallery: args.gallery.clone(),
        ..Overrides::default()
    };
    let config = PipelineConfig::load_with(&args.pipeline, &[&flags], Inputs::Optional)?;
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
    }
    Ok(exit_code::OK)
}
