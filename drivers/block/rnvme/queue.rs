// SPDX-License-Identifier: GPL-2.0

//! The admin queue and the I/O queues of a controller.

use crate::nvme::{
    self,
    Command,
    Completion, //
};
use kernel::{
    block::mq::{
        self,
        DmaSegment,
        DmaSegments, //
    },
    device::{
        Bound,
        Device, //
    },
    dma::{
        Coherent,
        CoherentView,
        DmaAddress, //
    },
    io::{
        io_project,
        io_read,
        io_write,
        Io, //
    },
    pci,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        barrier::{
            dma_mb,
            mb,
            Full,
            Read,
            Write, //
        },
        new_mutex,
        new_spinlock,
        new_spinlock_irq,
        Arc,
        Mutex,
        SpinLock,
        SpinLockIrq, //
    },
    time::{
        delay::fsleep,
        Delta,
        Instant,
        Monotonic, //
    },
};

/// The BAR of a controller, reachable from the I/O path until unbind.
pub(crate) type DevresBar = pci::DevresBar<{ nvme::BAR_SIZE }>;

/// The BAR of a controller.
pub(crate) type Bar<'a> = pci::Bar<'a, { nvme::BAR_SIZE }>;

/// Entries of the admin queue.
pub(crate) const ADMIN_DEPTH: u16 = 32;

/// How long an admin command may take (C nvme's `admin_timeout`).
pub(crate) const ADMIN_TIMEOUT: Delta = Delta::from_secs(60);

/// The registers of a controller, reached anew for each access: a caller
/// may sleep between accesses, and an access fails with `ENODEV` once the
/// driver is unbound.
#[derive(Clone, Copy)]
pub(crate) struct Regs<'a>(pub(crate) &'a DevresBar);

impl Regs<'_> {
    /// Reads the 32-bit register at `offset`.
    pub(crate) fn read32(self, offset: usize) -> Result<u32> {
        self.0.try_access().ok_or(ENODEV)?.try_read32(offset)
    }

    /// Writes `value` to the 32-bit register at `offset`.
    pub(crate) fn write32(self, value: u32, offset: usize) -> Result {
        self.0
            .try_access()
            .ok_or(ENODEV)?
            .try_write32(value, offset)
    }
}

/// Where the position of a completion queue and its phase are.
struct CqPos {
    head: u16,
    phase: u16,
}

impl CqPos {
    fn new() -> Self {
        Self { head: 0, phase: 1 }
    }

    /// Starts over at the first entry of `cq`, whose entries it clears, as
    /// a controller that was disabled does.
    fn reset(&mut self, cq: &Coherent<[Completion]>) -> Result {
        for i in 0..cq.len() {
            io_write!(cq, [try: i].status, 0);
        }
        *self = Self::new();
        Ok(())
    }

    /// Returns the next completion of `cq` (of `depth` entries) if the
    /// controller posted it, and moves past it.
    #[inline]
    fn next(&mut self, cq: &Coherent<[Completion]>, depth: u16) -> Option<Completion> {
        self.try_next(cq, depth).ok().flatten()
    }

    /// The position as [`IoQueue::pending`] keeps it.
    fn hint(&self) -> u32 {
        u32::from(self.head) | (u32::from(self.phase) << 16)
    }

    /// Whether the controller posted the entry at the head of `cq`.
    #[inline]
    fn posted(&self, cq: &Coherent<[Completion]>) -> Result<bool> {
        let status: u16 = io_read!(cq, [try: usize::from(self.head)].status);
        Ok(u16::from_le(status) & 1 == self.phase)
    }

    #[inline]
    fn try_next(&mut self, cq: &Coherent<[Completion]>, depth: u16) -> Result<Option<Completion>> {
        let head = usize::from(self.head);
        if !self.posted(cq)? {
            return Ok(None);
        }
        // The rest of the entry was written before its phase tag.
        dma_mb(Read);
        let cqe = io_project!(cq, [try: head]).copy_read();
        self.head += 1;
        if self.head == depth {
            self.head = 0;
            self.phase ^= 1;
        }
        Ok(Some(cqe))
    }
}

