//! The control socket: the illumos ioctl ABI over a Unix stream socket.
//!
//! See `overlay::abi::ctl` for the framing. Only root peers are
//! served (checked with `SO_PEERCRED`); the socket file is mode 0600
//! besides.
//!
//! ## Serving a connection
//!
//! A connection is multiplexed, as a descriptor is on illumos, where the
//! kernel runs concurrent ioctls on one open of `/dev/overlay` in
//! parallel: its commands are served concurrently, and each reply goes
//! out with its request's id as soon as it is ready, in any order. What
//! a lookup costs here is thread handoffs (a wakeup is several
//! microseconds, tens on a small virtual machine, where the lookup
//! itself is one), so the lookup path has as few as can be:
//!
//! * The connection's thread reads requests, through a buffer (a burst
//!   is one `read`), and serves every command that cannot block right
//!   there: the `/dev/overlay` commands (RESPOND, DROP, PKT, INJECT,
//!   RESEND, the cache...) and a LOOKUP for which work is already
//!   queued ([`CtlHandle::try_lookup`]). Replies are gathered and
//!   written once no further request is buffered: one `write` per
//!   burst, and at once when the client is waiting. A quiet request
//!   (varpd's RESPOND and DROP) is answered only if it fails.
//! * A LOOKUP with nothing queued is *parked* ([`Parked`]), not given a
//!   thread to sleep in: the transmit path that queues the next entry
//!   takes it for the parked LOOKUP and writes the reply itself, so the
//!   miss reaches varpd with no handoff inside overlayd. A LOOKUP parked
//!   for a second is answered `ETIME`, as on illumos.
//! * The `/dev/dld` and host commands may take long (DELETE waits for
//!   the device's outstanding lookups, which this very connection may be
//!   about to answer; a VNIC create makes a TAP device). They go to the
//!   connection's workers, threads started on demand and kept while in
//!   use. So nothing waiting holds up a RESPOND, and varpd runs as many
//!   lookup threads on its one handle as on illumos.
//! * Every request is answered exactly once (quiet ones: at most once),
//!   unless the connection ends first. A malformed header (bad magic, a
//!   length past the limit, an unknown flag) ends the connection before
//!   anything more is read: the stream cannot be resynchronised.
//! * When the connection ends, its parked LOOKUPs are forgotten, commands
//!   still queued for a worker are dropped (nobody is there for their
//!   reply), the connection's thread waits for its workers, and the
//!   handle closes, returning its unanswered lookups to the queue.

use std::collections::VecDeque;
use std::io::{self, BufReader, Read};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use overlay::Errno;
use overlay::abi::ctl::*;
use overlay::abi::dld::DldIoctl;
use overlay::abi::targ::{FrameCopy, copy_plan};
use overlay::abi::targ::{OVERLAY_TARG_LOOKUP, OVERLAY_TARG_PKT, TargIoctl};
use overlay::driver::{Cred, CtlHandle, LOOKUP_TIMEOUT_NS, OpenFlags};
use overlay::ioctl::{TargData, dld_ioctl, targ_ioctl_timed};
use zerocopy::{FromBytes, IntoBytes};

use crate::host::Host;
use crate::platform::LinuxPlatform;

/// The listening socket. Dropping it removes the socket file.
#[derive(Debug)]
pub struct CtlServer {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl CtlServer {
    /// Binds `path` (mode 0600), creating its directory. A socket file
    /// left by a process that is gone is replaced; one that answers is
    /// not (`EADDRINUSE`).
    pub fn bind(path: &Path) -> io::Result<CtlServer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running overlayd", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(CtlServer {
            listener,
            path: path.to_owned(),
        })
    }

    /// Accepts and serves connections until `stop` is set.
    pub fn serve(&self, host: &Arc<Host>, stop: &AtomicBool) {
        while !stop.load(Relaxed) {
            match crate::tap::poll_readable(self.listener.as_raw_fd(), 200) {
                Ok(true) => {}
                _ => continue,
            }
            let Ok((conn, _)) = self.listener.accept() else {
                continue;
            };
            if !peer_is_root(&conn) {
                tracing::warn!("refused a control connection from a non-root peer");
                continue;
            }
            let host = host.clone();
            let _ = std::thread::Builder::new()
                .name("ctl".into())
                .spawn(move || {
                    if let Err(e) = serve_conn(host, conn) {
                        tracing::debug!(error = %e, "control connection closed");
                    }
                });
        }
    }
}

fn peer_is_root(conn: &UnixStream) -> bool {
    // SAFETY: all-zero ucred is valid.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED into a ucred of the given length.
    let r = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    r == 0 && cred.uid == 0
}

type Handle = Arc<CtlHandle<LinuxPlatform>>;

/// Peers are root: they hold every privilege, in the only zone.
const CRED: Cred = Cred::ROOT;

/// Workers one connection may have for `/dev/dld` and host commands.
/// Beyond that, commands wait for a worker to come free.
const MAX_WORKERS: usize = 32;

/// How long an idle worker stays for the next command.
const WORKER_IDLE: Duration = Duration::from_secs(10);

/// Request bytes read at once: a burst of RESPONDs is one `read`.
const READ_BUF: usize = 64 * 1024;

/// Replies gathered before they are written even though more requests
/// are buffered.
const REPLY_BATCH: usize = 32 * 1024;

/// A stuck client (one that stops reading its replies) gives up its
/// connection after this long, rather than holding its threads.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the expiry thread stays with no LOOKUP parked.
const EXPIRY_IDLE: Duration = Duration::from_secs(2);

/// One connection, as its reader, its workers, the expiry thread and the
/// transmit path (answering its parked LOOKUPs) share it.
struct Conn {
    host: Arc<Host>,
    out: Out,
    /// Set by `OVERLAY_HOST_OPEN`. Closed (dropped) with the last
    /// reference to the connection, after it ends.
    handle: OnceLock<Handle>,
    pool: Pool,
}

