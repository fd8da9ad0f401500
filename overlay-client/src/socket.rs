//! The socket transport: commands multiplexed over overlayd's control
//! socket (see [`crate::proto`]).
//!
//! Any number of threads may have commands in flight on one connection,
//! as on an illumos descriptor: each request carries an id, and replies
//! come back in whatever order the driver finishes them. varpd's lookup
//! threads depend on it: a `LOOKUP` waiting a second for work must not
//! hold up the `RESPOND` another thread sends meanwhile.
//!
//! ## Who reads
//!
//! There is no reader thread. Callers waiting for replies take turns at
//! reading ("leader/follower"): the one that finds nobody reading becomes
//! the *leader*, reads replies and hands each to its caller (copying it
//! straight into that caller's buffers and waking it), and keeps reading
//! until its own reply arrives; then it wakes one waiting caller to read
//! in its place and returns. Why not a dedicated reader thread: a lone
//! caller (dladm, or varpd's single thread of old) would then pay a
//! thread wakeup on every reply; with a leader it reads its own reply as
//! before, with no handoff, and the wakeups that remain are the ones
//! multiplexing cannot avoid (a reply for a caller that is not reading).
//!
//! `LOOKUP` replies are interchangeable: the request carries nothing the
//! driver reads, and any pending request may be handed any waiting
//! entry. So a leader waiting for a `LOOKUP` that reads a successful
//! `LOOKUP` reply for another caller keeps it for itself, and the other
//! caller inherits the leader's request id. The lookup is then served by
//! the thread that is already running, rather than after a wakeup, which
//! takes a thread handoff off the path of a first frame to its
//! destination.
//!
//! Requests are written whole under a lock (one `writev` of header,
//! argument and frame, no copy into a staging buffer). Replies are read
//! through a buffer, so a burst of replies costs one `read`. A call
//! allocates nothing.
//!
//! Any failure that leaves the stream's position unknown (a broken
//! connection, a malformed reply header, a reply for no request in
//! flight) ends the connection: every command in flight fails with that
//! error, and every later one fails at once.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use overlay::Errno;
use overlay::abi::targ::OVERLAY_TARG_LOOKUP;
use zerocopy::{FromBytes, IntoBytes};

use crate::IoData;
use crate::error::ClientError;
use crate::proto::{MAX_PAYLOAD, REP_MAGIC, RepHdr, ReqHdr};
use crate::shape::{OTP_BUF_OFFSET, Shape};

/// How long a reply may take before the connection is given up. The
/// server holds a `LOOKUP` for up to a second; anything else is
/// immediate, so this only catches a wedged daemon. (It bounds the
/// leader's reads; a caller waiting for a reply that never comes while
/// others do gives up after twice this.)
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Size of the reply buffer: a few hundred `LOOKUP` or `RESPOND` replies.
const RX_BUF: usize = 32 * 1024;

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

#[derive(Debug, Default)]
struct Shared {
    /// A caller is reading replies.
    leading: bool,
    /// Every command in flight.
    waiters: Vec<Waiter>,
    /// Set once the stream is out of step: why.
    broken: Option<(io::ErrorKind, String)>,
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
// while its waiter is `Filling`: the caller that owns the buffer is then
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

#[derive(Debug)]
struct Waiter {
    /// Names the waiter for its caller; never changes.
    key: u64,
    /// The request id its reply will carry (changes when a leader takes
    /// over its reply, see the module documentation).
    wire: u64,
    /// A `LOOKUP`: its reply may answer any other `LOOKUP`.
    lookup: bool,
    arg: RawBuf,
    data: RawBuf,
    state: State,
    /// The caller's wakeup.
    cv: Arc<Condvar>,
}

thread_local! {
    /// Each thread's condition variable for its replies (one call at a
    /// time per thread, so one suffices; reused, so a call allocates
    /// nothing).
    static WAKE: Arc<Condvar> = Arc::new(Condvar::new());
}

/// A failure after which the stream's position is unknown.
#[derive(Debug)]
struct Fatal(io::ErrorKind, String);

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

impl Shared {
    fn by_key(&mut self, key: u64) -> Option<usize> {
        self.waiters.iter().position(|w| w.key == key)
    }

