use super::*;

fn upstream(servers: &str, extra: &str) -> UpstreamConfig {
    let keys = format!("servers = [{servers}]\n{extra}");
    let cfg = crate::config::parse_with_upstream("http://store.internal", &keys).unwrap();
    cfg.upstreams[0].clone()
}

fn peers(servers: &str, extra: &str) -> Peers {
    Peers::new(&upstream(servers, extra), Arc::new(Metrics::new()))
}

const THREE: &str = r#""10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80""#;

fn picks(p: &Peers, n: usize) -> Vec<usize> {
    (0..n).map(|_| p.pick(Tried::default()).unwrap()).collect()
}

fn series(p: &Peers, family: &str, server: &str) -> f64 {
    let text = p.metrics.render();
    let line = format!("{family}{{server=\"{server}\",upstream=\"store\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[test]
fn requests_go_round_robin() {
    let p = peers(THREE, "");
    assert_eq!(picks(&p, 6), [0, 1, 2, 0, 1, 2]);
}

#[test]
fn a_request_tries_each_server_once() {
    let p = peers(THREE, "");
    let mut tried = Tried::default();
    let mut seen = Vec::new();
    while let Some(i) = p.pick(tried) {
        tried.add(i);
        seen.push(i);
    }
    seen.sort();
    assert_eq!(seen, [0, 1, 2]);
}

#[test]
fn max_fails_failures_take_a_server_out_for_fail_timeout() {
    let p = peers(THREE, "max_fails = 2\nfail_timeout = \"1h\"");
    p.failed(1);
    assert_eq!(picks(&p, 3), [0, 1, 2], "one failure of two: still in");
    p.failed(1);
    assert_eq!(picks(&p, 4), [0, 2, 0, 2]);
    assert_eq!(
        series(&p, "icpgate_upstream_server_failures_total", "10.0.0.2:80"),
        2.0
    );
    assert_eq!(
        series(
            &p,
            "icpgate_upstream_server_marked_down_total",
            "10.0.0.2:80"
        ),
        1.0
    );
    assert_eq!(
        series(
            &p,
            "icpgate_upstream_server_marked_down_total",
            "10.0.0.1:80"
        ),
        0.0
    );
}

#[test]
fn an_answer_starts_the_failure_count_again() {
    let p = peers(THREE, "max_fails = 2\nfail_timeout = \"1h\"");
    p.failed(1);
    p.answered(1);
    p.failed(1);
    assert_eq!(picks(&p, 3), [0, 1, 2]);
}

#[test]
fn failures_further_apart_than_fail_timeout_do_not_add_up() {
    let p = peers(THREE, "max_fails = 2\nfail_timeout = \"1ms\"");
    p.failed(1);
    std::thread::sleep(Duration::from_millis(5));
    p.failed(1);
    assert_eq!(p.health[1].down_until.load(Relaxed), 0);
}

#[test]
fn a_server_comes_back_after_fail_timeout() {
    let p = peers(THREE, "fail_timeout = \"20ms\"");
    p.failed(0);
    assert_eq!(picks(&p, 4), [1, 2, 1, 2]);
    let until = p.health[0].down_until.load(Relaxed);
    while p.now_ms() < until {
        std::thread::yield_now();
    }
    assert_eq!(picks(&p, 3), [0, 1, 2]);
}

#[test]
fn with_every_server_out_the_one_back_soonest_is_tried() {
    let p = peers(THREE, "fail_timeout = \"1h\"");
    for i in [2, 0, 1] {
        p.failed(i);
    }
    assert!((0..3).all(|i| p.health[i].down_until.load(Relaxed) > p.now_ms()));
    // As if 2 went out first, then 0, then 1.
    let base = p.now_ms() + 60_000;
    for (i, at) in [(2, 0), (0, 1), (1, 2)] {
        p.health[i].down_until.store(base + at, Relaxed);
    }
    assert_eq!(p.pick(Tried::default()), Some(2));
    let mut tried = Tried::default();
    tried.add(2);
    assert_eq!(p.pick(tried), Some(0));
    // 2 answers: it is back in rotation at once, the others stay out.
    p.answered(2);
    assert_eq!(picks(&p, 3), [2, 2, 2]);
}

#[test]
fn a_lone_server_or_max_fails_0_is_never_taken_out() {
    let lone = peers(r#""10.0.0.1:80""#, "");
    for _ in 0..5 {
        lone.failed(0);
    }
    assert_eq!(lone.pick(Tried::default()), Some(0));
    assert_eq!(
        series(
            &lone,
            "icpgate_upstream_server_failures_total",
            "10.0.0.1:80"
        ),
        5.0
    );
    let never = peers(THREE, "max_fails = 0");
    for _ in 0..5 {
        never.failed(1);
    }
    assert_eq!(picks(&never, 3), [0, 1, 2]);
}
