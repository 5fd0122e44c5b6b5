//! `[serve] rtsp = "127.0.0.1:8554"`: every stream of the service re-streamed at
//! `rtsp://HOST:PORT/{name}` (gst-rtsp-server), annotated, from the stream's one live H.264
//! encoder ([`super::encoder`]) — no second encode. A mount's media is shared by its clients:
//! `( appsrc ! h264parse ! rtph264pay )`, whose appsrc joins the stream's [`Live`] hub when the
//! first client starts it (the encoder then runs, from a fresh keyframe) and leaves when the
//! last one goes. A stream removed from the service ends its clients' stream (EOS) and its
//! mount. With a token (`--api-token-file`), clients authenticate with HTTP Basic as user
//! [`RTSP_USER`] and the token as password; without one the server must listen on loopback.

use super::{Live, RtspFeed};
use crate::error::{Error, Result};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

/// The user name of RTSP Basic authentication (the password is the API token).
pub const RTSP_USER: &str = "ovstream";
/// The role a token-holding client gets (it may open every mount).
const ROLE: &str = "viewer";
/// A mount's media: the encoder's access units, payloaded.
const MEDIA_LAUNCH: &str = "( appsrc name=src is-live=true format=time do-timestamp=true \
    max-buffers=30 leaky-type=downstream ! h264parse ! \
    rtph264pay name=pay0 pt=96 config-interval=-1 )";

/// The service's RTSP server, its GLib main loop thread and its mounts.
pub struct RtspService {
    server: rtsp::RTSPServer,
    mounts: rtsp::RTSPMountPoints,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// `HOST:PORT` it listens on (the port really bound).
    pub address: String,
    authenticated: bool,
}

impl RtspService {
    /// Listens on `address` (`HOST:PORT`; port 0 picks one); with `token`, clients must give
    /// it as the Basic password of [`RTSP_USER`].
    ///
    /// # Errors
    /// [`Error::Setting`] for an address that is not `HOST:PORT`, or reachable from other
    /// machines without a token; [`Error::Listen`] when it cannot be bound.
    pub fn start(address: &str, token: Option<&str>, insecure: bool) -> Result<Arc<Self>> {
        crate::gst_init()?;
        let bad = |message: String| Error::Setting {
            key: "serve.rtsp".into(),
            message,
        };
        let (host, port) = address
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .ok_or_else(|| bad(format!("{address:?}: expected HOST:PORT")))?;
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback && token.is_none() && !insecure {
            return Err(bad(format!(
                "{address} is reachable from other machines and no --api-token-file is given: \
                 anyone could watch every camera. Give a token, bind 127.0.0.1, or pass \
                 --insecure"
            )));
        }
        let server = rtsp::RTSPServer::new();
        server.set_address(host);
        server.set_service(&port.to_string());
        if let Some(token) = token {
            let auth = rtsp::RTSPAuth::new();
            let role = rtsp::RTSPToken::builder()
                .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
                .build();
            auth.add_basic(rtsp::RTSPAuth::make_basic(RTSP_USER, token).as_str(), &role);
            server.set_auth(Some(&auth));
        }
        let mounts = server
            .mount_points()
            .ok_or_else(|| bad("the RTSP server has no mount points".into()))?;
        let context = glib::MainContext::new();
        let listen = |e: glib::BoolError| Error::Listen {
            what: "serve.rtsp",
            addr: address.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::AddrInUse, e.to_string()),
        };
        server.attach(Some(&context)).map_err(listen)?;
        let address = format!("{host}:{}", server.bound_port());
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let (ml, ctx) = (main_loop.clone(), context.clone());
        let thread = std::thread::Builder::new()
            .name("ovstream-rtsp".into())
            .spawn(move || {
                let _ = ctx.with_thread_default(|| ml.run());
            })
            .map_err(|e| bad(e.to_string()))?;
        eprintln!("serving every stream at rtsp://{address}/{{name}}");
        Ok(Arc::new(RtspService {
            server,
            mounts,
            context,
            main_loop,
            thread: Mutex::new(Some(thread)),
            address,
            authenticated: token.is_some(),
        }))
    }

    /// `rtsp://HOST:PORT/{name}`.
    pub fn url(&self, name: &str) -> String {
        format!("rtsp://{}/{name}", self.address)
    }

    /// Mounts `live` at `/{name}`; the mount goes with the returned [`Mount`].
    pub fn mount(self: &Arc<Self>, live: &Arc<Live>) -> Mount {
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(MEDIA_LAUNCH);
        factory.set_shared(true);
        if self.authenticated {
            let allowed = gst::Structure::builder(ROLE)
                .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                .build();
            factory.add_role_from_structure(&allowed);
        }
        let hub: Weak<Live> = Arc::downgrade(live);
        factory.connect_media_configure(move |_, media| {
            let appsrc = crate::sink::rtsp::media_appsrc(media);
            if let (Some(appsrc), Some(live)) = (appsrc, hub.upgrade()) {
                tracing::info!(stream = live.name, "an RTSP client started the mount");
                live.join_rtsp(appsrc);
            }
        });
        let path = format!("/{}", live.name);
        self.mounts.add_factory(&path, factory);
        tracing::info!(url = self.url(&live.name), "mounted");
        Mount {
            service: Arc::clone(self),
            path,
        }
    }
}

