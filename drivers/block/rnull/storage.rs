// SPDX-License-Identifier: GPL-2.0

//! The memory a `memory_backed` device keeps its data in.
//!
//! Data is kept in pages allocated on the first write, indexed by the
//! device's 4 KiB page number; sectors never written read as zeroes, as in C
//! null_blk. Discard and write zeroes zero their range and free the pages
//! they cover whole.

use kernel::{
    alloc::flags::GFP_NOIO,
    block::{
        mq::{Command, Request},
        SECTOR_SHIFT,
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{aref::ARef, Mutex},
    xarray::{AllocKind, Guard, XArray},
};

use super::NullBlkDevice;

type Page = KBox<[u8; PAGE_SIZE]>;

/// The data of a memory backed device.
#[pin_data]
pub(crate) struct Storage {
    #[pin]
    pages: XArray<Page>,
    /// Serializes adding and removing pages, so a page is never added twice;
    /// reads and overwrites only take the XArray's lock.
    #[pin]
    update: Mutex<()>,
}

/// Splits `sector..sector + bytes` into pieces that each lie in one page:
/// `(page index, offset in the page, offset in the range, length)`.
fn page_chunks(sector: u64, bytes: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    let start = (sector << SECTOR_SHIFT) as usize;
    let mut pos = 0;
    core::iter::from_fn(move || {
        if pos >= bytes {
            return None;
        }
        let at = start + pos;
        let offset = at % PAGE_SIZE;
        let len = (PAGE_SIZE - offset).min(bytes - pos);
        let chunk = (at / PAGE_SIZE, offset, pos, len);
        pos += len;
        Some(chunk)
    })
}

/// Returns the sector that follows the `len` bytes of a segment at `sector`.
fn after(sector: u64, len: usize) -> u64 {
    sector + (len >> SECTOR_SHIFT) as u64
}

impl Storage {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            pages <- XArray::new(AllocKind::Alloc),
            update <- new_mutex!(()),
        })
    }

    /// Carries out the first `bytes` bytes of `rq` on the stored data.
    pub(crate) fn handle(&self, rq: &mut ARef<Request<NullBlkDevice>>, bytes: u32) -> Result {
        let sector = rq.sector();
        let bytes = bytes.min(rq.bytes()) as usize;
        match rq.command() {
            Command::Read => self.read(sector, rq, bytes),
            Command::Write => self.write(sector, rq, bytes),
            Command::Discard | Command::WriteZeroes => self.zero(sector, bytes),
            Command::Flush => Ok(()),
            _ => Err(EOPNOTSUPP),
        }
    }

    fn read(
        &self,
        mut sector: u64,
        rq: &mut ARef<Request<NullBlkDevice>>,
        mut bytes: usize,
    ) -> Result {
        for mut segment in Request::segments_mut(rq)? {
            let seg_len = segment.len().min(bytes);
            if seg_len == 0 {
                break;
            }
            for (index, offset, at, len) in page_chunks(sector, seg_len) {
                let pages = self.pages.lock();
                match pages.get(index) {
                    Some(page) => segment.copy_from_slice(at, &page[offset..offset + len])?,
                    None => segment.zero(at, len)?,
                }
            }
            sector = after(sector, seg_len);
            bytes -= seg_len;
        }
        Ok(())
    }

    fn write(&self, mut sector: u64, rq: &Request<NullBlkDevice>, mut bytes: usize) -> Result {
        for segment in rq.segments() {
            let seg_len = segment.len().min(bytes);
            if seg_len == 0 {
                break;
            }
            for (index, offset, at, len) in page_chunks(sector, seg_len) {
                let mut pages = self.pages.lock();
                if pages.get(index).is_none() {
                    drop(pages);
                    pages = self.insert(index)?;
                }
                let page = pages.get_mut(index).ok_or(ENOMEM)?;
                segment.copy_to_slice(at, &mut page[offset..offset + len])?;
            }
            sector = after(sector, seg_len);
            bytes -= seg_len;
        }
        Ok(())
    }

    /// Adds a zeroed page at `index` unless one is there already; returns
    /// with the XArray locked.
    fn insert(&self, index: usize) -> Result<Guard<'_, Page>> {
        // Allocate without holding the XArray's spinlock.
        let page: Page = KBox::init(pin_init::init_zeroed(), GFP_NOIO)?;
        // `store` may drop the XArray's lock to allocate nodes; `update`
        // keeps another writer from adding the same page meanwhile.
        let _update = self.update.lock();
        let mut pages = self.pages.lock();
        if pages.get(index).is_none() {
            pages.store(index, page, GFP_NOIO)?;
        }
        Ok(pages)
    }

    /// Zeroes `bytes` bytes from `sector` on; frees the pages covered whole.
    fn zero(&self, sector: u64, bytes: usize) -> Result {
        let _update = self.update.lock();
        for (index, offset, _, len) in page_chunks(sector, bytes) {
            let mut pages = self.pages.lock();
            if len == PAGE_SIZE {
                let page = pages.remove(index);
                drop(pages);
                drop(page);
            } else if let Some(page) = pages.get_mut(index) {
                page[offset..offset + len].fill(0);
            }
        }
        Ok(())
    }
}
