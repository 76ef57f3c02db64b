// SPDX-License-Identifier: GPL-2.0

//! What nvme-cli sees of a controller: its character device, `/dev/rnvme<N>`
//! (or `/dev/nvme<N>`), which takes the admin passthrough ioctls, and its
//! identity and state in sysfs, in the classes that `nvme list` reads.

use crate::{
    nvme::{
        self,
        Command,
        PassthruCmd, //
    },
    queue::{
        Regs,
        ADMIN_TIMEOUT, //
    },
    Ctrl, Format, Namespace, Rnvme,
};
use kernel::{
    block::mq::gen_disk::{
        DiskIoctl,
        GenDisk,
        GenDiskBuilder, //
    },
    capability::{
        capable,
        Capability, //
    },
    class::{
        self,
        Class, //
    },
    dma::Coherent,
    fs::File,
    io::Io,
    ioctl::{
        _IO,
        _IOWR, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    prelude::*,
    str::CString,
    sync::{
        atomic::Relaxed,
        Arc,
        ArcBorrow, //
    },
    sysfs::{
        self,
        AttributeOperations, //
    },
    time::Delta,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};
use zerocopy::FromBytes;

/// `NVME_IOCTL_ID`: the namespace of a namespace's device.
const NVME_IOCTL_ID: u32 = _IO(b'N' as u32, 0x40);
/// `NVME_IOCTL_ADMIN_CMD`: an admin command, with a 32-bit result.
const NVME_IOCTL_ADMIN_CMD: u32 = _IOWR::<[u8; PASSTHRU32_SIZE]>(b'N' as u32, 0x41);
/// `NVME_IOCTL_RESET`: reset the controller.
const NVME_IOCTL_RESET: u32 = _IO(b'N' as u32, 0x44);
/// `NVME_IOCTL_RESCAN`: read the namespaces again.
const NVME_IOCTL_RESCAN: u32 = _IO(b'N' as u32, 0x46);
/// `NVME_IOCTL_ADMIN64_CMD`: an admin command, with a 64-bit result.
const NVME_IOCTL_ADMIN64_CMD: u32 = _IOWR::<PassthruCmd>(b'N' as u32, 0x47);

/// The size of C `struct nvme_passthru_cmd`: [`PassthruCmd`] up to its
/// reserved field, which holds the 32-bit result there.
const PASSTHRU32_SIZE: usize = 72;

/// The largest data of a passthrough command: two controller pages, which
/// PRP 1 and PRP 2 describe (the identify data and the logs nvme-cli reads
/// by default take one).
pub(crate) const PASSTHRU_MAX: usize = 2 * nvme::PAGE_SIZE as usize;

/// The admin commands that passthrough refuses, because they would take
/// the queues, the shadow doorbells or the admin queue from the driver:
/// Delete and Create I/O Submission and Completion Queue, Abort,
/// Asynchronous Event Request (which waits for an event) and Doorbell
/// Buffer Config.
const DRIVER_OPCODES: [u8; 7] = [
    0x00,
    0x01,
    0x04,
    0x05,
    0x08,
    0x0c,
    nvme::admin::DBBUF_CONFIG,
];

/// The data of a controller's character device.
pub(crate) struct CtrlDevData {
    pub(crate) ctrl: Arc<Ctrl>,
}

/// The character device of a controller.
pub(crate) struct CtrlDev;

#[vtable]
impl MiscDevice for CtrlDev {
    type Ptr = Arc<Ctrl>;
    type RegistrationData = CtrlDevData;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Ctrl>> {
        Ok(misc.data().ctrl.clone())
    }

    fn ioctl(ctrl: ArcBorrow<'_, Ctrl>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let result = match cmd {
            NVME_IOCTL_ADMIN_CMD | NVME_IOCTL_ADMIN64_CMD => ctrl.admin_ioctl(cmd, arg),
            NVME_IOCTL_RESET => ctrl.reset_ioctl(),
            NVME_IOCTL_RESCAN => ctrl.rescan_ioctl(),
            // As C: the controller's device is no namespace's, and rnvme
            // has no I/O passthrough (`NVME_IOCTL_IO_CMD`) or subsystem
            // reset.
            NVME_IOCTL_ID => Err(ENOTTY),
            _ => Err(ENOTTY),
        }?;
        Ok(isize::try_from(result)?)
    }
}

