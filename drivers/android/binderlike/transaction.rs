// SPDX-License-Identifier: GPL-2.0

//! Transactions and replies on their way, and the work items a thread reads.

use crate::{node::Node, process::Process};
use kernel::{sync::Arc, task::Pid};

/// A thread of a process, as a transaction remembers it: the thread may
/// exit meanwhile, and its pid be reused; `serial` tells them apart.
#[derive(Clone)]
pub(crate) struct ThreadId {
    pub(crate) process: Arc<Process>,
    pub(crate) tid: Pid,
    pub(crate) serial: u64,
}

/// A transaction or reply, its data already in the receiver's buffer.
pub(crate) struct Transaction {
    /// The sending thread of a synchronous transaction, to which the reply
    /// goes; `None` for oneway transactions and replies.
    pub(crate) from: Option<ThreadId>,
    /// The transaction the sender was handling when it sent this one, so
    /// that a nested call back into a waiting process goes to the thread
    /// that waits.
    pub(crate) from_parent: Option<Arc<Transaction>>,
    /// The target node (`None` for a reply).
    pub(crate) node: Option<Arc<Node>>,
    pub(crate) code: u32,
    pub(crate) flags: u32,
    pub(crate) sender_pid: i32,
    pub(crate) sender_euid: kernel::task::Kuid,
    /// Where the data is in the receiver's buffer, and its sizes.
    pub(crate) offset: usize,
    pub(crate) data_size: u64,
    pub(crate) offsets_size: u64,
}

/// What a thread reads.
pub(crate) enum Work {
    /// `BR_TRANSACTION`.
    Transaction(Arc<Transaction>),
    /// `BR_REPLY`.
    Reply(Arc<Transaction>),
    /// `BR_TRANSACTION_COMPLETE`.
    Complete,
    /// `BR_DEAD_REPLY`, `BR_FAILED_REPLY`.
    Error(u32),
    /// The reference returns of a node, for its owner.
    Node(Arc<Node>),
    /// `BR_DEAD_BINDER` with the cookie.
    DeadBinder(u64),
    /// `BR_CLEAR_DEATH_NOTIFICATION_DONE` with the cookie.
    ClearDeathDone(u64),
}

/// An entry of a thread's transaction stack.
pub(crate) enum StackEntry {
    /// A synchronous transaction the thread is handling, to reply to.
    Incoming(Arc<Transaction>),
    /// A synchronous transaction the thread sent and awaits the reply of.
    Outgoing,
}
