//! The request constructions of the differential suite that need neither a body nor a
//! package: paths, query names and header aliases (the classes of docs/differential.md), and
//! the `Case` they are built into. Each builder returns plain `Case` values; adding a case is
//! adding a line.

use super::client::Req;

pub const FILED: &str = "io.github.benderblog.traintime_pda";
pub const FILED_NUMBER: &str = "陕ICP备2024026116号-1A";
pub const UNFILED: &str = "com.nobody.unfiled";
pub const REVOKED: &str = "com.example.revokedapp";
pub const FILED_WX: &str = "wx84c222762738ce75";
pub const FILED_WX_NUMBER: &str = "京ICP备2026059598号-1X";
pub const UNFILED_WX: &str = "wx1111111111111111";
pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";

#[derive(Clone)]
pub struct Case {
    pub class: &'static str,
    pub name: String,
    pub req: Req,
    /// A control: the gateway must allow it and every reader must read this identifier
    /// (proves the readers read what the judged cases rely on).
    pub control: Option<&'static str>,
}

pub fn req(method: &'static str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Req {
    Req {
        method,
        target: target.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
        h2: false,
    }
}

pub fn case(class: &'static str, name: &str, req: Req) -> Case {
    Case {
        class,
        name: name.to_string(),
        req,
        control: None,
    }
}

/// Dot-segment walks from the `off` and `monitor` prefixes into enforced routes, each in
/// origin-form, absolute-form and over HTTP/2.
pub fn paths() -> Vec<Case> {
    let u = UNFILED;
    let walks = [
        format!("/static/../v1/android/apps/{u}/update"),
        format!("/static/%2e%2e/v1/android/apps/{u}/update"),
        format!("/static/%2E%2E/v1/android/apps/{u}/update"),
        format!("/static/.%2e/v1/android/apps/{u}/update"),
        format!("/static/%2e./v1/android/apps/{u}/update"),
        format!("/static/%2e%2e%2fv1/android/apps/{u}/update"),
        format!("/static/..%2fv1/android/apps/{u}/update"),
        format!("/static/..%2Fv1/android/apps/{u}/update"),
        format!("/static/..%5cv1/android/apps/{u}/update"),
        format!("/static/./../v1/android/apps/{u}/update"),
        format!("/static/%2e/%2e%2e/v1/android/apps/{u}/update"),
        format!("/static//../v1/android/apps/{u}/update"),
        format!("/static/x/../../v1/android/apps/{u}/update"),
        format!("/static/..;/v1/android/apps/{u}/update"),
        format!("/static/%252e%252e/v1/android/apps/{u}/update"),
        format!("/v1/harmony/../android/apps/{u}/update"),
        format!("/v1/harmony/%2e%2e/android/apps/{u}/update"),
        format!("/v1/harmony/..%2fandroid/apps/{u}/update"),
        format!("/static/../v1/android/apps/{REVOKED}/update"),
        format!("/static/../v1/android/apps/{u}"),
        format!("/static/../mp/wechat/login?appid={UNFILED_WX}"),
        format!("/static/%2e%2e/mp/wechat/login?appid={UNFILED_WX}"),
        format!("/v1/android/apps/{FILED}/update/../../{u}/update"),
        format!("/v1/android/apps/{FILED}/../{u}/update"),
        format!("/v1/android/apps/{FILED}%2f..%2f{u}/update"),
    ];
    let mut out = vec![Case {
        control: Some(FILED),
        ..case(
            "path",
            "control: filed path",
            req("GET", &format!("/v1/android/apps/{FILED}/update"), &[], b""),
        )
    }];
    for w in &walks {
        out.push(case(
            "path",
            &format!("origin {w}"),
            req("GET", w, &[], b""),
        ));
        let abs = format!("http://localhost{w}");
        out.push(case(
            "path",
            &format!("absolute {w}"),
            req("GET", &abs, &[], b""),
        ));
        let mut h2 = req("GET", w, &[], b"");
        h2.h2 = true;
        out.push(case("path", &format!("h2 {w}"), h2));
    }
    let header_walk = "/static/../v1/apps/current";
    for h2 in [false, true] {
        let mut r = req("GET", header_walk, &[("x-app-id", u)], b"");
        r.h2 = h2;
        let how = if h2 { "h2" } else { "origin" };
        out.push(case(
            "path",
            &format!("{how} {header_walk} x-app-id: unfiled"),
            r,
        ));
    }
    out.push(case(
        "path",
        "origin raw backslash /static/..\\v1/…",
        req(
            "GET",
            &format!("/static/..\\v1/android/apps/{u}/update"),
            &[],
            b"",
        ),
    ));
    out
}