impl Namespace {
    /// An ioctl on the namespace's disk, as C nvme takes them there: the
    /// namespace ID, and admin commands, which go to the controller as on
    /// its character device (also on a partition, as in C). rnvme has no
    /// I/O passthrough.
    pub(crate) fn ioctl(&self, ioctl: &DiskIoctl) -> Result<u32> {
        match ioctl.cmd() {
            NVME_IOCTL_ID => Ok(self.nsid),
            cmd @ (NVME_IOCTL_ADMIN_CMD | NVME_IOCTL_ADMIN64_CMD) => {
                self.ctrl.admin_ioctl(cmd, ioctl.arg())
            }
            _ => Err(ENOTTY),
        }
    }
}

impl Ctrl {
    /// Runs the admin command of ioctl `cmd`, `NVME_IOCTL_ADMIN_CMD` or
    /// `NVME_IOCTL_ADMIN64_CMD`, that user space passes at `arg`.
    fn admin_ioctl(&self, cmd: u32, arg: usize) -> Result<u32> {
        let size = if cmd == NVME_IOCTL_ADMIN_CMD {
            PASSTHRU32_SIZE
        } else {
            size_of::<PassthruCmd>()
        };
        self.admin_passthru(arg, size)
    }

    /// Runs the admin command that user space passes at `arg`, a C
    /// `struct nvme_passthru_cmd` (`size` 72) or `nvme_passthru_cmd64`
    /// (80), for a caller with `CAP_SYS_ADMIN` (others get `EACCES`, as in
    /// C). Returns the command's
    /// status, as C nvme does: 0, or the NVMe status code (positive).
    ///
    /// Every field is checked: no flags, reserved fields or metadata, at
    /// most [`PASSTHRU_MAX`] bytes of data in the direction the opcode
    /// says, no command that would take the queues from the driver.
    ///
    /// As in C, no I/O of the disks runs during a Format NVM or Sanitize
    /// (their queues are frozen), and after a Format NVM the disks take
    /// the new formats of their namespaces: requests that the block layer
    /// made before and are not whole blocks of the new format fail.
    fn admin_passthru(&self, arg: usize, size: usize) -> Result<u32> {
        // C nvme lets unprivileged callers read some identify data; rnvme
        // needs `CAP_SYS_ADMIN` for every command.
        if !capable(Capability::SysAdmin) {
            return Err(EACCES);
        }
        let mut raw = [0u8; size_of::<PassthruCmd>()];
        UserSlice::new(UserPtr::from_addr(arg), size)
            .reader()
            .read_slice(&mut raw[..size])?;
        let cmd = PassthruCmd::read_from_bytes(&raw).map_err(|_| EINVAL)?;
        let len = cmd.data_len as usize;
        // Opcode bits 1:0: 01b data to the controller, 10b from it.
        let (to_ctrl, from_ctrl) = (cmd.opcode & 1 != 0, cmd.opcode & 2 != 0);
        let wide_reserved = if size == PASSTHRU32_SIZE {
            0
        } else {
            cmd.rsvd2
        };
        if cmd.flags != 0
            || cmd.rsvd1 != 0
            || wide_reserved != 0
            || cmd.metadata != 0
            || cmd.metadata_len != 0
            || len > PASSTHRU_MAX
            || (len != 0 && to_ctrl == from_ctrl)
            || DRIVER_OPCODES.contains(&cmd.opcode)
        {
            return Err(EINVAL);
        }
        let timeout = match cmd.timeout_ms {
            0 => ADMIN_TIMEOUT,
            ms => Delta::from_millis(i64::from(ms)).min(ADMIN_TIMEOUT),
        };

        // What C nvme knows of these commands (its "known effects"): the
        // disks must take no I/O while they run, and Format NVM changes the
        // formats of the namespaces.
        let (stops_io, reformats) = match cmd.opcode {
            nvme::admin::FORMAT_NVM => (true, true),
            nvme::admin::SANITIZE => (true, false),
            _ => (false, false),
        };

        let buffer = self.passthru.lock();
        let mut data = KVec::from_elem(0u8, PASSTHRU_MAX, GFP_KERNEL)?;
        let user = UserSlice::new(UserPtr::from_addr(cmd.addr as usize), len);
        if to_ctrl && len != 0 {
            user.reader().read_slice(&mut data[..len])?;
        }
        (&*buffer).copy_from_slice(&data);
        let base = buffer.dma_address();
        let page = nvme::PAGE_SIZE;
        let command = Command {
            opcode: cmd.opcode,
            nsid: cmd.nsid.to_le(),
            cdw2: cmd.cdw2.to_le(),
            cdw3: cmd.cdw3.to_le(),
            prp1: if len != 0 { base.to_le() } else { 0 },
            prp2: if len as u64 > page {
                (base + page).to_le()
            } else {
                0
            },
            cdw10: cmd.cdw10.to_le(),
            cdw11: cmd.cdw11.to_le(),
            cdw12: cmd.cdw12.to_le(),
            cdw13: cmd.cdw13.to_le(),
            cdw14: cmd.cdw14.to_le(),
            cdw15: cmd.cdw15.to_le(),
            ..Command::default()
        };
        let disks = stops_io.then(|| self.disks.list.lock());
        let frozen = disks
            .as_deref()
            .map(|disks| GenDisk::freeze_all(disks.as_slice()));
        let submitted = self.admin.submit_for(Regs(&self.bar), command, timeout);
        if from_ctrl && len != 0 {
            (&*buffer).copy_to_slice(&mut data);
        }
        if let (true, Some(disks)) = (reformats, &disks) {
            // No request of the old format goes to the device from now on.
            for disk in disks.iter() {
                let ns = disk.queue_data();
                let format = self.identify_ns(&buffer, ns.nsid);
                ns.set_format(format.map_or(Format::NONE, |id| Format::of(&id).0));
            }
            drop(frozen);
            // The block layer's limits, after the queues ran again: the
            // lock of a queue's limits comes before freezing it.
            self.reread_formats(&buffer, disks);
        } else {
            drop(frozen);
        }
        drop(disks);
        drop(buffer);
        let (status, result) = submitted?;
        if from_ctrl && len != 0 && status == 0 {
            UserSlice::new(UserPtr::from_addr(cmd.addr as usize), len)
                .writer()
                .write_slice(&data[..len])?;
        }
        // The result goes where the caller's structure has it: its last 4
        // or 8 bytes.
        let (result32, result64) = (result.to_ne_bytes(), u64::from(result).to_ne_bytes());
        let bytes: &[u8] = if size == PASSTHRU32_SIZE {
            &result32
        } else {
            &result64
        };
        UserSlice::new(UserPtr::from_addr(arg + size - bytes.len()), bytes.len())
            .writer()
            .write_slice(bytes)?;
        // The status field without the phase tag: 15 bits.
        if status > 0x7fff {
            return Err(EIO);
        }
        Ok(u32::from(status))
    }

