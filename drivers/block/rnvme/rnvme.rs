// SPDX-License-Identifier: GPL-2.0

//! A Rust driver for NVMe controllers on PCI.
//!
//! rnvme brings up the controller, makes one I/O queue pair per interrupt
//! vector (up to one per CPU), and adds a disk for every active namespace,
//! parented to the controller's device in its class, as C nvme's. Requests are mapped for DMA by
//! the block layer abstractions and described to the controller with PRPs;
//! completions come by interrupt and find their request by the command id.
//! A request that times out is aborted, and if it times out again the
//! controller is reset: its requests are taken back and queued again.
//! See Documentation/block/rnvme.rst.

use kernel::{
    block::mq::{
        self,
        gen_disk::{
            AtomicWrites,
            DiskIoctl,
            GenDisk,
            GenDiskBuilder, //
        },
        Operations,
        TagSet,
        TagSetConfig, //
    },
    device::{
        Bound,
        Core, //
    },
    dma::{
        Coherent,
        DmaMask, //
    },
    driver::ProbeType,
    io::Io,
    irq,
    miscdevice::MiscDeviceRegistration,
    new_mutex, pci,
    prelude::*,
    str::{
        BStr,
        CString, //
    },
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        ArcBorrow,
        Mutex, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
    types::ScopeGuard,
    workqueue::{
        self,
        impl_has_work,
        new_work,
        Work,
        WorkItem, //
    },
};

mod ctrldev;
mod nvme;
mod queue;

use ctrldev::{
    CtrlDev,
    CtrlDevData,
    CtrlDevices,
    Names,
    NO_GROUPS, //
};
use nvme::Command;
use queue::{
    AdminQueue,
    DevresBar,
    IoQueue,
    Regs,
    ShadowDoorbells, //
};

/// Entries of each I/O queue, as C nvme's default `io_queue_depth`.
const IO_QUEUE_DEPTH: u32 = 1024;

/// Largest number of I/O queues rnvme asks for.
const MAX_IO_QUEUES: u32 = 128;

/// Largest transfer, in bytes, whatever the controller allows: the PRP
/// entries of a request must fit in its one PRP list page.
const MAX_TRANSFER: u64 = 1 << 20;

/// Largest number of DMA segments of a request: its SGL descriptors must
/// fit in its descriptor page.
const MAX_SEGMENTS: u16 = (nvme::PAGE_SIZE / 16) as u16;

/// How many times a request is queued again after a controller reset
/// before it fails (C nvme's default `max_retries`).
const MAX_RETRIES: u32 = 5;

/// How long the controller may take to answer an Abort.
const ABORT_TIMEOUT: Delta = Delta::from_secs(5);

/// The numbers of the controllers, for the names of their disks.
static INSTANCES: Atomic<u32> = Atomic::new(0);

kernel::pci_device_table!(
    PCI_TABLE,
    <Rnvme as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_class(pci::Class::STORAGE_EXPRESS.as_raw(), 0xffffff),
        ()
    )]
);

/// The driver.
struct Rnvme;

/// What the requests of a namespace depend on: its format.
#[derive(Clone, Copy)]
struct Format {
    /// The logical block size, as a power of two (9 to 16); 0 if rnvme
    /// does not take the namespace's format (its disk has no capacity).
    lba_shift: u32,
    /// The largest atomic write and the boundary atomic writes do not
    /// cross (or 0), in bytes; 0 and 0 without atomic writes.
    atomic_max: u32,
    atomic_boundary: u32,
}

impl Format {
    /// The format of a namespace that rnvme does not take.
    const NONE: Format = Format {
        lba_shift: 0,
        atomic_max: 0,
        atomic_boundary: 0,
    };

    /// The format of a namespace whose Identify Namespace data is `ns`,
    /// and its atomic write limits: [`Format::NONE`] if rnvme does not take
    /// it (metadata, a block size the block layer does not take, no
    /// blocks), no limits if they are invalid. As C: atomic writes of the
    /// namespace's unit, or of a block.
    fn of(ns: &nvme::IdNs) -> (Format, Option<AtomicWrites>) {
        let block = 1u32.checked_shl(ns.lba_shift).unwrap_or(0);
        if ns.metadata != 0 || GenDiskBuilder::validate_block_size(block).is_err() || ns.nsze == 0 {
            return (Format::NONE, None);
        }
        let atomic = ns.atomic_writes().and_then(|(bytes, unit_max, boundary)| {
            let limits = AtomicWrites::new(bytes, block, unit_max, boundary).ok()?;
            Some((limits, unit_max, boundary))
        });
        let (atomic_max, atomic_boundary) =
            atomic.map_or((0, 0), |(_, max, boundary)| (max, boundary));
        let format = Format {
            lba_shift: ns.lba_shift,
            atomic_max,
            atomic_boundary,
        };
        (format, atomic.map(|(limits, _, _)| limits))
    }
}

/// A namespace, the queue data of its disk.
struct Namespace {
    nsid: u32,
    /// The fields of its [`Format`]. They change only while the disk's
    /// queue is frozen, in [`GenDisk::update`].
    lba_shift: Atomic<u32>,
    atomic_max: Atomic<u32>,
    atomic_boundary: Atomic<u32>,
    /// The `sgl_threshold` if the controller has SGLs.
    sgl_threshold: Option<u32>,
    /// The controller's I/O queues; blk-mq hardware queue `i` is queue
    /// `i + 1`.
    queues: KVec<Arc<IoQueue>>,
    /// The controller.
    ctrl: Arc<Ctrl>,
}

impl Namespace {
    /// Gives the namespace the format `format`, while its disk's queue is
    /// frozen.
    fn set_format(&self, format: Format) {
        self.lba_shift.store(format.lba_shift, Relaxed);
        self.atomic_max.store(format.atomic_max, Relaxed);
        self.atomic_boundary.store(format.atomic_boundary, Relaxed);
    }

