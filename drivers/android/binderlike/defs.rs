// SPDX-License-Identifier: GPL-2.0

//! The binder UAPI that binderlike speaks, protocol version 8 (64-bit): its
//! commands and returns from `kernel::uapi`, and its structures as
//! zerocopy-derived types whose layout is checked against `kernel::uapi` at
//! compile time.

use core::mem::{
    offset_of,
    size_of, //
};
use kernel::{
    prelude::*,
    uapi, //
};
use zerocopy_derive::Immutable;

macro_rules! protocol {
    ($kind:ident: $($name:ident),* $(,)?) => {
        $(
            #[doc = concat!("`", stringify!($name), "`.")]
            pub(crate) const $name: u32 = kernel::macros::paste!(uapi::[<$kind _ $name>]);
        )*
    };
}

protocol!(binder_driver_command_protocol:
    BC_TRANSACTION, BC_REPLY, BC_FREE_BUFFER, BC_INCREFS, BC_ACQUIRE, BC_RELEASE,
    BC_DECREFS, BC_INCREFS_DONE, BC_ACQUIRE_DONE, BC_REGISTER_LOOPER, BC_ENTER_LOOPER,
    BC_EXIT_LOOPER, BC_REQUEST_DEATH_NOTIFICATION, BC_CLEAR_DEATH_NOTIFICATION,
    BC_DEAD_BINDER_DONE,
);

protocol!(binder_driver_return_protocol:
    BR_OK, BR_TRANSACTION, BR_REPLY, BR_DEAD_REPLY, BR_TRANSACTION_COMPLETE,
    BR_INCREFS, BR_ACQUIRE, BR_RELEASE, BR_DECREFS, BR_NOOP, BR_SPAWN_LOOPER,
    BR_DEAD_BINDER, BR_CLEAR_DEATH_NOTIFICATION_DONE, BR_FAILED_REPLY,
);

/// The protocol version binderlike speaks.
pub(crate) const PROTOCOL_VERSION: i32 = uapi::BINDER_CURRENT_PROTOCOL_VERSION as i32;

/// The ioctls.
pub(crate) const BINDER_WRITE_READ: u32 = uapi::BINDER_WRITE_READ;
pub(crate) const BINDER_SET_MAX_THREADS: u32 = uapi::BINDER_SET_MAX_THREADS;
pub(crate) const BINDER_SET_CONTEXT_MGR: u32 = uapi::BINDER_SET_CONTEXT_MGR;
pub(crate) const BINDER_SET_CONTEXT_MGR_EXT: u32 = uapi::BINDER_SET_CONTEXT_MGR_EXT;
pub(crate) const BINDER_THREAD_EXIT: u32 = uapi::BINDER_THREAD_EXIT;
pub(crate) const BINDER_VERSION: u32 = uapi::BINDER_VERSION;
pub(crate) const BINDER_GET_NODE_INFO_FOR_REF: u32 = uapi::BINDER_GET_NODE_INFO_FOR_REF;
pub(crate) const BINDER_ENABLE_ONEWAY_SPAM_DETECTION: u32 =
    uapi::BINDER_ENABLE_ONEWAY_SPAM_DETECTION;
pub(crate) const BINDER_GET_EXTENDED_ERROR: u32 = uapi::BINDER_GET_EXTENDED_ERROR;
pub(crate) const BINDER_GET_NODE_DEBUG_INFO: u32 = uapi::BINDER_GET_NODE_DEBUG_INFO;

/// Object types.
pub(crate) const BINDER_TYPE_BINDER: u32 = uapi::BINDER_TYPE_BINDER;
pub(crate) const BINDER_TYPE_WEAK_BINDER: u32 = uapi::BINDER_TYPE_WEAK_BINDER;
pub(crate) const BINDER_TYPE_HANDLE: u32 = uapi::BINDER_TYPE_HANDLE;
pub(crate) const BINDER_TYPE_WEAK_HANDLE: u32 = uapi::BINDER_TYPE_WEAK_HANDLE;
pub(crate) const BINDER_TYPE_FD: u32 = uapi::BINDER_TYPE_FD;

/// Transaction flags.
pub(crate) const TF_ONE_WAY: u32 = uapi::transaction_flags_TF_ONE_WAY;
pub(crate) const TF_ACCEPT_FDS: u32 = uapi::transaction_flags_TF_ACCEPT_FDS;
pub(crate) const TF_CLEAR_BUF: u32 = uapi::transaction_flags_TF_CLEAR_BUF;
/// The flags a transaction keeps on its way to the receiver.
pub(crate) const TF_PASSED: u32 = TF_ONE_WAY | TF_ACCEPT_FDS | TF_CLEAR_BUF;

/// Node flags: transactions to the node may carry files, and want the
/// sender's security context.
pub(crate) const FLAT_BINDER_FLAG_ACCEPTS_FDS: u32 =
    uapi::flat_binder_object_flags_FLAT_BINDER_FLAG_ACCEPTS_FDS;
