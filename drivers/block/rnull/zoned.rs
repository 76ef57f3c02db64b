// SPDX-License-Identifier: GPL-2.0

//! Zoned devices, as C null_blk's `zoned.c`.
//!
//! A zoned device has `zone_nr_conv` conventional zones, then sequential
//! write required zones up to its capacity. Each zone keeps its write
//! pointer and condition under a lock of its own: a spinlock, or a mutex
//! for a memory backed device, whose transfers may sleep. The counts of
//! open and closed zones, which `zone_max_open` and `zone_max_active`
//! limit, have a spinlock taken inside the zone locks.

use super::{
    invalid,
    NullBlkDevice,
    Options,
    QueueData,
    Storage, //
};
use kernel::{
    block::{
        mq::{
            Command,
            OwnedRequest, //
        },
        zoned::{
            self,
            Zone,
            ZoneCondition,
            ZoneReport,
            ZoneType,
            ZonedLimits, //
        },
        SECTOR_SHIFT,
    },
    new_spinlock,
    prelude::*,
    static_lock_class,
    sync::{
        lock::{
            mutex::MutexBackend,
            spinlock::SpinLockBackend,
            Backend,
            Lock, //
        },
        Arc,
        SpinLock, //
    },
};

/// C's `NULL_ZONE_INVALID_WP`: the write pointer of a read-only or offline
/// zone.
const INVALID_WP: u64 = u64::MAX;

/// Sectors in a MiB.
const MIB_SECTORS: u64 = 1 << (20 - SECTOR_SHIFT);

/// What changes in a zone.
struct ZoneState {
    write_pointer: u64,
    condition: ZoneCondition,
}

/// The counts of zones by condition, as far as the limits need them.
#[derive(Default)]
struct Resources {
    implicit_open: u32,
    explicit_open: u32,
    closed: u32,
    /// The zone to look at first for an implicitly open one to close.
    next_to_close: usize,
}

impl Resources {
    /// Stops counting a zone that leaves `condition`: open and closed
    /// zones are counted, others not.
    fn leave(&mut self, condition: ZoneCondition) {
        match condition {
            ZoneCondition::ImplicitOpen => self.implicit_open -= 1,
            ZoneCondition::ExplicitOpen => self.explicit_open -= 1,
            ZoneCondition::Closed => self.closed -= 1,
            _ => {}
        }
    }
}

/// The zones of a device, under locks of type `B`.
#[pin_data]
pub(crate) struct Zones<B: Backend> {
    /// The zone size in sectors, a power of two.
    zone_sectors: u64,
    /// `zone_sectors` is `1 << zone_shift`.
    zone_shift: u32,
    /// How many sectors of a zone can be written.
    capacity: u64,
    /// The capacity of the device in sectors.
    device_sectors: u64,
    nr_conv: usize,
    max_open: u32,
    max_active: u32,
    /// The limit told to the block layer; 0 for emulated zone append.
    append_max_sectors: u32,
    states: KVec<Pin<KBox<Lock<ZoneState, B>>>>,
    #[pin]
    resources: SpinLock<Resources>,
}

/// The zones of a device, with the kind of lock it needs.
#[derive(Clone)]
pub(crate) enum ZonedDevice {
    Atomic(Arc<Zones<SpinLockBackend>>),
    Sleeping(Arc<Zones<MutexBackend>>),
}

impl ZonedDevice {
    /// The zones of a device made from `options` (already validated by
    /// [`check`]), as C's `null_init_zoned_dev()`.
    pub(crate) fn new(options: &Options) -> Result<Self> {
        Ok(if options.memory_backed {
            Self::Sleeping(Zones::new(options)?)
        } else {
            Self::Atomic(Zones::new(options)?)
        })
    }

    /// The limits to build the disk with.
    pub(crate) fn limits(&self) -> Result<ZonedLimits> {
        match self {
            Self::Atomic(zones) => zones.limits(),
            Self::Sleeping(zones) => zones.limits(),
        }
    }

    /// Whether the device takes zone appends itself; the block layer
    /// emulates them otherwise.
    pub(crate) fn native_append(&self) -> bool {
        match self {
            Self::Atomic(zones) => zones.append_max_sectors != 0,
            Self::Sleeping(zones) => zones.append_max_sectors != 0,
        }
    }

    /// Carries out `rq`; C's `null_process_zoned_cmd()`.
    pub(crate) fn handle(
        &self,
        queue_data: &QueueData,
        rq: &mut OwnedRequest<NullBlkDevice>,
    ) -> Result {
        match self {
            Self::Atomic(zones) => zones.handle(queue_data, rq),
            Self::Sleeping(zones) => zones.handle(queue_data, rq),
        }
    }