    /// Whether an atomic write of `bytes` from `sector` fits the disk's
    /// limits. The block layer makes atomic requests that do, but NVMe has
    /// no atomic write command: one that did not would be written, but not
    /// atomically. C nvme checks the same.
    fn fits_atomic(&self, sector: u64, bytes: u32) -> bool {
        if bytes > self.atomic_max.load(Relaxed) {
            return false;
        }
        let boundary = u64::from(self.atomic_boundary.load(Relaxed));
        if boundary == 0 {
            return true;
        }
        let start = sector << 9;
        let end = start + u64::from(bytes) - 1;
        start / boundary == end / boundary
    }

    /// The first logical block and the number of blocks of `sectors`
    /// sectors (512 bytes) from `sector`; [`None`] if the namespace has no
    /// format rnvme takes or they are not whole blocks of it (the block
    /// layer made the request before the namespace changed its format).
    #[inline]
    fn blocks(&self, sector: u64, sectors: u64) -> Option<(u64, u64)> {
        let shift = self.lba_shift.load(Relaxed).checked_sub(9)?;
        if (sector | sectors) & ((1 << shift) - 1) != 0 {
            return None;
        }
        Some((sector >> shift, sectors >> shift))
    }
}

/// The interrupt handler of an I/O queue.
struct QueueIrq {
    queue: Arc<IoQueue>,
    tags: Arc<TagSet<Rnvme>>,
}

/// Takes the request of the completion `cqe` on `queue` back from the
/// device, and returns it with the status of the completion.
fn completed(
    tags: &TagSet<Rnvme>,
    queue: &IoQueue,
    cqe: &nvme::Completion,
) -> Option<(mq::OwnedRequest<Rnvme>, Result)> {
    let qid = queue.qid;
    let id = u16::from_le(cqe.command_id);
    let (tag, turn) = (u32::from(id & 0xfff), u32::from(id >> 12));
    match tags.take_from_device(u32::from(qid - 1), tag, |t| t & 0xf == turn) {
        Some(rq) if rq.should_fake_timeout() => {
            // fail_io_timeout: as if the completion was lost.
            let _ = rq.hand_to_device();
            None
        }
        Some(rq) => {
            let status = nvme::status_result(cqe.status);
            let retries = rq.data_ref().retries.load(Relaxed);
            // As C nvme: an error is retried unless the controller or the
            // submitter says not to, or the request was retried enough.
            if status.is_err()
                && nvme::may_retry(cqe.status)
                && !rq.flags().failfast()
                && retries < MAX_RETRIES
            {
                rq.data_ref().retries.store(retries + 1, Relaxed);
                rq.requeue();
                return None;
            }
            rq.data_ref().retries.store(0, Relaxed);
            Some((rq, status))
        }
        None => {
            pr_err!("rnvme: completion for unknown command {id:#x} on queue {qid}\n");
            None
        }
    }
}

/// Ends the requests of the completions the controller posted on `queue`,
/// together once the queue's lock is released. Returns whether there were
/// any.
fn process(tags: &TagSet<Rnvme>, queue: &IoQueue) -> bool {
    mq::CompletionBatch::run(|batch| {
        queue.process(|cqe| {
            if let Some((rq, status)) = completed(tags, queue, cqe) {
                rq.end_in_batch(status, batch);
            }
        })
    })
}

/// Ends the requests of the completions the controller posted on the poll
/// queue `queue` in `batch`, and returns how many it ended. Out of line, so
/// that a poll that finds nothing does not pay for it.
#[inline(never)]
fn poll_completions(
    tags: &TagSet<Rnvme>,
    queue: &IoQueue,
    batch: &mut mq::CompletionBatch<'_>,
) -> u32 {
    let mut ended = 0;
    queue.process(|cqe| {
        if let Some((rq, status)) = completed(tags, queue, cqe) {
            rq.end_in_batch(status, batch);
            ended += 1;
        }
    });
    ended
}

/// The command id of a request the device has: the tag in the low 12
/// bits, 4 bits of the turn above it, as C nvme's generation counter, so
/// that a completion for a previous use of the tag finds no request.
pub(crate) fn command_id(id: mq::DeviceTag) -> u16 {
    (((id.turn() & 0xf) << 12) | id.tag()) as u16
}

/// What rnvme keeps of a request.
struct RequestState {
    /// Whether it timed out once and the controller was asked to abort it.
    aborted: Atomic<bool>,
    /// How many times it was queued again, after an error or a reset.
    retries: Atomic<u32>,
}

/// Gives `rq` back to blk-mq as failed with `e`, or as busy for `ENOMEM`.
fn reject(rq: mq::OwnedRequest<Rnvme>, e: Error) -> Result<(), mq::Rejected<Rnvme>> {
    rq.data_ref().retries.store(0, Relaxed);
    Err(mq::Rejected::new(rq, e))
}

impl irq::Handler for QueueIrq {
    fn handle(&self) -> irq::IrqReturn {
        if process(&self.tags, &self.queue) {
            irq::IrqReturn::Handled
        } else {
            irq::IrqReturn::None
        }
    }
}

#[vtable]
impl Operations for Rnvme {
    type QueueData = Arc<Namespace>;
    type HwData = Arc<IoQueue>;
    type RequestData = RequestState;

    fn new_request_data() -> impl PinInit<RequestState, Error> {
        Ok(RequestState {
            aborted: Atomic::new(false),
            retries: Atomic::new(0),
        })
    }

    fn init_hctx(ns: ArcBorrow<'_, Namespace>, hw_queue: mq::HwQueueInfo) -> Result<Arc<IoQueue>> {
        ns.queues
            .get(hw_queue.index() as usize)
            .cloned()
            .ok_or(EINVAL)
    }

