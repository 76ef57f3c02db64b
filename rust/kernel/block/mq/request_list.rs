// SPDX-License-Identifier: GPL-2.0

//! A list of requests, linked through the requests themselves.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)

use crate::{
    bindings,
    block::mq::{
        Operations,
        OwnedRequest,
        TimedOutRequest, //
    },
};
use core::{
    marker::PhantomData,
    ptr::{
        self,
        NonNull, //
    },
};

/// A first-in first-out list of requests that the driver owns (C `struct
/// rq_list`).
///
/// The list links the requests through their `rq_next` field, so adding a
/// request needs no allocation and cannot fail for lack of memory: a
/// driver can keep requests in it in atomic context, e.g. a poll queue
/// keeps the requests it waits to complete in [`Operations::poll`].
///
/// The list owns the requests in it, as an [`OwnedRequest`] would: dropping
/// the list drops them, which ends them with an I/O error.
///
/// # Invariants
///
/// `list` is a valid C request list. The list owns each request in it as an
/// [`OwnedRequest<T>`] does: the type invariants of [`OwnedRequest`] hold
/// for it, with the list in place of the handle.
///
/// # Examples
///
/// ```
/// use kernel::block::mq::{Operations, RequestList};
///
/// /// Ends all requests of `list`, in the order they were added.
/// fn end_all<T: Operations>(list: &mut RequestList<T>) {
///     while let Some(rq) = list.pop_front() {
///         rq.end_ok();
///     }
/// }
/// ```
pub struct RequestList<T: Operations> {
    list: bindings::rq_list,
    _p: PhantomData<OwnedRequest<T>>,
}

impl<T: Operations> RequestList<T> {
    /// Returns an empty list.
    pub const fn new() -> Self {
        // INVARIANT: Null head and tail is the empty C list.
        Self {
            list: bindings::rq_list {
                head: ptr::null_mut(),
                tail: ptr::null_mut(),
            },
            _p: PhantomData,
        }
    }

    /// Returns whether the list is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.list.head.is_null()
    }

    /// Adds `rq` at the end of the list.
    #[inline]
    pub fn push_back(&mut self, rq: OwnedRequest<T>) {
        let rq = rq.into_raw();
        // SAFETY: `self.list` is a valid list by the type invariants. `rq` is
        // a valid request that the driver owned alone, so it is in no list:
        // its `rq_next` is free for the list to use, as the block layer
        // leaves it to the driver while the driver owns the request.
        unsafe { bindings::rq_list_add_tail(&mut self.list, rq) };
        // INVARIANT: The list took over the ownership that the handle gave
        // up.
    }

    /// Moves the requests of `other` to the end of this list, in their
    /// order, and leaves `other` empty. Takes constant time.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::block::mq::{Operations, RequestList};
    ///
    /// /// Puts the requests of `retry` before those of `queue`.
    /// fn retry_first<T: Operations>(queue: &mut RequestList<T>, mut retry: RequestList<T>) {
    ///     retry.append(queue);
    ///     *queue = retry;
    /// }
    /// ```
    #[inline]
    pub fn append(&mut self, other: &mut Self) {
        let other = core::mem::take(other);
        let other = core::mem::ManuallyDrop::new(other);
        if other.list.head.is_null() {
            return;
        }
        if self.list.tail.is_null() {
            self.list.head = other.list.head;
        } else {
            // SAFETY: By the type invariants, the tail of this non-empty list
            // is a valid request in it, the last one, whose `rq_next` is the
            // list's to set.
            unsafe { (*self.list.tail).__bindgen_anon_1.rq_next = other.list.head };
        }
        self.list.tail = other.list.tail;
        // INVARIANT: The requests of `other`, which `other` owned and does
        // not drop, are linked after those of this list.
    }

    /// Removes the request that timed out, `rq`, from the list and returns
    /// it, or [`None`] if it is not in the list (e.g. because it ended
    /// meanwhile). Takes time linear in the length of the list.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::block::mq::{Operations, RequestList, TimedOutRequest};
    /// use kernel::prelude::*;
    ///
    /// /// Ends `rq` if the driver has it in `waiting`.
    /// fn time_out<T: Operations>(waiting: &mut RequestList<T>, rq: &TimedOutRequest<'_, T>) {
    ///     if let Some(rq) = waiting.take(rq) {
    ///         rq.end(Err(ETIMEDOUT));
    ///     }
    /// }
    /// ```
    pub fn take(&mut self, rq: &TimedOutRequest<'_, T>) -> Option<OwnedRequest<T>> {
        let target = rq.as_raw();
        let mut prev: *mut bindings::request = ptr::null_mut();
        let mut cur = self.list.head;
        while !cur.is_null() {
            // SAFETY: By the type invariants, `cur` is a valid request in
            // the list, whose `rq_next` is the list's.
            let next = unsafe { (*cur).__bindgen_anon_1.rq_next };
            if cur == target {
                if prev.is_null() {
                    self.list.head = next;
                } else {
                    // SAFETY: `prev` is the request before `cur` in the list,
                    // as above.
                    unsafe { (*prev).__bindgen_anon_1.rq_next = next };
                }
                if self.list.tail == cur {
                    self.list.tail = prev;
                }
                // SAFETY: By the type invariants `cur` is a request that the
                // list owned as an `OwnedRequest` would; it is unlinked and
                // the ownership passes to the returned handle.
                return Some(unsafe { OwnedRequest::from_raw(cur) });
            }
            prev = cur;
            cur = next;
        }
        None
    }

    /// Removes the first request from the list and returns it.
    #[inline]
    pub fn pop_front(&mut self) -> Option<OwnedRequest<T>> {
        // SAFETY: `self.list` is a valid list by the type invariants.
        let rq = NonNull::new(unsafe { bindings::rq_list_pop(&mut self.list) })?;
        // SAFETY: By the type invariants, `rq` is a request that the list
        // owned as an `OwnedRequest` would; it is unlinked and the ownership
        // passes to the returned handle.
        Some(unsafe { OwnedRequest::from_raw(rq.as_ptr()) })
    }
}

impl<T: Operations> Default for RequestList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Operations> Drop for RequestList<T> {
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
    }
}

// SAFETY: The list owns its requests as `OwnedRequest<T>`s do, which may be
// sent to and dropped on any thread.
unsafe impl<T: Operations> Send for RequestList<T> {}

// SAFETY: A shared `RequestList` gives no access to its requests.
unsafe impl<T: Operations> Sync for RequestList<T> {}
