// SPDX-License-Identifier: GPL-2.0

//! Zoned block devices.
//!
//! The sectors of a zoned device are split into zones of equal size (the
//! last one may be smaller). Conventional zones take writes anywhere; the
//! zones of type [`ZoneType::SeqWriteRequired`] only take writes at their
//! write pointer, which moves on with each write and goes back to the start
//! of the zone when it is reset.
//!
//! A driver makes a zoned disk with [`GenDiskBuilder::zoned`], and reports
//! the state of its zones from [`Operations::report_zones`] through a
//! [`ZoneReport`]. It then gets the zone operations as requests
//! ([`Command::ZoneAppend`], [`Command::ZoneReset`], ...); a zone append
//! tells where the data went with [`OwnedRequest::set_zone_append_sector`].
//!
//! C header: [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)
//! and [`include/uapi/linux/blkzoned.h`](srctree/include/uapi/linux/blkzoned.h)
//!
//! [`GenDiskBuilder::zoned`]: super::mq::gen_disk::GenDiskBuilder::zoned
//! [`Operations::report_zones`]: super::mq::Operations::report_zones
//! [`Command::ZoneAppend`]: super::mq::Command::ZoneAppend
//! [`Command::ZoneReset`]: super::mq::Command::ZoneReset
//! [`OwnedRequest::set_zone_append_sector`]: super::mq::OwnedRequest::set_zone_append_sector

use crate::{
    bindings,
    prelude::*, //
};
use core::marker::PhantomData;

/// The type of a zone (`enum blk_zone_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneType {
    /// Takes writes anywhere and has no write pointer.
    Conventional,
    /// Takes writes at its write pointer only.
    SeqWriteRequired,
}

impl ZoneType {
    fn to_raw(self) -> u8 {
        let raw = match self {
            Self::Conventional => bindings::blk_zone_type_BLK_ZONE_TYPE_CONVENTIONAL,
            Self::SeqWriteRequired => bindings::blk_zone_type_BLK_ZONE_TYPE_SEQWRITE_REQ,
        };
        // The values are those of the user API, which fit in a byte.
        raw as u8
    }
}

/// The condition of a zone (`enum blk_zone_cond`).
///
/// What moves a zone of type [`ZoneType::SeqWriteRequired`] from one
/// condition to another is the ZBC/ZNS state machine: a write opens an
/// empty or closed zone implicitly, an open request explicitly, a close
/// request closes an open one, and a finish request or the last write fills
/// it. Open and closed zones are *active*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneCondition {
    /// A conventional zone: it has no write pointer.
    NotWritePointer,
    /// Nothing was written since the last reset.
    Empty,
    /// Opened by a write.
    ImplicitOpen,
    /// Opened by an open request.
    ExplicitOpen,
    /// Written to, and neither open nor full.
    Closed,
    /// Can only be read.
    ReadOnly,
    /// Written up to its capacity, or finished.
    Full,
    /// Can be neither read nor written.
    Offline,
}

impl ZoneCondition {
    fn to_raw(self) -> u8 {
        let raw = match self {
            Self::NotWritePointer => bindings::blk_zone_cond_BLK_ZONE_COND_NOT_WP,
            Self::Empty => bindings::blk_zone_cond_BLK_ZONE_COND_EMPTY,
            Self::ImplicitOpen => bindings::blk_zone_cond_BLK_ZONE_COND_IMP_OPEN,
            Self::ExplicitOpen => bindings::blk_zone_cond_BLK_ZONE_COND_EXP_OPEN,
            Self::Closed => bindings::blk_zone_cond_BLK_ZONE_COND_CLOSED,
            Self::ReadOnly => bindings::blk_zone_cond_BLK_ZONE_COND_READONLY,
            Self::Full => bindings::blk_zone_cond_BLK_ZONE_COND_FULL,
            Self::Offline => bindings::blk_zone_cond_BLK_ZONE_COND_OFFLINE,
        };
        // The values are those of the user API, which fit in a byte.
        raw as u8
    }
}