    fn queue_rq(
        queue: ArcBorrow<'_, IoQueue>,
        ns: ArcBorrow<'_, Namespace>,
        mut rq: mq::OwnedRequest<Self>,
        is_last: bool,
    ) -> Result<(), mq::Rejected<Self>> {
        rq.data_ref().aborted.store(false, Relaxed);
        let (opcode, data) = match rq.command() {
            mq::Command::Read => (nvme::io::READ, true),
            mq::Command::Write => (nvme::io::WRITE, true),
            mq::Command::Flush => (nvme::io::FLUSH, false),
            mq::Command::WriteZeroes => (nvme::io::WRITE_ZEROES, false),
            mq::Command::Discard => (nvme::io::DSM, false),
            _ => return reject(rq, EOPNOTSUPP),
        };
        let mut cmd = Command::new(opcode, ns.nsid);
        if opcode == nvme::io::DSM {
            // One range per discard segment of the request, as in C.
            let ranges = rq.sector_ranges().map(|range| {
                let (slba, nlb) = ns.blocks(range.sector, u64::from(range.sectors))?;
                Some((slba, nlb as u32))
            });
            if let Err(e) = queue.set_dsm_ranges(rq.tag(), ranges, &mut cmd) {
                return reject(rq, e);
            }
            cmd.cdw11 = nvme::DSM_DEALLOCATE.to_le();
        } else if opcode != nvme::io::FLUSH {
            let Some((lba, blocks)) = ns.blocks(rq.sector(), u64::from(rq.bytes() >> 9)) else {
                return reject(rq, EIO);
            };
            let blocks = blocks as u32;
            if blocks == 0 {
                return reject(rq, EIO);
            }
            cmd.cdw10 = (lba as u32).to_le();
            cmd.cdw11 = ((lba >> 32) as u32).to_le();
            if rq.flags().atomic() && !ns.fits_atomic(rq.sector(), rq.bytes()) {
                return reject(rq, EINVAL);
            }
            let mut cdw12 = blocks - 1;
            if rq.flags().fua() {
                cdw12 |= nvme::RW_FUA;
            }
            cmd.cdw12 = cdw12.to_le();
        }
        if data {
            let tag = rq.tag();
            let mapped = match rq.dma_map() {
                Ok(segments) => queue.set_data(tag, segments, &mut cmd, ns.sgl_threshold),
                Err(e) => Err(e),
            };
            if let Err(e) = mapped {
                // Out of mapping space: blk-mq tries again later.
                let e = if e == ENOMEM { ENOMEM } else { EIO };
                return reject(rq, e);
            }
        }
        queue.submit(rq, cmd, is_last)
    }

    /// As C nvme: the namespace ID, and admin commands for the controller.
    fn ioctl(ns: ArcBorrow<'_, Namespace>, ioctl: &DiskIoctl) -> Result<u32> {
        ns.ioctl(ioctl)
    }

    /// As C nvme: a plugged batch goes to the queues without blk-mq's work
    /// for each request.
    fn queue_rqs(batch: &mut mq::RequestBatch<'_, Self>) {
        batch.queue_all();
    }

    fn commit_rqs(queue: ArcBorrow<'_, IoQueue>, _ns: ArcBorrow<'_, Namespace>) {
        queue.commit();
    }

    fn complete(rq: mq::OwnedRequest<Self>) {
        rq.end_ok();
    }

    #[inline]
    fn poll(
        queue: ArcBorrow<'_, IoQueue>,
        ns: ArcBorrow<'_, Namespace>,
        batch: &mut mq::CompletionBatch<'_>,
    ) -> u32 {
        // A poll that finds nothing is a load and a compare, as in C.
        if !queue.pending() {
            return 0;
        }
        poll_completions(&ns.ctrl.tags, &queue, batch)
    }

    /// As C nvme: a completion the interrupt did not report yet ends the
    /// request; otherwise the controller is asked to abort it, and if it
    /// times out once more, or the controller failed, the controller is
    /// reset. Sleeps: blk-mq calls it from a work item.
    fn timeout(rq: mq::TimedOutRequest<'_, Self>) -> mq::TimeoutAction {
        let queue = rq.hw_data();
        let ctrl = &rq.queue_data().ctrl;
        let resets = ctrl.resets.load(Relaxed);
        process(&ctrl.tags, &queue);
        let Some(id) = rq.device_tag() else {
            // Ended, or queued again by a reset.
            return mq::TimeoutAction::Done;
        };
        let (qid, cid) = (queue.qid, command_id(id));
        let regs = Regs(&ctrl.bar);
        let failed = !matches!(
            regs.read32(nvme::REG_CSTS),
            Ok(csts) if csts != u32::MAX && csts & nvme::CSTS_CFS == 0
        );
        let dev = ctrl.pdev.as_ref();
        if !failed && !rq.data_ref().aborted.xchg(true, Relaxed) {
            dev_warn!(
                dev,
                "rnvme: I/O {cid:#x} on queue {qid} timed out, aborting\n"
            );
            let mut abort = Command::new(nvme::admin::ABORT, 0);
            abort.cdw10 = ((u32::from(cid) << 16) | u32::from(qid)).to_le();
            match ctrl.admin.run_for(regs, abort, ABORT_TIMEOUT) {
                // The command ends, aborted or not, or times out again.
                Ok(_) => return mq::TimeoutAction::ResetTimer,
                Err(e) => dev_warn!(dev, "rnvme: abort failed: {e:?}\n"),
            }
        }
        dev_warn!(
            dev,
            "rnvme: I/O {cid:#x} on queue {qid} timed out{}, resetting the controller\n",
            if failed { " (controller failed)" } else { "" }
        );
        ctrl.reset(resets);
        mq::TimeoutAction::Done
    }
}

/// The state of a controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// It works.
    Live,
    /// A reset runs.
    Resetting,
    /// A reset failed: its I/O fails.
    Dead,
    /// The driver unbinds from it.
    Deleting,
}

