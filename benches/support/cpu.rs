//! CPU clocks for the benches: the process's, and one thread's (a server's, taken out of
//! the process's so that what is left is the client's).
#![allow(dead_code)] // each bench uses part of it

use std::time::Duration;

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used here are valid.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({id}) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of every thread of the process, user and system.
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time of the calling thread.
pub fn this_thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The CPU clock of one thread of this process, read with [`ThreadClock::cpu`].
#[derive(Clone, Copy)]
pub struct ThreadClock(libc::clockid_t);

impl ThreadClock {
    /// The calling thread's clock, to be read from other threads.
    pub fn of_this_thread() -> ThreadClock {
        let mut id: libc::clockid_t = 0;
        // SAFETY: pthread_self is this live thread; the benches' servers never exit.
        let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
        assert_eq!(rc, 0, "pthread_getcpuclockid failed");
        ThreadClock(id)
    }

    /// The thread's CPU time so far.
    pub fn cpu(self) -> Duration {
        clock(self.0)
    }
}

/// The load average (1, 5, 15 minutes), for the record of a run.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

/// This process's user and system CPU time (`getrusage`): how much of it the kernel took.
pub fn usage() -> (Duration, Duration) {
    // SAFETY: an all-zero rusage is valid; getrusage writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    (time(usage.ru_utime), time(usage.ru_stime))
}
