// SPDX-License-Identifier: GPL-2.0

//! The memory a `memory_backed` device keeps its data in.
//!
//! Data is kept in pages allocated on the first write, indexed by the
//! device's page number; sectors never written read as zeroes, as in C
//! null_blk. Discard and write zeroes zero their range and free the pages
//! they cover whole.
//!
//! With `cache_size`, writes go to a [`Cache`] of whole pages first, which
//! is written back to the [`Storage`] on a flush and, a batch of pages at a
//! time, when it is full. Writes with FUA go to the storage directly. What
//! the cache holds is lost when the device is powered off, as in C.

use kernel::{
    alloc::flags::GFP_NOIO,
    block::{
        mq::{
            Command,
            OwnedRequest,
            Request,
            Segment,
            SegmentMut, //
        },
        SECTOR_SHIFT,
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    rbtree::RBTree,
    sync::{
        Mutex, //
    },
    xarray::{
        AllocKind,
        Guard,
        XArray, //
    },
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

/// Splits the `bytes` bytes at byte `start` of the device into pieces that
/// each lie in one page: `(page index, offset in the page, offset in the
/// range, length)`.
fn page_chunks(start: u64, bytes: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    let start = start as usize;
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

impl Storage {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            pages <- XArray::new(AllocKind::Alloc),
            update <- new_mutex!(()),
        })
    }

    /// Carries out the first `bytes` bytes of `rq` on the stored data,
    /// through `cache` if the device has one.
    pub(crate) fn handle(
        &self,
        rq: &mut OwnedRequest<NullBlkDevice>,
        bytes: u32,
        cache: Option<&Cache>,
    ) -> Result {
        let start = rq.sector() << SECTOR_SHIFT;
        let bytes = bytes.min(rq.bytes()) as usize;
        // As in C, a device with a cache handles one request at a time.
        let mut cache = cache.map(|cache| cache.inner.lock());
        let cache = cache.as_deref_mut();
        match rq.command() {
            Command::Read => self.read(start, rq, bytes, cache.as_deref()),
            Command::Write | Command::ZoneAppend => self.write(start, rq, bytes, cache),
            Command::Discard | Command::WriteZeroes => self.zero(start, bytes, cache),
            Command::Flush => cache.map_or(Ok(()), |cache| cache.write_back(self, usize::MAX)),
            _ => Err(EOPNOTSUPP),
        }
    }

    /// Reads the `bytes` bytes at byte `pos` into the buffer of `rq`. A
    /// segment need not hold whole sectors: with a DMA alignment of 2 bytes
    /// one may end anywhere, so positions are counted in bytes.
    fn read(
        &self,
        mut pos: u64,
        rq: &mut OwnedRequest<NullBlkDevice>,
        mut bytes: usize,
        cache: Option<&CachedPages>,
    ) -> Result {
        for mut segment in rq.segments_mut() {
            let seg_len = segment.len().min(bytes);
            if seg_len == 0 {
                break;
            }
            for (index, offset, at, len) in page_chunks(pos, seg_len) {
                match cache.and_then(|cache| cache.pages.get(&index)) {
                    Some(page) => segment.copy_from_slice(at, &page[offset..offset + len])?,
                    None => self.read_chunk(&mut segment, index, offset, at, len)?,
                }
            }
            pos += seg_len as u64;
            bytes -= seg_len;
        }
        Ok(())
    }

    /// Copies `len` bytes at `offset` in page `index` to `at` in `segment`.
    fn read_chunk(
        &self,
        segment: &mut SegmentMut<'_>,
        index: usize,
        offset: usize,
        at: usize,
        len: usize,
    ) -> Result {
        let pages = self.pages.lock();
        match pages.get(index) {
            Some(page) => segment.copy_from_slice(at, &page[offset..offset + len]),
            None => segment.zero(at, len),
        }
    }

    /// Writes the `bytes` bytes of the buffer of `rq` at byte `pos`.
    fn write(
        &self,
        mut pos: u64,
        rq: &Request<NullBlkDevice>,
        mut bytes: usize,
        mut cache: Option<&mut CachedPages>,
    ) -> Result {
        // Forced unit access bypasses the cache, as in C.
        let fua = rq.flags().fua();
        for segment in rq.segments() {
            let seg_len = segment.len().min(bytes);
            if seg_len == 0 {
                break;
            }
            for (index, offset, at, len) in page_chunks(pos, seg_len) {
                match cache.as_deref_mut() {
                    Some(cache) if !fua => {
                        let page = cache.page_mut(self, index)?;
                        segment.copy_to_slice(at, &mut page[offset..offset + len])?;
                    }
                    cache => {
                        self.write_chunk(&segment, index, offset, at, len)?;
                        // Keep a cached copy of the page up to date.
                        if let Some(page) = cache.and_then(|cache| cache.pages.get_mut(&index)) {
                            segment.copy_to_slice(at, &mut page[offset..offset + len])?;
                        }
                    }
                }
            }
            pos += seg_len as u64;
            bytes -= seg_len;
        }
        Ok(())
    }

    /// Copies `len` bytes at `at` in `segment` to `offset` in page `index`.
    fn write_chunk(
        &self,
        segment: &Segment<'_>,
        index: usize,
        offset: usize,
        at: usize,
        len: usize,
    ) -> Result {
        let mut pages = self.lock_page(index)?;
        let page = pages.get_mut(index).ok_or(ENOMEM)?;
        segment.copy_to_slice(at, &mut page[offset..offset + len])
    }

    /// Returns with the XArray locked and a page at `index`, which is added
    /// (zeroed) if there was none.
    fn lock_page(&self, index: usize) -> Result<Guard<'_, Page>> {
        let pages = self.pages.lock();
        if pages.get(index).is_some() {
            return Ok(pages);
        }
        drop(pages);
        self.insert(index)
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

    /// Copies page `index` to `dst`, or zeroes if it was never written.
    fn copy_page(&self, index: usize, dst: &mut [u8; PAGE_SIZE]) {
        match self.pages.lock().get(index) {
            Some(page) => dst.copy_from_slice(&page[..]),
            None => dst.fill(0),
        }
    }

    /// Stores `src` as page `index`.
    fn store_page(&self, index: usize, src: &[u8; PAGE_SIZE]) -> Result {
        let mut pages = self.lock_page(index)?;
        pages.get_mut(index).ok_or(ENOMEM)?.copy_from_slice(src);
        Ok(())
    }

    /// Forgets the data of `sectors` sectors from `sector` on, here and in
    /// `cache`: they read as zeroes.
    pub(crate) fn discard(&self, sector: u64, sectors: u64, cache: Option<&Cache>) -> Result {
        let bytes = usize::try_from(sectors << SECTOR_SHIFT)?;
        let mut cache = cache.map(|cache| cache.inner.lock());
        self.zero(sector << SECTOR_SHIFT, bytes, cache.as_deref_mut())
    }

    /// Zeroes `bytes` bytes from byte `start` on, here and in `cache`; frees
    /// the pages covered whole.
    fn zero(&self, start: u64, bytes: usize, mut cache: Option<&mut CachedPages>) -> Result {
        let _update = self.update.lock();
        for (index, offset, _, len) in page_chunks(start, bytes) {
            if let Some(cache) = cache.as_deref_mut() {
                cache.zero(index, offset, len);
            }
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

/// Fills bytes `from..until` of the data buffer of `rq` with `byte`.
pub(crate) fn fill(
    rq: &mut OwnedRequest<NullBlkDevice>,
    from: usize,
    until: usize,
    byte: u8,
) -> Result {
    let pattern = [byte; 512];
    let mut pos = 0;
    for mut segment in rq.segments_mut() {
        let len = segment.len();
        let mut at = from.max(pos);
        let end = until.min(pos + len);
        while at < end {
            let n = (end - at).min(pattern.len());
            segment.copy_from_slice(at - pos, &pattern[..n])?;
            at += n;
        }
        pos += len;
        if pos >= until {
            break;
        }
    }
    Ok(())
}

/// How many pages the cache writes back at once when it is full (C
/// `FREE_BATCH`).
const WRITE_BACK_BATCH: usize = 16;

/// A volatile write cache in front of a [`Storage`] (C null_blk's
/// `cache_size`).
#[pin_data]
pub(crate) struct Cache {
    #[pin]
    inner: Mutex<CachedPages>,
}

/// The pages of a [`Cache`].
pub(crate) struct CachedPages {
    /// Whole copies of storage pages, newer than the storage.
    pages: RBTree<usize, Page>,
    /// The number of entries in `pages`.
    len: usize,
    /// The cache is full when it holds this many pages, less one (C counts
    /// the same way).
    limit: usize,
    /// The page index writing back continues at (C `cache_flush_pos`).
    flush_pos: usize,
}

impl Cache {
    /// A cache of `size_mib` MiB.
    pub(crate) fn new(size_mib: u64) -> impl PinInit<Self> {
        let size_mib = usize::try_from(size_mib).unwrap_or(usize::MAX);
        pin_init!(Self {
            inner <- new_mutex!(CachedPages {
                pages: RBTree::new(),
                len: 0,
                limit: size_mib.saturating_mul((1 << 20) / PAGE_SIZE),
                flush_pos: 0,
            }),
        })
    }
}

impl CachedPages {
    /// Returns the cached copy of page `index`, making one if there is
    /// none; writes back pages to make room for it.
    fn page_mut(&mut self, storage: &Storage, index: usize) -> Result<&mut Page> {
        if self.pages.get(&index).is_none() {
            if self.len + 1 >= self.limit {
                // If that fails the cache grows past its size rather than
                // fail the write, as in C.
                let _ = self.write_back(storage, WRITE_BACK_BATCH);
            }
            let mut page: Page = KBox::init(pin_init::init_zeroed(), GFP_NOIO)?;
            storage.copy_page(index, &mut page);
            self.pages.try_create_and_insert(index, page, GFP_NOIO)?;
            self.len += 1;
        }
        self.pages.get_mut(&index).ok_or(ENOMEM)
    }

    /// Writes back up to `count` pages to `storage` and drops them, in page
    /// order from where the last write back stopped. A page stays cached if
    /// writing it back fails.
    fn write_back(&mut self, storage: &Storage, count: usize) -> Result {
        for _ in 0..count {
            let next = self
                .pages
                .cursor_lower_bound(&self.flush_pos)
                .or_else(|| self.pages.cursor_front());
            let Some(index) = next.map(|cursor| *cursor.current().0) else {
                break;
            };
            if let Some(page) = self.pages.get(&index) {
                storage.store_page(index, page)?;
            }
            drop(self.pages.remove(&index));
            self.len -= 1;
            self.flush_pos = index.wrapping_add(1);
        }
        Ok(())
    }

    /// Zeroes `len` bytes at `offset` in the cached copy of page `index`;
    /// drops the copy if that is all of it.
    fn zero(&mut self, index: usize, offset: usize, len: usize) {
        if len == PAGE_SIZE {
            if self.pages.remove(&index).is_some() {
                self.len -= 1;
            }
        } else if let Some(page) = self.pages.get_mut(&index) {
            page[offset..offset + len].fill(0);
        }
    }
}
