//! `icpgate check-snapshot FILE`: load a snapshot file exactly as `serve` would and say what it
//! holds, what it rejected (file and line), how long the load took and what it costs in memory.
//!
//! Owns only the report; loading is `index::load_snapshot`, the gateway's own path.
//! Must not: stop at a bad line (the load rejects, names and counts it), or print a figure it
//! did not measure in this process.
//! Invariant: exit 0 when every line loaded, 1 when some were rejected, 65 when the file cannot
//! be read.

use icpgate::filing::{Platform, Status};
use icpgate::index::{load_snapshot, LoadReport, Revision};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// `field` of /proc/self/status or /proc/self/smaps_rollup, in MiB (0 where unavailable).
fn proc_mib(file: &str, field: &str) -> f64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn summary(path: &Path, rev: &Revision, report: &LoadReport, secs: f64) -> serde_json::Value {
    let s = &rev.stats;
    let by_platform: serde_json::Map<String, serde_json::Value> = Platform::ALL
        .iter()
        .filter(|p| s.ids_by[**p as usize] > 0)
        .map(|p| (p.as_str().to_string(), s.ids_by[*p as usize].into()))
        .collect();
    let by_status: serde_json::Map<String, serde_json::Value> = Status::ALL
        .iter()
        .map(|st| {
            let n: u64 = s.records_by.iter().map(|row| row[*st as usize]).sum();
            (st.as_str().to_string(), n.into())
        })
        .collect();
    serde_json::json!({
        "file": path.display().to_string(),
        "accepted": report.accepted,
        "rejected": report.rejected,
        "ids": s.ids,
        "ids_by_platform": by_platform,
        "platform_listings_by_status": by_status,
        "entities": s.entities,
        "load_seconds": (secs * 1000.0).round() / 1000.0,
        "index_bytes": s.store_bytes + s.entity_bytes + s.map_bytes + s.filter_bytes + 4 * s.records,
        "rss_mib": proc_mib("/proc/self/status", "VmRSS:").round(),
        "peak_rss_mib": proc_mib("/proc/self/status", "VmHWM:").round(),
        "huge_pages_mib": proc_mib("/proc/self/smaps_rollup", "AnonHugePages:").round(),
    })
}

pub fn run(path: &Path, json: bool) -> ExitCode {
    let t = Instant::now();
    let (rev, report) = match load_snapshot(path, 1, icpgate::config::DEFAULT_BLOOM) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(65);
        }
    };
    let out = summary(path, &rev, &report, t.elapsed().as_secs_f64());
    for r in &report.rejected_lines {
        eprintln!("{}:{}: rejected: {}", path.display(), r.line, r.reason);
    }
    if report.rejected > report.rejected_lines.len() as u64 {
        eprintln!(
            "{}: {} more rejected lines not shown",
            path.display(),
            report.rejected - report.rejected_lines.len() as u64
        );
    }
    if json {
        out!("{out}");
    } else {
        out!(
            "{}: {} records loaded, {} rejected; {} ids {}; {} entities; loaded in {:.2} s; \
             index {:.0} MiB, RSS {} MiB (peak {} MiB, on huge pages {} MiB)",
            path.display(),
            out["accepted"],
            out["rejected"],
            out["ids"],
            out["ids_by_platform"],
            out["entities"],
            out["load_seconds"].as_f64().unwrap_or_default(),
            out["index_bytes"].as_u64().unwrap_or_default() as f64 / (1024.0 * 1024.0),
            out["rss_mib"],
            out["peak_rss_mib"],
            out["huge_pages_mib"],
        );
    }
    if report.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
