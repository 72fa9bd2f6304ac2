#!/usr/bin/env python3
"""The ratio tables of benches/gates.sh: icpgate against the better of the nginx and HAProxy gates.

Usage: ratio.py RESULT_DIR [RESULT_DIR ...]   (several directories are pooled)

A RESULT_DIR is what benches/gates.sh writes (raw.tsv with a `bench` column, and run.sh's
results under http/) or what ../shared/bench/run.sh writes (raw.tsv without one: bench `http`).
For every bench (http, tls, h2, post) and mode (split, shared) it prints one table, per
contender: median req/s [min-max], the ratio to the better peer (the nginx or HAProxy gate with
the higher median req/s), p50, p99 and the p99 ratio to that peer's, non-2xx answers other than
the expected 451s, socket errors, RSS/PSS after the load and the time to listen; then the
data-path goal checks and, at the end, one line per bench and mode.

Expected 451s: the request mix sends every 10th request with an unfiled id, so a gate answers
451 to 10% of the requests it completes. h2load rows carry the exact count of 451s (from its
per-request log); for wrk rows only the non-2xx count is known, and any contiguous stretch of
the mix has 10% unfiled ids give or take one per wrk thread, plus one in-flight request per
connection at the end, so a count within CONNS + WRK_THREADS of 10% is exact agreement and
anything past it is reported (positive: other errors; negative: unfiled ids that were not
refused).
"""
import csv
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

PEERS = ("nginx-gate", "haproxy-gate")
GATED = {"nginx-gate", "haproxy-gate", "icpgate"}
UNFILED_SHARE = 0.1
SUITE_OF = {"http": "http", "tls": "tls", "h2": "tls", "post": "post"}
TITLE = {
    "http": "plain HTTP/1.1 GET, wrk (../shared/bench/run.sh)",
    "tls": "HTTP/1.1 GET over TLS, wrk",
    "h2": "HTTP/2 GET over TLS, h2load",
    "post": "POST with a JSON body id, wrk",
}
GOAL_RPS = 1.10


def read_tsv(p):
    with open(p, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def wrk_tolerance(meta):
    """CONNS + WRK_THREADS from a meta.txt, else run.sh's defaults."""
    text = meta.read_text() if meta.exists() else ""
    conns = re.search(r"\bCONNS=(\d+)", text)
    threads = re.search(r"\bWRK_THREADS=(\d+)", text)
    return (int(conns.group(1)) if conns else 64) + (int(threads.group(1)) if threads else 2)


def load(out_dirs):
    """Rows of every raw.tsv, and memory / listen times keyed by (suite, mode, server)."""
    rows, mem_l, start_l = [], defaultdict(list), defaultdict(list)
    for od in out_dirs:
        for d in (Path(od), Path(od) / "http"):
            if not (d / "raw.tsv").exists():
                continue
            tol = wrk_tolerance(d / "meta.txt")
            for r in read_tsv(d / "raw.tsv"):
                r.setdefault("bench", "http")
                if not r.get("tol"):
                    r["tol"] = str(tol)
                rows.append(r)
            for r in read_tsv(d / "mem.tsv") if (d / "mem.tsv").exists() else []:
                if r["when"] == "after_load":
                    key = (r.get("suite", "http"), r["mode"], r["server"])
                    mem_l[key].append((int(r["rss_kb"]), int(r["pss_kb"])))
            for r in read_tsv(d / "startup.tsv") if (d / "startup.tsv").exists() else []:
                start_l[(r.get("suite", "http"), r["mode"], r["server"])].append(int(r["listen_ms"]))
    mem = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in mem_l.items()}
    start = {k: int(statistics.median(v)) for k, v in start_l.items()}
    return rows, mem, start


def unexpected(r):
    """Non-2xx answers beyond the expected 451s in one run (0 when within the tolerance)."""
    non2xx, requests = int(r["non2xx"]), int(r["requests"])
    gated = r["contender"] in GATED
    expected = round(requests * UNFILED_SHARE) if gated else 0
    tol = int(r["tol"])
    if r.get("n451", "") != "":
        other = non2xx - int(r["n451"])  # exact: every non-2xx that is not a 451
        missing = expected - int(r["n451"]) if gated else 0
        return other if other or abs(missing) <= tol else -missing
    diff = non2xx - expected
    return 0 if gated and abs(diff) <= tol else diff  # a plain proxy owes no 451 at all


class Stats:
    def __init__(self, rs):
        self.rps = [float(r["rps"]) for r in rs]
        self.p99 = [float(r["p99_us"]) for r in rs]
        self.rps_med = statistics.median(self.rps)
        self.p99_med = statistics.median(self.p99)
        self.p50_med = statistics.median(float(r["p50_us"]) for r in rs)
        self.other = sum(unexpected(r) for r in rs)
        self.sockerr = sum(int(r["sockerr"]) for r in rs)
        self.busy = statistics.median(float(r["busy_pct"]) for r in rs)
        self.foreign = max(float(r["foreign_pct"]) for r in rs)
        self.n = len(rs)


