// SPDX-License-Identifier: GPL-2.0

//! sysfs attributes of devices.
//!
//! A driver declares the attribute groups of a kind of device with
//! [`sysfs_groups!`](crate::sysfs_groups): static tables, as in C, whose callbacks are the
//! methods of [`AttributeOperations`]. The values are typed: an attribute
//! shows a [`Value`], formatted as text with a trailing newline, and stores
//! one parsed from what was written, without it. Text that does not parse
//! gets `EINVAL`.
//!
//! The groups are handed to the driver core when the device is added, which
//! creates the files, and removes them before the device goes away. Which
//! data an attribute callback gets is up to the kind of device, its [`Host`]:
//! a disk lends its queue data, for example.
//!
//! C header: [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h)
//!
//! # Examples
//!
//! The groups of a kind of device `Sensor`, whose attribute callbacks
//! borrow a `&State`: a file `/sys/.../label` and a subdirectory `limits`
//! with `min` and `max`.
//!
//! ```
//! use kernel::{
//!     bindings,
//!     prelude::*,
//!     str::CString,
//!     sync::atomic::{Atomic, Relaxed},
//!     sysfs::{self, AttributeOperations}, //
//! };
//!
//! struct State {
//!     min: Atomic<u32>,
//!     max: Atomic<u32>,
//! }
//!
//! # struct Sensor;
//! # // SAFETY: No API installs groups of `Sensor`s.
//! # unsafe impl sysfs::Host for Sensor {
//! #     type Data<'a, 'b> = &'a State where 'b: 'a;
//! #     unsafe fn borrow<'a, 'b>(_: *mut bindings::device) -> &'a State where 'b: 'a {
//! #         unreachable!()
//! #     }
//! # }
//! /// `label`: read-only.
//! #[vtable]
//! impl AttributeOperations<0> for State {
//!     type Host = Sensor;
//!     type Value = CString;
//!
//!     fn show(_state: &State) -> Result<CString> {
//!         CString::try_from_fmt(fmt!("sensor"))
//!     }
//! }
//!
//! /// `min`: read-write, at most `max`.
//! #[vtable]
//! impl AttributeOperations<1> for State {
//!     type Host = Sensor;
//!     type Value = u32;
//!
//!     fn show(state: &State) -> Result<u32> {
//!         Ok(state.min.load(Relaxed))
//!     }
//!
//!     fn store(state: &State, min: u32) -> Result {
//!         if min > state.max.load(Relaxed) {
//!             return Err(EINVAL);
//!         }
//!         state.min.store(min, Relaxed);
//!         Ok(())
//!     }
//! }
//!
//! /// `max`: only where there is a maximum.
//! #[vtable]
//! impl AttributeOperations<2> for State {
//!     type Host = Sensor;
//!     type Value = u32;
//!
//!     fn show(state: &State) -> Result<u32> {
//!         Ok(state.max.load(Relaxed))
//!     }
//!
//!     fn is_visible(state: &State) -> bool {
//!         state.max.load(Relaxed) != u32::MAX
//!     }
//! }
//!
//! kernel::sysfs_groups! {
//!     static SENSOR_GROUPS: Sensor = [
//!         { ops: State, attributes: [label: 0] },
//!         { name: "limits", ops: State, attributes: [min: 1, max: 2] },
//!     ];
//! }
//! # let _ = &SENSOR_GROUPS;
//! ```

use crate::{
    bindings,
    container_of,
    prelude::*,
    str::{
        kstrtobool_bytes,
        parse_int::ParseInt,
        BStr,
        CString,
        Formatter, //
    },
    types::Opaque, //
};
use core::{
    fmt::{
        self,
        Write, //
    },
    marker::PhantomData,
    ptr,
};

