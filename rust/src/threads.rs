//! The thread pool the parsers run on.
//!
//! One pool is kept per process and reused across calls. Its size is, in order: the
//! `num_threads` argument, the `BILM_NUM_THREADS` environment variable (read on every call,
//! so changing it takes effect on the next call), or the number of CPUs this process may use.
//! A call that asks for a different size replaces the cached pool.
//!
//! Fork safety: `fork()` copies only the calling thread, so in a child (e.g. a PyTorch
//! DataLoader worker) the parent's pool has no workers and using it would hang. The pool is
//! tagged with the id of the process that built it; a call in a different process leaks the
//! stale pool (it owns nothing usable in the child) and builds a fresh one.
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

pub const ENV_VAR: &str = "BILM_NUM_THREADS";

struct Cached {
    pid: u32,
    threads: usize,
    pool: Arc<ThreadPool>,
}

static POOL: Mutex<Option<Cached>> = Mutex::new(None);

/// Run `work` on the pool (see the module docs for how its size is chosen).
pub fn run<R: Send>(
    num_threads: Option<NonZeroUsize>,
    work: impl FnOnce() -> R + Send,
) -> Result<R> {
    Ok(pool(thread_count(num_threads)?)?.install(work))
}

fn thread_count(num_threads: Option<NonZeroUsize>) -> Result<usize> {
    if let Some(n) = num_threads {
        return Ok(n.get());
    }
    match std::env::var(ENV_VAR) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse::<NonZeroUsize>()
            .map(NonZeroUsize::get)
            .map_err(|_| {
                Error::InvalidArgument(format!(
                    "{ENV_VAR} must be a positive integer, got {value:?}"
                ))
            }),
        _ => Ok(std::thread::available_parallelism().map_or(1, NonZeroUsize::get)),
    }
}

fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    let pid = std::process::id();
    let mut cached = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    match cached.take() {
        Some(c) if c.pid == pid && c.threads == threads => {
            let pool = Arc::clone(&c.pool);
            *cached = Some(c);
            return Ok(pool);
        }
        // Built before a fork: its workers do not exist here, so do not touch it at all.
        Some(c) if c.pid != pid => std::mem::forget(c),
        // Another size in this process: dropped once running calls release it.
        _ => {}
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("bilm-fast-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| Error::Runtime(format!("cannot start {threads} threads: {e}")))?;
    *cached = Some(Cached {
        pid,
        threads,
        pool: Arc::clone(&pool),
    });
    Ok(pool)
}
