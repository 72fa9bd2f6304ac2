//! Registry exports: the NDJSON or CSV files a registry hands the publisher, read into
//! validated records.
//!
//! Owns the CSV column layout (docs/feed.md) and the merge of one-row-per-platform CSV into
//! records. Must not: publish anything with an invalid line in it; every problem is reported
//! with file, line and column.
//! Invariant: the records returned have unique filing numbers and are sorted by number.

use crate::filing::record::{from_wire, parse_line, WirePlatform, WireRecord, WireSigner};
use crate::filing::FilingRecord;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

/// The CSV header an export must start with.
pub const CSV_COLUMNS: [&str; 11] = [
    "number", "kind", "status", "entity", "app_name", "updated", "platform", "ids", "md5", "sha1",
    "sha256",
];

/// Problems found in an export; the build stops on any.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ExportErrors(pub Vec<String>);

fn list(s: &str) -> Vec<&str> {
    if s.trim().is_empty() {
        Vec::new()
    } else {
        s.split(';').map(str::trim).collect()
    }
}

fn csv_row_platform<'a>(row: &'a csv::StringRecord) -> Result<WirePlatform<'a>, String> {
    let col = |i: usize| row.get(i).unwrap_or("");
    let (md5, sha1, sha256) = (list(col(8)), list(col(9)), list(col(10)));
    let n = md5.len().max(sha1.len()).max(sha256.len());
    let pick = |v: &[&'a str], i: usize| {
        v.get(i)
            .filter(|s| !s.is_empty())
            .map(|s| Cow::Borrowed(*s))
    };
    let signers = (0..n)
        .map(|i| WireSigner {
            md5: pick(&md5, i),
            sha1: pick(&sha1, i),
            sha256: pick(&sha256, i),
        })
        .collect();
    Ok(WirePlatform {
        platform: Cow::Borrowed(col(6)),
        ids: list(col(7)).into_iter().map(Cow::Borrowed).collect(),
        signers,
    })
}

fn read_csv(path: &Path, text: &str, errors: &mut Vec<String>) -> Vec<(usize, FilingRecord)> {
    let name = path.display();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    match rdr.headers() {
        Ok(h) if h.iter().map(str::trim).eq(CSV_COLUMNS) => {}
        Ok(h) => {
            errors.push(format!(
                "{name}:1: header is {:?}, expected {:?}",
                h.iter().collect::<Vec<_>>(),
                CSV_COLUMNS
            ));
            return Vec::new();
        }
        Err(e) => {
            errors.push(format!("{name}:1: {e}"));
            return Vec::new();
        }
    }
    // Rows of one filing (one per platform) are merged; the filing-level columns must agree.
    let mut groups: BTreeMap<String, (usize, csv::StringRecord, Vec<csv::StringRecord>)> =
        BTreeMap::new();
    for row in rdr.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(format!("{name}:{line}: {e}"));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line() as usize);
        let key = row.get(0).unwrap_or("").to_string();
        match groups.get_mut(&key) {
            Some((first, head, rows)) => {
                for (i, col) in CSV_COLUMNS.iter().enumerate().take(6) {
                    if head.get(i) != row.get(i) {
                        errors.push(format!("{name}:{line}: column {col}: {:?} differs from line {first}'s {:?} for the same number", row.get(i).unwrap_or(""), head.get(i).unwrap_or("")));
                    }
                }
                rows.push(row);
            }
            None => {
                groups.insert(key, (line, row.clone(), vec![row]));
            }
        }
    }
    let mut out = Vec::new();
    for (line, head, rows) in groups.values() {
        let col = |i: usize| head.get(i).unwrap_or("");
        let platforms: Result<Vec<_>, String> = rows.iter().map(csv_row_platform).collect();
        let wire = platforms.map(|platforms| WireRecord {
            number: Cow::Borrowed(col(0)),
            kind: Some(col(1)).filter(|s| !s.is_empty()).map(Cow::Borrowed),
            status: Cow::Borrowed(col(2)),
            entity: Cow::Borrowed(col(3)),
            app_name: Cow::Borrowed(col(4)),
            updated: Some(col(5)).filter(|s| !s.is_empty()).map(Cow::Borrowed),
            platforms,
        });
        match wire.and_then(|w| from_wire(&w).map_err(|e| e.to_string())) {
            Ok(r) => out.push((*line, r)),
            Err(e) => errors.push(format!("{name}:{line}: {e}")),
        }
    }
    out
}