/// A kind of device whose sysfs attributes are declared in Rust, and the
/// data their callbacks borrow.
///
/// # Safety
///
/// Implementers guarantee that:
///
/// - an attribute group of type [`Groups<Self, N>`] is only installed on the
///   `struct device` of a `Self`, by an API of `Self`;
/// - for such a device, [`Host::borrow`] returns data that stays valid until
///   the groups are removed from the device, which happens before the data
///   is freed;
/// - [`Host::Data`] may be used on any thread, by several at once: sysfs
///   runs the callbacks of a device concurrently, each with its own
///   borrow.
pub unsafe trait Host {
    /// What the callbacks of an attribute get: a borrow for `'a` of data
    /// that may itself hold borrows for `'b`, such as a driver's data bound
    /// to its device.
    ///
    /// The callbacks are generic over both lifetimes, so that they cannot
    /// keep the borrow, nor store one of `'a` in data of `'b`.
    type Data<'a, 'b>
    where
        Self: 'b,
        'b: 'a;

    /// Borrows the data of the device `dev`.
    ///
    /// # Safety
    ///
    /// `dev` is the `struct device` of a `Self`, with attribute groups of
    /// type [`Groups<Self, N>`] installed, and the borrow ends before they
    /// are removed: in an attribute callback.
    unsafe fn borrow<'a, 'b>(dev: *mut bindings::device) -> Self::Data<'a, 'b>
    where
        Self: 'b,
        'b: 'a;
}

/// What the attribute callbacks of devices of kind `H` borrow.
pub type HostData<'a, 'b, H> = <H as Host>::Data<'a, 'b>;

/// A value that an attribute shows and stores, as text.
///
/// # Examples
///
/// ```
/// use core::fmt::Write;
/// use kernel::{
///     prelude::*,
///     str::{BStr, Formatter},
///     sysfs::{self, Value}, //
/// };
///
/// /// An I/O scheduler policy, shown and stored by name.
/// #[derive(Debug, PartialEq)]
/// enum Policy {
///     Fifo,
///     Lifo,
/// }
///
/// impl Value for Policy {
///     fn format(&self, out: &mut Formatter<'_>) -> core::fmt::Result {
///         out.write_str(match self {
///             Policy::Fifo => "fifo",
///             Policy::Lifo => "lifo",
///         })
///     }
///
///     fn parse(text: &BStr) -> Result<Self> {
///         match &**text {
///             b"fifo" => Ok(Policy::Fifo),
///             b"lifo" => Ok(Policy::Lifo),
///             _ => Err(EINVAL),
///         }
///     }
/// }
///
/// let mut page = [0u8; 16];
/// assert_eq!(sysfs::format(&Policy::Lifo, &mut page), Ok(5));
/// assert_eq!(&page[..5], b"lifo\n");
/// assert_eq!(sysfs::parse::<Policy>(b"fifo\n"), Ok(Policy::Fifo));
/// assert_eq!(sysfs::parse::<Policy>(b"rr\n"), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
pub trait Value: Sized {
    /// Writes the value as text, without a trailing newline.
    fn format(&self, out: &mut Formatter<'_>) -> fmt::Result;

    /// Parses text written to the attribute, without its trailing newline.
    ///
    /// Any error but `ENOMEM` becomes `EINVAL` for the writer.
    fn parse(text: &BStr) -> Result<Self>;
}

macro_rules! impl_value_for_int {
    ($($t:ty),*) => {$(
        /// Shown in decimal. Stored as [`ParseInt`] reads it: decimal,
        /// hexadecimal with `0x`, octal with `0` or `0o`, binary with `0b`,
        /// and a `-` for signed types. Out of range is an error.
        impl Value for $t {
            fn format(&self, out: &mut Formatter<'_>) -> fmt::Result {
                write!(out, "{self}")
            }

            fn parse(text: &BStr) -> Result<Self> {
                <$t as ParseInt>::from_str(text)
            }
        }
    )*};
}

impl_value_for_int!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// Shown as `1` or `0`. Stored as `kstrtobool()` reads it, from its first
/// one or two characters: `1`, `y`, `t`, `on` or `0`, `n`, `f`, `off`, in
/// any case.
impl Value for bool {
    fn format(&self, out: &mut Formatter<'_>) -> fmt::Result {
        out.write_str(if *self { "1" } else { "0" })
    }

