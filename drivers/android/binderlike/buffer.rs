// SPDX-License-Identifier: GPL-2.0

//! The receive buffer of a process: pages mapped read-only into the process
//! at `mmap`, which senders write transactions into, and the ranges of it
//! that transactions hold.

use crate::Held;
use core::ops::Range;
use kernel::{
    alloc::flags::GFP_KERNEL_ACCOUNT,
    mm::virt::VmaNew,
    new_mutex,
    page::{
        Page,
        PAGE_SIZE, //
    },
    prelude::*,
    rbtree::RBTree,
    sync::{
        Arc,
        Mutex, //
    },
    uaccess::UserSliceReader,
};

/// The pages of a process's receive buffer, mapped into it.
///
/// Each page has a lock of its own: a sender copies from its own memory
/// (which may fault) with only the lock of the page it writes held, so no
/// process lock is ever held during a user access, and `mmap` (under the
/// `mmap_lock`) takes none of these locks.
pub(crate) struct Mapping {
    /// Where the buffer starts in the process's address space.
    pub(crate) base: u64,
    /// Its size in bytes, a multiple of the page size.
    pub(crate) size: usize,
    pages: KVec<Pin<KBox<Mutex<Page>>>>,
}

impl Mapping {
    /// Maps `size` bytes of zeroed pages at the start of `vma`, read-only.
    pub(crate) fn new(vma: &VmaNew, size: usize) -> Result<Self> {
        let nr = size / PAGE_SIZE;
        let mut pages = KVec::with_capacity(nr, GFP_KERNEL)?;
        let vma = vma.set_mixedmap();
        for i in 0..nr {
            let page = Page::alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO)?;
            vma.vm_insert_page(vma.start() + i * PAGE_SIZE, &page)?;
            pages.push(KBox::pin_init(new_mutex!(page), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        Ok(Self {
            base: vma.start() as u64,
            size: nr * PAGE_SIZE,
            pages,
        })
    }

    /// Calls `f(page, offset in page, range of the whole copy)` for each
    /// page that `offset .. offset + len` covers.
    fn each_page(
        &self,
        offset: usize,
        len: usize,
        mut f: impl FnMut(&mut Page, usize, Range<usize>) -> Result,
    ) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > self.size {
            return Err(EINVAL);
        }
        let mut at = offset;
        while at < end {
            let in_page = at % PAGE_SIZE;
            let n = (PAGE_SIZE - in_page).min(end - at);
            let mut page = self.pages[at / PAGE_SIZE].lock();
            f(&mut page, in_page, at - offset..at - offset + n)?;
            at += n;
        }
        Ok(())
    }

    /// Copies `len` bytes from `reader` to `offset`.
    pub(crate) fn copy_from_user(
        &self,
        offset: usize,
        reader: &mut UserSliceReader,
        len: usize,
    ) -> Result {
        self.each_page(offset, len, |page, at, range| {
            page.copy_from_user_slice(reader, at, range.len())
        })
    }

    /// Copies `data` to `offset`.
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.each_page(offset, data.len(), |page, at, range| {
            page.write_slice(at, &data[range])
        })
    }

    /// Copies the bytes at `offset` into `out`.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        self.each_page(offset, out.len(), |page, at, range| {
            page.read_slice(at, &mut out[range])
        })
    }

    /// Zeroes `len` bytes at `offset`.
    pub(crate) fn zero(&self, offset: usize, len: usize) -> Result {
        self.each_page(offset, len, |page, at, range| {
            page.fill_zero(at, range.len())
        })
    }
}

/// A range of the receive buffer that a transaction holds.
pub(crate) struct Buffer {
    pub(crate) size: usize,
    /// Whether it counts against the space of oneway transactions.
    pub(crate) oneway: bool,
    /// Whether the receiver has it (so may free it).
    pub(crate) delivered: bool,
    /// The transaction's target node, for a oneway transaction: freeing the
    /// buffer lets the node's next oneway transaction go.
    pub(crate) node: Option<Arc<crate::node::Node>>,
    /// The references the buffer's objects hold, released when it is freed.
    pub(crate) held: KVec<Held>,
    /// Zero the buffer when it is freed (`TF_CLEAR_BUF`).
    pub(crate) clear: bool,
}

