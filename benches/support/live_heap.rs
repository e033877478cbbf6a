//! A global allocator counting the bytes held on the heap: memory figures without the
//! allocator's own retention (freed pages it keeps), which RSS includes.
//!
//! ```ignore
//! #[global_allocator]
//! static HEAP: live_heap::LiveHeap = live_heap::LiveHeap;
//! ```
//!
//! Bytes are counted as their owners asked for them (the allocator's own overhead is not
//! included). A thread can opt out ([`uncount_this_thread`], [`uncounted`]): a bench's
//! local server, whose buffers and state are not the client's. Each block carries a byte
//! saying whether it was counted, so a block freed on another thread than the one that
//! made it keeps the count right. [`track_peak`] and [`peak`] follow the highest count
//! over a stretch of a run.

#![allow(dead_code)] // each bench uses part of it

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static TRACK_PEAK: AtomicBool = AtomicBool::new(false);

thread_local! {
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

/// The system allocator, counting the bytes it has handed out and not had back.
pub struct LiveHeap;

/// Bytes before the caller's pointer: at least 16, and a multiple of the alignment; the
/// last of them says whether the block is counted.
fn header(layout: &Layout) -> usize {
    layout.align().max(16)
}

fn counted_here() -> bool {
    !UNCOUNTED.try_with(Cell::get).unwrap_or(false)
}

fn grew(by: u64) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    if TRACK_PEAK.load(Ordering::Relaxed) {
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

impl LiveHeap {
    /// # Safety
    /// `zeroed` picks `System::alloc_zeroed`; the caller's contract is `GlobalAlloc::alloc`'s.
    unsafe fn make(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        let off = header(&layout);
        let Ok(full) = Layout::from_size_align(layout.size() + off, off) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `full` has a non-zero size (`off` ≥ 16).
        let base = unsafe {
            if zeroed {
                System.alloc_zeroed(full)
            } else {
                System.alloc(full)
            }
        };
        if base.is_null() {
            return base;
        }
        let counted = counted_here();
        // SAFETY: `base` holds `off` + size bytes; `off - 1` is inside the header, and
        // `base + off` is aligned to `off`, a multiple of the caller's alignment.
        unsafe {
            *base.add(off - 1) = u8::from(counted);
            if counted {
                grew(layout.size() as u64);
            }
            base.add(off)
        }
    }
}

// SAFETY: every block handed out is `header` bytes into a block of `System` of the
// caller's size plus `header`, aligned to `header` (a multiple of the caller's alignment);
// `dealloc` and `realloc` find the block's start and layout with the same arithmetic.
unsafe impl GlobalAlloc for LiveHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `alloc`'s.
        unsafe { self.make(layout, false) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe { self.make(layout, true) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let off = header(&layout);
        // SAFETY: `ptr` came from `make` with `layout`: its header is just before it,
        // and its block starts `off` bytes before it with the layout rebuilt here.
        unsafe {
            if *ptr.sub(1) == 1 {
                LIVE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
            }
            let full = Layout::from_size_align_unchecked(layout.size() + off, off);
            System.dealloc(ptr.sub(off), full);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let off = header(&layout);
        // SAFETY: as for `dealloc`; the header moves with the block.
        unsafe {
            let counted = *ptr.sub(1) == 1;
            let full = Layout::from_size_align_unchecked(layout.size() + off, off);
            let base = System.realloc(ptr.sub(off), full, new_size + off);
            if base.is_null() {
                return base;
            }
            if counted {
                if new_size >= layout.size() {
                    grew((new_size - layout.size()) as u64);
                } else {
                    LIVE.fetch_sub((layout.size() - new_size) as u64, Ordering::Relaxed);
                }
            }
            base.add(off)
        }
    }
}

/// The bytes held on the heap now (on counted threads).
pub fn bytes() -> u64 {
    LIVE.load(Ordering::Relaxed)
}

/// Follows the highest [`bytes`] from now on (an atomic per allocation, so it is off
/// unless asked for).
pub fn track_peak() {
    PEAK.store(bytes(), Ordering::Relaxed);
    TRACK_PEAK.store(true, Ordering::Relaxed);
}

/// The highest [`bytes`] since [`track_peak`]; stops following it.
pub fn peak() -> u64 {
    TRACK_PEAK.store(false, Ordering::Relaxed);
    PEAK.load(Ordering::Relaxed).max(bytes())
}

/// The calling thread's allocations are not counted from now on (a bench's server).
pub fn uncount_this_thread() {
    UNCOUNTED.with(|c| c.set(true));
}

/// `f`, with the calling thread's allocations not counted (what a bench builds for its
/// server).
pub fn uncounted<T>(f: impl FnOnce() -> T) -> T {
    let before = UNCOUNTED.with(|c| c.replace(true));
    let out = f();
    UNCOUNTED.with(|c| c.set(before));
    out
}
