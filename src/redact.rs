//! Credentials never leave the process in text: a URI's userinfo password is shown as `***`
//! wherever a URI is printed (logs, errors, stats and health lines, the API).

/// `url` with the password of its userinfo replaced by `***` (`mqtt://bob:***@host`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_password_is_hidden() {
        assert_eq!(
            redact("rtsp://admin:s3cret@cam.local:554/live?x=1"),
            "rtsp://admin:***@cam.local:554/live?x=1"
        );
        assert_eq!(redact("http://user:pass@h/p@q"), "http://user:***@h/p@q");
        assert_eq!(redact("rtsp://admin@cam/x"), "rtsp://admin@cam/x");
        assert_eq!(redact("file:///a/b.mp4"), "file:///a/b.mp4");
        assert_eq!(redact("samples/vtest.avi"), "samples/vtest.avi");
    }
}
