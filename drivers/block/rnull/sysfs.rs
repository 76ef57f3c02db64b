// SPDX-License-Identifier: GPL-2.0

//! The attributes of an rnull disk in `/sys/block/rnullbN/rnull/`: its
//! effective configuration, read-only, and the counts of the requests that
//! fault injection timed out or requeued, which writing 0 resets.

use super::{
    configfs::IRQMode,
    NullBlkDevice,
    QueueData, //
};
use kernel::{
    block::mq::gen_disk::GenDisk,
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
    sysfs::AttributeOperations, //
};

kernel::sysfs_groups! {
    pub(crate) static GROUPS: GenDisk<NullBlkDevice> = [
        {
            name: "rnull",
            ops: QueueData,
            attributes: [
                irqmode: 0,
                completion_nsec: 1,
                memory_backed: 2,
                mbps: 3,
                timeouts: 4,
                requeues: 5,
            ],
        },
    ];
}

/// `irqmode`: 0 (none), 1 (softirq) or 2 (timer), as the parameter.
#[vtable]
impl AttributeOperations<0> for QueueData {
    type Host = GenDisk<NullBlkDevice>;
    type Value = u32;

    fn show(data: Pin<&QueueData>) -> Result<u32> {
        Ok(match data.irq_mode {
            IRQMode::None => 0,
            IRQMode::Soft => 1,
            IRQMode::Timer => 2,
        })
    }
}

/// `completion_nsec`: the completion delay of irqmode 2.
#[vtable]
impl AttributeOperations<1> for QueueData {
    type Host = GenDisk<NullBlkDevice>;
    type Value = i64;

    fn show(data: Pin<&QueueData>) -> Result<i64> {
        Ok(data.completion_delay.as_nanos())
    }
}

/// `memory_backed`: 1 if the disk keeps its data.
#[vtable]
impl AttributeOperations<2> for QueueData {
    type Host = GenDisk<NullBlkDevice>;
    type Value = bool;

    fn show(data: Pin<&QueueData>) -> Result<bool> {
        Ok(data.storage.is_some())
    }
}

/// `mbps`: the bandwidth limit in MiB/s; only on a disk that has one.
#[vtable]
impl AttributeOperations<3> for QueueData {
    type Host = GenDisk<NullBlkDevice>;
    type Value = u64;

    fn show(data: Pin<&QueueData>) -> Result<u64> {
        Ok(data
            .throttle
            .as_ref()
            .map_or(0, |throttle| throttle.bytes_per_sec.get() >> 20))
    }

    fn is_visible(data: Pin<&QueueData>) -> bool {
        data.throttle.is_some()
    }
}

/// Takes 0 to reset a count, and nothing else.
fn reset(count: &Atomic<u64>, value: u64) -> Result {
    if value != 0 {
        return Err(EINVAL);
    }
    count.store(0, Relaxed);
    Ok(())
}

/// `timeouts`: requests that timed out.
#[vtable]
impl AttributeOperations<4> for QueueData {
    type Host = GenDisk<NullBlkDevice>;
    type Value = u64;

    fn show(data: Pin<&QueueData>) -> Result<u64> {
        Ok(data.timeouts.load(Relaxed))
    }

    fn store(data: Pin<&QueueData>, value: u64) -> Result {
        reset(&data.timeouts, value)
    }
}

/// `requeues`: requests the requeue fault injection sent back.
#[vtable]
impl AttributeOperations<5> for QueueData {
    type Host = GenDisk<NullBlkDevice>;
    type Value = u64;

    fn show(data: Pin<&QueueData>) -> Result<u64> {
        Ok(data.requeues.load(Relaxed))
    }

    fn store(data: Pin<&QueueData>, value: u64) -> Result {
        reset(&data.requeues, value)
    }
}
