//! Where clients reach varpd: a Unix stream socket at the control path
//! (the door path of illumos, `/var/run/varpd/varpd.door` by default).
//!
//! Each request is a little-endian `u32` length and that many bytes (a
//! `varpd_client_arg_t`, longer for WALK); each reply the same. A
//! connection may carry any number of requests, one at a time. The
//! socket is mode 0666 as the illumos door; the run directory (0700)
//! is what keeps others out. Cache changes need a root peer
//! (`SO_PEERCRED` / `getpeerucred`).
//!
//! On illumos the same protocol is also served over a door at
//! `<path>` (see [`door`]), which is what libdladm calls.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::core::Varpd;
use crate::proto;

/// The listening socket; dropping it removes the file.
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn peer_uid(s: &UnixStream) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: ucred is plain data.
        let mut c: libc::ucred = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: getsockopt on our socket into a buffer of `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut c as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(c.uid)
    }
    #[cfg(target_os = "illumos")]
    {
        use std::os::fd::AsRawFd;
        unsafe extern "C" {
            fn getpeerucred(fd: libc::c_int, cred: *mut *mut libc::c_void) -> libc::c_int;
            fn ucred_geteuid(cred: *const libc::c_void) -> libc::uid_t;
            fn ucred_free(cred: *mut libc::c_void);
        }
        let mut cred: *mut libc::c_void = std::ptr::null_mut();
        // SAFETY: getpeerucred on our socket with an out slot; the
        // credential is freed after reading it.
        unsafe {
            if getpeerucred(s.as_raw_fd(), &mut cred) != 0 {
                return None;
            }
            let uid = ucred_geteuid(cred);
            ucred_free(cred);
            Some(uid)
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "illumos")))]
    {
        let _ = s;
        None
    }
}

impl Server {
    /// Binds `path`; a stale socket file is replaced, a live one refused.
    pub fn bind(path: &Path) -> io::Result<Server> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running varpd", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
        listener.set_nonblocking(true)?;
        Ok(Server {
            listener,
            path: path.to_owned(),
        })
    }

    /// Accepts until `stop`; each connection gets a thread.
    pub fn serve(&self, v: &Arc<Varpd>, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            match self.listener.accept() {
                Ok((c, _)) => {
                    let v = v.clone();
                    let _ = std::thread::Builder::new()
                        .name("varpd-client".into())
                        .spawn(move || {
                            if let Err(e) = serve_conn(&v, c) {
                                tracing::debug!("client connection: {e}");
                            }
                        });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

fn serve_conn(v: &Varpd, mut c: UnixStream) -> io::Result<()> {
    c.set_nonblocking(false)?;
    let privileged = peer_uid(&c) == Some(0);
    loop {
        let mut len = [0u8; 4];
        match c.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let n = u32::from_le_bytes(len) as usize;
        if n > proto::MAX_REQUEST {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request too large",
            ));
        }
        let mut buf = vec![0u8; n];
        c.read_exact(&mut buf)?;
        let rn = proto::serve(v, &mut buf, privileged);
        let mut out = Vec::with_capacity(4 + rn);
        out.extend_from_slice(&(rn as u32).to_le_bytes());
        out.extend_from_slice(&buf[..rn]);
        c.write_all(&out)?;
    }
}

/// The illumos door server.
#[cfg(target_os = "illumos")]
pub mod door {
    use std::ffi::{CString, c_char, c_int, c_uint, c_void};
    use std::path::Path;
    use std::sync::{Arc, OnceLock};

    use crate::core::Varpd;
    use crate::proto;

    #[repr(C)]
    struct DoorDesc {
        _opaque: [u8; 0],
    }

    type ServerProc = extern "C" fn(*mut c_void, *mut c_char, usize, *mut DoorDesc, c_uint);

    const DOOR_REFUSE_DESC: c_uint = 0x40;
    const DOOR_NO_CANCEL: c_uint = 0x80;
    const PRIV_EFFECTIVE: &[u8] = b"Effective\0";
    const PRIV_SYS_NET_CONFIG: &[u8] = b"sys_net_config\0";

    unsafe extern "C" {
        fn door_create(f: ServerProc, cookie: *mut c_void, attr: c_uint) -> c_int;
        fn door_return(data: *mut c_char, size: usize, desc: *mut DoorDesc, n: c_uint) -> c_int;
        fn door_revoke(fd: c_int) -> c_int;
        fn door_ucred(cred: *mut *mut c_void) -> c_int;
        fn ucred_getprivset(cred: *const c_void, which: *const c_char) -> *const c_void;
        fn ucred_free(cred: *mut c_void);
        fn priv_ismember(set: *const c_void, p: *const c_char) -> c_int;
        fn fattach(fd: c_int, path: *const c_char) -> c_int;
        fn fdetach(path: *const c_char) -> c_int;
    }

    static VARPD: OnceLock<Arc<Varpd>> = OnceLock::new();

    fn privileged() -> bool {
        let mut cred: *mut c_void = std::ptr::null_mut();
        // SAFETY: door_ucred inside a door call, with an out slot.
        if unsafe { door_ucred(&mut cred) } != 0 {
            return false;
        }
        // SAFETY: the credential just obtained; freed below.
        unsafe {
            let set = ucred_getprivset(cred, PRIV_EFFECTIVE.as_ptr().cast());
            let ok = !set.is_null() && priv_ismember(set, PRIV_SYS_NET_CONFIG.as_ptr().cast()) != 0;
            ucred_free(cred);
            ok
        }
    }

    extern "C" fn serve(
        _c: *mut c_void,
        argp: *mut c_char,
        size: usize,
        _d: *mut DoorDesc,
        _n: c_uint,
    ) {
        let mut buf = if argp.is_null() || size == 0 || size > proto::MAX_REQUEST {
            Vec::new()
        } else {
            // SAFETY: the door hands us `size` readable bytes.
            unsafe { std::slice::from_raw_parts(argp.cast::<u8>(), size) }.to_vec()
        };
        let n = match VARPD.get() {
            Some(v) => proto::serve(v, &mut buf, privileged()),
            None => {
                buf.clear();
                proto::serve_unavailable(&mut buf)
            }
        };
        // SAFETY: returns our reply (copied by the kernel) to the caller.
        unsafe {
            door_return(buf.as_mut_ptr().cast(), n, std::ptr::null_mut(), 0);
        }
    }

    /// Creates the door and attaches it at `path` (mode 0666).
    pub fn start(v: Arc<Varpd>, path: &Path) -> std::io::Result<c_int> {
        let _ = VARPD.set(v);
        let p = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: door_create with a static server procedure.
        let fd = unsafe {
            door_create(
                serve,
                std::ptr::null_mut(),
                DOOR_REFUSE_DESC | DOOR_NO_CANCEL,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let _ = std::fs::remove_file(path);
        std::fs::File::create(path)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
        // SAFETY: C strings and our door descriptor.
        unsafe {
            fdetach(p.as_ptr());
            if fattach(fd, p.as_ptr()) != 0 {
                let e = std::io::Error::last_os_error();
                door_revoke(fd);
                return Err(e);
            }
        }
        Ok(fd)
    }

    /// Revokes the door.
    pub fn stop(fd: c_int, path: &Path) {
        if let Ok(p) = CString::new(path.as_os_str().as_encoded_bytes()) {
            // SAFETY: C string and our door descriptor.
            unsafe {
                fdetach(p.as_ptr());
                door_revoke(fd);
            }
        }
    }
}
