// SPDX-License-Identifier: GPL-2.0

//! A first-in, first-out queue of work.

use kernel::{
    alloc::{
        AllocError,
        Flags, //
    },
    prelude::*,
};

/// A first-in, first-out queue whose pops take constant time and pushes
/// amortized constant time: a ring in a [`KVec`] that doubles when full.
///
/// A oneway stream keeps up to a thousand transactions queued on a node;
/// taking the first of a [`KVec`] moves all the others.
///
/// # Invariants
///
/// `ring.len()` is zero or a power of two, the `len` items are in the slots
/// `head`, `head + 1`, ... (modulo `ring.len()`), which are `Some`, and the
/// other slots are `None`.
pub(crate) struct Queue<T> {
    ring: KVec<Option<T>>,
    head: usize,
    len: usize,
}

impl<T> Queue<T> {
    /// An empty queue; it allocates with its first push.
    pub(crate) const fn new() -> Self {
        // INVARIANT: no slots, no items.
        Self {
            ring: KVec::new(),
            head: 0,
            len: 0,
        }
    }

    /// How many items are queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no item is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot of the `i`th item from the head.
    fn slot(&self, i: usize) -> usize {
        (self.head + i) & (self.ring.len() - 1)
    }

    /// Queues `item` last.
    pub(crate) fn push(&mut self, item: T, flags: Flags) -> Result<(), AllocError> {
        if self.len == self.ring.len() {
            self.grow(flags)?;
        }
        let at = self.slot(self.len);
        // INVARIANT: the slot after the last item was free, as `len` was
        // below `ring.len()`.
        self.ring[at] = Some(item);
        self.len += 1;
        Ok(())
    }

    /// Doubles the ring (to 4 slots if it has none), its items first.
    fn grow(&mut self, flags: Flags) -> Result<(), AllocError> {
        let size = (self.ring.len() * 2).max(4);
        let mut ring = KVec::with_capacity(size, flags)?;
        for i in 0..size {
            let item = if i < self.len {
                let at = self.slot(i);
                self.ring[at].take()
            } else {
                None
            };
            // Within the capacity just allocated: no allocation.
            ring.push(item, flags)?;
        }
        // INVARIANT: the items moved in order to the slots 0.., the rest
        // are `None`, and the new size is a power of two.
        self.ring = ring;
        self.head = 0;
        Ok(())
    }

    /// Takes the first item.
    pub(crate) fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = self.ring[self.head].take();
        // INVARIANT: the first item's slot is `None` now, and the next
        // item is the first.
        self.head = self.slot(1);
        self.len -= 1;
        item
    }

    /// The items, first to last.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        (0..self.len).filter_map(move |i| self.ring[self.slot(i)].as_ref())
    }
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The items of a [`Queue`], first to last.
pub(crate) struct IntoIter<T>(Queue<T>);

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.0.pop()
    }
}

impl<T> IntoIterator for Queue<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter(self)
    }
}

#[kunit_tests(binderlike_queue)]
mod tests {
    use super::*;

    #[test]
    fn first_in_first_out_across_wraps_and_growth() -> Result {
        let mut q = Queue::new();
        let (mut next_in, mut next_out) = (0u32, 0u32);
        // Three in, two out: the ring wraps and grows with items on both
        // sides of its end.
        for _ in 0..200 {
            for _ in 0..3 {
                q.push(next_in, GFP_KERNEL)?;
                next_in += 1;
            }
            for _ in 0..2 {
                assert_eq!(q.pop(), Some(next_out));
                next_out += 1;
            }
            assert_eq!(q.len(), (next_in - next_out) as usize);
            assert!(q.iter().copied().eq(next_out..next_in));
        }
        for item in q {
            assert_eq!(item, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
        Ok(())
    }

    #[test]
    fn empty() {
        let mut q: Queue<u32> = Queue::default();
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
        assert_eq!(q.iter().count(), 0);
    }
}