/// The sending half. Replies are appended to `pending` by whoever has
/// one, and written by whoever then holds `write`: the reader (when it
/// has no further request buffered, so that a burst of replies is one
/// `write`), a worker, the expiry thread, or the transmit path, which
/// only tries (it must not wait: if the lock is held, its holder writes
/// the new reply too; if the socket is full, a worker finishes).
struct Out {
    fd: UnixStream,
    pending: parking_lot::Mutex<Vec<u8>>,
    write: parking_lot::Mutex<Unsent>,
    /// A write failed: the connection is ending; replies are dropped.
    dead: AtomicBool,
}

/// Bytes taken from `pending` and not all written yet.
#[derive(Default)]
struct Unsent {
    buf: Vec<u8>,
    off: usize,
}

/// Whether a non-blocking flush left bytes behind.
#[derive(Debug, PartialEq, Eq)]
enum Flushed {
    /// Written, or left to the writer holding the lock.
    Done,
    /// The socket is full: a blocking flush must finish.
    Later,
}

impl Out {
    fn new(fd: UnixStream) -> Out {
        Out {
            fd,
            pending: parking_lot::Mutex::new(Vec::new()),
            write: parking_lot::Mutex::new(Unsent::default()),
            dead: AtomicBool::new(false),
        }
    }

    /// Appends one reply: on success the argument and data bytes as the
    /// driver copied them out, on failure none (as `ioctl(2)` copies
    /// nothing out); for a quiet request nothing on success, and on
    /// failure the request's argument (`quiet_arg`).
    fn push(
        &self,
        req: &ReqHdr,
        res: Result<(), Errno>,
        arg: &[u8],
        data: &[u8],
        quiet_arg: &[u8],
    ) {
        let (errno, flags, arg, data): (u32, u32, &[u8], &[u8]) = match res {
            Ok(()) if req.is_quiet() => return,
            Ok(()) => (0, 0, arg, data),
            Err(e) if req.is_quiet() => (e.0 as u32, REP_F_QUIET, quiet_arg, &[]),
            Err(e) => (e.0 as u32, 0, &[], &[]),
        };
        if self.dead.load(Relaxed) {
            return;
        }
        let rep = RepHdr {
            cmd: req.cmd,
            flags,
            ..RepHdr::new(errno, req.id, arg.len() as u32, data.len() as u32)
        };
        let mut p = self.pending.lock();
        p.extend_from_slice(rep.as_bytes());
        p.extend_from_slice(arg);
        p.extend_from_slice(data);
    }

    fn pending_len(&self) -> usize {
        self.pending.lock().len()
    }

    /// Writes what is pending. `block`: may wait for the socket (and the
    /// lock); else writes only what the socket takes now.
    fn flush(&self, block: bool) -> io::Result<Flushed> {
        loop {
            let mut w = if block {
                self.write.lock()
            } else {
                match self.write.try_lock() {
                    Some(w) => w,
                    // Its holder rechecks `pending` after letting go.
                    None => return Ok(Flushed::Done),
                }
            };
            loop {
                if w.off == w.buf.len() {
                    w.buf.clear();
                    w.off = 0;
                    std::mem::swap(&mut w.buf, &mut *self.pending.lock());
                    if w.buf.is_empty() {
                        break;
                    }
                }
                let flags = libc::MSG_NOSIGNAL | if block { 0 } else { libc::MSG_DONTWAIT };
                let rest = &w.buf[w.off..];
                // SAFETY: send(2) on our socket from a live buffer of
                // `rest.len()` bytes.
                let n = unsafe {
                    libc::send(self.fd.as_raw_fd(), rest.as_ptr().cast(), rest.len(), flags)
                };
                if n >= 0 {
                    w.off += n as usize;
                    continue;
                }
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock if !block => return Ok(Flushed::Later),
                    _ => {
                        // A reply cut short leaves the stream out of
                        // step: end the connection (the reader sees it).
                        self.dead.store(true, Relaxed);
                        let _ = self.fd.shutdown(Shutdown::Both);
                        w.buf.clear();
                        w.off = 0;
                        self.pending.lock().clear();
                        return Err(e);
                    }
                }
            }
            drop(w);
            // A reply appended by a writer that found the lock taken.
            if self.pending.lock().is_empty() {
                return Ok(Flushed::Done);
            }
        }
    }
}

impl Conn {
    fn handle(&self) -> Option<&Handle> {
        self.handle.get()
    }

    /// Writes pending replies without waiting; if the socket is full, a
    /// worker finishes.
    fn flush_nowait(self: &Arc<Self>) {
        if let Ok(Flushed::Later) = self.out.flush(false) {
            self.submit(Job::Flush);
        }
    }

    fn submit(self: &Arc<Self>, job: Job) {
        let mut st = self.pool.st.lock();
        if st.closed {
            return;
        }
        st.jobs.push_back(job);
        // Jobs not yet picked up, against workers that will pick them up
        // (a worker woken but not yet running still counts as idle).
        if st.jobs.len() <= st.idle {
            self.pool.work.notify_one();
            return;
        }
        if st.threads >= MAX_WORKERS {
            return;
        }
        let conn = self.clone();
        let spawned = std::thread::Builder::new()
            .name("ctl-worker".into())
            .spawn(move || conn.work_loop());
        match spawned {
            Ok(_) => st.threads += 1,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a control worker");
                if st.threads == 0
                    && let Some(Job::Cmd { req, .. }) = st.jobs.pop_back()
                {
                    // Nobody will run it: answer it now, as a kernel
                    // short of memory would.
                    drop(st);
                    self.out.push(&req, Err(Errno::EAGAIN), &[], &[], &[]);
                    let _ = self.out.flush(true);
                }
            }
        }
    }

    fn work_loop(&self) {
        let mut st = self.pool.st.lock();
        loop {
            if let Some(job) = st.jobs.pop_front() {
                drop(st);
                self.run_job(job);
                st = self.pool.st.lock();
                continue;
            }
            if st.closed {
                break;
            }
            st.idle += 1;
            let timed_out = self.pool.work.wait_for(&mut st, WORKER_IDLE).timed_out();
            st.idle -= 1;
            if timed_out && st.jobs.is_empty() {
                break;
            }
        }
        st.threads -= 1;
        self.pool.exited.notify_all();
    }

    fn run_job(&self, job: Job) {
        // A failed write ends the connection (see `Out::flush`).
        match job {
            Job::Cmd { req, mut arg } => {
                let res = slow_cmd(&self.host, req.cmd, &mut arg);
                self.out.push(&req, res, &arg, &[], &[]);
                let _ = self.out.flush(true);
            }
            Job::Flush => {
                let _ = self.out.flush(true);
            }
        }
    }
}

