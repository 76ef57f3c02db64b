// SPDX-License-Identifier: GPL-2.0

//! Rust sysfs sample.
//!
//! A misc device, `/dev/rust-sysfs`, whose device has typed sysfs
//! attributes in `/sys/class/misc/rust-sysfs/`:
//!
//! - `label`: read-only text.
//! - `level`: read-write number, at most `max_level`; other values and text
//!   that is not a number get `EINVAL`.
//! - `max_level`: read-only, and only there when the module parameter
//!   `max_level` is not 0.
//! - `stats/stores`: read-only count of the values stored in `level`.
//! - `stats/reset`: write-only; writing `1` sets `level` and the count to 0.

use kernel::{
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    str::CString,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
    sysfs::AttributeOperations, //
};

module! {
    type: RustSysfsModule,
    name: "rust_sysfs",
    authors: ["Rust for Linux Contributors"],
    description: "Rust sysfs sample",
    license: "GPL",
    params: {
        max_level: u32 {
            default: 0,
            description: "The largest level (0: no limit and no max_level file)",
        },
    },
}

/// The state of the device, which its attributes borrow.
struct State {
    level: Atomic<u32>,
    max_level: Option<u32>,
    stores: Atomic<u64>,
}

/// The misc device. Opening it is all it does; its state is in sysfs.
struct RustSysfs;

#[vtable]
impl MiscDevice for RustSysfs {
    type Ptr = ();
    type RegistrationData = State;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result {
        Ok(())
    }
}

/// `label`: read-only.
#[vtable]
impl AttributeOperations<0> for State {
    type Host = MiscDeviceRegistration<RustSysfs>;
    type Value = CString;

    fn show(_state: &State) -> Result<CString> {
        CString::try_from_fmt(fmt!("Rust sysfs sample"))
    }
}

/// `level`: read-write, up to `max_level`. `level` and `stores` are two
/// atomics, so a reset that runs at the same time as a store may leave
/// them out of step: good enough for a sample.
#[vtable]
impl AttributeOperations<1> for State {
    type Host = MiscDeviceRegistration<RustSysfs>;
    type Value = u32;

    fn show(state: &State) -> Result<u32> {
        Ok(state.level.load(Relaxed))
    }

    fn store(state: &State, level: u32) -> Result {
        if state.max_level.is_some_and(|max| level > max) {
            return Err(EINVAL);
        }
        state.level.store(level, Relaxed);
        state.stores.fetch_add(1, Relaxed);
        Ok(())
    }
}

/// `max_level`: read-only, visible only with a limit.
#[vtable]
impl AttributeOperations<2> for State {
    type Host = MiscDeviceRegistration<RustSysfs>;
    type Value = u32;

    fn show(state: &State) -> Result<u32> {
        state.max_level.ok_or(ENODATA)
    }

    fn is_visible(state: &State) -> bool {
        state.max_level.is_some()
    }
}

/// `stats/stores`: read-only.
#[vtable]
impl AttributeOperations<3> for State {
    type Host = MiscDeviceRegistration<RustSysfs>;
    type Value = u64;

    fn show(state: &State) -> Result<u64> {
        Ok(state.stores.load(Relaxed))
    }
}

/// `stats/reset`: write-only, takes `1` (or `y`, `on`, ...).
#[vtable]
impl AttributeOperations<4> for State {
    type Host = MiscDeviceRegistration<RustSysfs>;
    type Value = bool;

    fn store(state: &State, reset: bool) -> Result {
        if !reset {
            return Err(EINVAL);
        }
        state.level.store(0, Relaxed);
        state.stores.store(0, Relaxed);
        Ok(())
    }
}

kernel::sysfs_groups! {
    static GROUPS: MiscDeviceRegistration<RustSysfs> = [
        { ops: State, attributes: [label: 0, level: 1, max_level: 2] },
        { name: "stats", ops: State, attributes: [stores: 3, reset: 4] },
    ];
}

#[pin_data]
struct RustSysfsModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<RustSysfs>,
}

impl kernel::InPlaceModule for RustSysfsModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let max_level = module_parameters::max_level.value();
        let state = State {
            level: Atomic::new(0),
            max_level: (max_level != 0).then_some(max_level),
            stores: Atomic::new(0),
        };
        let options = MiscDeviceOptions {
            name: c"rust-sysfs",
        };

        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register_with_groups(options, state, &GROUPS),
        })
    }
}
