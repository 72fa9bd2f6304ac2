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
