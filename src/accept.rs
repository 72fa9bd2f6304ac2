//! Accepting connections without spinning: every accept loop (public listeners, admin, feed
//! server, demo echo) takes its connections through `Acceptor`.
//!
//! Owns the retry rule for a failed `accept(2)`. Out of file descriptors (EMFILE, ENFILE) or
//! kernel memory (ENOBUFS, ENOMEM), the listener's queue stays readable, so retrying at once
//! burns a core and starves the connections that could free a descriptor. `Acceptor` waits
//! instead, doubling the wait from `FIRST_WAIT` to `MAX_WAIT` while the errors continue; an
//! error that concerns only the one connection being accepted (ECONNABORTED, ECONNRESET, a
//! peer gone before accept) is retried at once, as nginx and HAProxy do.
//! Must not: give up (a listener only stops on shutdown), or log one line per failure: it logs
//! the first failure of a run and, when accepting works again, how many failed in between.
//! Invariant: between two failed accepts of a resource error, the task sleeps at least
//! `FIRST_WAIT`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// The wait after the first resource error of a run.
pub const FIRST_WAIT: Duration = Duration::from_millis(5);
/// The longest wait between two tries.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// The retry state of one listener's accept loop.
#[derive(Debug, Default)]
pub struct Backoff {
    /// The wait before the next try; zero while accepting works.
    wait: Duration,
    /// Failed accepts since the last success.
    failures: u64,
}

impl Backoff {
    /// The wait before trying again after `e`; `None` for an error of one connection only.
    pub fn failed(&mut self, e: &io::Error) -> Option<Duration> {
        self.failures += 1;
        if !is_resource_error(e) {
            return None;
        }
        self.wait = if self.wait.is_zero() {
            FIRST_WAIT
        } else {
            (self.wait * 2).min(MAX_WAIT)
        };
        Some(self.wait)
    }

    /// An accept worked: the failures counted since the last one, and the wait starts over.
    pub fn succeeded(&mut self) -> u64 {
        self.wait = Duration::ZERO;
        std::mem::take(&mut self.failures)
    }
}

/// True for errors that say the process or the kernel is out of something, as opposed to
/// errors about the connection being accepted.
fn is_resource_error(e: &io::Error) -> bool {
    !matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// A listener with its retry state.
pub struct Acceptor {
    listener: TcpListener,
    what: String,
    backoff: Backoff,
}

impl Acceptor {
    /// `what` names the listener in the log (`public`, `admin`, `feed`, `echo`).
    pub fn new(listener: TcpListener, what: impl Into<String>) -> Acceptor {
        Acceptor {
            listener,
            what: what.into(),
            backoff: Backoff::default(),
        }
    }

    /// The next connection. Cancel-safe: dropping the future loses no connection and keeps
    /// the retry state, so it can sit in a `select!` with the shutdown signal.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(conn) => {
                    let failed = self.backoff.succeeded();
                    if failed > 0 {
                        tracing::info!(event = "accept_recovered", listener = %self.what, failed);
                    }
                    return conn;
                }
                Err(e) => {
                    let first = self.backoff.failures == 0;
                    let wait = self.backoff.failed(&e);
                    if first {
                        tracing::warn!(event = "accept_failed", listener = %self.what, error = %e);
                    }
                    if let Some(wait) = wait {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    #[test]
    fn resource_errors_back_off_doubling_to_the_cap_and_start_over_after_a_success() {
        let mut b = Backoff::default();
        let waits: Vec<_> = (0..10).map(|_| b.failed(&emfile()).unwrap()).collect();
        assert_eq!(waits[0], FIRST_WAIT);
        assert_eq!(waits[1], FIRST_WAIT * 2);
        assert!(waits.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*waits.last().unwrap(), MAX_WAIT);
        assert_eq!(b.succeeded(), 10);
        assert_eq!(b.failed(&emfile()), Some(FIRST_WAIT));
    }

    #[test]
    fn an_error_of_one_connection_is_retried_at_once() {
        let mut b = Backoff::default();
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(b.failed(&aborted), None);
        assert_eq!(b.failed(&emfile()), Some(FIRST_WAIT));
        assert_eq!(b.succeeded(), 2);
    }

    #[tokio::test]
    async fn accepts_a_connection() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut a = Acceptor::new(l, "test");
        let client = tokio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (_, peer) = a.accept().await;
        let c = client.await.unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
    }
}
