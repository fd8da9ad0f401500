//! The socket transport: commands multiplexed over overlayd's control
//! socket (see [`crate::proto`]).
//!
//! Any number of threads may have commands in flight on one connection,
//! as on an illumos descriptor: each request carries an id, and replies
//! come back in whatever order the driver finishes them. varpd's lookup
//! threads depend on it: a `LOOKUP` waiting a second for work must not
//! hold up the `RESPOND` another thread sends meanwhile.
//!
//! What a lookup costs here is thread handoffs (a wakeup of a sleeping
//! thread is several microseconds, tens on a small virtual machine, far
//! more than the lookup itself), so the transport is built to need few:
//!
//! * **No reader thread.** Callers waiting for replies take turns at
//!   reading ("leader and followers"): the one that finds nobody reading
//!   becomes the *leader*, reads replies and hands each to its caller
//!   (straight into that caller's buffers), and keeps reading until its
//!   own reply is in and no further reply is already buffered; then it
//!   wakes a waiting caller to read in its place (lookup threads: see
//!   below). A lone caller reads
//!   its own reply with no handoff at all, as it did when the socket
//!   carried one command at a time; a dedicated reader would add a
//!   handoff to every reply.
//! * **LOOKUP answers are pooled** ([`Conn::lookup`]). A `LOOKUP`
//!   request carries nothing the driver reads, and any waiting thread
//!   may serve any request the driver hands out, so replies are not tied
//!   to the thread that asked: an answer goes to the leader if it is
//!   waiting for one (no handoff), else into a queue that the next
//!   `lookup` call takes from without a system call (or, when no thread
//!   would come for it, to the longest-waiting `lookup` caller). With a
//!   prefetch depth
//!   ([`Conn::set_lookup_prefetch`]) more `LOOKUP`s are kept in flight
//!   than threads wait, so that in a burst of misses the lookup threads
//!   find answers waiting instead of sleeping for each. This is what
//!   illumos varpd's `2 × ncpu + 1` threads each blocked in
//!   `OVERLAY_TARG_LOOKUP` amount to, with the waiting moved from threads
//!   to requests: the requests handed out are still owned by the handle
//!   (they go back to the driver's queue if it closes) and a `LOOKUP`
//!   still waits at most a second for work (`ETIME`).
//! * **Lazy wakeups.** A sleeping lookup thread is woken only when no
//!   other will take the work: an answer goes to the queue, not to a
//!   sleeper, while a thread that took an earlier answer is still out
//!   (it will be back for the next), and a leader with its answer leaves
//!   nobody reading while such a thread will be back to read. So in a
//!   burst one thread serves answer after answer without sleeping, as a
//!   single lookup thread would, however many there are, and an isolated
//!   miss costs no wakeup in varpd beyond the one that brings it. What
//!   that risks is a thread held up in a slow plugin with work left
//!   behind it. One sleeper, the *watcher*, sleeps in turns of
//!   [`WATCH`] rather than until woken, and takes over answers queued,
//!   or the reading nobody did, for longer than [`STALL`]: the other
//!   threads go on within about `WATCH + STALL` of a thread getting stuck
//!   (where illumos' would at once), for the price of one thread waking
//!   every [`WATCH`] while varpd waits.
//! * **Posted commands** ([`Conn::post`]): `RESPOND` and `DROP` are sent
//!   quiet ([`REQ_F_QUIET`]): the driver answers only a failure, which
//!   goes to a handler when some thread reads it. The lookup thread goes
//!   on to its next `LOOKUP` at once, and no thread is woken for a reply
//!   that would almost always say "done".
//! * Requests are written whole under a lock (one `writev` of header,
//!   argument and frame, no staging copy); replies are read through a
//!   buffer, so a burst of replies costs one `read`. A call allocates
//!   nothing.
//! * The leader waits for replies in a blocking `recv`. (Waiting in
//!   `poll(POLLIN)` instead spares it the wakeup a Unix stream socket
//!   gives a sleeping reader whenever the peer reads what this side
//!   wrote, but costs two more system calls per wait; measured, the
//!   extra calls cost more than the stray wakeup, which lands on an
//!   otherwise idle CPU.)
//!
//! Any failure that leaves the stream's position unknown (a broken
//! connection, a malformed reply header, a reply for no request in
//! flight) ends the connection: every command in flight fails with that
//! error, and every later one fails at once.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use overlay::Errno;
use overlay::abi::targ::{OVERLAY_TARG_LOOKUP, OverlayTargLookup};
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::error::ClientError;
use crate::proto::{MAX_PAYLOAD, REP_F_QUIET, REP_MAGIC, REQ_F_QUIET, RepHdr, ReqHdr};
use crate::shape::{OTP_BUF_OFFSET, Shape};
use crate::{IoData, PostedError, PostedHandler};