/// The disks of a controller: they go when the driver unbinds, or when
/// the controller dies, as in C, in a work item.
#[pin_data]
struct Disks {
    #[pin]
    list: Mutex<KVec<GenDisk<Rnvme>>>,
    #[pin]
    remove: Work<Disks>,
}

impl_has_work! {
    impl HasWork<Self> for Disks { self.remove }
}

impl WorkItem for Disks {
    type Pointer = Arc<Disks>;

    fn run(this: Arc<Disks>) {
        let disks = core::mem::take(&mut *this.list.lock());
        // As C: their I/O fails at once, also that of those who hold them
        // open, and removing them does not wait for any.
        for disk in &disks {
            disk.mark_dead();
        }
        drop(disks);
    }
}

/// A controller, shared with its disks and its character device.
#[pin_data]
struct Ctrl {
    pdev: ARef<pci::Device>,
    bar: Arc<DevresBar>,
    cap: nvme::Cap,
    /// What the controller says it is.
    id: nvme::IdCtrl,
    numa_node: i32,
    admin: Pin<KBox<AdminQueue>>,
    /// The data of admin passthrough commands and of Identify Namespace
    /// after one.
    #[pin]
    passthru: Mutex<Coherent<[u8]>>,
    /// The entries of each I/O queue.
    depth: u16,
    /// The controller's version (`VS`).
    version: u32,
    /// The largest transfer, in bytes.
    max_transfer: u64,
    /// The largest number of DMA segments of a request.
    max_segments: u16,
    /// What the NVM command set's Identify Controller data says, if the
    /// controller has it.
    nvm: nvme::IdCtrlNvm,
    queues: KVec<Arc<IoQueue>>,
    shadow: Option<Arc<ShadowDoorbells>>,
    tags: Arc<TagSet<Rnvme>>,
    /// Serializes resets, and resets with the shutdown at unbind.
    #[pin]
    reset_lock: Mutex<()>,
    /// How many resets there were.
    resets: Atomic<u32>,
    /// Set at unbind: a reset then fails the requests.
    removing: Atomic<bool>,
    /// Whether a reset runs (1) or failed (2).
    resetting: Atomic<u32>,
    /// The disks of the namespaces. They hold the controller until they
    /// go: in [`pci::Driver::unbind`], or when a reset fails.
    disks: Arc<Disks>,
}

impl Ctrl {
    /// The state of the controller.
    fn state(&self) -> State {
        if self.removing.load(Relaxed) {
            return State::Deleting;
        }
        match self.resetting.load(Relaxed) {
            0 => State::Live,
            1 => State::Resetting,
            _ => State::Dead,
        }
    }

    /// Resets the controller, unless it was reset since `resets` was read
    /// from [`Ctrl::resets`]: disables it, takes back every request from
    /// it, and brings it and its queues up again. The requests are queued
    /// again, unless they were queued again too often, the driver unbinds
    /// or the controller does not come back: then they fail, and so do the
    /// requests that come later.
    fn reset(&self, resets: u32) {
        let _serial = self.reset_lock.lock();
        if self.resets.load(Relaxed) != resets {
            return;
        }
        self.resets.store(resets.wrapping_add(1), Relaxed);
        if self.state() == State::Dead {
            return;
        }
        self.resetting.store(1, Relaxed);
        let dev = self.pdev.as_ref();
        let quiesced = self.tags.quiesce();
        let regs = Regs(&self.bar);
        let disabled = disable(regs, self.cap);
        let removing = self.removing.load(Relaxed);
        // The controller no longer uses the memory of the requests: they
        // are the driver's to queue again.
        quiesced.take_all_from_device(|rq| {
            let retries = rq.data_ref().retries.load(Relaxed);
            if removing || retries >= MAX_RETRIES || rq.flags().failfast() {
                rq.end(Err(EIO));
            } else {
                rq.data_ref().retries.store(retries + 1, Relaxed);
                rq.requeue();
            }
        });
        let up = match disabled {
            Ok(()) if removing => Err(ENODEV),
            Ok(()) => self.bring_up(regs),
            Err(e) => Err(e),
        };
        match up {
            Ok(()) => {
                self.resetting.store(0, Relaxed);
                dev_info!(dev, "rnvme: controller reset\n");
            }
            Err(e) => {
                self.resetting.store(2, Relaxed);
                if !removing {
                    dev_err!(
                        dev,
                        "rnvme: reset failed ({e:?}), the controller is dead: removing its disks\n"
                    );
                    // Unless they are being removed already. The driver
                    // cannot unbind meanwhile: it sets `removing` first and
                    // waits for `reset_lock`, then for the work item.
                    let _ = workqueue::system_long().enqueue(self.disks.clone());
                }
                for queue in &self.queues {
                    queue.kill();
                }
                let _ = disable(regs, self.cap);
                quiesced.take_all_from_device(|rq| rq.end(Err(EIO)));
            }
        }
        // Dropping `quiesced` passes the requests queued again to the
        // controller, or fails them if it is dead.
    }

    /// Brings the disabled controller up again with the queues it had.
    fn bring_up(&self, regs: Regs<'_>) -> Result {
        self.admin.reset()?;
        for queue in &self.queues {
            queue.reset()?;
        }
        if let Some(shadow) = &self.shadow {
            shadow.clear()?;
        }
        Controller::enable(regs, self.cap, &self.admin)?;
        let wanted = self.queues.len() as u32;
        if Controller::set_queue_count(&self.admin, regs, wanted)? < wanted {
            return Err(ENODEV);
        }
        for queue in &self.queues {
            Controller::create_queue(&self.admin, regs, queue, queue.vector)?;
        }
        if let Some(shadow) = &self.shadow {
            self.admin.run(regs, shadow.config_command())?;
        }
        Ok(())
    }
}