    /// Reads Identify Namespace data of `nsid` into `buffer`, the
    /// passthrough buffer.
    fn identify_ns(&self, buffer: &Coherent<[u8]>, nsid: u32) -> Result<nvme::IdNs> {
        let cmd = Command::identify(nvme::cns::NAMESPACE, nsid, buffer.dma_address());
        self.admin.run(Regs(&self.bar), cmd)?;
        let mut data = KVec::from_elem(0u8, PASSTHRU_MAX, GFP_KERNEL)?;
        buffer.copy_to_slice(&mut data);
        nvme::IdNs::parse(&data)
    }

    /// Reads the format of namespace `nsid` again, through `buffer`: the
    /// limits and capacity of its disk, and its [`Format`]. As C, if that
    /// fails, those of a namespace whose format rnvme does not take.
    fn read_format(&self, buffer: &Coherent<[u8]>, nsid: u32) -> (Result<GenDiskBuilder>, Format) {
        match self
            .identify_ns(buffer, nsid)
            .and_then(|ns| self.disk_limits(nsid, &ns))
        {
            Ok((limits, format)) => (Ok(limits), format),
            Err(e) => {
                dev_warn!(
                    self.pdev.as_ref(),
                    "rnvme: namespace {nsid}: no Identify data ({e:?}): no capacity\n"
                );
                (self.ctrl_limits(), Format::NONE)
            }
        }
    }

