// SPDX-License-Identifier: GPL-2.0

//! A process: an open file of a binderlike device, with its threads, nodes,
//! references, receive buffer and work.
//!
//! Locking: each process has one lock, `inner`. No code holds two processes'
//! locks at once (an operation across processes takes them one after the
//! other), and none touches user memory with one held. The lock of the
//! context's manager is never held while a process lock is taken.

use crate::{
    buffer::{
        Allocator,
        Buffer,
        Mapping, //
    },
    defs::*,
    node::{
        Death,
        Need,
        Node,
        Ref, //
    },
    queue::Queue,
    transaction::{
        StackEntry,
        ThreadId,
        Transaction,
        Work, //
    },
    user_error, Context, Held, Out,
};
use core::mem::{
    replace,
    size_of,
    take, //
};
use kernel::{
    alloc::{
        flags::GFP_KERNEL_ACCOUNT,
        AllocError, //
    },
    cred::Credential,
    fs::{
        file::{
            self,
            CurrentFds,
            FileDescriptorReservation, //
        },
        File, //
    },
    mm::virt::VmaNew,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNode,
        RBTreeNodeReservation, //
    },
    security,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        poll::{
            PollCondVarBox,
            PollMask,
            PollTable, //
        },
        Arc,
        ArcBorrow,
        Mutex, //
    },
    task::{
        Kuid,
        Pid, //
    },
    uaccess::{
        UserPtr,
        UserSlice,
        UserSliceReader, //
    },
};

/// Looper states of a thread, as C binder's.
const LOOPER_REGISTERED: u32 = 1 << 0;
const LOOPER_ENTERED: u32 = 1 << 1;
const LOOPER_EXITED: u32 = 1 << 2;
const LOOPER_INVALID: u32 = 1 << 3;
const LOOPER_POLL: u32 = 1 << 4;

/// The most bytes of returns one read gives, and the room a read needs
/// left to take another work item (a transaction and its command, or a
/// node's reference returns).
const OUT_MAX: usize = 512;
const OUT_ITEM: usize = 4 * 21;

/// What one process may hold, so that a hostile one cannot exhaust memory
/// (C binder has only the memory cgroup's limit): its nodes, its references,
/// and the transactions queued for it and not read yet.
const MAX_NODES: usize = 1 << 15;
const MAX_REFS: usize = 1 << 15;
const MAX_PENDING: usize = 1 << 13;

/// Transaction numbers, for `BINDER_GET_EXTENDED_ERROR`.
static NEXT_ID: Atomic<u32> = Atomic::new(1);
/// Node numbers.
static NEXT_NODE: Atomic<u64> = Atomic::new(1);

/// A descriptor reserved for a file a transaction carries, and where in the
/// reader's buffer its number goes.
struct FdFixup {
    at: usize,
    fd: FileDescriptorReservation,
    file: ARef<File>,
}

/// The calling thread, and its file descriptors.
pub(crate) struct Call<'a> {
    tid: Pid,
    fds: &'a CurrentFds<'a>,
}

/// A thread to wake once the process lock is dropped.
type Waker = Option<Arc<PollCondVarBox>>;

/// A failed transaction: the return the sender reads and the error for
/// `BINDER_GET_EXTENDED_ERROR`.
pub(crate) struct Fail {
    cmd: u32,
    err: Error,
}

fn fail(cmd: u32, err: Error) -> Fail {
    Fail { cmd, err }
}

/// The state of one thread of a process.
pub(crate) struct ThreadState {
    serial: u64,
    /// Woken when work arrives for the thread; `poll` waits on it too.
    waker: Arc<PollCondVarBox>,
    todo: Queue<Work>,
    /// Whether `todo` has work that ends a wait: not so for the
    /// `BR_TRANSACTION_COMPLETE` of a synchronous transaction, which the
    /// thread reads with the reply.
    process_todo: bool,
    /// A new thread's first read returns at once.
    need_return: bool,
    looper: u32,
    /// Waiting in a read for work of the process.
    waiting: bool,
    /// A failed transaction's return is queued: the writes stop.
    error_pending: bool,
    stack: KVec<StackEntry>,
    ee: ExtendedError,
}

impl ThreadState {
    /// Queues work for the thread; `wake` when it ends a wait.
    fn push(&mut self, work: Work, wake: bool) -> Result {
        self.todo.push(work, GFP_ATOMIC)?;
        if wake {
            self.process_todo = true;
            self.waker.notify_sync();
        }
        Ok(())
    }

    /// Queues work for the calling thread itself, which needs no waking;
    /// `ends_wait` as for [`ThreadState::push`].
    fn push_own(&mut self, work: Work, ends_wait: bool) -> Result {
        self.todo.push(work, GFP_ATOMIC)?;
        self.process_todo |= ends_wait;
        Ok(())
    }

    /// Queues work that ends a wait, and gives the thread's waker: the
    /// caller wakes the thread after it drops the process lock, so that the
    /// woken thread does not find the lock held (and spin on it).
    fn push_wake_later(&mut self, work: Work) -> Result<Waker> {
        self.todo.push(work, GFP_ATOMIC)?;
        self.process_todo = true;
        Ok(Some(self.waker.clone()))
    }

    fn available_for_proc_work(&self) -> bool {
        // Not only loopers, as in C since Linux 6.x.
        self.stack.is_empty() && self.todo.is_empty()
    }
}

/// The state of a process, under its lock.
pub(crate) struct ProcessInner {
    dead: bool,
    threads: RBTree<Pid, ThreadState>,
    todo: Queue<Work>,
    /// Its nodes, by pointer.
    nodes: RBTree<u64, Arc<Node>>,
    /// Its references, by handle, and the handle of each node it refers to.
    refs: RBTree<u32, Ref>,
    handles: RBTree<u64, u32>,
    /// How many `nodes` and `refs` it has, and transactions queued for it.
    nr_nodes: usize,
    nr_refs: usize,
    nr_pending: usize,
    mapping: Option<Arc<Mapping>>,
    alloc: Allocator,
    /// `BR_DEAD_BINDER` cookies read and not yet `BC_DEAD_BINDER_DONE`.
    delivered_deaths: KVec<u64>,
    max_threads: u32,
    requested_threads: u32,
    started_threads: u32,
    next_serial: u64,
}

/// A process: the state of one open file of the device.
#[pin_data]
pub(crate) struct Process {
    ctx: Arc<Context>,
    /// The opener's thread group.
    pub(crate) pid: Pid,
    cred: ARef<Credential>,
    #[pin]
    pub(crate) inner: Mutex<ProcessInner>,
}

/// Takes the first entry of `tree`.
fn pop_first<K: Ord, V>(tree: &mut RBTree<K, V>) -> Option<V> {
    let cursor = tree.cursor_front_mut()?;
    let (_, node) = cursor.remove_current();
    Some(node.to_key_value().1)
}

/// Pointer-size alignment of the parts of a buffer.
fn align8(n: u64) -> Option<u64> {
    n.checked_add(7).map(|n| n & !7)
}

