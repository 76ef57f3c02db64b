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
use core::cell::UnsafeCell;

/// The DMA state of a request, in its PDU: a pointer, null for the
/// requests of a tag set without a DMA device, so that those requests
/// carry no more than it.
pub(crate) struct RequestDma(Option<KBox<DmaState>>);

/// The DMA state of a request of a tag set with a DMA device.
///
/// # Invariants
///
/// - `dev` is the device the tag set holds a reference to, which lives as
///   long as the request.
/// - Only the owner of the request ([`OwnedRequest`], or the code that gives
///   the request back to the block layer) accesses `map`.
struct DmaState {
    dev: *mut bindings::device,
    map: UnsafeCell<Mapping>,
}

/// The mapping of a request's data.
///
/// # Invariants
///
/// - `segs` has at least one entry.
/// - While the request's data is mapped, its first `count` entries are the
///   segments `blk_rq_dma_map_iter_start()` and `_next()` mapped for the
///   device of the [`DmaState`], `len` bytes in all, with `iova` and `p2p`
///   as those functions left them, and `joints` is the bitwise OR of the
///   addresses at which one of them ends and the next starts; `count` is 0
///   otherwise.
struct Mapping {
    segs: KVec<DmaSegment>,
    count: u32,
    len: usize,
    joints: DmaAddress,
    iova: bindings::dma_iova_state,
    p2p: bindings::pci_p2pdma_map_type,
}

// SAFETY: `map` is only used by the owner of the request (type invariant),
// which may be on any thread; `dev` is a device pointer that is valid
// everywhere.
unsafe impl Send for DmaState {}

// SAFETY: Shared references to a request do not reach `map` (type
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
        let empty = DmaSegment { addr: 0, len: 0 };
        let segs = KVec::from_elem(empty, max_segments.into(), GFP_NOIO)?;
        if segs.is_empty() {
            return Err(EINVAL);
        }
        // INVARIANT: `segs` has `max_segments` entries, at least one; not
        // mapped. `dev` is the tag set's device (the only caller passes it).
        let state = DmaState {
            dev: dev.as_raw(),
            map: UnsafeCell::new(Mapping {
                segs,
                count: 0,
                len: 0,
                joints: 0,
                iova: pin_init::zeroed(),
                p2p: bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_NONE,
            }),
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
        // SAFETY: The caller owns the request, so it alone reaches `map`.
        let map = unsafe { &mut *state.map.get() };
        if map.count != 0 {
            // SAFETY: By the type invariants the first `count` segments are
            // mapped for `dev`, in the direction of `rq`, whose operation
            // does not change while it is owned; the device is done with
            // them.
            unsafe { unmap(rq, state.dev, map) };
        }
    }
}

/// Undoes the mapping `map` of the data of `rq` for `dev`: at once if an
/// IOVA covers it or the DMA of `dev` needs no unmapping (C
/// `blk_rq_dma_unmap()`), else segment by segment, as C nvme does.
///
/// # Safety
///
/// `map` must hold `count > 0` segments of the data of `rq` mapped for
/// `dev`, whose device is done with them.
#[inline(never)]
unsafe fn unmap(rq: *mut bindings::request, dev: *mut bindings::device, map: &mut Mapping) {
    // SAFETY: By the safety requirements, `iova`, `len` and `p2p` are as
    // the mapping of the data of `rq` for `dev` left them.
    let done = unsafe { bindings::blk_rq_dma_unmap(rq, dev, &mut map.iova, map.len, map.p2p) };
    if !done {
        let attrs = if map.p2p == bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE {
            bindings::DMA_ATTR_MMIO as usize
        } else {
            0
        };
        // SAFETY: `rq` is a valid request.
        let dir = unsafe { direction(rq) };
        for seg in map.segs.iter().take(map.count as usize) {
            // SAFETY: Each of the first `count` segments was mapped for `dev`
            // by `dma_map_phys()` with these direction and attributes.
            unsafe { bindings::dma_unmap_phys(dev, seg.addr, seg.len as usize, dir, attrs) };
        }
    }
    // INVARIANT: Nothing is mapped any more.
    map.count = 0;
    map.len = 0;
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
/// A clone iterates over the same segments. What a driver needs to choose
/// how to describe them to its device, [`DmaSegments::bytes`] and
/// [`DmaSegments::joints`], it learns without iterating.
#[derive(Clone)]
pub struct DmaSegments<'a> {
    iter: core::slice::Iter<'a, DmaSegment>,
    bytes: usize,
    joints: DmaAddress,
}

