//! The binary's allocator: small blocks from mimalloc, large ones from the
//! system allocator.
//!
//! Small blocks are nearly all of the allocations (the SDK's few hundred per
//! call, rows, records), made on one runtime thread and often freed on the
//! other: the system allocator's arena locks cost the two threads a tenth
//! of their time, mimalloc's thread-local pages do not. Large blocks are a
//! few buffers that grow by doubling (the input survey's 8 bytes per row):
//! mimalloc copies such a block to grow it, so the old and the new copy are
//! resident at once (a 5 000 000-row input peaked at 117 MiB instead of
//! 47 MiB), while the system allocator maps them on their own and remaps
//! them in place.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks of this size and more come from the system allocator.
pub const LARGE: usize = 1 << 20;

/// mimalloc below [`LARGE`], the system allocator from it on. A block is
/// freed by the allocator its size says, which is the one that made it:
/// Rust hands `dealloc` and `realloc` the layout the block was made with.
pub struct Split;

fn small(size: usize) -> bool {
    size < LARGE
}

// SAFETY: every block goes back to the allocator that made it (chosen by
// its size, which the caller passes unchanged); a block that changes side
// on `realloc` is copied into a block of the other and the old one freed
// where it was made.
unsafe impl GlobalAlloc for Split {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match small(layout.size()) {
            true => unsafe { mimalloc::MiMalloc.alloc(layout) },
            false => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match small(layout.size()) {
            true => unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) },
            false => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match small(layout.size()) {
            true => unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) },
            false => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (small(layout.size()), small(new_size)) {
            (true, true) => unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: the caller guarantees that the new size, at the
                // block's alignment, is a valid layout.
                let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                let moved = unsafe { self.alloc(new) };
                if !moved.is_null() {
                    let kept = layout.size().min(new_size);
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, moved, kept);
                        self.dealloc(ptr, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grows a block from small to large and back through `realloc`, as a
    /// doubling buffer does, checking its bytes at every step.
    #[test]
    fn a_buffer_grown_past_the_large_size_and_shrunk_back_keeps_its_bytes() {
        let a = Split;
        let mut layout = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: each block is used within its layout and freed once.
        unsafe {
            let mut p = a.alloc(layout);
            assert!(!p.is_null());
            for i in 0..layout.size() {
                *p.add(i) = (i % 251) as u8;
            }
            for size in [LARGE - 1, LARGE, 4 * LARGE, LARGE + 1, 4000, 100] {
                p = a.realloc(p, layout, size);
                assert!(!p.is_null(), "{size}");
                let kept = layout.size().min(size);
                for i in 0..kept {
                    assert_eq!(*p.add(i), (i % 251) as u8, "byte {i} after {size}");
                }
                for i in kept..size {
                    *p.add(i) = (i % 251) as u8;
                }
                layout = Layout::from_size_align(size, 8).unwrap();
            }
            a.dealloc(p, layout);
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_on_both_sides() {
        let a = Split;
        for size in [64, LARGE + 64] {
            let layout = Layout::from_size_align(size, 16).unwrap();
            // SAFETY: read within the layout, freed once.
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert!((0..size).all(|i| *p.add(i) == 0));
                a.dealloc(p, layout);
            }
        }
    }
}
