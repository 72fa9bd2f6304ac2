//! The identify step of upload routes: classify → spool (bounded, 413) → find the package
//! (raw body or the multipart part) → inspect. `pipeline.rs` decides on what it finds with the
//! same freshness check, audit record and answer as request routes.
//!
//! Owns spooling and inspecting an upload body, and the inspection metrics.
//! Must not: forward, decide or answer (that is the pipeline's), change a byte of the body
//! (other multipart fields included), hold an index revision, or leave a spool alive past the
//! request (see `spool.rs`: spool files have no name to leave behind).
//! Invariant: the body `take` returns for forwarding is exactly the bytes the client sent.

use super::body::{self, Taken};
use super::prehash::Prehasher;
use super::spool::{Spool, SpoolGauges, Spooled};
use crate::code::Code;
use crate::config::{RouteConfig, UploadGlobal, UploadRoute};
use crate::extract::multipart::{MultipartError, Part, Scanner};
use crate::extract::upload::{classify, wanted_fields, UploadBody};
use crate::inspect::{self, ChunkDigests, DigestAid, InspectError, PackageIdentity};
use crate::metrics::Metrics;
use crate::policy::{inspect_code, package_of, Package};
use http::header;
use hyper::body::Incoming;
use std::time::{Duration, Instant};

/// The package found in an upload.
pub struct Found {
    pub identity: PackageIdentity,
    pub package: Package,
    /// The package's size in bytes.
    pub bytes: u64,
}

/// What reading and inspecting an upload gave.
pub struct Upload {
    pub body: Taken,
    pub found: Result<Found, Code>,
    /// Every multipart part (with the values of the fields the route's claims name).
    pub fields: Vec<Part>,
}

/// What spooling and inspecting need from the gateway.
pub struct Ctx<'a> {
    pub global: &'a UploadGlobal,
    pub metrics: &'a Metrics,
    /// Longest wait for the next bytes of the body.
    pub idle: Duration,
}

/// Where the package is in the spooled body.
fn locate(
    body: &UploadBody,
    scanned: Result<Vec<Part>, Code>,
    field: &str,
    len: u64,
) -> (Result<(u64, u64), Code>, Vec<Part>) {
    let parts = match (body, scanned) {
        (UploadBody::Raw, _) if len == 0 => return (Err(Code::PackageMissing), Vec::new()),
        (UploadBody::Raw, _) => return (Ok((0, len)), Vec::new()),
        (UploadBody::Multipart(_), Err(code)) => return (Err(code), Vec::new()),
        (UploadBody::Multipart(_), Ok(parts)) => parts,
    };
    let mut files = parts.iter().filter(|p| p.name.as_deref() == Some(field));
    let range = match (files.next(), files.next()) {
        (None, _) => Err(Code::PackageMissing),
        (Some(_), Some(_)) => Err(Code::AmbiguousRequest),
        (Some(p), None) if p.start == p.end => Err(Code::PackageMissing),
        (Some(p), None) => Ok((p.start, p.end)),
    };
    (range, parts)
}

