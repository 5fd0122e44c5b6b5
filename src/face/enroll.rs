//! `ovstream gallery …`: enroll faces from images or a video frame, list the gallery.

use super::gallery::{embed_image, list_images, single_face, FaceFinder, Gallery};
use super::{embed::Embedder, embedder_from_config};
use crate::config::PipelineConfig;
use crate::detector::Detector;
use crate::error::{Error, Result};
use crate::frame::Frame;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};

/// What an enrollment did.
#[derive(Debug)]
pub struct Enrolled {
    /// Images now in `<gallery>/<name>/`.
    pub added: Vec<PathBuf>,
    /// Images refused, with the reason (no face, several faces, undecodable).
    pub refused: Vec<(PathBuf, String)>,
}

fn gallery_dir(config: &PipelineConfig) -> Result<PathBuf> {
    config
        .recognize
        .as_ref()
        .map(|r| r.gallery.clone())
        .ok_or_else(|| Error::Setting {
            key: "pipeline".into(),
            message: "no [recognize] table: give --gallery DIR".into(),
        })
}

fn person_dir(config: &PipelineConfig, name: &str) -> Result<PathBuf> {
    if !super::gallery::usable_person_name(name) {
        return Err(Error::Setting {
            key: "gallery".into(),
            message: format!("`{name}` is not a usable person name (a folder name)"),
        });
    }
    let dir = gallery_dir(config)?.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::Output {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    Ok(dir)
}

/// `<stem>-<hash>.<ext>` and `<hash>`: the first 12 hex digits of the sha256 of `bytes`.
fn content_name(image: &Path, bytes: &[u8]) -> (String, String) {
    use sha2::{Digest, Sha256};
    let hash = format!("{:x}", Sha256::digest(bytes));
    let stem = image
        .file_stem()
        .map_or("image".into(), |s| s.to_string_lossy());
    let ext = image
        .extension()
        .map_or("jpg".into(), |e| e.to_string_lossy().to_ascii_lowercase());
    let hash = hash[..12].to_string();
    (format!("{stem}-{hash}.{ext}"), hash)
}

/// Writes `bytes` to a new file `dest` (fails rather than replace an existing one).
fn write_new(dest: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let err = |e: std::io::Error| Error::Output {
        path: dest.to_path_buf(),
        message: e.to_string(),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)
}

struct Models {
    detector: Detector,
    embedder: Embedder,
}

impl Models {
    fn load(config: &PipelineConfig, openvino_lib: Option<&Path>) -> Result<Models> {
        Ok(Models {
            detector: Detector::from_config(config, openvino_lib)?,
            embedder: embedder_from_config(config, openvino_lib)?,
        })
    }

    /// Loads the gallery, embedding (and caching) what is new.
    fn refresh(&mut self, config: &PipelineConfig) -> Result<Gallery> {
        let mut finder = FaceFinder::new(&mut self.detector)?;
        Gallery::load(&gallery_dir(config)?, &mut finder, &mut self.embedder)
    }
}

/// Copies each image that shows exactly one face into `<gallery>/<name>/` and embeds it.
///
/// # Errors
/// Config, model or file errors (a refused image is not an error: see [`Enrolled::refused`]).
pub fn add_images(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
    name: &str,
    images: &[PathBuf],
) -> Result<Enrolled> {
    let dir = person_dir(config, name)?;
    let mut models = Models::load(config, openvino_lib)?;
    let mut enrolled = Enrolled {
        added: Vec::new(),
        refused: Vec::new(),
    };
    for image in images {
        let mut finder = FaceFinder::new(&mut models.detector)?;
        if let Err(why) = embed_image(image, &mut finder, &mut models.embedder)? {
            enrolled.refused.push((image.clone(), why));
            continue;
        }
        // Named by content: two photos with one file name both stay, and an image that is
        // already enrolled (the same bytes, or the gallery's own file) is not copied again.
        let bytes = std::fs::read(image).map_err(|e| Error::Input {
            uri: image.display().to_string(),
            message: e.to_string(),
        })?;
        let (dest_name, hash) = content_name(image, &bytes);
        let already = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().contains(&hash));
        let dest = match already {
            Some(e) => e.path(),
            None => {
                let dest = dir.join(dest_name);
                write_new(&dest, &bytes)?;
                dest
            }
        };
        enrolled.added.push(dest);
    }
    models.refresh(config)?;
    Ok(enrolled)
}

/// Enrolls the single face in frame `n` of `video`: the frame is saved as
/// `<gallery>/<name>/<video stem>-<n>.jpg` and embedded.
///
/// # Errors
/// [`Error::Input`] when the frame does not exist or shows no face or several.
pub fn add_video_frame(
    config: &PipelineConfig,
    openvino_lib: Option<&Path>,
    name: &str,
    video: &Path,
    n: u64,
) -> Result<PathBuf> {
    let frame = crate::source::frame_at(&video.display().to_string(), n)?;
    let mut models = Models::load(config, openvino_lib)?;
    let faces = FaceFinder::new(&mut models.detector)?.find(&frame)?;
    single_face(faces).map_err(|why| Error::Input {
        uri: video.display().to_string(),
        message: format!("frame {n}: {why}"),
    })?;
    let stem = video
        .file_stem()
        .map_or("video".into(), |s| s.to_string_lossy());
    let dir = person_dir(config, name)?;
    let mut dest = dir.join(format!("{stem}-{n}.jpg"));
    let mut k = 2;
    while dest.exists() {
        // Never overwrite: the same name from another video gets a suffix.
        dest = dir.join(format!("{stem}-{n}-{k}.jpg"));
        k += 1;
    }
    write_jpeg(&frame, &dest)?;
    models.refresh(config)?;
    Ok(dest)
}

/// `(name, images)` per person in the gallery folder.
///
/// # Errors
/// [`Error::Config`] for an unreadable gallery folder.
pub fn list(config: &PipelineConfig) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let mut people: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for (name, image) in list_images(&gallery_dir(config)?)? {
        match people.last_mut() {
            Some((n, images)) if *n == name => images.push(image),
            _ => people.push((name, vec![image])),
        }
    }
    Ok(people)
}

/// Encodes one I420 frame as JPEG (`appsrc ! jpegenc ! filesink`).
fn write_jpeg(frame: &Frame, path: &Path) -> Result<()> {
    let err = |m: String| Error::Output {
        path: path.to_path_buf(),
        message: m,
    };
    let pipeline =
        gst::parse::launch("appsrc name=src ! videoconvert ! jpegenc ! filesink name=file")
            .map_err(|e| err(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| err("not a pipeline".into()))?;
    let file = pipeline
        .by_name("file")
        .ok_or_else(|| err("no filesink".into()))?;
    file.set_property("location", path.to_string_lossy().as_ref());
    let appsrc = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| err("no appsrc".into()))?;
    appsrc.set_caps(Some(&frame.info.to_caps().map_err(|e| err(e.to_string()))?));
    appsrc.set_format(gst::Format::Time);
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| err(e.to_string()))?;
    let mut buffer = frame.buffer.copy();
    buffer.make_mut().set_pts(gst::ClockTime::ZERO);
    appsrc
        .push_buffer(buffer)
        .map_err(|e| err(format!("{e:?}")))?;
    let _ = appsrc.end_of_stream();
    let bus = pipeline.bus().expect("pipeline has a bus");
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(10),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let _ = pipeline.set_state(gst::State::Null);
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(e)) => Err(err(e.error().to_string())),
        _ => Err(err("JPEG not written in 10 s".into())),
    }
}