    /// Wakes one caller still waiting, to read in the leader's place.
    fn pass_lead(&self) {
        if let Some(w) = self
            .waiters
            .iter()
            .find(|w| matches!(w.state, State::Pending))
        {
            w.cv.notify_one();
        }
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

    /// Issues one checked command and waits for its reply.
    pub(crate) fn call(
        &self,
        cmd: u32,
        shape: &Shape,
        arg: &mut [u8],
        mut data: IoData<'_>,
    ) -> Result<usize, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (out, room) = match (&mut data, shape.frame) {
            (IoData::In(b), Some(f)) => (&b[..f.size], RawBuf::NONE),
            (IoData::Out(b), _) => (&[][..], RawBuf::of(b)),
            _ => (&[][..], RawBuf::NONE),
        };
        {
            let mut sh = self.shared();
            if sh.broken.is_some() {
                return Err(ClientError::io(
                    io::ErrorKind::BrokenPipe,
                    "connection unusable after an earlier transport error",
                ));
            }
            // Registered before the request goes out: the reply may be
            // read (by a leader) before this thread is back from writing.
            sh.waiters.push(Waiter {
                key: id,
                wire: id,
                lookup: cmd == OVERLAY_TARG_LOOKUP && shape.frame.is_none(),
                arg: RawBuf::of(arg),
                data: room,
                state: State::Pending,
                cv: WAKE
                    .try_with(Arc::clone)
                    .unwrap_or_else(|_| Arc::new(Condvar::new())),
            });
        }
        if let Err(e) = self.send(cmd, id, shape, arg, out) {
            let f = fatal("sending request", e);
            self.break_conn(&mut self.shared(), f);
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

    /// Writes one request: header, the fixed argument, the frame to send,
    /// in one `writev` as a rule.
    fn send(&self, cmd: u32, id: u64, shape: &Shape, arg: &[u8], out: &[u8]) -> io::Result<()> {
        let hdr = ReqHdr::new(cmd, id, shape.fixed as u32, out.len() as u32);
        let arg = &arg[..shape.fixed];
        // The frame travels as data; there is no pointer to pass, so
        // `otp_buf` goes out as zeros (and the caller's stays as it was).
        let (a, b) = match shape.frame {
            Some(_) => (&arg[..OTP_BUF_OFFSET], &arg[OTP_BUF_OFFSET + 8..]),
            None => (arg, &[][..]),
        };
        let zeros = [0u8; 8];
        let gap: &[u8] = if shape.frame.is_some() { &zeros } else { &[] };
        let mut bufs = [
            IoSlice::new(hdr.as_bytes()),
            IoSlice::new(a),
            IoSlice::new(gap),
            IoSlice::new(b),
            IoSlice::new(out),
        ];
        let mut bufs = &mut bufs[..];
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

    /// Waits for the reply of request `key`, reading replies (its own and
    /// others') whenever nobody else is.
    fn wait(&self, key: u64) -> Result<(usize, usize), ClientError> {
        let deadline = Instant::now() + 2 * IO_TIMEOUT;
        let mut sh = self.shared();
        loop {
            let Some(i) = sh.by_key(key) else {
                // Unreachable: only this caller removes its waiter.
                return Err(ClientError::bad_reply("request lost"));
            };
            match sh.waiters[i].state {
                State::Done(_) => {
                    if let State::Done(r) = sh.waiters.swap_remove(i).state {
                        return r;
                    }
                }
                State::Pending if !sh.leading => {
                    if let Some((kind, msg)) = &sh.broken {
                        // Nobody will read any more.
                        let e = ClientError::io(*kind, msg.clone());
                        sh.waiters.swap_remove(i);
                        return Err(e);
                    }
                    sh.leading = true;
                    drop(sh);
                    self.lead(key);
                    sh = self.shared();
                }
                // A leader is reading, possibly into this caller's
                // buffers: wait for it, whatever happens.
                State::Pending | State::Filling => {
                    let cv = sh.waiters[i].cv.clone();
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() && matches!(sh.waiters[i].state, State::Pending) {
                        let f = Fatal(
                            io::ErrorKind::TimedOut,
                            format!("no reply from overlayd within {:?}", 2 * IO_TIMEOUT),
                        );
                        self.break_conn(&mut sh, f);
                        continue;
                    }
                    let left = left.max(Duration::from_millis(100));
                    sh = cv
                        .wait_timeout(sh, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }

    /// Reads replies until the one for `key` is in (or the connection
    /// fails), then gives up the lead. Called with `leading` taken.
    fn lead(&self, key: u64) {
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        let failed = loop {
            let hdr = match rx.read_hdr(&self.stream) {
                Ok(h) => h,
                Err(e) => break fatal("reading reply", e),
            };
            if hdr.magic != REP_MAGIC {
                break bad(format!(
                    "bad reply magic {:#010x} (expected {REP_MAGIC:#010x})",
                    hdr.magic
                ));
            }
            if hdr.arg_len > MAX_PAYLOAD || hdr.data_len > MAX_PAYLOAD {
                break bad(format!(
                    "reply lengths {}+{} exceed the {MAX_PAYLOAD}-byte limit",
                    hdr.arg_len, hdr.data_len
                ));
            }
            // Whose reply: claim its buffers.
            let (target, arg, data) = {
                let mut sh = self.shared();
                let Some(t) = sh
                    .waiters
                    .iter()
                    .position(|w| w.wire == hdr.id && matches!(w.state, State::Pending))
                else {
                    break bad(format!(
                        "reply for request id {}, which is not in flight",
                        hdr.id
                    ));
                };
                let mut target = t;
                if hdr.errno == 0
                    && sh.waiters[t].lookup
                    && sh.waiters[t].key != key
                    && let Some(me) = sh.by_key(key)
                    && sh.waiters[me].lookup
                    && matches!(sh.waiters[me].state, State::Pending)
                {
                    // Keep the answer; the other caller gets ours.
                    let mine = sh.waiters[me].wire;
                    sh.waiters[t].wire = mine;
                    sh.waiters[me].wire = hdr.id;
                    target = me;
                }
                let w = &mut sh.waiters[target];
                w.state = State::Filling;
                (w.key, w.arg, w.data)
            };
            let (outcome, failed) = match rx.read_payload(&self.stream, &hdr, arg, data) {
                Ok(outcome) => (outcome, None),
                Err(Fatal(kind, msg)) => (
                    Err(ClientError::io(kind, msg.clone())),
                    Some(Fatal(kind, msg)),
                ),
            };
            let mut sh = self.shared();
            // A filling waiter stays: its caller waits for `Done`.
            if let Some(i) = sh.by_key(target) {
                let w = &mut sh.waiters[i];
                w.state = State::Done(outcome);
                if target != key {
                    w.cv.notify_one();
                }
            }
            if let Some(f) = failed {
                break f;
            }
            if target == key {
                sh.leading = false;
                sh.pass_lead();
                return;
            }
        };
        drop(rx);
        self.break_conn(&mut self.shared(), failed);
    }

    /// The stream is out of step: fails every command in flight and
    /// every later one, and shuts the socket down (the server then sees
    /// the end and closes the handle, and a leader blocked in a read
    /// wakes up and fails likewise).
    ///
    /// A waiter being filled is left to the leader filling it, which
    /// completes it when its read returns: its caller must not go while
    /// its buffers are written to.
    fn break_conn(&self, sh: &mut Shared, f: Fatal) {
        let Fatal(kind, msg) = f;
        for w in &mut sh.waiters {
            if matches!(w.state, State::Pending) {
                w.state = State::Done(Err(ClientError::io(kind, msg.clone())));
                w.cv.notify_one();
            }
        }
        sh.leading = false;
        if sh.broken.is_none() {
            sh.broken = Some((kind, msg));
            // Failure changes nothing.
            let _ = self.stream.shutdown(Shutdown::Both);
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

    /// Reads at least one more byte into the buffer (which is empty).
    fn fill(&mut self, mut s: &UnixStream) -> io::Result<()> {
        loop {
            match s.read(&mut self.buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Fills `dst` from the buffer and then the stream; a large tail is
    /// read straight into `dst`.
    fn read_exact(&mut self, s: &UnixStream, mut dst: &mut [u8]) -> io::Result<()> {
        while !dst.is_empty() {
            if self.pos == self.end {
                if dst.len() >= self.buf.len() {
                    let mut s = s;
                    return s.read_exact(dst);
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

    /// A reply's payload, into the caller's buffers. The outer error
    /// leaves the stream out of step; the inner result is the command's,
    /// with the stream in step: the bytes copied out, or the errno.
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
            // while its waiter is `Filling` (see `RawBuf`); nothing else
            // refers to it meanwhile.
            let dst = unsafe { std::slice::from_raw_parts_mut(buf.ptr, len) };
            self.read_exact(s, dst)
                .map_err(|e| fatal("reading reply", e))?;
        }
        Ok(Ok((arg_len, data_len)))
    }
}