impl Ctx<'_> {
    fn spool_gauges(&self) -> SpoolGauges {
        SpoolGauges {
            files: self.metrics.upload_spool_files.clone(),
            bytes: self.metrics.upload_spool_bytes.clone(),
        }
    }

    /// Inspects `start..end` of the spool off the async threads, with the chunk digests
    /// computed while the body arrived when they are of this range.
    async fn inspect(
        &self,
        sp: &Spooled,
        (start, end): (u64, u64),
        up: &UploadRoute,
        prehashed: Option<(u64, ChunkDigests)>,
    ) -> Result<Found, Code> {
        let reader = sp.range(start, end);
        let aid = DigestAid {
            reader: Some(std::sync::Arc::new(sp.range(start, end))),
            prehashed: prehashed
                .filter(|(at, _)| *at == start)
                .map(|(_, d)| std::sync::Arc::new(d)),
        };
        let limits = inspect::Limits {
            max_package_bytes: up.max_bytes,
            verify_digests: up.verify_digests,
            ..inspect::Limits::default()
        };
        let t = Instant::now();
        let res = tokio::task::spawn_blocking(move || {
            let buffered = std::io::BufReader::with_capacity(64 << 10, reader);
            inspect::inspect_aided(buffered, &limits, aid)
        })
        .await
        .unwrap_or_else(|e| Err(InspectError::Io(std::io::Error::other(e.to_string()))));
        let kind = res.as_ref().map_or("unknown", |id| id.kind.as_str());
        let result = res.as_ref().map_or_else(|e| e.code(), |_| "ok");
        self.metrics
            .package_inspection_duration
            .with_label_values(&[kind])
            .observe(t.elapsed().as_secs_f64());
        self.metrics
            .package_inspections
            .with_label_values(&[kind, result])
            .inc();
        let identity = res.map_err(|e| inspect_code(&e))?;
        let package = package_of(&identity)?;
        Ok(Found {
            identity,
            package,
            bytes: end - start,
        })
    }

    /// Reads the body into a spool (scanning multipart as it arrives) and inspects the package.
    pub async fn take(
        &self,
        route: &RouteConfig,
        up: &UploadRoute,
        parts: &http::request::Parts,
        incoming: Incoming,
    ) -> Upload {
        let refuse_unread = |incoming: Incoming, code: Code| Upload {
            body: Taken::unread(incoming, &parts.headers),
            found: Err(code),
            fields: Vec::new(),
        };
        let kind = match classify(parts, up) {
            Ok(k) => k,
            Err(code) => return refuse_unread(incoming, code),
        };
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > up.max_bytes) {
            return refuse_unread(incoming, Code::BodyTooLarge);
        }
        let mut scanner = match &kind {
            UploadBody::Multipart(b) => Some(Scanner::new(b, &wanted_fields(route))),
            UploadBody::Raw => None,
        };
        // Chunk digests are only worth computing when the digest pass will use them.
        let prehasher = up.verify_digests.then(|| match &kind {
            UploadBody::Raw => Prehasher::new(Some(0)),
            UploadBody::Multipart(_) => Prehasher::new(None),
        });
        let feed = Feed {
            scanner: scanner.as_mut(),
            prehasher,
            field: &up.field,
        };
        let (sp, scan_error, prehashed) = match self.spool(incoming, up.max_bytes, feed).await {
            Spooling::Done(sp, e, p) => (sp, e, p),
            Spooling::Stopped(upload) => return upload,
        };
        let scanned = match (scanner, scan_error) {
            (Some(_), Some(e)) => Err(e.code()),
            (Some(s), None) => s.finish().map_err(|e| e.code()),
            (None, _) => Ok(Vec::new()),
        };
        let (range, fields) = locate(&kind, scanned, &up.field, sp.len());
        let found = match range {
            Ok(range) => self.inspect(&sp, range, up, prehashed).await,
            Err(code) => Err(code),
        };
        Upload {
            body: Taken {
                forward: Some(sp.body()),
                unread: false,
                failed: None,
            },
            found,
            fields,
        }
    }

    /// Stores the whole body (up to `max` bytes), feeding each chunk to the scanner until it
    /// refuses the body (the refusal comes back with the spool) and the package's bytes to
    /// the prehasher.
    async fn spool(&self, mut incoming: Incoming, max: u64, mut feed: Feed<'_>) -> Spooling {
        let dir = &self.global.spool_dir;
        let mut spool = Spool::new(
            dir.clone(),
            self.global.memory_threshold,
            self.spool_gauges(),
        );
        let mut scan_error = None;
        loop {
            let frame = match body::next_frame(&mut incoming, self.idle).await {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                // The client went away, broke the framing or stalled; the spool dies here.
                Err(body::ReadError::Timeout) => return lost(Code::BodyTimeout),
                Err(body::ReadError::Body(_)) => return lost(Code::BodyInvalid),
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if spool.len() + data.len() as u64 > max {
                // Kept whole so that monitor mode can still forward every byte.
                if spool.push(&data).await.is_err() {
                    return lost(Code::SpoolFailed);
                }
                return match spool.finish().await {
                    Ok(sp) => Spooling::Stopped(Upload {
                        body: Taken {
                            forward: Some(sp.body_then(incoming)),
                            unread: true,
                            failed: Some(Code::BodyTooLarge),
                        },
                        found: Err(Code::BodyTooLarge),
                        fields: Vec::new(),
                    }),
                    Err(_) => lost(Code::SpoolFailed),
                };
            }
            if let Some(s) = feed.scanner.as_deref_mut().filter(|_| scan_error.is_none()) {
                scan_error = s.feed(&data).err();
            }
            feed.prehash(&data).await;
            if let Err(e) = spool.push(&data).await {
                tracing::error!(event = "spool_failed", error = %e, dir = %dir.display());
                return lost(Code::SpoolFailed);
            }
        }
        let prehashed = match feed.prehasher {
            Some(p) => p.finish().await,
            None => None,
        };
        match spool.finish().await {
            Ok(sp) => Spooling::Done(sp, scan_error, prehashed),
            Err(e) => {
                tracing::error!(event = "spool_failed", error = %e, dir = %dir.display());
                lost(Code::SpoolFailed)
            }
        }
    }
}

/// How spooling ended: the whole body stored (with the multipart scan's refusal and the
/// package's chunk digests), or a result to answer with as it is.
enum Spooling {
    Done(Spooled, Option<MultipartError>, Option<(u64, ChunkDigests)>),
    Stopped(Upload),
}

/// Who else reads the body's frames as they are spooled.
struct Feed<'a> {
    scanner: Option<&'a mut Scanner>,
    prehasher: Option<Prehasher>,
    /// The multipart field holding the package.
    field: &'a str,
}

impl Feed<'_> {
    /// Hands `frame` (already scanned) to the prehasher, starting it at the package part's
    /// first content byte once the scanner has opened that part.
    async fn prehash(&mut self, frame: &[u8]) {
        let Some(p) = self.prehasher.as_mut() else {
            return;
        };
        if !p.started() {
            let open = self.scanner.as_deref().and_then(Scanner::open_part);
            if let Some(part) = open.filter(|x| x.name.as_deref() == Some(self.field)) {
                p.begin_at(part.start, p.seen());
            }
        }
        p.feed(frame).await;
    }
}

/// The body is gone (client error, stall, or a spool that could not be written).
fn lost(code: Code) -> Spooling {
    Spooling::Stopped(Upload {
        body: Taken::lost(code),
        found: Err(code),
        fields: Vec::new(),
    })
}
