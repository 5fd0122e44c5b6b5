//! RTSP output: serves the annotated stream at `rtsp://HOST:PORT/PATH` (gstreamer-rtsp-server).
//!
//! One shared media per mount: every client watches the same encode
//! (`appsrc ! videoconvert ! I420 ! x264enc tune=zerolatency ! rtph264pay`). The media is built
//! when the first client connects and torn down after the last leaves, so nothing is encoded
//! while nobody watches. The appsrc is leaky and never blocks: a slow client costs frames on
//! the wire, not latency in the pipeline. The server runs its own GLib main loop thread.

use crate::error::{Error, Result};
use crate::frame::Frame;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;

/// Port when the URL names none (the usual RTSP-server port, as in gst-rtsp-server's examples).
pub const DEFAULT_RTSP_PORT: u16 = 8554;
/// Frames an appsrc queues for its encoder before it drops the oldest.
const APPSRC_MAX_BUFFERS: u64 = 2;
/// Media pipeline served to clients; `src` is fed by [`RtspSink::push`].
const MEDIA_LAUNCH: &str = "( appsrc name=src is-live=true format=time do-timestamp=true \
    block=false leaky-type=downstream max-buffers={max} ! videoconvert ! videoscale ! \
    capsfilter name=size caps=video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast \
    key-int-max={gop} ! rtph264pay name=pay0 pt=96 config-interval=1 )";
/// Key frame interval (frames): a client joining mid-stream waits at most this long.
const KEY_INT_MAX: u32 = 30;

/// The appsrcs of the media now being served, and the caps they need.
#[derive(Default)]
struct Feed {
    /// Caps of the frames now (they follow a mid-stream size change).
    caps: Option<gst::Caps>,
    /// What clients get: I420 at the first frame's size (later sizes are scaled to it).
    output: Option<gst::Caps>,
    appsrcs: Vec<gst_app::AppSrc>,
}

/// The RTSP server and the GLib main loop thread it runs on; stopped when the last mount
/// sharing it finishes.
struct Server {
    server: rtsp::RTSPServer,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    listening: Mutex<Option<glib::SourceId>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(id) = self.listening.lock().take() {
            if let Some(source) = self.context.find_source_by_id(&id) {
                source.destroy();
            }
            let server = self.server.clone();
            self.context.invoke(move || {
                server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            });
        }
        self.main_loop.quit();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// One mount of an RTSP server: serves the annotated frames of one source.
pub struct RtspSink {
    url: String,
    server: Option<Arc<Server>>,
    feed: Arc<Mutex<Feed>>,
    /// Size and format of the frames last pushed.
    shape: Option<(u32, u32, gstreamer_video::VideoFormat)>,
}

/// `rtsp://HOST[:PORT]/PATH` split into its parts.
fn parse_url(url: &str) -> std::result::Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("rtsp://")
        .ok_or("expected rtsp://HOST:PORT/PATH")?;
    let (authority, path) = rest
        .split_once('/')
        .ok_or("no mount path (rtsp://HOST:PORT/PATH)")?;
    if path.is_empty() {
        return Err("empty mount path".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("bad port `{p}`"))?),
        None => (authority, DEFAULT_RTSP_PORT),
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok((host.to_string(), port, format!("/{path}")))
}

/// The `appsrc` named `src` of a media's pipeline (what a mount feeds).
pub(crate) fn media_appsrc(media: &rtsp::RTSPMedia) -> Option<gst_app::AppSrc> {
    media
        .element()
        .downcast::<gst::Bin>()
        .ok()
        .and_then(|bin| bin.by_name_recurse_up("src"))
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
}

/// The media factory of one mount; its configured appsrcs land in `feed`.
fn factory(feed: &Arc<Mutex<Feed>>) -> rtsp::RTSPMediaFactory {
    let factory = rtsp::RTSPMediaFactory::new();
    factory.set_launch(
        &MEDIA_LAUNCH
            .replace("{max}", &APPSRC_MAX_BUFFERS.to_string())
            .replace("{gop}", &KEY_INT_MAX.to_string()),
    );
    factory.set_shared(true);
    let on_configure = Arc::clone(feed);
    factory.connect_media_configure(move |_, media| {
        let appsrc = media_appsrc(media);
        let size = media
            .element()
            .downcast::<gst::Bin>()
            .ok()
            .and_then(|bin| bin.by_name_recurse_up("size"));
        if let Some(appsrc) = appsrc {
            let mut feed = on_configure.lock();
            appsrc.set_caps(feed.caps.as_ref());
            if let (Some(size), Some(output)) = (size, feed.output.as_ref()) {
                size.set_property("caps", output);
            }
            feed.appsrcs.push(appsrc);
            tracing::info!("rtsp: a client started a media");
        }
    });
    factory
}

impl RtspSink {
    /// Starts listening on the URL's host and port and mounts its path.
    ///
    /// # Errors
    /// [`Error::Output`] naming the URL when it is malformed or the address cannot be bound.
    pub fn serve(url: &str) -> Result<Self> {
        let mut sinks = Self::serve_all(&[url.to_string()])?;
        Ok(sinks.pop().expect("one URL, one mount"))
    }

