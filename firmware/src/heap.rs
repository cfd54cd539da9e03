//! The heap arena. Only RSA arithmetic allocates (the `rsa` crate needs
//! `alloc`); everything else uses static buffers. The arena is a fixed static
//! array, and the allocator counts bytes in use and the peak.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use embedded_alloc::LlffHeap;

use crate::board::HEAP_SIZE;

/// A linked-list-first-fit heap that counts what it hands out.
pub struct CountingHeap {
    heap: LlffHeap,
    used: AtomicUsize,
    peak: AtomicUsize,
}

#[global_allocator]
static HEAP: CountingHeap = CountingHeap {
    heap: LlffHeap::empty(),
    used: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

struct Arena(UnsafeCell<[MaybeUninit<u8>; HEAP_SIZE]>);
// SAFETY: the arena is handed to the allocator once, in `init`, and only the
// allocator (which takes a critical section) touches it afterwards.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([MaybeUninit::uninit(); HEAP_SIZE]));

/// Hand the arena to the allocator. Call once, before anything allocates.
pub fn init() {
    // SAFETY: called once at boot; the arena is a static used by nothing else.
    unsafe { HEAP.heap.init(ARENA.0.get() as usize, HEAP_SIZE) }
}

/// Bytes in use now.
pub fn used() -> usize {
    HEAP.used.load(Ordering::Relaxed)
}

/// Most bytes in use at once since boot.
pub fn peak() -> usize {
    HEAP.peak.load(Ordering::Relaxed)
}

/// The arena size.
pub const fn size() -> usize {
    HEAP_SIZE
}

// SAFETY: forwards to the inner allocator and only adds counting.
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { self.heap.alloc(layout) };
        if !p.is_null() {
            let now = self.used.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { self.heap.dealloc(ptr, layout) };
        self.used.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}
