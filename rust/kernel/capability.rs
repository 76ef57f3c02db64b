// SPDX-License-Identifier: GPL-2.0

//! Capabilities of the current task.
//!
//! C header: [`include/linux/capability.h`](srctree/include/linux/capability.h)

use crate::bindings;

/// A capability that a driver may require of the task that calls it (C
/// `CAP_*`, see `capabilities(7)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// `CAP_SYS_ADMIN`: system administration, e.g. commands passed through
    /// to a device.
    SysAdmin,
    /// `CAP_SYS_RAWIO`: raw access to devices and I/O ports.
    SysRawio,
}

impl Capability {
    fn to_raw(self) -> crate::ffi::c_int {
        let cap = match self {
            Self::SysAdmin => bindings::CAP_SYS_ADMIN,
            Self::SysRawio => bindings::CAP_SYS_RAWIO,
        };
        cap as crate::ffi::c_int
    }
}

/// Returns whether the current task has `cap` in its effective set, in the
/// initial user namespace (C `capable()`).
///
/// As in C, a successful check is recorded (the task is marked as having
/// used its privilege, and LSMs may audit it): call it when the privilege is
/// needed, not to find out about it.
///
/// # Examples
///
/// ```
/// use kernel::capability::{capable, Capability};
///
/// /// Refuses commands that reach past the driver's checks to unprivileged
/// /// callers.
/// fn check_passthrough() -> Result {
///     if !capable(Capability::SysAdmin) {
///         return Err(EPERM);
///     }
///     Ok(())
/// }
///
/// // Doctests run in a kernel thread, which has every capability.
/// assert_eq!(check_passthrough(), Ok(()));
/// assert!(capable(Capability::SysRawio));
/// ```
pub fn capable(cap: Capability) -> bool {
    // SAFETY: `capable()` has no requirements: it checks the credentials of
    // the current task, which are valid in any context.
    unsafe { bindings::capable(cap.to_raw()) }
}
