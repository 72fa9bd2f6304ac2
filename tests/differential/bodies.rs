//! The body constructions of the differential suite: bodies naming another identifier on
//! routes that do not read the body, and bodies that are one type to the gateway and another
//! to a reader that trusts the declared Content-Type (docs/differential.md).

use super::cases::*;

/// Bodies naming another identifier on routes whose identifier is in the path or the query.
pub fn unread_bodies() -> Vec<Case> {
    let mp = format!("/mp/wechat/login?appid={FILED_WX}");
    let multipart = format!(
        "--diffbound7q\r\nContent-Disposition: form-data; name=\"appid\"\r\n\r\n{UNFILED_WX}\r\n--diffbound7q--\r\n"
    );
    let update = format!("/v1/android/apps/{FILED}/update");
    let rows: Vec<(&'static str, String, String, String)> = vec![
        (
            "POST",
            mp.clone(),
            FORM.into(),
            format!("appid={UNFILED_WX}"),
        ),
        (
            "POST",
            mp.clone(),
            FORM.into(),
            format!("APPID={UNFILED_WX}"),
        ),
        (
            "POST",
            mp.clone(),
            JSON.into(),
            format!("{{\"appid\":\"{UNFILED_WX}\"}}"),
        ),
        (
            "POST",
            mp.clone(),
            "multipart/form-data; boundary=diffbound7q".into(),
            multipart,
        ),
        (
            "GET",
            mp.clone(),
            FORM.into(),
            format!("appid={UNFILED_WX}"),
        ),
        (
            "PUT",
            mp.clone(),
            FORM.into(),
            format!("appid={UNFILED_WX}"),
        ),
        (
            "GET",
            update.clone(),
            FORM.into(),
            format!("package={UNFILED}"),
        ),
        (
            "GET",
            update,
            JSON.into(),
            format!("{{\"package\":\"{UNFILED}\"}}"),
        ),
    ];
    rows.into_iter()
        .map(|(m, target, ct, body)| {
            case(
                "body-unread",
                &format!("{m} {target} [{ct}] {body:?}"),
                req(m, &target, &[("content-type", &ct)], body.as_bytes()),
            )
        })
        .collect()
}

/// Bodies that are one type to the gateway and another to a reader that trusts the declared
/// Content-Type.
pub fn content_types() -> Vec<Case> {
    let (f, u) = (FILED, UNFILED);
    let json_in_form = format!("{{\"package\":\"{u}\",\"x\":\"&package={f}&\"}}");
    let multipart_in_form =
        format!("package={f}&x=\r\n--diffbound7q\r\nContent-Disposition: form-data; name=\"package\"\r\n\r\n{u}\r\n--diffbound7q--\r\n");
    let form_in_json =
        format!("{{\"app\":{{\"platform\":\"android\",\"id\":\"{f}\"}},\"x\":\"&app[id]={u}&\"}}");
    let json = format!("{{\"app\":{{\"platform\":\"android\",\"id\":\"{f}\"}}}}");
    let rows: Vec<(&str, &str, String)> = vec![
        ("/v1/releases", JSON, json_in_form.clone()),
        (
            "/v1/releases",
            "application/problem+json",
            json_in_form.clone(),
        ),
        (
            "/v1/releases",
            "multipart/form-data; boundary=diffbound7q",
            multipart_in_form,
        ),
        ("/v1/releases", "text/plain", format!("package={f}")),
        ("/v1/uploads", FORM, form_in_json.clone()),
        ("/v1/uploads", "text/plain", json.clone()),
        (
            "/v1/uploads",
            "application/x-www-form-urlencoded; charset=utf-8",
            form_in_json,
        ),
    ];
    let mut out = vec![
        Case {
            control: Some(FILED),
            ..case(
                "content-type",
                "control: form",
                req(
                    "POST",
                    "/v1/releases",
                    &[("content-type", FORM)],
                    format!("package={f}").as_bytes(),
                ),
            )
        },
        Case {
            control: Some(FILED),
            ..case(
                "content-type",
                "control: json",
                req(
                    "POST",
                    "/v1/uploads",
                    &[("content-type", JSON)],
                    json.as_bytes(),
                ),
            )
        },
    ];
    for (path, ct, body) in rows {
        out.push(case(
            "content-type",
            &format!("{path} [{ct}] {body:?}"),
            req("POST", path, &[("content-type", ct)], body.as_bytes()),
        ));
    }
    out
}