/// How long a reply may take before the connection is given up. The
/// server holds a `LOOKUP` for up to a second; anything else is
/// immediate, so this only catches a wedged daemon. (It bounds the
/// leader's reads; a caller waiting for a reply that never comes while
/// others do gives up after twice this.)
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Size of the reply buffer: a few hundred `LOOKUP` or `RESPOND` replies.
const RX_BUF: usize = 32 * 1024;

/// Largest prefetch depth accepted.
const PREFETCH_MAX: usize = 256;

/// How long queued answers, or the lack of a reader, may last before
/// the watcher steps in (see the module documentation).
pub(crate) const STALL: Duration = Duration::from_millis(2);

/// How often the watcher looks.
pub(crate) const WATCH: Duration = Duration::from_millis(10);

const LOOKUP_SIZE: usize = size_of::<OverlayTargLookup>();

/// One connection.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: UnixStream,
    /// Held while a request is written, so that requests do not
    /// interleave (a stream socket may split a large write).
    tx: Mutex<()>,
    /// The read side; only the leader locks it (so never contended).
    rx: Mutex<RxBuf>,
    shared: Mutex<Shared>,
    next_id: AtomicU64,
}

#[derive(Default)]
struct Shared {
    /// A caller is reading replies.
    leading: bool,
    /// Every request in flight.
    flight: Vec<Flight>,
    /// Threads in [`Conn::lookup`] without an answer, oldest first.
    lookers: Vec<Looker>,
    /// `LOOKUP` answers no thread has taken yet, with when they came.
    ready: VecDeque<(OverlayTargLookup, Instant)>,
    /// Threads that took an answer from [`Conn::lookup`] and have not
    /// asked again: they will be back, and read if nobody does.
    active: usize,
    /// Since when nobody reads on purpose (an active thread will).
    lead_free_since: Option<Instant>,
    /// The looker watching for stalls, if any.
    watcher: Option<u64>,
    /// Pooled `LOOKUP`s in flight.
    lookups: usize,
    /// `LOOKUP`s to keep in flight beyond one per waiting thread.
    prefetch: usize,
    /// Set once the stream is out of step: why.
    broken: Option<(io::ErrorKind, String)>,
    /// Where refused posted commands are reported.
    on_posted: Option<Arc<PostedHandler>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("leading", &self.leading)
            .field("flight", &self.flight.len())
            .field("lookers", &self.lookers.len())
            .field("ready", &self.ready.len())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

/// A caller's buffer, as the leader fills it.
#[derive(Clone, Copy, Debug)]
struct RawBuf {
    ptr: *mut u8,
    len: usize,
}

impl RawBuf {
    const NONE: RawBuf = RawBuf {
        ptr: std::ptr::null_mut(),
        len: 0,
    };

    fn of(b: &mut [u8]) -> RawBuf {
        RawBuf {
            ptr: b.as_mut_ptr(),
            len: b.len(),
        }
    }
}

// SAFETY: a `RawBuf` is written through only by the leader, and only
// while its call is `Filling`: the caller that owns the buffer is then
// blocked in `Conn::wait` and neither touches the buffer nor returns
// until the leader has set `Done` under the `shared` lock (see `wait`).
unsafe impl Send for RawBuf {}

#[derive(Debug)]
enum State {
    /// Sent (or being sent); no reply yet.
    Pending,
    /// The leader is copying the reply into the caller's buffers.
    Filling,
    /// The reply's outcome: the argument and frame bytes copied out, or
    /// why not.
    Done(Result<(usize, usize), ClientError>),
}

/// A request in flight.
#[derive(Debug)]
struct Flight {
    id: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A caller waits for this reply, into its buffers.
    Call {
        arg: RawBuf,
        data: RawBuf,
        state: State,
        cv: Arc<Condvar>,
    },
    /// A pooled `LOOKUP`: its answer goes to whichever thread wants one.
    Lookup {
        /// When it was sent (see [`Shared::deliver`]).
        sent: Instant,
    },
}

/// A thread in [`Conn::lookup`].
#[derive(Debug)]
struct Looker {
    key: u64,
    got: Option<Result<OverlayTargLookup, ClientError>>,
    cv: Arc<Condvar>,
    since: Instant,
}

/// Who a leader is reading for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Me {
    /// The call with this request id.
    Call(u64),
    /// The looker with this key.
    Looker(u64),
}