    pub(crate) fn report(&self, sector: u64, nr_zones: u32, report: &mut ZoneReport<'_>) -> Result {
        match self {
            Self::Atomic(zones) => zones.report(sector, nr_zones, report),
            Self::Sleeping(zones) => zones.report(sector, nr_zones, report),
        }
    }

    /// Makes the zone of `sector` read-only or offline, or back to empty if
    /// it is so already; the `zone_readonly` and `zone_offline` attributes.
    pub(crate) fn set_condition(
        &self,
        storage: Option<&Storage>,
        sector: u64,
        condition: ZoneCondition,
    ) -> Result {
        match self {
            Self::Atomic(zones) => zones.set_condition(storage, sector, condition),
            Self::Sleeping(zones) => zones.set_condition(storage, sector, condition),
        }
    }
}

/// Checks the zone options of a zoned device, as C's
/// `null_init_zoned_dev()`.
pub(crate) fn check(options: &Options) -> Result {
    if !zoned::SUPPORTED {
        pr_err!("CONFIG_BLK_DEV_ZONED not enabled\n");
        return Err(EINVAL);
    }
    let size = options.zone_size_mib;
    if size == 0 || !size.is_power_of_two() {
        pr_err!("zone_size must be non-zero power-of-two\n");
        return Err(EINVAL);
    }
    if size > options.size_mib {
        pr_err!("Zone size larger than device capacity\n");
        return Err(EINVAL);
    }
    let capacity = options.zone_capacity_mib;
    if capacity > size {
        pr_err!(
            "zone capacity ({} MB) larger than zone size ({} MB)\n",
            capacity,
            size
        );
        return Err(EINVAL);
    }
    if capacity != 0 && capacity != size && options.size_mib & (size - 1) != 0 {
        pr_err!("A smaller last zone is not allowed with zone capacity smaller than zone size.\n");
        return Err(EINVAL);
    }
    // The block layer takes zones of up to 2^31 sectors (chunk_sectors).
    if !matches!(size.checked_mul(MIB_SECTORS), Some(s) if s <= u64::from(u32::MAX >> 1)) {
        return Err(invalid("zone_size"));
    }
    Ok(())
}

impl<B: Backend> Zones<B> {
    fn new(options: &Options) -> Result<Arc<Self>> {
        check(options)?;
        let zone_sectors = options.zone_size_mib * MIB_SECTORS;
        let capacity = match options.zone_capacity_mib {
            0 => zone_sectors,
            mib => mib * MIB_SECTORS,
        };
        let device_sectors = options.size_mib * MIB_SECTORS;
        let zone_shift = zone_sectors.trailing_zeros();
        let nr_zones = usize::try_from(
            device_sectors
                .checked_add(zone_sectors - 1)
                .ok_or_else(|| invalid("size"))?
                >> zone_shift,
        )?;
        let mut nr_conv = usize::try_from(options.zone_nr_conv)?;
        if nr_conv >= nr_zones {
            nr_conv = nr_zones - 1;
            pr_info!("changed the number of conventional zones to {}", nr_conv);
        }
        let block_sectors = options.block_size >> SECTOR_SHIFT;
        let append_max_sectors = (options.zone_append_max_sectors & !(block_sectors - 1))
            .min(u32::try_from(capacity).unwrap_or(u32::MAX));
        let seq_zones = u32::try_from(nr_zones - nr_conv).unwrap_or(u32::MAX);
        let mut max_active = options.zone_max_active;
        let mut max_open = options.zone_max_open;
        // Limits as high as the zone count could never be reached.
        if max_active >= seq_zones {
            max_active = 0;
            pr_info!("zone_max_active limit disabled, limit >= zone count\n");
        }
        if max_active != 0 && max_open > max_active {
            max_open = max_active;
            pr_info!("changed the maximum number of open zones to {}\n", max_open);
        } else if max_open >= seq_zones {
            max_open = 0;
            pr_info!("zone_max_open limit disabled, limit >= zone count\n");
        }

        let mut states = KVec::with_capacity(nr_zones, GFP_KERNEL)?;
        for zone in 0..nr_zones {
            let start = zone as u64 * zone_sectors;
            let (write_pointer, condition) = if zone < nr_conv {
                (start + zone_sectors, ZoneCondition::NotWritePointer)
            } else if options.zone_full {
                let len = zone_sectors.min(device_sectors - start);
                (start + capacity.min(len), ZoneCondition::Full)
            } else {
                (start, ZoneCondition::Empty)
            };
            let state = ZoneState {
                write_pointer,
                condition,
            };
            let lock = KBox::pin_init(
                Lock::new(state, c"rnull:zone", static_lock_class!()),
                GFP_KERNEL,
            )?;
            states.push(lock, GFP_KERNEL)?;
        }
        let next_to_close = nr_conv;
        Arc::pin_init(
            try_pin_init!(Self {
                zone_sectors,
                zone_shift,
                capacity,
                device_sectors,
                nr_conv,
                max_open,
                max_active,
                append_max_sectors,
                states,
                resources <- new_spinlock!(Resources {
                    next_to_close,
                    ..Default::default()
                }),
            }),
            GFP_KERNEL,
        )
    }

