//! Several sources in one process: their names, and the per-source output paths.
//!
//! A source's name labels its JSON lines (`"source"`), its metrics and its stats line, and
//! fills the `{name}` placeholder of output paths (`out/{name}.mp4`). It defaults to the file
//! stem (`samples/vtest.avi` → `vtest`) or the host (`rtsp://cam-door.local:554/live` →
//! `cam-door.local`); repeated names get `-2`, `-3`, … in input order (`vtest`, `vtest-2`).
//! With several sources, an MP4 path or RTSP mount without `{name}` gets it added
//! ([`mp4_template`], [`rtsp_template`]); a JSON-lines path without it is one shared file.

use super::{NamedSource, OutputConfig};

/// The placeholder output paths use for the source's name.
pub const NAME_PLACEHOLDER: &str = "{name}";

/// The default name of `input` (a path or URI): the host of a network URI, else the file stem
/// of its last path segment; characters outside `[A-Za-z0-9._-]` become `_`.
pub fn default_name(input: &str) -> String {
    let (scheme, rest) = match input.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => (String::new(), input),
    };
    let local = scheme.is_empty() || matches!(scheme.as_str(), "file" | "v4l2");
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    // user:password@host:port → host
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let raw = if !local && !host.is_empty() {
        host.to_string()
    } else {
        let path = if local { rest } else { path };
        let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let stem = std::path::Path::new(last)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if stem.is_empty() {
            scheme
        } else {
            stem
        }
    };
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "source".into()
    } else {
        name
    }
}

/// Whether `name` is usable in file paths and metric labels.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Every source with a unique name: explicit names are kept (and must be valid and distinct),
/// the others get [`default_name`] with `-2`, `-3`, … when it is taken.
///
/// # Errors
/// A message naming the bad or repeated explicit name.
pub fn resolve_names(sources: &[NamedSource]) -> Result<Vec<NamedSource>, String> {
    let mut taken = std::collections::HashSet::new();
    for name in sources.iter().filter_map(|s| s.name.as_deref()) {
        if !valid_name(name) {
            return Err(format!(
                "source name `{name}`: use letters, digits, `.`, `_` and `-`"
            ));
        }
        if !taken.insert(name.to_string()) {
            return Err(format!("source name `{name}` is given twice"));
        }
    }
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        let name = match &s.name {
            Some(n) => n.clone(),
            None => {
                let base = default_name(&s.input);
                let mut name = base.clone();
                let mut k = 2;
                while taken.contains(&name) {
                    name = format!("{base}-{k}");
                    k += 1;
                }
                taken.insert(name.clone());
                name
            }
        };
        out.push(NamedSource {
            name: Some(name),
            input: s.input.clone(),
            analytics: s.analytics.clone(),
            record: s.record.clone(),
            record_input: s.record_input.clone(),
        });
    }
    Ok(out)
}

/// Fills `{name}` in `template`.
pub fn expand(template: &str, name: &str) -> String {
    template.replace(NAME_PLACEHOLDER, name)
}

/// The per-source form of an MP4 path: as given when it has `{name}` or there is one source;
/// else `-{name}` goes before the extension (`out/pedestrians.mp4` →
/// `out/pedestrians-{name}.mp4`), so sources never overwrite each other's file.
pub fn mp4_template(path: &str, sources: usize) -> String {
    if sources <= 1 || path.contains(NAME_PLACEHOLDER) {
        return path.to_string();
    }
    let p = std::path::Path::new(path);
    match (p.file_stem(), p.extension()) {
        (Some(stem), Some(ext)) => p
            .with_file_name(format!(
                "{}-{NAME_PLACEHOLDER}.{}",
                stem.to_string_lossy(),
                ext.to_string_lossy()
            ))
            .display()
            .to_string(),
        _ => format!("{path}-{NAME_PLACEHOLDER}"),
    }
}