/// Reads an export: CSV when the file name ends in `.csv`, NDJSON otherwise.
pub fn read_export(path: &Path) -> Result<Vec<FilingRecord>, ExportErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ExportErrors(vec![format!("{}: cannot read: {e}", path.display())]))?;
    let mut errors = Vec::new();
    let rows: Vec<(usize, FilingRecord)> = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        read_csv(path, &text, &mut errors)
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .filter_map(|(i, l)| match parse_line(l) {
                Ok(r) => Some((i + 1, r)),
                Err(e) => {
                    errors.push(format!("{}:{}: {e}", path.display(), i + 1));
                    None
                }
            })
            .collect()
    };
    let mut by_number: BTreeMap<String, (usize, FilingRecord)> = BTreeMap::new();
    for (line, r) in rows {
        let key = r.number.to_string();
        if let Some((first, _)) = by_number.get(&key) {
            errors.push(format!(
                "{}:{line}: duplicate filing number {key} (first on line {first})",
                path.display()
            ));
        } else {
            by_number.insert(key, (line, r));
        }
    }
    if !errors.is_empty() {
        errors.truncate(50);
        return Err(ExportErrors(errors));
    }
    Ok(by_number.into_values().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_merge_per_filing_and_errors_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.csv");
        std::fs::write(
            &p,
            "number,kind,status,entity,app_name,updated,platform,ids,md5,sha1,sha256\n\
             陕ICP备2024026116号-1A,app,active,西安电子科技大学,XDYou,2024-03-01T00:00:00Z,ios,xyz.superbart.xdyou,,aabbccddeeff00112233445566778899aabbccdd,\n\
             陕ICP备2024026116号-1A,app,active,西安电子科技大学,XDYou,2024-03-01T00:00:00Z,android,io.github.benderblog.traintime_pda;io.github.x,00112233445566778899aabbccddeeff,,\n",
        )
        .unwrap();
        let recs = read_export(&p).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].platforms.len(), 2);
        assert_eq!(recs[0].platforms[1].ids.len(), 2);
        assert!(recs[0].platforms[0].signers[0].sha1.is_some());
        std::fs::write(
            &p,
            "number,kind,status,entity,app_name,updated,platform,ids,md5,sha1,sha256\n\
             陕ICP备2024026116号-1A,app,active,甲,XDYou,,ios,xyz.superbart.xdyou,,,\n\
             陕ICP备2024026116号-1A,app,revoked,甲,XDYou,,android,com.a.b,,,\n\
             京ICP备12345678号-1A,app,pending,乙,Y,,android,com.c.d,,,\n",
        )
        .unwrap();
        let e = read_export(&p).unwrap_err().to_string();
        assert!(e.contains("export.csv:3: column status"), "{e}");
        assert!(e.contains("export.csv:4: status"), "{e}");
    }

    #[test]
    fn ndjson_duplicates_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.ndjson");
        let line = r#"{"number":"京ICP备12345678号-1A","status":"active","entity":"e","app_name":"a","platforms":[{"platform":"android","ids":["com.a.b"]}]}"#;
        std::fs::write(&p, format!("{line}\n\n{{oops\n{line}\n")).unwrap();
        let e = read_export(&p).unwrap_err().0;
        assert!(
            e[0].ends_with(
                "export.ndjson:3: not a record: key must be a string at line 1 column 2"
            ),
            "{e:?}"
        );
        assert!(
            e[1].contains("export.ndjson:4: duplicate filing number"),
            "{e:?}"
        );
    }
}