    /// One server for several mounts (one per source): every URL must name the same host and
    /// port and a different path.
    ///
    /// # Errors
    /// [`Error::Output`] naming the URL that is malformed, on another address, mounted twice,
    /// or whose address cannot be bound.
    pub fn serve_all(urls: &[String]) -> Result<Vec<Self>> {
        crate::gst_init()?;
        let first = urls.first().map_or("", String::as_str);
        let error = |url: &str, message: String| Error::Output {
            path: PathBuf::from(url),
            message,
        };
        let (host, port, _) = parse_url(first).map_err(|m| error(first, m))?;
        let server = rtsp::RTSPServer::new();
        server.set_address(&host);
        server.set_service(&port.to_string());
        let mounts = server
            .mount_points()
            .ok_or_else(|| error(first, "no mount points".into()))?;
        let mut paths = std::collections::HashSet::new();
        let mut feeds = Vec::with_capacity(urls.len());
        for url in urls {
            let (h, p, path) = parse_url(url).map_err(|m| error(url, m))?;
            if h != host || p != port {
                return Err(error(
                    url,
                    format!("every RTSP output must use one server ({host}:{port})"),
                ));
            }
            if !paths.insert(path.clone()) {
                return Err(error(url, format!("mount {path} is used twice")));
            }
            let feed = Arc::new(Mutex::new(Feed::default()));
            mounts.add_factory(&path, factory(&feed));
            feeds.push(feed);
        }
        let context = glib::MainContext::new();
        let listening = server
            .attach(Some(&context))
            .map_err(|e| error(first, format!("cannot listen on {host}:{port}: {e}")))?;
        // Port 0 asks the system for one: show the one really bound.
        let bound = server.bound_port();
        let urls: Vec<String> = if port == 0 && bound > 0 {
            urls.iter()
                .map(|u| u.replacen(&format!(":{port}/"), &format!(":{bound}/"), 1))
                .collect()
        } else {
            urls.to_vec()
        };
        super::warn_if_unauthenticated("--rtsp-out", &host);
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let (ml, ctx) = (main_loop.clone(), context.clone());
        let thread = std::thread::Builder::new()
            .name("rtsp-server".into())
            .spawn(move || {
                let _ = ctx.with_thread_default(|| ml.run());
            })
            .map_err(|e| error(first, e.to_string()))?;
        let server = Arc::new(Server {
            server,
            context,
            main_loop,
            listening: Mutex::new(Some(listening)),
            thread: Mutex::new(Some(thread)),
        });
        Ok(urls
            .iter()
            .zip(feeds)
            .map(|(url, feed)| {
                tracing::info!(url, "serving RTSP");
                eprintln!("serving the annotated stream at {url}");
                RtspSink {
                    url: url.clone(),
                    server: Some(Arc::clone(&server)),
                    feed,
                    shape: None,
                }
            })
            .collect())
    }

    /// Hands one frame to every media being served (none while nobody watches). Never blocks;
    /// the pixels are shared, not copied.
    pub fn push(&mut self, frame: &Frame) -> Result<()> {
        let mut feed = self.feed.lock();
        let shape = (frame.info.width(), frame.info.height(), frame.info.format());
        if self.shape != Some(shape) {
            let caps = frame.info.to_caps().map_err(|e| Error::Output {
                path: PathBuf::from(&self.url),
                message: e.to_string(),
            })?;
            for a in &feed.appsrcs {
                a.set_caps(Some(&caps));
            }
            if feed.output.is_none() {
                feed.output = Some(
                    gstreamer_video::VideoCapsBuilder::new()
                        .format(gstreamer_video::VideoFormat::I420)
                        .width(frame.info.width() as i32)
                        .height(frame.info.height() as i32)
                        .build(),
                );
            }
            feed.caps = Some(caps);
            self.shape = Some(shape);
        }
        if feed.appsrcs.is_empty() {
            return Ok(());
        }
        // A new buffer sharing the frame's memory: appsrc timestamps it on the media's clock.
        let mut buffer = frame.buffer.copy();
        {
            let b = buffer.make_mut();
            b.set_pts(gst::ClockTime::NONE);
            b.set_dts(gst::ClockTime::NONE);
        }
        // A media whose clients all left is flushing or ended: forget its appsrc.
        feed.appsrcs
            .retain(|a| a.push_buffer(buffer.clone()).is_ok());
        Ok(())
    }

    /// Ends the stream for this mount's clients; the server stops with its last mount.
    pub fn finish(&mut self) -> Result<()> {
        for a in self.feed.lock().appsrcs.drain(..) {
            let _ = a.end_of_stream();
        }
        self.server = None;
        Ok(())
    }
}

/// A mount of the RTSP server: the annotated frames to every client watching.
impl crate::sink::Output for RtspSink {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn needs_pixels(&self) -> bool {
        true
    }

    fn write(&mut self, frame: &mut crate::frame::AnalyzedFrame, _source: &str) -> Result<()> {
        self.push(&frame.frame)
    }

    fn finish(&mut self) -> Result<()> {
        RtspSink::finish(self)
    }
}

impl Drop for RtspSink {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_checked() {
        assert_eq!(
            parse_url("rtsp://127.0.0.1:8600/ov").unwrap(),
            ("127.0.0.1".into(), 8600, "/ov".into())
        );
        assert_eq!(
            parse_url("rtsp://0.0.0.0/cams/door").unwrap(),
            ("0.0.0.0".into(), DEFAULT_RTSP_PORT, "/cams/door".into())
        );
        assert!(parse_url("http://x/y").is_err());
        assert!(parse_url("rtsp://host:port/y").is_err());
        assert!(parse_url("rtsp://host:8554/").is_err());
        assert!(parse_url("rtsp://host:8554").is_err());
    }
}