/// Work handed to a connection's workers, because it may block.
enum Job {
    /// A `/dev/dld` or host command (a DELETE waits for the lookups of
    /// the device, which this very connection may be about to answer; a
    /// VNIC create makes a TAP device).
    Cmd { req: ReqHdr, arg: Vec<u8> },
    /// Replies the transmit path could not write without waiting.
    Flush,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Job>,
    /// Workers waiting for a job.
    idle: usize,
    /// Workers alive.
    threads: usize,
    /// The connection has ended: no more jobs.
    closed: bool,
}

/// A connection's workers: started on demand, kept while busy or
/// recently so.
#[derive(Default)]
struct Pool {
    st: parking_lot::Mutex<PoolState>,
    /// A job was queued.
    work: parking_lot::Condvar,
    /// A worker exited.
    exited: parking_lot::Condvar,
}

impl Pool {
    /// Drops the queued jobs (nobody is there for their replies), stops
    /// the workers once their current job is done, and waits for them.
    fn close_and_wait(&self) {
        let mut st = self.st.lock();
        st.closed = true;
        st.jobs.clear();
        self.work.notify_all();
        while st.threads > 0 {
            self.exited.wait(&mut st);
        }
    }
}

/// A LOOKUP waiting for work.
struct ParkedLookup {
    req: ReqHdr,
    conn: Arc<Conn>,
    deadline: Instant,
}

/// LOOKUPs waiting for work, of every connection (in practice varpd's
/// one), oldest first.
///
/// On illumos a LOOKUP with nothing queued sleeps in the kernel until an
/// entry is posted, and the posting thread signals it: one thread
/// handoff before varpd even hears of the miss. Here no thread waits in
/// a LOOKUP: the connection's reader parks it, and the thread that posts
/// the entry (the transmit path, [`overlay::Platform::lookups_posted`]) takes
/// the entry for the oldest parked LOOKUP and writes the reply itself,
/// without waiting (the reply is 104 bytes; a full socket hands the
/// write to a worker). A LOOKUP still parked after a second is answered
/// `ETIME` by the expiry thread, as the illumos one times out.
///
/// A LOOKUP is tried and parked under the same lock the posting side
/// serves under, so an entry posted in between cannot be missed. Parked
/// LOOKUPs hold their connection: entries taken out are dropped outside
/// the lock, since dropping the last reference to a connection closes
/// its handle, which posts.
#[derive(Default)]
pub struct Parked {
    q: parking_lot::Mutex<ParkedQueue>,
    /// The first LOOKUP was parked.
    cv: parking_lot::Condvar,
}

#[derive(Default)]
struct ParkedQueue {
    q: VecDeque<ParkedLookup>,
    expiry_running: bool,
}

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parked")
            .field("len", &self.q.lock().q.len())
            .finish()
    }
}

impl Parked {
    /// Serves a LOOKUP now if work is queued (or it fails), else parks
    /// it. `try_now` runs the command without waiting.
    fn lookup_or_park(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        req: &ReqHdr,
        try_now: impl FnOnce() -> Result<(), Errno>,
    ) -> Option<Result<(), Errno>> {
        let mut pq = self.q.lock();
        match try_now() {
            Err(Errno::ETIME) => {}
            r => return Some(r),
        }
        pq.q.push_back(ParkedLookup {
            req: *req,
            conn: conn.clone(),
            deadline: Instant::now() + Duration::from_nanos(LOOKUP_TIMEOUT_NS),
        });
        if !pq.expiry_running {
            let me = self.clone();
            if std::thread::Builder::new()
                .name("ctl-expiry".into())
                .spawn(move || me.expire())
                .is_ok()
            {
                pq.expiry_running = true;
            }
        }
        if pq.q.len() == 1 {
            self.cv.notify_one();
        }
        None
    }

    /// Entries were posted: answers parked LOOKUPs while there is work.
    /// On the posting thread; never waits (but for the lock, which is
    /// held only for a try).
    pub fn service(&self) {
        loop {
            let (p, res) = {
                let mut pq = self.q.lock();
                let Some(front) = pq.q.front() else {
                    return;
                };
                let res = match front.conn.handle() {
                    Some(h) => h.try_lookup(),
                    None => Err(Errno::EBADF),
                };
                if res == Err(Errno::ETIME) {
                    return;
                }
                (pq.q.pop_front(), res)
            };
            let Some(p) = p else { return };
            match res {
                Ok(l) => p.conn.out.push(&p.req, Ok(()), l.as_bytes(), &[], &[]),
                Err(e) => p.conn.out.push(&p.req, Err(e), &[], &[], &[]),
            }
            p.conn.flush_nowait();
        }
    }

    /// Forgets the parked LOOKUPs of a connection that ended.
    fn remove(&self, conn: &Arc<Conn>) {
        let mut gone = Vec::new();
        {
            let mut pq = self.q.lock();
            let mut i = 0;
            while i < pq.q.len() {
                if Arc::ptr_eq(&pq.q[i].conn, conn) {
                    gone.extend(pq.q.remove(i));
                } else {
                    i += 1;
                }
            }
        }
        drop(gone);
    }