thread_local! {
    /// Each thread's condition variable for its replies (one call at a
    /// time per thread, so one suffices; reused, so a call allocates
    /// nothing).
    static WAKE: Arc<Condvar> = Arc::new(Condvar::new());
    /// The connection (its address) this thread took a LOOKUP answer
    /// from last and has not asked again: it counts as active there.
    static ACTIVE_ON: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn my_cv() -> Arc<Condvar> {
    WAKE.try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::new(Condvar::new()))
}

/// A failure after which the stream's position is unknown.
#[derive(Debug)]
struct Fatal(io::ErrorKind, String);

impl Fatal {
    fn error(&self) -> ClientError {
        ClientError::io(self.0, self.1.clone())
    }
}

fn fatal(what: &str, e: io::Error) -> Fatal {
    let msg = match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("{what}: overlayd closed the connection"),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("{what}: no reply from overlayd within {IO_TIMEOUT:?}")
        }
        _ => format!("{what}: {e}"),
    };
    Fatal(e.kind(), msg)
}

fn bad(msg: String) -> Fatal {
    Fatal(io::ErrorKind::InvalidData, msg)
}

fn unusable() -> ClientError {
    ClientError::io(
        io::ErrorKind::BrokenPipe,
        "connection unusable after an earlier transport error",
    )
}

impl Shared {
    fn call(&mut self, id: u64) -> Option<&mut Kind> {
        self.flight
            .iter_mut()
            .find(|f| f.id == id)
            .map(|f| &mut f.kind)
    }

    fn looker(&mut self, key: u64) -> Option<&mut Looker> {
        self.lookers.iter_mut().find(|l| l.key == key)
    }

    /// Whether `me` has its answer.
    fn done(&mut self, me: Me) -> bool {
        match me {
            Me::Call(id) => !matches!(
                self.call(id),
                Some(Kind::Call {
                    state: State::Pending | State::Filling,
                    ..
                })
            ),
            Me::Looker(key) => self.looker(key).is_none_or(|l| l.got.is_some()),
        }
    }

    /// The oldest looker without an answer, but `me`.
    fn sleeper(&self, me: Me) -> Option<usize> {
        self.lookers
            .iter()
            .position(|l| l.got.is_none() && Me::Looker(l.key) != me)
    }

    /// Threads that will be back for queued answers: the active ones,
    /// and `me` if it is a looker with an answer.
    fn coming(&mut self, me: Me) -> usize {
        let me_too = match me {
            Me::Looker(k) => self.looker(k).is_some_and(|l| matches!(l.got, Some(Ok(_)))),
            Me::Call(_) => false,
        };
        self.active + usize::from(me_too)
    }

    /// The leader `me` stops reading: a waiting call, or a looker if no
    /// thread will be back, is woken to read; else nobody reads until an
    /// active thread is back (see the module documentation).
    fn release_lead(&mut self, me: Me) {
        self.leading = false;
        self.lead_free_since = None;
        let call = self.flight.iter().find_map(|f| match &f.kind {
            Kind::Call {
                state: State::Pending,
                cv,
                ..
            } => Some(cv),
            _ => None,
        });
        if let Some(cv) = call {
            cv.notify_one();
            return;
        }
        let Some(i) = self.sleeper(me) else {
            return;
        };
        if self.coming(me) == 0 {
            self.lookers[i].cv.notify_one();
        } else {
            // The watcher takes over if nobody is back in time.
            self.lead_free_since = Some(Instant::now());
        }
    }

    /// Hands a `LOOKUP` answer out (read by the leader `me`): to `me` if
    /// it is a looker without one; to a sleeper only if no thread will be
    /// back for it; else to the queue. An error goes to the oldest
    /// waiting looker, but an `ETIME` only if the request was sent after
    /// that looker came (`sent`): one sent earlier timed out on behalf
    /// of nobody waiting now, and is dropped (and replaced).
    fn deliver(&mut self, me: Me, sent: Instant, r: Result<OverlayTargLookup, ClientError>) {
        if let Me::Looker(key) = me
            && r.is_ok()
            && let Some(l) = self.looker(key)
            && l.got.is_none()
        {
            l.got = Some(r);
            return;
        }
        match r {
            Ok(l) => {
                if self.coming(me) == 0
                    && let Some(i) = self.sleeper(me)
                {
                    self.lookers[i].got = Some(Ok(l));
                    self.lookers[i].cv.notify_one();
                    return;
                }
                // The watcher takes it if nobody is back in time.
                self.ready.push_back((l, Instant::now()));
            }
            Err(e) => {
                let Some(w) = self.lookers.iter_mut().find(|l| l.got.is_none()) else {
                    return;
                };
                if e.errno() == Some(Errno::ETIME) && sent < w.since {
                    return;
                }
                w.got = Some(Err(e));
                if Me::Looker(w.key) != me {
                    w.cv.notify_one();
                }
            }
        }
    }

