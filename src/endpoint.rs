//! The endpoint named by `--endpoint-url`, read as a URL: what may be shown
//! of it and whether it sends requests in the clear to another machine.
//!
//! A URL may carry a user and a password (`http://user:pass@host/`). They
//! must never reach the terminal, the summary, the resume hint or a log
//! line, so everything that prints or records the endpoint goes through
//! [`shown`].

use url::{Host, Position, Url};

/// What stands for the credentials of a URL wherever it is shown.
pub const REDACTED: &str = "<redacted>";

/// Checks that `text` is an `http://` or `https://` URL with a host. The
/// message never repeats the credentials.
pub fn check(text: &str) -> Result<(), String> {
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => Err(format!(
            "--endpoint-url {}: expected an http:// or https:// URL with a host",
            crate::progress::escape(&shown(text))
        )),
    }
}

/// `text` as it may be printed or recorded: a URL's user and password
/// replaced by `<redacted>`. Something that is not a URL with a host but
/// holds an `@` is replaced whole, for its credentials cannot be told apart.
pub fn shown(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) if url.has_host() => {
            if url.username().is_empty() && url.password().is_none() {
                text.to_owned()
            } else {
                let rest = &url[Position::BeforeHost..];
                format!("{}://{REDACTED}@{rest}", url.scheme())
            }
        }
        _ if text.contains('@') => REDACTED.to_owned(),
        _ => text.to_owned(),
    }
}

/// Whether `text` carries something [`shown`] hides.
pub fn has_credentials(text: &str) -> bool {
    shown(text) != text
}

/// Whether requests to `text` would travel unencrypted to another machine:
/// plain `http://` to a host that is not loopback.
pub fn plain_and_remote(text: &str) -> bool {
    let Ok(url) = Url::parse(text) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(Host::Domain(name)) => !name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(Host::Ipv6(ip)) => !ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_never_shown() {
        assert_eq!(
            shown("http://user:pass@host:9/"),
            "http://<redacted>@host:9/"
        );
        assert_eq!(
            shown("https://user@host/x?y=1"),
            "https://<redacted>@host/x?y=1"
        );
        assert_eq!(shown("http://:pw@host"), "http://<redacted>@host/");
        assert_eq!(shown("http://a:b@c@host:9"), "http://<redacted>@host:9/");
        assert_eq!(shown("user:pass@host"), "<redacted>");
        assert_eq!(shown("http://127.0.0.1:9229"), "http://127.0.0.1:9229");
        assert_eq!(shown("not a url"), "not a url");
        assert!(has_credentials("http://u:p@h/"));
        assert!(!has_credentials(
            "https://cognito-idp.eu-west-1.amazonaws.com"
        ));
    }

    #[test]
    fn the_host_is_read_after_the_user() {
        assert!(plain_and_remote("http://127.0.0.1@remote:9/"));
        assert!(plain_and_remote("HTTP://example.com"));
        assert!(!plain_and_remote("http://user:pw@127.0.0.1:9229"));
        assert!(!plain_and_remote("http://localhost:9229"));
        assert!(!plain_and_remote("http://LOCALHOST"));
        assert!(!plain_and_remote("http://[::1]:9229/"));
        assert!(!plain_and_remote("http://127.8.9.10"));
        assert!(!plain_and_remote("https://example.com"));
    }

    #[test]
    fn only_http_urls_with_a_host_are_endpoints() {
        assert!(check("http://127.0.0.1:9229").is_ok());
        assert!(check("https://cognito-idp.eu-west-1.amazonaws.com").is_ok());
        let e = check("user:secret@host").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(check("ftp://host").is_err());
        assert!(check("host:9229").is_err());
    }
}