    fn limits(&self) -> Result<ZonedLimits> {
        Ok(ZonedLimits::new(u32::try_from(self.zone_sectors)?)?
            .max_open(self.max_open)
            .max_active(self.max_active)
            .max_append_sectors(self.append_max_sectors))
    }

    fn zone_no(&self, sector: u64) -> usize {
        usize::try_from(sector.wrapping_shr(self.zone_shift)).unwrap_or(usize::MAX)
    }

    fn start(&self, zone: usize) -> u64 {
        zone as u64 * self.zone_sectors
    }

    /// The length of zone `zone`: the last one may be shorter.
    fn len(&self, zone: usize) -> u64 {
        self.zone_sectors
            .min(self.device_sectors - self.start(zone))
    }

    fn zone_capacity(&self, zone: usize) -> u64 {
        if zone < self.nr_conv {
            self.len(zone)
        } else {
            self.capacity.min(self.len(zone))
        }
    }

    fn report(&self, sector: u64, nr_zones: u32, report: &mut ZoneReport<'_>) -> Result {
        let first = self.zone_no(sector);
        for zone in (first..self.states.len()).take(usize::try_from(nr_zones)?) {
            // Copied out: the lock is not held while the block layer looks
            // at the zone (it may copy it to user space).
            let (write_pointer, condition) = {
                let state = self.states[zone].lock();
                (state.write_pointer, state.condition)
            };
            report.report(&Zone {
                start: self.start(zone),
                len: self.len(zone),
                capacity: self.zone_capacity(zone),
                write_pointer,
                zone_type: if zone < self.nr_conv {
                    ZoneType::Conventional
                } else {
                    ZoneType::SeqWriteRequired
                },
                condition,
            })?;
        }
        Ok(())
    }

    fn handle(&self, queue_data: &QueueData, rq: &mut OwnedRequest<NullBlkDevice>) -> Result {
        let command = rq.command();
        match command {
            Command::Write => self.write(queue_data, rq, false),
            Command::ZoneAppend => self.write(queue_data, rq, true),
            Command::ZoneReset
            | Command::ZoneResetAll
            | Command::ZoneOpen
            | Command::ZoneClose
            | Command::ZoneFinish => self.manage(queue_data, command, rq.sector()),
            Command::Flush => queue_data.transfer(rq),
            _ => self.read(queue_data, rq),
        }
    }

    /// Reads below the write pointer of a zone; what lies beyond it reads
    /// as 0xff on a memory backed device, as in C.
    fn read(&self, queue_data: &QueueData, rq: &mut OwnedRequest<NullBlkDevice>) -> Result {
        let sector = rq.sector();
        let zone = self.zone_no(sector);
        let Some(lock) = self.states.get(zone) else {
            return Err(EIO);
        };
        let state = lock.lock();
        if state.condition == ZoneCondition::Offline {
            return Err(EIO);
        }
        let (status, bytes) = queue_data.check_badblocks(rq);
        if zone < self.nr_conv || (status.is_err() && bytes == 0) {
            return queue_data.transfer_bytes(rq, status, bytes);
        }
        let valid = state
            .write_pointer
            .saturating_sub(sector)
            .saturating_mul(1 << SECTOR_SHIFT)
            .min(u64::from(bytes)) as u32;
        let result = queue_data.transfer_bytes(rq, Ok(()), valid);
        if queue_data.storage.is_some() && valid < bytes {
            super::storage::fill(rq, valid as usize, bytes as usize, 0xff)?;
        }
        result.and(status)
    }

