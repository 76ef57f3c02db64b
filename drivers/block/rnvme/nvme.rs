// SPDX-License-Identifier: GPL-2.0

//! What rnvme uses of the NVMe base specification (2.0): controller
//! registers, command and completion layouts, opcodes and the identify data.

use kernel::prelude::*;
use zerocopy_derive::Immutable;

/// Controller Capabilities (64 bit).
pub(crate) const REG_CAP: usize = 0x00;
/// Version.
pub(crate) const REG_VS: usize = 0x08;
/// Controller Configuration.
pub(crate) const REG_CC: usize = 0x14;
/// Controller Status.
pub(crate) const REG_CSTS: usize = 0x1c;
/// Admin Queue Attributes.
pub(crate) const REG_AQA: usize = 0x24;
/// Admin Submission Queue Base Address (64 bit).
pub(crate) const REG_ASQ: usize = 0x28;
/// Admin Completion Queue Base Address (64 bit).
pub(crate) const REG_ACQ: usize = 0x30;
/// The first doorbell: the admin submission queue's tail.
pub(crate) const REG_DOORBELLS: usize = 0x1000;
/// The registers rnvme reads and writes at fixed offsets: up to the
/// admin queue's doorbells. The I/O queues' doorbells follow, as far as the
/// BAR goes.
pub(crate) const BAR_SIZE: usize = REG_DOORBELLS + 8;

/// CC.EN: enable.
pub(crate) const CC_ENABLE: u32 = 1;
/// CC.IOSQES and CC.IOCQES: 64-byte commands, 16-byte completions.
pub(crate) const CC_ENTRY_SIZES: u32 = (6 << 16) | (4 << 20);
/// CC.SHN: normal shutdown notification.
pub(crate) const CC_SHN_NORMAL: u32 = 1 << 14;
/// CSTS.RDY: ready.
pub(crate) const CSTS_RDY: u32 = 1;
/// CSTS.CFS: controller fatal status.
pub(crate) const CSTS_CFS: u32 = 1 << 1;
/// CSTS.SHST: shutdown status, complete.
pub(crate) const CSTS_SHST_CMPLT: u32 = 2 << 2;
/// CSTS.SHST mask.
pub(crate) const CSTS_SHST_MASK: u32 = 3 << 2;

/// The controller's memory page size rnvme uses (CC.MPS 0).
pub(crate) const PAGE_SIZE: u64 = 4096;

/// The fields of the Controller Capabilities register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cap(pub(crate) u64);

impl Cap {
    /// Maximum Queue Entries Supported, as a count.
    pub(crate) fn max_queue_entries(self) -> u32 {
        (self.0 & 0xffff) as u32 + 1
    }

    /// Timeout: the worst case time to become ready, in 500 ms units.
    pub(crate) fn timeout_500ms(self) -> u32 {
        ((self.0 >> 24) & 0xff) as u32
    }

    /// Doorbell Stride, in bytes.
    pub(crate) fn doorbell_stride(self) -> usize {
        4 << ((self.0 >> 32) & 0xf)
    }

    /// Memory Page Size Minimum, as a power of two.
    pub(crate) fn min_page_shift(self) -> u32 {
        12 + ((self.0 >> 48) & 0xf) as u32
    }
}

/// Admin command opcodes.
pub(crate) mod admin {
    /// Create I/O Submission Queue.
    pub(crate) const CREATE_SQ: u8 = 0x01;
    /// Create I/O Completion Queue.
    pub(crate) const CREATE_CQ: u8 = 0x05;
    /// Identify.
    pub(crate) const IDENTIFY: u8 = 0x06;
    /// Abort.
    pub(crate) const ABORT: u8 = 0x08;
    /// Set Features.
    pub(crate) const SET_FEATURES: u8 = 0x09;
    /// Doorbell Buffer Config.
    pub(crate) const DBBUF_CONFIG: u8 = 0x7c;
    /// Format NVM.
    pub(crate) const FORMAT_NVM: u8 = 0x80;
    /// Sanitize.
    pub(crate) const SANITIZE: u8 = 0x84;
}

/// I/O command opcodes (NVM command set).
pub(crate) mod io {
    /// Flush.
    pub(crate) const FLUSH: u8 = 0x00;
    /// Write.
    pub(crate) const WRITE: u8 = 0x01;
    /// Read.
    pub(crate) const READ: u8 = 0x02;
    /// Write Zeroes.
    pub(crate) const WRITE_ZEROES: u8 = 0x08;
    /// Dataset Management.
    pub(crate) const DSM: u8 = 0x09;
}

