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
/// Room can be reserved ahead ([`Queue::reserve`]) for work that must not
/// be lost later, where an allocation could fail and nobody could be told:
/// [`Queue::push_reserved`] then queues it without allocating.
///
/// # Invariants
///
/// `ring.len()` is zero or a power of two, the `len` items are in the slots
/// `head`, `head + 1`, ... (modulo `ring.len()`), which are `Some`, and the
/// other slots are `None`; `len + reserved <= ring.len()`.
pub(crate) struct Queue<T> {
    ring: KVec<Option<T>>,
    head: usize,
    len: usize,
    reserved: usize,
}

/// Room for one item in the [`Queue`] whose [`Queue::reserve`] made it.
///
/// Give it to [`Queue::push_reserved`] or [`Queue::release`] of that queue;
/// dropped, it stays reserved as long as the queue lives.
pub(crate) struct Reserved(());

impl<T> Queue<T> {
    /// An empty queue; it allocates with its first push.
    pub(crate) const fn new() -> Self {
        // INVARIANT: no slots, no items.
        Self {
            ring: KVec::new(),
            head: 0,
            len: 0,
            reserved: 0,
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
        if self.len + self.reserved == self.ring.len() {
            self.grow(flags)?;
        }
        self.put(item);
        Ok(())
    }

    /// Makes room for one more item, which [`Queue::push_reserved`] then
    /// queues without allocating.
    pub(crate) fn reserve(&mut self, flags: Flags) -> Result<Reserved, AllocError> {
        if self.len + self.reserved == self.ring.len() {
            self.grow(flags)?;
        }
        // INVARIANT: `len + reserved` was below `ring.len()`.
        self.reserved += 1;
        Ok(Reserved(()))
    }

    /// Queues `item` last, in the room `room` holds.
    pub(crate) fn push_reserved(&mut self, item: T, room: Reserved) {
        self.release(room);
        // `len + reserved` is below `ring.len()` again: the room is free.
        self.put(item);
    }

    /// Gives back the room `room` holds.
    pub(crate) fn release(&mut self, room: Reserved) {
        let Reserved(()) = room;
        // INVARIANT: less is reserved. A room made by another queue would
        // take this one's count below zero, which overflow checks catch.
        self.reserved -= 1;
    }

    /// Puts `item` after the last one; `len + reserved < ring.len()`.
    fn put(&mut self, item: T) {
        let at = self.slot(self.len);
        // INVARIANT: the slot after the last item was free, as `len` was
        // below `ring.len()`; `len + reserved` stays within it.
        self.ring[at] = Some(item);
        self.len += 1;
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

    /// Takes the first item for which `f` is true; the others keep their
    /// order.
    pub(crate) fn take_first(&mut self, mut f: impl FnMut(&T) -> bool) -> Option<T> {
        let mut found = None;
        for _ in 0..self.len {
            let item = self.pop()?;
            if found.is_none() && f(&item) {
                found = Some(item);
            } else {
                // After the last item: the pop above made room for it.
                self.put(item);
            }
        }
        found
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
    fn reserved_room_needs_no_allocation() -> Result {
        let mut q = Queue::new();
        let rooms = [
            q.reserve(GFP_KERNEL)?,
            q.reserve(GFP_KERNEL)?,
            q.reserve(GFP_KERNEL)?,
        ];
        let size = q.ring.len();
        // Pushes with and without reservations share the ring: the reserved
        // room is kept free.
        for i in 0..5 {
            q.push(i, GFP_KERNEL)?;
            assert!(q.len() + q.reserved <= q.ring.len());
        }
        let size_after_pushes = q.ring.len();
        assert!(size_after_pushes >= 8 && size_after_pushes > size);
        let [a, b, c] = rooms;
        q.push_reserved(5, a);
        q.push_reserved(6, b);
        q.release(c);
        assert_eq!(q.ring.len(), size_after_pushes);
        assert!(q.iter().copied().eq(0..7));
        assert_eq!(q.reserved, 0);
        Ok(())
    }

    #[test]
    fn take_first_keeps_the_order() -> Result {
        let mut q = Queue::new();
        for i in 0..10 {
            q.push(i, GFP_KERNEL)?;
        }
        assert_eq!(q.take_first(|&i| i % 4 == 3), Some(3));
        assert_eq!(q.take_first(|&i| i > 100), None);
        assert!(q.iter().copied().eq([0, 1, 2, 4, 5, 6, 7, 8, 9]));
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
