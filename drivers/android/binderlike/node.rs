// SPDX-License-Identifier: GPL-2.0

//! Nodes (the objects a process publishes) and the references other
//! processes hold to them, with C binder's reference counting: a node's
//! owner learns through `BR_INCREFS`/`BR_ACQUIRE` that others hold it, acks
//! with `BC_INCREFS_DONE`/`BC_ACQUIRE_DONE`, and learns through
//! `BR_RELEASE`/`BR_DECREFS` when they no longer do.

use crate::{
    defs::*,
    process::{
        Process,
        ProcessInner, //
    },
    queue::{
        Queue,
        Reserved, //
    },
    Out,
};
use core::mem::replace;
use kernel::{
    alloc::flags::GFP_KERNEL_ACCOUNT,
    prelude::*,
    sync::{
        Arc,
        LockedBy, //
    },
};

/// The reference counts of a node, under its owner's lock.
#[derive(Default)]
pub(crate) struct NodeState {
    /// References of other processes that are strong.
    internal_strong: i32,
    /// References of other processes.
    internal_weak: i32,
    /// References the driver holds: transactions' buffers, and the owner's
    /// acknowledgment still to come after `BR_ACQUIRE`/`BR_INCREFS`.
    local_strong: i32,
    local_weak: i32,
    /// Whether the owner was told it holds a strong/weak reference.
    has_strong: bool,
    has_weak: bool,
    /// `BR_INCREFS`/`BR_ACQUIRE` was read and its `_DONE` not yet written.
    pending_strong: bool,
    pending_weak: bool,
    /// Whether the node's reference work is queued.
    work_queued: bool,
    /// A oneway transaction to the node is being handled: the next ones
    /// wait in `async_todo`, each with the room reserved for it in the
    /// owner's work.
    pub(crate) async_busy: bool,
    pub(crate) async_todo: Queue<(Arc<crate::transaction::Transaction>, Reserved)>,
    /// The death notifications that the holders of references asked for.
    pub(crate) deaths: Queue<Death>,
}

/// A death notification that the holder of a reference to a node asked for.
pub(crate) struct Death {
    pub(crate) holder: Arc<Process>,
    pub(crate) cookie: u64,
    /// Room in the holder's work for the `BR_DEAD_BINDER`.
    pub(crate) room: Reserved,
}

/// A node: an object that a process published by sending it, or made the
/// context manager.
pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) ptr: u64,
    pub(crate) cookie: u64,
    /// Transactions to it may carry files (`FLAT_BINDER_FLAG_ACCEPTS_FDS`).
    pub(crate) accept_fds: bool,
    /// It asks for the sender's security context
    /// (`FLAT_BINDER_FLAG_TXN_SECURITY_CTX`), which binderlike has not.
    pub(crate) secctx: bool,
    /// The context manager's node, to which every process's handle 0 refers.
    pub(crate) manager: bool,
    pub(crate) owner: Arc<Process>,
    pub(crate) state: LockedBy<NodeState, ProcessInner>,
}

/// What a change of a node's counts needs from its owner.
#[must_use]
pub(crate) enum Need {
    Nothing,
    /// The owner has reference work to read.
    Work,
}

impl Need {
    /// What `self` and `other` need.
    pub(crate) fn or(self, other: Need) -> Need {
        match (self, other) {
            (Need::Nothing, Need::Nothing) => Need::Nothing,
            _ => Need::Work,
        }
    }
}

impl Node {
    pub(crate) fn new(
        owner: &Arc<Process>,
        id: u64,
        ptr: u64,
        cookie: u64,
        flags: u32,
        manager: bool,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                id,
                ptr,
                cookie,
                accept_fds: flags & FLAT_BINDER_FLAG_ACCEPTS_FDS != 0,
                secctx: flags & FLAT_BINDER_FLAG_TXN_SECURITY_CTX != 0,
                manager,
                owner: owner.clone(),
                state: LockedBy::new(&owner.inner, NodeState::default()),
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }

    /// Counts a reference: `internal` for a reference of another process,
    /// else one the driver holds.
    pub(crate) fn inc(&self, inner: &mut ProcessInner, strong: bool, internal: bool) -> Need {
        self.state.access_mut(inner).inc(strong, internal)
    }