/// A bound controller.
#[pin_data(PinnedDrop)]
struct Controller {
    /// `/dev/rnvme<N>`, for nvme-cli.
    cdev: Pin<KBox<MiscDeviceRegistration<CtrlDev>>>,
    /// The controller's and its subsystem's devices in sysfs, the parent
    /// of the disks: they go after them.
    devices: CtrlDevices,
    irqs: KVec<pci::IrqRegistration<QueueIrq>>,
    ctrl: Arc<Ctrl>,
}

#[pinned_drop]
impl PinnedDrop for Controller {
    fn drop(self: Pin<&mut Self>) {
        dev_dbg!(self.ctrl.pdev.as_ref(), "rnvme: controller released\n");
    }
}

/// Waits until `CSTS.RDY` is `ready`, for at most the controller's
/// timeout.
fn wait_ready(regs: Regs<'_>, cap: nvme::Cap, ready: bool) -> Result {
    // CAP.TO is in 500 ms units; poll every millisecond.
    let tries = (cap.timeout_500ms().max(1) + 1) * 500;
    for _ in 0..tries {
        let csts = regs.read32(nvme::REG_CSTS)?;
        if csts == u32::MAX {
            return Err(ENODEV);
        }
        if (csts & nvme::CSTS_RDY != 0) == ready {
            return Ok(());
        }
        fsleep(Delta::from_millis(1));
    }
    Err(ETIMEDOUT)
}

/// Disables the controller: it stops using the memory of its queues.
fn disable(regs: Regs<'_>, cap: nvme::Cap) -> Result {
    let cc = regs.read32(nvme::REG_CC)?;
    if cc == u32::MAX {
        return Err(ENODEV);
    }
    if cc & nvme::CC_ENABLE == 0 && regs.read32(nvme::REG_CSTS)? & nvme::CSTS_RDY == 0 {
        return Ok(());
    }
    regs.write32(cc & !nvme::CC_ENABLE, nvme::REG_CC)?;
    wait_ready(regs, cap, false)
}

/// Tells the controller it is shut down, then disables it.
fn shutdown(regs: Regs<'_>, cap: nvme::Cap) -> Result {
    let cc = regs.read32(nvme::REG_CC)?;
    if cc != u32::MAX && cc & nvme::CC_ENABLE != 0 {
        regs.write32(cc | nvme::CC_SHN_NORMAL, nvme::REG_CC)?;
        for _ in 0..5000 {
            if regs.read32(nvme::REG_CSTS)? & nvme::CSTS_SHST_MASK == nvme::CSTS_SHST_CMPLT {
                break;
            }
            fsleep(Delta::from_millis(1));
        }
    }
    disable(regs, cap)
}

/// Writes a 64-bit register as two 32-bit halves, low first.
fn write64(regs: Regs<'_>, value: u64, offset: usize) -> Result {
    regs.write32(value as u32, offset)?;
    regs.write32((value >> 32) as u32, offset + 4)
}

/// Reads a page of identify data with `cns` for `nsid`.
fn identify(
    pdev: &pci::Device<Bound>,
    admin: &AdminQueue,
    regs: Regs<'_>,
    cns: u32,
    nsid: u32,
) -> Result<KVec<u8>> {
    let page = nvme::PAGE_SIZE as usize;
    let buf: Coherent<[u8]> = Coherent::zeroed_slice(pdev.as_ref(), page, GFP_KERNEL)?;
    admin.run(regs, Command::identify(cns, nsid, buf.dma_address()))?;
    let mut data = KVec::from_elem(0u8, page, GFP_KERNEL)?;
    (&buf).copy_to_slice(&mut data);
    Ok(data)
}

impl Controller {
    /// Enables the controller with its admin queue.
    fn enable(regs: Regs<'_>, cap: nvme::Cap, admin: &AdminQueue) -> Result {
        disable(regs, cap)?;
        let entries = u32::from(queue::ADMIN_DEPTH - 1);
        regs.write32(entries | (entries << 16), nvme::REG_AQA)?;
        let (sq, cq) = admin.addresses();
        write64(regs, sq, nvme::REG_ASQ)?;
        write64(regs, cq, nvme::REG_ACQ)?;
        regs.write32(nvme::CC_ENABLE | nvme::CC_ENTRY_SIZES, nvme::REG_CC)?;
        wait_ready(regs, cap, true)
    }

    /// Asks for `wanted` I/O queue pairs and returns how many the
    /// controller granted.
    fn set_queue_count(admin: &AdminQueue, regs: Regs<'_>, wanted: u32) -> Result<u32> {
        let n = wanted - 1;
        let mut cmd = Command::new(nvme::admin::SET_FEATURES, 0);
        cmd.cdw10 = nvme::FEAT_NUM_QUEUES.to_le();
        cmd.cdw11 = (n | (n << 16)).to_le();
        let granted = admin.run(regs, cmd)?;
        Ok(((granted & 0xffff).min(granted >> 16) + 1).min(wanted))
    }

    /// Creates I/O queue pair `queue` on the controller, with its
    /// completions on interrupt vector `vector`, or polled if [`None`].
    fn create_queue(
        admin: &AdminQueue,
        regs: Regs<'_>,
        queue: &IoQueue,
        vector: Option<u32>,
    ) -> Result {
        let qid = u32::from(queue.qid);
        let size = u32::from(queue.depth() - 1) << 16;
        let (sq, cq) = queue.addresses();
        let mut cmd = Command::new(nvme::admin::CREATE_CQ, 0);
        cmd.prp1 = cq.to_le();
        cmd.cdw10 = (size | qid).to_le();
        // Physically contiguous, with interrupts on that vector if any.
        cmd.cdw11 = match vector {
            Some(vector) => (vector << 16) | 0x3,
            None => 0x1,
        }
        .to_le();
        admin.run(regs, cmd)?;
        let mut cmd = Command::new(nvme::admin::CREATE_SQ, 0);
        cmd.prp1 = sq.to_le();
        cmd.cdw10 = (size | qid).to_le();
        // Its completion queue, physically contiguous.
        cmd.cdw11 = ((qid << 16) | 0x1).to_le();
        admin.run(regs, cmd).map(|_| ())
    }

