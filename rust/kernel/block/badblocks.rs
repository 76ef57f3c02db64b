// SPDX-License-Identifier: GPL-2.0

//! Tables of bad sectors.
//!
//! A [`BadBlocks`] table records ranges of sectors that fail I/O. Block
//! drivers that emulate or track media errors keep one per disk, and MD keeps
//! one per member device.
//!
//! C header: [`include/linux/badblocks.h`](srctree/include/linux/badblocks.h)

use crate::{bindings, error::to_result, page::PAGE_SIZE, prelude::*, types::Opaque};

/// A table of bad sector ranges (C `struct badblocks`).
///
/// The table holds up to `PAGE_SIZE / 8` ranges, each of up to 512 sectors;
/// longer ranges take several entries. A range given to a method covers at
/// most [`BadBlocks::MAX_SECTORS`] sectors and ends at or below
/// [`BadBlocks::END_SECTOR`]; the C code cannot handle others (it counts
/// sectors in an `int` and stores 54 bit sector numbers), so they are
/// refused with [`EINVAL`]. All methods take `&self`: the C code serializes
/// updates with the table's seqlock, and lookups retry when they race with
/// an update.
///
/// # Invariants
///
/// `inner` was initialized by `badblocks_init()` with its table enabled and
/// is released with `badblocks_exit()` when `self` is dropped.
///
/// # Examples
///
/// ```
/// use kernel::block::badblocks::{BadBlocks, BadRange};
///
/// let table = KBox::pin_init(BadBlocks::new(), GFP_KERNEL)?;
/// table.mark_bad(100, 8, true)?;
/// assert_eq!(table.check(90, 10)?, None);
/// assert_eq!(
///     table.check(90, 20)?,
///     Some(BadRange { start: 100, sectors: 8, acknowledged: true })
/// );
/// table.mark_good(100, 4)?;
/// assert_eq!(table.check(100, 4)?, None);
/// assert!(table.check(104, 1)?.is_some());
/// # Ok::<(), Error>(())
/// ```
#[pin_data(PinnedDrop)]
pub struct BadBlocks {
    #[pin]
    inner: Opaque<bindings::badblocks>,
}

/// A range of bad sectors: an entry of the table, as [`BadBlocks::check`]
/// finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadRange {
    /// The first bad sector.
    pub start: u64,
    /// The number of bad sectors from `start` on.
    pub sectors: u64,
    /// Whether every bad range overlapping the range checked was marked
    /// acknowledged (recorded in metadata).
    pub acknowledged: bool,
}

impl BadBlocks {
    /// The most sectors a range may cover (C `int` lengths).
    pub const MAX_SECTORS: u64 = i32::MAX as u64;

    /// The sector no range may extend past: the table stores 54 bit sector
    /// numbers.
    pub const END_SECTOR: u64 = 1 << 54;

