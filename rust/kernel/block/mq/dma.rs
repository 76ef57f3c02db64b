// SPDX-License-Identifier: GPL-2.0

//! Mapping the data of block requests for DMA.
//!
//! A driver whose tag set was made with [`TagSet::with_dma`] maps the data
//! of a request it owns with [`OwnedRequest::dma_map`] and hands the
//! segments to its device. The mapping belongs to the request: it is undone
//! when the request goes back to the block layer, however that happens
//! (ended, requeued, completed in a batch, rejected or dropped), so a driver
//! cannot leak it or unmap memory the device may still use while the
//! request is with it.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)
//!
//! [`TagSet::with_dma`]: super::TagSet::with_dma

use crate::{
    alloc::flags::GFP_NOIO,
    bindings,
    block::mq::{
        Operations,
        OwnedRequest,
        Request, //
    },
    dma::DmaAddress,
    prelude::*,
};
use core::{
    cell::UnsafeCell,
    marker::PhantomData, //
};

/// The DMA state of a request, in its PDU: a pointer, null for the
/// requests of a tag set without a DMA device, so that those requests
/// carry no more than it.
pub(crate) struct RequestDma(Option<KBox<DmaState>>);

/// The DMA state of a request of a tag set with a DMA device.
///
/// # Invariants
///
/// - `sg` is an initialized table of at least one entry, for the DMA device
///   of the request's tag set, `dev`.
/// - `dev` is the device the tag set holds a reference to, which lives as
///   long as the request.
/// - `nents` is the number of entries of `sg` mapped for `dev` while the
///   request is mapped, and 0 otherwise. Only the owner of the request
///   ([`OwnedRequest`], or the code that gives the request back to the block
///   layer) accesses it.
struct DmaState {
    sg: KVec<bindings::scatterlist>,
    dev: *mut bindings::device,
    nents: UnsafeCell<u32>,
}

// SAFETY: `sg` and `nents` are only used by the owner of the request (type
// invariant), which may be on any thread; `dev` is a device pointer that is
// valid everywhere.
unsafe impl Send for DmaState {}

// SAFETY: Shared references to a request do not reach `sg` or `nents` (type
// invariant); `dev` is only read.
unsafe impl Sync for DmaState {}

impl RequestDma {
    /// The state of a request of a tag set without DMA.
    pub(crate) const fn none() -> Self {
        Self(None)
    }

    /// The state of a request whose data may be mapped for `dev`, in up to
    /// `max_segments` segments (at least one).
    pub(crate) fn new(dev: &crate::device::Device, max_segments: u16) -> Result<Self> {
        let zeroed: bindings::scatterlist = pin_init::zeroed();
        let mut sg = KVec::from_elem(zeroed, max_segments.into(), GFP_NOIO)?;
        if sg.is_empty() {
            return Err(EINVAL);
        }
        // SAFETY: `sg` has `max_segments` entries.
        unsafe { bindings::sg_init_table(sg.as_mut_ptr(), max_segments.into()) };
        // INVARIANT: An initialized table for `dev`, which the tag set holds
        // (the only caller passes the tag set's device), not mapped.
        let state = DmaState {
            sg,
            dev: dev.as_raw(),
            nents: UnsafeCell::new(0),
        };
        Ok(Self(Some(KBox::new(state, GFP_NOIO)?)))
    }

    /// Undoes the mapping of the data of `rq`, if it is mapped.
    ///
    /// # Safety
    ///
    /// `rq` must be the request whose PDU holds `self`, which the caller
    /// owns alone, and the device must be done with the mapped data.
    #[inline]
    pub(crate) unsafe fn unmap(&self, rq: *mut bindings::request) {
        let Some(state) = &self.0 else {
            return;
        };
        // SAFETY: The caller owns the request, so it alone reaches `nents`.
        let nents = unsafe { *state.nents.get() };
        if nents == 0 {
            return;
        }
        // SAFETY: As above; by the type invariants the first `nents` entries
        // of `sg` are mapped for `dev`, in the direction of `rq`, whose
        // operation does not change while the driver owns it.
        unsafe {
            bindings::dma_unmap_sg_attrs(
                state.dev,
                state.sg.as_ptr().cast_mut(),
                nents as i32,
                direction(rq),
                0,
            );
            *state.nents.get() = 0;
        }
    }
}

/// The direction of the data of `rq` (C `rq_dma_dir()`).
///
/// # Safety
///
/// `rq` must be a valid request.
#[inline]
unsafe fn direction(rq: *mut bindings::request) -> bindings::dma_data_direction {
    // SAFETY: `rq` is valid. The lowest bit of an operation says whether it
    // writes to the device (C `op_is_write()`).
    if unsafe { (*rq).cmd_flags } & 1 != 0 {
        bindings::dma_data_direction::DMA_TO_DEVICE
    } else {
        bindings::dma_data_direction::DMA_FROM_DEVICE
    }
}