    /// Brings up the controller of `pdev` and adds its disks.
    fn new(pdev: &pci::Device<Core<'_>>) -> Result<impl PinInit<Self, Error>> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        let dev: &pci::Device<Bound> = pdev;

        let bar_len = usize::try_from(dev.resource_len(0)?)?;
        let bar = Arc::new(
            dev.iomap_region_sized::<{ nvme::BAR_SIZE }>(0, c"rnvme")?
                .into_devres()?,
            GFP_KERNEL,
        )?;
        let regs = Regs(&bar);
        let cap = nvme::Cap(
            u64::from(regs.read32(nvme::REG_CAP)?)
                | (u64::from(regs.read32(nvme::REG_CAP + 4)?) << 32),
        );
        if cap.min_page_shift() > 12 {
            dev_err!(dev.as_ref(), "rnvme: controller needs pages above 4 KiB\n");
            return Err(ENODEV);
        }
        let admin = AdminQueue::new(dev.as_ref(), cap.doorbell_stride())?;
        Self::enable(regs, cap, &admin)?;
        // Until the controller is handed over, a failure disables it before
        // its queues are freed.
        let disable_on_error = ScopeGuard::new(|| {
            let _ = disable(regs, cap);
        });

        let id = nvme::IdCtrl::parse(&identify(dev, &admin, regs, nvme::cns::CONTROLLER, 0)?)?;
        let version = regs.read32(nvme::REG_VS)?;
        dev_info!(
            dev.as_ref(),
            "rnvme: {} (serial {}, firmware {}, controller {}), NVMe {}.{}, {} namespaces\n",
            BStr::from_bytes(nvme::ascii(&id.model, 0, id.model.len())),
            BStr::from_bytes(nvme::ascii(&id.serial, 0, id.serial.len())),
            BStr::from_bytes(nvme::ascii(&id.firmware, 0, id.firmware.len())),
            id.cntlid,
            version >> 16,
            (version >> 8) & 0xff,
            id.nn
        );
        dev_dbg!(
            dev.as_ref(),
            "rnvme: subsystem {}\n",
            BStr::from_bytes(&id.subnqn)
        );

        // As C nvme: a queue per CPU and the poll queues asked for, as far
        // as the controller grants them; at least one queue takes
        // interrupts.
        let cpus = kernel::cpu::nr_cpu_ids().clamp(1, 64);
        let poll = module_parameters::poll_queues.value();
        let wanted = cpus.saturating_add(poll).min(MAX_IO_QUEUES);
        let granted = Self::set_queue_count(&admin, regs, wanted)?;
        let poll = poll.min(granted - 1);
        let affinity = pci::IrqAffinity::new().pre_vectors(1);
        let vectors = dev.alloc_irq_vectors_managed(
            1,
            granted - poll + 1,
            pci::IrqTypes::all(),
            Some(affinity),
        )?;
        // One vector each for the admin queue and every interrupt-driven
        // I/O queue, or all on the one vector there is.
        let (nr_irq, shared) = if vectors.len() > 1 {
            ((granted - poll).min(vectors.len() - 1), false)
        } else {
            (1, true)
        };
        let nr_io = nr_irq + poll;
        let depth = IO_QUEUE_DEPTH.min(cap.max_queue_entries()).max(2);

        // Shadow doorbells, as C nvme uses them: without them every command
        // and completion costs an MMIO write, which a virtual controller
        // traps.
        let shadow = if id.oacs & nvme::OACS_DBBUF != 0 {
            Some(Arc::new(
                ShadowDoorbells::new(dev.as_ref(), nr_io as u16, cap.doorbell_stride())?,
                GFP_KERNEL,
            )?)
        } else {
            None
        };
        let mut queues = KVec::new();
        for qid in 1..=nr_io {
            // The poll queues come last, as blk-mq maps them.
            let vector = match qid {
                qid if qid > nr_irq => None,
                _ if shared => Some(0),
                qid => Some(qid),
            };
            let queue = IoQueue::new(
                dev.as_ref(),
                &bar,
                bar_len,
                qid as u16,
                vector,
                depth as u16,
                cap.doorbell_stride(),
                shadow.as_ref(),
            )?;
            Self::create_queue(&admin, regs, &queue, vector)?;
            queues.push(queue, GFP_KERNEL)?;
        }
        if let Some(shadow) = &shadow {
            // The queues use their shadow doorbells from the start; the
            // controller reads them once it has this command. It took
            // nothing from them yet: the queues are empty.
            admin.run(regs, shadow.config_command())?;
        }

        // As C: the transfer the controller allows, and one segment per
        // controller page of it and one more for an offset into the first.
        let mut max_transfer = MAX_TRANSFER;
        if id.mdts != 0 {
            max_transfer = max_transfer.min(nvme::PAGE_SIZE << id.mdts);
        }
        let max_segments = ((max_transfer / nvme::PAGE_SIZE) as u16 + 1).min(MAX_SEGMENTS);
        // The limits of Write Zeroes and Dataset Management, where the
        // controller has them; a controller without the data structure
        // fails the command.
        let nvm = identify(dev, &admin, regs, nvme::cns::CONTROLLER_NVM, 0)
            .and_then(|data| nvme::IdCtrlNvm::parse(&data))
            .unwrap_or_default();

        // One tag fewer than entries: a full submission queue is never
        // mistaken for an empty one.
        let mut config = TagSetConfig::new(nr_io, depth - 1)
            .poll_queues(poll)
            .numa_node(dev.numa_node())?;
        if !shared {
            // As C nvme: each interrupt-driven queue gets the CPUs its
            // vector is affine to; vector 0 is the admin queue's.
            config = config.queues_by_irq_affinity(1);
        }
        let tags = Arc::pin_init(
            TagSet::with_dma(config, dev.as_ref(), max_segments),
            GFP_KERNEL,
        )?;

        let mut irqs = KVec::new();
        for queue in queues.iter().take(nr_irq as usize) {
            let vector = if shared { 0 } else { u32::from(queue.qid) };
            let flags = if shared {
                irq::Flags::SHARED
            } else {
                irq::Flags::TRIGGER_NONE
            };
            let handler = QueueIrq {
                queue: queue.clone(),
                tags: tags.clone(),
            };
            irqs.push(
                vectors.register(vector, flags, c"rnvme", Ok::<_, Error>(handler))?,
                GFP_KERNEL,
            )?;
        }

        let ctrl_bar = bar.clone();
        let disks = Arc::pin_init(
            pin_init!(Disks {
                list <- new_mutex!(KVec::new()),
                remove <- new_work!("rnvme::Disks::remove"),
            }),
            GFP_KERNEL,
        )?;
        let passthru = Coherent::zeroed_slice(dev.as_ref(), ctrldev::PASSTHRU_MAX, GFP_KERNEL)?;
        let ctrl = Arc::pin_init(
            try_pin_init!(Ctrl {
                pdev: dev.into(),
                bar: ctrl_bar,
                cap,
                id,
                numa_node: dev.numa_node(),
                admin,
                passthru <- new_mutex!(passthru),
                depth: depth as u16,
                version,
                max_transfer,
                max_segments,
                nvm,
                queues,
                shadow,
                tags,
                reset_lock <- new_mutex!(()),
                resets: Atomic::new(0),
                removing: Atomic::new(false),
                resetting: Atomic::new(0),
                disks,
            }),
            GFP_KERNEL,
        )?;
        let instance = INSTANCES.fetch_add(1, Relaxed);
        let names = Names::new(module_parameters::nvme_names.value());
        let devices = CtrlDevices::new(&names, dev.as_ref(), instance, &ctrl)?;
        let prefix = names.prefix;
        let name = CString::try_from_fmt(fmt!("{prefix}{instance}"))?;
        let cdev_data = CtrlDevData { ctrl: ctrl.clone() };
        let cdev = KBox::pin_init(
            MiscDeviceRegistration::register_named(dev.as_ref(), name, cdev_data, &NO_GROUPS),
            GFP_KERNEL,
        )?;
        *ctrl.disks.list.lock() = Self::add_disks(dev, &ctrl, &devices, prefix, instance)?;

        disable_on_error.dismiss();
        Ok(try_pin_init!(Self {
            cdev,
            devices,
            irqs,
            ctrl,
        }))
    }