    /// How many more `LOOKUP`s to send: one in flight (or an answer
    /// queued) per waiting thread, and the prefetch depth on top, topped
    /// up in batches of half of it.
    fn lookups_wanted(&self) -> usize {
        let waiting = self.lookers.iter().filter(|l| l.got.is_none()).count();
        let have = self.lookups + self.ready.len();
        let want = waiting + self.prefetch;
        if have < waiting || have + self.prefetch.div_ceil(2) <= want {
            want - have
        } else {
            0
        }
    }

    /// The watcher leaves [`Conn::lookup`]: the oldest sleeper takes its
    /// place.
    fn hand_watch(&mut self, me: Me) {
        self.watcher = None;
        if let Some(i) = self.sleeper(me) {
            self.watcher = Some(self.lookers[i].key);
            self.lookers[i].cv.notify_one();
        }
    }

    /// A thread leaves [`Conn::lookup`] with an answer.
    fn went_active(&mut self, conn: usize) {
        self.active += 1;
        let _ = ACTIVE_ON.try_with(|a| a.set(conn));
    }
}

impl Conn {
    pub(crate) fn new(stream: UnixStream) -> Result<Conn, ClientError> {
        let setup = |s: &UnixStream| -> io::Result<()> {
            s.set_nonblocking(false)?;
            s.set_read_timeout(Some(IO_TIMEOUT))?;
            s.set_write_timeout(Some(IO_TIMEOUT))
        };
        setup(&stream).map_err(|e| {
            ClientError::io(e.kind(), format!("setting up the control socket: {e}"))
        })?;
        Ok(Conn {
            stream,
            tx: Mutex::new(()),
            rx: Mutex::new(RxBuf::new()),
            shared: Mutex::new(Shared::default()),
            next_id: AtomicU64::new(1),
        })
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn set_posted_handler(&self, f: Arc<PostedHandler>) {
        self.shared().on_posted = Some(f);
    }

    pub(crate) fn set_lookup_prefetch(&self, n: usize) {
        self.shared().prefetch = n.min(PREFETCH_MAX);
    }

    /// Issues one checked command and waits for its reply.
    pub(crate) fn call(
        &self,
        cmd: u32,
        shape: &Shape,
        arg: &mut [u8],
        mut data: IoData<'_>,
    ) -> Result<usize, ClientError> {
        let id = self.id();
        let (out, room) = match (&mut data, shape.frame) {
            (IoData::In(b), Some(f)) => (&b[..f.size], RawBuf::NONE),
            (IoData::Out(b), _) => (&[][..], RawBuf::of(b)),
            _ => (&[][..], RawBuf::NONE),
        };
        {
            let mut sh = self.shared();
            if sh.broken.is_some() {
                return Err(unusable());
            }
            // Registered before the request goes out: the reply may be
            // read (by a leader) before this thread is back from writing.
            sh.flight.push(Flight {
                id,
                kind: Kind::Call {
                    arg: RawBuf::of(arg),
                    data: room,
                    state: State::Pending,
                    cv: my_cv(),
                },
            });
        }
        if let Err(e) = self.send(cmd, id, 0, shape, arg, out) {
            self.break_conn(&mut self.shared(), fatal("sending request", e));
        }
        let (arg_len, data_len) = self.wait(id)?;
        if let Some(f) = shape.frame
            && arg_len >= OTP_BUF_OFFSET + 8
        {
            arg[OTP_BUF_OFFSET..OTP_BUF_OFFSET + 8].copy_from_slice(&f.caller_buf.to_ne_bytes());
        }
        Ok(match shape.frame {
            Some(_) if matches!(data, IoData::Out(_)) => data_len,
            Some(f) => f.size,
            None => 0,
        })
    }

    /// Sends a command quiet (see the module documentation): the driver
    /// answers only a failure, which goes to the posted handler. Transport
    /// failures are returned. The request is not recorded: a failure
    /// reply names it by its argument.
    pub(crate) fn post(&self, cmd: u32, shape: &Shape, arg: &[u8]) -> Result<(), ClientError> {
        if self.shared().broken.is_some() {
            return Err(unusable());
        }
        let id = self.id();
        self.send(cmd, id, REQ_F_QUIET, shape, arg, &[])
            .map_err(|e| {
                let f = fatal("sending request", e);
                let err = f.error();
                self.break_conn(&mut self.shared(), f);
                err
            })
    }

    /// `OVERLAY_TARG_LOOKUP` through the pool: an answer already queued,
    /// else one read for this thread or handed to it.
    pub(crate) fn lookup(&self) -> Result<OverlayTargLookup, ClientError> {
        let key = self.id();
        let me = Me::Looker(key);
        let addr = self as *const Conn as usize;
        let mut sh = self.shared();
        // Back from the answer taken last time.
        if ACTIVE_ON.try_with(|a| a.replace(0)).ok() == Some(addr) {
            sh.active = sh.active.saturating_sub(1);
        }
        if sh.broken.is_some() {
            return Err(unusable());
        }
        if let Some((l, _)) = sh.ready.pop_front() {
            sh.went_active(addr);
            // Keep the prefetch topped up.
            let n = self.reserve_lookups(&mut sh);
            drop(sh);
            self.send_lookups(n);
            return Ok(l);
        }
        sh.lookers.push(Looker {
            key,
            got: None,
            cv: my_cv(),
            since: Instant::now(),
        });
        let n = self.reserve_lookups(&mut sh);
        drop(sh);
        self.send_lookups(n);
        let mut sh = self.shared();
        // If nobody reads, this thread will at once: it is the one that
        // was to be back (or the first).
        let mut may_lead = true;
        loop {
            let Some(i) = sh.lookers.iter().position(|l| l.key == key) else {
                // Unreachable: only this thread removes its looker.
                return Err(ClientError::bad_reply("lookup lost"));
            };
            let watching = sh.watcher == Some(key);
            if sh.lookers[i].got.is_some() {
                let got = sh.lookers.remove(i).got.unwrap_or_else(|| Err(unusable()));
                if watching {
                    sh.hand_watch(me);
                }
                if got.is_ok() {
                    sh.went_active(addr);
                }
                return got;
            }
            // The watcher takes over an answer queued for too long (its
            // thread is held up), then the reading nobody has done for
            // as long.
            if watching
                && sh.ready.front().is_some_and(|(_, t)| t.elapsed() >= STALL)
                && let Some((l, _)) = sh.ready.pop_front()
            {
                sh.lookers.remove(i);
                sh.hand_watch(me);
                sh.went_active(addr);
                return Ok(l);
            }
            let stalled = watching && sh.lead_free_since.is_some_and(|t| t.elapsed() >= STALL);
            if !sh.leading && (may_lead || sh.lead_free_since.is_none() || stalled) {
                if watching {
                    sh.hand_watch(me);
                }
                sh.leading = true;
                sh.lead_free_since = None;
                drop(sh);
                self.lead(me);
                sh = self.shared();
                may_lead = false;
                continue;
            }
            may_lead = false;
            // The first to sleep watches; the others sleep until woken.
            // (No deadline here: in a long burst one thread may serve
            // everything while the others sleep; a silent driver is
            // caught by the leader's read.)
            if sh.watcher.is_none() {
                sh.watcher = Some(key);
            }
            let cv = sh.lookers[i].cv.clone();
            let turn = if sh.watcher == Some(key) {
                WATCH
            } else {
                IO_TIMEOUT
            };
            sh = cv
                .wait_timeout(sh, turn)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Registers the `LOOKUP`s the pool wants; returns their first id and
    /// count (ids are consecutive).
    fn reserve_lookups(&self, sh: &mut Shared) -> (u64, usize) {
        let n = sh.lookups_wanted();
        if n == 0 {
            return (0, 0);
        }
        let first = self.next_id.fetch_add(n as u64, Ordering::Relaxed);
        let sent = Instant::now();
        for id in first..first + n as u64 {
            sh.flight.push(Flight {
                id,
                kind: Kind::Lookup { sent },
            });
        }
        sh.lookups += n;
        (first, n)
    }

    /// Writes `LOOKUP` requests with consecutive ids, several per
    /// `writev`.
    fn send_lookups(&self, (first, n): (u64, usize)) {
        const PER_WRITE: usize = 16;
        static ZEROS: [u8; LOOKUP_SIZE] = [0; LOOKUP_SIZE];
        let mut id = first;
        let end = first + n as u64;
        while id < end {
            let k = ((end - id) as usize).min(PER_WRITE);
            let hdrs: [ReqHdr; PER_WRITE] = std::array::from_fn(|j| {
                ReqHdr::new(OVERLAY_TARG_LOOKUP, id + j as u64, LOOKUP_SIZE as u32, 0)
            });
            let mut bufs: [IoSlice<'_>; 2 * PER_WRITE] = [IoSlice::new(&[]); 2 * PER_WRITE];
            for j in 0..k {
                bufs[2 * j] = IoSlice::new(hdrs[j].as_bytes());
                bufs[2 * j + 1] = IoSlice::new(&ZEROS);
            }
            if let Err(e) = self.write_all(&mut bufs[..2 * k]) {
                self.break_conn(&mut self.shared(), fatal("sending request", e));
                return;
            }
            id += k as u64;
        }
    }

    /// Writes one request: header, the fixed argument, the frame to send.
    fn send(
        &self,
        cmd: u32,
        id: u64,
        flags: u32,
        shape: &Shape,
        arg: &[u8],
        out: &[u8],
    ) -> io::Result<()> {
        let hdr = ReqHdr {
            flags,
            ..ReqHdr::new(cmd, id, shape.fixed as u32, out.len() as u32)
        };
        let arg = &arg[..shape.fixed];
        // The frame travels as data; there is no pointer to pass, so
        // `otp_buf` goes out as zeros (and the caller's stays as it was).
        let (a, b) = match shape.frame {
            Some(_) => (&arg[..OTP_BUF_OFFSET], &arg[OTP_BUF_OFFSET + 8..]),
            None => (arg, &[][..]),
        };
        let zeros = [0u8; 8];
        let gap: &[u8] = if shape.frame.is_some() { &zeros } else { &[] };
        self.write_all(&mut [
            IoSlice::new(hdr.as_bytes()),
            IoSlice::new(a),
            IoSlice::new(gap),
            IoSlice::new(b),
            IoSlice::new(out),
        ])
    }

    /// One `writev` as a rule; more if the socket takes less.
    fn write_all(&self, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        let _g = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        let mut s = &self.stream;
        while !bufs.is_empty() {
            match s.write_vectored(bufs) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sleeps on `cv` (a bounded while); past `deadline` the connection
    /// is given up.
    fn sleep<'a>(
        &self,
        mut sh: MutexGuard<'a, Shared>,
        cv: &Condvar,
        deadline: Instant,
    ) -> MutexGuard<'a, Shared> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let f = Fatal(
                io::ErrorKind::TimedOut,
                format!("no reply from overlayd within {:?}", 2 * IO_TIMEOUT),
            );
            self.break_conn(&mut sh, f);
            return sh;
        }
        cv.wait_timeout(sh, left.max(Duration::from_millis(100)))
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Waits for the reply of request `id`, reading replies (its own and
    /// others') whenever nobody else is.
    fn wait(&self, id: u64) -> Result<(usize, usize), ClientError> {
        let deadline = Instant::now() + 2 * IO_TIMEOUT;
        let mut sh = self.shared();
        loop {
            let Some(i) = sh.flight.iter().position(|f| f.id == id) else {
                // Unreachable: only this caller removes its request.
                return Err(ClientError::bad_reply("request lost"));
            };
            let Kind::Call { state, cv, .. } = &sh.flight[i].kind else {
                return Err(ClientError::bad_reply("request lost"));
            };
            match state {
                State::Done(_) => {
                    if let Kind::Call {
                        state: State::Done(r),
                        ..
                    } = sh.flight.swap_remove(i).kind
                    {
                        return r;
                    }
                }
                State::Pending if !sh.leading => {
                    if sh.broken.is_some() {
                        // Nobody will read any more.
                        sh.flight.swap_remove(i);
                        return Err(unusable());
                    }
                    sh.leading = true;
                    drop(sh);
                    self.lead(Me::Call(id));
                    sh = self.shared();
                }
                // A leader is reading, possibly into this caller's
                // buffers: wait for it, whatever happens.
                State::Pending | State::Filling => {
                    let cv = cv.clone();
                    sh = self.sleep(sh, &cv, deadline);
                }
            }
        }
    }

    /// Reads replies until `me` has its answer (or the connection fails)
    /// and no further reply is already buffered, then gives up the lead.
    /// Called with `leading` taken.
    fn lead(&self, me: Me) {
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        let failed = loop {
            {
                let mut sh = self.shared();
                // An answer already queued does for a waiting looker.
                if let Me::Looker(key) = me
                    && !sh.ready.is_empty()
                    && sh.looker(key).is_some_and(|l| l.got.is_none())
                    && let Some((l, _)) = sh.ready.pop_front()
                    && let Some(w) = sh.looker(key)
                {
                    w.got = Some(Ok(l));
                }
                if sh.broken.is_some() || (sh.done(me) && !rx.reply_buffered()) {
                    sh.release_lead(me);
                    return;
                }
            }
            if let Err(f) = self.read_one(&mut rx, me) {
                break f;
            }
        };
        drop(rx);
        self.break_conn(&mut self.shared(), failed);
    }

    /// Reads one reply and hands it to whoever it is for.
    fn read_one(&self, rx: &mut RxBuf, me: Me) -> Result<(), Fatal> {
        let hdr = rx
            .read_hdr(&self.stream)
            .map_err(|e| fatal("reading reply", e))?;
        if hdr.magic != REP_MAGIC {
            return Err(bad(format!(
                "bad reply magic {:#010x} (expected {REP_MAGIC:#010x})",
                hdr.magic
            )));
        }
        if hdr.arg_len > MAX_PAYLOAD || hdr.data_len > MAX_PAYLOAD {
            return Err(bad(format!(
                "reply lengths {}+{} exceed the {MAX_PAYLOAD}-byte limit",
                hdr.arg_len, hdr.data_len
            )));
        }
        if hdr.flags & REP_F_QUIET != 0 {
            // A posted command failed; it was never recorded.
            return self.posted_failed(rx, &hdr);
        }
        let mut sh = self.shared();
        let Some(i) = sh.flight.iter().position(|f| f.id == hdr.id) else {
            return Err(bad(format!(
                "reply for request id {}, which is not in flight",
                hdr.id
            )));
        };
        match &mut sh.flight[i].kind {
            Kind::Call {
                state,
                arg,
                data,
                cv,
            } => {
                if !matches!(state, State::Pending) {
                    return Err(bad(format!("a second reply for request id {}", hdr.id)));
                }
                *state = State::Filling;
                let (arg, data, cv) = (*arg, *data, cv.clone());
                drop(sh);
                let r = rx.read_payload(&self.stream, &hdr, arg, data);
                let (outcome, failed) = match r {
                    Ok(outcome) => (outcome, None),
                    Err(f) => (Err(f.error()), Some(f)),
                };
                let mut sh = self.shared();
                // A filling call stays: its caller waits for `Done`.
                if let Some(Kind::Call { state, .. }) = sh.call(hdr.id) {
                    *state = State::Done(outcome);
                }
                if me != Me::Call(hdr.id) {
                    cv.notify_one();
                }
                failed.map_or(Ok(()), Err)
            }
            &mut Kind::Lookup { sent } => {
                sh.flight.swap_remove(i);
                sh.lookups -= 1;
                drop(sh);
                let r = rx.read_lookup(&self.stream, &hdr)?;
                let mut sh = self.shared();
                sh.deliver(me, sent, r);
                // A dropped ETIME leaves a request to replace.
                let n = self.reserve_lookups(&mut sh);
                drop(sh);
                self.send_lookups(n);
                Ok(())
            }
        }
    }

    /// The failure reply of a posted command: its argument names the
    /// request (`otr_reqid` leads RESPOND's and DROP's argument).
    fn posted_failed(&self, rx: &mut RxBuf, hdr: &RepHdr) -> Result<(), Fatal> {
        let mut head = [0u8; 8];
        let total = u64::from(hdr.arg_len) + u64::from(hdr.data_len);
        let n = if hdr.arg_len >= 8 { 8 } else { 0 };
        rx.read_exact(&self.stream, &mut head[..n])
            .and_then(|()| rx.discard(&self.stream, total - n as u64))
            .map_err(|e| fatal("reading reply", e))?;
        let errno = i32::try_from(hdr.errno).unwrap_or(i32::MAX);
        if errno == 0 {
            return Err(bad(format!(
                "a failure reply without an errno (request id {})",
                hdr.id
            )));
        }
        let handler = self.shared().on_posted.clone();
        if let Some(h) = handler {
            h(PostedError {
                cmd: hdr.cmd,
                reqid: u64::from_ne_bytes(head),
                error: ClientError::Errno(Errno(errno)),
            });
        }
        Ok(())
    }

    /// The stream is out of step: fails every command in flight and
    /// every later one, and shuts the socket down (the server then sees
    /// the end and closes the handle, and a leader blocked in a read
    /// wakes up and fails likewise).
    ///
    /// A call being filled is left to the leader filling it, which
    /// completes it when its read returns: its caller must not go while
    /// its buffers are written to. Posted commands are not reported
    /// (every later command reports the failure).
    fn break_conn(&self, sh: &mut Shared, f: Fatal) {
        sh.flight.retain_mut(|fl| match &mut fl.kind {
            Kind::Call { state, cv, .. } => {
                if matches!(state, State::Pending) {
                    *state = State::Done(Err(f.error()));
                    cv.notify_one();
                }
                true
            }
            Kind::Lookup { .. } => false,
        });
        for l in &mut sh.lookers {
            if l.got.is_none() {
                l.got = Some(Err(f.error()));
                l.cv.notify_one();
            }
        }
        sh.lookups = 0;
        sh.ready.clear();
        sh.leading = false;
        if sh.broken.is_none() {
            sh.broken = Some((f.0, f.1));
            // Failure changes nothing.
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }
}

/// Reads at least one byte (end of stream is `UnexpectedEof`), waiting
/// up to [`IO_TIMEOUT`] (`SO_RCVTIMEO`).
fn recv_blocking(mut s: &UnixStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match s.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The reply buffer.
#[derive(Debug)]
struct RxBuf {
    buf: Box<[u8]>,
    /// Unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
}

impl RxBuf {
    fn new() -> RxBuf {
        RxBuf {
            buf: vec![0; RX_BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
        }
    }

    /// Whether a whole reply is buffered (reading it will not block).
    fn reply_buffered(&self) -> bool {
        let b = &self.buf[self.pos..self.end];
        let Some(h) = b
            .get(..size_of::<RepHdr>())
            .and_then(|h| RepHdr::read_from_bytes(h).ok())
        else {
            return false;
        };
        let len = size_of::<RepHdr>() as u64 + u64::from(h.arg_len) + u64::from(h.data_len);
        b.len() as u64 >= len
    }

    /// Reads at least one more byte into the buffer (which is empty).
    fn fill(&mut self, s: &UnixStream) -> io::Result<()> {
        let n = recv_blocking(s, &mut self.buf)?;
        self.pos = 0;
        self.end = n;
        Ok(())
    }

    /// Fills `dst` from the buffer and then the stream; a large tail is
    /// read straight into `dst`.
    fn read_exact(&mut self, s: &UnixStream, mut dst: &mut [u8]) -> io::Result<()> {
        while !dst.is_empty() {
            if self.pos == self.end {
                if dst.len() >= self.buf.len() {
                    let n = recv_blocking(s, dst)?;
                    dst = &mut dst[n..];
                    continue;
                }
                self.fill(s)?;
            }
            let n = dst.len().min(self.end - self.pos);
            dst[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            dst = &mut dst[n..];
        }
        Ok(())
    }

    /// Reads and drops `n` bytes.
    fn discard(&mut self, s: &UnixStream, mut n: u64) -> io::Result<()> {
        while n > 0 {
            if self.pos == self.end {
                self.fill(s)?;
            }
            let k = (self.end - self.pos).min(usize::try_from(n).unwrap_or(usize::MAX));
            self.pos += k;
            n -= k as u64;
        }
        Ok(())
    }

    fn read_hdr(&mut self, s: &UnixStream) -> io::Result<RepHdr> {
        let mut b = [0u8; size_of::<RepHdr>()];
        self.read_exact(s, &mut b)?;
        Ok(RepHdr::read_from_bytes(&b).unwrap_or_default())
    }

    /// A reply's payload, into the caller's buffers (none: dropped). The
    /// outer error leaves the stream out of step; the inner result is the
    /// command's, with the stream in step: the bytes copied out, or the
    /// errno.
    fn read_payload(
        &mut self,
        s: &UnixStream,
        rep: &RepHdr,
        arg: RawBuf,
        data: RawBuf,
    ) -> Result<Result<(usize, usize), ClientError>, Fatal> {
        let (arg_len, data_len) = (rep.arg_len as usize, rep.data_len as usize);
        let total = u64::from(rep.arg_len) + u64::from(rep.data_len);
        if rep.errno != 0 {
            // As ioctl(2): nothing is copied out on failure.
            self.discard(s, total)
                .map_err(|e| fatal("reading reply", e))?;
            let errno = i32::try_from(rep.errno).unwrap_or(i32::MAX);
            return Ok(Err(Errno(errno).into()));
        }
        if arg_len > arg.len || data_len > data.len {
            self.discard(s, total)
                .map_err(|e| fatal("reading reply", e))?;
            return Ok(Err(ClientError::bad_reply(format!(
                "reply of {arg_len}+{data_len} bytes does not fit the {}+{}-byte buffers",
                arg.len, data.len
            ))));
        }
        for (len, buf) in [(arg_len, arg), (data_len, data)] {
            if len == 0 {
                continue;
            }
            // SAFETY: `buf` is a live caller buffer of at least `len`
            // bytes (checked above), which its caller does not touch
            // while its call is `Filling` (see `RawBuf`); nothing else
            // refers to it meanwhile.
            let dst = unsafe { std::slice::from_raw_parts_mut(buf.ptr, len) };
            self.read_exact(s, dst)
                .map_err(|e| fatal("reading reply", e))?;
        }
        Ok(Ok((arg_len, data_len)))
    }

    /// A pooled `LOOKUP`'s reply.
    fn read_lookup(
        &mut self,
        s: &UnixStream,
        rep: &RepHdr,
    ) -> Result<Result<OverlayTargLookup, ClientError>, Fatal> {
        let mut l = OverlayTargLookup::new_zeroed();
        let data = RawBuf::NONE;
        let arg = RawBuf::of(l.as_mut_bytes());
        // `l` is this thread's own, for the duration of the call.
        Ok(self.read_payload(s, rep, arg, data)?.map(|_| l))
    }
}