/// The state of one zone, as a driver reports it (`struct blk_zone`).
///
/// All positions and lengths are in 512 byte sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone {
    /// The first sector of the zone.
    pub start: u64,
    /// The number of sectors of the zone.
    pub len: u64,
    /// How many sectors of the zone can be written, at most `len`.
    pub capacity: u64,
    /// The write pointer: the sector the next write must start at. For a
    /// conventional zone, the block layer ignores it.
    pub write_pointer: u64,
    /// The type of the zone.
    pub zone_type: ZoneType,
    /// The condition of the zone.
    pub condition: ZoneCondition,
}

impl Zone {
    fn to_raw(self) -> bindings::blk_zone {
        let mut zone: bindings::blk_zone = pin_init::zeroed();
        zone.start = self.start;
        zone.len = self.len;
        zone.capacity = self.capacity;
        zone.wp = self.write_pointer;
        zone.type_ = self.zone_type.to_raw();
        zone.cond = self.condition.to_raw();
        zone
    }
}

/// The zones a driver reports from [`Operations::report_zones`].
///
/// Each call of [`ZoneReport::report`] hands the block layer the next zone
/// (`disk_report_zone()`).
///
/// # Invariants
///
/// For `'a`, `disk` points to a valid `struct gendisk`, and `args` and
/// `nr_zones` are what the block layer passed to its `report_zones`
/// callback (`args` possibly null). `reported <= nr_zones`.
///
/// [`Operations::report_zones`]: super::mq::Operations::report_zones
pub struct ZoneReport<'a> {
    disk: *mut bindings::gendisk,
    args: *mut bindings::blk_report_zones_args,
    nr_zones: u32,
    reported: u32,
    _p: PhantomData<&'a mut bindings::blk_report_zones_args>,
}

impl ZoneReport<'_> {
    /// Creates the report for a call of the `report_zones` callback.
    ///
    /// # Safety
    ///
    /// `disk`, `nr_zones` and `args` must be the arguments of a call of the
    /// `report_zones` callback of `disk`, which lasts for `'a`.
    pub(crate) unsafe fn from_raw(
        disk: *mut bindings::gendisk,
        nr_zones: u32,
        args: *mut bindings::blk_report_zones_args,
    ) -> Self {
        // INVARIANT: By the safety requirements of this function, and no
        // zone was reported yet.
        Self {
            disk,
            args,
            nr_zones,
            reported: 0,
            _p: PhantomData,
        }
    }

    /// Reports `zone`, the next zone of the report.
    ///
    /// An error (for example from a user space buffer the block layer copies
    /// the zone to) ends the report; [`Operations::report_zones`] should
    /// return it. Reporting more zones than the block layer asked for fails
    /// with [`EINVAL`]: the callers keep the zones in arrays of that size.
    ///
    /// [`Operations::report_zones`]: super::mq::Operations::report_zones
    pub fn report(&mut self, zone: &Zone) -> Result {
        if self.reported >= self.nr_zones {
            return Err(EINVAL);
        }
        let mut raw = zone.to_raw();
        // SAFETY: By the type invariants, `disk` and `args` are what the
        // block layer passed to the callback this report belongs to, which
        // is still running, and `reported` is below the number of zones it
        // asked for. `raw` is a valid zone the callee may modify.
        unsafe { disk_report_zone(self.disk, &mut raw, self.reported, self.args) }?;
        // INVARIANT: `reported` was below `nr_zones`.
        self.reported += 1;
        Ok(())
    }

    /// The number of zones reported so far.
    pub fn reported(&self) -> u32 {
        self.reported
    }
}

/// Hands `zone` to the block layer as zone `idx` of a report
/// (`disk_report_zone()`).
///
/// # Safety
///
/// `disk` and `args` are the arguments of a `report_zones` callback that is
/// still running, and `idx` is below the number of zones it asked for.
#[cfg(CONFIG_BLK_DEV_ZONED)]
unsafe fn disk_report_zone(
    disk: *mut bindings::gendisk,
    zone: &mut bindings::blk_zone,
    idx: u32,
    args: *mut bindings::blk_report_zones_args,
) -> Result {
    // SAFETY: By the safety requirements of this function; `zone` is a
    // valid zone the callee may modify.
    crate::error::to_result(unsafe { bindings::disk_report_zone(disk, zone, idx, args) })
}

