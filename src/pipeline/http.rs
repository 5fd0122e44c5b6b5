//! The one HTTP stack of the process: axum on a small tokio runtime whose threads run at a
//! lower priority than the pipeline's ([`HttpServer`]). `serve` runs its API on it and
//! `run --metrics` its metrics; both answer `/metrics` with [`respond`], which asks the
//! running pipeline's one renderer for the text ([`Scraper`], see
//! [`super::metrics::Endpoint`]). Connections are bounded and timed out
//! ([`super::http_conn`]).

use crate::error::{Error, Result};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use crossbeam::channel::{bounded, Sender};
use std::net::TcpListener;
use std::time::Duration;

/// How long an in-process scrape waits for the text.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the Prometheus text.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long a server gets to finish its requests when it stops.
pub(super) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
/// Threads of an HTTP runtime (the pipeline has the cores).
const HTTP_THREADS: usize = 1;
/// Nice value of the HTTP threads: under a flood of requests the pipeline's threads (nice 0)
/// win the CPU, so cameras keep their frame rate and the API answers more slowly instead.
const HTTP_NICE: i32 = 10;

/// The asking side of [`super::metrics::Endpoint`]: an HTTP handler's way to the pipeline's
/// renderer (each request carries the channel its text comes back on).
#[derive(Debug, Clone)]
pub struct Scraper(Sender<Sender<String>>);

impl Scraper {
    pub(super) fn new(requests: Sender<Sender<String>>) -> Self {
        Scraper(requests)
    }

    /// The metrics text, rendered by the running pipeline; `None` when it does not answer
    /// within `timeout` (not started, or ended). Blocks: call it off the async runtime.
    pub fn scrape(&self, timeout: Duration) -> Option<String> {
        let (tx, rx) = bounded(1);
        self.0.send_timeout(tx, timeout).ok()?;
        rx.recv_timeout(timeout).ok()
    }
}

/// The metrics text from `scraper` as a response (one scrape per connection: clients that
/// read to the end get it); 503 when the pipeline does not answer in [`SCRAPE_TIMEOUT`]
/// (starting, or ended).
pub async fn respond(scraper: Scraper) -> Response {
    let text = tokio::task::spawn_blocking(move || scraper.scrape(SCRAPE_TIMEOUT)).await;
    match text {
        Ok(Some(body)) => (
            [
                (header::CONTENT_TYPE, OPENMETRICS),
                (header::CONNECTION, "close"),
            ],
            body,
        )
            .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not available\n",
        )
            .into_response(),
    }
}

/// Lowers the calling thread's priority to [`HTTP_NICE`] (Linux: nice is per thread). A
/// failure only leaves it at the default priority.
fn lower_priority() {
    // SAFETY: setpriority reads no memory; `who = 0` is the calling thread on Linux.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HTTP_NICE) };
    if rc != 0 {
        tracing::debug!(
            "HTTP thread keeps its priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A running HTTP server; [`HttpServer::stop`] (or dropping it) ends it gracefully.
pub struct HttpServer {
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: parking_lot::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpServer")
    }
}

impl HttpServer {
    /// Serves `router` on `listener` (already bound, so a taken port failed before anything
    /// else); `what` names it in errors and thread names (`--api`, `metrics`); a response the
    /// client takes no bytes of for `write_timeout` is cut.
    ///
    /// # Errors
    /// [`Error::Http`] when the runtime cannot start; [`Error::Listen`] when the listener
    /// cannot be handed to it.
    pub fn start(
        what: &'static str,
        listener: TcpListener,
        router: axum::Router,
        write_timeout: Duration,
    ) -> Result<Self> {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(HTTP_THREADS)
            .thread_name(format!("ovstream-http {what}"))
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .map_err(|source| Error::Http {
                context: format!("{what} runtime"),
                source,
            })?;
        let listen = |source| Error::Listen {
            what,
            addr: addr.clone(),
            source,
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = {
            let _guard = runtime.enter();
            listener.set_nonblocking(true).map_err(listen)?;
            let listener = tokio::net::TcpListener::from_std(listener).map_err(listen)?;
            runtime.spawn(super::http_conn::serve(
                what,
                listener,
                router,
                write_timeout,
                rx,
            ))
        };
        Ok(HttpServer {
            runtime: Some(runtime),
            shutdown: parking_lot::Mutex::new(Some(tx)),
            task: Some(task),
        })
    }

    /// Stops accepting; requests under way finish (callable from any thread, once or more).
    pub fn stop(&self) {
        if let Some(tx) = self.shutdown.lock().take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop();
        if let (Some(runtime), Some(task)) = (self.runtime.take(), self.task.take()) {
            let _ = runtime.block_on(async { tokio::time::timeout(SHUTDOWN_TIMEOUT, task).await });
            runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        }
    }
}

/// An HTTP server answering every path with `scraper`'s metrics (as Prometheus' default
/// `/metrics` and the old listener did).
///
/// # Errors
/// As [`HttpServer::start`].
pub fn metrics_server(listener: TcpListener, scraper: Scraper) -> Result<HttpServer> {
    let router = axum::Router::new().fallback(move || respond(scraper.clone()));
    HttpServer::start("metrics", listener, router, super::http_conn::WRITE_TIMEOUT)
}