    /// C's `null_zone_write()`: a write at the write pointer or a zone
    /// append, which writes at the write pointer and says where.
    fn write(
        &self,
        queue_data: &QueueData,
        rq: &mut OwnedRequest<NullBlkDevice>,
        append: bool,
    ) -> Result {
        let mut sector = rq.sector();
        let zone = self.zone_no(sector);
        let Some(lock) = self.states.get(zone) else {
            return Err(EIO);
        };
        if zone < self.nr_conv {
            if append {
                return Err(EIO);
            }
            return queue_data.transfer(rq);
        }
        let mut state = lock.lock();
        if append {
            if self.append_max_sectors == 0 || state.write_pointer == INVALID_WP {
                return Err(EIO);
            }
            sector = state.write_pointer;
            rq.set_zone_append_sector(sector)?;
        }
        // Read-only, offline and full zones fail here too.
        let end = self.start(zone) + self.zone_capacity(zone);
        if sector != state.write_pointer || sector + u64::from(rq.sectors()) > end {
            return Err(EIO);
        }
        if matches!(
            state.condition,
            ZoneCondition::Closed | ZoneCondition::Empty
        ) {
            if self.limited() {
                let mut res = self.resources.lock();
                self.check_resources(&mut res, state.condition)?;
                res.leave(state.condition);
                res.implicit_open += 1;
            }
            state.condition = ZoneCondition::ImplicitOpen;
        }
        let (status, bytes) = queue_data.check_badblocks(rq);
        if status.is_err() && bytes == 0 {
            return status;
        }
        queue_data.transfer_bytes(rq, Ok(()), bytes)?;
        state.write_pointer += u64::from(bytes >> SECTOR_SHIFT);
        if state.write_pointer == end {
            if self.limited() {
                self.resources.lock().leave(state.condition);
            }
            state.condition = ZoneCondition::Full;
        }
        status
    }

    /// Whether open or active zones are limited.
    fn limited(&self) -> bool {
        self.max_open != 0 || self.max_active != 0
    }

    /// C's `null_check_active()`.
    fn check_active(&self, res: &Resources) -> Result {
        if self.max_active == 0
            || res.explicit_open + res.implicit_open + res.closed < self.max_active
        {
            return Ok(());
        }
        // BLK_STS_ZONE_ACTIVE_RESOURCE.
        Err(EOVERFLOW)
    }

    /// C's `null_check_open()`: may close an implicitly open zone to make
    /// room.
    fn check_open(&self, res: &mut Resources) -> Result {
        if self.max_open == 0 || res.explicit_open + res.implicit_open < self.max_open {
            return Ok(());
        }
        if res.implicit_open > 0 && self.check_active(res).is_ok() && self.close_implicit_open(res)
        {
            return Ok(());
        }
        // BLK_STS_ZONE_OPEN_RESOURCE.
        Err(ETOOMANYREFS)
    }

    /// C's `null_check_zone_resources()` for a zone in `condition` that is
    /// to be opened.
    fn check_resources(&self, res: &mut Resources, condition: ZoneCondition) -> Result {
        if condition == ZoneCondition::Empty {
            self.check_active(res)?;
        }
        self.check_open(res)
    }

    /// C's `null_close_imp_open_zone()`: closes the first implicitly open
    /// zone from `next_to_close` on. Returns whether it closed one.
    ///
    /// The caller holds the lock of a zone that is not implicitly open, so
    /// this takes the others' locks with `try_lock`; a zone that is busy is
    /// passed over (C reads the other zones without their locks).
    fn close_implicit_open(&self, res: &mut Resources) -> bool {
        let nr_zones = self.states.len();
        let mut zone = res.next_to_close;
        for _ in self.nr_conv..nr_zones {
            if zone >= nr_zones {
                zone = self.nr_conv;
            }
            let this = zone;
            zone += 1;
            let Some(mut state) = self.states[this].try_lock() else {
                continue;
            };
            if state.condition == ZoneCondition::ImplicitOpen {
                res.leave(state.condition);
                if state.write_pointer == self.start(this) {
                    state.condition = ZoneCondition::Empty;
                } else {
                    state.condition = ZoneCondition::Closed;
                    res.closed += 1;
                }
                res.next_to_close = zone;
                return true;
            }
        }
        false
    }

    /// C's `null_zone_mgmt()`.
    fn manage(&self, queue_data: &QueueData, command: Command, sector: u64) -> Result {
        if command == Command::ZoneResetAll {
            for zone in self.nr_conv..self.states.len() {
                let mut state = self.states[zone].lock();
                if !matches!(
                    state.condition,
                    ZoneCondition::Empty | ZoneCondition::ReadOnly | ZoneCondition::Offline
                ) {
                    // As C, a zone that fails to reset does not stop the
                    // others.
                    let _ = self.reset(queue_data, zone, &mut state);
                }
            }
            return Ok(());
        }
        let zone = self.zone_no(sector);
        let Some(lock) = self.states.get(zone) else {
            return Err(EIO);
        };
        let mut state = lock.lock();
        if zone < self.nr_conv
            || matches!(
                state.condition,
                ZoneCondition::ReadOnly | ZoneCondition::Offline
            )
        {
            return Err(EIO);
        }
        match command {
            Command::ZoneReset => self.reset(queue_data, zone, &mut state),
            Command::ZoneOpen => self.open(&mut state),
            Command::ZoneClose => self.close(zone, &mut state),
            Command::ZoneFinish => self.finish(zone, &mut state),
            _ => Err(EOPNOTSUPP),
        }
    }