/// Without zoned block devices no disk is zoned (see [`SUPPORTED`]): the
/// block layer never asks for a report, and has no `disk_report_zone()`.
///
/// # Safety
///
/// The same as for the version of kernels with zoned block devices.
#[cfg(not(CONFIG_BLK_DEV_ZONED))]
unsafe fn disk_report_zone(
    _disk: *mut bindings::gendisk,
    _zone: &mut bindings::blk_zone,
    _idx: u32,
    _args: *mut bindings::blk_report_zones_args,
) -> Result {
    Err(EOPNOTSUPP)
}

/// Whether the kernel has zoned block devices (`CONFIG_BLK_DEV_ZONED`).
///
/// Without them, [`ZonedLimits::new`] fails with [`EOPNOTSUPP`], so no
/// disk is ever built zoned.
pub const SUPPORTED: bool = cfg!(CONFIG_BLK_DEV_ZONED);

/// The zone limits of a zoned disk (see [`GenDiskBuilder::zoned`]).
///
/// # Examples
///
/// ```
/// use kernel::block::zoned::{self, ZonedLimits};
///
/// if zoned::SUPPORTED {
///     // 256 MiB zones, at most 8 open and 12 active, zone appends of up
///     // to 1 MiB.
///     let limits = ZonedLimits::new(256 << 11)?
///         .max_open(8)
///         .max_active(12)
///         .max_append_sectors(2048);
///     assert_eq!(limits.zone_sectors(), 524288);
///     assert_eq!(ZonedLimits::new(3000).err(), Some(EINVAL));
/// } else {
///     assert_eq!(ZonedLimits::new(256 << 11).err(), Some(EOPNOTSUPP));
/// }
/// # Ok::<(), Error>(())
/// ```
///
/// [`GenDiskBuilder::zoned`]: super::mq::gen_disk::GenDiskBuilder::zoned
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZonedLimits {
    pub(crate) zone_sectors: u32,
    pub(crate) max_open: u32,
    pub(crate) max_active: u32,
    pub(crate) max_append_sectors: u32,
}

impl ZonedLimits {
    /// Zones of `zone_sectors` 512 byte sectors each, without a limit on
    /// open or active zones and without native zone append.
    ///
    /// The block layer needs a zone size that is a power of two; others
    /// fail with [`EINVAL`]. A kernel without zoned block devices (see
    /// [`SUPPORTED`]) fails with [`EOPNOTSUPP`].
    pub fn new(zone_sectors: u32) -> Result<Self> {
        if !SUPPORTED {
            return Err(EOPNOTSUPP);
        }
        if !zone_sectors.is_power_of_two() {
            return Err(EINVAL);
        }
        Ok(Self {
            zone_sectors,
            max_open: 0,
            max_active: 0,
            max_append_sectors: 0,
        })
    }

    /// The size of a zone, in 512 byte sectors.
    pub fn zone_sectors(&self) -> u32 {
        self.zone_sectors
    }

    /// At most `zones` zones may be open at once; 0 for no limit.
    pub fn max_open(mut self, zones: u32) -> Self {
        self.max_open = zones;
        self
    }

    /// At most `zones` zones may be active (open or closed) at once; 0 for
    /// no limit.
    pub fn max_active(mut self, zones: u32) -> Self {
        self.max_active = zones;
        self
    }

    /// The device takes zone appends ([`Command::ZoneAppend`]) of up to
    /// `sectors` 512 byte sectors. With 0, the block layer emulates zone
    /// append with writes.
    ///
    /// [`Command::ZoneAppend`]: super::mq::Command::ZoneAppend
    pub fn max_append_sectors(mut self, sectors: u32) -> Self {
        self.max_append_sectors = sectors;
        self
    }
}
