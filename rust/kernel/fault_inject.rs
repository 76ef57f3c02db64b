// SPDX-License-Identifier: GPL-2.0

//! Fault injection: points where a driver fails on purpose, to test the
//! error handling of the code above it.
//!
//! C header: [`include/linux/fault-inject.h`](srctree/include/linux/fault-inject.h)
//!
//! See the [fault injection documentation] for the meaning of the
//! configuration.
//!
//! [fault injection documentation]: srctree/Documentation/fault-injection/fault-injection.rst

use crate::{
    bindings,
    prelude::*,
    types::Opaque, //
};
#[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
use crate::{
    configfs,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

/// A fault injection point (C `struct fault_attr`).
///
/// A point is configured with a string `"<interval>,<probability>,<space>,<times>"`,
/// the format of the kernel's `fail*=` boot parameters and of the fault
/// injection module parameters of drivers such as null_blk:
///
/// - `interval`: only every `interval`-th call that gets that far may fail
///   (0 or 1: any call);
/// - `probability`: the chance, in percent, that such a call fails;
/// - `space`: the size (the `size` of [`FaultAttr::should_fail`]) that
///   passes before calls start to fail;
/// - `times`: how many calls fail at most, `-1` for no limit.
///
/// A point does not log its failures. Any number of CPUs may ask the same
/// point at once, in any context.
///
/// # Invariants
///
/// `attr` holds a `struct fault_attr` initialized as
/// `FAULT_ATTR_INITIALIZER` does and configured by `setup_fault_attr()`,
/// with `verbose` 0.
///
/// # Examples
///
/// ```
/// use kernel::fault_inject::FaultAttr;
///
/// # if !cfg!(CONFIG_FAULT_INJECTION) { return Ok(()); }
/// // Any call fails, twice.
/// let point = KBox::pin_init(FaultAttr::new(c"1,100,0,2"), GFP_KERNEL)?;
/// assert!(point.should_fail(1));
/// assert!(point.should_fail(1));
/// assert!(!point.should_fail(1));
///
/// assert_eq!(
///     KBox::pin_init(FaultAttr::new(c"1,100"), GFP_KERNEL).err(),
///     Some(EINVAL)
/// );
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct FaultAttr {
    #[pin]
    attr: Opaque<bindings::fault_attr>,
}

impl FaultAttr {
    /// Returns an initializer for a point configured by `spec`
    /// (`"<interval>,<probability>,<space>,<times>"`, see [`FaultAttr`]).
    ///
    /// Fails with [`EINVAL`] if `spec` does not have the four numbers, and
    /// with [`EOPNOTSUPP`] if the kernel is built without
    /// `CONFIG_FAULT_INJECTION`.
    pub fn new(spec: &CStr) -> impl PinInit<Self, Error> + '_ {
        try_pin_init!(Self {
            // INVARIANT: `configure()` initializes `attr` as
            // `FAULT_ATTR_INITIALIZER` does, configures it by `spec` and sets
            // `verbose` to 0, or fails and the point is not made.
            attr <- Opaque::try_ffi_init(|attr| {
                // SAFETY: `attr` is the memory of the new point, ours alone.
                unsafe { configure(attr, spec) }
            }),
        })
    }

    /// Returns whether the caller should fail now, with `size` the size of
    /// what it does, counted against the `space` of the configuration.
    ///
    /// Also fails when the current task asked for its n-th call to any
    /// point to fail (`/proc/<pid>/fail-nth`).
    #[inline]
    pub fn should_fail(&self, size: usize) -> bool {
        let size = isize::try_from(size).unwrap_or(isize::MAX);
        // SAFETY: By the type invariants `self.attr` is an initialized
        // `struct fault_attr`. `should_fail()` may run on it on any number
        // of CPUs at once (see the `Sync` implementation).
        unsafe { should_fail(self.attr.get(), size) }
    }
}

/// A fault injection point that user space configures in configfs (C
/// `struct fault_config`).
///
/// The point is a configfs group, made a default group of a
/// [`configfs::Group`] with [`configfs::DefaultGroups::add`]. Its
/// attributes `probability`, `interval`, `times`, `space`, `verbose` and
/// the others of the [fault injection documentation] change the point at
/// any time, also while it is asked.
///
/// # Invariants
///
/// `config` holds a `struct fault_config` whose `attr` is initialized as
/// `FAULT_ATTR_INITIALIZER` does, and maybe configured by
/// `setup_fault_attr()`, and whose `group` was initialized by
/// `fault_config_init()` and holds the one reference that initialization
/// took. `claimed` is `true` once `group` is a default group.
///
/// # Examples
///
/// ```
/// use kernel::{
///     configfs::DefaultGroup,
///     fault_inject::FaultConfig, //
/// };
///
/// # if !cfg!(CONFIG_FAULT_INJECTION_CONFIGFS) { return Ok(()); }
/// // As a module parameter would configure it: every call fails, once.
/// let point = FaultConfig::new(c"fail_inject", Some(c"1,100,0,1"));
/// let point = KBox::pin_init(point, GFP_KERNEL)?;
/// assert!(point.should_fail(1));
/// assert!(!point.should_fail(1));
///
/// // Without: no call fails until user space sets a probability.
/// let point = KBox::pin_init(FaultConfig::new(c"fail_inject", None), GFP_KERNEL)?;
/// assert!(!point.should_fail(1));
///
/// // A group can be the default group of one group only.
/// assert!(point.claim());
/// assert!(!point.claim());
/// # Ok::<(), Error>(())
/// ```
///
/// [fault injection documentation]: srctree/Documentation/fault-injection/fault-injection.rst
#[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
#[pin_data(PinnedDrop)]
pub struct FaultConfig {
    #[pin]
    config: Opaque<bindings::fault_config>,
    claimed: Atomic<bool>,
}

