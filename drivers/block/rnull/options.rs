// SPDX-License-Identifier: GPL-2.0

//! The options of an rnull device, declared once.
//!
//! [`options_table!`] lists every option of a device, as C null_blk's
//! `NULLB_DEVICE_ATTR()` and `module_param_named()` lines do: its field in
//! `Options` and its type, its module parameter, its configfs attribute and
//! the check its values must pass. The module parameters, `Options`, the
//! configfs attributes of a device and the subsystem's `features` list are
//! all made from the table, by the macros that [`options_table!`] hands it
//! to (`module_and_options!` in the crate root, `device_attributes!` in the
//! configfs module), so none of them can miss an option.
//!
//! Each entry is:
//!
//! ```text
//! {
//!     /// What the field holds.
//!     field: name: Type,
//!     param: (name: type = default, "description"[, conversion]) or (),
//!     default: (value) or (),
//!     configfs: (name = id: Type, store) or (),
//!     check: (function) or (),
//! }
//! ```
//!
//! - `param`: the module parameter of that name, whose value is the
//!   option's, or what `conversion` (a closure returning a `Result`) makes
//!   of it. Without one, the option takes `default`.
//! - `configfs`: the attribute of that name and id. It shows and stores
//!   values of its type, which converts into and from the field's with
//!   [`From`]. `busy` attributes refuse changes while the device is powered
//!   (`-EBUSY`), as C does; `live_queues` ones change the hardware queues of
//!   a powered device.
//! - `check`: a function that takes a value of the field's type and
//!   returns `Err(EINVAL)`, with a message, if the value is not valid. It
//!   runs when configfs stores a value (but for `live_queues` attributes)
//!   and on every option before a device is made.
//!
//! The module parameters `nr_devices`, `timeout`, `requeue` and `init_hctx`
//! are of the module, not of a device, and the configfs attributes `power`,
//! `badblocks`, `zone_readonly` and `zone_offline` act on a device rather
//! than configure it: they are not options.

