// SPDX-License-Identifier: GPL-2.0

//! Device classes.
//!
//! A class is a directory of `/sys/class` that lists the devices of one
//! kind, wherever they sit in the device tree: `/sys/class/nvme` holds the
//! NVMe controllers, for example. Its devices carry sysfs attributes
//! declared with [`sysfs_groups!`](crate::sysfs_groups), which borrow the
//! device's data, and may link to other devices.
//!
//! As in C, a module declares its classes as statics ([`Class::new`]),
//! registers them while it is loaded ([`Registration`]) and adds devices to
//! them ([`Device`]).
//!
//! C header: [`include/linux/device/class.h`](srctree/include/linux/device/class.h)
//!
//! # Examples
//!
//! ```
//! use kernel::{
//!     class::{self, Class},
//!     prelude::*,
//!     sysfs::AttributeOperations, //
//! };
//!
//! struct Port {
//!     speed: u32,
//! }
//!
//! #[vtable]
//! impl AttributeOperations<0> for Port {
//!     type Host = class::Device<Port>;
//!     type Value = u32;
//!
//!     fn show(port: &Port) -> Result<u32> {
//!         Ok(port.speed)
//!     }
//! }
//!
//! kernel::sysfs_groups! {
//!     static PORT_GROUPS: class::Device<Port> = [
//!         { ops: Port, attributes: [speed: 0] },
//!     ];
//! }
//!
//! static PORTS: Class = Class::new(c"rust_doctest_port");
//!
//! let registration = class::Registration::new(&PORTS)?;
//! // `/sys/class/rust_doctest_port/port0/speed` shows 100.
//! let port = class::Device::new(
//!     &PORTS,
//!     None,
//!     fmt!("port{}", 0),
//!     Port { speed: 100 },
//!     &PORT_GROUPS,
//! )?;
//! assert_eq!(port.as_ref().name(), c"port0");
//! assert_eq!(port.data().speed, 100);
//! // The devices of a class go before it does.
//! drop(port);
//! drop(registration);
//! # Ok::<(), Error>(())
//! ```

use crate::{
    bindings,
    device,
    error::{
        from_err_ptr,
        to_result, //
    },
    prelude::*,
    str::CString,
    sysfs,
    types::Opaque, //
};
use core::{
    fmt,
    ptr::{
        self,
        NonNull, //
    },
};

/// A class of devices, `/sys/class/<name>` once it is registered.
///
/// A `Class` is a static, as in C; [`Registration`] registers it.
pub struct Class(Opaque<bindings::class>);

// SAFETY: The driver core reads the class from any thread and changes
// nothing in it: its state lives in memory the driver core allocates when
// the class is registered, under its own locks.
unsafe impl Sync for Class {}

impl Class {
    /// A class named `name`, not yet registered.
    pub const fn new(name: &'static CStr) -> Self {
        // SAFETY: All fields of `struct class` may be zero: no callbacks,
        // no attributes, no namespace.
        let mut class: bindings::class = unsafe { core::mem::zeroed() };
        #[expect(
            clippy::disallowed_methods,
            reason = "`as_char_ptr()` is not a `const fn`; the cast makes the same pointer"
        )]
        {
            class.name = name.as_ptr().cast();
        }
        Self(Opaque::new(class))
    }

    fn as_raw(&self) -> *const bindings::class {
        self.0.get()
    }
}

/// The registration of a [`Class`]: `/sys/class/<name>` exists while it
/// lives.
///
/// # Invariants
///
/// `class` is registered until `self` is dropped.
pub struct Registration {
    class: &'static Class,
}

impl Registration {
    /// Registers `class`.
    ///
    /// Fails with `EEXIST` if a class of its name is registered already
    /// (the driver core also logs the name).
    pub fn new(class: &'static Class) -> Result<Self> {
        // SAFETY: `class` is a valid `struct class` that lives forever.
        to_result(unsafe { bindings::class_register(class.as_raw()) })?;
        // INVARIANT: `class_register()` succeeded.
        Ok(Self { class })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the class is registered; this is
        // the only place that unregisters it.
        unsafe { bindings::class_unregister(self.class.as_raw()) };
    }
}