pub(crate) const FLAT_BINDER_FLAG_TXN_SECURITY_CTX: u32 =
    uapi::flat_binder_object_flags_FLAT_BINDER_FLAG_TXN_SECURITY_CTX;

/// Checks at compile time that `$ours` has the size of `$uapi`, and each
/// named field its offset.
macro_rules! same_layout {
    ($ours:ty, $uapi:ty $(, $field:ident = $ufield:ident)*) => {
        const _: () = {
            assert!(size_of::<$ours>() == size_of::<$uapi>());
            $(assert!(offset_of!($ours, $field) == offset_of!($uapi, $ufield));)*
        };
    };
}

/// `struct binder_write_read`.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct WriteRead {
    pub(crate) write_size: u64,
    pub(crate) write_consumed: u64,
    pub(crate) write_buffer: u64,
    pub(crate) read_size: u64,
    pub(crate) read_consumed: u64,
    pub(crate) read_buffer: u64,
}
same_layout!(
    WriteRead,
    uapi::binder_write_read,
    write_size = write_size,
    write_consumed = write_consumed,
    write_buffer = write_buffer,
    read_size = read_size,
    read_consumed = read_consumed,
    read_buffer = read_buffer
);

/// `struct binder_transaction_data`: `target` is the handle (to the driver)
/// or the node's pointer (from it).
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct TransactionData {
    pub(crate) target: u64,
    pub(crate) cookie: u64,
    pub(crate) code: u32,
    pub(crate) flags: u32,
    pub(crate) sender_pid: i32,
    pub(crate) sender_euid: u32,
    pub(crate) data_size: u64,
    pub(crate) offsets_size: u64,
    pub(crate) buffer: u64,
    pub(crate) offsets: u64,
}
same_layout!(
    TransactionData,
    uapi::binder_transaction_data,
    target = target,
    cookie = cookie,
    code = code,
    flags = flags,
    sender_pid = sender_pid,
    sender_euid = sender_euid,
    data_size = data_size,
    offsets_size = offsets_size,
    buffer = data
);

impl TransactionData {
    /// The handle a transaction is sent to.
    pub(crate) fn handle(&self) -> u32 {
        // The union's `handle` is its first four bytes: the low half on
        // x86_64, the only architecture binderlike builds for.
        self.target as u32
    }
}

/// `struct flat_binder_object`: `binder` is the node's pointer for
/// `BINDER_TYPE_(WEAK_)BINDER`, the handle (low half) for `..._HANDLE`.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct FlatObject {
    pub(crate) kind: u32,
    pub(crate) flags: u32,
    pub(crate) binder: u64,
    pub(crate) cookie: u64,
}
same_layout!(
    FlatObject,
    uapi::flat_binder_object,
    kind = hdr,
    flags = flags,
    binder = __bindgen_anon_1,
    cookie = cookie
);

/// `struct binder_ptr_cookie`.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct PtrCookie {
    pub(crate) ptr: u64,
    pub(crate) cookie: u64,
}
same_layout!(
    PtrCookie,
    uapi::binder_ptr_cookie,
    ptr = ptr,
    cookie = cookie
);

/// `struct binder_handle_cookie` (packed).
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C, packed)]
pub(crate) struct HandleCookie {
    pub(crate) handle: u32,
    pub(crate) cookie: u64,
}
same_layout!(
    HandleCookie,
    uapi::binder_handle_cookie,
    handle = handle,
    cookie = cookie
);

/// `struct binder_node_info_for_ref`.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct NodeInfoForRef {
    pub(crate) handle: u32,
    pub(crate) strong_count: u32,
    pub(crate) weak_count: u32,
    pub(crate) reserved: [u32; 3],
}
same_layout!(
    NodeInfoForRef,
    uapi::binder_node_info_for_ref,
    handle = handle,
    strong_count = strong_count,
    weak_count = weak_count,
    reserved = reserved1
);

/// `struct binder_node_debug_info`.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct NodeDebugInfo {
    pub(crate) ptr: u64,
    pub(crate) cookie: u64,
    pub(crate) has_strong_ref: u32,
    pub(crate) has_weak_ref: u32,
}
same_layout!(
    NodeDebugInfo,
    uapi::binder_node_debug_info,
    ptr = ptr,
    cookie = cookie,
    has_strong_ref = has_strong_ref,
    has_weak_ref = has_weak_ref
);

/// `struct binder_extended_error`.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct ExtendedError {
    pub(crate) id: u32,
    pub(crate) command: u32,
    pub(crate) param: i32,
}
same_layout!(
    ExtendedError,
    uapi::binder_extended_error,
    id = id,
    command = command,
    param = param
);

/// `struct binder_version`.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct Version {
    pub(crate) protocol_version: i32,
}
same_layout!(
    Version,
    uapi::binder_version,
    protocol_version = protocol_version
);