/// Second spellings of the mini-program route's `appid` query parameter.
pub fn query_names() -> Vec<Case> {
    let (f, u) = (FILED_WX, UNFILED_WX);
    let queries = [
        format!("appid={f}&appid={u}"),
        format!("appid={f}&APPID={u}"),
        format!("APPID={u}&appid={f}"),
        format!("AppId={u}&appid={f}"),
        format!("appId={u}&appid={f}"),
        format!("appid={f}&appid[]={u}"),
        format!("appid[]={u}&appid={f}"),
        format!("appid={f}&appid[0]={u}"),
        format!("appid={f}&appid%5B%5D={u}"),
        format!("appid={f}&%20appid={u}"),
        format!("appid={f}&+appid={u}"),
        format!("appid={f}&appid%00={u}"),
        format!("appid={f}&%61ppid={u}"),
        format!("x=1;appid={u}&appid={f}"),
        format!("appid={f};appid={u}"),
        format!("appid={f}&appid={u};x=1"),
        format!("appid={f}&x=1;APPID={u}"),
        format!("appid={u};&appid={f}"),
        format!("appid={f}&appid={u};"),
        format!("appid={f};x=1"),
        format!("x=1;y=2&appid={f}"),
    ];
    let mut out = vec![
        Case {
            control: Some(FILED_WX),
            ..case(
                "query",
                "control: appid filed",
                req("GET", &format!("/mp/wechat/login?appid={f}"), &[], b""),
            )
        },
        case(
            "query",
            "appid unfiled",
            req("GET", &format!("/mp/wechat/login?appid={u}"), &[], b""),
        ),
    ];
    for q in queries {
        out.push(case(
            "query",
            &q,
            req("GET", &format!("/mp/wechat/login?{q}"), &[], b""),
        ));
    }
    out
}

/// Header spellings that CGI, WSGI, PHP and nginx read as the route's header.
pub fn header_aliases() -> Vec<Case> {
    let (f, u) = (FILED, UNFILED);
    let cur = "/v1/apps/current";
    let mp = "/mp/wechat/login";
    let json = format!("{{\"app\":{{\"platform\":\"android\",\"id\":\"{f}\"}}}}");
    let mut out = vec![
        Case {
            control: Some(FILED),
            ..case(
                "header",
                "control: x-app-id filed",
                req("GET", cur, &[("x-app-id", f)], b""),
            )
        },
        case(
            "header",
            "x-app-id + x_app_id",
            req("GET", cur, &[("x-app-id", f), ("x_app_id", u)], b""),
        ),
        case(
            "header",
            "x_app_id + x-app-id",
            req("GET", cur, &[("x_app_id", u), ("x-app-id", f)], b""),
        ),
        case(
            "header",
            "X-App-Id + X_APP_ID",
            req("GET", cur, &[("X-App-Id", f), ("X_APP_ID", u)], b""),
        ),
        case(
            "header",
            "x-app-id twice",
            req("GET", cur, &[("x-app-id", f), ("x-app-id", u)], b""),
        ),
        case(
            "header",
            "x_app_id alone",
            req("GET", cur, &[("x_app_id", u)], b""),
        ),
        case(
            "header",
            "Connection: x-app-id, then x_app_id",
            req(
                "GET",
                cur,
                &[
                    ("connection", "close, x-app-id"),
                    ("x-app-id", f),
                    ("x_app_id", u),
                ],
                b"",
            ),
        ),
        case(
            "header",
            "Connection: x-app-id alone",
            req(
                "GET",
                cur,
                &[("connection", "close, x-app-id"), ("x-app-id", f)],
                b"",
            ),
        ),
        case(
            "header",
            "query appid + x_mp_appid",
            req(
                "GET",
                &format!("{mp}?appid={FILED_WX}"),
                &[("x_mp_appid", UNFILED_WX)],
                b"",
            ),
        ),
        case(
            "header",
            "x-mp-appid + x_mp_appid",
            req(
                "GET",
                mp,
                &[("x-mp-appid", FILED_WX), ("x_mp_appid", UNFILED_WX)],
                b"",
            ),
        ),
        case(
            "header",
            "Connection: x-mp-appid + query",
            req(
                "GET",
                &format!("{mp}?appid={FILED_WX}"),
                &[
                    ("connection", "close, x-mp-appid"),
                    ("x-mp-appid", FILED_WX),
                ],
                b"",
            ),
        ),
        case(
            "header",
            "JSON /app/id + x_app_id",
            req(
                "POST",
                "/v1/uploads",
                &[("content-type", JSON), ("x_app_id", u)],
                json.as_bytes(),
            ),
        ),
        case(
            "header",
            "JSON /app/id + Connection: x-app-id + x_app_id",
            req(
                "POST",
                "/v1/uploads",
                &[
                    ("content-type", JSON),
                    ("connection", "close, x-app-id"),
                    ("x-app-id", f),
                    ("x_app_id", u),
                ],
                json.as_bytes(),
            ),
        ),
    ];
    let mut h2 = req("GET", cur, &[("x-app-id", f), ("x_app_id", u)], b"");
    h2.h2 = true;
    out.push(case("header", "h2 x-app-id + x_app_id", h2));
    out
}