    /// Drops a reference counted with [`Node::inc`].
    pub(crate) fn dec(&self, inner: &mut ProcessInner, strong: bool, internal: bool) -> Need {
        self.state.access_mut(inner).dec(strong, internal)
    }

    /// Writes the reference returns the owner needs (see [`NodeState::work`]).
    /// Returns whether the node has no reference left (the owner forgets it).
    pub(crate) fn do_work(&self, inner: &mut ProcessInner, out: &mut Out) -> bool {
        self.state
            .access_mut(inner)
            .work(self.ptr, self.cookie, out)
    }

    /// Takes the owner's `BC_INCREFS_DONE`/`BC_ACQUIRE_DONE` (see
    /// [`NodeState::done`]).
    pub(crate) fn done(&self, inner: &mut ProcessInner, strong: bool) -> Option<Need> {
        self.state.access_mut(inner).done(strong)
    }

    /// Makes the node the context manager's, which the owner holds from the
    /// start, as C does.
    pub(crate) fn hold_as_manager(&self, inner: &mut ProcessInner) {
        let s = self.state.access_mut(inner);
        s.local_strong += 1;
        s.local_weak += 1;
        s.has_strong = true;
        s.has_weak = true;
    }

    /// `(strong, weak)` counts for `BINDER_GET_NODE_INFO_FOR_REF`.
    pub(crate) fn info(&self, inner: &ProcessInner) -> (u32, u32) {
        let s = self.state.access(inner);
        (
            (s.local_strong + s.internal_strong).max(0) as u32,
            s.local_weak.max(0) as u32,
        )
    }

    /// Whether the owner was told it holds a strong and a weak reference.
    pub(crate) fn told(&self, inner: &ProcessInner) -> (bool, bool) {
        let s = self.state.access(inner);
        (s.has_strong, s.has_weak)
    }

    /// The node's state, under its owner's lock.
    pub(crate) fn state_mut<'a>(&'a self, inner: &'a mut ProcessInner) -> &'a mut NodeState {
        self.state.access_mut(inner)
    }
}

impl NodeState {
    /// Whether the node is held strongly, and at all.
    fn counts(&self) -> (bool, bool) {
        let strong = self.internal_strong > 0 || self.local_strong > 0;
        let weak = strong || self.internal_weak > 0 || self.local_weak > 0;
        (strong, weak)
    }

    /// Counts a reference: `internal` for a reference of another process,
    /// else one the driver holds. The owner needs work if it was not told
    /// it holds such a reference.
    pub(crate) fn inc(&mut self, strong: bool, internal: bool) -> Need {
        match (strong, internal) {
            (true, true) => self.internal_strong += 1,
            (true, false) => self.local_strong += 1,
            (false, true) => self.internal_weak += 1,
            (false, false) => self.local_weak += 1,
        }
        let told = if strong {
            self.has_strong
        } else {
            self.has_weak
        };
        self.queue(!told)
    }

    /// Drops a reference counted with [`NodeState::inc`]. The owner needs
    /// work if it holds a reference of a kind nothing holds any more.
    pub(crate) fn dec(&mut self, strong: bool, internal: bool) -> Need {
        match (strong, internal) {
            (true, true) => self.internal_strong -= 1,
            (true, false) => self.local_strong -= 1,
            (false, true) => self.internal_weak -= 1,
            (false, false) => self.local_weak -= 1,
        }
        let (strong_now, weak_now) = self.counts();
        self.queue((!strong_now && self.has_strong) || (!weak_now && self.has_weak))
    }

    fn queue(&mut self, changed: bool) -> Need {
        if changed && !self.work_queued {
            self.work_queued = true;
            Need::Work
        } else {
            Need::Nothing
        }
    }

    /// Writes the reference returns the owner needs, as C binder's node work
    /// does: `BR_INCREFS`, `BR_ACQUIRE`, `BR_RELEASE`, `BR_DECREFS`, each
    /// with the node's pointer and cookie. The driver holds the references
    /// it tells of until the owner's `_DONE`. Returns whether the node has
    /// no reference left.
    pub(crate) fn work(&mut self, ptr: u64, cookie: u64, out: &mut Out) -> bool {
        self.work_queued = false;
        let (strong, weak) = self.counts();
        let pc = PtrCookie { ptr, cookie };
        if weak && !self.has_weak {
            self.has_weak = true;
            self.pending_weak = true;
            self.local_weak += 1;
            out.put(BR_INCREFS, &pc);
        }
        if strong && !self.has_strong {
            self.has_strong = true;
            self.pending_strong = true;
            self.local_strong += 1;
            out.put(BR_ACQUIRE, &pc);
        }
        if !strong && self.has_strong {
            self.has_strong = false;
            out.put(BR_RELEASE, &pc);
        }
        if !weak && self.has_weak {
            self.has_weak = false;
            out.put(BR_DECREFS, &pc);
        }
        !weak && !self.has_weak
    }

