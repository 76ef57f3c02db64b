// SPDX-License-Identifier: GPL-2.0

//! Iteration over the data buffer of a [`Request`].
//!
//! The data of a read or write request lives in the pages of the bios that
//! make up the request. [`Request::segments`] and
//! [`OwnedRequest::segments_mut`] walk them the way C's
//! `rq_for_each_segment()` does, one [`Segment`] per page, and the segments
//! copy to and from kernel buffers without exposing raw pointers.
//!
//! C header: [`include/linux/bio.h`](srctree/include/linux/bio.h)
//!
//! # Examples
//!
//! A driver that serves reads from a buffer of its own:
//!
//! ```
//! use kernel::block::mq::{Command, Operations, OwnedRequest};
//! use kernel::prelude::*;
//!
//! fn serve_read<T: Operations>(rq: &mut OwnedRequest<T>, data: &[u8]) -> Result {
//!     if rq.command() != Command::Read {
//!         return Err(EINVAL);
//!     }
//!     let mut pos = 0;
//!     for mut segment in rq.segments_mut() {
//!         let len = segment.len();
//!         let src = data.get(pos..pos + len).ok_or(EIO)?;
//!         segment.copy_from_slice(0, src)?;
//!         pos += len;
//!     }
//!     Ok(())
//! }
//! ```

use crate::{
    bindings,
    block::mq::{
        Operations,
        OwnedRequest,
        Request, //
    },
    error::Result,
    page::BorrowedPage,
    prelude::*,
};
use core::{
    marker::PhantomData,
    ops::Deref,
    ptr::NonNull, //
};

/// A piece of a request's data buffer that lies within one page.
///
/// The data of a read request is written into segments, the data of a write
/// request is read out of them. A [`Segment`] can only be read; a
/// [`SegmentMut`] can also be written.
///
/// # Invariants
///
/// `offset + len <= PAGE_SIZE`, and the bytes `offset..offset + len` of `page`
/// belong to the data buffer of a request that the driver owns for `'a`.
pub struct Segment<'a> {
    page: BorrowedPage<'a>,
    offset: usize,
    len: usize,
}

impl Segment<'_> {
    /// Returns the number of bytes in this segment.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns `true` if the segment holds no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns the offset of the segment in its page.
    #[inline]
    pub fn page_offset(&self) -> usize {
        self.offset
    }

    /// Checks that `offset..offset + len` lies within the segment and returns
    /// the matching offset in the page.
    fn page_range(&self, offset: usize, len: usize) -> Result<usize> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(self.offset + offset),
            _ => Err(EINVAL),
        }
    }

    /// Copies `dst.len()` bytes, starting `offset` bytes into the segment,
    /// into `dst`.
    ///
    /// Returns [`EINVAL`] if the range does not lie within the segment.
    pub fn copy_to_slice(&self, offset: usize, dst: &mut [u8]) -> Result {
        let page_offset = self.page_range(offset, dst.len())?;
        // SAFETY: `dst` is valid for writing `dst.len()` bytes. By the type
        // invariant the bytes read belong to a request buffer the driver owns;
        // the block layer does not write to the buffer of a request it has
        // handed to the driver, and segments of a request are only written
        // through a `SegmentMut`, which excludes `Segment`s of the same request.
        unsafe { self.page.read_raw(dst.as_mut_ptr(), page_offset, dst.len()) }
    }
}

/// A [`Segment`] that can also be written.
///
/// Obtained from [`OwnedRequest::segments_mut`], which makes sure that
/// nothing else reads or writes the request's buffer through Rust at the same
/// time.
pub struct SegmentMut<'a>(Segment<'a>);

impl SegmentMut<'_> {
    /// Copies `src` into the segment, starting `offset` bytes into it.
    ///
    /// Returns [`EINVAL`] if the range does not lie within the segment.
    pub fn copy_from_slice(&mut self, offset: usize, src: &[u8]) -> Result {
        let page_offset = self.0.page_range(offset, src.len())?;
        // SAFETY: `src` is valid for reading `src.len()` bytes. By the type
        // invariant of `Segment` the bytes written belong to a request buffer
        // the driver owns, and `OwnedRequest::segments_mut` guarantees that no
        // other Rust code accesses that buffer while `self` exists.
        unsafe { self.0.page.write_raw(src.as_ptr(), page_offset, src.len()) }
    }

    /// Fills `len` bytes of the segment, starting `offset` bytes into it,
    /// with zeroes.
    ///
    /// Returns [`EINVAL`] if the range does not lie within the segment.
    pub fn zero(&mut self, offset: usize, len: usize) -> Result {
        let page_offset = self.0.page_range(offset, len)?;
        // SAFETY: As in `copy_from_slice`, the range belongs to a request
        // buffer that only `self` accesses.
        unsafe { self.0.page.fill_zero_raw(page_offset, len) }
    }
}