    /// Adds a disk for each active namespace, named
    /// `<prefix><instance>n<nsid>`, under the controller's device. As in
    /// C, one whose format rnvme does not take has no capacity.
    fn add_disks(
        dev: &pci::Device<Bound>,
        ctrl: &Arc<Ctrl>,
        devices: &CtrlDevices,
        prefix: &str,
        instance: u32,
    ) -> Result<KVec<GenDisk<Rnvme>>> {
        let (admin, regs, queues) = (&ctrl.admin, Regs(&ctrl.bar), &ctrl.queues);
        let sgls = ctrl.id.sgls & nvme::SGLS_SUPPORTED != 0;
        let list = identify(dev, admin, regs, nvme::cns::ACTIVE_NS_LIST, 0)?;
        let mut disks = KVec::new();
        for chunk in list.chunks_exact(4) {
            let nsid = nvme::le32(chunk, 0);
            if nsid == 0 {
                break;
            }
            let ns = nvme::IdNs::parse(&identify(dev, admin, regs, nvme::cns::NAMESPACE, nsid)?)?;
            let (builder, format) = ctrl.disk_limits(nsid, &ns)?;
            let mut ns_queues = KVec::with_capacity(queues.len(), GFP_KERNEL)?;
            for queue in queues {
                ns_queues.push(queue.clone(), GFP_KERNEL)?;
            }
            let data = Arc::new(
                Namespace {
                    nsid,
                    lba_shift: Atomic::new(format.lba_shift),
                    atomic_max: Atomic::new(format.atomic_max),
                    atomic_boundary: Atomic::new(format.atomic_boundary),
                    sgl_threshold: sgls.then(|| module_parameters::sgl_threshold.value()),
                    queues: ns_queues,
                    ctrl: ctrl.clone(),
                },
                GFP_KERNEL,
            )?;
            let disk = builder.parent(devices.ctrl()).build(
                fmt!("{prefix}{instance}n{nsid}"),
                ctrl.tags.clone(),
                data,
            )?;
            disks.push(disk, GFP_KERNEL)?;
        }
        Ok(disks)
    }
}

impl Ctrl {
    /// The limits every disk of the controller has, with 512-byte blocks
    /// and no capacity.
    fn ctrl_limits(&self) -> Result<GenDiskBuilder> {
        let sgls = self.id.sgls & nvme::SGLS_SUPPORTED != 0;
        Ok(GenDiskBuilder::new()
            .logical_block_size(512)?
            .physical_block_size(512)?
            .max_hw_sectors((self.max_transfer >> 9) as u32)?
            // As C: PRPs need the segments of a request to meet at
            // controller pages; SGLs do not.
            .virt_boundary_mask(if sgls {
                0
            } else {
                (nvme::PAGE_SIZE - 1) as usize
            })
            .max_segments(self.max_segments)
            .max_segment_size(u32::MAX)
            .dma_alignment(3)?
            .write_cache(self.id.vwc)
            .fua(self.id.vwc))
    }

