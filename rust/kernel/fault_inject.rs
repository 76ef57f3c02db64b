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

#[cfg(CONFIG_FAULT_INJECTION)]
use bindings::should_fail;

/// Without fault injection no point can be made, so this is not called.
///
/// # Safety
///
/// None; the signature matches the one with fault injection.
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
/// None; the signature matches the one with fault injection.
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

    /// The outcome of `calls` calls with size 1, a bit per call.
    fn fails(point: &FaultAttr, calls: u32) -> u32 {
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
}
