//! Worker threads: one single-threaded tokio runtime per core, each serving the connections
//! its own listening sockets accept.
//!
//! Owns the threads the data path runs on. A connection's whole life (its TLS handshake, its
//! HTTP exchanges, the upstream connections its requests use and their timers) stays on the
//! worker that accepted it, so a request never wakes another thread: no work stealing, no
//! cross-core wake-ups, no contended pool locks. The control runtime (admin API, feed sync,
//! audit writer, signals) is separate and never carries client traffic.
//! Must not: decide anything about requests, or block a worker thread (blocking work goes to
//! the worker runtime's own blocking pool through `spawn_blocking`).
//! Invariant: every worker thread ends when `Workers` is stopped or dropped; tasks still running
//! on it are dropped with its runtime.

use std::io;
use std::thread::JoinHandle;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// The running worker threads.
pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// The number of workers `workers = 0` (the default) means: one per core this process may run
/// on (its CPU affinity mask and cgroup quota, as `std::thread::available_parallelism` reads them).
pub fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Workers {
    /// Starts `n` (at least one) worker threads, each running its own runtime.
    pub fn start(n: usize) -> io::Result<Workers> {
        let n = n.max(1);
        let mut w = Workers {
            handles: Vec::with_capacity(n),
            stops: Vec::with_capacity(n),
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let rt = Builder::new_current_thread()
                .enable_all()
                .thread_name(format!("icpgate-w{i}-blocking"))
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            w.handles.push(rt.handle().clone());
            w.stops.push(stop);
            let thread = std::thread::Builder::new()
                .name(format!("icpgate-w{i}"))
                .spawn(move || {
                    // Runs the tasks spawned onto this runtime until the stop signal (or its
                    // sender's drop); dropping the runtime then drops what is left.
                    rt.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            w.threads.push(thread);
        }
        Ok(w)
    }

    /// The workers' runtime handles, in worker order.
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }

    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Ends every worker and waits for its thread. Blocks: call it off the async runtimes
    /// (`spawn_blocking`) or after they have stopped.
    pub fn stop(mut self) {
        self.stops.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Dropping the senders ends each worker's `block_on`; the threads finish on their own.
        self.stops.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_worker_runs_its_tasks_on_its_own_thread() {
        let w = Workers::start(2).unwrap();
        let names: Vec<String> = w
            .handles()
            .iter()
            .map(|h| {
                let (tx, rx) = std::sync::mpsc::channel();
                h.spawn(async move {
                    let _ = tx.send(std::thread::current().name().unwrap_or("").to_string());
                });
                rx.recv().unwrap()
            })
            .collect();
        assert_eq!(names, ["icpgate-w0", "icpgate-w1"]);
        w.stop();
    }

    #[test]
    fn stopping_ends_the_threads_and_drops_pending_tasks() {
        let w = Workers::start(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        w.handles()[0].spawn(async move {
            let _keep = tx;
            std::future::pending::<()>().await;
        });
        w.stop();
        // The pending task's sender is gone with the runtime.
        assert!(rx.recv().is_err());
    }
}