    fn parse(text: &BStr) -> Result<Self> {
        kstrtobool_bytes(text)
    }
}

/// UTF-8 text without a NUL byte, stored as written. A string that is not
/// UTF-8 shows U+FFFD for each invalid sequence.
impl Value for CString {
    fn format(&self, out: &mut Formatter<'_>) -> fmt::Result {
        for chunk in self.to_bytes().utf8_chunks() {
            out.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                out.write_char(char::REPLACEMENT_CHARACTER)?;
            }
        }
        Ok(())
    }

    fn parse(text: &BStr) -> Result<Self> {
        if text.contains(&0) {
            return Err(EINVAL);
        }
        let text = core::str::from_utf8(text).map_err(|_| EINVAL)?;
        CString::try_from_fmt(fmt!("{text}"))
    }
}

/// Formats `value` as an attribute shows it, with a trailing newline, into
/// `page`; returns the length of the text.
///
/// A value too long for `page` (for an attribute, `PAGE_SIZE - 1` bytes) is
/// an error, `EFBIG`, not a truncated text.
pub fn format<V: Value>(value: &V, page: &mut [u8]) -> Result<usize> {
    let mut out = Formatter::new(page);
    value
        .format(&mut out)
        .and_then(|()| out.write_str("\n"))
        .map_err(|_| EFBIG)?;
    Ok(out.bytes_written())
}

/// Parses `text` as written to an attribute: one trailing newline is
/// dropped, and any error but `ENOMEM` is `EINVAL`.
pub fn parse<V: Value>(text: &[u8]) -> Result<V> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    V::parse(BStr::from_bytes(text)).map_err(|e| if e == ENOMEM { e } else { EINVAL })
}

/// The callbacks of an attribute of devices of kind [`Self::Host`].
///
/// An attribute with `show` can be read by anyone (mode 0444), one with
/// `store` written by its owner (0200); with both, 0644. `ID` tells apart
/// the attributes implemented by one type.
#[vtable]
pub trait AttributeOperations<const ID: u64 = 0> {
    /// The kind of device the attribute is on.
    type Host: Host;

    /// The value the attribute shows and stores.
    type Value: Value;