    /// The limits, capacity and format of the disk of namespace `nsid`,
    /// whose Identify Namespace data is `ns`. As C: no capacity and
    /// [`Format::NONE`] if rnvme does not take its format (metadata, a
    /// block size the block layer does not take) or it has no blocks.
    fn disk_limits(&self, nsid: u32, ns: &nvme::IdNs) -> Result<(GenDiskBuilder, Format)> {
        let dev = self.pdev.as_ref();
        let builder = self.ctrl_limits()?;
        let (format, atomic) = Format::of(ns);
        if format.lba_shift == 0 {
            dev_warn!(
                dev,
                "rnvme: namespace {nsid}: unsupported format ({} byte blocks, {} bytes of metadata, {} blocks): no capacity\n",
                1u64.checked_shl(ns.lba_shift).unwrap_or(0),
                ns.metadata,
                ns.nsze
            );
            return Ok((builder, Format::NONE));
        }
        if atomic.is_none() {
            dev_warn!(
                dev,
                "rnvme: namespace {nsid}: no atomic writes (NAWUPF {}, NABSPF {}, NABO {})\n",
                ns.nawupf,
                ns.nabspf,
                ns.nabo
            );
        }
        let block = 1 << format.lba_shift;
        let mut builder = builder
            .logical_block_size(block)?
            .physical_block_size(block)?
            .capacity_sectors(ns.nsze << (ns.lba_shift - 9));
        if self.id.oncs & nvme::ONCS_DSM != 0 {
            // One range per request, as long as the controller takes
            // (DMRSL) and the block layer makes them, with C's
            // granularity.
            let dmrsl = u64::from(self.nvm.dmrsl) << (ns.lba_shift - 9);
            let sectors = match u32::try_from(dmrsl) {
                Ok(sectors) if sectors != 0 => sectors,
                _ => u32::MAX,
            };
            // As many ranges per request as the controller takes in a
            // command, as C.
            let ranges = match self.nvm.dmrl {
                0 => nvme::DSM_MAX_RANGES,
                dmrl => u16::from(dmrl),
            };
            builder = builder
                .discard(sectors, ns.discard_granularity(self.version))
                .max_discard_segments(ranges);
        }
        if let Some(limits) = atomic {
            builder = builder.atomic_writes(limits);
        }
        if self.id.oncs & nvme::ONCS_WRITE_ZEROES != 0 {
            // As C: the controller's limit (WZSL), or a transfer's.
            let sectors = match self.nvm.wzsl {
                0 => (self.max_transfer >> 9) as u32,
                wzsl => 1u32.checked_shl(u32::from(wzsl) + 3).unwrap_or(u32::MAX),
            };
            builder = builder.max_write_zeroes_sectors(sectors);
        }
        Ok((builder, format))
    }
}

impl pci::Driver for Rnvme {
    type IdInfo = ();
    type Data<'bound> = Controller;
    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;
    const PROBE_TYPE: ProbeType = ProbeType::PreferAsync;

    fn dma_config(_info: Option<&()>) -> Option<kernel::dma::Config> {
        // As C nvme: 64-bit addresses, segments of any size, and bounce
        // buffers that keep the offset within a controller page.
        Some(
            kernel::dma::Config::new(DmaMask::new::<64>())
                .max_segment_size(u32::MAX)
                .min_align_mask((nvme::PAGE_SIZE - 1) as u32),
        )
    }

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Controller, Error> + 'bound {
        pin_init::pin_init_scope(move || Controller::new(pdev))
    }

    fn unbind<'bound>(pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Controller>) {
        let ctrl = &this.ctrl;
        // From now on a reset fails the requests it takes back.
        ctrl.removing.store(true, Relaxed);
        // The disks go first: removing them waits for their requests, which
        // the controller completes (or a reset fails, if they time out).
        let disks = core::mem::take(&mut *ctrl.disks.list.lock());
        drop(disks);
        // Then the controller stops using the queues' memory, which is
        // freed with the driver's data.
        let serial = ctrl.reset_lock.lock();
        if let Err(e) = shutdown(Regs(&ctrl.bar), ctrl.cap) {
            dev_warn!(pdev.as_ref(), "rnvme: shutdown failed: {e:?}\n");
        }
        drop(serial);
        // A reset that ran before `removing` was set may have queued the
        // removal of the disks: it ends before the driver's code can go.
        // No reset queues it again: they all see `removing` now.
        ctrl.disks.remove.flush();
    }
}

/// The module: the classes of the controllers, then the driver.
#[pin_data]
struct RnvmeModule {
    // Dropped first: the controllers go before their classes.
    #[pin]
    _driver: kernel::driver::Registration<pci::Adapter<Rnvme>>,
    _classes: [kernel::class::Registration; 2],
}

impl kernel::InPlaceModule for RnvmeModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let names = Names::new(module_parameters::nvme_names.value());
        // The classes first: a controller may probe as soon as the driver
        // is registered.
        try_pin_init!(Self {
            _classes: names.register().inspect_err(|_| {
                pr_err!(
                    "rnvme: cannot register the classes {}, {}-subsystem: is C nvme loaded?\n",
                    names.prefix,
                    names.prefix
                )
            })?,
            _driver <- kernel::driver::Registration::new(
                <Self as kernel::ModuleMetadata>::NAME,
                module,
            ),
        })
    }
}

module! {
    type: RnvmeModule,
    name: "rnvme",
    authors: ["Rust for Linux"],
    description: "Rust NVMe PCI driver",
    license: "GPL v2",
    params: {
        nvme_names: bool {
            // C nvme's names cannot be taken where C nvme can load.
            default: !cfg!(CONFIG_NVME_CORE) && !cfg!(CONFIG_NVME_CORE_MODULE),
            description: "Use C nvme's names and classes, for nvme-cli's nvme list; only where C nvme is not loaded (default: no C nvme core)",
        },
        poll_queues: u32 {
            default: 0,
            description: "Number of queues to use for polled I/O (as C nvme's)",
        },
        sgl_threshold: u32 {
            default: 32768,
            description: "Use SGLs when the average request segment size is at least this size; 0 to use them only where PRPs cannot be (as C nvme's)",
        },
    },
}