    /// C's `null_open_zone()`.
    fn open(&self, state: &mut ZoneState) -> Result {
        match state.condition {
            ZoneCondition::ExplicitOpen => return Ok(()),
            ZoneCondition::Empty | ZoneCondition::ImplicitOpen | ZoneCondition::Closed => {}
            _ => return Err(EIO),
        }
        if self.limited() {
            let mut res = self.resources.lock();
            if state.condition != ZoneCondition::ImplicitOpen {
                self.check_resources(&mut res, state.condition)?;
            }
            res.leave(state.condition);
            res.explicit_open += 1;
        }
        state.condition = ZoneCondition::ExplicitOpen;
        Ok(())
    }

    /// C's `null_close_zone()`.
    fn close(&self, zone: usize, state: &mut ZoneState) -> Result {
        match state.condition {
            ZoneCondition::Closed => return Ok(()),
            ZoneCondition::ImplicitOpen | ZoneCondition::ExplicitOpen => {}
            _ => return Err(EIO),
        }
        let written = state.write_pointer > self.start(zone);
        if self.limited() {
            let mut res = self.resources.lock();
            res.leave(state.condition);
            if written {
                res.closed += 1;
            }
        }
        state.condition = if written {
            ZoneCondition::Closed
        } else {
            ZoneCondition::Empty
        };
        Ok(())
    }

    /// C's `null_finish_zone()`.
    fn finish(&self, zone: usize, state: &mut ZoneState) -> Result {
        if self.limited() {
            let mut res = self.resources.lock();
            match state.condition {
                ZoneCondition::Full => return Ok(()),
                ZoneCondition::Empty | ZoneCondition::Closed => {
                    self.check_resources(&mut res, state.condition)?
                }
                ZoneCondition::ImplicitOpen | ZoneCondition::ExplicitOpen => {}
                _ => return Err(EIO),
            }
            res.leave(state.condition);
        }
        state.condition = ZoneCondition::Full;
        state.write_pointer = self.start(zone) + self.len(zone);
        Ok(())
    }

    /// C's `null_reset_zone()`; a memory backed device forgets the data.
    fn reset(&self, queue_data: &QueueData, zone: usize, state: &mut ZoneState) -> Result {
        if self.limited() {
            let mut res = self.resources.lock();
            match state.condition {
                ZoneCondition::ImplicitOpen
                | ZoneCondition::ExplicitOpen
                | ZoneCondition::Closed
                | ZoneCondition::Empty
                | ZoneCondition::Full => res.leave(state.condition),
                _ => return Err(EIO),
            }
        }
        state.condition = ZoneCondition::Empty;
        state.write_pointer = self.start(zone);
        queue_data.discard(self.start(zone), self.len(zone))
    }

    /// C's `null_set_zone_cond()`. A zone that becomes empty forgets its
    /// data in `storage`; what the write cache holds of it stays beyond the
    /// write pointer, where it cannot be read.
    fn set_condition(
        &self,
        storage: Option<&Storage>,
        sector: u64,
        condition: ZoneCondition,
    ) -> Result {
        let zone = self.zone_no(sector);
        let Some(lock) = self.states.get(zone) else {
            pr_err!("Sector out of range\n");
            return Err(EINVAL);
        };
        if zone < self.nr_conv {
            pr_err!("Can not change condition of conventional zones\n");
            return Err(EINVAL);
        }
        let mut state = lock.lock();
        if state.condition == condition {
            // Asked again: back to normal, as in C.
            state.condition = ZoneCondition::Empty;
            state.write_pointer = self.start(zone);
            if let Some(storage) = storage {
                storage.discard(self.start(zone), self.len(zone), None)?;
            }
        } else {
            if self.limited() {
                // The zone no longer counts as open or closed. (C finishes
                // it, which can fail at the limits and leave it counted.)
                self.resources.lock().leave(state.condition);
            }
            state.condition = condition;
            state.write_pointer = INVALID_WP;
        }
        Ok(())
    }
}
