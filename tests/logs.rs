//! The access log, the request id and the folding of repeated diagnostic events, on a gateway
//! started in-process (docs/logging.md).

mod common;

use common::{get, send};
use http::Request;
use http_body_util::Full;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

const ACCESS_LOG: &str = "[access_log]\npath = \"access.jsonl\"";

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_one_access_line_and_its_id_goes_everywhere() {
    let g = common::gateway_with(ACCESS_LOG, &[]).await;
    let c = common::client();
    let filed = format!(
        "{}/v1/android/apps/io.github.benderblog.traintime_pda/update",
        g.base
    );
    let with_id = |url: &str, id: &str| {
        Request::get(url)
            .header("x-request-id", id)
            .body(Full::default())
            .unwrap()
    };
    // A well-formed client id: kept, forwarded, echoed.
    let r = send(&c, with_id(&filed, "trace-1.a:b_c")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-request-id"], "trace-1.a:b_c");
    assert_eq!(g.up.requests()[0].headers["x-request-id"], "trace-1.a:b_c");
    // One that could break a log line: replaced, and the upstream sees the replacement.
    let r = send(&c, with_id(&format!("{filed}?x=1"), "a\"b")).await;
    let made = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(made.len(), 32, "{made}");
    let seen = &g.up.requests()[1].headers;
    assert_eq!(seen.get_all("x-request-id").iter().count(), 1);
    assert_eq!(seen["x-request-id"], made.as_str());
    // No id: made; in the 451 body and the audit record as well as the header.
    let r = get(
        &c,
        &format!("{}/v1/android/apps/com.unfiled.app/update", g.base),
    )
    .await;
    assert_eq!(r.status, 451);
    let blocked = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(r.json()["request_id"], blocked.as_str());
    assert_ne!(blocked, made);
    // The gateway's own 4xx and 5xx carry it too.
    let r = get(&c, &format!("{}/nowhere", g.base)).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["request_id"],
        r.headers["x-request-id"].to_str().unwrap()
    );
    let r = get(&c, &format!("{}/down/x", g.base)).await;
    assert_eq!(r.status, 502);
    assert_eq!(
        r.json()["request_id"],
        r.headers["x-request-id"].to_str().unwrap()
    );

    let (dir, audit) = (g.dir, g.audit.clone());
    g.running.shutdown();
    g.running.wait().await;
    let audit = lines(&audit);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["request_id"], blocked.as_str());

    let log = lines(&dir.path().join("access.jsonl"));
    assert_eq!(log.len(), 5, "{log:#?}");
    let ok = &log[0];
    assert_eq!(ok["request_id"], "trace-1.a:b_c");
    assert_eq!(ok["listener"], "public");
    assert_eq!(ok["route"], "android-update");
    assert_eq!(ok["method"], "GET");
    assert_eq!(
        ok["path"],
        "/v1/android/apps/io.github.benderblog.traintime_pda/update"
    );
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["decision"], "allow");
    assert_eq!(ok["code"], "filed");
    assert_eq!(ok["bytes_in"], 0);
    assert_eq!(ok["bytes_out"], "upstream-ok".len());
    assert_eq!(ok["upstream"], "store");
    let (total, up) = (
        ok["duration_ms"].as_f64().unwrap(),
        ok["upstream_ms"].as_f64().unwrap(),
    );
    assert!(total >= up && up > 0.0, "{ok}");
    assert!(ok["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(humantime::parse_rfc3339(ok["time"].as_str().unwrap()).is_ok());
    assert_eq!(log[1]["request_id"], made.as_str());
    let b = &log[2];
    assert_eq!(
        (&b["status"], &b["decision"], &b["code"], &b["request_id"]),
        (
            &451.into(),
            &"block".into(),
            &"not_filed".into(),
            &blocked.as_str().into()
        )
    );
    assert!(b["upstream"].is_null() && b["upstream_ms"].is_null());
    assert_eq!(
        (&log[3]["status"], &log[3]["code"]),
        (&404.into(), &"no_route".into())
    );
    assert!(log[3]["route"].is_null());
    assert_eq!(
        (&log[4]["status"], &log[4]["decision"], &log[4]["upstream"]),
        (&502.into(), &"error".into(), &"down".into())
    );
}

/// Events the gateway logged, as field maps.
type Events = Arc<Mutex<Vec<serde_json::Map<String, serde_json::Value>>>>;

struct Capture(Events);

struct Fields(serde_json::Map<String, serde_json::Value>);

impl Visit for Fields {
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().into(), v.into());
    }
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        self.0.insert(f.name().into(), format!("{v:?}").into());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, e: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut f = Fields(Default::default());
        e.record(&mut f);
        self.0.lock().unwrap().push(f.0);
    }
}

/// The process's log events from here on (one subscriber per test binary).
fn captured() -> Events {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS
        .get_or_init(|| {
            let events = Events::default();
            let subscriber = tracing_subscriber::registry().with(Capture(events.clone()));
            tracing::subscriber::set_global_default(subscriber).unwrap();
            events
        })
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_upstream_failures_are_a_handful_of_lines_with_the_count() {
    let events = captured();
    // Its own upstream name: other tests in this binary log failures of "down".
    let up = common::upstream().await;
    let text = common::config_text(up.addr, common::closed_port().await, "")
        .replace("\"down\"", "\"fold-down\"");
    let g = common::gateway_from(&text, up, &[], "http").await;
    let c = common::client();
    for _ in 0..1000 {
        assert_eq!(get(&c, &format!("{}/down/x", g.base)).await.status, 502);
    }
    let ours = |e: &serde_json::Map<String, serde_json::Value>| {
        let field = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("");
        field("event") == "upstream_connect_failed"
            && (field("upstream") == "fold-down" || field("key").starts_with("upstream=fold-down "))
    };
    // Every failure is in a line: its own, or the `repeated` count of a later one (the
    // flusher writes the tail of the burst once its interval is over).
    let deadline = Instant::now() + Duration::from_secs(40);
    let (lines, counted) = loop {
        let (lines, counted) = {
            let ev = events.lock().unwrap();
            let mine: Vec<_> = ev.iter().filter(|e| ours(e)).collect();
            let counted: u64 = mine
                .iter()
                .map(|e| {
                    let own = u64::from(e.contains_key("error"));
                    own + e.get("repeated").and_then(|v| v.as_u64()).unwrap_or(0)
                })
                .sum();
            (mine.len(), counted)
        };
        if counted >= 1000 || Instant::now() > deadline {
            break (lines, counted);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(counted, 1000, "{lines} lines");
    assert!((2..=8).contains(&lines), "{lines} lines for 1000 failures");
    let ev = events.lock().unwrap();
    let summary = ev
        .iter()
        .rfind(|e| ours(e) && !e.contains_key("error"))
        .expect("a summary line");
    let message = summary["message"].as_str().unwrap();
    assert!(
        message.contains("upstream=fold-down cause=connect repeated"),
        "{message}"
    );
}