def table(bench, mode, by, mem, start):
    cs = list(by)
    st = {c: Stats(by[c]) for c in cs}
    peers = [c for c in PEERS if c in st]
    best = max(peers, key=lambda c: st[c].rps_med) if peers else None
    suite = SUITE_OF.get(bench, bench)
    print()
    print(f"== {bench}: {TITLE.get(bench, bench)}   mode={mode}   "
          f"(runs per contender: {max(s.n for s in st.values())}; median [min-max])")
    hdr = (f"{'contender':<14} {'req/s median [min-max]':>28} {'x peer':>6} {'p50 us':>7} "
           f"{'p99 us med [min-max]':>22} {'p99 x peer':>10} {'other non2xx':>12} {'sockerr':>7} "
           f"{'RSS MB':>7} {'PSS MB':>7} {'listen ms':>9} {'busy%':>5} {'frgn%':>5}")
    print(hdr)
    print("-" * len(hdr))
    for c in cs:
        s = st[c]
        server = "upstream" if c == "direct" else c
        rss, pss = mem.get((suite, mode, server), (0, 0))
        xr = f"{s.rps_med / st[best].rps_med:.2f}" if best else "-"
        xp = f"{s.p99_med / st[best].p99_med:.2f}" if best and st[best].p99_med else "-"
        rng = f"{s.rps_med:,.0f} [{min(s.rps):,.0f}-{max(s.rps):,.0f}]"
        prng = f"{s.p99_med:,.0f} [{min(s.p99):,.0f}-{max(s.p99):,.0f}]"
        print(f"{c:<14} {rng:>28} {xr:>6} {s.p50_med:>7,.0f} {prng:>22} {xp:>10} {s.other:>12,} "
              f"{s.sockerr:>7,} {rss / 1024:>7.1f} {pss / 1024:>7.1f} {start.get((suite, mode, server), ''):>9} "
              f"{s.busy:>5.0f} {s.foreign:>5.1f}")
    spread = [(max(s.rps) - min(s.rps)) / s.rps_med * 100 for s in st.values() if s.rps_med]
    if spread:
        print(f"noise: max-min spread of req/s per contender = {min(spread):.1f}% .. {max(spread):.1f}% of median")
    if "icpgate" not in st or not best:
        return None
    me, peer = st["icpgate"], st[best]
    rss, _ = mem.get((suite, mode, "icpgate"), (0, 0))
    _, ng_pss = mem.get((suite, mode, "nginx-gate"), (0, 0))
    checks = [
        (f"req/s {me.rps_med / peer.rps_med:.2f}x {best} (>= {GOAL_RPS:.2f}x)", me.rps_med >= GOAL_RPS * peer.rps_med),
        (f"p99 {me.p99_med / 1000:.2f} ms vs {peer.p99_med / 1000:.2f} ms (<=)", me.p99_med <= peer.p99_med),
        (f"other non-2xx {me.other}", me.other == 0),
        (f"socket errors {me.sockerr}", me.sockerr == 0),
    ]
    if rss and ng_pss:
        checks.append((f"RSS {rss / 1024:.0f} MB vs nginx-gate PSS {ng_pss / 1024:.0f} MB (<=)", rss <= ng_pss))
    print("goal: " + "; ".join(f"{text}: {'met' if ok else 'MISSED'}" for text, ok in checks))
    return (bench, mode, me, best, peer, all(ok for _, ok in checks))


def main(out_dirs):
    rows, mem, start = load(out_dirs)
    if not rows:
        sys.exit(f"ratio.py: no raw.tsv under {' '.join(out_dirs)}")
    if len(out_dirs) > 1:
        print(f"pooled over {len(out_dirs)} result directories: " + " ".join(Path(o).name for o in out_dirs))
    groups = defaultdict(lambda: defaultdict(list))
    order = []
    for r in rows:
        key = (r["bench"], r["mode"])
        if key not in groups:
            order.append(key)
        groups[key][r["contender"]].append(r)
    bench_rank = {b: i for i, b in enumerate(TITLE)}
    first_seen = {k: i for i, k in enumerate(order)}
    order.sort(key=lambda k: (bench_rank.get(k[0], 99), first_seen[k]))
    summary = [s for key in order if (s := table(*key, groups[key], mem, start))]
    if summary:
        print()
        print("== summary: icpgate against the better peer (goal: >= 1.10x req/s, p99 <= the peer's,")
        print("   no non-2xx but the expected 451s, no socket errors, RSS <= nginx-gate PSS)")
        for bench, mode, me, best, peer, ok in summary:
            print(f"{bench:<5} {mode:<7} icpgate {me.rps_med:>9,.0f} req/s = {me.rps_med / peer.rps_med:.2f}x {best:<12}"
                  f" p99 {me.p99_med / 1000:5.2f} ms vs {peer.p99_med / 1000:5.2f} ms   {'met' if ok else 'missed'}")
    print()
    print("x peer: median req/s (or p99) over the better peer's, the peer being whichever of nginx-gate and")
    print("        haproxy-gate has the higher median req/s in that table.")
    print("other non2xx: summed over runs, non-2xx answers other than the expected 451s (see ratio.py).")
    print("RSS/PSS: server process tree after the measured rounds; listen ms: exec to listening and ready.")
    print("busy%: median whole-machine CPU use (2 cores = 100%); frgn%: worst run's CPU use by other work.")


if __name__ == "__main__":
    main(sys.argv[1:] or ["."])
