//! The thread pool the parsers run on.
//!
//! Pools are kept per process and reused across calls. A pool's size is, in order: the
//! `num_threads` argument, the `BILM_NUM_THREADS` environment variable (read on every call,
//! so changing it takes effect on the next call), or the number of CPUs this process may use.
//! One pool is kept for each of the last [`KEPT_POOLS`] sizes asked for: calls that go back and
//! forth between sizes (a benchmark of 1 and 2 threads) would otherwise start new threads
//! every time, whose read buffers and allocator arenas start cold (12-16% slower on
//! MotionSense's files).
//!
//! Fork safety: `fork()` copies only the calling thread, so in a child (e.g. a PyTorch
//! DataLoader worker) the parent's pool has no workers and using it would hang, and the lock
//! of the pool cache may have been held by another thread of the parent at the moment of the
//! fork, so it stays locked forever in the child. Hence the cache, lock included, belongs to
//! one process: a call in a different process leaks the stale one (it owns nothing usable in
//! the child, and touching its lock could block) and starts a fresh one.
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

pub const ENV_VAR: &str = "BILM_NUM_THREADS";

/// Pools of this many sizes are kept; an older one is dropped once running calls release it.
const KEPT_POOLS: usize = 4;

/// The pool cache of the process `pid`: pools of distinct sizes, the last used last.
struct Cache {
    pid: u32,
    pools: Mutex<Vec<Arc<ThreadPool>>>,
}

/// The current process's [`Cache`], leaked so that it lives as long as the process (a fork's
/// child replaces it with its own and never frees the parent's).
static CACHE: AtomicPtr<Cache> = AtomicPtr::new(std::ptr::null_mut());

/// This process's cache, made on first use in the process. Reading the pid needs no lock,
/// so a child never waits on a lock it inherited.
fn cache() -> &'static Cache {
    let pid = std::process::id();
    let mut current = CACHE.load(Ordering::Acquire);
    loop {
        // SAFETY: non-null pointers in CACHE come from Box::leak and are never freed.
        if let Some(cache) = unsafe { current.as_ref() }.filter(|c| c.pid == pid) {
            return cache;
        }
        let fresh = Box::leak(Box::new(Cache {
            pid,
            pools: Mutex::new(Vec::new()),
        }));
        match CACHE.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return fresh,
            Err(other) => {
                // Another thread of this process got there first: use its cache.
                // SAFETY: `fresh` was leaked above and never shared.
                drop(unsafe { Box::from_raw(fresh) });
                current = other;
            }
        }
    }
}

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
    let mut pools = cache().pools.lock().unwrap_or_else(PoisonError::into_inner);
    let pool = match pools
        .iter()
        .position(|p| p.current_num_threads() == threads)
    {
        Some(i) => pools.remove(i),
        None => ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("bilm-fast-{i}"))
            .build()
            .map(Arc::new)
            .map_err(|e| Error::Runtime(format!("cannot start {threads} threads: {e}")))?,
    };
    pools.push(Arc::clone(&pool));
    if pools.len() > KEPT_POOLS {
        pools.remove(0);
    }
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_kept_for_each_of_the_last_sizes() {
        let one = pool(1).unwrap();
        let two = pool(2).unwrap();
        assert!(Arc::ptr_eq(&one, &pool(1).unwrap()));
        assert!(Arc::ptr_eq(&two, &pool(2).unwrap()));
        assert_eq!(pool(3).unwrap().current_num_threads(), 3);
        // Four other sizes since: the pool of one thread is gone, a new one is made.
        for threads in 3..=6 {
            pool(threads).unwrap();
        }
        let again = pool(1).unwrap();
        assert!(!Arc::ptr_eq(&one, &again) && again.current_num_threads() == 1);
    }
}