/// Offset of the doorbell of submission queue `qid` (`cq` false) or
/// completion queue `qid` (`cq` true) in the BAR.
pub(crate) fn doorbell(qid: u16, cq: bool, stride: usize) -> usize {
    nvme::REG_DOORBELLS + (2 * usize::from(qid) + usize::from(cq)) * stride
}

/// Admin queue state, under the queue's lock.
struct AdminState {
    tail: u16,
    cq: CqPos,
    next_id: u16,
}

/// The admin queue. Commands run one at a time, and rnvme polls for their
/// completion: admin commands are rare (setup, teardown, passthrough).
#[pin_data]
pub(crate) struct AdminQueue {
    sq: Coherent<[Command]>,
    cq: Coherent<[Completion]>,
    stride: usize,
    #[pin]
    state: Mutex<AdminState>,
}

impl AdminQueue {
    /// Allocates the admin queue of the controller `dev`.
    pub(crate) fn new(dev: &Device<Bound>, stride: usize) -> Result<Pin<KBox<Self>>> {
        let depth = usize::from(ADMIN_DEPTH);
        KBox::pin_init(
            try_pin_init!(Self {
                sq: Coherent::zeroed_slice(dev, depth, GFP_KERNEL)?,
                cq: Coherent::zeroed_slice(dev, depth, GFP_KERNEL)?,
                stride,
                state <- new_mutex!(AdminState {
                    tail: 0,
                    cq: CqPos::new(),
                    next_id: 0,
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// The DMA addresses of the submission and the completion queue.
    pub(crate) fn addresses(&self) -> (DmaAddress, DmaAddress) {
        (self.sq.dma_address(), self.cq.dma_address())
    }

    /// Starts the queue over, for a controller that was disabled.
    pub(crate) fn reset(&self) -> Result {
        let mut state = self.state.lock();
        state.tail = 0;
        state.cq.reset(&self.cq)
    }

    /// Runs `cmd` and returns Dword 0 of its completion.
    ///
    /// Fails with the command's status, or with `ETIMEDOUT` if the
    /// controller does not complete it in time: the caller must then
    /// disable the controller before it frees memory the command points to.
    pub(crate) fn run(&self, regs: Regs<'_>, cmd: Command) -> Result<u32> {
        self.run_for(regs, cmd, ADMIN_TIMEOUT)
    }

    /// Runs `cmd` as [`AdminQueue::run`] does, waiting for at most
    /// `timeout`.
    pub(crate) fn run_for(&self, regs: Regs<'_>, cmd: Command, timeout: Delta) -> Result<u32> {
        let (status, result) = self.submit_for(regs, cmd, timeout)?;
        nvme::status_result((status << 1).to_le())?;
        Ok(result)
    }

    /// Runs `cmd`, waiting for at most `timeout`, and returns the status
    /// field of its completion (without the phase tag: 0 for success) and
    /// Dword 0. Fails only if the command does not complete: see
    /// [`AdminQueue::run`].
    pub(crate) fn submit_for(
        &self,
        regs: Regs<'_>,
        mut cmd: Command,
        timeout: Delta,
    ) -> Result<(u16, u32)> {
        let mut state = self.state.lock();
        let id = state.next_id;
        state.next_id = state.next_id.wrapping_add(1);
        cmd.command_id = id.to_le();
        let tail = usize::from(state.tail);
        io_project!(self.sq, [try: tail]).copy_write(cmd);
        state.tail = (state.tail + 1) % ADMIN_DEPTH;
        regs.write32(state.tail.into(), nvme::REG_DOORBELLS)?;

        let start = Instant::<Monotonic>::now();
        let mut wait = Delta::from_micros(10);
        loop {
            while let Some(cqe) = state.cq.next(&self.cq, ADMIN_DEPTH) {
                regs.write32(state.cq.head.into(), doorbell(0, true, self.stride))?;
                if u16::from_le(cqe.command_id) == id {
                    return Ok((u16::from_le(cqe.status) >> 1, u32::from_le(cqe.result)));
                }
                pr_warn!(
                    "rnvme: admin completion for unknown command {}\n",
                    cqe.command_id
                );
            }
            let csts = regs.read32(nvme::REG_CSTS)?;
            if csts == u32::MAX {
                return Err(ENODEV);
            }
            if csts & nvme::CSTS_CFS != 0 {
                return Err(EIO);
            }
            if start.elapsed() > timeout {
                return Err(ETIMEDOUT);
            }
            fsleep(wait);
            wait = Delta::from_micros((wait.as_micros_ceil() * 2).min(10_000));
        }
    }
}

/// The shadow doorbells of a controller (Doorbell Buffer Config): the
/// driver writes each doorbell value to memory, and to the register only
/// when the controller's event index says that it waits for it.
pub(crate) struct ShadowDoorbells {
    /// The doorbell values, at the doorbell's index (`doorbell()` / 4).
    dbs: Coherent<[u32]>,
    /// The event indices the controller writes, at the same index.
    eis: Coherent<[u32]>,
}

impl ShadowDoorbells {
    /// Allocates shadow doorbells for queues up to `max_qid`.
    pub(crate) fn new(dev: &Device<Bound>, max_qid: u16, stride: usize) -> Result<Self> {
        let entries = (doorbell(max_qid, true, stride) - nvme::REG_DOORBELLS) / 4 + 1;
        Ok(Self {
            dbs: Coherent::zeroed_slice(dev, entries, GFP_KERNEL)?,
            eis: Coherent::zeroed_slice(dev, entries, GFP_KERNEL)?,
        })
    }

    /// Clears the doorbells and event indices, for a controller that was
    /// disabled: its queues start over at entry 0.
    pub(crate) fn clear(&self) -> Result {
        for i in 0..self.dbs.len() {
            io_write!(self.dbs, [try: i], 0);
            io_write!(self.eis, [try: i], 0);
        }
        Ok(())
    }

    /// The Doorbell Buffer Config command for these doorbells.
    pub(crate) fn config_command(&self) -> Command {
        Command {
            prp1: self.dbs.dma_address().to_le(),
            prp2: self.eis.dma_address().to_le(),
            ..Command::new(nvme::admin::DBBUF_CONFIG, 0)
        }
    }

    /// Stores `value` in the shadow doorbell `index`, and returns whether
    /// the controller waits for the register to be written too.
    #[inline]
    fn update(&self, index: usize, value: u16) -> Result<bool> {
        // The queue entries are written before the doorbell.
        mb(Write);
        let old = u32::from_le(io_read!(self.dbs, [try: index])) as u16;
        io_write!(self.dbs, [try: index], u32::from(value).to_le());
        // The doorbell is written before the event index is read; the
        // controller orders its side alike.
        mb(Full);
        let event = u32::from_le(io_read!(self.eis, [try: index])) as u16;
        // C `nvme_dbbuf_need_event()`: whether `event` lies in (old, value].
        Ok(value.wrapping_sub(event).wrapping_sub(1) < value.wrapping_sub(old))
    }
}

/// A doorbell: its register, and its shadow if the controller has them.
struct Doorbell {
    offset: usize,
    shadow: Option<(Arc<ShadowDoorbells>, usize)>,
}

impl Doorbell {
    fn new(qid: u16, cq: bool, stride: usize, shadow: Option<&Arc<ShadowDoorbells>>) -> Self {
        let offset = doorbell(qid, cq, stride);
        Self {
            offset,
            shadow: shadow.map(|s| (s.clone(), (offset - nvme::REG_DOORBELLS) / 4)),
        }
    }

    /// Rings the doorbell with `value`, through `bar` if needed.
    #[inline]
    fn ring(&self, bar: &Bar<'_>, value: u16) {
        if let Some((shadow, index)) = &self.shadow {
            if let Ok(false) = shadow.update(*index, value) {
                return;
            }
        }
        // The offset was checked against the BAR in `IoQueue::new`.
        let _ = bar.try_write32(value.into(), self.offset);
    }
}

/// Submission queue state, under the queue's lock.
struct SqState {
    /// Where the next command goes.
    tail: u16,
    /// The tail the controller was told last.
    rung: u16,
}

/// PRP list pages per allocation of a queue: one page for each tag.
const PRP_PAGES_PER_CHUNK: usize = 32;
/// PRP entries in a list page.
pub(crate) const PRP_PER_PAGE: usize = (nvme::PAGE_SIZE / 8) as usize;

/// An I/O queue pair: a submission and a completion queue, and a PRP list
/// page for each tag.
#[pin_data]
pub(crate) struct IoQueue {
    /// The queue ID; the blk-mq hardware queue is `qid - 1`.
    pub(crate) qid: u16,
    /// The interrupt vector of its completions, [`None`] for a poll queue.
    pub(crate) vector: Option<u32>,
    depth: u16,
    /// Set when the controller is dead: requests fail at once.
    dead: Atomic<bool>,
    sq: Coherent<[Command]>,
    cq: Coherent<[Completion]>,
    prps: KVec<Coherent<[u64]>>,
    bar: Arc<DevresBar>,
    sq_doorbell: Doorbell,
    cq_doorbell: Doorbell,
    #[pin]
    sq_state: SpinLock<SqState>,
    #[pin]
    /// Taken in the interrupt handler of an interrupt-driven queue, and by
    /// pollers (with interrupts on) of a poll queue: interrupts are off
    /// while it is held, so that lockdep sees one usage for all queues.
    cq_state: SpinLockIrq<CqPos>,
    /// Where `cq_state` was when its lock was released last, for a look at
    /// the completion queue without the lock ([`IoQueue::pending`]): the
    /// head in the low 16 bits, the phase above.
    cq_hint: Atomic<u32>,
}

impl IoQueue {
    /// Allocates queue `qid` with `depth` entries for the controller `dev`,
    /// whose BAR `bar` is `bar_len` long, with its completions on interrupt
    /// `vector` (or polled), and `shadow` doorbells if the controller has
    /// them.
    #[expect(clippy::too_many_arguments, reason = "each describes the queue")]
    pub(crate) fn new(
        dev: &Device<Bound>,
        bar: &Arc<DevresBar>,
        bar_len: usize,
        qid: u16,
        vector: Option<u32>,
        depth: u16,
        stride: usize,
        shadow: Option<&Arc<ShadowDoorbells>>,
    ) -> Result<Arc<Self>> {
        if doorbell(qid, true, stride) + 4 > bar_len {
            return Err(ENODEV);
        }
        let sq_doorbell = Doorbell::new(qid, false, stride, shadow);
        let cq_doorbell = Doorbell::new(qid, true, stride, shadow);
        let tags = usize::from(depth);
        let mut prps = KVec::new();
        for first in (0..tags).step_by(PRP_PAGES_PER_CHUNK) {
            let pages = (tags - first).min(PRP_PAGES_PER_CHUNK);
            prps.push(
                Coherent::zeroed_slice(dev, pages * PRP_PER_PAGE, GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        Arc::pin_init(
            try_pin_init!(Self {
                qid,
                vector,
                depth,
                dead: Atomic::new(false),
                sq: Coherent::zeroed_slice(dev, tags, GFP_KERNEL)?,
                cq: Coherent::zeroed_slice(dev, tags, GFP_KERNEL)?,
                prps,
                bar: bar.clone(),
                sq_doorbell,
                cq_doorbell,
                sq_state <- new_spinlock!(SqState { tail: 0, rung: 0 }),
                cq_state <- new_spinlock_irq!(CqPos::new()),
                cq_hint: Atomic::new(CqPos::new().hint()),
            }),
            GFP_KERNEL,
        )
    }

    /// The number of entries of each queue.
    pub(crate) fn depth(&self) -> u16 {
        self.depth
    }

    /// Starts the queue over, for a controller that was disabled.
    pub(crate) fn reset(&self) -> Result {
        let mut sq = self.sq_state.lock();
        sq.tail = 0;
        sq.rung = 0;
        let mut cq = self.cq_state.lock();
        cq.reset(&self.cq)?;
        self.cq_hint.store(cq.hint(), Release);
        Ok(())
    }

    /// Fails the requests that come from now on: the controller is dead.
    pub(crate) fn kill(&self) {
        self.dead.store(true, Relaxed);
    }

    /// The DMA addresses of the submission and the completion queue.
    pub(crate) fn addresses(&self) -> (DmaAddress, DmaAddress) {
        (self.sq.dma_address(), self.cq.dma_address())
    }

    /// The descriptor page of `tag`: its PRP list, SGL segment or discard
    /// range.
    #[inline]
    fn descriptor_page(&self, tag: u32) -> Result<CoherentView<'_, [u64]>> {
        let tag = tag as usize;
        let chunk = self.prps.get(tag / PRP_PAGES_PER_CHUNK).ok_or(EINVAL)?;
        let base = (tag % PRP_PAGES_PER_CHUNK) * PRP_PER_PAGE;
        Ok(io_project!(chunk, [try: base..base + PRP_PER_PAGE]))
    }

    /// Points `cmd` at the data of `segments`, as C nvme does: with an SGL
    /// if the controller has them (`sgl_threshold` is not [`None`]) and
    /// the segments meet within controller pages, which PRPs cannot
    /// describe, or are at least a non-zero `sgl_threshold` bytes long on
    /// average; with PRPs otherwise. Uses the descriptor page of `tag` for
    /// the PRP list or the SGL segment.
    #[inline]
    pub(crate) fn set_data(
        &self,
        tag: u32,
        segments: DmaSegments<'_>,
        cmd: &mut Command,
        sgl_threshold: Option<u32>,
    ) -> Result {
        if let Some(threshold) = sgl_threshold {
            let gaps = segments.joints() & (nvme::PAGE_SIZE - 1) != 0;
            let average = segments.bytes().div_ceil(segments.len().max(1));
            if gaps || (threshold != 0 && average >= threshold as usize) {
                return self.set_sgl(tag, segments, cmd);
            }
        }
        self.set_prps(tag, segments, cmd)
    }

    /// Points `cmd` at the data of `segments` with an SGL: one Data Block
    /// descriptor in the command, or a Last Segment descriptor for a list
    /// of them in the descriptor page of `tag`.
    fn set_sgl(&self, tag: u32, mut segments: DmaSegments<'_>, cmd: &mut Command) -> Result {
        // A descriptor: the address, then the length with the type in the
        // last byte.
        let desc = |addr: u64, len: u64, kind: u64| (addr.to_le(), (len | (kind << 56)).to_le());
        cmd.flags |= nvme::CMD_SGL_METABUF;
        let count = segments.len();
        if count == 1 {
            if let Some(seg) = segments.next() {
                (cmd.prp1, cmd.prp2) = desc(seg.addr, u64::from(seg.len), nvme::SGL_DATA);
            }
            return Ok(());
        }
        if count > PRP_PER_PAGE / 2 {
            return Err(EINVAL);
        }
        let page = self.descriptor_page(tag)?;
        for (i, seg) in segments.enumerate() {
            let (addr, len) = desc(seg.addr, u64::from(seg.len), nvme::SGL_DATA);
            io_write!(page, [try: 2 * i], addr);
            io_write!(page, [try: 2 * i + 1], len);
        }
        let list = page.dma_address();
        (cmd.prp1, cmd.prp2) = desc(list, 16 * count as u64, nvme::SGL_LAST_SEGMENT);
        Ok(())
    }

    /// Points `cmd` at the data of `segments` with PRPs, using the PRP
    /// list page of `tag` if the data spans more than two pages.
    ///
    /// The segments must meet at controller pages (every one but the first
    /// starts on one, every one but the last ends on one): the disk's
    /// virtual boundary keeps them so, or [`IoQueue::set_data`] chooses an
    /// SGL.
    fn set_prps(&self, tag: u32, mut segments: DmaSegments<'_>, cmd: &mut Command) -> Result {
        let mask = nvme::PAGE_SIZE - 1;
        if segments.joints() & mask != 0 {
            return Err(EINVAL);
        }
        let Some(first) = segments.next() else {
            return Ok(());
        };
        // PRP 1 is the first address; every other entry is a page.
        cmd.prp1 = first.addr.to_le();
        let list = self.descriptor_page(tag)?;
        let mut entries = 0;
        let mut add = |seg: DmaSegment, mut page: u64| {
            // A mapping does not wrap around, so neither does `end`; the
            // page after the last possible page wraps to 0, which ends the
            // loop.
            let end = seg.addr.wrapping_add(seg.len.into());
            while page < end {
                io_write!(list, [try: entries], page.to_le());
                entries += 1;
                page = page.wrapping_add(nvme::PAGE_SIZE);
            }
            Ok::<(), Error>(())
        };
        add(first, (first.addr & !mask).wrapping_add(nvme::PAGE_SIZE))?;
        for seg in segments {
            add(seg, seg.addr)?;
        }
        cmd.prp2 = match entries {
            0 => 0,
            // The second page: PRP 2 points at it, not at a list.
            1 => io_read!(list, [try: 0]),
            _ => list.dma_address().to_le(),
        };
        Ok(())
    }

    /// Points `cmd`, a Dataset Management command, at `ranges`, (first
    /// block, number of blocks) each, which it writes to the descriptor page
    /// of `tag`: as many as the page holds, 256, as a command takes. Fails
    /// with `EIO` if a range is [`None`] (not whole blocks) or empty.
    pub(crate) fn set_dsm_ranges(
        &self,
        tag: u32,
        ranges: impl Iterator<Item = Option<(u64, u32)>>,
        cmd: &mut Command,
    ) -> Result {
        let page = self.descriptor_page(tag)?;
        let mut n = 0;
        for range in ranges {
            let (slba, nlb) = range.ok_or(EIO)?;
            if nlb == 0 {
                return Err(EIO);
            }
            // A range is 16 bytes: context attributes, the number of
            // blocks, the first block.
            io_write!(page, [try: 2 * n], (u64::from(nlb) << 32).to_le());
            io_write!(page, [try: 2 * n + 1], slba.to_le());
            n += 1;
        }
        if n == 0 {
            return Err(EIO);
        }
        // The number of ranges, 0's based.
        cmd.cdw10 = (n as u32 - 1).to_le();
        cmd.prp1 = page.dma_address().to_le();
        Ok(())
    }

    /// Submits `cmd`, the command of `rq`, which goes to the device. Tells
    /// the controller at once if `last`, otherwise with the next command or
    /// [`IoQueue::commit`].
    ///
    /// Gives `rq` back if the controller is gone (its driver is unbinding).
    pub(crate) fn submit<T: mq::Operations>(
        &self,
        rq: mq::OwnedRequest<T>,
        mut cmd: Command,
        last: bool,
    ) -> Result<(), mq::Rejected<T>> {
        let Some(bar) = self.bar.try_access() else {
            return Err(mq::Rejected::new(rq, EIO));
        };
        if self.dead.load(Relaxed) {
            return Err(mq::Rejected::new(rq, EIO));
        }
        cmd.command_id = crate::command_id(rq.hand_to_device()).to_le();
        let mut sq = self.sq_state.lock();
        // `sq.tail` is below the depth, the length of `sq`.
        let _ = self.write_command(sq.tail, cmd);
        sq.tail = (sq.tail + 1) % self.depth;
        if last {
            self.sq_doorbell.ring(&bar, sq.tail);
            sq.rung = sq.tail;
        }
        Ok(())
    }

    /// Writes `cmd` to entry `index` of the submission queue.
    fn write_command(&self, index: u16, cmd: Command) -> Result {
        io_project!(self.sq, [try: usize::from(index)]).copy_write(cmd);
        Ok(())
    }

    /// Tells the controller about the commands submitted since it was told
    /// last.
    pub(crate) fn commit(&self) {
        let Some(bar) = self.bar.try_access() else {
            return;
        };
        let mut sq = self.sq_state.lock();
        if sq.rung != sq.tail {
            self.sq_doorbell.ring(&bar, sq.tail);
            sq.rung = sq.tail;
        }
    }

    /// Handles the completions the controller posted, calling `complete`
    /// for each. Returns whether there were any.
    pub(crate) fn process(&self, mut complete: impl FnMut(&Completion)) -> bool {
        let mut cq = self.cq_state.lock();
        let mut found = false;
        while let Some(cqe) = cq.next(&self.cq, self.depth) {
            complete(&cqe);
            found = true;
        }
        if found {
            self.cq_hint.store(cq.hint(), Release);
            if let Some(bar) = self.bar.try_access() {
                self.cq_doorbell.ring(&bar, cq.head);
            }
        }
        found
    }

    /// Whether the controller may have posted a completion since the queue
    /// was processed last: a look without the queue's lock, as C nvme's
    /// `nvme_cqe_pending()`, so that a poll that finds nothing costs a load
    /// or two. It can be wrong while another CPU processes the queue, so it
    /// decides only whether to poll now, never whether a request is lost.
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        let hint = self.cq_hint.load(Acquire);
        let pos = CqPos {
            head: hint as u16,
            phase: (hint >> 16) as u16,
        };
        pos.posted(&self.cq).unwrap_or(true)
    }
}