    /// Creates an empty table.
    ///
    /// Fails with [`ENOMEM`] if the page for the table cannot be allocated.
    pub fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(|slot: *mut bindings::badblocks| {
                // SAFETY: `slot` is valid for writes of a `struct badblocks`.
                // `badblocks_init()` leaves some fields alone, so zero them
                // first as a `kzalloc()`ed table would be.
                unsafe { core::ptr::write_bytes(slot, 0, 1) };
                // SAFETY: `slot` points to a zeroed `struct badblocks`. On
                // failure it allocated nothing, so there is nothing to free.
                // INVARIANT: The table is initialized and enabled.
                to_result(unsafe { bindings::badblocks_init(slot, 1) })
            }),
        })
    }

    fn as_raw(&self) -> *mut bindings::badblocks {
        self.inner.get()
    }

    /// Checks a range given as a start and a length against what the C
    /// functions handle: a length of 1 to [`Self::MAX_SECTORS`], ending at
    /// or below [`Self::END_SECTOR`].
    fn check_range(start: u64, sectors: u64) -> Result {
        if sectors == 0 || sectors > Self::MAX_SECTORS {
            return Err(EINVAL);
        }
        match start.checked_add(sectors) {
            Some(end) if end <= Self::END_SECTOR => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Marks `sectors` sectors from `start` on as bad.
    ///
    /// Fails with [`EINVAL`] for a range the table cannot take (see
    /// [`BadBlocks`]), and with [`ENOSPC`] when the table is full; the table
    /// may then hold part of the range.
    pub fn mark_bad(&self, start: u64, sectors: u64, acknowledged: bool) -> Result {
        Self::check_range(start, sectors)?;
        // SAFETY: By the type invariant the table is initialized; the C
        // function takes the table's lock.
        if unsafe { bindings::badblocks_set(self.as_raw(), start, sectors, acknowledged.into()) } {
            Ok(())
        } else {
            Err(ENOSPC)
        }
    }

    /// Marks `sectors` sectors from `start` on as good again.
    ///
    /// Must be called with interrupts enabled: the C code takes the table's
    /// lock with `write_seqlock_irq()`.
    ///
    /// Fails with [`EINVAL`] for a range the table cannot take (see
    /// [`BadBlocks`]), and with [`ENOSPC`] when clearing the middle of a
    /// range needs an entry the full table does not have.
    pub fn mark_good(&self, start: u64, sectors: u64) -> Result {
        Self::check_range(start, sectors)?;
        // SAFETY: By the type invariant the table is initialized; the C
        // function takes the table's lock.
        if unsafe { bindings::badblocks_clear(self.as_raw(), start, sectors) } {
            Ok(())
        } else {
            Err(ENOSPC)
        }
    }

    /// Returns the first entry of the table that overlaps the `sectors`
    /// sectors from `start` on, or [`None`] if they are all good.
    ///
    /// The entry starts at the first bad sector, which may lie before
    /// `start`, may extend past the range asked about, and covers at most
    /// 512 sectors (a longer bad range takes several entries). Fails with
    /// [`EINVAL`] for a range the table cannot take (see [`BadBlocks`]).
    pub fn check(&self, start: u64, sectors: u64) -> Result<Option<BadRange>> {
        Self::check_range(start, sectors)?;
        let mut first_bad = 0;
        let mut bad_sectors = 0;
        // SAFETY: By the type invariant the table is initialized; the C
        // function reads it under the table's seqlock and writes only to the
        // two locals.
        let found = unsafe {
            bindings::badblocks_check(
                self.as_raw(),
                start,
                sectors,
                &mut first_bad,
                &mut bad_sectors,
            )
        };
        Ok((found != 0).then_some(BadRange {
            start: first_bad,
            sectors: bad_sectors,
            acknowledged: found > 0,
        }))
    }

    /// Writes the table to `page` as text, one `"<first sector> <sectors>"`
    /// line per range (C `badblocks_show()`, the format of the sysfs
    /// `bad_blocks` attributes), and returns the number of bytes written.
    pub fn show(&self, page: &mut [u8; PAGE_SIZE]) -> usize {
        // SAFETY: By the type invariant the table is initialized. The C
        // function writes at most `PAGE_SIZE` bytes to `page`, which is that
        // large and exclusively borrowed.
        let len = unsafe { bindings::badblocks_show(self.as_raw(), page.as_mut_ptr().cast(), 0) };
        // `badblocks_show()` adds up what it meant to print, which can be more
        // than fits in the page (and its last byte holds a NUL).
        usize::try_from(len).map_or(0, |len| len.min(PAGE_SIZE - 1))
    }
}

// SAFETY: A `struct badblocks` may be used and freed from any thread.
unsafe impl Send for BadBlocks {}

// SAFETY: All methods taking `&self` go through C functions that serialize
// updates with the table's seqlock and retry reads that race with an update.
unsafe impl Sync for BadBlocks {}

#[pinned_drop]
impl PinnedDrop for BadBlocks {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the table was initialized by
        // `badblocks_init()`, and it is not used after this.
        unsafe { bindings::badblocks_exit(self.as_raw()) };
    }
}

#[cfg(CONFIG_RUST_BLOCK_MQ_KUNIT_TEST)]
#[macros::kunit_tests(rust_block_badblocks)]
mod tests {
    use super::*;

