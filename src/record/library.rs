//! The clips on disk, as the service's `/api/clips` lists them: read from the recording folders
//! (the sidecars are the index, so clips of earlier runs are listed too). Clip ids are checked
//! before any file-system access ([`super::valid_clip_id`]); no path from a client is used.

use super::retention;
use super::sidecar::Sidecar;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Most clips one listing returns.
pub const MAX_LIMIT: usize = 1000;
/// Clips a listing returns when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;

/// What a listing keeps.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub source: Option<String>,
    /// RFC 3339: clips that end at or after it.
    pub since: Option<std::time::SystemTime>,
    /// RFC 3339: clips that start at or before it.
    pub until: Option<std::time::SystemTime>,
    /// A trigger label (`person`) or event type (`zone_enter`).
    pub label: Option<String>,
    pub limit: usize,
}

/// One clip in a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(utoipa::ToSchema))]
pub struct ClipSummary {
    pub id: String,
    pub source: String,
    /// RFC 3339 UTC.
    pub start: String,
    pub end: Option<String>,
    /// Seconds of video.
    pub duration: f64,
    /// Labels and event types that triggered it, each once.
    pub triggers: Vec<String>,
    /// Bytes of the MP4.
    pub bytes: u64,
    /// `/api/clips/{id}.mp4` (HTTP Range), `.jpg`, and the sidecar.
    pub video_url: String,
    pub thumbnail_url: String,
    pub url: String,
}

/// The clip `id`'s MP4 under one of `dirs`, if it exists.
pub fn find(dirs: &[PathBuf], id: &str) -> Option<PathBuf> {
    if !super::valid_clip_id(id) {
        return None;
    }
    let suffix = format!("-{id}.mp4");
    dirs.iter()
        .flat_map(|d| retention::clips(d))
        .map(|c| c.mp4)
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(&suffix))
        })
}

/// The sidecar of the clip at `mp4` (`None` while it is being recorded).
pub fn sidecar(mp4: &Path) -> Option<Sidecar> {
    let text = std::fs::read(mp4.with_extension("json")).ok()?;
    serde_json::from_slice(&text).ok()
}

fn parse_time(t: &str) -> Option<std::time::SystemTime> {
    humantime::parse_rfc3339_weak(t).ok()
}

/// The finished clips under `dirs` that `filter` keeps, newest first.
pub fn list(dirs: &[PathBuf], filter: &Filter) -> Vec<ClipSummary> {
    let mut all: Vec<(std::time::SystemTime, ClipSummary)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for clip in dirs.iter().flat_map(|d| retention::clips(d)) {
        let Some(s) = sidecar(&clip.mp4) else {
            continue;
        };
        if !seen.insert(s.clip_id.clone()) || !super::valid_clip_id(&s.clip_id) {
            continue;
        }
        if filter.source.as_ref().is_some_and(|src| *src != s.source) {
            continue;
        }
        let triggers = s.trigger_names();
        if filter.label.as_ref().is_some_and(|l| !triggers.contains(l)) {
            continue;
        }
        let start = parse_time(&s.start).unwrap_or(std::time::UNIX_EPOCH);
        let end = s.end.as_deref().and_then(parse_time).unwrap_or(start);
        if filter.since.is_some_and(|t| end < t) || filter.until.is_some_and(|t| start > t) {
            continue;
        }
        let url = format!("/api/clips/{}", s.clip_id);
        all.push((
            start,
            ClipSummary {
                video_url: format!("{url}.mp4"),
                thumbnail_url: format!("{url}.jpg"),
                url,
                id: s.clip_id,
                source: s.source,
                start: s.start,
                end: s.end,
                duration: s.duration,
                triggers,
                bytes: s.bytes,
            },
        ));
    }
    all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.id.cmp(&a.1.id)));
    all.into_iter()
        .take(filter.limit.clamp(1, MAX_LIMIT))
        .map(|(_, c)| c)
        .collect()
}