#[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
impl FaultConfig {
    /// Returns an initializer for a point whose group is named `name`.
    ///
    /// With `spec` (see [`FaultAttr`]) the point is configured as a
    /// [`FaultAttr`] is, and does not log its failures. Without, it is
    /// `FAULT_ATTR_INITIALIZER`'s: calls do not fail until user space sets
    /// a probability, and failures are logged with a stack trace. Fails with
    /// [`EINVAL`] if `spec` does not have the four numbers.
    pub fn new<'a>(name: &'a CStr, spec: Option<&'a CStr>) -> impl PinInit<Self, Error> + 'a {
        try_pin_init!(Self {
            // INVARIANT: The closure initializes `attr` as
            // `FAULT_ATTR_INITIALIZER` does, configured by `spec` if given,
            // and `group` with `fault_config_init()`, whose reference the
            // point keeps; or it fails and the point is not made. `claimed`
            // starts `false`: the group is no default group yet.
            config <- Opaque::try_ffi_init(move |config: *mut bindings::fault_config| {
                // Zeroed, as C allocates it: `config_item_set_name()` frees
                // a name it finds.
                // SAFETY: `config` is the memory of the new point, valid
                // for writes and ours alone.
                unsafe { config.write_bytes(0, 1) };
                // SAFETY: As above, so its field `attr` is too.
                let attr = unsafe { &raw mut (*config).attr };
                match spec {
                    // SAFETY: As above.
                    Some(spec) => unsafe { configure(attr, spec) }?,
                    // SAFETY: As above.
                    None => unsafe { bindings::fault_attr_init(attr) },
                }
                // SAFETY: `config` is valid for writes, zeroed but for
                // `attr`, and ours alone; `name` is a NUL-terminated string
                // that `config_item_set_name()` copies.
                unsafe { bindings::fault_config_init(config, name.as_char_ptr()) };
                Ok::<(), Error>(())
            }),
            claimed: Atomic::new(false),
        })
    }

    /// As [`FaultAttr::should_fail`].
    #[inline]
    pub fn should_fail(&self, size: usize) -> bool {
        let size = isize::try_from(size).unwrap_or(isize::MAX);
        // SAFETY: By the type invariants `attr` is an initialized `struct
        // fault_attr`. `should_fail()` may run on it on any number of CPUs
        // at once, and while configfs changes it, as in C.
        unsafe { should_fail(&raw mut (*self.config.get()).attr, size) }
    }
}

// SAFETY: `config_group()` is the `group` that `FaultConfig::new()`
// initialized with `fault_config_init()`, in the pinned `self`. `claimed`
// becomes `true` once, and this module links `group` nowhere else.
#[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
unsafe impl configfs::DefaultGroup for FaultConfig {
    fn config_group(&self) -> *mut bindings::config_group {
        // SAFETY: By the type invariants `config` is initialized; this is a
        // projection within it.
        unsafe { &raw mut (*self.config.get()).group }
    }

    fn claim(&self) -> bool {
        self.claimed.cmpxchg(false, true, Relaxed).is_ok()
    }
}

#[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
#[pinned_drop]
impl PinnedDrop for FaultConfig {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants `group` holds the reference of its
        // initialization. If the group became a default group, configfs
        // unlinked it when it removed the parent, whose data outlives it
        // (`configfs::DefaultGroups`), and so dropped the references it
        // took. Dropping the last one frees the name of the group if it did
        // not fit into the item; `fault_config_type` has no `release`.
        unsafe { bindings::config_item_put(&raw mut (*self.config.get()).group.cg_item) };
    }
}

// SAFETY: As for `FaultAttr`: a `struct fault_config` is not tied to the
// thread that made it, and its drop may run anywhere.
#[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
unsafe impl Send for FaultConfig {}

// SAFETY: `&FaultConfig` allows `should_fail()`, as `&FaultAttr`, and
// `claim()`, which is atomic.
#[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
unsafe impl Sync for FaultConfig {}

#[cfg(CONFIG_FAULT_INJECTION)]
use bindings::should_fail;

/// Without fault injection no point can be made, so this is not called.
///
/// # Safety
///
/// As for C's `should_fail()`, which this stands in for: `attr` must point
/// to an initialized `struct fault_attr`.
#[cfg(not(CONFIG_FAULT_INJECTION))]
unsafe fn should_fail(_attr: *mut bindings::fault_attr, _size: isize) -> bool {
    false
}

