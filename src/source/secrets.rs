//! Credential references in an input's password: `rtsp://admin:${env:OVSTREAM_CAM1_PASSWORD}@cam/1`
//! (an environment variable) or `rtsp://admin:${cred:cam1}@cam/1` (the file `cam1` in
//! `$CREDENTIALS_DIRECTORY`: systemd's `LoadCredential=`, a mounted Kubernetes Secret). The
//! reference is what the service keeps — in its state file, its API views and its logs — and it
//! is replaced by the secret (percent-encoded) only when the source opens. Like Frigate's
//! `{FRIGATE_…}` variables, only names that start with [`ENV_PREFIX`] are read: an API user
//! cannot name `HOME` or another process secret. A reference must stand in the password (after
//! `user:` and before `@`), the part every printed URI hides.

use crate::error::{Error, Result};

/// Environment variables a reference may read start with this.
pub const ENV_PREFIX: &str = "OVSTREAM_";
/// Largest secret read from a credential file, bytes.
const MAX_SECRET_BYTES: u64 = 4096;

/// A reference found in an input.
#[derive(Debug, PartialEq)]
enum Reference<'a> {
    Env(&'a str),
    Cred(&'a str),
}

/// The references of `input` and where each stands (byte range of `${…}`).
///
/// # Errors
/// A message for a malformed reference, an unknown kind, a name that may not be read, or a
/// reference outside the password.
fn references(
    input: &str,
) -> std::result::Result<Vec<(std::ops::Range<usize>, Reference<'_>)>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = input[from..].find("${").map(|i| i + from) {
        let end = input[i..]
            .find('}')
            .map(|e| e + i)
            .ok_or("`${` without its `}`")?;
        let body = &input[i + 2..end];
        let reference = match body.split_once(':') {
            Some(("env", name)) if name.starts_with(ENV_PREFIX) && is_name(name, false) => {
                Reference::Env(name)
            }
            Some(("env", name)) => {
                return Err(format!(
                    "${{env:{name}}}: only variables named {ENV_PREFIX}[A-Z0-9_]+ are read"
                ))
            }
            Some(("cred", name)) if is_name(name, true) => Reference::Cred(name),
            Some(("cred", name)) => {
                return Err(format!(
                    "${{cred:{name}}}: a credential is a file name ([A-Za-z0-9_.-], no `/`)"
                ))
            }
            _ => {
                return Err(format!(
                    "${{{body}}}: expected ${{env:NAME}} or ${{cred:NAME}}"
                ))
            }
        };
        if !in_password(input, i, end) {
            return Err(format!(
                "${{{body}}}: a reference stands in the password only (scheme://user:${{…}}@host/…)"
            ));
        }
        out.push((i..end + 1, reference));
        from = end + 1;
    }
    Ok(out)
}

fn is_name(name: &str, file: bool) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| {
            c.is_ascii_digit()
                || c == '_'
                || if file {
                    c.is_ascii_alphabetic() || c == '.' || c == '-'
                } else {
                    c.is_ascii_uppercase()
                }
        })
}

/// Whether bytes `start..=end` lie in the URI's password: after the first `:` of the
/// userinfo and before the `@` that ends it, in an authority that ends at the first `/`, `?`
/// or `#` — exactly the part [`crate::redact::redact`] hides (a reference holds none of those).
fn in_password(input: &str, start: usize, end: usize) -> bool {
    let Some(scheme_end) = input.find("://") else {
        return false;
    };
    let from = scheme_end + 3;
    let authority_end = input[from..]
        .find(['/', '?', '#'])
        .map_or(input.len(), |e| e + from);
    let Some(at) = input[from..authority_end].rfind('@').map(|a| a + from) else {
        return false;
    };
    let colon = input[from..at].find(':').map(|c| c + from);
    colon.is_some_and(|c| c < start) && end < at
}