impl DmaSegments<'_> {
    /// The length of all the segments in bytes, however many of them the
    /// iterator returned already.
    #[inline]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bitwise OR of the DMA addresses at which one segment ends and
    /// the next starts: the end of each segment but the last, and the start
    /// of each one but the first; 0 for one segment. The segments meet only
    /// at multiples of a power of two `align` if `joints() & (align - 1)` is
    /// 0, which is what an NVMe controller needs to take them as a PRP list,
    /// for example.
    #[inline]
    pub fn joints(&self) -> DmaAddress {
        self.joints
    }
}

impl Iterator for DmaSegments<'_> {
    type Item = DmaSegment;

    #[inline]
    fn next(&mut self) -> Option<DmaSegment> {
        self.iter.next().copied()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl ExactSizeIterator for DmaSegments<'_> {}

impl<T: Operations> OwnedRequest<T> {
    /// Maps the data of the request for DMA by the device of its tag set
    /// ([`TagSet::with_dma`]) and returns its segments, in order (C
    /// `blk_rq_dma_map_iter_start()` and `blk_rq_dma_map_iter_next()`, as C
    /// nvme uses them: one segment if an IOMMU maps the data to one range).
    ///
    /// The data stays mapped until the request goes back to the block
    /// layer, which undoes the mapping, so the driver can hand the segments
    /// to its device for as long as it owns the request, also while the
    /// request is with it ([`OwnedRequest::hand_to_device`]). A request
    /// without data (a flush, for example) has no segments.
    ///
    /// Fails with [`EINVAL`] if the tag set has no DMA device or the data
    /// cannot be mapped for it (e.g. peer-to-peer memory it cannot reach),
    /// with [`EBUSY`] if the request is mapped already and with [`ENOMEM`]
    /// if the mapping fails for want of resources (e.g. no IOMMU space or
    /// bounce buffers are left): the driver can then requeue the request.
    ///
    /// [`TagSet::with_dma`]: super::TagSet::with_dma
    #[inline]
    pub fn dma_map(&mut self) -> Result<DmaSegments<'_>> {
        let Some(dma) = &self.wrapper_ref().dma.0 else {
            return Err(EINVAL);
        };
        // SAFETY: `self` owns the request alone, so it alone reaches `map`,
        // for as long as the returned segments borrow `self`.
        let map = unsafe { &mut *dma.map.get() };
        // SAFETY: `self` owns the request, `dev` is the tag set's device.
        unsafe { map_request(self.as_raw(), dma.dev, map) }?;
        Ok(DmaSegments {
            iter: map.segs[..map.count as usize].iter(),
            bytes: map.len,
            joints: map.joints,
        })
    }
}