/// The per-source form of an RTSP output URL: as given when it has `{name}` or there is one
/// source; else `/{name}` is appended to the mount path (one server, a mount per source).
pub fn rtsp_template(url: &str, sources: usize) -> String {
    if sources <= 1 || url.contains(NAME_PLACEHOLDER) {
        return url.to_string();
    }
    format!("{}/{NAME_PLACEHOLDER}", url.trim_end_matches('/'))
}

/// `{name}` may only be in the path of outputs: one RTSP server (host and port) serves every
/// source.
///
/// # Errors
/// A message naming the output.
pub fn check_templates(output: &OutputConfig) -> Result<(), String> {
    if let Some(url) = &output.rtsp {
        let authority = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or("");
        if authority.contains(NAME_PLACEHOLDER) {
            return Err(format!(
                "output.rtsp = `{url}`: `{NAME_PLACEHOLDER}` belongs in the mount path; one \
                 server (host and port) serves every source"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unnamed(inputs: &[&str]) -> Vec<NamedSource> {
        inputs
            .iter()
            .map(|i| NamedSource {
                name: None,
                input: i.to_string(),
                analytics: None,
                record: None,
                record_input: None,
            })
            .collect()
    }

    #[test]
    fn default_names_come_from_stem_or_host() {
        assert_eq!(default_name("samples/vtest.avi"), "vtest");
        assert_eq!(default_name("file:///data/cam%201.mp4"), "cam_201");
        assert_eq!(
            default_name("rtsp://user:pw@cam-door.local:554/live"),
            "cam-door.local"
        );
        assert_eq!(default_name("rtsp://127.0.0.1:8554/cam"), "127.0.0.1");
        assert_eq!(default_name("/dev/video0"), "video0");
        assert_eq!(default_name("v4l2:///dev/video2"), "video2");
        assert_eq!(
            default_name("https://example.com/clips/a.mp4?x=1"),
            "example.com"
        );
        assert_eq!(default_name("test://?pattern=ball&fps=250"), "test");
    }

    #[test]
    fn repeated_inputs_get_suffixes_in_order() {
        let named = resolve_names(&unnamed(&[
            "samples/vtest.avi",
            "samples/carphone.mp4",
            "other/vtest.avi",
            "samples/vtest.avi",
        ]))
        .unwrap();
        let names: Vec<_> = named.iter().map(|s| s.name.clone().unwrap()).collect();
        assert_eq!(names, ["vtest", "carphone", "vtest-2", "vtest-3"]);
    }

    #[test]
    fn explicit_names_are_kept_checked_and_avoided() {
        let mut sources = unnamed(&["a/vtest.avi", "b/vtest.avi"]);
        sources[1].name = Some("vtest".into());
        let named = resolve_names(&sources).unwrap();
        assert_eq!(named[0].name.as_deref(), Some("vtest-2"));
        assert_eq!(named[1].name.as_deref(), Some("vtest"));
        sources[0].name = Some("vtest".into());
        assert!(resolve_names(&sources).unwrap_err().contains("twice"));
        sources[0].name = Some("../x".into());
        assert!(resolve_names(&sources).is_err());
    }

    #[test]
    fn several_sources_get_per_source_output_paths() {
        assert_eq!(mp4_template("out/a.mp4", 1), "out/a.mp4");
        assert_eq!(mp4_template("out/a.mp4", 2), "out/a-{name}.mp4");
        assert_eq!(mp4_template("out/{name}.mp4", 2), "out/{name}.mp4");
        assert_eq!(
            expand(&mp4_template("out/a.mp4", 2), "vtest-2"),
            "out/a-vtest-2.mp4"
        );
        assert_eq!(
            rtsp_template("rtsp://127.0.0.1:8554/live", 2),
            "rtsp://127.0.0.1:8554/live/{name}"
        );
        let mut out = OutputConfig {
            rtsp: Some("rtsp://{name}:8554/live".into()),
            ..OutputConfig::default()
        };
        assert!(check_templates(&out).is_err());
        out.rtsp = Some("rtsp://127.0.0.1:8554/{name}".into());
        assert!(check_templates(&out).is_ok());
    }
}
