//! How the binaries keep resident memory to what they use.
//!
//! glibc's allocator keeps freed memory in its arenas (one per thread that allocated, up to
//! eight per core), so a burst of allocations on one thread while another thread's arena holds
//! the free space grows the heap, and the free space stays, scattered between live objects. The
//! bursts here are relists (every object of a kind decoded again) and the operator's controller
//! being dropped with a lost leadership. The agent's soak (11,000 objects, a relist every few
//! minutes) measured what each measure below gives, first relist / second, in MiB of RSS added:
//! +55 / +38 as shipped before; +40 / +32 with a trim after each relist; +30 / +20 with the watch
//! store relisting in place as well (`gitops_agent_server::watch_store`); +12 / +11 with one arena
//! too (two arenas: +21 / +26). So the binaries use one arena ([`one_arena`], before their runtime
//! starts threads) and trim after each burst ([`release_soon`]). One arena costs throughput under
//! concurrency: 0.65-0.79 of the default's tool calls/s at concurrency 8 on 2 cores, the same at 1
//! (bench/results/2026-12-04-malloc-arenas.md); MALLOC_ARENA_MAX overrides it. With another C
//! library both do nothing.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;

/// How long after the last burst the trim waits: the watches of a cluster relist together, and one
/// trim after all of them does the work of one per watch.
const QUIET: Duration = Duration::from_secs(1);

static PENDING: OnceLock<Arc<Notify>> = OnceLock::new();

/// Asks for the freed memory to be returned to the system once the process has been quiet for a
/// second. Must be called within a Tokio runtime (the first call starts the task that trims).
pub fn release_soon() {
    let pending = PENDING.get_or_init(|| {
        let pending = Arc::new(Notify::new());
        let waiting = pending.clone();
        tokio::spawn(async move {
            loop {
                waiting.notified().await;
                // Calls during the wait leave one permit: the loop trims again once after them.
                tokio::time::sleep(QUIET).await;
                release_now();
            }
        });
        pending
    });
    pending.notify_one();
}

/// One malloc arena for the whole process, unless MALLOC_ARENA_MAX says otherwise (the threads
/// then share one heap's lock; their tcaches absorb part of it). Call before any thread starts.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt takes two integers and changes the allocator's settings under its lock.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Returns the whole free pages of every malloc arena to the system (glibc's `malloc_trim`). With
/// another C library this does nothing: musl's allocator returns freed memory by itself.
pub fn release_now() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it works on the allocator's own state under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident set size from /proc, in KiB.
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/self/status")
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_small_allocations_are_returned_after_a_trim() {
        // Many small blocks (below the mmap threshold, so they live in the heap), all but one in
        // each 64 freed: the heap keeps its size, most of its pages are free.
        let mut blocks: Vec<Vec<u8>> = (0..400_000).map(|i| vec![(i % 251) as u8; 500]).collect();
        let mut kept = Vec::new();
        for (i, b) in blocks.drain(..).enumerate() {
            if i % 64 == 0 {
                kept.push(b);
            }
        }
        let before = rss_kib();
        release_now();
        let after = rss_kib();
        assert!(kept.iter().all(|b| b.len() == 500));
        // 200 MB were allocated and nearly all freed; the trim returns at least 100 MB of it.
        assert!(before > after + 100_000, "RSS {before} KiB before the trim, {after} KiB after");
    }
}