/// JSON object keys that a lenient binder (Go's `encoding/json`: simple Unicode folding, the
/// last duplicate wins; fastjson's smart match: ASCII case without `_` and `-`) reads as a
/// pointer token and JavaScript, Python and PHP read as another key: on `upload-metadata` (`/app/id`) and `package-metadata` (`/package`,
/// whose `k` the Kelvin sign U+212A folds to), each with a control holding the exact keys.
pub fn json_keys() -> Vec<Case> {
    let (f, u) = (FILED, UNFILED);
    let app = |inner: &str| format!("{{\"app\":{{\"platform\":\"android\",{inner}}}}}");
    let uploads = [
        app(&format!("\"id\":\"{f}\",\"ID\":\"{u}\"")),
        app(&format!("\"ID\":\"{u}\",\"id\":\"{f}\"")),
        app(&format!("\"ID\":\"{u}\"")),
        app(&format!("\"id\":\"{f}\",\"Id\":\"{u}\"")),
        app(&format!("\"id\":\"{f}\",\"\\u0049D\":\"{u}\"")),
        app(&format!("\"id\":\"{f}\",\"ID\":null")),
        app(&format!("\"ID\":7,\"id\":\"{f}\"")),
        format!("{{\"APP\":{{\"platform\":\"android\",\"id\":\"{u}\"}}}}"),
        format!(
            "{{\"app\":{{\"platform\":\"android\",\"id\":\"{f}\"}},\"App\":{{\"platform\":\"android\",\"id\":\"{u}\"}}}}"
        ),
        format!(
            "{{\"App\":{{\"platform\":\"android\",\"id\":\"{u}\"}},\"app\":{{\"platform\":\"android\",\"id\":\"{f}\"}}}}"
        ),
        // Go folds no dotless i: the stacks agree, the gateway refuses it all the same.
        app(&format!("\"id\":\"{f}\",\"\u{131}d\":\"{u}\"")),
        // fastjson's smart match binds these to `id` (ASCII case, `_` and `-` left out).
        app(&format!("\"id\":\"{f}\",\"i_d\":\"{u}\"")),
        app(&format!("\"_id\":\"{u}\",\"id\":\"{f}\"")),
        app(&format!("\"ID-\":\"{u}\"")),
    ];
    let packages = [
        format!("{{\"package\":\"{f}\",\"PACKAGE\":\"{u}\"}}"),
        format!("{{\"Package\":\"{u}\"}}"),
        format!("{{\"package\":\"{f}\",\"pac\\u212Aage\":\"{u}\"}}"),
        format!("{{\"pac\\u212Aage\":\"{u}\"}}"),
        format!("{{\"package\":\"{f}\",\"pac\u{212A}age\":\"{u}\"}}"),
        format!("{{\"PAC\u{212A}AGE\":\"{u}\",\"package\":\"{f}\"}}"),
        // Greek kappa folds to no `k`: another key to every stack.
        format!("{{\"package\":\"{f}\",\"pac\u{3BA}age\":\"{u}\"}}"),
        format!("{{\"package\":\"{f}\",\"pack_age\":\"{u}\"}}"),
        format!("{{\"PACK-AGE\":\"{u}\",\"package\":\"{f}\"}}"),
        format!("{{\"package\":\"{f}\",\"_package\":\"{u}\"}}"),
    ];
    let controls = [
        ("/v1/uploads", app(&format!("\"id\":\"{f}\""))),
        ("/v1/metadata", format!("{{\"package\":\"{f}\"}}")),
    ];
    let mut out: Vec<Case> = controls
        .into_iter()
        .map(|(path, body)| Case {
            control: Some(FILED),
            ..case(
                "json-key",
                &format!("control: {path} {body}"),
                req("POST", path, &[("content-type", JSON)], body.as_bytes()),
            )
        })
        .collect();
    let rows = uploads.iter().map(|b| ("/v1/uploads", b));
    for (path, body) in rows.chain(packages.iter().map(|b| ("/v1/metadata", b))) {
        out.push(case(
            "json-key",
            &format!("{path} {body}"),
            req("POST", path, &[("content-type", JSON)], body.as_bytes()),
        ));
    }
    out
}

/// Form names repeated between the body and the query, and form bodies on any method: Go's
/// `FormValue` takes the first value, the body's before the query's for a urlencoded body and
/// the query's before the body's for a multipart one; `ParseForm` reads a urlencoded body for
/// POST, PUT and PATCH only, `ParseMultipartForm` a multipart body for any method, and a body
/// pair holding `;` is dropped.
pub fn forms() -> Vec<Case> {
    let (f, u) = (FILED, UNFILED);
    let multipart = |name: &str, value: &str| {
        format!("--diffbound7q\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--diffbound7q--\r\n")
    };
    let mp = "multipart/form-data; boundary=diffbound7q";
    let rel = |q: &str| format!("/v1/releases{q}");
    let login = format!("/mp/wechat/login?appid={FILED_WX}");
    let app_json = format!("{{\"app\":{{\"platform\":\"android\",\"id\":\"{f}\"}}}}");
    let rows: Vec<(&'static str, String, &str, String)> = vec![
        (
            "POST",
            rel(&format!("?package={f}")),
            FORM,
            format!("package={u}"),
        ),
        ("POST", rel(""), FORM, format!("package={f}&package={u}")),
        ("POST", rel(""), FORM, format!("package={u}&package={f}")),
        ("POST", rel(""), FORM, format!("package={f};package={u}")),
        (
            "POST",
            rel(""),
            FORM,
            format!("x=1;package={u}&package={f}"),
        ),
        (
            "POST",
            rel(&format!("?package={f}")),
            mp,
            multipart("package", u),
        ),
        (
            "POST",
            rel(&format!("?package={u}")),
            mp,
            multipart("package", f),
        ),
        // The query names the body's identifier: merging stacks (Flask `request.values`, Go
        // `FormValue` with a JSON body, PHP `$_GET`/`$_REQUEST`) read the query's.
        (
            "POST",
            rel(&format!("?package={u}")),
            FORM,
            format!("package={f}"),
        ),
        (
            "POST",
            format!("/v1/metadata?package={u}"),
            JSON,
            format!("{{\"package\":\"{f}\"}}"),
        ),
        (
            "POST",
            format!("/v1/uploads?app[id]={u}"),
            JSON,
            app_json.clone(),
        ),
        ("POST", format!("/v1/uploads?app.id={u}"), JSON, app_json),
        ("PATCH", login.clone(), FORM, format!("appid={UNFILED_WX}")),
        ("DELETE", login.clone(), FORM, format!("appid={UNFILED_WX}")),
        ("GET", login.clone(), mp, multipart("appid", UNFILED_WX)),
        ("PATCH", login, mp, multipart("appid", UNFILED_WX)),
    ];
    rows.into_iter()
        .map(|(m, target, ct, body)| {
            case(
                "form",
                &format!("{m} {target} [{ct}] {body:?}"),
                req(m, &target, &[("content-type", ct)], body.as_bytes()),
            )
        })
        .collect()
}
