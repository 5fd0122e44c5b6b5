//! A stand-in network camera: an RTSP server on 127.0.0.1 (a port the kernel picks) with one
//! media factory per mount, each a `gst-launch` description ending in `rtph264pay name=pay0`,
//! played in real time from a client's PLAY; its own GLib main loop thread, stopped on drop.

use gstreamer as gst;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::glib;
use gstreamer_rtsp_server::prelude::*;
use std::path::Path;

pub struct RtspCamera {
    pub port: u16,
    main_loop: glib::MainLoop,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A mount's media: `mp4`'s H.264 as it is (the camera's own packets).
pub fn copy_of(mp4: &Path) -> String {
    format!(
        "( filesrc location=\"{}\" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )",
        mp4.display()
    )
}

impl RtspCamera {
    /// Serves `mounts`: `(path, launch description)` pairs such as `("/cam", copy_of(f))`.
    pub fn start(mounts: &[(&str, String)]) -> RtspCamera {
        gst::init().unwrap();
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service("0");
        for (path, launch) in mounts {
            let factory = rtsp::RTSPMediaFactory::new();
            factory.set_launch(launch);
            server.mount_points().unwrap().add_factory(path, factory);
        }
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        server.attach(Some(&context)).expect("RTSP server listens");
        let port = u16::try_from(server.bound_port()).expect("a bound port");
        let ml = main_loop.clone();
        let thread = Some(std::thread::spawn(move || {
            context.with_thread_default(|| ml.run()).unwrap();
            drop(server);
        }));
        RtspCamera {
            port,
            main_loop,
            thread,
        }
    }

    /// `rtsp://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for RtspCamera {
    fn drop(&mut self) {
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