/// Hands the table of the options of a device to the macro `$callback`.
macro_rules! options_table {
    ($callback:ident) => {
        $callback! {
            {
                /// Size in MiB.
                field: size_mib: u64,
                param: (gb: u64 = 250, "Size in GB", |gb: u64| {
                    gb.checked_mul(1024).ok_or_else(|| invalid("gb"))
                }),
                default: (),
                configfs: (size = 3: u64, busy),
                check: (check_size),
            }
            {
                field: block_size: u32,
                param: (bs: u32 = 512, "Block size (in bytes)"),
                default: (),
                configfs: (blocksize = 1: u32, busy),
                check: (check_block_size),
            }
            {
                /// C's `queue_mode`: only [`QUEUE_MODE_MQ`] is left (see
                /// [`check_queue_mode`]).
                field: queue_mode: u32,
                param: (queue_mode: u32 = 2, "Block interface to use (0=bio,1=rq,2=multiqueue)"),
                default: (),
                configfs: (queue_mode = 26: u32, busy),
                check: (check_queue_mode),
            }
            {
                field: irq_mode: IRQMode,
                param: (irqmode: u32 = 1, "IRQ completion handler. 0-none, 1-softirq, 2-timer",
                    |mode: u32| IRQMode::try_from(mode).map_err(|_| invalid("irqmode"))),
                default: (),
                configfs: (irqmode = 4: IRQMode, busy),
                check: (),
            }
            {
                field: completion_nsec: u64,
                param: (completion_nsec: u64 = 10000,
                    "Time in ns to complete a request in hardware. Default: 10,000ns"),
                default: (),
                configfs: (completion_nsec = 15: u64, busy),
                check: (check_completion_nsec),
            }
            {
                /// At least one, at most one per CPU once clamped; replaced
                /// by the number of online NUMA nodes when a device is made
                /// with `use_per_node_hctx`, as in C (see
                /// [`Options::clamp`]).
                field: submit_queues: u32,
                param: (submit_queues: u32 = 1, "Number of submission queues"),
                default: (),
                configfs: (submit_queues = 5: u32, live_queues),
                check: (),
            }
            {
                /// Clamped to the `poll_queues` module parameter when a
                /// device is made, as in C (see [`Options::clamp`]).
                field: poll_queues: u32,
                param: (poll_queues: u32 = 1, "Number of IOPOLL submission queues"),
                default: (),
                configfs: (poll_queues = 21: u32, live_queues),
                check: (check_poll_queues),
            }
            {
                field: hw_queue_depth: u32,
                param: (hw_queue_depth: u32 = 64, "Queue depth for each hardware queue. Default: 64"),
                default: (),
                configfs: (hw_queue_depth = 6: u32, busy),
                check: (check_hw_queue_depth),
            }
            {
                field: no_sched: bool,
                param: (no_sched: bool = false, "No io scheduler"),
                default: (),
                configfs: (no_sched = 7: bool, busy),
                check: (),
            }
            {
                /// Set at power on for a memory backed device, as in C.
                field: blocking: bool,
                param: (blocking: bool = false, "Register as a blocking blk-mq driver device"),
                default: (),
                configfs: (blocking = 8: bool, busy),
                check: (),
            }
            {
                field: shared_tag_bitmap: bool,
                param: (shared_tag_bitmap: bool = false,
                    "Use shared tag bitmap for all submission queues for blk-mq"),
                default: (),
                configfs: (shared_tag_bitmap = 9: bool, busy),
                check: (),
            }
            {
                /// Use the tag set the module's devices share, made from the
                /// module parameters (see [`Shared::tag_set`]).
                field: shared_tags: bool,
                param: (shared_tags: bool = false, "Share tag set between devices for blk-mq"),
                default: (),
                configfs: (shared_tags = 24: bool, busy),
                check: (),
            }
            {
                field: use_per_node_hctx: bool,
                param: (use_per_node_hctx: bool = false,
                    "Use per-node allocation for hardware context queues. Default: false"),
                default: (),
                configfs: (use_per_node_hctx = 25: bool, busy),
                check: (),
            }
            {
                /// C's `NUMA_NO_NODE` (-1) for none.
                field: home_node: i32,
                param: (home_node: i32 = -1, "Home node for the device"),
                default: (),
                configfs: (home_node = 10: HomeNode, busy),
                check: (check_home_node),
            }
            {
                field: max_sectors: u32,
                param: (max_sectors: u32 = 0, "Maximum size of a command (in 512B sectors)"),
                default: (),
                configfs: (max_sectors = 11: u32, busy),
                check: (check_max_sectors),
            }
            {
                field: virt_boundary: bool,
                param: (virt_boundary: bool = false,
                    "Require a virtual boundary for the device. Default: False"),
                default: (),
                configfs: (virt_boundary = 12: bool, busy),
                check: (),
            }
            {
                field: rotational: bool,
                param: (rotational: bool = false,
                    "Set the rotational feature for the device. Default: False"),
                default: (),
                configfs: (rotational = 2: bool, busy),
                check: (),
            }
            {
                field: memory_backed: bool,
                param: (memory_backed: bool = false,
                    "Create a memory-backed block device. Default: false"),
                default: (),
                configfs: (memory_backed = 13: bool, busy),
                check: (),
            }
            {
                field: discard: bool,
                param: (discard: bool = false,
                    "Support discard operations (requires memory-backed null_blk device). \
                     Default: false"),
                default: (),
                configfs: (discard = 14: bool, busy),
                check: (),
            }
            {
                /// Size of the write cache in MiB; 0 for none.
                field: cache_size_mib: u64,
                param: (cache_size: u64 = 0,
                    "Cache size in MiB for memory-backed device. Default: 0 (none)"),
                default: (),
                configfs: (cache_size = 19: u64, busy),
                check: (),
            }
            {
                field: fua: bool,
                param: (fua: bool = true,
                    "Enable/disable FUA support when cache_size is used. Default: true"),
                default: (),
                configfs: (fua = 20: bool, busy),
                check: (),
            }
            {
                /// Bandwidth limit in MiB/s, 0 for none; at most
                /// [`MAX_MBPS`] once clamped.
                field: mbps: u32,
                param: (mbps: u32 = 0, "Limit maximum bandwidth (in MiB/s). Default: 0 (no limit)"),
                default: (),
                configfs: (mbps = 22: u32, busy),
                check: (),
            }
            {
                field: zoned: bool,
                param: (zoned: bool = false,
                    "Make device as a host-managed zoned block device. Default: false"),
                default: (),
                configfs: (zoned = 27: bool, busy),
                check: (),
            }
            {
                /// The zone size in MiB, a power of two.
                field: zone_size_mib: u64,
                param: (zone_size: u64 = 256,
                    "Zone size in MB when block device is zoned. Must be power-of-two: \
                     Default: 256"),
                default: (),
                configfs: (zone_size = 28: u64, busy),
                check: (),
            }
            {
                /// The writable part of a zone in MiB; 0 for all of it.
                field: zone_capacity_mib: u64,
                param: (zone_capacity: u64 = 0,
                    "Zone capacity in MB when block device is zoned. Can be less than or \
                     equal to zone size. Default: Zone size"),
                default: (),
                configfs: (zone_capacity = 29: u64, busy),
                check: (),
            }
            {
                field: zone_nr_conv: u32,
                param: (zone_nr_conv: u32 = 0,
                    "Number of conventional zones when block device is zoned. Default: 0"),
                default: (),
                configfs: (zone_nr_conv = 30: u32, busy),
                check: (),
            }
            {
                field: zone_max_open: u32,
                param: (zone_max_open: u32 = 0,
                    "Maximum number of open zones when block device is zoned. \
                     Default: 0 (no limit)"),
                default: (),
                configfs: (zone_max_open = 31: u32, busy),
                check: (),
            }
            {
                field: zone_max_active: u32,
                param: (zone_max_active: u32 = 0,
                    "Maximum number of active zones when block device is zoned. \
                     Default: 0 (no limit)"),
                default: (),
                configfs: (zone_max_active = 32: u32, busy),
                check: (),
            }
            {
                /// In sectors; 0 to have the block layer emulate zone
                /// append.
                field: zone_append_max_sectors: u32,
                param: (zone_append_max_sectors: u32 = 2147483647,
                    "Maximum size of a zone append command (in 512B sectors). \
                     Specify 0 for zone append emulation"),
                default: (),
                configfs: (zone_append_max_sectors = 33: u32, busy),
                check: (),
            }
            {
                field: zone_full: bool,
                param: (zone_full: bool = false,
                    "Initialize the sequential write required zones of a zoned device \
                     to be full. Default: false"),
                default: (),
                configfs: (zone_full = 34: bool, busy),
                check: (),
            }
            {
                field: badblocks_once: bool,
                param: (),
                default: (false),
                configfs: (badblocks_once = 17: bool, busy),
                check: (),
            }
            {
                field: badblocks_partial_io: bool,
                param: (),
                default: (false),
                configfs: (badblocks_partial_io = 18: bool, busy),
                check: (),
            }
            {
                /// The index of the device, set when it is made (C's
                /// `dev->index`); a value written is replaced then, as in C.
                field: index: u32,
                param: (),
                default: (0),
                configfs: (index = 23: u32, busy),
                check: (),
            }
        }
    };
}

pub(crate) use options_table;