/// Maps the data of `rq`, a request of one segment, for `dev` as one
/// range, without the DMA iterator, as C nvme does for small I/O; returns
/// [`None`] if the request needs the iterator (its data is in more than
/// one bio vector, or in peer-to-peer memory).
///
/// # Safety
///
/// The caller must own `rq`, and `dev` must be a live device.
#[inline]
unsafe fn map_single(
    rq: *mut bindings::request,
    dev: *mut bindings::device,
) -> Result<Option<DmaSegment>> {
    // SAFETY: `rq` is a valid request with data, which the caller owns.
    let (bv, bytes) = unsafe { (bindings::req_bvec(rq), bindings::blk_rq_payload_bytes(rq)) };
    // SAFETY: `bv.bv_page` is a page of the request's data.
    if bv.bv_len != bytes || unsafe { bindings::is_pci_p2pdma_page(bv.bv_page) } {
        return Ok(None);
    }
    // SAFETY: `bv` describes all the data of `rq`, in memory of the kernel;
    // `dev` is live.
    let addr = unsafe {
        bindings::dma_map_page_attrs(
            dev,
            bv.bv_page,
            bv.bv_offset as usize,
            bv.bv_len as usize,
            direction(rq),
            0,
        )
    };
    // SAFETY: `addr` was just returned for `dev`.
    if unsafe { bindings::dma_mapping_error(dev, addr) } != 0 {
        return Err(ENOMEM);
    }
    Ok(Some(DmaSegment {
        addr,
        len: bv.bv_len,
    }))
}

/// Maps the data of `rq` for `dev` into `map`.
///
/// # Safety
///
/// The caller must own `rq`, whose DMA state holds `map`, and `dev` must be
/// the live DMA device of its tag set.
#[inline(never)]
unsafe fn map_request(
    rq: *mut bindings::request,
    dev: *mut bindings::device,
    map: &mut Mapping,
) -> Result {
    if map.count != 0 {
        return Err(EBUSY);
    }
    // SAFETY: `rq` is a valid request the caller owns.
    if unsafe { (*rq).nr_phys_segments } == 1 {
        // SAFETY: As above, `dev` is a live device.
        if let Some(seg) = unsafe { map_single(rq, dev) }? {
            // INVARIANT: One segment, mapped by `dma_map_page_attrs()`,
            // which the per-segment path of `unmap` undoes; no IOVA.
            map.segs[0] = seg;
            map.count = 1;
            map.len = seg.len as usize;
            map.joints = 0;
            map.iova = pin_init::zeroed();
            map.p2p = bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_NONE;
            return Ok(());
        }
    }
    let mut iter: bindings::blk_dma_iter = pin_init::zeroed();
    let (mut count, mut len, mut joints, mut end) = (0usize, 0usize, 0, 0);
    // SAFETY: `rq` is a valid request the caller owns, `dev` a live device;
    // `iova` and `iter` are the caller's storage, which the function
    // initializes.
    let mut more =
        unsafe { bindings::blk_rq_dma_map_iter_start(rq, dev, &mut map.iova, &mut iter) };
    let mut full = false;
    while more {
        map.p2p = iter.p2pdma.map;
        // The tag set caps the segments of its disks' requests at the size
        // of `segs` (see `GenDiskBuilder::build`), and blk-mq never makes
        // more DMA segments than a request has physical segments; a request
        // that had would be failed, not overrun `segs`.
        let Some(seg) = map.segs.get_mut(count) else {
            full = true;
            break;
        };
        *seg = DmaSegment {
            addr: iter.addr,
            len: iter.len,
        };
        if count != 0 {
            joints |= end | iter.addr;
        }
        end = iter.addr.wrapping_add(iter.len.into());
        count += 1;
        len += iter.len as usize;
        // SAFETY: As above; `iter` is what the previous call left.
        more = unsafe { bindings::blk_rq_dma_map_iter_next(rq, dev, &mut iter) };
    }
    // INVARIANT: The first `count` segments are mapped, `len` bytes, and
    // meet at `joints`.
    map.count = count as u32;
    map.len = len;
    map.joints = joints;
    if full || iter.status != 0 {
        if count != 0 {
            // SAFETY: `map` holds the `count` segments just mapped, which no
            // device has seen.
            unsafe { unmap(rq, dev, map) };
        }
        // SAFETY: A function without preconditions.
        let errno = unsafe { bindings::blk_status_to_errno(iter.status) };
        return Err(if errno == ENOMEM.to_errno() {
            ENOMEM
        } else {
            EINVAL
        });
    }
    Ok(())
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