/// Initializes `attr` and configures it by `spec`.
///
/// # Safety
///
/// `attr` must be valid for writes of a `struct fault_attr` and not be
/// reachable by anyone else.
#[cfg(CONFIG_FAULT_INJECTION)]
unsafe fn configure(attr: *mut bindings::fault_attr, spec: &CStr) -> Result {
    // SAFETY: By the safety requirements of this function, `attr` is valid
    // for writes.
    unsafe { bindings::fault_attr_init(attr) };
    // SAFETY: `attr` is initialized and ours alone. `spec` is a valid
    // NUL-terminated string, which `setup_fault_attr()` only reads (with
    // `sscanf()`), although its parameter is not `const`.
    if unsafe { bindings::setup_fault_attr(attr, spec.as_char_ptr().cast_mut()) } == 0 {
        return Err(EINVAL);
    }
    // SAFETY: As above, `attr` is initialized and ours alone.
    unsafe { (*attr).verbose = 0 };
    Ok(())
}

/// Without fault injection no point can be made.
///
/// # Safety
///
/// As for `configure()` with fault injection, which this stands in for:
/// `attr` must be valid for writes of a `struct fault_attr` and not be
/// reachable by anyone else.
#[cfg(not(CONFIG_FAULT_INJECTION))]
unsafe fn configure(_attr: *mut bindings::fault_attr, _spec: &CStr) -> Result {
    Err(EOPNOTSUPP)
}

// SAFETY: A `struct fault_attr` is not tied to the thread that made it, and
// it needs no cleanup.
unsafe impl Send for FaultAttr {}

// SAFETY: `&FaultAttr` only allows `should_fail()`, which C calls on the same
// `struct fault_attr` from any number of CPUs at once: it changes `times`
// and `space` atomically and only its statistic `count` without a lock,
// whose lost updates shift the `interval` but break nothing.
unsafe impl Sync for FaultAttr {}

#[cfg(CONFIG_FAULT_INJECTION)]
#[macros::kunit_tests(rust_fault_inject)]
mod tests {
    use super::*;

    fn point(spec: &CStr) -> Result<Pin<KBox<FaultAttr>>> {
        KBox::pin_init(FaultAttr::new(spec), GFP_KERNEL)
    }

    /// A point of either kind.
    trait Point {
        fn should_fail(&self, size: usize) -> bool;
    }

    impl Point for FaultAttr {
        fn should_fail(&self, size: usize) -> bool {
            FaultAttr::should_fail(self, size)
        }
    }

    #[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
    impl Point for FaultConfig {
        fn should_fail(&self, size: usize) -> bool {
            FaultConfig::should_fail(self, size)
        }
    }

    /// The outcome of `calls` calls with size 1, a bit per call.
    fn fails(point: &impl Point, calls: u32) -> u32 {
        (0..calls).fold(0, |bits, call| {
            bits | u32::from(point.should_fail(1)) << call
        })
    }

    #[test]
    fn times_limits_the_failures() -> Result {
        assert_eq!(fails(&*point(c"1,100,0,3")?, 8), 0b111);
        assert_eq!(fails(&*point(c"1,100,0,-1")?, 8), 0xff);
        Ok(())
    }

    #[test]
    fn interval_fails_every_nth_call() -> Result {
        assert_eq!(fails(&*point(c"3,100,0,-1")?, 9), 0b100_100_100);
        // At most twice.
        assert_eq!(fails(&*point(c"2,100,0,2")?, 8), 0b1010);
        Ok(())
    }

    #[test]
    fn space_passes_first() -> Result {
        // Calls pass while more than their size is left of the space.
        assert_eq!(fails(&*point(c"1,100,3,-1")?, 6), 0b111_100);
        let point = point(c"1,100,4096,-1")?;
        assert!(!point.should_fail(4000));
        assert!(point.should_fail(4000));
        Ok(())
    }

    #[test]
    fn probability_zero_never_fails() -> Result {
        assert_eq!(fails(&*point(c"1,0,0,-1")?, 16), 0);
        Ok(())
    }

    #[test]
    fn incomplete_specs_are_refused() {
        for spec in [c"", c"1", c"1,100,0", c"one,100,0,1", c",,,"] {
            assert_eq!(point(spec).err(), Some(EINVAL));
        }
    }

    #[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
    fn config(name: &CStr, spec: Option<&CStr>) -> Result<Pin<KBox<FaultConfig>>> {
        KBox::pin_init(FaultConfig::new(name, spec), GFP_KERNEL)
    }

    #[cfg(CONFIG_FAULT_INJECTION_CONFIGFS)]
    #[test]
    fn configfs_points_take_a_spec() -> Result {
        let point = config(c"timeout_inject", Some(c"2,100,0,2"))?;
        assert_eq!(fails(&*point, 8), 0b1010);
        assert_eq!(
            config(c"timeout_inject", Some(c"1,100")).err(),
            Some(EINVAL)
        );
        // A name longer than an item's inline one, which the drop frees.
        let point = config(c"init_hctx_fault_inject", None)?;
        assert_eq!(fails(&*point, 8), 0);
        Ok(())
    }
}