    /// Returns the value to show.
    fn show(_data: HostData<'_, '_, Self::Host>) -> Result<Self::Value> {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Stores a value written to the attribute.
    ///
    /// Its error is the writer's.
    fn store(_data: HostData<'_, '_, Self::Host>, _value: Self::Value) -> Result {
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Tells whether the device has the attribute. Asked when the device is
    /// added; by default, it has.
    fn is_visible(_data: HostData<'_, '_, Self::Host>) -> bool {
        true
    }
}

/// An attribute of devices of kind `H`: its name, its mode and its
/// callbacks. Made by [`sysfs_groups!`](crate::sysfs_groups).
///
/// # Invariants
///
/// `inner` is a `struct device_attribute` whose callbacks, and `visible`,
/// are those of `Attribute::new_static` for some [`AttributeOperations`] with
/// host `H`. `inner` is the first field, so a pointer to its
/// `struct attribute` is one to `Self`.
#[repr(C)]
pub struct Attribute<H: Host> {
    inner: Opaque<bindings::device_attribute>,
    visible: unsafe fn(*mut bindings::device) -> bool,
    _host: PhantomData<H>,
}

// SAFETY: An `Attribute` is never changed after it is made; C and Rust only
// read it, from any thread.
unsafe impl<H: Host> Sync for Attribute<H> {}

/// The mode of a file everyone can read.
const MODE_READ: u16 = 0o444;
/// The mode of a file its owner can write.
const MODE_WRITE: u16 = 0o200;

impl<H: Host> Attribute<H> {
    /// Makes the attribute `name`, with the callbacks of `O`. Only for
    /// [`sysfs_groups!`](crate::sysfs_groups), which makes every attribute
    /// a `static`.
    ///
    /// # Safety
    ///
    /// The attribute must be a `static`: with `CONFIG_DEBUG_LOCK_ALLOC`,
    /// sysfs uses the lockdep key inside it, which lockdep only accepts in
    /// static memory.
    #[doc(hidden)]
    pub const unsafe fn new_static<const ID: u64, O: AttributeOperations<ID, Host = H>>(
        name: &'static CStr,
    ) -> Self {
        assert!(
            O::HAS_SHOW || O::HAS_STORE,
            "an attribute needs `show`, `store` or both"
        );
        let mut attr: bindings::device_attribute = pin_init::zeroed();
        attr.attr.name = crate::str::as_char_ptr_in_const_context(name);
        if O::HAS_SHOW {
            attr.attr.mode |= MODE_READ;
            attr.__bindgen_anon_1.show = Some(Self::show_callback::<ID, O>);
        }
        if O::HAS_STORE {
            attr.attr.mode |= MODE_WRITE;
            attr.__bindgen_anon_2.store = Some(Self::store_callback::<ID, O>);
        }
        // INVARIANT: The callbacks are those of `O`, whose host is `H`.
        Self {
            inner: Opaque::new(attr),
            visible: Self::visible::<ID, O>,
            _host: PhantomData,
        }
    }

    /// The `struct attribute` that sysfs sees.
    const fn as_raw(&self) -> *mut bindings::attribute {
        // `attr` is the first field of `struct device_attribute`.
        self.inner.get().cast()
    }

    /// The `show` callback of `struct device_attribute`.
    ///
    /// # Safety
    ///
    /// Only to be called by sysfs, for an attribute in a group of type
    /// [`Groups<H, N>`] installed on `dev`, with a buffer `buf` of
    /// `PAGE_SIZE` bytes.
    unsafe extern "C" fn show_callback<const ID: u64, O: AttributeOperations<ID, Host = H>>(
        dev: *mut bindings::device,
        _attr: *mut bindings::device_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: The groups are installed on `dev`, by the safety
        // requirements of this function; the borrow ends with the callback,
        // before they are removed.
        let data = unsafe { H::borrow(dev) };
        // SAFETY: sysfs gives `show` a buffer of `PAGE_SIZE` bytes that
        // nothing else accesses until it returns. As `sysfs_emit()`, we use
        // all but the last byte: sysfs warns about a show of `PAGE_SIZE`.
        let page = unsafe { core::slice::from_raw_parts_mut(buf.cast(), bindings::PAGE_SIZE - 1) };
        match O::show(data).and_then(|value| format(&value, page)) {
            // `len` is less than `PAGE_SIZE`.
            Ok(len) => len as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// The `store` callback of `struct device_attribute`.
    ///
    /// # Safety
    ///
    /// Only to be called by sysfs, for an attribute in a group of type
    /// [`Groups<H, N>`] installed on `dev`, with `count` bytes at `buf`.
    unsafe extern "C" fn store_callback<const ID: u64, O: AttributeOperations<ID, Host = H>>(
        dev: *mut bindings::device,
        _attr: *mut bindings::device_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: sysfs passes `count` readable bytes at `buf`, which stay
        // unchanged until `store` returns.
        let text = unsafe { core::slice::from_raw_parts(buf.cast(), count) };
        // SAFETY: As in `show_callback`.
        let data = unsafe { H::borrow(dev) };
        match parse(text).and_then(|value| O::store(data, value)) {
            // sysfs writes at most `PAGE_SIZE` bytes at once.
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// Asks `O` whether `dev` has the attribute.
    ///
    /// # Safety
    ///
    /// As for [`Host::borrow`].
    unsafe fn visible<const ID: u64, O: AttributeOperations<ID, Host = H>>(
        dev: *mut bindings::device,
    ) -> bool {
        // SAFETY: By the safety requirements of this function.
        O::is_visible(unsafe { H::borrow(dev) })
    }
}

/// The attributes of a [`Group`]: `N` pointers and a null one at the end,
/// as sysfs takes them.
///
/// # Invariants
///
/// `attrs` point to the `struct attribute` of `static` [`Attribute<H>`]s,
/// and `end` is null; with `repr(C)` they form one null-terminated array.
#[repr(C)]
pub struct AttributeList<H: Host, const N: usize> {
    attrs: [*mut bindings::attribute; N],
    end: *mut bindings::attribute,
    _host: PhantomData<H>,
}

// SAFETY: The list only points to `Attribute`s, which are `Sync`, and is
// never changed after it is made.
unsafe impl<H: Host, const N: usize> Sync for AttributeList<H, N> {}

impl<H: Host, const N: usize> AttributeList<H, N> {
    /// Makes the list of `attrs`.
    pub const fn new(attrs: [&'static Attribute<H>; N]) -> Self {
        let mut raw = [ptr::null_mut(); N];
        let mut i = 0;
        while i < N {
            raw[i] = attrs[i].as_raw();
            i += 1;
        }
        // INVARIANT: `attrs` are `'static` `Attribute<H>`s;
        // `Attribute::new_static` is only for statics.
        Self {
            attrs: raw,
            end: ptr::null_mut(),
            _host: PhantomData,
        }
    }
}

/// An attribute group of devices of kind `H`: a directory of attributes,
/// or attributes right in the device's directory when it has no name.
/// Made by [`sysfs_groups!`](crate::sysfs_groups).
///
/// # Invariants
///
/// `inner.attrs` points to the null-terminated array of an
/// [`AttributeList<H, N>`] (so every attribute of the group is an
/// [`Attribute<H>`]), and `inner.is_visible` is `Group::is_visible_callback`.
#[repr(transparent)]
pub struct Group<H: Host> {
    inner: Opaque<bindings::attribute_group>,
    _host: PhantomData<H>,
}

// SAFETY: A `Group` is never changed after it is made.
unsafe impl<H: Host> Sync for Group<H> {}

impl<H: Host> Group<H> {
    /// Makes the group `name` of `attrs`.
    pub const fn new<const N: usize>(
        name: Option<&'static CStr>,
        attrs: &'static AttributeList<H, N>,
    ) -> Self {
        let mut group: bindings::attribute_group = pin_init::zeroed();
        if let Some(name) = name {
            group.name = crate::str::as_char_ptr_in_const_context(name);
        }
        group.__bindgen_anon_1.is_visible = Some(Self::is_visible_callback);
        // `attrs` and `end` are laid out as one array from the start of the
        // list (`repr(C)`). sysfs does not write to it.
        group.__bindgen_anon_2.attrs = ptr::from_ref(attrs).cast_mut().cast();
        // INVARIANT: `attrs` is an `AttributeList<H, N>`, whose array is
        // null-terminated by its type invariants; `is_visible` is set above.
        Self {
            inner: Opaque::new(group),
            _host: PhantomData,
        }
    }

    /// The `is_visible` callback of `struct attribute_group`.
    ///
    /// # Safety
    ///
    /// Only to be called by sysfs, for an attribute `attr` of the group,
    /// while it adds the group to the device of `kobj`.
    unsafe extern "C" fn is_visible_callback(
        kobj: *mut bindings::kobject,
        attr: *mut bindings::attribute,
        _index: c_int,
    ) -> bindings::umode_t {
        // SAFETY: Groups of type `Groups<H, N>` are only installed on the
        // `struct device` of a `H`, which embeds `kobj`.
        let dev = unsafe { container_of!(kobj, bindings::device, kobj) };
        // SAFETY: By the type invariants, the attributes of the group are
        // `Attribute<H>`s, and `attr` points to their first field.
        let attribute = unsafe { &*attr.cast::<Attribute<H>>() };
        // SAFETY: sysfs asks while it adds the groups to `dev`: they count
        // as installed, and the borrow ends before they are removed.
        if unsafe { (attribute.visible)(dev) } {
            // SAFETY: `attr` is valid, as above.
            unsafe { (*attr).mode }
        } else {
            0
        }
    }
}

/// The attribute groups of devices of kind `H`, as the driver core takes
/// them: `N` pointers and a null one at the end. Made by
/// [`sysfs_groups!`](crate::sysfs_groups), and installed on a device by an
/// API of `H`.
///
/// # Invariants
///
/// `groups` point to `static` [`Group<H>`]s, and `end` is null; with
/// `repr(C)` they form one null-terminated array.
#[repr(C)]
pub struct Groups<H: Host, const N: usize> {
    groups: [*const bindings::attribute_group; N],
    end: *const bindings::attribute_group,
    _host: PhantomData<H>,
}

// SAFETY: The list only points to `Group`s, which are `Sync`, and is never
// changed after it is made.
unsafe impl<H: Host, const N: usize> Sync for Groups<H, N> {}

impl<H: Host, const N: usize> Groups<H, N> {
    /// Makes the list of `groups`.
    pub const fn new(groups: [&'static Group<H>; N]) -> Self {
        let mut raw = [ptr::null(); N];
        let mut i = 0;
        while i < N {
            raw[i] = groups[i].inner.get().cast_const();
            i += 1;
        }
        // INVARIANT: The groups are `'static` `Group<H>`s.
        Self {
            groups: raw,
            end: ptr::null(),
            _host: PhantomData,
        }
    }

    /// The null-terminated array for the driver core, which only reads it.
    ///
    /// Only an API of `H` may install it, on a device of `H`: see [`Host`].
    pub(crate) const fn as_raw(&'static self) -> *mut *const bindings::attribute_group {
        // `groups` and `end` are one array from the start (`repr(C)`).
        ptr::from_ref(self).cast_mut().cast()
    }

    /// The same groups without their number, for a constant of a driver
    /// trait.
    pub const fn list(&'static self) -> GroupList<H> {
        // INVARIANT: `self` is a `'static` `Groups<H, N>`.
        GroupList {
            raw: self.as_raw(),
            _host: PhantomData,
        }
    }
}

/// The attribute groups of devices of kind `H`, whatever their number: a
/// [`Groups<H, N>`] without its `N`. Made by [`Groups::list`], for a
/// constant of a driver trait such as
/// [`platform::Driver::DEV_GROUPS`](crate::platform::Driver::DEV_GROUPS).
///
/// # Invariants
///
/// `raw` is the null-terminated array of a `'static` [`Groups<H, N>`].
pub struct GroupList<H: ?Sized> {
    raw: *mut *const bindings::attribute_group,
    _host: PhantomData<H>,
}

impl<H: ?Sized> Clone for GroupList<H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H: ?Sized> Copy for GroupList<H> {}

impl<H: ?Sized> GroupList<H> {
    /// The null-terminated array for the driver core, which only reads it.
    ///
    /// Only an API of `H` may install it, on a device of `H`: see [`Host`].
    pub(crate) fn as_raw(self) -> *mut *const bindings::attribute_group {
        self.raw
    }
}

/// Declares the attribute groups of a kind of device, as a static
/// [`Groups`].
///
/// Each group has an optional `name` (its subdirectory), the type `ops`
/// that implements [`AttributeOperations<ID>`] for its attributes, and the
/// attributes as `file_name: ID`. See the [module documentation](self) for
/// an example.
#[macro_export]
macro_rules! sysfs_groups {
    (
        $vis:vis static $groups:ident: $host:ty = [
            $({
                $(name: $name:literal,)?
                ops: $ops:ty,
                attributes: [$($attr:ident: $id:literal),* $(,)?] $(,)?
            }),* $(,)?
        ];
    ) => {
        $vis static $groups: $crate::sysfs::Groups<
            $host,
            { [$($crate::sysfs_groups!(@unit $ops)),*].len() },
        > = $crate::sysfs::Groups::new([$({
            $crate::macros::paste! {
                $(
                    // SAFETY: The attribute is a static.
                    static [<ATTR_ $attr:upper>]: $crate::sysfs::Attribute<$host> = unsafe {
                        $crate::sysfs::Attribute::new_static::<$id, $ops>(
                            $crate::c_str!(::core::stringify!($attr)),
                        )
                    };
                )*
                static LIST__: $crate::sysfs::AttributeList<
                    $host,
                    { [$($crate::sysfs_groups!(@unit $attr)),*].len() },
                > = $crate::sysfs::AttributeList::new([$(&[<ATTR_ $attr:upper>]),*]);
            }
            static GROUP__: $crate::sysfs::Group<$host> = $crate::sysfs::Group::new(
                $crate::sysfs_groups!(@name $($name)?),
                &LIST__,
            );
            &GROUP__
        }),*]);
    };
    (@unit $x:tt) => { () };
    (@name) => { ::core::option::Option::None };
    (@name $name:literal) => {
        ::core::option::Option::Some($crate::c_str!($name))
    };
}

/// What the KUnit tests of the hosts use to look at the attributes of a
/// device as sysfs does.
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) mod kunit_util {
    use super::*;
    use crate::page::PAGE_SIZE;

    /// The mode of the sysfs file `path` (names from the directory of
    /// `dev`), if there is one.
    ///
    /// # Safety
    ///
    /// `dev` is a registered device.
    #[cfg(CONFIG_SYSFS)]
    pub(crate) unsafe fn file_mode(dev: *mut bindings::device, path: &[&CStr]) -> Option<u16> {
        // SAFETY: The device is registered, so it has a sysfs directory.
        let mut node = unsafe { (*dev).kobj.sd };
        // SAFETY: `node` is a valid directory; it is only used for the lookup.
        unsafe { bindings::kernfs_get(node) };
        for name in path {
            // SAFETY: `node` is valid and we hold a reference on it.
            let next =
                unsafe { bindings::kernfs_find_and_get_ns(node, name.as_char_ptr(), ptr::null()) };
            // SAFETY: We took this reference above or in the last iteration.
            unsafe { bindings::kernfs_put(node) };
            if next.is_null() {
                return None;
            }
            node = next;
        }
        // SAFETY: `node` is valid: we hold a reference to it, from
        // `kernfs_get()` above if `path` is empty and from the last
        // `kernfs_find_and_get_ns()` otherwise, which we then drop.
        let mode = unsafe { (*node).mode } & 0o777;
        // SAFETY: As above.
        unsafe { bindings::kernfs_put(node) };
        Some(mode)
    }

    /// The device attribute `attr` of group `group` of `groups`.
    ///
    /// # Safety
    ///
    /// The group has more than `attr` attributes.
    pub(crate) unsafe fn attribute<H: Host, const N: usize>(
        groups: &'static Groups<H, N>,
        group: usize,
        attr: usize,
    ) -> *mut bindings::device_attribute {
        assert!(group < N);
        // SAFETY: `group` is one of the `N` groups, which are `Group<H>`s.
        let group = unsafe { *groups.as_raw().add(group) };
        // SAFETY: The list of a `Group<H>` holds its attributes, which are
        // device attributes, and has more than `attr` by the safety
        // requirements of this function.
        unsafe { (*(*group).__bindgen_anon_2.attrs.add(attr)).cast() }
    }

    /// Reads `attr` of `dev` as sysfs does.
    ///
    /// # Safety
    ///
    /// `attr` is an attribute of groups installed on `dev`.
    pub(crate) unsafe fn show(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
    ) -> Result<KVec<u8>> {
        let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        // SAFETY: `attr` is an attribute of the groups of `dev`, which are
        // installed; `page` is a buffer of `PAGE_SIZE` bytes.
        let len = unsafe {
            ((*attr).__bindgen_anon_1.show.ok_or(EINVAL)?)(dev, attr, page.as_mut_ptr().cast())
        };
        page.truncate(usize::try_from(len).map_err(|_| Error::from_errno(len as i32))?);
        Ok(page)
    }

    /// Writes `text` to `attr` of `dev` as sysfs does.
    ///
    /// # Safety
    ///
    /// `attr` is an attribute of groups installed on `dev`.
    pub(crate) unsafe fn store(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        text: &[u8],
    ) -> Result {
        // SAFETY: As in `show`, with `text.len()` bytes at `text`.
        let ret = unsafe {
            ((*attr).__bindgen_anon_2.store.ok_or(EINVAL)?)(
                dev,
                attr,
                text.as_ptr().cast(),
                text.len(),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        assert_eq!(ret, text.len() as isize);
        Ok(())
    }
}

#[macros::kunit_tests(rust_sysfs)]
mod tests {
    use super::*;

    fn shown<V: Value>(value: V) -> Result<KVec<u8>> {
        let mut page = [0u8; 32];
        let len = format(&value, &mut page)?;
        let mut text = KVec::new();
        text.extend_from_slice(&page[..len], GFP_KERNEL)?;
        Ok(text)
    }

    #[test]
    fn integers_show_in_decimal_with_a_newline() -> Result {
        assert_eq!(&shown(0u8)?[..], b"0\n");
        assert_eq!(&shown(u64::MAX)?[..], b"18446744073709551615\n");
        assert_eq!(&shown(-42i32)?[..], b"-42\n");
        assert_eq!(&shown(true)?[..], b"1\n");
        assert_eq!(&shown(false)?[..], b"0\n");
        assert_eq!(
            &shown(CString::try_from_fmt(fmt!("rnullb0"))?)?[..],
            b"rnullb0\n"
        );
        Ok(())
    }

    #[test]
    fn a_value_too_long_for_the_page_is_an_error() {
        let mut page = [0u8; 4];
        assert_eq!(format(&1234u32, &mut page), Err(EFBIG));
        assert_eq!(format(&123u32, &mut page), Ok(4));
        assert_eq!(&page, b"123\n");
    }

    #[test]
    fn integers_parse_with_or_without_a_newline() {
        assert_eq!(parse::<u32>(b"42\n"), Ok(42));
        assert_eq!(parse::<u32>(b"42"), Ok(42));
        assert_eq!(parse::<u32>(b"0x2a\n"), Ok(42));
        assert_eq!(parse::<i64>(b"-7\n"), Ok(-7));
        assert_eq!(parse::<u8>(b"255"), Ok(255));
    }

    #[test]
    fn bad_integers_are_einval() {
        // Out of range, wrong type, empty, two newlines, spaces, trailing
        // garbage.
        for text in [
            &b"256"[..],
            b"-1",
            b"abc",
            b"",
            b"\n",
            b"4\n\n",
            b" 4",
            b"4 ",
            b"4x",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse::<u8>(text), Err(EINVAL));
        }
        assert_eq!(parse::<i8>(b"-129"), Err(EINVAL));
    }

    #[test]
    fn booleans_parse_as_kstrtobool() {
        for text in [&b"1"[..], b"y\n", b"Y", b"on\n", b"true"] {
            assert_eq!(parse::<bool>(text), Ok(true));
        }
        for text in [&b"0"[..], b"n\n", b"off", b"false\n"] {
            assert_eq!(parse::<bool>(text), Ok(false));
        }
        for text in [&b""[..], b"\n", b"2", b"maybe"] {
            assert_eq!(parse::<bool>(text), Err(EINVAL));
        }
    }

    #[test]
    fn integers_take_the_prefixes_of_parse_int() {
        assert_eq!(parse::<u32>(b"010"), Ok(8));
        assert_eq!(parse::<u32>(b"0b101"), Ok(5));
        assert_eq!(parse::<i32>(b"-0x10"), Ok(-16));
        assert_eq!(parse::<u32>(b"0x"), Err(EINVAL));
    }

    #[test]
    fn strings_are_stored_as_written() -> Result {
        assert_eq!(parse::<CString>(b"abc\n")?.to_bytes(), b"abc");
        assert_eq!(
            parse::<CString>(b"a\tb \xc3\xa9\n")?.to_bytes(),
            b"a\tb \xc3\xa9"
        );
        assert_eq!(&shown(parse::<CString>(b"a\tb")?)?[..], b"a\tb\n");
        // NUL, and text that is not UTF-8.
        assert_eq!(parse::<CString>(b"a\0c").err(), Some(EINVAL));
        assert_eq!(parse::<CString>(b"a\xffc").err(), Some(EINVAL));
        Ok(())
    }
}