impl Drop for RtspService {
    fn drop(&mut self) {
        let server = self.server.clone();
        self.context.invoke(move || {
            server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
        });
        self.main_loop.quit();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Live {
    /// An RTSP client started the mount's media: it is fed the encoder's access units from the
    /// next keyframe on (one is asked for now).
    pub(crate) fn join_rtsp(&self, appsrc: gstreamer_app::AppSrc) {
        let mut v = self.viewers.lock();
        v.rtsp.push(RtspFeed {
            appsrc,
            waiting: true,
        });
        v.want_keyframe = true;
        self.recount(&v);
    }

    /// One access unit of the encoder (with its caps): to every RTSP media, timestamped by the
    /// media's own clock on arrival. A media whose clients left refuses it and is dropped.
    pub(crate) fn publish_h264(&self, sample: &gstreamer::Sample) {
        use gstreamer::prelude::*;
        let mut v = self.viewers.lock();
        if v.rtsp.is_empty() {
            return;
        }
        let Some(buffer) = sample.buffer() else {
            return;
        };
        let keyframe = !buffer.flags().contains(gstreamer::BufferFlags::DELTA_UNIT);
        let mut unit = buffer.copy();
        {
            let b = unit.make_mut();
            b.set_pts(gstreamer::ClockTime::NONE);
            b.set_dts(gstreamer::ClockTime::NONE);
        }
        let caps = sample.caps().map(|c| c.to_owned());
        let mut builder = gstreamer::Sample::builder().buffer(&unit);
        if let Some(caps) = &caps {
            builder = builder.caps(caps);
        }
        let unit = builder.build();
        let before = v.rtsp.len();
        v.rtsp.retain_mut(|feed| {
            if feed.waiting && !keyframe {
                return feed.appsrc.current_state() != gstreamer::State::Null;
            }
            feed.waiting = false;
            let sent = feed.appsrc.push_sample(&unit).is_ok();
            if sent {
                self.stats
                    .rtsp_bytes
                    .fetch_add(buffer.size() as u64, Ordering::Relaxed);
            }
            sent
        });
        if v.rtsp.len() != before {
            self.recount(&v);
        }
    }
}

/// A stream's mount; dropping it unmounts the path (clients already playing got EOS from
/// [`Live`]'s close).
pub struct Mount {
    service: Arc<RtspService>,
    path: String,
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.service.mounts.remove_factory(&self.path);
        tracing::info!(path = self.path, "unmounted");
    }
}