    /// The expiry thread: answers `ETIME` to LOOKUPs parked for a
    /// second; leaves when none has been parked for a while.
    fn expire(&self) {
        loop {
            let p = {
                let mut pq = self.q.lock();
                loop {
                    let now = Instant::now();
                    match pq.q.front() {
                        Some(f) if f.deadline <= now => break pq.q.pop_front(),
                        Some(f) => {
                            let d = f.deadline;
                            self.cv.wait_until(&mut pq, d);
                        }
                        None => {
                            if self.cv.wait_for(&mut pq, EXPIRY_IDLE).timed_out() && pq.q.is_empty()
                            {
                                pq.expiry_running = false;
                                return;
                            }
                        }
                    }
                }
            };
            if let Some(p) = p {
                p.conn.out.push(&p.req, Err(Errno::ETIME), &[], &[], &[]);
                p.conn.flush_nowait();
            }
        }
    }
}

/// Whether `buf` holds a whole request (so that reading it will not
/// block).
fn request_buffered(buf: &[u8]) -> bool {
    let Some(h) = buf
        .get(..size_of::<ReqHdr>())
        .and_then(|b| ReqHdr::read_from_bytes(b).ok())
    else {
        return false;
    };
    let len = size_of::<ReqHdr>() as u64 + u64::from(h.arg_len) + u64::from(h.data_len);
    buf.len() as u64 >= len
}

/// The reader's buffers, reused from one request to the next.
#[derive(Default)]
struct Scratch {
    arg: Vec<u8>,
    data: Vec<u8>,
    /// The frame of a `PKT` reply.
    pkt: Vec<u8>,
    /// A quiet request's argument as received (its failure reply).
    quiet: Vec<u8>,
}

/// Serves a connection until it ends, then ends its workers, forgets its
/// parked LOOKUPs and closes its handle (see the module documentation).
fn serve_conn(host: Arc<Host>, stream: UnixStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let parked = host.overlay.platform().parked.clone();
    let conn = Arc::new(Conn {
        host,
        out: Out::new(stream.try_clone()?),
        handle: OnceLock::new(),
        pool: Pool::default(),
    });
    let mut rd = BufReader::with_capacity(READ_BUF, stream);
    let r = read_loop(&conn, &parked, &mut rd);
    let _ = rd.get_ref().shutdown(Shutdown::Both);
    parked.remove(&conn);
    if let Some(h) = conn.handle() {
        // A LOOKUP being served by the transmit path right now finds
        // the handle closing.
        h.cancel_lookups();
    }
    conn.pool.close_and_wait();
    // Whoever still holds the connection (a parked LOOKUP being answered
    // this instant) lets go at once; then the handle closes here,
    // returning its requests to the queue before the thread ends.
    let t0 = Instant::now();
    while Arc::strong_count(&conn) > 1 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_micros(200));
    }
    drop(conn);
    r
}

fn read_loop(
    conn: &Arc<Conn>,
    parked: &Arc<Parked>,
    rd: &mut BufReader<UnixStream>,
) -> io::Result<()> {
    let mut sc = Scratch::default();
    loop {
        // About to wait for the client: let it have its replies.
        if !request_buffered(rd.buffer()) {
            conn.out.flush(true)?;
        }
        let mut hdr = [0u8; size_of::<ReqHdr>()];
        match rd.read_exact(&mut hdr) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let req = ReqHdr::read_from_bytes(&hdr).unwrap_or_default();
        if !req.is_valid() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad request header",
            ));
        }
        sc.arg.clear();
        sc.arg.resize(req.arg_len as usize, 0);
        rd.read_exact(&mut sc.arg)?;
        sc.data.clear();
        sc.data.resize(req.data_len as usize, 0);
        rd.read_exact(&mut sc.data)?;
        if req.is_quiet() {
            sc.quiet.clear();
            sc.quiet.extend_from_slice(&sc.arg);
        }
        dispatch(conn, parked, &req, &mut sc);
        if conn.out.pending_len() >= REPLY_BATCH {
            conn.out.flush(true)?;
        }
    }
}

/// Serves one command: inline if it cannot block (its reply is
/// appended), a LOOKUP with nothing queued parked, the rest through a
/// worker.
fn dispatch(conn: &Arc<Conn>, parked: &Arc<Parked>, req: &ReqHdr, sc: &mut Scratch) {
    let cmd = req.cmd;
    let host_cmd = HostCmd::from_cmd(cmd);
    if host_cmd == Some(HostCmd::Open) {
        // Inline: the handle is the connection's state.
        let res = open(conn, &sc.arg);
        conn.out.push(req, res, &sc.arg, &[], &sc.quiet);
        return;
    }
    if host_cmd.is_some() || DldIoctl::from_cmd(cmd).is_some() {
        let arg = std::mem::take(&mut sc.arg);
        conn.submit(Job::Cmd { req: *req, arg });
        return;
    }
    let res = if cmd == OVERLAY_TARG_LOOKUP
        && let Some(h) = conn.handle()
    {
        match parked.lookup_or_park(conn, req, || {
            targ_ioctl_timed(h, cmd, CRED, &mut sc.arg, TargData::None, 0)
        }) {
            Some(r) => r,
            None => return,
        }
    } else {
        targ_inline(conn, cmd, sc)
    };
    let data = if cmd == OVERLAY_TARG_PKT {
        &sc.pkt[..]
    } else {
        &[]
    };
    conn.out.push(req, res, &sc.arg, data, &sc.quiet);
}

