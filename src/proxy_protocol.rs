//! PROXY protocol v1 and v2 (HAProxy's proxy-protocol.txt): a load balancer that forwards
//! TCP sends the client's address in a header before the connection's own bytes.
//!
//! Owns the framing of the header on the socket and what it says about the client. `frame`
//! finds where a header ends (v1: the CRLF within 107 bytes; v2: 16 fixed bytes plus the
//! length they announce, at most `V2_MAX_BODY`), `parse` reads a complete header (the address
//! grammars are the `ppp` crate's), `read` takes exactly the header off a `TcpStream`.
//! Must not: read a byte past the header (TLS and HTTP read the rest from the same socket:
//! bytes of unknown length are only peeked at, and only header bytes are read), or trust a
//! header on a listener that does not expect one.
//! Invariant: `read` consumes exactly the bytes `frame` says the header has.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The longest v1 header, CRLF included.
pub const V1_MAX: usize = 107;
/// The longest v2 address block and TLVs this gateway takes (cloud load balancers send well
/// under it); the spec allows 65535.
pub const V2_MAX_BODY: usize = 4096;
const V1_PREFIX: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8] = ppp::v2::PROTOCOL_PREFIX;
/// Enough to tell v1 from v2 from anything else, and shorter than any valid header.
const SNIFF: usize = 8;

/// What a valid header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// The connection carries this client's bytes.
    Proxied(SocketAddr),
    /// The connection is the load balancer's own (v2 LOCAL, v1 UNKNOWN, v2 UNSPEC or UNIX
    /// addresses): its peer address stands.
    Local,
}

/// Why a header is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("not a PROXY protocol header")]
    NotProxy,
    #[error("PROXY protocol v1 header without CRLF in its first {V1_MAX} bytes")]
    V1TooLong,
    #[error("malformed PROXY protocol v1 header")]
    V1,
    #[error("PROXY protocol v2 header announcing {0} bytes, more than {V2_MAX_BODY}")]
    V2TooLong(usize),
    #[error("malformed PROXY protocol v2 header")]
    V2,
}

/// How far the header goes, judged from its first bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed {
    /// The header is the first `n` bytes.
    Complete(usize),
    /// More bytes are needed: exactly up to this total, or (v1) some more.
    Need(Option<usize>),
}

/// Where the header that `buf` starts with ends.
pub fn frame(buf: &[u8]) -> Result<Framed, Error> {
    let n = buf.len();
    if n < SNIFF {
        let v1 = V1_PREFIX.starts_with(&buf[..n.min(V1_PREFIX.len())]);
        if !v1 && !V2_SIGNATURE.starts_with(buf) {
            return Err(Error::NotProxy);
        }
        return Ok(Framed::Need(Some(SNIFF)));
    }
    if buf.starts_with(&V2_SIGNATURE[..SNIFF]) {
        if !V2_SIGNATURE.starts_with(&buf[..n.min(V2_SIGNATURE.len())]) {
            return Err(Error::NotProxy);
        }
        if n < 16 {
            return Ok(Framed::Need(Some(16)));
        }
        let body = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
        if body > V2_MAX_BODY {
            return Err(Error::V2TooLong(body));
        }
        return Ok(if n >= 16 + body {
            Framed::Complete(16 + body)
        } else {
            Framed::Need(Some(16 + body))
        });
    }
    if !buf.starts_with(V1_PREFIX) {
        return Err(Error::NotProxy);
    }
    let head = &buf[..n.min(V1_MAX)];
    match memchr::memmem::find(head, b"\r\n") {
        Some(i) => Ok(Framed::Complete(i + 2)),
        None if n >= V1_MAX => Err(Error::V1TooLong),
        None => Ok(Framed::Need(None)),
    }
}