impl<'a> Deref for SegmentMut<'a> {
    type Target = Segment<'a>;

    fn deref(&self) -> &Segment<'a> {
        &self.0
    }
}

/// A cursor over the bios of a request, yielding single-page segments.
///
/// # Invariants
///
/// `bio` is null or points to a bio of a request that the driver owns for
/// `'a`, and `iter` is a valid iterator within it.
struct Cursor<'a> {
    bio: *mut bindings::bio,
    iter: bindings::bvec_iter,
    _p: PhantomData<&'a ()>,
}

impl<'a> Cursor<'a> {
    /// Creates a cursor over the data buffer of `rq`.
    fn new<T: Operations>(rq: &'a Request<T>) -> Self {
        let bio = if rq.command().has_data() {
            // SAFETY: `rq.as_raw()` is a valid request owned by the driver; its
            // bio list does not change while the driver owns it.
            unsafe { (*rq.as_raw()).bio }
        } else {
            // Discard, write zeroes, flush and zone management requests have
            // no data pages even when they cover sectors.
            core::ptr::null_mut()
        };
        let iter = if bio.is_null() {
            pin_init::zeroed()
        } else {
            // SAFETY: `bio` is a valid bio of the request.
            unsafe { (*bio).bi_iter }
        };
        // INVARIANT: `bio` is null or the first bio of `rq`, `iter` its iterator.
        Self {
            bio,
            iter,
            _p: PhantomData,
        }
    }

    fn next_segment(&mut self) -> Option<Segment<'a>> {
        loop {
            if self.bio.is_null() {
                return None;
            }
            if self.iter.bi_size == 0 {
                // SAFETY: By the type invariant `self.bio` is a valid bio; the
                // next one in the chain is null or valid as well.
                self.bio = unsafe { (*self.bio).bi_next };
                if !self.bio.is_null() {
                    // SAFETY: `self.bio` is a valid bio, checked above.
                    self.iter = unsafe { (*self.bio).bi_iter };
                }
                continue;
            }
            // SAFETY: `self.bio` is a valid bio with data and `self.iter` a
            // valid, non-empty iterator within it.
            let bvec = unsafe { bindings::bio_iter_iovec(self.bio, self.iter) };
            // SAFETY: As above; `bv_len` bytes are left in the current bvec.
            unsafe { bindings::bio_advance_iter_single(self.bio, &mut self.iter, bvec.bv_len) };
            let page = NonNull::new(bvec.bv_page)?;
            // SAFETY: The page belongs to the data buffer of a request the
            // driver owns for `'a`, so it stays valid for `'a`.
            let page = unsafe { BorrowedPage::from_raw(page) };
            // INVARIANT: `bio_iter_iovec` returns a single-page segment, so
            // `bv_offset + bv_len <= PAGE_SIZE`.
            return Some(Segment {
                page,
                offset: bvec.bv_offset as usize,
                len: bvec.bv_len as usize,
            });
        }
    }
}

/// An iterator over the [`Segment`]s of a request. See [`Request::segments`].
pub struct Segments<'a>(Cursor<'a>);

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        self.0.next_segment()
    }
}

/// An iterator over the [`SegmentMut`]s of a request. See
/// [`OwnedRequest::segments_mut`].
pub struct SegmentsMut<'a>(Cursor<'a>);

impl<'a> Iterator for SegmentsMut<'a> {
    type Item = SegmentMut<'a>;

    fn next(&mut self) -> Option<SegmentMut<'a>> {
        self.0.next_segment().map(SegmentMut)
    }
}

impl<T: Operations> Request<T> {
    /// Returns an iterator over the data buffer of the request, one
    /// [`Segment`] per page, in the order of the request's sectors.
    ///
    /// Requests without data (flush, discard, write zeroes, zone management)
    /// yield no segments.
    pub fn segments(&self) -> Segments<'_> {
        Segments(Cursor::new(self))
    }
}

impl<T: Operations> OwnedRequest<T> {
    /// Returns an iterator over the data buffer of the request that can
    /// write to it, for example to fill the buffer of a read request.
    ///
    /// The driver owns the request alone and `self` is borrowed exclusively
    /// while the iterator lives, so nothing else reads or writes the buffer
    /// through Rust meanwhile.
    pub fn segments_mut(&mut self) -> SegmentsMut<'_> {
        let rq: &Request<T> = self;
        SegmentsMut(Cursor::new(rq))
    }
}
