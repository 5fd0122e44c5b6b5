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

/// Most bytes of a user's string an error message repeats.
pub const MAX_ECHO: usize = 200;

/// `text` as an error message repeats it: at most [`MAX_ECHO`] bytes (cut at a character
/// boundary, `…` and the length added), so a megabyte name never comes back whole.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_ECHO {
        return text.into();
    }
    let mut end = MAX_ECHO;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_at_most_max_echo_bytes() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(300);
        let c = clip(&long);
        assert!(
            c.len() < MAX_ECHO + 20 && c.ends_with("… (600 bytes)"),
            "{c}"
        );
    }

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