/// Dataset Management, Command Dword 11: Attribute - Deallocate.
pub(crate) const DSM_DEALLOCATE: u32 = 1 << 2;
/// The most ranges of a Dataset Management command (`NR` is 0's based, 8
/// bits).
pub(crate) const DSM_MAX_RANGES: u16 = 256;

/// NSFEAT: the namespace reports its atomic write unit (NAWUN, NAWUPF,
/// NACWU).
pub(crate) const NSFEAT_ATOMICS: u8 = 1 << 1;

/// Identify CNS values.
pub(crate) mod cns {
    /// The Identify Namespace data structure of a namespace.
    pub(crate) const NAMESPACE: u32 = 0x00;
    /// The Identify Controller data structure.
    pub(crate) const CONTROLLER: u32 = 0x01;
    /// The list of active namespace IDs.
    pub(crate) const ACTIVE_NS_LIST: u32 = 0x02;
    /// The I/O Command Set specific Identify Controller data structure
    /// (with CSI 0 in Command Dword 11: the NVM command set's).
    pub(crate) const CONTROLLER_NVM: u32 = 0x06;
}

/// Feature identifiers.
pub(crate) const FEAT_NUM_QUEUES: u32 = 0x07;

/// Command Dword 12 of reads and writes: Force Unit Access.
pub(crate) const RW_FUA: u32 = 1 << 30;

/// A submission queue entry.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct Command {
    pub(crate) opcode: u8,
    pub(crate) flags: u8,
    pub(crate) command_id: u16,
    pub(crate) nsid: u32,
    pub(crate) cdw2: u32,
    pub(crate) cdw3: u32,
    pub(crate) metadata: u64,
    pub(crate) prp1: u64,
    pub(crate) prp2: u64,
    pub(crate) cdw10: u32,
    pub(crate) cdw11: u32,
    pub(crate) cdw12: u32,
    pub(crate) cdw13: u32,
    pub(crate) cdw14: u32,
    pub(crate) cdw15: u32,
}

/// A completion queue entry.
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct Completion {
    pub(crate) result: u32,
    pub(crate) rsvd: u32,
    pub(crate) sq_head: u16,
    pub(crate) sq_id: u16,
    pub(crate) command_id: u16,
    /// Bit 0 is the phase tag, the rest the status field.
    pub(crate) status: u16,
}

/// The command of the admin passthrough ioctls, in the CPU's byte order (C
/// `struct nvme_passthru_cmd64`; C `struct nvme_passthru_cmd` is the same
/// up to `rsvd2`, where it has its 32-bit result).
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable)]
#[repr(C)]
pub(crate) struct PassthruCmd {
    pub(crate) opcode: u8,
    pub(crate) flags: u8,
    pub(crate) rsvd1: u16,
    pub(crate) nsid: u32,
    pub(crate) cdw2: u32,
    pub(crate) cdw3: u32,
    pub(crate) metadata: u64,
    pub(crate) addr: u64,
    pub(crate) metadata_len: u32,
    pub(crate) data_len: u32,
    pub(crate) cdw10: u32,
    pub(crate) cdw11: u32,
    pub(crate) cdw12: u32,
    pub(crate) cdw13: u32,
    pub(crate) cdw14: u32,
    pub(crate) cdw15: u32,
    pub(crate) timeout_ms: u32,
    pub(crate) rsvd2: u32,
    pub(crate) result: u64,
}

kernel::transmute_from_zerocopy!(Command, Completion);

const _: () = assert!(core::mem::size_of::<Command>() == 64);
const _: () = assert!(core::mem::size_of::<Completion>() == 16);
const _: () = assert!(core::mem::size_of::<PassthruCmd>() == 80);

impl Command {
    /// A command with opcode `opcode` for namespace `nsid`.
    pub(crate) fn new(opcode: u8, nsid: u32) -> Self {
        Self {
            opcode,
            nsid: nsid.to_le(),
            ..Self::default()
        }
    }

    /// Identify with `cns` for namespace `nsid`, into the page at `buf`.
    pub(crate) fn identify(cns: u32, nsid: u32, buf: u64) -> Self {
        Self {
            prp1: buf.to_le(),
            cdw10: cns.to_le(),
            ..Self::new(admin::IDENTIFY, nsid)
        }
    }
}

/// The status of a completion: `Ok` or the status code type and code.
pub(crate) fn status_result(status: u16) -> Result {
    // The status field without the phase tag, More and Do Not Retry bits:
    // Status Code Type and Status Code.
    let sc = (u16::from_le(status) >> 1) & 0x7ff;
    match sc {
        0 => Ok(()),
        // Invalid Field in Command, Invalid Namespace or Format.
        0x002 | 0x00b => Err(EINVAL),
        // LBA Out of Range, Capacity Exceeded.
        0x080 | 0x081 => Err(ENOSPC),
        // Generic: Command Abort Requested, Aborted due to SQ deletion.
        0x007 | 0x008 => Err(ECANCELED),
        // Media errors (status code type 2).
        0x280..=0x2ff => Err(ENODATA),
        _ => Err(EIO),
    }
}

