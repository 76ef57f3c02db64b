// SPDX-License-Identifier: GPL-2.0

//! binderlike: an IPC driver that speaks the binder protocol (version 8,
//! 64-bit) on misc devices, without `unsafe`.
//!
//! The same user space runs on it as on C binder and Rust Binder: a context
//! manager as handle 0, nodes and handles with strong and weak references,
//! synchronous and oneway transactions into a read-only buffer mapped into
//! the receiver, loopers, death notifications and poll. Each name of the
//! `devices` module parameter is a device (`/dev/<name>`) with a context
//! manager of its own. See Documentation/admin-guide/binderlike.rst.

use kernel::{
    fs::{
        file::CurrentFds,
        File, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    mm::virt::VmaNew,
    new_mutex,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        poll::{
            PollMask,
            PollTable, //
        },
        Arc,
        ArcBorrow,
        Mutex, //
    },
    task::Kuid,
};

mod buffer;
mod defs;
mod node;
mod process;
mod queue;
mod transaction;

use node::Node;
use process::Process;

module! {
    type: BinderlikeModule,
    name: "binderlike",
    authors: ["The binderlike authors"],
    description: "A binder-compatible IPC driver in safe Rust",
    license: "GPL",
    params: {
        devices: str {
            default: "binderlike",
            description: "Comma-separated names of the devices to create",
        },
        max_buffer_kib: u32 {
            default: 4096,
            description: "The largest receive buffer a process may map, in KiB (C binder: 4096)",
        },
    },
}

/// Logs a protocol error of user space, as C binder's `binder_user_error`
/// (with dynamic debug: a process must not be able to flood the log).
#[macro_export]
macro_rules! user_error {
    ($($arg:tt)*) => {
        kernel::pr_debug!($($arg)*)
    };
}

/// The largest receive buffer, in bytes.
pub(crate) fn max_buffer() -> usize {
    (module_parameters::max_buffer_kib.value() as usize).saturating_mul(1024)
}

/// The context manager of a device, and the user that may be it.
pub(crate) struct Manager {
    pub(crate) node: Option<Arc<Node>>,
    pub(crate) uid: Option<Kuid>,
}

/// One device: its context manager.
#[pin_data]
pub(crate) struct Context {
    #[pin]
    pub(crate) manager: Mutex<Manager>,
}

/// A reference that an object of a transaction's buffer holds until the
/// buffer is freed.
pub(crate) enum Held {
    /// A reference to a node of the receiver (a handle sent to its owner).
    Node { node: Arc<Node>, strong: bool },
    /// A reference of the receiver, by handle.
    Ref { handle: u32, strong: bool },
    /// A file for the receiver, whose descriptor goes to offset `at` of the
    /// buffer when it reads the transaction.
    File { at: usize, file: ARef<File> },
    /// A file that was given to the receiver.
    Installed,
}

/// The returns one read gives, gathered under the process lock and copied
/// to user space after it is dropped.
pub(crate) struct Out {
    buf: [u8; 512],
    len: usize,
    cap: usize,
}

impl Out {
    fn new(cap: usize) -> Self {
        Self {
            buf: [0; 512],
            len: 0,
            cap: cap.min(512),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn room(&self) -> usize {
        self.cap - self.len
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn append(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            if self.len + bytes.len() <= self.cap {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
        }
    }

    /// A return without payload.
    pub(crate) fn put_cmd(&mut self, cmd: u32) {
        if self.room() >= 4 {
            self.append(&cmd.to_ne_bytes());
        }
    }

    /// A return and its payload, both or neither.
    pub(crate) fn put<T: zerocopy::IntoBytes + zerocopy::Immutable>(
        &mut self,
        cmd: u32,
        payload: &T,
    ) {
        let payload = payload.as_bytes();
        if self.room() >= 4 + payload.len() {
            self.append(&cmd.to_ne_bytes());
            self.append(payload);
        }
    }

    /// Replaces the first return (the `BR_NOOP` a read starts with).
    pub(crate) fn set_first(&mut self, cmd: u32) {
        if self.len >= 4 {
            self.buf[..4].copy_from_slice(&cmd.to_ne_bytes());
        }
    }
}

/// The file operations of a device.
struct BinderDevice;

#[vtable]
impl MiscDevice for BinderDevice {
    type Ptr = Arc<Process>;
    type RegistrationData = Arc<Context>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Process>> {
        Process::new(misc.data().clone(), file)
    }

    fn release(process: Arc<Process>, _file: &File) {
        process.release();
    }

    fn mmap(process: ArcBorrow<'_, Process>, _file: &File, vma: &VmaNew) -> Result {
        process.mmap(vma)
    }

    fn ioctl_fds(
        process: ArcBorrow<'_, Process>,
        file: &File,
        fds: &CurrentFds<'_>,
        cmd: u32,
        arg: usize,
    ) -> Result<isize> {
        Process::ioctl(process, file, fds, cmd, arg)
    }

    fn poll(process: ArcBorrow<'_, Process>, file: &File, table: &PollTable<'_>) -> PollMask {
        process.poll(file, table)
    }
}

struct BinderlikeModule {
    _devices: KVec<Pin<KBox<MiscDeviceRegistration<BinderDevice>>>>,
}

impl kernel::Module for BinderlikeModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let names = module_parameters::devices.value_ref().as_cstr().to_bytes();
        let mut devices = KVec::new();
        for name in names.split(|&b| b == b',') {
            if name.is_empty() || name.contains(&b'/') || name.len() > 64 {
                pr_err!(
                    "invalid device name in devices={:?}\n",
                    kernel::str::BStr::from_bytes(names)
                );
                return Err(EINVAL);
            }
            let name = CString::try_from_fmt(fmt!("{}", kernel::str::BStr::from_bytes(name)))?;
            let ctx = Arc::pin_init(
                pin_init!(Context {
                    manager <- new_mutex!(Manager { node: None, uid: None }),
                }),
                GFP_KERNEL,
            )?;
            devices.push(
                KBox::pin_init(
                    MiscDeviceRegistration::register_with_name(name, ctx),
                    GFP_KERNEL,
                )?,
                GFP_KERNEL,
            )?;
        }
        Ok(Self { _devices: devices })
    }
}

#[kunit_tests(binderlike_out)]
mod tests {
    use super::*;

    #[test]
    fn returns_fit_or_are_left_out() {
        let mut out = Out::new(12);
        out.put_cmd(defs::BR_NOOP);
        // A return with its payload goes in whole or not at all.
        out.put(defs::BR_NOOP, &7u64);
        assert_eq!(out.len(), 4);
        out.put(defs::BR_NOOP, &7u32);
        assert_eq!(out.len(), 12);
        assert_eq!(out.room(), 0);
        out.put_cmd(defs::BR_NOOP);
        assert_eq!(out.len(), 12);
        out.set_first(defs::BR_SPAWN_LOOPER);
        assert_eq!(&out.bytes()[..4], &defs::BR_SPAWN_LOOPER.to_ne_bytes());
        // Never more than 512 bytes.
        assert_eq!(Out::new(4096).room(), 512);
    }
}