/// A device of a class, without a device number: the directory
/// `/sys/class/<class>/<name>`, with the attributes of a
/// [`sysfs::Groups<Device<T>, N>`], whose callbacks borrow the device's
/// `T`.
///
/// The device is unregistered when this is dropped, with its attributes and
/// links, before its data is dropped.
///
/// # Invariants
///
/// `dev` is a registered device made by `device_create_with_groups()`,
/// whose driver data is the address of `*data`, and whose groups, if it
/// has any, are a `'static` `sysfs::Groups<Self, N>`. `self` holds the
/// reference that `device_create_with_groups()` returned.
pub struct Device<T: Send + Sync + 'static> {
    dev: NonNull<bindings::device>,
    data: KBox<T>,
}

// SAFETY: The device may be unregistered from any thread, and `T` is
// `Send`.
unsafe impl<T: Send + Sync + 'static> Send for Device<T> {}

// SAFETY: `&Device` only reads the device's name and parent, under the
// driver core's synchronisation, and lends `&T`, which is `Sync`.
unsafe impl<T: Send + Sync + 'static> Sync for Device<T> {}

impl<T: Send + Sync + 'static> Device<T> {
    /// Adds a device named `name` to `class`, under `parent` in the device
    /// tree (or in `/sys/devices/virtual` without one), with the attribute
    /// groups `groups`, which show and store `data`.
    ///
    /// The device has no device number, so no node in `/dev`. The class
    /// need not be registered, but it should be: only then does the device
    /// appear in `/sys/class`.
    pub fn new<const N: usize>(
        class: &'static Class,
        parent: Option<&device::Device>,
        name: fmt::Arguments<'_>,
        data: T,
        groups: &'static sysfs::Groups<Self, N>,
    ) -> Result<Self> {
        let name = CString::try_from_fmt(name)?;
        let data = KBox::new(data, GFP_KERNEL)?;
        let parent = parent.map_or(ptr::null_mut(), |parent| parent.as_raw());
        // SAFETY: `class` lives forever; `parent` is null or a live device,
        // which the new device takes a reference to; the driver data is the
        // address of `*data`, which stays where it is until the device is
        // unregistered (in `drop`); `groups` is a `'static` list of groups
        // of `Self`s, installed on the device of a `Self`; the format takes
        // one string, `name`, which the driver core copies.
        let dev = from_err_ptr(unsafe {
            bindings::device_create_with_groups(
                class.as_raw(),
                parent,
                0,
                ptr::from_ref::<T>(&data).cast_mut().cast(),
                groups.as_raw(),
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            )
        })?;
        // INVARIANT: `device_create_with_groups()` succeeded, with the
        // driver data and groups above.
        Ok(Self {
            // `from_err_ptr` passed the pointer, so it is not null.
            dev: NonNull::new(dev).ok_or(EINVAL)?,
            data,
        })
    }

    /// The data that the device's attributes show.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// Adds a link named as `target` in the device's directory, to
    /// `target`'s directory: as C nvme links an NVMe subsystem to its
    /// controllers. The link goes with the device.
    pub fn link(&self, target: &device::Device) -> Result {
        // Without sysfs there is nothing to link.
        #[cfg(not(CONFIG_SYSFS))]
        let _ = target;
        #[cfg(CONFIG_SYSFS)]
        // SAFETY: By the type invariant the device is registered, so its
        // kobject is in sysfs; `target` is a live device; its name is valid
        // during the call, and sysfs copies it.
        to_result(unsafe {
            bindings::sysfs_create_link(
                &raw mut (*self.dev.as_ptr()).kobj,
                &raw mut (*target.as_raw()).kobj,
                target.name().as_char_ptr(),
            )
        })?;
        Ok(())
    }
}

impl<T: Send + Sync + 'static> AsRef<device::Device> for Device<T> {
    fn as_ref(&self) -> &device::Device {
        // SAFETY: By the type invariant, `self` holds a reference to the
        // device, which lives at least as long as the borrow of `self`.
        unsafe { device::Device::from_raw(self.dev.as_ptr()) }
    }
}

