//! The console's sign-in: a browser cannot send the admin API's Bearer header on navigation,
//! so the login form takes the admin token once and sets a session cookie (`HttpOnly`,
//! `SameSite=Strict`, 12 hours) that the console pages accept in its place.
//!
//! Owns the cookie's form and its check. The cookie does not hold the token: it is
//! `EXPIRY.MAC`, the expiry in Unix seconds and an HMAC-SHA256 of it keyed with the token, so
//! it proves the token was known without revealing it, ends by itself, and stops working when
//! the token changes (a restart). The token typed into the form and the cookie's MAC are
//! compared in constant time (ring's `hmac::verify`).
//! Must not: accept a cookie when no token is configured as anything but unnecessary, read a
//! login body past `MAX_LOGIN_BYTES`, or admit the cookie anywhere but on console pages.
//! Invariant: `admits` is true only for a cookie this gateway's token signed and that has not
//! expired.

use super::layout;
use super::{page, redirect};
use crate::proxy::body::ProxyBody;
use cookie::{Cookie, SameSite};
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use maud::{html, Markup};
use ring::hmac;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const COOKIE: &str = "icpgate_console";
/// How long a sign-in lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The longest login form body read.
const MAX_LOGIN_BYTES: usize = 4096;
/// What the token signs in a cookie, before the expiry.
const CONTEXT: &[u8] = b"icpgate console session:";

pub struct Session {
    /// HMAC key made from `admin.token`; `None` without a token (the console is open).
    key: Option<hmac::Key>,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn signed(expiry: u64) -> Vec<u8> {
    let mut m = CONTEXT.to_vec();
    m.extend_from_slice(expiry.to_string().as_bytes());
    m
}

impl Session {
    pub fn new(token: Option<&str>) -> Session {
        Session {
            key: token.map(|t| hmac::Key::new(hmac::HMAC_SHA256, t.as_bytes())),
        }
    }

    /// Whether the console needs a sign-in at all.
    pub fn required(&self) -> bool {
        self.key.is_some()
    }

    /// The cookie value of a session that ends at `expiry` (Unix seconds).
    fn value(&self, expiry: u64) -> Option<String> {
        let key = self.key.as_ref()?;
        let tag = hmac::sign(key, &signed(expiry));
        Some(format!("{expiry}.{}", hex::encode(tag.as_ref())))
    }

    /// Whether `given` is the admin token, compared in constant time: its HMAC under a key
    /// made from `given` is checked against the token's key.
    fn is_token(&self, given: &str) -> bool {
        let Some(key) = &self.key else { return true };
        let theirs = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, given.as_bytes()),
            CONTEXT,
        );
        hmac::verify(key, CONTEXT, theirs.as_ref()).is_ok()
    }

    /// Whether the request carries an unexpired session cookie this token signed.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(key) = &self.key else { return true };
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .flatten()
            .filter(|c| c.name() == COOKIE)
            .any(|c| check(key, c.value()))
    }

    /// `POST /console/login`: a right token sets the cookie and goes to the health page; a
    /// wrong one shows the form again with the reason.
    pub async fn login(&self, req: Request<hyper::body::Incoming>) -> Response<ProxyBody> {
        let body = match Limited::new(req.into_body(), MAX_LOGIN_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                let why = format!("the login form is read up to {MAX_LOGIN_BYTES} bytes");
                return page(StatusCode::PAYLOAD_TOO_LARGE, login_page(Some(&why), true));
            }
        };
        let tokens: Vec<String> = form_urlencoded::parse(&body)
            .filter(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .collect();
        let given = match tokens.as_slice() {
            [t] if !t.is_empty() => t,
            [] | [_] => return self.refused("enter the admin token"),
            _ => return self.refused("send the token once"),
        };
        if !self.is_token(given) {
            return self.refused("that is not the admin token");
        }
        let mut r = redirect("/");
        if let Some(v) = self.value(now_unix() + LIFETIME.as_secs()) {
            let c = Cookie::build((COOKIE, v))
                .http_only(true)
                .same_site(SameSite::Strict)
                .path("/")
                .max_age(cookie::time::Duration::seconds(LIFETIME.as_secs() as i64))
                .build();
            if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
        }
        r
    }

    fn refused(&self, why: &str) -> Response<ProxyBody> {
        page(
            StatusCode::UNAUTHORIZED,
            login_page(Some(why), self.required()),
        )
    }
}

/// Whether `value` is `EXPIRY.MAC` with an expiry still ahead and the MAC of `key`.
fn check(key: &hmac::Key, value: &str) -> bool {
    let Some((expiry, mac)) = value.split_once('.') else {
        return false;
    };
    let (Ok(expiry), Ok(mac)) = (expiry.parse::<u64>(), hex::decode(mac)) else {
        return false;
    };
    expiry > now_unix() && hmac::verify(key, &signed(expiry), &mac).is_ok()
}

/// `POST /console/logout`: clears the cookie.
pub fn logout() -> Response<ProxyBody> {
    let c = Cookie::build((COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    let mut r = redirect("/console/login");
    if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The login form, with the reason it is shown again.
pub fn login_page(why: Option<&str>, required: bool) -> Markup {
    let body = html! {
        @if let Some(why) = why { (layout::error(why)) }
        @if required {
            form method="post" action="/console/login" class="login" {
                label for="token" { "Admin token" }
                input id="token" name="token" type="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            p class="note" { "The token is the admin API's (" code { "admin.token" } "). Signing in sets an HttpOnly, SameSite=Strict cookie for 12 hours." }
        } @else {
            p { "No admin token is configured: the console is open. " a href="/" { "Go to the console" } }
        }
    };
    layout::page("Sign in", None, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_signed_with_the_token_is_admitted_until_it_expires() {
        let s = Session::new(Some("s3cret"));
        let v = s.value(now_unix() + 60).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("a=b; {COOKIE}={v}").parse().unwrap(),
        );
        assert!(s.admits(&h));
        let old = s.value(now_unix() - 1).unwrap();
        h.insert(header::COOKIE, format!("{COOKIE}={old}").parse().unwrap());
        assert!(!s.admits(&h), "expired");
        let other = Session::new(Some("other")).value(now_unix() + 60).unwrap();
        h.insert(header::COOKIE, format!("{COOKIE}={other}").parse().unwrap());
        assert!(!s.admits(&h), "another token's cookie");
        let (exp, _) = v.split_once('.').unwrap();
        let forged = format!(
            "{}.{}",
            exp.parse::<u64>().unwrap() + 3600,
            &v[exp.len() + 1..]
        );
        h.insert(
            header::COOKIE,
            format!("{COOKIE}={forged}").parse().unwrap(),
        );
        assert!(!s.admits(&h), "a later expiry with the same MAC");
        h.insert(header::COOKIE, format!("{COOKIE}=s3cret").parse().unwrap());
        assert!(!s.admits(&h), "the token itself is not a cookie");
        assert!(!s.admits(&HeaderMap::new()));
    }

    #[test]
    fn the_token_check_takes_only_the_token() {
        let s = Session::new(Some("s3cret"));
        assert!(s.is_token("s3cret"));
        for wrong in ["", "s3cre", "s3cret ", "S3CRET"] {
            assert!(!s.is_token(wrong), "{wrong:?}");
        }
        let open = Session::new(None);
        assert!(!open.required() && open.admits(&HeaderMap::new()));
    }
}