/// What a complete header (exactly the bytes `frame` delimits) says.
pub fn parse(header: &[u8]) -> Result<Header, Error> {
    if header.starts_with(V2_SIGNATURE) {
        return parse_v2(header);
    }
    // A v1 header is ASCII (the spec's grammar); ppp's parser slices the text by byte and
    // panics on a multi-byte character, so nothing else reaches it.
    if !header.is_ascii() {
        return Err(Error::V1);
    }
    let text = std::str::from_utf8(header).map_err(|_| Error::V1)?;
    let h = ppp::v1::Header::try_from(text).map_err(|_| Error::V1)?;
    if h.header.len() != header.len() {
        return Err(Error::V1);
    }
    Ok(match h.addresses {
        ppp::v1::Addresses::Tcp4(a) => {
            Header::Proxied(SocketAddr::from((a.source_address, a.source_port)))
        }
        ppp::v1::Addresses::Tcp6(a) => {
            Header::Proxied(SocketAddr::from((a.source_address, a.source_port)))
        }
        ppp::v1::Addresses::Unknown => Header::Local,
    })
}

fn parse_v2(header: &[u8]) -> Result<Header, Error> {
    use ppp::v2::{Addresses, Command};
    let h = ppp::v2::Header::try_from(header).map_err(|_| Error::V2)?;
    if h.header.len() != header.len() {
        return Err(Error::V2);
    }
    // The TLVs after the addresses are not read: nothing here needs them.
    Ok(match (h.command, h.addresses) {
        (Command::Local, _) => Header::Local,
        (Command::Proxy, Addresses::IPv4(a)) => {
            Header::Proxied(SocketAddr::from((a.source_address, a.source_port)))
        }
        (Command::Proxy, Addresses::IPv6(a)) => {
            Header::Proxied(SocketAddr::from((a.source_address, a.source_port)))
        }
        (Command::Proxy, Addresses::Unspecified | Addresses::Unix(_)) => Header::Local,
    })
}

/// Why `read` gave up.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Invalid(#[from] Error),
    #[error("reading the PROXY protocol header: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the header off `stream`, leaving every byte after it in the socket.
pub async fn read(stream: &mut TcpStream) -> Result<Header, ReadError> {
    let mut buf: smallvec::SmallVec<[u8; V1_MAX]> = smallvec::SmallVec::new();
    loop {
        match frame(&buf)? {
            Framed::Complete(n) => return Ok(parse(&buf[..n])?),
            Framed::Need(Some(total)) => {
                let have = buf.len();
                buf.resize(total, 0);
                stream.read_exact(&mut buf[have..]).await?;
            }
            // A v1 line of unknown length: peek, then read only up to its CRLF.
            Framed::Need(None) => {
                let mut peeked = [0u8; V1_MAX];
                let room = V1_MAX - buf.len();
                let got = stream.peek(&mut peeked[..room]).await?;
                if got == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                }
                // A CR read last time may pair with an LF peeked now.
                let from = buf.len().saturating_sub(1);
                let mut seen = buf[from..].to_vec();
                seen.extend_from_slice(&peeked[..got]);
                let take = match memchr::memmem::find(&seen, b"\r\n") {
                    Some(i) => i + 2 - (buf.len() - from),
                    None => got,
                };
                let have = buf.len();
                buf.resize(have + take, 0);
                stream.read_exact(&mut buf[have..]).await?;
            }
        }
    }
}

/// For a listener with `proxy_protocol = true`: reads the header within `timeout` and
/// returns the connection with the client it names; `None` (counted) when the connection is
/// to be closed. Without `proxy_protocol`, the connection as it is.
pub async fn accept(
    expected: bool,
    stream: &mut TcpStream,
    conn: Arc<crate::proxy::Conn>,
    timeout: Duration,
    metrics: &crate::metrics::Metrics,
) -> Option<Arc<crate::proxy::Conn>> {
    if !expected {
        return Some(conn);
    }
    let cause = match tokio::time::timeout(timeout, read(stream)).await {
        Ok(Ok(Header::Proxied(client))) => {
            return Some(Arc::new(Arc::unwrap_or_clone(conn).proxied_for(client)))
        }
        Ok(Ok(Header::Local)) => return Some(conn),
        Ok(Err(ReadError::Invalid(e))) => {
            tracing::debug!(event = "proxy_protocol_invalid", peer = %conn.peer, error = %e);
            "invalid"
        }
        Ok(Err(e)) => {
            tracing::debug!(event = "proxy_protocol_failed", peer = %conn.peer, error = %e);
            "io"
        }
        Err(_) => "timeout",
    };
    metrics
        .proxy_protocol_rejected
        .with_label_values(&[cause])
        .inc();
    None
}

#[cfg(test)]
mod tests;
