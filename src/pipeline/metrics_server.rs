//! The HTTP side of `run --metrics`: the same stack as `serve` (axum on a one-thread tokio
//! runtime at low priority), answering every path with the text the running pipeline renders
//! on request ([`super::metrics::Scraper`]). `serve`'s `/metrics` uses [`respond`] too.

use super::metrics::{Scraper, SCRAPE_TIMEOUT};
use crate::error::{Error, Result};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::TcpListener;

/// The content type of the Prometheus text.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long the server gets to finish at the end of the run.
const SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The metrics text from `scraper` as a response: 503 when the pipeline does not answer in
/// [`SCRAPE_TIMEOUT`] (starting, or ended).
pub async fn respond(scraper: Scraper) -> Response {
    let text = tokio::task::spawn_blocking(move || scraper.scrape(SCRAPE_TIMEOUT)).await;
    match text {
        // One scrape per connection, as before: clients that read to the end get it.
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

/// A running metrics server; stopped when dropped.
pub struct MetricsServer {
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsServer")
    }
}

/// Serves `scraper`'s text on `listener` (already bound, so a taken port failed before).
///
/// # Errors
/// [`Error::Http`] when the runtime cannot start; [`Error::Listen`] when the listener cannot
/// be handed to it.
pub fn start(listener: TcpListener, scraper: Scraper) -> Result<MetricsServer> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("ovstream-metrics")
        .enable_all()
        .build()
        .map_err(|source| Error::Http {
            context: "metrics runtime".into(),
            source,
        })?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let _guard = runtime.enter();
        listener
            .set_nonblocking(true)
            .map_err(|source| Error::Listen {
                what: "metrics",
                addr: addr.clone(),
                source,
            })?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| Error::Listen {
                what: "metrics",
                addr,
                source,
            })?;
        // Every path answers the metrics, as Prometheus' default `/metrics` does.
        let router = axum::Router::new().fallback(move || respond(scraper.clone()));
        runtime.spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!("metrics server: {e}");
            }
        })
    };
    Ok(MetricsServer {
        runtime: Some(runtime),
        shutdown: Some(tx),
        task: Some(task),
    })
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let (Some(runtime), Some(task)) = (self.runtime.take(), self.task.take()) {
            let _ = runtime.block_on(async { tokio::time::timeout(SHUTDOWN_TIMEOUT, task).await });
            runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        }
    }
}
