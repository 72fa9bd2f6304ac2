//! Fuzzes the header reader: the input is a block of `name: value` lines. A route whose id is
//! the `x-app-id` header must answer without panicking, and accept an id only when exactly one
//! header is `x-app-id` or an alias of it (`_` or `.` for `-`, any case) and no `Connection`
//! header lists one. The alias relation must be symmetric.

use icpgate::config::{PlatformSpec, RouteConfig, Source};
use icpgate::extract::{identify, names};
use icpgate::filing::Platform;

fn main() {
    let route = RouteConfig::new(
        "fuzz",
        PlatformSpec::Fixed(Platform::Android),
        vec![Source::Header(http::HeaderName::from_static("x-app-id"))],
    );
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let (mut parts, ()) = http::Request::new(()).into_parts();
        let mut names_seen = Vec::new();
        for line in text.split('\n') {
            let Some((n, v)) = line.split_once(':') else {
                continue;
            };
            let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(n.trim().as_bytes()),
                http::HeaderValue::from_str(v.trim()),
            ) else {
                continue;
            };
            names_seen.push(n.as_str().to_string());
            parts.headers.append(n, v);
        }
        if let [a, b, ..] = names_seen.as_slice() {
            assert_eq!(names::header_alias(a, b), names::header_alias(b, a));
        }
        if let Ok(Some(_)) = identify(&route, &parts, &[], None) {
            let aliases = parts
                .headers
                .iter()
                .filter(|(n, _)| names::header_alias(n.as_str(), "x-app-id"))
                .count();
            assert_eq!(aliases, 1, "{text:?}");
            assert!(
                !names::in_connection(&parts.headers, "x-app-id"),
                "{text:?}"
            );
        }
    });
}