/// Whether a command that failed with `status` may be tried again: the
/// controller did not set Do Not Retry.
pub(crate) fn may_retry(status: u16) -> bool {
    u16::from_le(status) & (1 << 15) == 0
}

/// Reads a little-endian `u16` at `off` of identify data.
pub(crate) fn le16(data: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([data[off], data[off + 1]])
}

/// Reads a little-endian `u32` at `off` of identify data.
pub(crate) fn le32(data: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]])
}

/// Reads a little-endian `u64` at `off` of identify data.
pub(crate) fn le64(data: &[u8], off: usize) -> u64 {
    u64::from(le32(data, off)) | (u64::from(le32(data, off + 4)) << 32)
}

/// The ASCII string of identify data at `off`, `len` bytes, without the
/// padding spaces at its end.
pub(crate) fn ascii(data: &[u8], off: usize, len: usize) -> &[u8] {
    let s = &data[off..off + len];
    let end = s
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(0, |i| i + 1);
    &s[..end]
}

/// What rnvme uses of the Identify Controller data structure.
pub(crate) struct IdCtrl {
    /// Serial Number, padded with spaces as the controller has it.
    pub(crate) serial: KVec<u8>,
    /// Model Number, padded.
    pub(crate) model: KVec<u8>,
    /// Firmware Revision, padded.
    pub(crate) firmware: KVec<u8>,
    /// Maximum Data Transfer Size, a power of two in units of the minimum
    /// page size; 0 for no limit.
    pub(crate) mdts: u8,
    /// Controller ID.
    pub(crate) cntlid: u16,
    /// Number of Namespaces.
    pub(crate) nn: u32,
    /// Optional NVM Command Support.
    pub(crate) oncs: u16,
    /// Volatile Write Cache present.
    pub(crate) vwc: bool,
    /// Optional Admin Command Support.
    pub(crate) oacs: u16,
    /// SGL Support.
    pub(crate) sgls: u32,
    /// NVM Subsystem NVMe Qualified Name.
    pub(crate) subnqn: KVec<u8>,
}

/// OACS: Doorbell Buffer Config.
pub(crate) const OACS_DBBUF: u16 = 1 << 8;

/// SGLS: SGLs for the NVM command set, with no or dword alignment.
pub(crate) const SGLS_SUPPORTED: u32 = 0x3;

/// Command flags: the data pointer is an SGL (PSDT 01b).
pub(crate) const CMD_SGL_METABUF: u8 = 1 << 6;

/// SGL descriptor type: Data Block.
pub(crate) const SGL_DATA: u64 = 0x0 << 4;

/// SGL descriptor type: Last Segment, a list of Data Block descriptors.
pub(crate) const SGL_LAST_SEGMENT: u64 = 0x3 << 4;

/// ONCS: Dataset Management.
pub(crate) const ONCS_DSM: u16 = 1 << 2;

/// ONCS: Write Zeroes.
pub(crate) const ONCS_WRITE_ZEROES: u16 = 1 << 3;

impl IdCtrl {
    /// Parses the 4096 bytes of Identify Controller data.
    pub(crate) fn parse(data: &[u8]) -> Result<Self> {
        if data.len() < 4096 {
            return Err(EINVAL);
        }
        let copy = |text: &[u8]| -> Result<KVec<u8>> {
            let mut v = KVec::new();
            v.extend_from_slice(text, GFP_KERNEL)?;
            Ok(v)
        };
        // The fixed-size fields as the controller pads them (up to a NUL),
        // as C nvme shows them in sysfs.
        let padded = |off: usize, len: usize| {
            let field = &data[off..off + len];
            &field[..field.iter().position(|&c| c == 0).unwrap_or(len)]
        };
        Ok(Self {
            serial: copy(padded(4, 20))?,
            model: copy(padded(24, 40))?,
            firmware: copy(padded(64, 8))?,
            mdts: data[77],
            cntlid: le16(data, 78),
            oacs: le16(data, 256),
            nn: le32(data, 516),
            oncs: le16(data, 520),
            vwc: data[525] & 1 != 0,
            sgls: le32(data, 536),
            subnqn: copy(ascii(data, 768, 256))?,
        })
    }
}

