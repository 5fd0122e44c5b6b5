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
    block=false leaky-type=downstream max-buffers={max} ! videoconvert ! \
    video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast \
    key-int-max={gop} ! rtph264pay name=pay0 pt=96 config-interval=1 )";
/// Key frame interval (frames): a client joining mid-stream waits at most this long.
const KEY_INT_MAX: u32 = 30;

/// The appsrcs of the media now being served, and the caps they need.
#[derive(Default)]
struct Feed {
    caps: Option<gst::Caps>,
    appsrcs: Vec<gst_app::AppSrc>,
}

/// An RTSP server with one mount that serves the annotated frames.
pub struct RtspSink {
    url: String,
    server: rtsp::RTSPServer,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    listening: Option<glib::SourceId>,
    thread: Option<std::thread::JoinHandle<()>>,
    feed: Arc<Mutex<Feed>>,
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

impl RtspSink {
    /// Starts listening on the URL's host and port and mounts its path.
    ///
    /// # Errors
    /// [`Error::Output`] naming the URL when it is malformed or the address cannot be bound.
    pub fn serve(url: &str) -> Result<Self> {
        crate::gst_init()?;
        let error = |message: String| Error::Output {
            path: PathBuf::from(url),
            message,
        };
        let (host, port, path) = parse_url(url).map_err(&error)?;
        let server = rtsp::RTSPServer::new();
        server.set_address(&host);
        server.set_service(&port.to_string());
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(
            &MEDIA_LAUNCH
                .replace("{max}", &APPSRC_MAX_BUFFERS.to_string())
                .replace("{gop}", &KEY_INT_MAX.to_string()),
        );
        factory.set_shared(true);
        let feed = Arc::new(Mutex::new(Feed::default()));
        let on_configure = Arc::clone(&feed);
        factory.connect_media_configure(move |_, media| {
            let appsrc = media
                .element()
                .downcast::<gst::Bin>()
                .ok()
                .and_then(|bin| bin.by_name_recurse_up("src"))
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok());
            if let Some(appsrc) = appsrc {
                let mut feed = on_configure.lock();
                appsrc.set_caps(feed.caps.as_ref());
                feed.appsrcs.push(appsrc);
                tracing::info!("rtsp: a client started a media");
            }
        });
        server
            .mount_points()
            .ok_or_else(|| error("no mount points".into()))?
            .add_factory(&path, factory);
        let context = glib::MainContext::new();
        let listening = server
            .attach(Some(&context))
            .map_err(|e| error(format!("cannot listen on {host}:{port}: {e}")))?;
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let (ml, ctx) = (main_loop.clone(), context.clone());
        let thread = std::thread::Builder::new()
            .name("rtsp-server".into())
            .spawn(move || {
                let _ = ctx.with_thread_default(|| ml.run());
            })
            .map_err(|e| error(e.to_string()))?;
        tracing::info!(url, "serving RTSP");
        eprintln!("serving the annotated stream at {url}");
        Ok(RtspSink {
            url: url.to_string(),
            server,
            context,
            main_loop,
            listening: Some(listening),
            thread: Some(thread),
            feed,
        })
    }

    /// Hands one frame to every media being served (none while nobody watches). Never blocks;
    /// the pixels are shared, not copied.
    pub fn push(&mut self, frame: &Frame) -> Result<()> {
        let mut feed = self.feed.lock();
        if feed.caps.is_none() {
            let caps = frame.info.to_caps().map_err(|e| Error::Output {
                path: PathBuf::from(&self.url),
                message: e.to_string(),
            })?;
            for a in &feed.appsrcs {
                a.set_caps(Some(&caps));
            }
            feed.caps = Some(caps);
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

    /// Ends the stream for every client and stops the server.
    pub fn finish(&mut self) -> Result<()> {
        for a in self.feed.lock().appsrcs.drain(..) {
            let _ = a.end_of_stream();
        }
        if let Some(id) = self.listening.take() {
            if let Some(source) = self.context.find_source_by_id(&id) {
                source.destroy();
            }
            let server = self.server.clone();
            self.context.invoke(move || {
                server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            });
        }
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Ok(())
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