impl Process {
    pub(crate) fn new(ctx: Arc<Context>, file: &File) -> Result<Arc<Self>> {
        let cred = file.cred();
        Arc::pin_init(
            try_pin_init!(Self {
                ctx,
                pid: current!().group_leader().pid(),
                cred: cred.into(),
                inner <- new_mutex!(ProcessInner {
                    dead: false,
                    threads: RBTree::new(),
                    todo: Queue::new(),
                    nodes: RBTree::new(),
                    refs: RBTree::new(),
                    handles: RBTree::new(),
                    nr_nodes: 0,
                    nr_refs: 0,
                    nr_pending: 0,
                    mapping: None,
                    alloc: Allocator::new(),
                    delivered_deaths: KVec::new(),
                    max_threads: 0,
                    requested_threads: 0,
                    started_threads: 0,
                    next_serial: 1,
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// The calling thread's state, made if it is new.
    fn thread<'a>(inner: &'a mut ProcessInner, tid: Pid) -> Result<&'a mut ThreadState> {
        inner.threads.get_mut(&tid).ok_or(ESRCH)
    }

    fn ensure_thread(&self, tid: Pid) -> Result {
        if self.inner.lock().threads.get(&tid).is_some() {
            return Ok(());
        }
        let waker = Arc::new(
            PollCondVarBox::new(c"binderlike_thread", kernel::static_lock_class!())?,
            GFP_KERNEL_ACCOUNT,
        )?;
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        let mut inner = self.inner.lock();
        if inner.threads.get(&tid).is_none() {
            let serial = inner.next_serial;
            inner.next_serial += 1;
            inner.threads.insert(node.into_node(
                tid,
                ThreadState {
                    serial,
                    waker,
                    todo: Queue::new(),
                    process_todo: false,
                    need_return: true,
                    looper: 0,
                    waiting: false,
                    error_pending: false,
                    stack: KVec::new(),
                    ee: ExtendedError {
                        id: 0,
                        command: BR_OK,
                        param: 0,
                    },
                },
            ));
        }
        Ok(())
    }

    /// Wakes a thread that waits for work of the process, or else the
    /// threads that poll.
    fn wake_one(inner: &mut ProcessInner) {
        for (_, t) in inner.threads.iter() {
            if t.waiting {
                t.waker.notify_sync();
                return;
            }
        }
        for (_, t) in inner.threads.iter() {
            if t.looper & LOOPER_POLL != 0 && t.available_for_proc_work() {
                t.waker.notify_all();
            }
        }
    }

    /// Queues work of the process.
    fn push_proc_work(inner: &mut ProcessInner, work: Work) -> Result {
        inner.todo.push(work, GFP_ATOMIC)?;
        Self::wake_one(inner);
        Ok(())
    }

    /// Queues work of the process and gives the waker of a thread that
    /// waits for it, to wake after the lock is dropped (threads that poll
    /// are woken at once).
    fn push_proc_work_wake_later(inner: &mut ProcessInner, work: Work) -> Result<Waker> {
        inner.todo.push(work, GFP_ATOMIC)?;
        if let Some(t) = inner.threads.values().find(|t| t.waiting) {
            return Ok(Some(t.waker.clone()));
        }
        Self::wake_one(inner);
        Ok(None)
    }

    // ---- ioctls ----

    pub(crate) fn ioctl(
        this: ArcBorrow<'_, Process>,
        file: &File,
        fds: &CurrentFds<'_>,
        cmd: u32,
        arg: usize,
    ) -> Result<isize> {
        let this: Arc<Process> = this.into();
        let tid = current!().pid();
        this.ensure_thread(tid)?;
        let ret = match cmd {
            BINDER_WRITE_READ => {
                let nonblock = file.flags() & file::flags::O_NONBLOCK != 0;
                this.write_read(&Call { tid, fds }, arg, nonblock)
            }
            // As C, these fail with EINVAL when user memory cannot be
            // read or written.
            BINDER_SET_MAX_THREADS => {
                let max: u32 = UserSlice::new(UserPtr::from_addr(arg), 4)
                    .reader()
                    .read_val()
                    .map_err(|_| EINVAL)?;
                this.inner.lock().max_threads = max;
                Ok(())
            }
            BINDER_SET_CONTEXT_MGR_EXT => {
                let obj: FlatObject =
                    UserSlice::new(UserPtr::from_addr(arg), size_of::<FlatObject>())
                        .reader()
                        .read_val()
                        .map_err(|_| EINVAL)?;
                this.set_context_mgr(Some(&obj))
            }
            BINDER_SET_CONTEXT_MGR => this.set_context_mgr(None),
            BINDER_THREAD_EXIT => {
                this.thread_exit(tid);
                return Ok(0);
            }
            BINDER_VERSION => {
                let v = Version {
                    protocol_version: PROTOCOL_VERSION,
                };
                UserSlice::new(UserPtr::from_addr(arg), size_of::<Version>())
                    .writer()
                    .write_val(&v)
                    .map_err(|_| EINVAL)
            }
            BINDER_GET_NODE_INFO_FOR_REF => this.node_info_for_ref(arg),
            BINDER_ENABLE_ONEWAY_SPAM_DETECTION => {
                // Accepted, as clients treat a failure as fatal; binderlike
                // does not report oneway spam.
                let _enable: u32 = UserSlice::new(UserPtr::from_addr(arg), 4)
                    .reader()
                    .read_val()?;
                Ok(())
            }
            BINDER_GET_EXTENDED_ERROR => this.extended_error(tid, arg),
            BINDER_GET_NODE_DEBUG_INFO => this.node_debug_info(arg),
            _ => Err(EINVAL),
        };
        if let Some(t) = this.inner.lock().threads.get_mut(&tid) {
            t.need_return = false;
        }
        ret.map(|()| 0)
    }

    fn write_read(self: &Arc<Self>, call: &Call<'_>, arg: usize, nonblock: bool) -> Result {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<WriteRead>()).reader_writer();
        let mut bwr: WriteRead = reader.read_val()?;
        let mut ret = Ok(());
        if bwr.write_size > 0 {
            ret = self.write(call, &mut bwr);
            if ret.is_err() {
                bwr.read_consumed = 0;
            }
        }
        if ret.is_ok() && bwr.read_size > 0 {
            ret = self.read(call.tid, &mut bwr, nonblock);
        }
        writer.write_val(&bwr)?;
        ret
    }

    fn set_context_mgr(self: &Arc<Self>, obj: Option<&FlatObject>) -> Result {
        let mut mgr = self.ctx.manager.lock();
        if mgr.node.is_some() {
            return Err(EBUSY);
        }
        security::binder_set_context_mgr(&self.cred)?;
        let euid = self.cred.euid();
        match mgr.uid {
            Some(uid) if uid != euid => return Err(EPERM),
            _ => mgr.uid = Some(euid),
        }
        let (ptr, cookie, flags) = obj.map_or((0, 0, 0), |o| (o.binder, o.cookie, o.flags));
        // The node's reference to its owner goes in `release`, which also
        // clears the context's manager.
        let node = Node::new(
            self,
            NEXT_NODE.fetch_add(1, Relaxed),
            ptr,
            cookie,
            flags,
            true,
        )?;
        let tree_node = RBTreeNode::new(ptr, node.clone(), GFP_KERNEL_ACCOUNT)?;
        {
            let mut inner = self.inner.lock();
            node.hold_as_manager(&mut inner);
            inner.nodes.insert(tree_node);
            inner.nr_nodes += 1;
        }
        mgr.node = Some(node);
        Ok(())
    }

    fn node_info_for_ref(&self, arg: usize) -> Result {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<NodeInfoForRef>()).reader_writer();
        let mut info: NodeInfoForRef = reader.read_val()?;
        if info.strong_count != 0 || info.weak_count != 0 || info.reserved != [0; 3] {
            return Err(EINVAL);
        }
        // As C: only the context manager may ask.
        let is_mgr = self
            .ctx
            .manager
            .lock()
            .node
            .as_ref()
            .is_some_and(|n| core::ptr::eq(&*n.owner, self));
        if !is_mgr {
            return Err(EPERM);
        }
        let node = self
            .inner
            .lock()
            .refs
            .get(&info.handle)
            .filter(|r| r.strong > 0)
            .map(|r| r.node.clone())
            .ok_or(EINVAL)?;
        let (strong, weak) = node.info(&node.owner.inner.lock());
        info.strong_count = strong;
        info.weak_count = weak;
        writer.write_val(&info)
    }

    /// `BINDER_GET_NODE_DEBUG_INFO`: the first node of the process after
    /// the given pointer.
    fn node_debug_info(&self, arg: usize) -> Result {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<NodeDebugInfo>()).reader_writer();
        let asked: NodeDebugInfo = reader.read_val()?;
        let inner = self.inner.lock();
        let found = inner.nodes.values().find(|n| n.ptr > asked.ptr).cloned();
        let info = found.map_or(NodeDebugInfo::default(), |node| {
            let (strong, weak) = node.told(&inner);
            NodeDebugInfo {
                ptr: node.ptr,
                cookie: node.cookie,
                has_strong_ref: strong.into(),
                has_weak_ref: weak.into(),
            }
        });
        drop(inner);
        writer.write_val(&info)
    }

    fn extended_error(&self, tid: Pid, arg: usize) -> Result {
        let ee = {
            let mut inner = self.inner.lock();
            let t = Self::thread(&mut inner, tid)?;
            replace(
                &mut t.ee,
                ExtendedError {
                    id: 0,
                    command: BR_OK,
                    param: 0,
                },
            )
        };
        UserSlice::new(UserPtr::from_addr(arg), size_of::<ExtendedError>())
            .writer()
            .write_val(&ee)
    }

    // ---- commands ----

    fn write(self: &Arc<Self>, call: &Call<'_>, bwr: &mut WriteRead) -> Result {
        let tid = call.tid;
        if bwr.write_consumed >= bwr.write_size {
            return Ok(());
        }
        let size = bwr.write_size;
        let start = bwr
            .write_buffer
            .checked_add(bwr.write_consumed)
            .ok_or(EFAULT)?;
        let len = usize::try_from(size - bwr.write_consumed).map_err(|_| EFAULT)?;
        let mut reader = UserSlice::new(UserPtr::from_addr(start as usize), len).reader();
        // As C: nothing is written while a failed transaction's return is
        // not read.
        if Self::thread(&mut self.inner.lock(), tid)?.error_pending {
            return Ok(());
        }
        while !reader.is_empty() {
            let cmd: u32 = reader.read_val()?;
            let stop = self.command(call, cmd, &mut reader)?;
            bwr.write_consumed = size - reader.len() as u64;
            if stop {
                break;
            }
        }
        Ok(())
    }

    /// Runs command `cmd`, whose payload `reader` holds; returns whether the
    /// writes stop (a failed transaction's return is queued).
    fn command(
        self: &Arc<Self>,
        call: &Call<'_>,
        cmd: u32,
        reader: &mut UserSliceReader,
    ) -> Result<bool> {
        let tid = call.tid;
        match cmd {
            BC_INCREFS | BC_ACQUIRE | BC_RELEASE | BC_DECREFS => {
                let handle: u32 = reader.read_val()?;
                let strong = cmd == BC_ACQUIRE || cmd == BC_RELEASE;
                if cmd == BC_INCREFS || cmd == BC_ACQUIRE {
                    self.inc_handle(handle, strong)?;
                } else {
                    self.dec_ref(handle, strong);
                }
            }
            BC_INCREFS_DONE | BC_ACQUIRE_DONE => {
                let pc: PtrCookie = reader.read_val()?;
                self.ref_done(&pc, cmd == BC_ACQUIRE_DONE);
            }
            BC_FREE_BUFFER => {
                let ptr: u64 = reader.read_val()?;
                self.free_buffer(ptr);
            }
            BC_TRANSACTION | BC_REPLY => {
                let tr: TransactionData = reader.read_val()?;
                return self.transaction_or_fail(call, &tr, cmd == BC_REPLY);
            }
            BC_REGISTER_LOOPER | BC_ENTER_LOOPER | BC_EXIT_LOOPER => {
                let mut inner = self.inner.lock();
                let inner = &mut *inner;
                let requested = inner.requested_threads;
                let t = Self::thread(inner, tid)?;
                match cmd {
                    BC_REGISTER_LOOPER => {
                        let unasked = t.looper & LOOPER_ENTERED != 0 || requested == 0;
                        t.looper |= LOOPER_REGISTERED;
                        if unasked {
                            user_error!("thread {tid} registered a looper unasked");
                            t.looper |= LOOPER_INVALID;
                        } else {
                            inner.requested_threads -= 1;
                            inner.started_threads += 1;
                        }
                    }
                    BC_ENTER_LOOPER => {
                        if t.looper & LOOPER_REGISTERED != 0 {
                            t.looper |= LOOPER_INVALID;
                        }
                        t.looper |= LOOPER_ENTERED;
                    }
                    _ => t.looper |= LOOPER_EXITED,
                }
            }
            BC_REQUEST_DEATH_NOTIFICATION | BC_CLEAR_DEATH_NOTIFICATION => {
                let hc: HandleCookie = reader.read_val()?;
                let (handle, cookie) = (hc.handle, hc.cookie);
                if cmd == BC_REQUEST_DEATH_NOTIFICATION {
                    self.request_death(handle, cookie)?;
                } else {
                    self.clear_death(tid, handle, cookie)?;
                }
            }
            BC_DEAD_BINDER_DONE => {
                let cookie: u64 = reader.read_val()?;
                let mut inner = self.inner.lock();
                match inner.delivered_deaths.iter().position(|&c| c == cookie) {
                    Some(i) => drop(inner.delivered_deaths.remove(i)),
                    None => user_error!("BC_DEAD_BINDER_DONE of unknown cookie {cookie:#x}"),
                }
            }
            _ => return Err(EINVAL),
        }
        Ok(false)
    }

    // ---- references ----

    /// The process's node for `ptr`, made if it has none.
    fn get_node(self: &Arc<Self>, obj: &FlatObject) -> Result<Arc<Node>> {
        if let Some(node) = self.inner.lock().nodes.get(&obj.binder) {
            if node.cookie != obj.cookie {
                return Err(EINVAL);
            }
            return Ok(node.clone());
        }
        let node = Node::new(
            self,
            NEXT_NODE.fetch_add(1, Relaxed),
            obj.binder,
            obj.cookie,
            obj.flags,
            false,
        )?;
        let tree_node = RBTreeNode::new(obj.binder, node.clone(), GFP_KERNEL_ACCOUNT)?;
        let mut inner = self.inner.lock();
        if inner.dead {
            return Err(ESRCH);
        }
        if let Some(other) = inner.nodes.get(&obj.binder) {
            // Made meanwhile by another thread.
            return Ok(other.clone());
        }
        if inner.nr_nodes >= MAX_NODES {
            return Err(ENOSPC);
        }
        inner.nodes.insert(tree_node);
        inner.nr_nodes += 1;
        Ok(node)
    }

    /// Takes a reference to `node`, strong or weak, made if the process has
    /// none; returns its handle. The owner's reference work goes to thread
    /// `to` of the owner if given (the sender of the node), else to the
    /// owner's process work.
    fn inc_ref(&self, node: &Arc<Node>, strong: bool, to: Option<Pid>) -> Result<u32> {
        let ref_node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        let handle_node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
        let (handle, created, first_strong) = {
            let mut inner = self.inner.lock();
            if inner.dead {
                return Err(ESRCH);
            }
            if let Some(&h) = inner.handles.get(&node.id) {
                let r = inner.refs.get_mut(&h).ok_or(EINVAL)?;
                if strong {
                    r.strong += 1;
                } else {
                    r.weak += 1;
                }
                (h, false, strong && r.strong == 1)
            } else {
                if inner.nr_refs >= MAX_REFS {
                    return Err(ENOSPC);
                }
                inner.nr_refs += 1;
                let h = if node.manager {
                    0
                } else {
                    let mut h = 1;
                    for &k in inner.refs.keys() {
                        if k == h {
                            h += 1;
                        } else if k > h {
                            break;
                        }
                    }
                    h
                };
                inner.refs.insert(ref_node.into_node(
                    h,
                    Ref {
                        node: node.clone(),
                        strong: strong.into(),
                        weak: (!strong).into(),
                        death: None,
                    },
                ));
                inner.handles.insert(handle_node.into_node(node.id, h));
                (h, true, strong)
            }
        };
        let mut owner = node.owner.inner.lock();
        let mut need = Need::Nothing;
        if created {
            need = need.or(node.inc(&mut owner, false, true));
        }
        if first_strong {
            need = need.or(node.inc(&mut owner, true, true));
        }
        Self::queue_node_work(&mut owner, node, need, to)?;
        Ok(handle)
    }

    /// Queues the reference work of `node`, if `need`s, for its owner, whose
    /// lock `owner` is.
    fn queue_node_work(
        owner: &mut ProcessInner,
        node: &Arc<Node>,
        need: Need,
        to: Option<Pid>,
    ) -> Result {
        if let Need::Work = need {
            if owner.dead {
                return Ok(());
            }
            match to.and_then(|tid| owner.threads.get_mut(&tid)) {
                // Read with the sender's `BR_TRANSACTION_COMPLETE`.
                Some(t) => t.push(Work::Node(node.clone()), false)?,
                None => Self::push_proc_work(owner, Work::Node(node.clone()))?,
            }
        }
        Ok(())
    }

    /// `BC_INCREFS`/`BC_ACQUIRE` on `handle`; on handle 0 they make the
    /// reference to the context manager.
    fn inc_handle(&self, handle: u32, strong: bool) -> Result {
        let node = if handle == 0 {
            let mgr = self.ctx.manager.lock().node.clone();
            match mgr {
                Some(n) if core::ptr::eq(&*n.owner, self) => {
                    user_error!("the context manager acquiring handle 0");
                    return Err(EINVAL);
                }
                Some(n) => n,
                None => {
                    user_error!("BC_INCREFS/BC_ACQUIRE on handle 0 without a manager");
                    return Ok(());
                }
            }
        } else {
            // As C, a strong increment needs a strong reference.
            match self.inner.lock().refs.get(&handle) {
                Some(r) if !strong || r.strong > 0 => r.node.clone(),
                _ => {
                    user_error!("reference increment on invalid handle {handle}");
                    return Ok(());
                }
            }
        };
        match self.inc_ref(&node, strong, None) {
            Ok(_) | Err(ESRCH) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Drops a strong or weak reference of `handle`.
    fn dec_ref(&self, handle: u32, strong: bool) {
        let (node, last_strong, deleted, death) = {
            let mut inner = self.inner.lock();
            let Some(r) = inner.refs.get_mut(&handle) else {
                user_error!("reference decrement on unknown handle {handle}");
                return;
            };
            let count = if strong { &mut r.strong } else { &mut r.weak };
            if *count == 0 {
                user_error!("reference decrement below zero on handle {handle}");
                return;
            }
            *count -= 1;
            let last_strong = strong && r.strong == 0;
            if r.strong == 0 && r.weak == 0 {
                let r = inner.refs.remove(&handle);
                inner.nr_refs = inner.nr_refs.saturating_sub(1);
                let Some(r) = r else { return };
                inner.handles.remove(&r.node.id);
                (r.node, last_strong, true, r.death)
            } else {
                (r.node.clone(), last_strong, false, None)
            }
        };
        self.drop_node_ref(&node, last_strong, deleted, death);
    }

    /// Applies the end of a strong reference (`last_strong`) and of a
    /// whole reference (`deleted`, with its death notification) to the node.
    fn drop_node_ref(
        &self,
        node: &Arc<Node>,
        last_strong: bool,
        deleted: bool,
        death: Option<u64>,
    ) {
        let mut owner = node.owner.inner.lock();
        let mut need = Need::Nothing;
        if last_strong {
            need = need.or(node.dec(&mut owner, true, true));
        }
        let mut cleared = None;
        if deleted {
            need = need.or(node.dec(&mut owner, false, true));
            if let Some(cookie) = death {
                cleared = self.take_death(node, &mut owner, cookie);
            }
        }
        // Work that cannot be queued is lost only with the memory it needs.
        let _ = Self::queue_node_work(&mut owner, node, need, None);
        drop(owner);
        self.release_death(cleared);
    }

    /// Takes this process's death notification with `cookie` off `node`,
    /// whose owner's lock `owner` is.
    fn take_death(&self, node: &Node, owner: &mut ProcessInner, cookie: u64) -> Option<Death> {
        node.state_mut(owner)
            .deaths
            .take_first(|d| core::ptr::eq(&*d.holder, self) && d.cookie == cookie)
    }

    /// Gives back the room a death notification taken off its node had in
    /// this process's work.
    fn release_death(&self, death: Option<Death>) {
        if let Some(d) = death {
            let mut inner = self.inner.lock();
            // A dead process's work went with its queue (`release`), and
            // the room with it.
            if !inner.dead {
                inner.todo.release(d.room);
            }
        }
    }

    /// `BC_INCREFS_DONE`/`BC_ACQUIRE_DONE`.
    fn ref_done(&self, pc: &PtrCookie, strong: bool) {
        let mut inner = self.inner.lock();
        let Some(node) = inner.nodes.get(&pc.ptr).cloned() else {
            user_error!("reference done for unknown node {:#x}", pc.ptr);
            return;
        };
        let need = if node.cookie == pc.cookie {
            node.done(&mut inner, strong)
        } else {
            None
        };
        let Some(need) = need else {
            user_error!("reference done for node {:#x} that asked none", pc.ptr);
            return;
        };
        let _ = Self::queue_node_work(&mut inner, &node, need, None);
    }

    fn request_death(self: &Arc<Self>, handle: u32, cookie: u64) -> Result {
        // With room reserved in this process's work for the `BR_DEAD_BINDER`:
        // queuing it when the owner dies cannot fail then.
        let (node, room) = {
            let mut inner = self.inner.lock();
            let inner = &mut *inner;
            let Some(r) = inner.refs.get_mut(&handle) else {
                user_error!("death notification on unknown handle {handle}");
                return Ok(());
            };
            if r.death.is_some() {
                user_error!("death notification already set on handle {handle}");
                return Ok(());
            }
            let room = inner.todo.reserve(GFP_KERNEL)?;
            r.death = Some(cookie);
            (r.node.clone(), room)
        };
        let mut owner = node.owner.inner.lock();
        if owner.dead {
            drop(owner);
            let mut inner = self.inner.lock();
            inner.todo.push_reserved(Work::DeadBinder(cookie), room);
            Self::wake_one(&mut inner);
            return Ok(());
        }
        let deaths = &mut node.state_mut(&mut owner).deaths;
        match deaths.reserve(GFP_KERNEL) {
            Ok(slot) => {
                let death = Death {
                    holder: self.clone(),
                    cookie,
                    room,
                };
                deaths.push_reserved(death, slot);
                Ok(())
            }
            Err(e) => {
                drop(owner);
                let mut inner = self.inner.lock();
                inner.todo.release(room);
                if let Some(r) = inner.refs.get_mut(&handle) {
                    r.death = None;
                }
                Err(e.into())
            }
        }
    }

    fn clear_death(&self, tid: Pid, handle: u32, cookie: u64) -> Result {
        let node = {
            let mut inner = self.inner.lock();
            let Some(r) = inner.refs.get_mut(&handle) else {
                user_error!("death notification cleared on unknown handle {handle}");
                return Ok(());
            };
            if r.death != Some(cookie) {
                user_error!("death notification cleared with a wrong cookie on handle {handle}");
                return Ok(());
            }
            r.death = None;
            r.node.clone()
        };
        let cleared = self.take_death(&node, &mut node.owner.inner.lock(), cookie);
        self.release_death(cleared);
        let mut inner = self.inner.lock();
        Self::thread(&mut inner, tid)?.push(Work::ClearDeathDone(cookie), true)
    }

    // ---- buffers ----

    /// `BC_FREE_BUFFER`: an address that is no delivered buffer is logged
    /// and ignored, as C does.
    fn free_buffer(&self, ptr: u64) {
        let (offset, clear, taken) = {
            let mut inner = self.inner.lock();
            let inner = &mut *inner;
            let Some(mapping) = inner.mapping.as_ref() else {
                user_error!("BC_FREE_BUFFER {ptr:#x} without a buffer");
                return;
            };
            let offset = ptr.wrapping_sub(mapping.base) as usize;
            let Some(buffer) = inner.alloc.buffers.get_mut(&offset).filter(|b| b.delivered) else {
                user_error!("BC_FREE_BUFFER of unknown buffer {ptr:#x}");
                return;
            };
            if buffer.clear {
                // No longer the receiver's (freeing it again is refused),
                // and zeroed below while its range is still reserved.
                buffer.delivered = false;
                (offset, Some((buffer.size, mapping.clone())), None)
            } else {
                (offset, None, Self::take_buffer(inner, offset))
            }
        };
        let buffer = match clear {
            Some((size, mapping)) => {
                // The range is within the mapping it was allocated in.
                let _ = mapping.zero(offset, size);
                Self::take_buffer(&mut self.inner.lock(), offset)
            }
            None => taken,
        };
        if let Some(buffer) = buffer {
            self.release_held(buffer.held);
        }
    }

    /// Zeroes the buffer at `offset` if its sender asked for that
    /// (`TF_CLEAR_BUF`), as C does when it frees one. Called while the range
    /// is still reserved: zeroed after it was given back, it could wipe a
    /// transaction written there since.
    fn clear_buffer(&self, offset: usize) {
        let clear = {
            let inner = self.inner.lock();
            inner
                .alloc
                .buffers
                .get(&offset)
                .filter(|b| b.clear)
                .map(|b| b.size)
                .zip(inner.mapping.clone())
        };
        if let Some((size, mapping)) = clear {
            // The range is within the mapping it was allocated in.
            let _ = mapping.zero(offset, size);
        }
    }

    /// Removes the buffer at `offset`; a oneway transaction's buffer lets
    /// the next oneway transaction of its node go.
    fn take_buffer(inner: &mut ProcessInner, offset: usize) -> Option<Buffer> {
        let buffer = inner.alloc.buffers.remove(&offset)?;
        {
            if buffer.oneway {
                inner.alloc.async_free += buffer.size;
                if let Some(node) = &buffer.node {
                    match node.state_mut(inner).async_todo.pop() {
                        None => node.state_mut(inner).async_busy = false,
                        Some((next, room)) => {
                            inner.todo.push_reserved(Work::Transaction(next), room);
                            Self::wake_one(inner);
                        }
                    }
                }
            }
        }
        Some(buffer)
    }

    /// Queues oneway transaction `t` behind the one its node is handling,
    /// with room reserved in the process's work for when that one is freed:
    /// moving `t` there then cannot fail.
    fn queue_oneway(
        inner: &mut ProcessInner,
        node: &Node,
        t: Arc<Transaction>,
    ) -> Result<(), AllocError> {
        let slot = node.state_mut(inner).async_todo.reserve(GFP_KERNEL)?;
        match inner.todo.reserve(GFP_ATOMIC) {
            Ok(room) => {
                node.state_mut(inner)
                    .async_todo
                    .push_reserved((t, room), slot);
                Ok(())
            }
            Err(e) => {
                node.state_mut(inner).async_todo.release(slot);
                Err(e)
            }
        }
    }

    /// Releases the references that a buffer's objects held.
    fn release_held(&self, held: KVec<Held>) {
        for h in held {
            match h {
                Held::Node { node, strong } => {
                    let mut owner = node.owner.inner.lock();
                    let need = node.dec(&mut owner, strong, false);
                    let _ = Self::queue_node_work(&mut owner, &node, need, None);
                }
                Held::Ref { handle, strong } => self.dec_ref(handle, strong),
                Held::File { .. } | Held::Installed => {}
            }
        }
    }

    /// Removes `size` bytes at `offset` from the buffer, for a transaction
    /// that failed, and releases what its objects held.
    fn unreserve(&self, offset: usize, held: KVec<Held>) {
        self.clear_buffer(offset);
        let removed = self.inner.lock().alloc.buffers.remove(&offset);
        if let Some(b) = removed {
            if b.oneway {
                self.inner.lock().alloc.async_free += b.size;
            }
        }
        self.release_held(held);
    }

    // ---- transactions ----

    fn transaction_or_fail(
        self: &Arc<Self>,
        call: &Call<'_>,
        tr: &TransactionData,
        reply: bool,
    ) -> Result<bool> {
        let tid = call.tid;
        let id = NEXT_ID.fetch_add(1, Relaxed);
        let result = self.transaction(call, id, tr, reply);
        let mut inner = self.inner.lock();
        let t = Self::thread(&mut inner, tid)?;
        match result {
            // A failed reply: the replier's extended error is that of a
            // successful one.
            Ok(())
            | Err(Fail {
                cmd: BR_TRANSACTION_COMPLETE,
                ..
            }) if reply => {
                t.ee = ExtendedError {
                    id,
                    command: BR_OK,
                    param: 0,
                };
                if let Err(f) = result {
                    t.error_pending = true;
                    t.push(Work::Error(f.cmd), true)?;
                    return Ok(true);
                }
                Ok(false)
            }
            Ok(()) => {
                t.ee = ExtendedError {
                    id,
                    command: BR_OK,
                    param: 0,
                };
                Ok(false)
            }
            Err(f) => {
                t.ee = ExtendedError {
                    id,
                    command: f.cmd,
                    param: f.err.to_errno(),
                };
                t.error_pending = true;
                t.push(Work::Error(f.cmd), true)?;
                Ok(true)
            }
        }
    }

    fn transaction(
        self: &Arc<Self>,
        call: &Call<'_>,
        id: u32,
        tr: &TransactionData,
        reply: bool,
    ) -> Result<(), Fail> {
        let tid = call.tid;
        let oneway = !reply && tr.flags & TF_ONE_WAY != 0;
        // The target: the sender of the transaction replied to, or the node.
        let (target, node, to_thread, from_parent, in_reply_to) = if reply {
            let t = {
                let mut inner = self.inner.lock();
                let th = Self::thread(&mut inner, tid).map_err(|e| fail(BR_FAILED_REPLY, e))?;
                match th.stack.last() {
                    Some(StackEntry::Incoming(_)) => {}
                    _ => return Err(fail(BR_FAILED_REPLY, EPROTO)),
                }
                match th.stack.pop() {
                    Some(StackEntry::Incoming(t)) => t,
                    _ => return Err(fail(BR_FAILED_REPLY, EPROTO)),
                }
            };
            let Some(from) = t.from.clone() else {
                return Err(fail(BR_FAILED_REPLY, EPROTO));
            };
            (from.process.clone(), None, Some(from), None, Some(t))
        } else {
            let node = if tr.handle() == 0 {
                self.ctx
                    .manager
                    .lock()
                    .node
                    .clone()
                    .ok_or(fail(BR_DEAD_REPLY, EINVAL))?
            } else {
                // As C, a transaction needs a strong reference.
                self.inner
                    .lock()
                    .refs
                    .get(&tr.handle())
                    .filter(|r| r.strong > 0)
                    .map(|r| r.node.clone())
                    .ok_or(fail(BR_FAILED_REPLY, EINVAL))?
            };
            // As C, not to a node of the same process, even through
            // another file.
            if node.owner.pid == self.pid {
                return Err(fail(BR_FAILED_REPLY, EINVAL));
            }
            let target = node.owner.clone();
            let (to_thread, from_parent) = if oneway {
                (None, None)
            } else {
                let mut inner = self.inner.lock();
                let th = Self::thread(&mut inner, tid).map_err(|e| fail(BR_FAILED_REPLY, e))?;
                let parent = match th.stack.last() {
                    None => None,
                    Some(StackEntry::Incoming(t)) => Some(t.clone()),
                    // A thread that waits for a reply sends no transaction.
                    Some(StackEntry::Outgoing) => return Err(fail(BR_FAILED_REPLY, EPROTO)),
                };
                // A call back into a process whose thread waits in this
                // chain of calls goes to that thread.
                let mut to = None;
                let mut at = parent.clone();
                while let Some(t) = at {
                    if let Some(from) = &t.from {
                        if Arc::ptr_eq(&from.process, &target) {
                            to = Some(from.clone());
                            break;
                        }
                    }
                    at = t.from_parent.clone();
                }
                (to, parent)
            };
            (target, Some(node), to_thread, from_parent, None)
        };
        // Files go where the target said it takes them: the node's flag,
        // or the flag of the transaction replied to.
        let accept_fds = match (&node, &in_reply_to) {
            (Some(node), _) => node.accept_fds,
            (None, Some(t)) => t.flags & TF_ACCEPT_FDS != 0,
            (None, None) => false,
        };
        let result = self.send(
            call,
            tr,
            &target,
            node,
            to_thread,
            from_parent,
            oneway,
            accept_fds,
        );
        if let (Err(f), Some(t)) = (&result, in_reply_to) {
            // The sender of the transaction replied to learns the reply
            // failed; the replier gets `BR_TRANSACTION_COMPLETE`, as in C.
            let ee = ExtendedError {
                id,
                command: f.cmd,
                param: f.err.to_errno(),
            };
            Self::fail_transaction(&t, f.cmd, Some(ee));
            return Err(fail(BR_TRANSACTION_COMPLETE, f.err));
        }
        result
    }

    #[expect(clippy::too_many_arguments, reason = "the parts of one transaction")]
    fn send(
        self: &Arc<Self>,
        call: &Call<'_>,
        tr: &TransactionData,
        target: &Arc<Self>,
        node: Option<Arc<Node>>,
        to_thread: Option<ThreadId>,
        from_parent: Option<Arc<Transaction>>,
        oneway: bool,
        accept_fds: bool,
    ) -> Result<(), Fail> {
        let tid = call.tid;
        let reply = node.is_none();
        // Binderlike has no security contexts: as C where no LSM gives one,
        // transactions to a node that asks for them fail.
        if node.as_ref().is_some_and(|n| n.secctx) {
            return Err(fail(BR_FAILED_REPLY, EOPNOTSUPP));
        }
        let serial = {
            let mut inner = self.inner.lock();
            Self::thread(&mut inner, tid)
                .map_err(|e| fail(BR_FAILED_REPLY, e))?
                .serial
        };
        security::binder_transaction(&self.cred, &target.cred)
            .map_err(|e| fail(BR_FAILED_REPLY, e))?;
        if tr.offsets_size % 8 != 0 {
            return Err(fail(BR_FAILED_REPLY, EINVAL));
        }
        let data_aligned = align8(tr.data_size).ok_or(fail(BR_FAILED_REPLY, EINVAL))?;
        let size = align8(tr.offsets_size)
            .and_then(|o| o.checked_add(data_aligned))
            .and_then(|s| usize::try_from(s).ok())
            .ok_or(fail(BR_FAILED_REPLY, EINVAL))?
            .max(8);
        // Reserve the range in the target's buffer.
        let res =
            RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT).map_err(|e| fail(BR_FAILED_REPLY, e))?;
        let (offset, mapping) = {
            let mut ti = target.inner.lock();
            if ti.dead {
                return Err(fail(BR_DEAD_REPLY, ESRCH));
            }
            let Some(mapping) = ti.mapping.clone() else {
                return Err(fail(BR_DEAD_REPLY, ESRCH));
            };
            if oneway && ti.alloc.async_free < size {
                return Err(fail(BR_FAILED_REPLY, ENOSPC));
            }
            let offset = ti
                .alloc
                .find(size, mapping.size)
                .ok_or(fail(BR_FAILED_REPLY, ENOSPC))?;
            if oneway {
                ti.alloc.async_free -= size;
            }
            ti.alloc.buffers.insert(res.into_node(
                offset,
                Buffer {
                    size,
                    oneway,
                    delivered: false,
                    node: None,
                    held: KVec::new(),
                    clear: tr.flags & TF_CLEAR_BUF != 0,
                },
            ));
            (offset, mapping)
        };
        let mut held = KVec::new();
        let result = self.fill(
            &mapping,
            offset,
            tr,
            data_aligned,
            target,
            call,
            &mut held,
            accept_fds,
        );
        if let Err(e) = result {
            target.unreserve(offset, held);
            return Err(fail(BR_FAILED_REPLY, e));
        }
        let t = Arc::new(
            Transaction {
                from: (!reply && !oneway).then(|| ThreadId {
                    process: self.clone(),
                    tid,
                    serial,
                }),
                from_parent,
                node: node.clone(),
                code: tr.code,
                flags: tr.flags & TF_PASSED,
                sender_pid: if reply || oneway { 0 } else { self.pid },
                sender_euid: Kuid::current_euid(),
                offset,
                data_size: tr.data_size,
                offsets_size: tr.offsets_size,
            },
            GFP_KERNEL,
        );
        let t = match t {
            Ok(t) => t,
            Err(e) => {
                target.unreserve(offset, held);
                return Err(fail(BR_FAILED_REPLY, e.into()));
            }
        };
        self.deliver(tid, t, target, to_thread, oneway, held)
    }

    /// Copies a transaction's data and offsets into the target's buffer at
    /// `offset`, and translates its objects for the target.
    #[expect(clippy::too_many_arguments, reason = "the parts of one transaction")]
    fn fill(
        self: &Arc<Self>,
        mapping: &Mapping,
        offset: usize,
        tr: &TransactionData,
        data_aligned: u64,
        target: &Arc<Self>,
        call: &Call<'_>,
        held: &mut KVec<Held>,
        accept_fds: bool,
    ) -> Result {
        let data_size = usize::try_from(tr.data_size)?;
        let offsets_size = usize::try_from(tr.offsets_size)?;
        let mut reader = UserSlice::new(UserPtr::from_addr(tr.buffer as usize), data_size).reader();
        mapping.copy_from_user(offset, &mut reader, data_size)?;
        let offsets_at = offset + data_aligned as usize;
        let mut reader =
            UserSlice::new(UserPtr::from_addr(tr.offsets as usize), offsets_size).reader();
        mapping.copy_from_user(offsets_at, &mut reader, offsets_size)?;
        let obj_size = size_of::<FlatObject>();
        let mut min = 0usize;
        for i in 0..offsets_size / 8 {
            let mut raw = [0u8; 8];
            mapping.read(offsets_at + i * 8, &mut raw)?;
            // The errors are C's: an offset before the end of the previous
            // object or past the data is a bad data pointer (EFAULT), a
            // misaligned one or an object past the data a bad object.
            let at = usize::try_from(u64::from_ne_bytes(raw)).map_err(|_| EFAULT)?;
            if at < min || at > data_size {
                return Err(EFAULT);
            }
            if at % 4 != 0 || at.checked_add(obj_size).is_none_or(|end| end > data_size) {
                return Err(EINVAL);
            }
            min = at + obj_size;
            let mut obj = FlatObject::default();
            mapping.read(offset + at, obj.as_mut_bytes())?;
            self.translate(&mut obj, offset + at, target, call, held, accept_fds)?;
            mapping.write(offset + at, obj.as_bytes())?;
        }
        Ok(())
    }

    /// Translates one object for `target`: a node of the sender becomes a
    /// handle of the target, a handle the node itself (at its owner) or a
    /// handle of the target.
    fn translate(
        self: &Arc<Self>,
        obj: &mut FlatObject,
        at: usize,
        target: &Arc<Self>,
        call: &Call<'_>,
        held: &mut KVec<Held>,
        accept_fds: bool,
    ) -> Result {
        let tid = call.tid;
        held.reserve(1, GFP_KERNEL)?;
        match obj.kind {
            BINDER_TYPE_BINDER | BINDER_TYPE_WEAK_BINDER => {
                let strong = obj.kind == BINDER_TYPE_BINDER;
                let node = self.get_node(obj)?;
                security::binder_transfer_binder(&self.cred, &target.cred)?;
                let handle = target.inc_ref(&node, strong, Some(tid))?;
                held.push(Held::Ref { handle, strong }, GFP_KERNEL)?;
                *obj = FlatObject {
                    kind: if strong {
                        BINDER_TYPE_HANDLE
                    } else {
                        BINDER_TYPE_WEAK_HANDLE
                    },
                    flags: obj.flags,
                    binder: handle.into(),
                    cookie: 0,
                };
            }
            BINDER_TYPE_HANDLE | BINDER_TYPE_WEAK_HANDLE => {
                let strong = obj.kind == BINDER_TYPE_HANDLE;
                // A strong handle needs a strong reference, as in C.
                let node = self
                    .inner
                    .lock()
                    .refs
                    .get(&(obj.binder as u32))
                    .filter(|r| !strong || r.strong > 0)
                    .map(|r| r.node.clone())
                    .ok_or(EINVAL)?;
                security::binder_transfer_binder(&self.cred, &target.cred)?;
                if Arc::ptr_eq(&node.owner, target) {
                    {
                        let mut owner = target.inner.lock();
                        let need = node.inc(&mut owner, strong, false);
                        Self::queue_node_work(&mut owner, &node, need, None)?;
                    }
                    *obj = FlatObject {
                        kind: if strong {
                            BINDER_TYPE_BINDER
                        } else {
                            BINDER_TYPE_WEAK_BINDER
                        },
                        flags: obj.flags,
                        binder: node.ptr,
                        cookie: node.cookie,
                    };
                    held.push(Held::Node { node, strong }, GFP_KERNEL)?;
                } else {
                    let handle = target.inc_ref(&node, strong, None)?;
                    held.push(Held::Ref { handle, strong }, GFP_KERNEL)?;
                    *obj = FlatObject {
                        kind: obj.kind,
                        flags: obj.flags,
                        binder: handle.into(),
                        cookie: 0,
                    };
                }
            }
            BINDER_TYPE_FD => {
                if !accept_fds {
                    return Err(EPERM);
                }
                let file = call.fds.fget(obj.binder as u32)?;
                security::binder_transfer_file(&self.cred, &target.cred, &file)?;
                // The receiver gets a descriptor when it reads the
                // transaction; the object's `fd` is written then.
                held.push(Held::File { at: at + 8, file }, GFP_KERNEL)?;
            }
            // No scatter-gather or array objects (hwbinder's).
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    /// Queues a filled transaction for its target and the sender's
    /// `BR_TRANSACTION_COMPLETE`.
    fn deliver(
        &self,
        tid: Pid,
        t: Arc<Transaction>,
        target: &Arc<Self>,
        to_thread: Option<ThreadId>,
        oneway: bool,
        held: KVec<Held>,
    ) -> Result<(), Fail> {
        let reply = t.node.is_none();
        if !reply && !oneway {
            let mut inner = self.inner.lock();
            let th = Self::thread(&mut inner, tid).map_err(|e| fail(BR_FAILED_REPLY, e))?;
            th.stack
                .push(StackEntry::Outgoing, GFP_KERNEL)
                .map_err(|e| fail(BR_FAILED_REPLY, e.into()))?;
        }
        let queued = {
            let mut ti = target.inner.lock();
            let ti = &mut *ti;
            Self::queue_in_target(ti, &t, to_thread.as_ref(), oneway, held)
        };
        let complete_wakes = reply || oneway;
        let mut inner = self.inner.lock();
        let th = Self::thread(&mut inner, tid).map_err(|e| fail(BR_FAILED_REPLY, e))?;
        match queued {
            Ok(waker) => {
                // The sender's own `BR_TRANSACTION_COMPLETE` comes first,
                // then the target wakes: it cannot reply before.
                let res = th.push_own(Work::Complete, complete_wakes);
                drop(inner);
                if let Some(waker) = waker {
                    waker.notify_sync();
                }
                res.map_err(|e| fail(BR_FAILED_REPLY, e))
            }
            Err((f, held)) => {
                if !reply && !oneway {
                    th.stack.pop();
                }
                drop(inner);
                target.unreserve(t.offset, held);
                Err(f)
            }
        }
    }

    /// Queues `t` in its target, whose lock `ti` is; gives back what the
    /// buffer holds if it cannot.
    fn queue_in_target(
        ti: &mut ProcessInner,
        t: &Arc<Transaction>,
        to_thread: Option<&ThreadId>,
        oneway: bool,
        held: KVec<Held>,
    ) -> Result<Waker, (Fail, KVec<Held>)> {
        if ti.dead {
            return Err((fail(BR_DEAD_REPLY, ESRCH), held));
        }
        if ti.nr_pending >= MAX_PENDING {
            return Err((fail(BR_FAILED_REPLY, ENOSPC), held));
        }
        let Some(buffer) = ti.alloc.buffers.get_mut(&t.offset) else {
            return Err((fail(BR_DEAD_REPLY, ESRCH), held));
        };
        buffer.held = held;
        if oneway {
            buffer.node = t.node.clone();
        }
        let res = match (&t.node, to_thread) {
            // A reply goes to the thread that waits for it.
            (None, Some(to)) => match ti
                .threads
                .get_mut(&to.tid)
                .filter(|th| th.serial == to.serial)
            {
                Some(th) => {
                    if let Some(StackEntry::Outgoing) = th.stack.last() {
                        th.stack.pop();
                    }
                    th.push_wake_later(Work::Reply(t.clone()))
                        .map_err(|e| fail(BR_FAILED_REPLY, e))
                }
                None => Err(fail(BR_DEAD_REPLY, ESRCH)),
            },
            (None, None) => Err(fail(BR_DEAD_REPLY, ESRCH)),
            (Some(node), _) if oneway => {
                if node.state_mut(ti).async_busy {
                    Self::queue_oneway(ti, node, t.clone())
                        .map(|()| None)
                        .map_err(|e| fail(BR_FAILED_REPLY, e.into()))
                } else {
                    node.state_mut(ti).async_busy = true;
                    Self::push_proc_work_wake_later(ti, Work::Transaction(t.clone()))
                        .map_err(|e| fail(BR_FAILED_REPLY, e))
                }
            }
            (Some(_), to) => {
                match to.and_then(|to| {
                    ti.threads
                        .get_mut(&to.tid)
                        .filter(|th| th.serial == to.serial)
                }) {
                    Some(th) => th
                        .push_wake_later(Work::Transaction(t.clone()))
                        .map_err(|e| fail(BR_FAILED_REPLY, e)),
                    None => Self::push_proc_work_wake_later(ti, Work::Transaction(t.clone()))
                        .map_err(|e| fail(BR_FAILED_REPLY, e)),
                }
            }
        };
        if res.is_ok() {
            ti.nr_pending += 1;
        }
        res.map_err(|f| {
            let held = ti
                .alloc
                .buffers
                .get_mut(&t.offset)
                .map(|b| take(&mut b.held))
                .unwrap_or_default();
            (f, held)
        })
    }

    /// Tells the sender of `t`, which waits for the reply, that it failed:
    /// if the sender is gone, the sender of the transaction it was handling,
    /// as C does. `ee` is the extended error its thread takes if it has
    /// none.
    fn fail_transaction(t: &Arc<Transaction>, cmd: u32, ee: Option<ExtendedError>) {
        let mut at = Some(t.clone());
        while let Some(t) = at {
            if let Some(to) = &t.from {
                let mut inner = to.process.inner.lock();
                if let Some(th) = inner
                    .threads
                    .get_mut(&to.tid)
                    .filter(|th| th.serial == to.serial)
                {
                    if let Some(StackEntry::Outgoing) = th.stack.last() {
                        th.stack.pop();
                    }
                    if let Some(ee) = ee {
                        if th.ee.command == BR_OK {
                            th.ee = ee;
                        }
                    }
                    // Lost only with the memory it needs.
                    let _ = th.push(Work::Error(cmd), true);
                    return;
                }
            }
            at = t.from_parent.clone();
        }
    }

    // ---- reads ----

    fn read(&self, tid: Pid, bwr: &mut WriteRead, nonblock: bool) -> Result {
        let room = usize::try_from(bwr.read_size.saturating_sub(bwr.read_consumed))
            .unwrap_or(usize::MAX)
            .min(OUT_MAX);
        let mut out = Out::new(room);
        let at = bwr
            .read_buffer
            .checked_add(bwr.read_consumed)
            .ok_or(EFAULT)?;
        // What of `out` is already in user space.
        let mut written = 0;
        if bwr.read_consumed == 0 {
            out.put_cmd(BR_NOOP);
            // As C, a read buffer that cannot be written fails before the
            // read waits.
            UserSlice::new(UserPtr::from_addr(at as usize), out.len())
                .writer()
                .write_slice(out.bytes())?;
            written = out.len();
        }
        let mut fixups = KVec::new();
        let mut failed = KVec::new();
        let mut inner = self.inner.lock();
        let mut proc_work;
        loop {
            let inner_ref = &mut *inner;
            let th = Self::thread(inner_ref, tid)?;
            proc_work = th.available_for_proc_work();
            let has =
                th.process_todo || th.need_return || (proc_work && !inner_ref.todo.is_empty());
            if has {
                if Self::take_work(
                    &mut inner,
                    tid,
                    proc_work,
                    &mut out,
                    &mut fixups,
                    &mut failed,
                )? {
                    break;
                }
                // Nothing was taken: wait again, as C does.
                if out.len() > 4 || bwr.read_consumed != 0 {
                    break;
                }
                continue;
            }
            if nonblock {
                return Err(EAGAIN);
            }
            let th = Self::thread(&mut inner, tid)?;
            th.waiting = proc_work;
            let waker = th.waker.clone();
            let signal = waker.wait_interruptible_freezable(&mut inner);
            if let Ok(th) = Self::thread(&mut inner, tid) {
                th.waiting = false;
            }
            if signal {
                return Err(EINTR);
            }
        }
        // Ask for another looper when none waits, as C does.
        let inner_ref = &mut *inner;
        let looper = Self::thread(inner_ref, tid)?.looper;
        if inner_ref.requested_threads == 0
            && !inner_ref.threads.values().any(|t| t.waiting)
            && inner_ref.started_threads < inner_ref.max_threads
            && looper & (LOOPER_REGISTERED | LOOPER_ENTERED) != 0
        {
            inner_ref.requested_threads += 1;
            out.set_first(BR_SPAWN_LOOPER);
            written = 0;
        }
        let mapping = inner.mapping.clone();
        drop(inner);
        self.fail_delivery(failed);
        Self::install_files(mapping.as_deref(), fixups)?;
        // `out` only grows: `written` is within it.
        let rest = out.bytes().get(written..).unwrap_or(&[]);
        UserSlice::new(UserPtr::from_addr(at as usize + written), rest.len())
            .writer()
            .write_slice(rest)?;
        bwr.read_consumed += out.len() as u64;
        Ok(())
    }

    /// Writes the thread's work, then the process's if `proc_work`, into
    /// `out` until a transaction or reply or a full `out`; returns whether
    /// the read is done (anything was written or the thread must return).
    fn take_work(
        inner: &mut ProcessInner,
        tid: Pid,
        proc_work: bool,
        out: &mut Out,
        fixups: &mut KVec<FdFixup>,
        failed: &mut KVec<(Arc<Transaction>, Error)>,
    ) -> Result<bool> {
        let start = out.len();
        loop {
            // No room for another item: the read is done, even with nothing
            // read (as C; the caller reads again with more room).
            if out.room() < OUT_ITEM {
                return Ok(true);
            }
            let th = Self::thread(inner, tid)?;
            let work = match th.todo.pop() {
                Some(work) => Some(work),
                None if proc_work => inner.todo.pop(),
                None => None,
            };
            let th = Self::thread(inner, tid)?;
            if th.todo.is_empty() {
                th.process_todo = false;
            }
            let Some(work) = work else { break };
            match work {
                Work::Complete => out.put_cmd(BR_TRANSACTION_COMPLETE),
                Work::Error(cmd) => {
                    th.error_pending = false;
                    out.put_cmd(cmd);
                }
                Work::Node(node) => {
                    if node.do_work(inner, out) {
                        // Forget a node nothing refers to any more.
                        if inner
                            .nodes
                            .get(&node.ptr)
                            .is_some_and(|n| Arc::ptr_eq(n, &node))
                        {
                            inner.nodes.remove(&node.ptr);
                            inner.nr_nodes = inner.nr_nodes.saturating_sub(1);
                        }
                    }
                }
                Work::DeadBinder(cookie) => {
                    out.put(BR_DEAD_BINDER, &cookie);
                    // Kept for `BC_DEAD_BINDER_DONE`, which without it would
                    // log the cookie as unknown: the notification itself is
                    // read whatever happens here.
                    let _ = inner.delivered_deaths.push(cookie, GFP_ATOMIC);
                    break;
                }
                Work::ClearDeathDone(cookie) => out.put(BR_CLEAR_DEATH_NOTIFICATION_DONE, &cookie),
                Work::Transaction(t) | Work::Reply(t) => {
                    inner.nr_pending = inner.nr_pending.saturating_sub(1);
                    // As C: a transaction whose files the reader cannot
                    // take fails, and the reader reads on.
                    match Self::reserve_files(inner, &t) {
                        Ok(f) => *fixups = f,
                        Err(e) => {
                            failed.push((t, e), GFP_ATOMIC)?;
                            continue;
                        }
                    }
                    Self::put_transaction(inner, tid, &t, out)?;
                    break;
                }
            }
        }
        let th = Self::thread(inner, tid)?;
        Ok(out.len() > start || th.need_return)
    }

    fn put_transaction(
        inner: &mut ProcessInner,
        tid: Pid,
        t: &Arc<Transaction>,
        out: &mut Out,
    ) -> Result {
        let base = inner.mapping.as_ref().map_or(0, |m| m.base);
        if let Some(b) = inner.alloc.buffers.get_mut(&t.offset) {
            b.delivered = true;
        }
        let data = base + t.offset as u64;
        let (cmd, target, cookie) = match &t.node {
            Some(node) => (BR_TRANSACTION, node.ptr, node.cookie),
            None => (BR_REPLY, 0, 0),
        };
        let td = TransactionData {
            target,
            cookie,
            code: t.code,
            flags: t.flags,
            sender_pid: t.sender_pid,
            sender_euid: t.sender_euid.into_uid_in_current_ns(),
            data_size: t.data_size,
            offsets_size: t.offsets_size,
            buffer: data,
            offsets: data + align8(t.data_size).unwrap_or(0),
        };
        out.put(cmd, &td);
        if t.from.is_some() {
            Self::thread(inner, tid)?
                .stack
                .push(StackEntry::Incoming(t.clone()), GFP_ATOMIC)?;
        }
        Ok(())
    }

    /// Transactions that could not be delivered: their buffers go, and their
    /// senders learn it.
    fn fail_delivery(&self, failed: KVec<(Arc<Transaction>, Error)>) {
        for (t, err) in failed {
            self.clear_buffer(t.offset);
            let buffer = Self::take_buffer(&mut self.inner.lock(), t.offset);
            if let Some(b) = buffer {
                self.release_held(b.held);
            }
            if t.from.is_some() {
                let ee = ExtendedError {
                    id: 0,
                    command: BR_FAILED_REPLY,
                    param: err.to_errno(),
                };
                Self::fail_transaction(&t, BR_FAILED_REPLY, Some(ee));
            }
        }
    }

    /// Reserves a descriptor of the reader for each file the buffer of `t`
    /// carries; fails (and reserves none) if the reader has too many.
    fn reserve_files(inner: &mut ProcessInner, t: &Transaction) -> Result<KVec<FdFixup>> {
        let mut fixups = KVec::new();
        let Some(b) = inner.alloc.buffers.get_mut(&t.offset) else {
            return Ok(fixups);
        };
        for h in b.held.iter() {
            if let Held::File { at, file } = h {
                let fd = FileDescriptorReservation::get_unused_fd_flags(file::flags::O_CLOEXEC)?;
                fixups.push(
                    FdFixup {
                        at: *at,
                        fd,
                        file: file.clone(),
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        for h in b.held.iter_mut() {
            if let Held::File { .. } = h {
                *h = Held::Installed;
            }
        }
        Ok(fixups)
    }

    /// Writes the reserved descriptors into their objects and gives the
    /// files to them. With no lock held: the pages have locks of their own,
    /// which senders hold while they copy from user memory.
    fn install_files(mapping: Option<&Mapping>, fixups: KVec<FdFixup>) -> Result {
        for f in fixups {
            if let Some(mapping) = mapping {
                mapping.write(f.at, &f.fd.reserved_fd().to_ne_bytes())?;
            }
            f.fd.fd_install(f.file);
        }
        Ok(())
    }

    // ---- poll, mmap, exit ----

    pub(crate) fn poll(&self, file: &File, table: &PollTable<'_>) -> PollMask {
        let tid = current!().pid();
        if self.ensure_thread(tid).is_err() {
            return PollMask::ERR;
        }
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let Ok(th) = Self::thread(inner, tid) else {
            return PollMask::ERR;
        };
        th.looper |= LOOPER_POLL;
        let proc_work = th.available_for_proc_work();
        table.register_wait(file, &th.waker);
        if th.process_todo || th.need_return || (proc_work && !inner.todo.is_empty()) {
            PollMask::IN
        } else {
            PollMask::empty()
        }
    }

    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        // As C: by the opener, read-only, once.
        if current!().group_leader().pid() != self.pid {
            return Err(EINVAL);
        }
        if vma.writable() {
            return Err(EPERM);
        }
        vma.try_clear_maywrite()?;
        vma.set_dontcopy();
        if self.inner.lock().mapping.is_some() {
            return Err(EBUSY);
        }
        let size = (vma.end() - vma.start()).min(crate::max_buffer()) / PAGE_SIZE * PAGE_SIZE;
        let mapping = Arc::new(Mapping::new(vma, size)?, GFP_KERNEL_ACCOUNT)?;
        let mut inner = self.inner.lock();
        if inner.mapping.is_some() || inner.dead {
            return Err(EBUSY);
        }
        inner.alloc.async_free = mapping.size / 2;
        inner.mapping = Some(mapping);
        Ok(())
    }

    /// `BINDER_THREAD_EXIT`: the thread's transactions fail.
    fn thread_exit(&self, tid: Pid) {
        let thread = {
            let mut inner = self.inner.lock();
            let thread = inner.threads.remove(&tid);
            let queued = thread.as_ref().map_or(0, |th| {
                th.todo
                    .iter()
                    .filter(|w| matches!(w, Work::Transaction(_) | Work::Reply(_)))
                    .count()
            });
            inner.nr_pending = inner.nr_pending.saturating_sub(queued);
            thread
        };
        if let Some(th) = thread {
            self.release_thread(th);
        }
    }

    fn release_thread(&self, th: ThreadState) {
        for entry in th.stack {
            if let StackEntry::Incoming(t) = entry {
                Self::fail_transaction(&t, BR_DEAD_REPLY, None);
            }
        }
        for work in th.todo {
            Self::release_work(work);
        }
    }

    fn release_work(work: Work) {
        if let Work::Transaction(t) = work {
            if t.from.is_some() {
                Self::fail_transaction(&t, BR_DEAD_REPLY, None);
            }
        }
    }

    /// The file is closed: the process dies. Its pending transactions fail,
    /// the holders of its nodes' death notifications are told, and what it
    /// holds is released.
    pub(crate) fn release(&self) {
        {
            let mut mgr = self.ctx.manager.lock();
            if mgr
                .node
                .as_ref()
                .is_some_and(|n| core::ptr::eq(&*n.owner, self))
            {
                mgr.node = None;
            }
        }
        let (mut threads, todo, mut nodes, mut refs, mut buffers) = {
            let mut inner = self.inner.lock();
            inner.dead = true;
            inner.mapping = None;
            (
                take(&mut inner.threads),
                take(&mut inner.todo),
                take(&mut inner.nodes),
                take(&mut inner.refs),
                take(&mut inner.alloc.buffers),
            )
        };
        while let Some(th) = pop_first(&mut threads) {
            self.release_thread(th);
        }
        for work in todo {
            Self::release_work(work);
        }
        while let Some(node) = pop_first(&mut nodes) {
            let (deaths, queued) = {
                let mut inner = self.inner.lock();
                let s = node.state_mut(&mut inner);
                (take(&mut s.deaths), take(&mut s.async_todo))
            };
            drop(queued);
            for d in deaths {
                let mut hi = d.holder.inner.lock();
                // A dead holder's work is gone, and the room with it.
                if !hi.dead {
                    hi.todo.push_reserved(Work::DeadBinder(d.cookie), d.room);
                    Self::wake_one(&mut hi);
                }
            }
        }
        while let Some(r) = pop_first(&mut refs) {
            self.drop_node_ref(&r.node, r.strong > 0, true, r.death);
        }
        while let Some(b) = pop_first(&mut buffers) {
            // The references of the buffer's handles went with `refs`.
            for h in b.held {
                if let Held::Node { node, strong } = h {
                    let mut owner = node.owner.inner.lock();
                    let need = node.dec(&mut owner, strong, false);
                    let _ = Self::queue_node_work(&mut owner, &node, need, None);
                }
            }
        }
    }
}