    fn table() -> Result<Pin<KBox<BadBlocks>>> {
        KBox::pin_init(BadBlocks::new(), GFP_KERNEL)
    }

    fn new_page() -> Result<KBox<[u8; PAGE_SIZE]>> {
        let page = KBox::init(pin_init::init_zeroed(), GFP_KERNEL)?;
        Ok(page)
    }

    #[test]
    fn new_table_is_empty() -> Result {
        let table = table()?;
        assert_eq!(table.check(0, BadBlocks::MAX_SECTORS)?, None);
        let mut page = new_page()?;
        assert_eq!(table.show(&mut page), 0);
        Ok(())
    }

    #[test]
    fn check_finds_exactly_the_bad_sectors() -> Result {
        let table = table()?;
        table.mark_bad(100, 8, true)?;
        assert_eq!(table.check(0, 100)?, None);
        assert_eq!(table.check(108, 1)?, None);
        let bad = BadRange {
            start: 100,
            sectors: 8,
            acknowledged: true,
        };
        assert_eq!(table.check(99, 2)?, Some(bad));
        assert_eq!(table.check(107, 1)?, Some(bad));
        assert_eq!(table.check(104, 100)?, Some(bad));
        assert_eq!(table.check(0, BadBlocks::MAX_SECTORS)?, Some(bad));
        Ok(())
    }

    #[test]
    fn unacknowledged_ranges_say_so() -> Result {
        let table = table()?;
        table.mark_bad(10, 1, false)?;
        assert_eq!(table.check(10, 1)?.map(|r| r.acknowledged), Some(false));
        Ok(())
    }

    #[test]
    fn clear_splits_and_removes_ranges() -> Result {
        let table = table()?;
        table.mark_bad(100, 8, true)?;
        table.mark_good(102, 2)?;
        assert_eq!(table.check(102, 2)?, None);
        assert_eq!(
            table.check(100, 2)?.map(|r| (r.start, r.sectors)),
            Some((100, 2))
        );
        assert_eq!(
            table.check(104, 4)?.map(|r| (r.start, r.sectors)),
            Some((104, 4))
        );
        table.mark_good(0, 1000)?;
        assert_eq!(table.check(0, 1000)?, None);
        Ok(())
    }

    #[test]
    fn show_stays_within_the_page() -> Result {
        let table = table()?;
        // 512 entries of "<16 digits> 1\n" are more than a page of text.
        let mut sector = 1 << 50;
        while table.mark_bad(sector, 1, true).is_ok() {
            sector += 2;
        }
        let mut page = new_page()?;
        assert_eq!(table.show(&mut page), PAGE_SIZE - 1);
        Ok(())
    }

    #[test]
    fn show_lists_ranges_as_sysfs_does() -> Result {
        let table = table()?;
        table.mark_bad(100, 8, true)?;
        table.mark_bad(4096, 1, true)?;
        let mut page = new_page()?;
        let len = table.show(&mut page);
        assert_eq!(&page[..len], b"100 8\n4096 1\n");
        Ok(())
    }

    #[test]
    fn ranges_the_c_code_cannot_take_are_refused() -> Result {
        let table = table()?;
        let end = BadBlocks::END_SECTOR;
        let max = BadBlocks::MAX_SECTORS;
        assert_eq!(table.mark_bad(1, 0, true), Err(EINVAL));
        assert_eq!(table.mark_bad(u64::MAX, 2, true), Err(EINVAL));
        assert_eq!(table.mark_bad(0, max + 1, true), Err(EINVAL));
        assert_eq!(table.mark_bad(end - 1, 2, true), Err(EINVAL));
        assert_eq!(table.mark_good(5, 0), Err(EINVAL));
        assert_eq!(table.mark_good(0, max + 1), Err(EINVAL));
        assert_eq!(table.check(u64::MAX, 2), Err(EINVAL));
        assert_eq!(table.check(0, max + 1), Err(EINVAL));
        assert_eq!(table.check(0, max)?, None);
        // The last sector the table can hold.
        table.mark_bad(end - 1, 1, true)?;
        assert_eq!(table.check(end - 2, 2)?.map(|r| r.start), Some(end - 1));
        Ok(())
    }
}