/// A DMA segment of the data of a request: where the device finds it and
/// how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaSegment {
    /// The DMA address of the segment.
    pub addr: DmaAddress,
    /// The length of the segment in bytes.
    pub len: u32,
}

/// The DMA segments of a request's data, from [`OwnedRequest::dma_map`].
///
/// A clone iterates over the same segments, e.g. for a driver to look at
/// them before it describes them to its device.
///
/// # Invariants
///
/// `next` points to the first of `left` mapped entries of a scatterlist
/// table that stays mapped while `'a` lasts.
#[derive(Clone)]
pub struct DmaSegments<'a> {
    next: *mut bindings::scatterlist,
    left: u32,
    _p: PhantomData<&'a bindings::scatterlist>,
}

impl Iterator for DmaSegments<'_> {
    type Item = DmaSegment;

    #[inline]
    fn next(&mut self) -> Option<DmaSegment> {
        if self.left == 0 {
            return None;
        }
        let sg = self.next;
        // SAFETY: By the type invariants `sg` is a mapped entry of a table
        // that stays mapped while `self` lives.
        let seg = unsafe {
            DmaSegment {
                addr: bindings::sg_dma_address(sg),
                len: bindings::sg_dma_len(sg),
            }
        };
        self.left -= 1;
        if self.left != 0 {
            // INVARIANT: The next entry is mapped, as `left` says.
            // SAFETY: `sg` is an entry of an initialized table with more
            // entries after it.
            self.next = unsafe { bindings::sg_next(sg) };
        }
        Some(seg)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for DmaSegments<'_> {}

impl<T: Operations> OwnedRequest<T> {
    /// Maps the data of the request for DMA by the device of its tag set
    /// ([`TagSet::with_dma`]) and returns its segments, in order (C
    /// `blk_rq_map_sg()` and `dma_map_sg()`).
    ///
    /// The data stays mapped until the request goes back to the block
    /// layer, which undoes the mapping, so the driver can hand the segments
    /// to its device for as long as it owns the request, also while the
    /// request is with the device ([`OwnedRequest::hand_to_device`]). A
    /// request without data (a flush, for example) has no segments.
    ///
    /// Fails with [`EINVAL`] if the tag set has no DMA device, with
    /// [`EBUSY`] if the request is mapped already and with [`ENOMEM`] if
    /// the mapping fails (e.g. no IOMMU space or bounce buffers are left):
    /// the driver can then requeue the request.
    ///
    /// [`TagSet::with_dma`]: super::TagSet::with_dma
    pub fn dma_map(&mut self) -> Result<DmaSegments<'_>> {
        let rq = self.as_raw();
        let Some(dma) = &self.wrapper_ref().dma.0 else {
            return Err(EINVAL);
        };
        // SAFETY: `self` owns the request alone, so it alone reaches `nents`.
        if unsafe { *dma.nents.get() } != 0 {
            return Err(EBUSY);
        }
        let sg = dma.sg.as_ptr().cast_mut();
        // SAFETY: `rq` is a valid request that `self` owns.
        let segments = u32::from(unsafe { (*rq).nr_phys_segments });
        if segments == 0 {
            // INVARIANT: No entries.
            return Ok(DmaSegments {
                next: sg,
                left: 0,
                _p: PhantomData,
            });
        }
        // The tag set caps the segments of its disks' requests at the size
        // of the table (see `GenDiskBuilder::build`).
        if segments as usize > dma.sg.len() {
            return Err(EINVAL);
        }
        let mut last = core::ptr::null_mut();
        // SAFETY: `sg` is an initialized table with at least `segments`
        // entries, as many as the request has physical segments. Only the
        // owner of the request writes to the table.
        let nents = unsafe {
            bindings::sg_init_table(sg, segments);
            bindings::__blk_rq_map_sg(rq, sg, &mut last)
        };
        if nents <= 0 {
            return Err(EINVAL);
        }
        // SAFETY: The first `nents` entries of `sg` describe the data of
        // `rq`; `dev` is the tag set's live DMA device.
        let mapped = unsafe { bindings::dma_map_sg_attrs(dma.dev, sg, nents, direction(rq), 0) };
        if mapped == 0 {
            return Err(ENOMEM);
        }
        // INVARIANT: `nents` entries are mapped now; they stay mapped until
        // the request goes back to the block layer, after `'_`.
        // SAFETY: `self` owns the request alone.
        unsafe { *dma.nents.get() = nents as u32 };
        Ok(DmaSegments {
            next: sg,
            left: mapped,
            _p: PhantomData,
        })
    }
}

impl<T: Operations> Request<T> {
    /// Undoes the DMA mapping of the request's data, if it has one.
    ///
    /// # Safety
    ///
    /// The caller must own the request alone, and its device must be done
    /// with the data.
    #[inline]
    pub(crate) unsafe fn dma_unmap(&self) {
        // SAFETY: By the safety requirements of this function.
        unsafe { self.wrapper_ref().dma.unmap(self.as_raw()) }
    }
}