/// A `/dev/overlay` command, without waiting. `sc.arg` becomes the
/// reply's argument bytes, and for `PKT` `sc.pkt` its data.
fn targ_inline(conn: &Conn, cmd: u32, sc: &mut Scratch) -> Result<(), Errno> {
    if TargIoctl::from_cmd(cmd).is_none() {
        return Err(Errno::ENOTTY);
    }
    let Some(h) = conn.handle() else {
        // Not opened as /dev/overlay.
        return Err(Errno::EBADF);
    };
    let arg = &mut sc.arg;
    // The request carries the fixed part only; the plan says how big
    // that is and how much frame data moves. Nothing is sized by the
    // room a LIST or CACHE_ITER announces (their arrays are output only).
    let plan = copy_plan(cmd, arg, MAX_PAYLOAD as usize)?;
    arg.truncate(plan.copy_in);
    match plan.frame {
        FrameCopy::Out(want) => {
            sc.pkt.clear();
            sc.pkt.resize(want, 0);
            let r = targ_ioctl_timed(h, cmd, CRED, arg, TargData::Out(&mut sc.pkt), 0);
            let copied = overlay::abi::targ::OverlayTargPkt::read_from_prefix(arg)
                .map(|(p, _)| p.otp_size as usize)
                .unwrap_or(0);
            sc.pkt.truncate(copied);
            r
        }
        FrameCopy::In(want) => match sc.data.get(..want) {
            Some(frame) => targ_ioctl_timed(h, cmd, CRED, arg, TargData::In(frame), 0),
            None => Err(Errno::EFAULT),
        },
        FrameCopy::None => targ_ioctl_timed(h, cmd, CRED, arg, TargData::None, 0),
    }
}

/// `OVERLAY_HOST_OPEN`.
fn open(conn: &Conn, arg: &[u8]) -> Result<(), Errno> {
    let o: HostOpen = read(arg)?;
    if conn.handle.get().is_some() {
        return Err(Errno::EBUSY);
    }
    let how = OpenFlags {
        read: o.ho_flags & FREAD != 0,
        write: o.ho_flags & FWRITE != 0,
        excl: o.ho_flags & FEXCL != 0,
    };
    let h = conn.host.overlay.open(how, CRED)?;
    // Only the reader opens, so the slot is empty.
    let _ = conn.handle.set(Arc::new(h));
    Ok(())
}

/// A `/dev/dld` or host command (not `OPEN`), on a worker. `arg` becomes
/// the reply's argument bytes.
fn slow_cmd(host: &Host, cmd: u32, arg: &mut Vec<u8>) -> Result<(), Errno> {
    if let Some(op) = DldIoctl::from_cmd(cmd) {
        // dld copies in exactly sizeof the struct.
        arg.resize(op.arg_size(), 0);
        return dld_ioctl(&host.overlay, cmd, CRED, arg);
    }
    match HostCmd::from_cmd(cmd) {
        Some(HostCmd::Open) | None => Err(Errno::ENOTTY),
        Some(HostCmd::LinkCreate) => {
            let mut l: HostLink = read(arg)?;
            let name = overlay::abi::common::cstr_field(&l.hl_name)?;
            l.hl_linkid = host.link_create(name, l.hl_class)?;
            write(arg, &l)
        }
        Some(HostCmd::LinkDelete) => host.link_delete(read::<HostLink>(arg)?.hl_linkid),
        Some(HostCmd::LinkLookup) => {
            let mut l: HostLink = read(arg)?;
            let name = overlay::abi::common::cstr_field(&l.hl_name)?;
            (l.hl_linkid, l.hl_class) = host.link_lookup(name)?;
            write(arg, &l)
        }
        Some(HostCmd::LinkList) => list_reply(arg, host.link_list()),
        Some(HostCmd::VnicCreate) => {
            let v: HostVnic = read(arg)?;
            let out = host.vnic_create(&v)?;
            write(arg, &out)
        }
        Some(HostCmd::VnicDelete) => host.vnic_delete(read::<HostVnic>(arg)?.hv_linkid),
        Some(HostCmd::VnicList) => list_reply(arg, host.vnic_list()),
        Some(HostCmd::Stats) => {
            let h: HostListHdr = read(arg)?;
            let stats: Vec<HostStat> = host
                .stats(h.hlh_linkid)?
                .into_iter()
                .map(|(name, value)| {
                    let mut s = HostStat {
                        hs_value: value,
                        ..Default::default()
                    };
                    s.hs_name[..name.len()].copy_from_slice(name.as_bytes());
                    s
                })
                .collect();
            list_reply(arg, stats)
        }
    }
}

fn read<T: FromBytes>(arg: &[u8]) -> Result<T, Errno> {
    T::read_from_prefix(arg)
        .map(|(t, _)| t)
        .map_err(|_| Errno::EFAULT)
}

fn write<T: IntoBytes + zerocopy::Immutable>(arg: &mut Vec<u8>, v: &T) -> Result<(), Errno> {
    arg.clear();
    arg.extend_from_slice(v.as_bytes());
    Ok(())
}

