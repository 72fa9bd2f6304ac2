//! The canonical NDJSON line of an encoded record (docs/feed.md, "Snapshot files"), written
//! straight from its `RecordView` into a reused buffer: what a delta needs to subtract a
//! replaced record's digest from the state checksum without decoding it into owned strings.
//!
//! Owns nothing but that writer.
//! Must not: differ by a single byte from `FilingRecord::canonical_line` (the tests compare
//! them over generated records and every escaping case).
//! Invariant: `Canon::line(view(push(r)))` == `r.canonical_line()`.

use super::record_digest;
use super::store::{Entities, RecordView};
use crate::filing::scan::string_end;
use crate::filing::ServiceKind;
use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Default)]
pub(crate) struct Canon {
    buf: Vec<u8>,
}

fn hex_into(buf: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        buf.push(HEX[(b >> 4) as usize]);
        buf.push(HEX[(b & 15) as usize]);
    }
}

/// A JSON string exactly as serde_json writes it (its escaping, UTF-8 kept). serde_json
/// escapes only `"`, `\\` and control characters, so a string without them is copied as is.
fn string_into(buf: &mut Vec<u8>, s: &str) {
    if string_end(s.as_bytes()).is_none() {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
        return;
    }
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

impl Canon {
    /// The canonical line of `v` (entity names from `entities`), valid until the next call.
    pub(crate) fn line(&mut self, v: &RecordView<'_>, entities: &Entities) -> &[u8] {
        let b = &mut self.buf;
        b.clear();
        // A filing number prints as a province character, ASCII letters, digits and `-`:
        // nothing JSON escapes.
        let _ = write!(b, "{{\"number\":\"{}\"", v.number);
        b.extend_from_slice(b",\"kind\":\"");
        let kind = v.number.kind().unwrap_or(ServiceKind::App);
        b.extend_from_slice(kind.as_str().as_bytes());
        b.extend_from_slice(b"\",\"status\":\"");
        b.extend_from_slice(v.status.as_str().as_bytes());
        b.extend_from_slice(b"\",\"entity\":");
        string_into(b, entities.get(v.entity));
        b.extend_from_slice(b",\"app_name\":");
        string_into(b, v.app_name);
        if v.updated != 0 {
            let t = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(v.updated));
            let _ = write!(b, ",\"updated\":\"{t}\"");
        }
        b.extend_from_slice(b",\"platforms\":[");
        for (i, p) in v.platforms().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(b"{\"platform\":\"");
            b.extend_from_slice(p.platform.as_str().as_bytes());
            b.extend_from_slice(b"\",\"ids\":[");
            for (j, id) in p.ids().enumerate() {
                if j > 0 {
                    b.push(b',');
                }
                string_into(b, id);
            }
            b.push(b']');
            if p.signer_count() > 0 {
                b.extend_from_slice(b",\"signers\":[");
                for (j, s) in p.signers().enumerate() {
                    if j > 0 {
                        b.push(b',');
                    }
                    b.push(b'{');
                    let mut first = true;
                    let digests: [(&[u8], Option<&[u8]>); 3] = [
                        (b"\"md5\":\"", s.md5.as_ref().map(|d| &d[..])),
                        (b"\"sha1\":\"", s.sha1.as_ref().map(|d| &d[..])),
                        (b"\"sha256\":\"", s.sha256.as_ref().map(|d| &d[..])),
                    ];
                    for (key, d) in digests {
                        let Some(d) = d else { continue };
                        if !first {
                            b.push(b',');
                        }
                        first = false;
                        b.extend_from_slice(key);
                        hex_into(b, d);
                        b.push(b'"');
                    }
                    b.push(b'}');
                }
                b.push(b']');
            }
            b.push(b'}');
        }
        b.extend_from_slice(b"]}");
        &self.buf
    }

    /// The state-checksum digest of `v`.
    pub(crate) fn digest(&mut self, v: &RecordView<'_>, entities: &Entities) -> u128 {
        record_digest(self.line(v, entities))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::record::parse_line;
    use crate::index::store;

    fn check(r: &crate::filing::FilingRecord) {
        let mut ents = Entities::default();
        let mut blob = Vec::new();
        let off = store::push(&mut blob, r, ents.intern(&r.entity));
        let v = RecordView::decode(&blob, off).unwrap();
        let mut c = Canon::default();
        assert_eq!(
            String::from_utf8_lossy(c.line(&v, &ents)),
            r.canonical_line()
        );
    }

    #[test]
    fn matches_canonical_line_for_generated_records() {
        for i in 0..5_000 {
            check(&crate::generate::record(7, i));
        }
    }

    #[test]
    fn matches_canonical_line_for_escapes_kinds_and_absent_fields() {
        let lines = [
            r#"{"number":"粤B2-20090059-1824A","status":"restricted","entity":"腾讯 \"引号\" \\ /\u0001\t","app_name":"某应用\n","updated":"2024-05-01T08:00:00Z","platforms":[{"platform":"android","ids":["com.tencent.a","com.tencent.b"],"signers":[{"md5":"00112233445566778899aabbccddeeff","sha256":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},{"sha1":"00112233445566778899aabbccddeeff00112233"}]},{"platform":"ios","ids":["com.tencent.A"]}]}"#,
            r#"{"number":"京ICP备2026059598号-1X","status":"active","entity":"e","app_name":"","platforms":[{"platform":"wechat","ids":["wx84c222762738ce75"]}]}"#,
            r#"{"number":"京ICP备12345678号-1A","status":"cancelled","entity":"e","app_name":"a\u2028b","updated":"1970-01-01T00:00:01Z","platforms":[{"platform":"harmony","ids":["com.a.b"],"signers":[{"sha1":"00112233445566778899aabbccddeeff00112233","sha256":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}]}]}"#,
        ];
        for l in lines {
            check(&parse_line(l).unwrap());
        }
        for l in include_str!("../../config/sample-registry.ndjson").lines() {
            if let Ok(r) = parse_line(l) {
                check(&r);
            }
        }
    }
}