impl<T: Send + Sync + 'static> Drop for Device<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the device is registered, and
        // `self` holds the reference that this drops. Unregistering removes
        // the attributes, waiting for callbacks that run, so none runs when
        // `data` is dropped after this.
        unsafe { bindings::device_unregister(self.dev.as_ptr()) };
    }
}

// SAFETY:
// - `Device::new` is the only API that installs groups of `Device<T>`s, on
//   the devices it creates;
// - their driver data is the address of the `T` that the `Device<T>` owns,
//   which is dropped after the device is unregistered, which removes the
//   groups;
// - `T` is `Sync`.
unsafe impl<T: Send + Sync + 'static> sysfs::Host for Device<T> {
    type Data<'a, 'b>
        = &'a T
    where
        Self: 'b,
        'b: 'a;

    unsafe fn borrow<'a, 'b>(dev: *mut bindings::device) -> &'a T
    where
        Self: 'b,
        'b: 'a,
    {
        // SAFETY: By the safety requirements of this function, `dev` is a
        // device of a `Device<T>`, a valid device.
        let data = unsafe { bindings::dev_get_drvdata(dev) }.cast::<T>();
        // SAFETY: The driver data of a `Device<T>` is its `T`, which lives
        // until the groups are removed, and the borrow ends before that.
        unsafe { &*data }
    }
}

#[macros::kunit_tests(rust_class)]
mod tests {
    use super::*;
    #[cfg(CONFIG_SYSFS)]
    use crate::sysfs::kunit_util;
    use crate::sysfs::AttributeOperations;

    struct Answer(u32);

    #[vtable]
    impl AttributeOperations<0> for Answer {
        type Host = Device<Answer>;
        type Value = u32;

        fn show(answer: &Answer) -> Result<u32> {
            Ok(answer.0)
        }
    }

    crate::sysfs_groups! {
        static GROUPS: Device<Answer> = [
            { ops: Answer, attributes: [answer: 0] },
        ];
    }

    static CLASS: Class = Class::new(c"rust_class_kunit");

    #[test]
    fn devices_show_their_data_and_go_with_their_class() -> Result {
        for round in 0..2 {
            // A second round registers the same names again: each round
            // removed what it added.
            let registration = Registration::new(&CLASS)?;
            let first = Device::new(&CLASS, None, fmt!("first{round}"), Answer(42), &GROUPS)?;
            let second = Device::new(&CLASS, None, fmt!("second{round}"), Answer(7), &GROUPS)?;
            let child = Device::new(
                &CLASS,
                Some(first.as_ref()),
                fmt!("child{round}"),
                Answer(1),
                &GROUPS,
            )?;
            assert_eq!(
                first.as_ref().name(),
                &*CString::try_from_fmt(fmt!("first{round}"))?
            );
            assert_eq!(second.data().0, 7);
            assert_eq!(
                child.as_ref().parent().map(|parent| parent.name()),
                Some(first.as_ref().name())
            );
            first.link(second.as_ref())?;
            let dev = first.dev.as_ptr();
            // SAFETY: The group has one attribute.
            let attr = unsafe { sysfs::kunit_util::attribute(&GROUPS, 0, 0) };
            // SAFETY: `dev` is a registered `Device<Answer>` with `GROUPS`.
            assert_eq!(&unsafe { sysfs::kunit_util::show(dev, attr) }?[..], b"42\n");
            #[cfg(CONFIG_SYSFS)]
            {
                let link = CString::try_from_fmt(fmt!("second{round}"))?;
                // SAFETY: `dev` is registered.
                let mode = unsafe { kunit_util::file_mode(dev, &[c"answer"]) };
                assert_eq!(mode, Some(0o444));
                // SAFETY: `dev` is registered.
                assert!(unsafe { kunit_util::file_mode(dev, &[&link]) }.is_some());
            }
            drop(child);
            drop(second);
            drop(first);
            drop(registration);
        }
        Ok(())
    }
}