    /// Reads the formats of the namespaces of `disks` again, through
    /// `buffer`, and gives the disks their new limits, capacities (a
    /// change is announced to user space) and formats.
    fn reread_formats(&self, buffer: &Coherent<[u8]>, disks: &[GenDisk<Rnvme>]) {
        for disk in disks {
            let ns = disk.queue_data();
            let (limits, format) = self.read_format(buffer, ns.nsid);
            let updated = limits.and_then(|limits| disk.update(&limits, || ns.set_format(format)));
            if let Err(e) = updated {
                dev_warn!(
                    self.pdev.as_ref(),
                    "rnvme: namespace {}: the block layer refuses its new limits ({e:?}): no I/O\n",
                    ns.nsid
                );
                let _frozen = disk.freeze();
                ns.set_format(Format::NONE);
            }
        }
    }

    /// Reads the formats of the namespaces again, for a caller with
    /// `CAP_SYS_ADMIN`, as C nvme's `NVME_IOCTL_RESCAN` (nvme-cli's
    /// `ns-rescan`, also run by `nvme format` on a controller). Unlike C,
    /// rnvme adds and removes no disks.
    fn rescan_ioctl(&self) -> Result<u32> {
        if !capable(Capability::SysAdmin) {
            return Err(EACCES);
        }
        let buffer = self.passthru.lock();
        self.reread_formats(&buffer, &self.disks.list.lock());
        Ok(0)
    }

    /// Resets the controller for a caller with `CAP_SYS_ADMIN`, as C nvme's
    /// `NVME_IOCTL_RESET`; fails with `ENODEV` if the controller does not
    /// come back.
    fn reset_ioctl(&self) -> Result<u32> {
        if !capable(Capability::SysAdmin) {
            return Err(EACCES);
        }
        dev_warn!(self.pdev.as_ref(), "rnvme: resetting the controller\n");
        self.reset(self.resets.load(Relaxed));
        match self.state() {
            crate::State::Live => Ok(0),
            _ => Err(ENODEV),
        }
    }

    /// The name of the controller's state, as C nvme's `state` shows it.
    fn state_name(&self) -> &'static str {
        match self.state() {
            crate::State::Live => "live",
            crate::State::Resetting => "resetting",
            crate::State::Dead => "dead",
            crate::State::Deleting => "deleting",
        }
    }
}

/// The classes of the controllers and of their subsystems, and the prefix
/// of the names of the controllers and disks: C nvme's, or rnvme's own where
/// C nvme may have those (see the `nvme_names` parameter).
pub(crate) struct Names {
    pub(crate) ctrls: &'static Class,
    pub(crate) subsystems: &'static Class,
    pub(crate) prefix: &'static str,
}

static NVME: Class = Class::new(c"nvme");
static NVME_SUBSYSTEM: Class = Class::new(c"nvme-subsystem");
static RNVME: Class = Class::new(c"rnvme");
static RNVME_SUBSYSTEM: Class = Class::new(c"rnvme-subsystem");

impl Names {
    /// C nvme's names (`nvme<N>`, `nvme<N>n<M>`, `nvme-subsys<N>` in
    /// `/sys/class/nvme` and `/sys/class/nvme-subsystem`), which nvme-cli
    /// lists, if `nvme` is set; rnvme's (`rnvme<N>` ... in `/sys/class/rnvme`
    /// and `/sys/class/rnvme-subsystem`) otherwise.
    pub(crate) fn new(nvme: bool) -> Self {
        if nvme {
            Self {
                ctrls: &NVME,
                subsystems: &NVME_SUBSYSTEM,
                prefix: "nvme",
            }
        } else {
            Self {
                ctrls: &RNVME,
                subsystems: &RNVME_SUBSYSTEM,
                prefix: "rnvme",
            }
        }
    }

    /// Registers the two classes, for as long as the registrations live.
    pub(crate) fn register(&self) -> Result<[class::Registration; 2]> {
        Ok([
            class::Registration::new(self.ctrls)?,
            class::Registration::new(self.subsystems)?,
        ])
    }
}

/// The devices of a controller in sysfs, as C nvme's: `<prefix><N>` in the
/// class of controllers, under the PCI device, with the controller's
/// attributes (the disks go under it), and `<prefix>-subsys<N>` in the
/// class of subsystems, with the subsystem's attributes and a link to the
/// controller. rnvme gives each controller a subsystem of its own.
pub(crate) struct CtrlDevices {
    _subsystem: class::Device<CtrlDevData>,
    ctrl: class::Device<CtrlDevData>,
}

