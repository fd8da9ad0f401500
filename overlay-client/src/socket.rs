//! The socket transport: one request, one reply, in turn, over overlayd's
//! control socket (see [`crate::proto`]).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use overlay::Errno;
use zerocopy::{FromZeros, IntoBytes};

use crate::IoData;
use crate::error::ClientError;
use crate::proto::{MAX_PAYLOAD, REP_MAGIC, RepHdr, ReqHdr};
use crate::shape::{OTP_BUF_OFFSET, Shape};

/// How long a reply may take before the connection is given up. The
/// server holds a `LOOKUP` for up to a second; anything else is
/// immediate, so this only catches a wedged daemon.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection. Requests are strictly in turn (the protocol has no
/// request ids), so the stream is behind a lock: a `Client` shared by
/// threads issues one command at a time.
#[derive(Debug)]
pub(crate) struct Conn {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    stream: UnixStream,
    /// Set once the stream is out of step (a broken or malformed reply);
    /// every later command fails rather than read someone else's reply.
    broken: bool,
}

/// A failure after which the stream's position is unknown.
struct Fatal(ClientError);

fn fatal(what: &str, e: io::Error) -> Fatal {
    let msg = match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("{what}: overlayd closed the connection"),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("{what}: no reply from overlayd within {IO_TIMEOUT:?}")
        }
        _ => format!("{what}: {e}"),
    };
    Fatal(ClientError::io(e.kind(), msg))
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
            state: Mutex::new(State {
                stream,
                broken: false,
            }),
        })
    }

    /// Issues one checked command.
    pub(crate) fn call(
        &self,
        cmd: u32,
        shape: &Shape,
        arg: &mut [u8],
        data: IoData<'_>,
    ) -> Result<usize, ClientError> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.broken {
            return Err(ClientError::io(
                io::ErrorKind::BrokenPipe,
                "connection unusable after an earlier transport error",
            ));
        }
        match exchange(&st.stream, cmd, shape, arg, data) {
            Ok(r) => r,
            Err(Fatal(e)) => {
                st.broken = true;
                // Nothing more can be read in step; let the server see
                // the end (it closes the handle). Failure changes nothing.
                let _ = st.stream.shutdown(Shutdown::Both);
                Err(e)
            }
        }
    }
}

/// Reads and drops `n` bytes.
fn discard(s: &UnixStream, n: u64) -> io::Result<()> {
    let got = io::copy(&mut Read::take(s, n), &mut io::sink())?;
    if got < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// One request and its reply. The outer error leaves the stream out of
/// step; the inner result is the command's, with the stream in step.
fn exchange(
    mut s: &UnixStream,
    cmd: u32,
    shape: &Shape,
    arg: &mut [u8],
    data: IoData<'_>,
) -> Result<Result<usize, ClientError>, Fatal> {
    // The request: header, the fixed argument, the frame to send.
    let out: &[u8] = match (&data, shape.frame) {
        (IoData::In(b), Some(f)) => &b[..f.size],
        _ => &[],
    };
    let hdr = ReqHdr::new(cmd, shape.fixed as u32, out.len() as u32);
    let mut req = Vec::with_capacity(size_of::<ReqHdr>() + shape.fixed + out.len());
    req.extend_from_slice(hdr.as_bytes());
    let at = req.len();
    req.extend_from_slice(&arg[..shape.fixed]);
    if shape.frame.is_some() {
        // The frame travels as data; there is no pointer to pass.
        req[at + OTP_BUF_OFFSET..at + OTP_BUF_OFFSET + 8].fill(0);
    }
    req.extend_from_slice(out);
    s.write_all(&req)
        .and_then(|()| s.flush())
        .map_err(|e| fatal("sending request", e))?;

    // The reply header.
    let mut rep = RepHdr::new_zeroed();
    s.read_exact(rep.as_mut_bytes())
        .map_err(|e| fatal("reading reply", e))?;
    if rep.magic != REP_MAGIC {
        return Err(Fatal(ClientError::bad_reply(format!(
            "bad reply magic {:#010x} (expected {REP_MAGIC:#010x})",
            rep.magic
        ))));
    }
    if rep.arg_len > MAX_PAYLOAD || rep.data_len > MAX_PAYLOAD {
        return Err(Fatal(ClientError::bad_reply(format!(
            "reply lengths {}+{} exceed the {MAX_PAYLOAD}-byte limit",
            rep.arg_len, rep.data_len
        ))));
    }
    let (arg_len, data_len) = (rep.arg_len as usize, rep.data_len as usize);
    let total = u64::from(rep.arg_len) + u64::from(rep.data_len);

    if rep.errno != 0 {
        // As ioctl(2): nothing is copied out on failure.
        discard(s, total).map_err(|e| fatal("reading reply", e))?;
        let errno = i32::try_from(rep.errno).unwrap_or(i32::MAX);
        return Ok(Err(Errno(errno).into()));
    }

    let is_out = matches!(data, IoData::Out(_));
    let room = match &data {
        IoData::Out(b) => b.len(),
        _ => 0,
    };
    if arg_len > arg.len() || data_len > room {
        discard(s, total).map_err(|e| fatal("reading reply", e))?;
        return Ok(Err(ClientError::bad_reply(format!(
            "reply of {arg_len}+{data_len} bytes does not fit the {}+{room}-byte buffers",
            arg.len()
        ))));
    }
    s.read_exact(&mut arg[..arg_len])
        .map_err(|e| fatal("reading reply", e))?;
    if let Some(f) = shape.frame
        && arg_len >= OTP_BUF_OFFSET + 8
    {
        arg[OTP_BUF_OFFSET..OTP_BUF_OFFSET + 8].copy_from_slice(&f.caller_buf.to_ne_bytes());
    }
    if let IoData::Out(b) = data {
        s.read_exact(&mut b[..data_len])
            .map_err(|e| fatal("reading reply", e))?;
    }
    Ok(Ok(match shape.frame {
        Some(_) if is_out => data_len,
        Some(f) => f.size,
        None => 0,
    }))
}