    /// Takes the owner's `BC_INCREFS_DONE`/`BC_ACQUIRE_DONE`: drops the
    /// reference the driver held for it. `None` if none was due.
    pub(crate) fn done(&mut self, strong: bool) -> Option<Need> {
        let pending = if strong {
            &mut self.pending_strong
        } else {
            &mut self.pending_weak
        };
        replace(pending, false).then(|| self.dec(strong, false))
    }
}

/// A reference a process holds to a node: a handle.
pub(crate) struct Ref {
    pub(crate) node: Arc<Node>,
    pub(crate) strong: u32,
    pub(crate) weak: u32,
    /// The cookie of the death notification asked for on this reference.
    pub(crate) death: Option<u64>,
}

#[kunit_tests(binderlike_node)]
mod tests {
    use super::*;

    /// The returns in `out`, without their payloads.
    fn cmds(out: &Out) -> KVec<u32> {
        let mut cmds = KVec::new();
        let mut at = 0;
        let bytes = out.bytes();
        while at + 4 <= bytes.len() {
            let mut raw = [0u8; 4];
            raw.copy_from_slice(&bytes[at..at + 4]);
            let cmd = u32::from_ne_bytes(raw);
            let _ = cmds.push(cmd, GFP_KERNEL);
            at += 4 + kernel::ioctl::_IOC_SIZE(cmd);
        }
        cmds
    }

    fn work(s: &mut NodeState) -> (KVec<u32>, bool) {
        let mut out = Out::new(512);
        let gone = s.work(0x1000, 0x2000, &mut out);
        (cmds(&out), gone)
    }

    #[test]
    fn strong_reference_handshake_as_c() {
        let mut s = NodeState::default();
        // A handle with a strong reference is made: one work item.
        assert!(matches!(s.inc(false, true), Need::Work));
        assert!(matches!(s.inc(true, true), Need::Nothing));
        let (c, gone) = work(&mut s);
        assert_eq!(&c[..], &[BR_INCREFS, BR_ACQUIRE]);
        assert!(!gone);
        // The owner acks both; nothing more to say while held.
        assert!(matches!(s.done(false), Some(Need::Nothing)));
        assert!(matches!(s.done(true), Some(Need::Nothing)));
        // A second _DONE is refused.
        assert!(s.done(true).is_none());
        // The strong reference goes, then the handle.
        assert!(matches!(s.dec(true, true), Need::Work));
        assert_eq!(&work(&mut s).0[..], &[BR_RELEASE]);
        assert!(matches!(s.dec(false, true), Need::Work));
        let (c, gone) = work(&mut s);
        assert_eq!(&c[..], &[BR_DECREFS]);
        assert!(gone);
    }

    #[test]
    fn release_waits_for_the_acks() {
        let mut s = NodeState::default();
        let _ = s.inc(false, true);
        let _ = s.inc(true, true);
        let _ = work(&mut s);
        // Dropped before the owner acked: the driver still holds the
        // references it told of, so nothing is released yet.
        assert!(matches!(s.dec(true, true), Need::Nothing));
        assert!(matches!(s.dec(false, true), Need::Nothing));
        // The acks drop them: BR_RELEASE and BR_DECREFS follow.
        let _ = s.done(false);
        assert!(matches!(s.done(true), Some(Need::Work)));
        let (c, gone) = work(&mut s);
        assert_eq!(&c[..], &[BR_RELEASE, BR_DECREFS]);
        assert!(gone);
    }

    #[test]
    fn weak_only_is_increfs_only() {
        let mut s = NodeState::default();
        assert!(matches!(s.inc(false, true), Need::Work));
        assert_eq!(&work(&mut s).0[..], &[BR_INCREFS]);
        // One work item at a time.
        let _ = s.inc(false, false);
        assert!(matches!(s.inc(false, false), Need::Nothing));
    }
}