impl CtrlDevices {
    /// Adds the devices of controller `instance`, which shows `ctrl`, under
    /// the PCI device `parent`.
    pub(crate) fn new(
        names: &Names,
        parent: &kernel::device::Device,
        instance: u32,
        ctrl: &Arc<Ctrl>,
    ) -> Result<Self> {
        let prefix = names.prefix;
        let data = CtrlDevData { ctrl: ctrl.clone() };
        let ctrl_dev = class::Device::new(
            names.ctrls,
            Some(parent),
            fmt!("{prefix}{instance}"),
            data,
            &CTRL_GROUPS,
        )?;
        let data = CtrlDevData { ctrl: ctrl.clone() };
        let subsystem = class::Device::new(
            names.subsystems,
            None,
            fmt!("{prefix}-subsys{instance}"),
            data,
            &SUBSYSTEM_GROUPS,
        )?;
        subsystem.link(ctrl_dev.as_ref())?;
        Ok(Self {
            _subsystem: subsystem,
            ctrl: ctrl_dev,
        })
    }

    /// The controller's device, the parent of its disks.
    pub(crate) fn ctrl(&self) -> &kernel::device::Device {
        self.ctrl.as_ref()
    }
}

/// The devices of the controllers and subsystems in sysfs.
type CtrlSysfs = class::Device<CtrlDevData>;

/// Implements attribute `$id` of the controller's or subsystem's device, of
/// type `$value`, shown by `$show` from the controller `$ctrl`.
macro_rules! ctrl_attribute {
    ($id:literal, $value:ty, |$ctrl:ident| $show:expr) => {
        #[vtable]
        impl AttributeOperations<$id> for CtrlDevData {
            type Host = CtrlSysfs;
            type Value = $value;

            fn show(data: &CtrlDevData) -> Result<$value> {
                let $ctrl = &*data.ctrl;
                $show
            }
        }
    };
}

/// Text for an attribute.
fn text(s: &[u8]) -> Result<CString> {
    CString::try_from_fmt(fmt!("{}", kernel::str::BStr::from_bytes(s)))
}

ctrl_attribute!(0, CString, |c| text(&c.id.model));
ctrl_attribute!(1, CString, |c| text(&c.id.serial));
ctrl_attribute!(2, CString, |c| text(&c.id.firmware));
ctrl_attribute!(3, CString, |_c| text(b"pcie"));
ctrl_attribute!(4, CString, |c| text(c.pdev.as_ref().name().to_bytes()));
ctrl_attribute!(5, CString, |c| text(c.state_name().as_bytes()));
ctrl_attribute!(6, u32, |c| Ok(c.queues.len() as u32 + 1));
ctrl_attribute!(7, u16, |c| Ok(c.depth - 1));
ctrl_attribute!(8, i32, |c| Ok(c.numa_node));
ctrl_attribute!(9, CString, |c| text(&c.id.subnqn));
ctrl_attribute!(10, u16, |c| Ok(c.id.cntlid));
ctrl_attribute!(11, CString, |_c| text(b"nvm"));

// The attributes of a controller's device, as C nvme's: its identity
// (model, serial, firmware_rev, subsysnqn, cntlid), how it is reached
// (transport, address, numa_node), its state and its queues (queue_count
// with the admin queue, sqsize 0's based).
kernel::sysfs_groups! {
    static CTRL_GROUPS: CtrlSysfs = [
        {
            ops: CtrlDevData,
            attributes: [
                model: 0,
                serial: 1,
                firmware_rev: 2,
                transport: 3,
                address: 4,
                state: 5,
                queue_count: 6,
                sqsize: 7,
                numa_node: 8,
                subsysnqn: 9,
                cntlid: 10,
            ],
        },
    ];
}

// The attributes of a subsystem's device that nvme-cli reads, as C nvme's:
// the subsystem's NQN, its type, and the identity of its controller.
kernel::sysfs_groups! {
    static SUBSYSTEM_GROUPS: CtrlSysfs = [
        {
            ops: CtrlDevData,
            attributes: [
                subsysnqn: 9,
                model: 0,
                serial: 1,
                firmware_rev: 2,
                subsystype: 11,
            ],
        },
    ];
}

/// The character device has no attributes: they are on the controller's
/// device in its class.
pub(crate) static NO_GROUPS: sysfs::Groups<MiscDeviceRegistration<CtrlDev>, 0> =
    sysfs::Groups::new([]);
