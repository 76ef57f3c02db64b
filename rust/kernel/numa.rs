// SPDX-License-Identifier: GPL-2.0

//! NUMA nodes.
//!
//! C header: [`include/linux/nodemask.h`](srctree/include/linux/nodemask.h)

use crate::bindings;

/// Returns the number of NUMA nodes that are online (C
/// `num_online_nodes()`, the same count as the `nr_online_nodes` variable
/// C keeps): 1 without NUMA support, and never more than `MAX_NUMNODES`.
///
/// Nodes can come online and go offline later (memory hotplug), so the
/// value is a snapshot.
///
/// # Examples
///
/// ```
/// use kernel::numa::nr_online_nodes;
///
/// let nodes = nr_online_nodes();
/// assert!(nodes >= 1);
/// assert!(nodes <= kernel::bindings::MAX_NUMNODES);
/// ```
#[inline]
pub fn nr_online_nodes() -> u32 {
    // SAFETY: `num_online_nodes()` only reads the node state bitmap, which
    // is always valid.
    unsafe { bindings::num_online_nodes() }
}