/// The ranges of a receive buffer in use, by offset.
pub(crate) struct Allocator {
    pub(crate) buffers: RBTree<usize, Buffer>,
    /// The bytes that oneway transactions may still take: half of the buffer
    /// at most, as in C.
    pub(crate) async_free: usize,
    /// Where the last range found ends: the next search starts there.
    next: usize,
}

impl Allocator {
    pub(crate) fn new() -> Self {
        Self {
            buffers: RBTree::new(),
            async_free: 0,
            next: 0,
        }
    }

    /// The offset of a free range of `size` bytes in a buffer of `total`
    /// bytes: the first that fits from where the last range found ends,
    /// else the first from the start (next fit).
    ///
    /// Transactions are mostly freed in the order they came, so the range
    /// after the last one is usually free: a oneway stream that keeps a
    /// thousand buffers in use finds its next range at once, where first
    /// fit walked past all of them each time.
    pub(crate) fn find(&mut self, size: usize, total: usize) -> Option<usize> {
        let found = self
            .find_from(self.next, size, total)
            .or_else(|| self.find_from(0, size, total))?;
        self.next = found + size;
        Some(found)
    }

    /// The first free range of `size` bytes that starts at `from` or after.
    fn find_from(&mut self, from: usize, size: usize, total: usize) -> Option<usize> {
        let Some(mut cursor) = self.buffers.cursor_lower_bound_mut(&from) else {
            // No range starts at `from` or after: the space after the last
            // range, if `from` is not inside it.
            let start = self
                .buffers
                .cursor_back()
                .map_or(0, |c| {
                    let (&offset, buffer) = c.current();
                    offset + buffer.size
                })
                .max(from);
            return (total.checked_sub(start)? >= size).then_some(start);
        };
        // The range before the first one at `from` or after may cover `from`.
        let mut start = cursor
            .peek_prev()
            .map_or(from, |(&offset, buffer)| (offset + buffer.size).max(from));
        loop {
            let (&offset, buffer) = cursor.current();
            if offset - start >= size {
                return Some(start);
            }
            start = offset + buffer.size;
            match cursor.move_next() {
                Some(next) => cursor = next,
                None => break,
            }
        }
        (total.checked_sub(start)? >= size).then_some(start)
    }
}

#[kunit_tests(binderlike_buffer)]
mod tests {
    use super::*;

    fn take(a: &mut Allocator, offset: usize, size: usize) {
        let buffer = Buffer {
            size,
            oneway: false,
            delivered: false,
            node: None,
            held: KVec::new(),
            clear: false,
        };
        let node = kernel::rbtree::RBTreeNode::new(offset, buffer, GFP_KERNEL).unwrap();
        a.buffers.insert(node);
    }

    #[test]
    fn next_fit_from_the_last_range_found() {
        let mut a = Allocator::new();
        assert_eq!(a.find(4097, 4096), None);
        assert_eq!(a.find(64, 4096), Some(0));
        take(&mut a, 0, 64);
        assert_eq!(a.find(64, 4096), Some(64));
        take(&mut a, 64, 64);
        // Freed in order: the next range still follows the last one.
        a.buffers.remove(&0);
        assert_eq!(a.find(64, 4096), Some(128));
        take(&mut a, 128, 64);
        // Nothing fits after the last range: from the start again.
        assert_eq!(a.find(4096 - 192, 4096), Some(192));
        take(&mut a, 192, 4096 - 192);
        assert_eq!(a.find(64, 4096), Some(0));
        take(&mut a, 0, 64);
        assert_eq!(a.find(1, 4096), None);
        // A gap between ranges, found from the start.
        a.buffers.remove(&64);
        assert_eq!(a.find(65, 4096), None);
        assert_eq!(a.find(64, 4096), Some(64));
    }

    #[test]
    fn a_oneway_stream_wraps_around() {
        // Ranges freed in the order they were taken: a ring.
        let mut a = Allocator::new();
        let mut live = KVec::new();
        for i in 0..100usize {
            if live.len() == 10 {
                let first = live.remove(0).unwrap();
                a.buffers.remove(&first);
            }
            let at = a.find(400, 4096).unwrap();
            assert_eq!(at, (i * 400) % 4000);
            take(&mut a, at, 400);
            live.push(at, GFP_KERNEL).unwrap();
        }
    }
}
