#!/usr/bin/env python3
"""One h2load run as the RESULT line that ../shared/bench/mix.lua prints for wrk.

Usage: h2result.py H2LOAD_OUTPUT LOG_FILE   (LOG_FILE: h2load --log-file, one request a line:
start time, status, microseconds to the end of the response; status -1 for a request that
failed without a response)

h2load prints no percentiles, so p50/p90/p99/max come from the log. rps is h2load's own figure
(completed requests over the measured duration); n451 is exact, which lets ratio.py count the
non-2xx answers other than 451 without an estimate; sockerr is h2load's errored + timeout.
"""
import re
import sys


def percentile(sorted_v, p):
    if not sorted_v:
        return 0
    return sorted_v[min(len(sorted_v) - 1, int(len(sorted_v) * p / 100))]


def main(out_path, log_path):
    text = open(out_path, encoding="utf-8", errors="replace").read()
    fin = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                    r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if not (fin and req and codes):
        sys.exit(f"h2result.py: no h2load summary in {out_path}")
    secs = float(fin.group(1)) / (1000 if fin.group(2) == "ms" else 1)
    done, errored, timeout = int(req.group(3)), int(req.group(6)), int(req.group(7))
    lat, n451 = [], 0
    with open(log_path) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) < 3 or parts[1].strip() == "-1":
                continue
            if parts[1].strip() == "451":
                n451 += 1
            lat.append(int(parts[2]))
    lat.sort()
    print(f"RESULT requests={done - errored} duration_us={int(secs * 1e6)} rps={float(fin.group(3)):.1f}"
          f" p50_us={percentile(lat, 50)} p90_us={percentile(lat, 90)} p99_us={percentile(lat, 99)}"
          f" max_us={lat[-1] if lat else 0} non2xx3xx={int(codes.group(3)) + int(codes.group(4))}"
          f" sockerr={errored + timeout} n451={n451}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