/// What rnvme uses of the NVM Command Set Identify Controller data
/// structure.
#[derive(Clone, Copy, Default)]
pub(crate) struct IdCtrlNvm {
    /// Write Zeroes Size Limit, a power of two in units of the minimum
    /// page size; 0 for none.
    pub(crate) wzsl: u8,
    /// Dataset Management Range Single Limit, in logical blocks; 0 for
    /// none.
    pub(crate) dmrsl: u32,
    /// Dataset Management Ranges Limit: the most ranges of a Dataset
    /// Management command; 0 for no limit but the command's, 256.
    pub(crate) dmrl: u8,
}

impl IdCtrlNvm {
    /// Parses the 4096 bytes of the data structure.
    pub(crate) fn parse(data: &[u8]) -> Result<Self> {
        if data.len() < 4096 {
            return Err(EINVAL);
        }
        Ok(Self {
            wzsl: data[1],
            dmrsl: le32(data, 4),
            dmrl: data[3],
        })
    }
}

/// What rnvme uses of the Identify Namespace data structure.
pub(crate) struct IdNs {
    /// Namespace Size, in logical blocks.
    pub(crate) nsze: u64,
    /// Namespace Features.
    pub(crate) nsfeat: u8,
    /// Namespace Preferred Deallocate Granularity and Alignment, in
    /// logical blocks, 0's based.
    pub(crate) npdg: u16,
    pub(crate) npda: u16,
    /// The logical block size, as a power of two.
    pub(crate) lba_shift: u32,
    /// Metadata bytes per logical block of the format in use.
    pub(crate) metadata: u16,
    /// Namespace Atomic Write Unit Power Fail, Atomic Boundary Size Power
    /// Fail (logical blocks, 0's based) and Atomic Boundary Offset.
    pub(crate) nawupf: u16,
    pub(crate) nabspf: u16,
    pub(crate) nabo: u16,
}

impl IdNs {
    /// The preferred granularity of discards in bytes, for `vs`, the
    /// controller's version, as C nvme computes it: the larger of NPDG and
    /// NPDA if the namespace reports them (NSFEAT OPTPERF), otherwise a
    /// logical block. (rnvme does not read NPDGL and NPDAL, which NVMe 2.1
    /// controllers may report in the NVM command set's namespace data.)
    pub(crate) fn discard_granularity(&self, vs: u32) -> u32 {
        let mask = if vs >= 0x0002_0100 { 0x3 } else { 0x1 };
        let optperf = (self.nsfeat >> 4) & mask;
        let npdg = if optperf & 0x1 != 0 {
            u32::from(self.npdg) + 1
        } else {
            1
        };
        let npda = if optperf != 0 {
            u32::from(self.npda) + 1
        } else {
            1
        };
        let block = 1u32 << self.lba_shift;
        npdg.max(npda).checked_mul(block).unwrap_or(block)
    }

    /// What the namespace writes atomically, as C nvme computes it: (the
    /// most bytes, the largest unit, the boundary or 0). NAWUPF blocks
    /// within NABSPF blocks if the namespace reports them (NSFEAT bit 1),
    /// otherwise one logical block, whatever the controller's AWUPF says,
    /// as in C. [`None`] if the boundaries have an offset (NABO), which C
    /// does not take either, or the sizes overflow.
    pub(crate) fn atomic_writes(&self) -> Option<(u32, u32, u32)> {
        if self.nabo != 0 {
            return None;
        }
        let block = 1u32.checked_shl(self.lba_shift)?;
        let (bytes, boundary) = if self.nsfeat & NSFEAT_ATOMICS != 0 && self.nawupf != 0 {
            let bytes = (u32::from(self.nawupf) + 1).checked_mul(block)?;
            let boundary = match self.nabspf {
                0 => 0,
                nabspf => (u32::from(nabspf) + 1).checked_mul(block)?,
            };
            (bytes, boundary)
        } else {
            (block, 0)
        };
        Some((bytes, 1 << bytes.checked_ilog2()?, boundary))
    }

    /// Parses the 4096 bytes of Identify Namespace data.
    pub(crate) fn parse(data: &[u8]) -> Result<Self> {
        if data.len() < 4096 {
            return Err(EINVAL);
        }
        let flbas = data[26];
        // Bits 3:0 and 6:5 select the LBA format.
        let format = usize::from((flbas & 0xf) | ((flbas >> 1) & 0x30));
        if format > 63 {
            return Err(EINVAL);
        }
        let lbaf = le32(data, 128 + 4 * format);
        Ok(Self {
            nsze: le64(data, 0),
            nsfeat: data[24],
            nawupf: le16(data, 36),
            nabo: le16(data, 42),
            nabspf: le16(data, 44),
            npdg: le16(data, 68),
            npda: le16(data, 70),
            lba_shift: (lbaf >> 16) & 0xff,
            metadata: (lbaf & 0xffff) as u16,
        })
    }
}