/// Checks the references of `input` (well-formed, allowed names, in the password) and that
/// each can be read now, without reading it into anything that is kept.
///
/// # Errors
/// [`Error::Input`] naming the reference (never a secret).
pub fn check(input: &str) -> Result<()> {
    expand(input).map(|_| ())
}

/// `input` with each reference replaced by its secret, percent-encoded for a password.
///
/// # Errors
/// [`Error::Input`] naming the reference: malformed, not allowed, an unset variable, a
/// missing or unreadable credential file.
pub fn expand(input: &str) -> Result<String> {
    let bad = |message: String| Error::Input {
        uri: crate::redact::redact(input),
        message,
    };
    let refs = references(input).map_err(bad)?;
    let mut out = String::with_capacity(input.len());
    let mut at = 0;
    for (range, reference) in refs {
        let secret = match reference {
            Reference::Env(name) => std::env::var(name)
                .map_err(|_| bad(format!("environment variable {name} is not set")))?,
            Reference::Cred(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    bad(format!(
                        "${{cred:{name}}}: CREDENTIALS_DIRECTORY is not set (systemd \
                         LoadCredential=, or a folder of secret files)"
                    ))
                })?;
                let path = std::path::Path::new(&dir).join(name);
                let text =
                    read_secret(&path).map_err(|e| bad(format!("credential {name}: {e}")))?;
                text.trim_end_matches(['\r', '\n']).to_string()
            }
        };
        out.push_str(&input[at..range.start]);
        out.extend(percent_encoding::utf8_percent_encode(
            &secret,
            percent_encoding::NON_ALPHANUMERIC,
        ));
        at = range.end;
    }
    out.push_str(&input[at..]);
    Ok(out)
}

/// The file's text, refused past [`MAX_SECRET_BYTES`] (a secret is short; `/dev/zero` is not).
fn read_secret(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut text)?;
    match text.len() as u64 > MAX_SECRET_BYTES {
        true => Err(std::io::Error::other(format!(
            "over {MAX_SECRET_BYTES} bytes"
        ))),
        false => Ok(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_in_the_password_are_replaced_encoded() {
        std::env::set_var("OVSTREAM_TEST_SECRET_A", "p@ss:w/rd");
        let input = "rtsp://admin:${env:OVSTREAM_TEST_SECRET_A}@cam.local:554/s1";
        assert_eq!(
            expand(input).unwrap(),
            "rtsp://admin:p%40ss%3Aw%2Frd@cam.local:554/s1"
        );
        assert_eq!(expand("rtsp://cam/1").unwrap(), "rtsp://cam/1");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cam1"), "hunter2\n").unwrap();
        std::env::set_var("CREDENTIALS_DIRECTORY", dir.path());
        assert_eq!(
            expand("rtsp://u:${cred:cam1}@cam/1").unwrap(),
            "rtsp://u:hunter2@cam/1"
        );
    }

    #[test]
    fn bad_references_are_named_and_never_read() {
        for (input, says) in [
            ("rtsp://u:${env:HOME}@cam/1", "only variables named"),
            ("rtsp://u:${env:OVSTREAM_NOT_SET_X}@cam/1", "is not set"),
            (
                "rtsp://${env:OVSTREAM_TEST_SECRET_A}:p@cam/1",
                "password only",
            ),
            ("rtsp://cam/${env:OVSTREAM_TEST_SECRET_A}", "password only"),
            // In the path, though an `@` follows: printed as it is, so refused.
            (
                "rtsp://cam:554/${env:OVSTREAM_TEST_SECRET_A}@x",
                "password only",
            ),
            ("rtsp://u:${cred:../etc/passwd}@cam/1", "file name"),
            ("rtsp://u:${vault:x}@cam/1", "expected"),
            ("rtsp://u:${env:OVSTREAM_X@cam/1", "without its"),
        ] {
            let e = expand(input).unwrap_err().to_string();
            assert!(e.contains(says), "{input}: {e}");
        }
    }
}