/// A list reply, as `OVERLAY_TARG_LIST`: the header with the total
/// count, then as many entries as the caller has room for (none when it
/// asked for none: it only wanted the count).
fn list_reply<T: IntoBytes + zerocopy::Immutable>(
    arg: &mut Vec<u8>,
    items: Vec<T>,
) -> Result<(), Errno> {
    let mut h: HostListHdr = read(arg)?;
    let room = h.hlh_count as usize;
    h.hlh_count = items.len() as u32;
    arg.clear();
    arg.extend_from_slice(h.as_bytes());
    for it in items.iter().take(room) {
        arg.extend_from_slice(it.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod test {
    //! The connection server against the real driver core, in process,
    //! over socket pairs (no root, TAP or namespace needed).

    use std::io::Write;
    use std::thread::JoinHandle;

    use overlay::abi::common::{
        DATALINK_CLASS_OVERLAY, OVERLAY_PLUGIN_D_IP, OVERLAY_PLUGIN_D_PORT, OVERLAY_TARGET_DYNAMIC,
    };
    use overlay::abi::targ::*;
    use overlay::abi::{EtherAddr, In6Addr};
    use overlay::buf::PktBuf;
    use overlay::dev::TxScratch;
    use overlay_client::Client;
    use zerocopy::FromZeros;

    use super::*;

    /// Serves one end of a socket pair; returns the other end.
    fn serve_pair(host: &Arc<Host>) -> (UnixStream, JoinHandle<io::Result<()>>) {
        let (a, b) = UnixStream::pair().unwrap();
        let host = host.clone();
        let t = std::thread::spawn(move || serve_conn(host, b));
        (a, t)
    }

    fn client(host: &Arc<Host>) -> (Client, JoinHandle<io::Result<()>>) {
        let (s, t) = serve_pair(host);
        (Client::from_stream(s).unwrap(), t)
    }

    /// varpd's handle: exclusive, read-write.
    fn varpd(host: &Arc<Host>) -> (Client, JoinHandle<io::Result<()>>) {
        let (c, t) = client(host);
        c.host_open(FREAD | FWRITE | FEXCL).unwrap();
        (c, t)
    }

    fn free_port() -> u16 {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// A host with one overlay (dynamic target, associated through
    /// `v`), activated and started, listening on a free loopback port.
    fn rig() -> (Arc<Host>, u32) {
        let _ = overlay_encap_vxlan::register();
        let host = Arc::new(Host::new(LinuxPlatform::new()));
        let (c, t) = client(&host);
        let linkid = c.link_create("ov0", DATALINK_CLASS_OVERLAY).unwrap();
        c.create(linkid, 7, "vxlan").unwrap();
        let lo = In6Addr::from(std::net::IpAddr::from([127, 0, 0, 1]));
        c.setprop_by_name(linkid, "vxlan/listen_ip", &lo.0).unwrap();
        let port = u64::from(free_port()).to_ne_bytes();
        c.setprop_by_name(linkid, "vxlan/listen_port", &port)
            .unwrap();
        {
            let (v, vt) = varpd(&host);
            let mut a = OverlayTargAssociate::new_zeroed();
            a.ota_linkid = linkid;
            a.ota_mode = OVERLAY_TARGET_DYNAMIC;
            a.ota_id = 1;
            a.ota_provides = OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT;
            v.associate(&a).unwrap();
            drop(v);
            vt.join().unwrap().unwrap();
        }
        c.activate(linkid).unwrap();
        drop(c);
        t.join().unwrap().unwrap();
        let dev = host.overlay.device(linkid).unwrap();
        host.overlay.start(&dev).unwrap();
        (host, linkid)
    }

    fn dst(i: u32) -> [u8; 6] {
        let b = i.to_be_bytes();
        [0x02, 0x33, b[0], b[1], b[2], b[3]]
    }

    /// Transmits one frame to each of `dsts`: each is a miss, queued for
    /// lookup.
    fn miss(host: &Host, linkid: u32, dsts: impl IntoIterator<Item = u32>) {
        let dev = host.overlay.device(linkid).unwrap();
        let frames: Vec<PktBuf> = dsts
            .into_iter()
            .map(|i| {
                let mut f = dst(i).to_vec();
                f.extend_from_slice(&[0x02, 0x44, 0, 0, 0, 1, 0x08, 0x00]);
                f.resize(60, 0x45);
                PktBuf::new(&f)
            })
            .collect();
        host.overlay.tx(&dev, frames, &mut TxScratch::default());
    }

    fn point() -> OverlayTargetPoint {
        OverlayTargetPoint::new(
            EtherAddr::ZERO,
            In6Addr::from(std::net::IpAddr::from([127, 0, 0, 1])),
            9,
        )
    }

    fn write_req(s: &mut UnixStream, cmd: u32, id: u64, arg: &[u8]) {
        let h = ReqHdr::new(cmd, id, arg.len() as u32, 0);
        let mut b = h.as_bytes().to_vec();
        b.extend_from_slice(arg);
        s.write_all(&b).unwrap();
    }

    fn read_rep(s: &mut UnixStream) -> (RepHdr, Vec<u8>) {
        let mut h = [0u8; size_of::<RepHdr>()];
        s.read_exact(&mut h).unwrap();
        let h = RepHdr::read_from_bytes(&h).unwrap();
        assert_eq!(h.magic, REP_MAGIC);
        let mut b = vec![0; (h.arg_len + h.data_len) as usize];
        s.read_exact(&mut b).unwrap();
        (h, b)
    }

    /// A LOOKUP waiting for work on one thread holds up neither a RESPOND
    /// nor a `/dev/dld` command from another thread on the connection.
    #[test]
    fn waiting_lookup_holds_up_nothing() {
        let (host, linkid) = rig();
        let (v, vt) = varpd(&host);
        let v = Arc::new(v);
        let looker = {
            let v = v.clone();
            std::thread::spawn(move || v.lookup())
        };
        std::thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        assert_eq!(
            v.respond(12345, &point()).unwrap_err().errno(),
            Some(Errno::EINVAL)
        );
        assert!(v.nprops(linkid).unwrap() > 0);
        assert!(v.cache_flush(linkid).is_ok());
        assert!(
            t0.elapsed() < Duration::from_millis(500),
            "answered while the LOOKUP waited"
        );
        assert!(!looker.is_finished());
        miss(&host, linkid, [1]);
        let req = looker.join().unwrap().unwrap();
        assert_eq!(req.otl_dstaddr, EtherAddr(dst(1)));
        v.respond(req.otl_reqid, &point()).unwrap();
        let e = v.cache_get(linkid, EtherAddr(dst(1))).unwrap();
        assert_eq!(e.otce_dest, point());
        drop(v);
        vt.join().unwrap().unwrap();
    }

    /// Lookup threads sharing one handle, as varpd's: every miss is
    /// taken once and answered.
    #[test]
    fn many_lookup_threads_share_one_handle() {
        const N: u32 = 400;
        let (host, linkid) = rig();
        let (v, vt) = varpd(&host);
        let v = Arc::new(v);
        let done = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..5)
            .map(|_| {
                let (v, done) = (v.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut answered = Vec::new();
                    while !done.load(Relaxed) {
                        match v.lookup() {
                            Ok(r) => {
                                v.respond(r.otl_reqid, &point()).unwrap();
                                answered.push(r.otl_dstaddr);
                            }
                            Err(e) => assert_eq!(e.errno(), Some(Errno::ETIME)),
                        }
                    }
                    answered
                })
            })
            .collect();
        for chunk in (0..N).collect::<Vec<_>>().chunks(40) {
            miss(&host, linkid, chunk.iter().copied());
        }
        let t0 = Instant::now();
        let dev = host.overlay.device(linkid).unwrap();
        while dev.stats.lookups.load(Relaxed) < u64::from(N)
            || (0..N).any(|i| v.cache_get(linkid, EtherAddr(dst(i))).is_err())
        {
            assert!(t0.elapsed() < Duration::from_secs(20), "lookups stalled");
            std::thread::sleep(Duration::from_millis(10));
        }
        done.store(true, Relaxed);
        let mut all: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort();
        let mut want: Vec<_> = (0..N).map(|i| EtherAddr(dst(i))).collect();
        want.sort();
        assert_eq!(all, want, "each miss taken exactly once");
        drop(v);
        vt.join().unwrap().unwrap();
    }

    /// Closing the connection returns the lookups it took and did not
    /// answer to the queue, and frees the exclusive open.
    #[test]
    fn closing_the_connection_requeues_its_lookups() {
        let (host, linkid) = rig();
        miss(&host, linkid, [1, 2, 3]);
        let (v, vt) = varpd(&host);
        let mut taken: Vec<_> = (0..3).map(|_| v.lookup().unwrap().otl_dstaddr).collect();
        let (v2, vt2) = client(&host);
        assert_eq!(
            v2.host_open(FREAD | FWRITE | FEXCL).unwrap_err().errno(),
            Some(Errno::EEXIST)
        );
        drop(v2);
        vt2.join().unwrap().unwrap();
        drop(v);
        vt.join().unwrap().unwrap();
        assert_eq!(host.overlay.open_count(), 0);
        let (v, vt) = varpd(&host);
        let mut again: Vec<_> = (0..3).map(|_| v.lookup().unwrap().otl_dstaddr).collect();
        taken.sort();
        again.sort();
        assert_eq!(taken, again);
        drop(v);
        vt.join().unwrap().unwrap();
    }

    /// Replies carry their request's id and come back as each command
    /// finishes, not in the order asked.
    #[test]
    fn replies_carry_ids_in_any_order() {
        let (host, linkid) = rig();
        let (mut s, t) = serve_pair(&host);
        write_req(
            &mut s,
            OVERLAY_HOST_OPEN,
            1,
            HostOpen {
                ho_flags: FREAD | FWRITE | FEXCL,
            }
            .as_bytes(),
        );
        let (h, _) = read_rep(&mut s);
        assert_eq!((h.id, h.errno), (1, 0));
        // A LOOKUP (which waits), then an INFO, in one write.
        let mut b = ReqHdr::new(OVERLAY_TARG_LOOKUP, 0xfeed, 72, 0)
            .as_bytes()
            .to_vec();
        b.extend_from_slice(&[0; 72]);
        b.extend_from_slice(ReqHdr::new(OVERLAY_TARG_INFO, 0xbeef, 24, 0).as_bytes());
        let mut info = OverlayTargInfo::new_zeroed();
        info.oti_linkid = linkid;
        b.extend_from_slice(info.as_bytes());
        s.write_all(&b).unwrap();
        let (h, arg) = read_rep(&mut s);
        assert_eq!((h.id, h.errno), (0xbeef, 0));
        let info = OverlayTargInfo::read_from_bytes(&arg).unwrap();
        assert_eq!(info.oti_vnetid, 7);
        miss(&host, linkid, [9]);
        let (h, arg) = read_rep(&mut s);
        assert_eq!((h.id, h.errno), (0xfeed, 0));
        let l = OverlayTargLookup::read_from_bytes(&arg).unwrap();
        assert_eq!(l.otl_dstaddr, EtherAddr(dst(9)));
        drop(s);
        t.join().unwrap().unwrap();
        assert_eq!(host.overlay.open_count(), 0);
    }

    /// A LOOKUP with nothing to take is answered `ETIME` after a second,
    /// as on illumos.
    #[test]
    fn parked_lookup_times_out() {
        let (host, _) = rig();
        let (v, vt) = varpd(&host);
        let t0 = Instant::now();
        assert_eq!(v.lookup().unwrap_err().errno(), Some(Errno::ETIME));
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        drop(v);
        vt.join().unwrap().unwrap();
    }

    /// A quiet request is answered only if it fails, and then with its
    /// argument.
    #[test]
    fn quiet_requests_answer_only_failures() {
        let (host, linkid) = rig();
        let (mut s, t) = serve_pair(&host);
        write_req(
            &mut s,
            OVERLAY_HOST_OPEN,
            1,
            HostOpen {
                ho_flags: FREAD | FWRITE | FEXCL,
            }
            .as_bytes(),
        );
        assert_eq!(read_rep(&mut s).0.errno, 0);
        miss(&host, linkid, [4]);
        write_req(&mut s, OVERLAY_TARG_LOOKUP, 2, &[0; 72]);
        let (_, arg) = read_rep(&mut s);
        let l = OverlayTargLookup::read_from_bytes(&arg).unwrap();
        let quiet = |s: &mut UnixStream, cmd, id, reqid| {
            let mut r = OverlayTargResp::new_zeroed();
            r.otr_reqid = reqid;
            r.otr_answer = point();
            let h = ReqHdr {
                flags: REQ_F_QUIET,
                ..ReqHdr::new(cmd, id, size_of::<OverlayTargResp>() as u32, 0)
            };
            let mut b = h.as_bytes().to_vec();
            b.extend_from_slice(r.as_bytes());
            s.write_all(&b).unwrap();
            b[size_of::<ReqHdr>()..].to_vec()
        };
        // Succeeds: no reply. Then one that fails (the request is gone).
        quiet(&mut s, OVERLAY_TARG_RESPOND, 3, l.otl_reqid);
        let sent = quiet(&mut s, OVERLAY_TARG_DROP, 4, l.otl_reqid);
        let (h, arg) = read_rep(&mut s);
        assert_eq!((h.id, h.cmd, h.flags), (4, OVERLAY_TARG_DROP, REP_F_QUIET));
        assert_eq!(h.errno, Errno::EINVAL.0 as u32);
        assert_eq!(arg, sent);
        assert_eq!(
            host.overlay
                .cache_get(linkid, EtherAddr(dst(4)))
                .unwrap()
                .otce_dest,
            point()
        );
        // A flag nobody defined ends the connection.
        let bad = ReqHdr {
            flags: 0x100,
            ..ReqHdr::new(OVERLAY_TARG_LOOKUP, 5, 72, 0)
        };
        s.write_all(bad.as_bytes()).unwrap();
        assert_eq!(
            t.join().unwrap().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    /// A connection that sends a burst of requests (LOOKUPs that will be
    /// parked, `/dev/dld` commands) and goes away leaves nothing behind:
    /// its thread and workers end promptly, its parked LOOKUPs are
    /// forgotten and its handle closes.
    #[test]
    fn burst_then_disconnect_leaves_no_threads() {
        let (host, linkid) = rig();
        let (mut s, t) = serve_pair(&host);
        write_req(
            &mut s,
            OVERLAY_HOST_OPEN,
            1,
            HostOpen {
                ho_flags: FREAD | FWRITE | FEXCL,
            }
            .as_bytes(),
        );
        read_rep(&mut s);
        let mut b = Vec::new();
        for id in 2..300u64 {
            if id % 3 == 0 {
                let mut n = overlay::abi::dld::OverlayIocNprops::new_zeroed();
                n.oipn_linkid = linkid;
                b.extend_from_slice(
                    ReqHdr::new(
                        overlay::abi::dld::OVERLAY_IOC_NPROPS,
                        id,
                        size_of_val(&n) as u32,
                        0,
                    )
                    .as_bytes(),
                );
                b.extend_from_slice(n.as_bytes());
            } else {
                b.extend_from_slice(ReqHdr::new(OVERLAY_TARG_LOOKUP, id, 72, 0).as_bytes());
                b.extend_from_slice(&[0; 72]);
            }
        }
        s.write_all(&b).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        drop(s);
        // Ended by the reset of unread replies, or by the end of input.
        let _ = t.join().unwrap();
        assert!(
            t0.elapsed() < Duration::from_millis(900),
            "waiting LOOKUPs were cut short: {:?}",
            t0.elapsed()
        );
        assert_eq!(host.overlay.open_count(), 0);
        // The driver is intact: a new handle serves a new miss.
        let (v, vt) = varpd(&host);
        miss(&host, linkid, [5]);
        assert_eq!(v.lookup().unwrap().otl_dstaddr, EtherAddr(dst(5)));
        drop(v);
        vt.join().unwrap().unwrap();
    }

    /// A LIST announcing room for half a billion entries is answered
    /// from what exists (one device: header + one entry), without
    /// allocating the room; one whose copy would overflow is EINVAL, as
    /// illumos answers it.
    #[test]
    fn oversized_list_allocates_nothing() {
        let (host, linkid) = rig();
        let (mut s, t) = serve_pair(&host);
        write_req(
            &mut s,
            OVERLAY_HOST_OPEN,
            1,
            HostOpen { ho_flags: FREAD }.as_bytes(),
        );
        assert_eq!(read_rep(&mut s).0.errno, 0);
        let huge = i32::MAX as u32 / 4 - 1;
        write_req(&mut s, OVERLAY_TARG_LIST, 2, &huge.to_ne_bytes());
        let (h, arg) = read_rep(&mut s);
        assert_eq!(h.errno, 0);
        let mut want = 1u32.to_ne_bytes().to_vec();
        want.extend_from_slice(&linkid.to_ne_bytes());
        assert_eq!(arg, want);
        write_req(&mut s, OVERLAY_TARG_LIST, 3, &(huge + 1).to_ne_bytes());
        assert_eq!(read_rep(&mut s).0.errno as i32, Errno::EINVAL.0);
        drop(s);
        let _ = t.join().unwrap();
    }

    /// A header with a bad magic, or announcing more than the limit,
    /// ends the connection before anything more is read or answered.
    #[test]
    fn malformed_headers_end_the_connection() {
        let host = Arc::new(Host::new(LinuxPlatform::new()));
        let bad = [
            ReqHdr {
                magic: u32::from_be_bytes(*b"OVLq"),
                ..ReqHdr::new(OVERLAY_HOST_LINK_LIST, 1, 8, 0)
            },
            ReqHdr::new(OVERLAY_HOST_LINK_LIST, 2, MAX_PAYLOAD + 1, 0),
            ReqHdr::new(OVERLAY_HOST_LINK_LIST, 3, 8, u32::MAX),
        ];
        for h in bad {
            let (mut s, t) = serve_pair(&host);
            // A good request first: answered.
            write_req(&mut s, OVERLAY_HOST_LINK_LIST, 9, &[0; 8]);
            assert_eq!(read_rep(&mut s).0.id, 9);
            // Only the header: the server must not wait for the payload
            // it announces.
            s.write_all(h.as_bytes()).unwrap();
            let e = t.join().unwrap().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            let mut rest = Vec::new();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            assert_eq!(s.read_to_end(&mut rest).unwrap(), 0, "no reply, closed");
        }
    }
}
