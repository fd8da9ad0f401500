//! Request and reply encoding, against a fake server on a socket pair.
//!
//! The server side is a few lines per test: it reads requests, checks
//! their header and bytes, and writes canned replies. Its assertions
//! surface when the test joins it. The end-to-end tests against overlayd
//! live with overlayd.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use overlay::abi::common::{OVERLAY_I_DEGRADED, cstr_field};
use overlay::abi::dld::*;
use overlay::abi::targ::*;
use overlay::abi::{EtherAddr, In6Addr};
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::proto::*;
use crate::{Client, ClientError, Errno, IoData};

/// One request as the server sees it.
#[derive(Debug)]
struct Req {
    cmd: u32,
    id: u64,
    flags: u32,
    arg: Vec<u8>,
    data: Vec<u8>,
}

thread_local! {
    /// The id of the request a fake server read last: what [`reply`]
    /// answers (the servers that answer in turn need not track ids).
    static LAST_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Req {
    fn arg<T: FromBytes>(&self) -> T {
        T::read_from_bytes(&self.arg).expect("argument of the command's size")
    }
}

/// The next request, or `None` at end of stream.
fn read_req(s: &mut UnixStream) -> Option<Req> {
    let mut h = ReqHdr::new_zeroed();
    match s.read_exact(h.as_mut_bytes()) {
        Ok(()) => {}
        // A client that gives up with bytes unread resets the stream.
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            return None;
        }
        Err(e) => panic!("server read: {e}"),
    }
    assert_eq!(h.magic, REQ_MAGIC, "request magic");
    assert!(h.is_valid());
    let mut arg = vec![0; h.arg_len as usize];
    let mut data = vec![0; h.data_len as usize];
    s.read_exact(&mut arg).unwrap();
    s.read_exact(&mut data).unwrap();
    LAST_ID.with(|l| l.set(h.id));
    Some(Req {
        cmd: h.cmd,
        id: h.id,
        flags: h.flags,
        arg,
        data,
    })
}

/// The next request if one starts within `wait` (`Err` if none does;
/// `Ok(None)` at end of stream).
fn read_req_within(s: &mut UnixStream, wait: Duration) -> Result<Option<Req>, ()> {
    let mut h = ReqHdr::new_zeroed();
    s.set_read_timeout(Some(wait)).unwrap();
    let first = s.read(&mut h.as_mut_bytes()[..1]);
    s.set_read_timeout(None).unwrap();
    match first {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            return Err(());
        }
        Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(None),
        Err(e) => panic!("server read: {e}"),
    }
    s.read_exact(&mut h.as_mut_bytes()[1..]).unwrap();
    assert!(h.is_valid());
    let mut arg = vec![0; h.arg_len as usize];
    let mut data = vec![0; h.data_len as usize];
    s.read_exact(&mut arg).unwrap();
    s.read_exact(&mut data).unwrap();
    LAST_ID.with(|l| l.set(h.id));
    Ok(Some(Req {
        cmd: h.cmd,
        id: h.id,
        flags: h.flags,
        arg,
        data,
    }))
}

fn expect_req(s: &mut UnixStream, cmd: u32) -> Req {
    let r = read_req(s).expect("a request");
    assert_eq!(r.cmd, cmd, "command {:#x}", r.cmd);
    r
}

/// The failure reply of a quiet request: its errno, its argument back.
fn quiet_failure(s: &mut UnixStream, r: &Req, errno: Errno) {
    assert_eq!(r.flags, REQ_F_QUIET);
    let h = RepHdr {
        cmd: r.cmd,
        flags: REP_F_QUIET,
        ..RepHdr::new(errno.0 as u32, r.id, r.arg.len() as u32, 0)
    };
    let mut b = h.as_bytes().to_vec();
    b.extend_from_slice(&r.arg);
    s.write_all(&b).unwrap();
}

/// Answers request `id`.
fn reply_to(s: &mut UnixStream, id: u64, errno: u32, arg: &[u8], data: &[u8]) {
    let h = RepHdr::new(errno, id, arg.len() as u32, data.len() as u32);
    let mut b = h.as_bytes().to_vec();
    b.extend_from_slice(arg);
    b.extend_from_slice(data);
    s.write_all(&b).unwrap();
}

/// Answers the request read last.
fn reply(s: &mut UnixStream, errno: u32, arg: &[u8], data: &[u8]) {
    reply_to(s, LAST_ID.with(|l| l.get()), errno, arg, data);
}

fn ok(s: &mut UnixStream, arg: &[u8]) {
    reply(s, 0, arg, &[]);
}

/// Runs `client` against a server running `serve` on the other end of a
/// socket pair. The client is dropped before the server is joined, so a
/// server that reads to the end sees it; a server assertion fails the
/// test before any client-side one can.
fn run<R>(
    serve: impl FnOnce(&mut UnixStream) + Send + 'static,
    client: impl FnOnce(&Client) -> R,
) -> R {
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || serve(&mut b));
    let c = Client::from_stream(a).unwrap();
    let r = client(&c);
    drop(c);
    if let Err(p) = server.join() {
        std::panic::resume_unwind(p);
    }
    r
}

fn point() -> OverlayTargetPoint {
    OverlayTargetPoint::new(
        EtherAddr([2, 8, 0x20, 1, 2, 3]),
        In6Addr::from(std::net::Ipv4Addr::new(192, 0, 2, 7)),
        4789,
    )
}

#[test]
fn client_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Client>();
    check::<ClientError>();
}

#[test]
fn errno_propagates() {
    let r = run(
        |s| {
            let r = expect_req(s, OVERLAY_IOC_CREATE);
            assert!(r.data.is_empty());
            let c: OverlayIocCreate = r.arg();
            assert_eq!(c.oic_linkid, 5);
            assert_eq!(c.oic_vnetid, 0xab_cdef);
            assert_eq!(cstr_field(&c.oic_encap), Ok("vxlan"));
            // An error reply may carry bytes; none reach the caller, and
            // the connection stays in step.
            reply(s, Errno::EEXIST.0 as u32, &r.arg, b"junk");
            let r = expect_req(s, OVERLAY_IOC_DELETE);
            assert_eq!(r.arg::<OverlayIocDelete>().oid_linkid, 5);
            reply(s, Errno::ENOENT.0 as u32, &[], &[]);
        },
        |c| (c.create(5, 0xab_cdef, "vxlan"), c.delete(5)),
    );
    let e = r.0.unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EEXIST));
    assert!(matches!(e, ClientError::Errno(Errno::EEXIST)));
    assert_eq!(r.1.unwrap_err().errno(), Some(Errno::ENOENT));
}

#[test]
fn lookup_timeout_is_etime() {
    let r = run(
        |s| {
            let r = expect_req(s, OVERLAY_TARG_LOOKUP);
            assert_eq!(r.arg.len(), size_of::<OverlayTargLookup>());
            reply(s, Errno::ETIME.0 as u32, &[], &[]);
            expect_req(s, OVERLAY_TARG_LOOKUP);
            let mut l = OverlayTargLookup::new_zeroed();
            l.otl_reqid = 77;
            l.otl_dstaddr = EtherAddr::BROADCAST;
            l.otl_vlan = 12;
            ok(s, l.as_bytes());
        },
        |c| (c.lookup(), c.lookup()),
    );
    assert_eq!(r.0.unwrap_err().errno(), Some(Errno::ETIME));
    let l = r.1.unwrap();
    assert_eq!(l.otl_reqid, 77);
    assert_eq!(l.otl_dstaddr, EtherAddr::BROADCAST);
    assert_eq!(l.otl_vlan, 12);
}

#[test]
fn dld_copy_out() {
    let r = run(
        |s| {
            let r = expect_req(s, OVERLAY_IOC_NPROPS);
            let mut n: OverlayIocNprops = r.arg();
            assert_eq!(n.oipn_linkid, 3);
            n.oipn_nprops = 6;
            ok(s, n.as_bytes());

            let r = expect_req(s, OVERLAY_IOC_STATUS);
            let mut st: OverlayIocStatus = r.arg();
            assert_eq!(st.ois_linkid, 3);
            st.ois_status = OVERLAY_I_DEGRADED;
            st.ois_message[..8].copy_from_slice(b"svp down");
            ok(s, st.as_bytes());

            let r = expect_req(s, OVERLAY_IOC_PROPINFO);
            let mut p: OverlayIocPropinfo = r.arg();
            assert_eq!(p.oipi_id, -1);
            assert_eq!(cstr_field(&p.oipi_name), Ok("mtu"));
            p.oipi_id = 0;
            p.oipi_defsize = 4;
            ok(s, p.as_bytes());

            let r = expect_req(s, OVERLAY_IOC_GETPROP);
            let mut p: OverlayIocProp = r.arg();
            assert_eq!((p.oip_linkid, p.oip_id), (3, 0));
            p.oip_value[..4].copy_from_slice(&1400u32.to_ne_bytes());
            p.oip_size = 4;
            ok(s, p.as_bytes());

            let r = expect_req(s, OVERLAY_IOC_SETPROP);
            let p: OverlayIocProp = r.arg();
            assert_eq!(cstr_field(&p.oip_name), Ok("vxlan/listen_port"));
            assert_eq!(p.oip_id, -1);
            assert_eq!(p.oip_size, 2);
            assert_eq!(&p.oip_value[..2], &4789u16.to_ne_bytes());
            ok(s, &[]);

            let r = expect_req(s, OVERLAY_IOC_ACTIVATE);
            assert_eq!(r.arg::<OverlayIocActivate>().oia_linkid, 3);
            ok(s, &[]);
        },
        |c| {
            let n = c.nprops(3).unwrap();
            let st = c.status(3).unwrap();
            let pi = c.propinfo_by_name(3, "mtu").unwrap();
            let v = c.getprop(3, pi.oipi_id).unwrap();
            c.setprop_by_name(3, "vxlan/listen_port", &4789u16.to_ne_bytes())
                .unwrap();
            // Too long for the struct: refused without asking.
            let big = c.setprop(3, 0, &[0; 257]).unwrap_err();
            c.activate(3).unwrap();
            (n, st, pi.oipi_defsize, v, big.errno())
        },
    );
    assert_eq!(r.0, 6);
    assert_eq!(r.1, (true, "svp down".to_string()));
    assert_eq!(r.2, 4);
    assert_eq!(r.3, 1400u32.to_ne_bytes());
    assert_eq!(r.4, Some(Errno::EINVAL));
}

#[test]
fn pkt_data_out() {
    let frame: Vec<u8> = (0..60u8).collect();
    let sent = frame.clone();
    let (n, buf, raw) = run(
        move |s| {
            for _ in 0..2 {
                let r = expect_req(s, OVERLAY_TARG_PKT);
                assert!(r.data.is_empty(), "PKT sends no data");
                let mut p: OverlayTargPkt = r.arg();
                assert_eq!(p.otp_linkid, u64::MAX);
                assert_eq!(p.otp_reqid, 9);
                assert_eq!(p.otp_size, 100);
                assert_eq!(p.otp_buf, 0, "no pointer crosses the socket");
                p.otp_size = sent.len() as u64;
                p.otp_buf = 0xdead_beef;
                reply(s, 0, p.as_bytes(), &sent);
            }
        },
        |c| {
            let mut buf = [0xaau8; 100];
            let n = c.pkt(9, &mut buf).unwrap();

            // The raw call leaves the caller's otp_buf alone.
            let mut p = OverlayTargPkt {
                otp_linkid: u64::MAX,
                otp_reqid: 9,
                otp_size: 100,
                otp_buf: 0x1234,
            };
            let mut out = [0u8; 100];
            let m = c
                .ioctl(OVERLAY_TARG_PKT, p.as_mut_bytes(), IoData::Out(&mut out))
                .unwrap();
            assert_eq!(m, 60);
            assert_eq!(p.otp_size, 60);
            assert_eq!(p.otp_buf, 0x1234);
            (n, buf, out)
        },
    );
    assert_eq!(n, 60);
    assert_eq!(&buf[..60], &frame[..]);
    assert!(
        buf[60..].iter().all(|&b| b == 0xaa),
        "past the frame untouched"
    );
    assert_eq!(&raw[..60], &frame[..]);
}

#[test]
fn inject_and_resend_data_in() {
    let frame: Vec<u8> = (0..64u8).rev().collect();
    let want = frame.clone();
    run(
        move |s| {
            let r = expect_req(s, OVERLAY_TARG_INJECT);
            let p: OverlayTargPkt = r.arg();
            assert_eq!((p.otp_linkid, p.otp_reqid), (7, 11));
            assert_eq!(p.otp_size, want.len() as u64);
            assert_eq!(p.otp_buf, 0);
            assert_eq!(r.data, want);
            ok(s, &[]);

            let r = expect_req(s, OVERLAY_TARG_RESEND);
            let p: OverlayTargPkt = r.arg();
            assert_eq!((p.otp_linkid, p.otp_reqid), (u64::MAX, 12));
            assert_eq!(r.data, want);
            reply(s, Errno::EINVAL.0 as u32, &[], &[]);
        },
        |c| {
            c.inject(Some(7), 11, &frame).unwrap();
            let e = c.resend(None, 12, &frame).unwrap_err();
            assert_eq!(e.errno(), Some(Errno::EINVAL));
        },
    );
}

#[test]
fn list_is_two_calls() {
    let ids = run(
        |s| {
            let r = expect_req(s, OVERLAY_TARG_LIST);
            assert_eq!(r.arg, 0u32.to_ne_bytes(), "first call: room for none");
            ok(s, &3u32.to_ne_bytes());
            let r = expect_req(s, OVERLAY_TARG_LIST);
            assert_eq!(r.arg, 3u32.to_ne_bytes(), "only the header travels");
            let mut out = 3u32.to_ne_bytes().to_vec();
            for id in [10u32, 11, 12] {
                out.extend_from_slice(&id.to_ne_bytes());
            }
            ok(s, &out);
        },
        |c| c.list().unwrap(),
    );
    assert_eq!(ids, [10, 11, 12]);
}

#[test]
fn list_empty_and_growing() {
    let r = run(
        |s| {
            expect_req(s, OVERLAY_TARG_LIST);
            ok(s, &0u32.to_ne_bytes());

            // A device appears between the two calls: ask again.
            expect_req(s, OVERLAY_TARG_LIST);
            ok(s, &1u32.to_ne_bytes());
            let r = expect_req(s, OVERLAY_TARG_LIST);
            assert_eq!(r.arg, 1u32.to_ne_bytes());
            let mut out = 2u32.to_ne_bytes().to_vec();
            out.extend_from_slice(&4u32.to_ne_bytes());
            ok(s, &out);
            expect_req(s, OVERLAY_TARG_LIST);
            ok(s, &2u32.to_ne_bytes());
            let r = expect_req(s, OVERLAY_TARG_LIST);
            assert_eq!(r.arg, 2u32.to_ne_bytes());
            let mut out = 2u32.to_ne_bytes().to_vec();
            out.extend_from_slice(&4u32.to_ne_bytes());
            out.extend_from_slice(&5u32.to_ne_bytes());
            ok(s, &out);
        },
        |c| (c.list().unwrap(), c.list().unwrap()),
    );
    assert_eq!(r.0, Vec::<u32>::new());
    assert_eq!(r.1, [4, 5]);
}

#[test]
fn cache_iter_decodes_array() {
    let e0 = OverlayTargCacheEntry {
        otce_mac: EtherAddr([0, 1, 2, 3, 4, 5]),
        otce_flags: 0,
        otce_dest: point(),
    };
    let e1 = OverlayTargCacheEntry {
        otce_mac: EtherAddr([0, 1, 2, 3, 4, 6]),
        otce_flags: OVERLAY_TARGET_CACHE_DROP,
        otce_dest: OverlayTargetPoint::new(EtherAddr::ZERO, In6Addr::UNSPECIFIED, 0),
    };
    let start = IterMarker {
        mac: [0, 1, 2, 3, 4, 0],
        done: 0,
    }
    .to_u64();
    let next = IterMarker {
        mac: [0, 1, 2, 3, 4, 7],
        done: 0,
    }
    .to_u64();
    let (ents, marker, bad) = run(
        move |s| {
            let r = expect_req(s, OVERLAY_TARG_CACHE_ITER);
            assert_eq!(r.arg.len(), size_of::<OverlayTargCacheIterHdr>());
            let mut h: OverlayTargCacheIterHdr = r.arg();
            assert_eq!((h.otci_linkid, h.otci_marker, h.otci_count), (8, start, 4));
            h.otci_marker = next;
            h.otci_count = 2;
            let mut out = vec![0u8; otci_copy_size(2)];
            out[..24].copy_from_slice(h.as_bytes());
            out[OTCI_ENTS_OFFSET..OTCI_ENTS_OFFSET + 36].copy_from_slice(e0.as_bytes());
            out[OTCI_ENTS_OFFSET + 36..OTCI_ENTS_OFFSET + 72].copy_from_slice(e1.as_bytes());
            ok(s, &out);

            // More entries than there was room for.
            let r = expect_req(s, OVERLAY_TARG_CACHE_ITER);
            let mut h: OverlayTargCacheIterHdr = r.arg();
            assert_eq!(h.otci_count, 1);
            h.otci_count = 2;
            let mut out = vec![0u8; otci_copy_size(1)];
            out[..24].copy_from_slice(h.as_bytes());
            ok(s, &out);
        },
        |c| {
            let (ents, marker) = c.cache_iter(8, start, 4).unwrap();
            let bad = c.cache_iter(8, 0, 1).unwrap_err();
            (ents, marker, bad)
        },
    );
    assert_eq!(ents, [e0, e1]);
    assert_eq!(marker, next);
    assert!(matches!(bad, ClientError::Io(ref e) if e.kind() == ErrorKind::InvalidData));
}

#[test]
fn cache_and_targ_structs() {
    let e = OverlayTargCacheEntry {
        otce_mac: EtherAddr([0, 1, 2, 3, 4, 5]),
        otce_flags: 0,
        otce_dest: point(),
    };
    let got = run(
        move |s| {
            let r = expect_req(s, OVERLAY_TARG_CACHE_SET);
            let c: OverlayTargCache = r.arg();
            assert_eq!(c.otc_linkid, 2);
            assert_eq!(c.otc_entry, e);
            ok(s, &[]);

            let r = expect_req(s, OVERLAY_TARG_CACHE_GET);
            let mut c: OverlayTargCache = r.arg();
            assert_eq!(c.otc_entry.otce_mac, e.otce_mac);
            c.otc_entry = e;
            ok(s, c.as_bytes());

            let r = expect_req(s, OVERLAY_TARG_RESPOND);
            let resp: OverlayTargResp = r.arg();
            assert_eq!(resp.otr_reqid, 5);
            assert_eq!(resp.otr_answer, point());
            ok(s, &[]);

            let r = expect_req(s, OVERLAY_TARG_DROP);
            assert_eq!(r.arg::<OverlayTargResp>().otr_reqid, 6);
            ok(s, &[]);

            let r = expect_req(s, OVERLAY_TARG_INFO);
            assert_eq!(r.arg.len(), size_of::<OverlayTargInfo>());
            let mut i: OverlayTargInfo = r.arg();
            assert_eq!(i.oti_linkid, 2);
            i.oti_needs = 6;
            i.oti_vnetid = 99;
            ok(s, i.as_bytes());

            let r = expect_req(s, OVERLAY_TARG_DEGRADE);
            let d: OverlayTargDegrade = r.arg();
            let msg = cstr_field(&d.otd_buf).unwrap();
            assert_eq!(msg.len(), 255, "cut to fit, NUL kept");
            ok(s, &[]);
        },
        |c| {
            c.cache_set(2, &e).unwrap();
            let got = c.cache_get(2, e.otce_mac).unwrap();
            c.respond(5, &point()).unwrap();
            c.drop_req(6).unwrap();
            let i = c.info(2).unwrap();
            assert_eq!((i.oti_needs, i.oti_vnetid), (6, 99));
            c.degrade(2, &"x".repeat(300)).unwrap();
            got
        },
    );
    assert_eq!(got, e);
}

#[test]
fn bad_magic_is_io_error() {
    let (first, second) = run(
        |s| {
            expect_req(s, OVERLAY_IOC_NPROPS);
            let mut h = RepHdr::new(0, 1, 8, 0);
            h.magic = u32::from_be_bytes(*b"XXXX");
            s.write_all(h.as_bytes()).unwrap();
            // The client may already have shut the connection down after
            // the bad header, so this write may fail (EPIPE): either way.
            let _ = s.write_all(&[0; 8]);
            // The client gives the connection up: nothing more arrives.
            assert!(read_req(s).is_none());
        },
        |c| (c.nprops(1).unwrap_err(), c.nprops(1).unwrap_err()),
    );
    assert!(matches!(first, ClientError::Io(ref e) if e.kind() == ErrorKind::InvalidData));
    assert!(first.errno().is_none());
    assert!(first.to_string().contains("magic"), "{first}");
    assert!(matches!(second, ClientError::Io(_)), "{second}");
}

#[test]
fn oversized_length_fails_without_reading() {
    for (arg_len, data_len) in [(MAX_PAYLOAD + 1, 0), (8, u32::MAX)] {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t0 = Instant::now();
        let e = run(
            move |s| {
                expect_req(s, OVERLAY_IOC_NPROPS);
                s.write_all(RepHdr::new(0, 1, arg_len, data_len).as_bytes())
                    .unwrap();
                // Hold the connection open: a client that tried to read
                // the announced bytes would wait here, not fail.
                let _ = rx.recv();
            },
            |c| {
                let e = c.nprops(1).unwrap_err();
                tx.send(()).unwrap();
                e
            },
        );
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert!(matches!(e, ClientError::Io(ref e) if e.kind() == ErrorKind::InvalidData));
        assert!(e.to_string().contains("limit"), "{e}");
    }
}

#[test]
fn reply_larger_than_buffer_keeps_step() {
    let r = run(
        |s| {
            expect_req(s, OVERLAY_IOC_NPROPS);
            ok(s, &[0; 600]);
            let r = expect_req(s, OVERLAY_IOC_NPROPS);
            let mut n: OverlayIocNprops = r.arg();
            n.oipn_nprops = 2;
            ok(s, n.as_bytes());
        },
        |c| (c.nprops(1), c.nprops(1)),
    );
    assert!(matches!(r.0, Err(ClientError::Io(ref e)) if e.kind() == ErrorKind::InvalidData));
    assert_eq!(r.1.unwrap(), 2);
}

#[test]
fn server_gone_is_io_error() {
    let e = run(
        |s| {
            expect_req(s, OVERLAY_TARG_LOOKUP);
        },
        |c| c.lookup().unwrap_err(),
    );
    assert!(matches!(e, ClientError::Io(ref e) if e.kind() == ErrorKind::UnexpectedEof));
    assert!(e.to_string().contains("closed"), "{e}");
}

#[test]
fn misuse_is_refused_without_asking() {
    run(
        |s| assert!(read_req(s).is_none(), "nothing should be sent"),
        |c| {
            let errno = |r: Result<usize, ClientError>| r.unwrap_err().errno();
            let mut arg = [0u8; 64];
            assert_eq!(
                errno(c.ioctl(0x1234_5678, &mut arg, IoData::None)),
                Some(Errno::ENOTTY)
            );
            assert_eq!(
                errno(c.ioctl(OVERLAY_IOC_CREATE, &mut arg[..47], IoData::None)),
                Some(Errno::EFAULT)
            );
            // LIST announcing more entries than the buffer holds.
            let mut list = [0u8; 8];
            list[..4].copy_from_slice(&2u32.to_ne_bytes());
            assert_eq!(
                errno(c.ioctl(OVERLAY_TARG_LIST, &mut list, IoData::None)),
                Some(Errno::EFAULT)
            );
            // CACHE_ITER likewise.
            let mut h = OverlayTargCacheIterHdr::new_zeroed();
            h.otci_count = 2;
            let mut iter = vec![0u8; otci_copy_size(1)];
            iter[..24].copy_from_slice(h.as_bytes());
            assert_eq!(
                errno(c.ioctl(OVERLAY_TARG_CACHE_ITER, &mut iter, IoData::None)),
                Some(Errno::EFAULT)
            );
            // A host list likewise.
            let hl = HostListHdr {
                hlh_count: 1,
                hlh_linkid: 0,
            };
            let mut hbuf = hl.as_bytes().to_vec();
            assert_eq!(
                errno(c.ioctl(OVERLAY_HOST_LINK_LIST, &mut hbuf, IoData::None)),
                Some(Errno::EFAULT)
            );
            // otp_size beyond the frame buffer.
            let mut p = OverlayTargPkt {
                otp_linkid: u64::MAX,
                otp_reqid: 1,
                otp_size: 10,
                otp_buf: 0,
            };
            let mut small = [0u8; 9];
            assert_eq!(
                errno(c.ioctl(OVERLAY_TARG_PKT, p.as_mut_bytes(), IoData::Out(&mut small))),
                Some(Errno::EFAULT)
            );
            assert_eq!(
                errno(c.ioctl(OVERLAY_TARG_INJECT, p.as_mut_bytes(), IoData::In(&small))),
                Some(Errno::EFAULT)
            );
            // Frame buffers where none belongs, or the wrong way round.
            assert_eq!(
                errno(c.ioctl(OVERLAY_TARG_PKT, p.as_mut_bytes(), IoData::None)),
                Some(Errno::EINVAL)
            );
            assert_eq!(
                errno(c.ioctl(OVERLAY_TARG_PKT, p.as_mut_bytes(), IoData::In(&[0; 16]))),
                Some(Errno::EINVAL)
            );
            assert_eq!(
                errno(c.ioctl(OVERLAY_IOC_NPROPS, &mut arg, IoData::In(&[1]))),
                Some(Errno::EINVAL)
            );
            // Names that do not fit their fields.
            assert_eq!(
                c.create(1, 1, &"v".repeat(32)).unwrap_err().errno(),
                Some(Errno::EOVERFLOW)
            );
            assert_eq!(
                c.link_create(&"n".repeat(40), 0).unwrap_err().errno(),
                Some(Errno::EOVERFLOW)
            );
        },
    );
}

#[test]
fn host_commands() {
    let r = run(
        |s| {
            let r = expect_req(s, OVERLAY_HOST_OPEN);
            assert_eq!(r.arg::<HostOpen>().ho_flags, FREAD | FWRITE | FEXCL);
            ok(s, &[]);

            let r = expect_req(s, OVERLAY_HOST_LINK_CREATE);
            let mut l: HostLink = r.arg();
            assert_eq!(l.name(), "ovl0");
            assert_eq!(l.hl_class, overlay::abi::common::DATALINK_CLASS_OVERLAY);
            l.hl_linkid = 42;
            ok(s, l.as_bytes());

            let r = expect_req(s, OVERLAY_HOST_LINK_LOOKUP);
            let mut l: HostLink = r.arg();
            assert_eq!(l.name(), "ovl0");
            l.hl_linkid = 42;
            l.hl_class = 0x200;
            ok(s, l.as_bytes());

            let r = expect_req(s, OVERLAY_HOST_VNIC_CREATE);
            let mut v: HostVnic = r.arg();
            assert_eq!(v.name(), "vnic0");
            assert_eq!(v.hv_overlay, 42);
            assert_eq!(v.hv_flags, HV_F_MAC);
            assert_eq!(v.hv_mac, [2, 0, 0, 0, 0, 1]);
            v.hv_linkid = 43;
            v.hv_ifindex = 17;
            ok(s, v.as_bytes());

            let r = expect_req(s, OVERLAY_HOST_VNIC_DELETE);
            assert_eq!(r.arg::<HostVnic>().hv_linkid, 43);
            ok(s, &[]);

            let r = expect_req(s, OVERLAY_HOST_LINK_DELETE);
            assert_eq!(r.arg::<HostLink>().hl_linkid, 42);
            reply(s, Errno::EBUSY.0 as u32, &[], &[]);

            // STATS: the two-call list with the link id in the header.
            let r = expect_req(s, OVERLAY_HOST_STATS);
            let h: HostListHdr = r.arg();
            assert_eq!((h.hlh_count, h.hlh_linkid), (0, 42));
            ok(
                s,
                HostListHdr {
                    hlh_count: 2,
                    hlh_linkid: 42,
                }
                .as_bytes(),
            );
            let r = expect_req(s, OVERLAY_HOST_STATS);
            let h: HostListHdr = r.arg();
            assert_eq!(r.arg.len(), 8, "only the header travels");
            assert_eq!((h.hlh_count, h.hlh_linkid), (2, 42));
            let mut out = h.as_bytes().to_vec();
            for (name, v) in [("opackets", 5u64), ("obytes", 300)] {
                let mut st = HostStat::new_zeroed();
                st.hs_name[..name.len()].copy_from_slice(name.as_bytes());
                st.hs_value = v;
                out.extend_from_slice(st.as_bytes());
            }
            ok(s, &out);

            expect_req(s, OVERLAY_HOST_VNIC_LIST);
            ok(s, HostListHdr::new_zeroed().as_bytes());
        },
        |c| {
            c.host_open(FREAD | FWRITE | FEXCL).unwrap();
            let id = c
                .link_create("ovl0", overlay::abi::common::DATALINK_CLASS_OVERLAY)
                .unwrap();
            let found = c.link_lookup("ovl0").unwrap();
            let v = c
                .vnic_create("vnic0", id, Some([2, 0, 0, 0, 0, 1]))
                .unwrap();
            c.vnic_delete(v.hv_linkid).unwrap();
            let busy = c.link_delete(id).unwrap_err().errno();
            let stats = c.stats(id).unwrap();
            let vnics = c.vnic_list().unwrap();
            (id, found, v.hv_ifindex, busy, stats, vnics.len())
        },
    );
    assert_eq!(r.0, 42);
    assert_eq!(r.1, (42, 0x200));
    assert_eq!(r.2, 17);
    assert_eq!(r.3, Some(Errno::EBUSY));
    assert_eq!(
        r.4,
        [("opackets".to_string(), 5), ("obytes".to_string(), 300)]
    );
    assert_eq!(r.5, 0);
}

/// Many threads share one client; the server answers whatever it has
/// in reverse order of arrival, so replies rarely come back in the order
/// asked. Every caller gets its own answer.
#[test]
fn concurrent_callers_get_their_own_replies() {
    const THREADS: u32 = 8;
    const N: u32 = 200;
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let answer = |b: &mut UnixStream, r: &Req| {
            assert_eq!(r.cmd, OVERLAY_IOC_NPROPS);
            let mut n: OverlayIocNprops = r.arg();
            n.oipn_nprops = n.oipn_linkid as i32 * 10;
            reply_to(b, r.id, 0, n.as_bytes(), &[]);
        };
        let mut held: Vec<Req> = Vec::new();
        let mut answered = 0u32;
        b.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
        loop {
            let mut h = ReqHdr::new_zeroed();
            match b.read(&mut h.as_mut_bytes()[..1]) {
                Ok(0) => break,
                Ok(_) => {
                    b.set_read_timeout(None).unwrap();
                    b.read_exact(&mut h.as_mut_bytes()[1..]).unwrap();
                    assert!(h.is_valid());
                    let mut arg = vec![0; h.arg_len as usize];
                    b.read_exact(&mut arg).unwrap();
                    assert!(held.iter().all(|r| r.id != h.id), "ids are unique");
                    held.push(Req {
                        cmd: h.cmd,
                        id: h.id,
                        flags: h.flags,
                        arg,
                        data: Vec::new(),
                    });
                    b.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
                    if held.len() < THREADS as usize {
                        continue;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("server read: {e}"),
            }
            while let Some(r) = held.pop() {
                answer(&mut b, &r);
                answered += 1;
            }
        }
        assert_eq!(answered, THREADS * N);
    });
    let c = Arc::new(Client::from_stream(a).unwrap());
    let workers: Vec<_> = (1..=THREADS)
        .map(|t| {
            let c = Arc::clone(&c);
            thread::spawn(move || {
                for i in 0..N {
                    let id = t * 1000 + i;
                    assert_eq!(c.nprops(id).unwrap(), id as i32 * 10);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    drop(c);
    server.join().unwrap();
}

/// A LOOKUP waiting for work on one thread holds up nothing: a RESPOND
/// and a PKT from other threads are sent and answered meanwhile.
#[test]
fn blocked_lookup_does_not_hold_up_other_commands() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let (got_lookup_tx, got_lookup) = std::sync::mpsc::channel::<()>();
    let (others_done_tx, others_done) = std::sync::mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let lookup = expect_req(&mut b, OVERLAY_TARG_LOOKUP);
        got_lookup_tx.send(()).unwrap();
        let r = expect_req(&mut b, OVERLAY_TARG_RESPOND);
        assert_eq!(r.arg::<OverlayTargResp>().otr_reqid, 41);
        reply_to(&mut b, r.id, 0, &[], &[]);
        let r = expect_req(&mut b, OVERLAY_TARG_PKT);
        let mut p: OverlayTargPkt = r.arg();
        p.otp_size = 3;
        reply_to(&mut b, r.id, 0, p.as_bytes(), &[1, 2, 3]);
        // Only now does the lookup find work.
        others_done
            .recv_timeout(Duration::from_secs(10))
            .expect("RESPOND and PKT returned while the LOOKUP waited");
        let mut l = OverlayTargLookup::new_zeroed();
        l.otl_reqid = 42;
        reply_to(&mut b, lookup.id, 0, l.as_bytes(), &[]);
        assert!(read_req(&mut b).is_none());
    });
    let c = Arc::new(Client::from_stream(a).unwrap());
    let looker = {
        let c = c.clone();
        thread::spawn(move || c.lookup().map(|l| l.otl_reqid))
    };
    got_lookup.recv().unwrap();
    c.respond(41, &point()).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(c.pkt(41, &mut buf).unwrap(), 3);
    assert_eq!(buf[..3], [1, 2, 3]);
    others_done_tx.send(()).unwrap();
    assert_eq!(looker.join().unwrap().unwrap(), 42);
    drop(c);
    server.join().unwrap();
}

/// LOOKUP replies answer any LOOKUP: each of several concurrent lookups
/// gets exactly one of the requests handed out, whichever it asked with.
/// An error reply goes to the caller it names.
#[test]
fn concurrent_lookups_each_get_one_request() {
    const THREADS: usize = 6;
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let mut ids: Vec<u64> = (0..THREADS)
            .map(|_| expect_req(&mut b, OVERLAY_TARG_LOOKUP).id)
            .collect();
        // The first one asked times out; the others get work, newest
        // first.
        let first = ids.remove(0);
        reply_to(&mut b, first, Errno::ETIME.0 as u32, &[], &[]);
        for (n, id) in ids.iter().rev().enumerate() {
            let mut l = OverlayTargLookup::new_zeroed();
            l.otl_reqid = 100 + n as u64;
            reply_to(&mut b, *id, 0, l.as_bytes(), &[]);
        }
        assert!(read_req(&mut b).is_none());
    });
    let c = Arc::new(Client::from_stream(a).unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(THREADS));
    let lookers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (c, barrier) = (c.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                c.lookup().map(|l| l.otl_reqid).map_err(|e| e.errno())
            })
        })
        .collect();
    let mut got: Vec<_> = lookers.into_iter().map(|t| t.join().unwrap()).collect();
    got.sort();
    let mut want: Vec<_> = (100..100 + THREADS as u64 - 1).map(Ok).collect();
    want.push(Err(Some(Errno::ETIME)));
    want.sort();
    assert_eq!(got, want);
    drop(c);
    server.join().unwrap();
}

/// A reply naming a request that is not in flight puts the stream out
/// of step: every caller waiting fails, and so does every later call.
#[test]
fn reply_for_unknown_id_fails_every_caller() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let ids: Vec<u64> = (0..3)
            .map(|_| expect_req(&mut b, OVERLAY_IOC_NPROPS).id)
            .collect();
        let stray = ids.iter().max().unwrap() + 1000;
        reply_to(&mut b, stray, 0, &[0; 8], &[]);
        assert!(read_req(&mut b).is_none());
    });
    let c = Arc::new(Client::from_stream(a).unwrap());
    let callers: Vec<_> = (0..3)
        .map(|i| {
            let c = c.clone();
            thread::spawn(move || c.nprops(i).unwrap_err())
        })
        .collect();
    for t in callers {
        let e = t.join().unwrap();
        assert!(
            matches!(e, ClientError::Io(ref e) if e.kind() == ErrorKind::InvalidData),
            "{e}"
        );
        assert!(e.to_string().contains("not in flight"), "{e}");
    }
    assert!(matches!(c.nprops(1), Err(ClientError::Io(_))));
    drop(c);
    server.join().unwrap();
}

/// The server going away with many commands in flight fails them all,
/// promptly.
#[test]
fn server_gone_fails_every_caller() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        for _ in 0..5 {
            expect_req(&mut b, OVERLAY_TARG_LOOKUP);
        }
    });
    let c = Arc::new(Client::from_stream(a).unwrap());
    let t0 = Instant::now();
    let callers: Vec<_> = (0..5)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || c.lookup().unwrap_err())
        })
        .collect();
    for t in callers {
        let e = t.join().unwrap();
        assert!(matches!(e, ClientError::Io(_)), "{e}");
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    server.join().unwrap();
}

/// RESPOND and DROP posted: sent quiet, the calls return at once; the
/// driver answers only a failure, which reaches the handler (with the
/// request it names) when some later call reads it.
#[test]
fn posted_failures_go_to_the_handler() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let r1 = expect_req(&mut b, OVERLAY_TARG_RESPOND);
        assert_eq!(r1.flags, REQ_F_QUIET);
        assert_eq!(r1.arg::<OverlayTargResp>().otr_reqid, 5);
        assert_eq!(r1.arg::<OverlayTargResp>().otr_answer, point());
        let r2 = expect_req(&mut b, OVERLAY_TARG_DROP);
        assert_eq!(r2.flags, REQ_F_QUIET);
        assert_eq!(r2.arg::<OverlayTargResp>().otr_reqid, 6);
        // The DROP succeeds: nothing is sent for it.
        quiet_failure(&mut b, &r1, Errno::ENOENT);
        let r = expect_req(&mut b, OVERLAY_IOC_NPROPS);
        assert_eq!(r.flags, 0);
        let mut n: OverlayIocNprops = r.arg();
        n.oipn_nprops = 3;
        ok(&mut b, n.as_bytes());
        assert!(read_req(&mut b).is_none());
    });
    let c = Client::from_stream(a).unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let seen = seen.clone();
        c.on_posted_error(move |p| seen.lock().unwrap().push((p.cmd, p.reqid, p.error.errno())));
    }
    c.respond_posted(5, &point()).unwrap();
    c.drop_posted(6).unwrap();
    assert_eq!(c.nprops(1).unwrap(), 3);
    assert_eq!(
        *seen.lock().unwrap(),
        [(OVERLAY_TARG_RESPOND, 5, Some(Errno::ENOENT))]
    );
    drop(c);
    server.join().unwrap();
}

/// Many posted commands, some refused, interleaved with calls from
/// other threads: each refusal is reported once, with its request.
#[test]
fn posted_failures_among_calls() {
    const N: u64 = 600;
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        while let Some(r) = read_req(&mut b) {
            match r.cmd {
                OVERLAY_TARG_DROP => {
                    if r.arg::<OverlayTargResp>().otr_reqid % 3 == 0 {
                        quiet_failure(&mut b, &r, Errno::EINVAL);
                    }
                }
                OVERLAY_IOC_NPROPS => {
                    let mut n: OverlayIocNprops = r.arg();
                    n.oipn_nprops = n.oipn_linkid as i32;
                    reply_to(&mut b, r.id, 0, n.as_bytes(), &[]);
                }
                other => panic!("unexpected command {other:#x}"),
            }
        }
    });
    let c = Arc::new(Client::from_stream(a).unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let seen = seen.clone();
        c.on_posted_error(move |p| {
            assert_eq!(p.error.errno(), Some(Errno::EINVAL));
            assert_eq!(p.cmd, OVERLAY_TARG_DROP);
            seen.lock().unwrap().push(p.reqid);
        });
    }
    let caller = {
        let c = c.clone();
        thread::spawn(move || {
            for i in 0..200 {
                assert_eq!(c.nprops(i).unwrap(), i as i32);
            }
        })
    };
    for reqid in 1..=N {
        c.drop_posted(reqid).unwrap();
    }
    caller.join().unwrap();
    // A last call reads whatever is left.
    assert_eq!(c.nprops(7).unwrap(), 7);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, (1..=N).filter(|r| r % 3 == 0).collect::<Vec<_>>());
    drop(c);
    server.join().unwrap();
}

/// With a prefetch depth, LOOKUPs go out ahead of the callers and their
/// answers wait in the client for the next calls.
#[test]
fn lookup_prefetch_answers_later_calls() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        // One for the caller and two ahead, before any answer.
        let ids: Vec<u64> = (0..3)
            .map(|_| expect_req(&mut b, OVERLAY_TARG_LOOKUP).id)
            .collect();
        let mut out = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            let mut l = OverlayTargLookup::new_zeroed();
            l.otl_reqid = 1 + n as u64;
            let h = RepHdr::new(0, *id, size_of::<OverlayTargLookup>() as u32, 0);
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(l.as_bytes());
        }
        b.write_all(&out).unwrap();
        // Top-ups: nothing more to hand out. (The client may be gone by
        // the time one is answered.)
        while let Some(r) = read_req(&mut b) {
            assert_eq!(r.cmd, OVERLAY_TARG_LOOKUP);
            let h = RepHdr::new(Errno::ETIME.0 as u32, r.id, 0, 0);
            let _ = b.write_all(h.as_bytes());
        }
    });
    let c = Client::from_stream(a).unwrap();
    c.set_lookup_prefetch(2);
    let mut got: Vec<u64> = (0..3).map(|_| c.lookup().unwrap().otl_reqid).collect();
    got.sort();
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(c.lookup().unwrap_err().errno(), Some(Errno::ETIME));
    drop(c);
    server.join().unwrap();
}

/// A lookup thread held up (in a slow plugin, say) while another waits:
/// `both_at_once` sends the two answers together (one is queued behind
/// the held-up thread), else the second comes later (nobody is reading
/// then). Either way the waiting thread has it within a few
/// milliseconds, not when the first comes back. Returns how long the
/// second answer took to reach its thread after being sent.
fn held_up_thread(both_at_once: bool) -> Duration {
    let (a, mut b) = UnixStream::pair().unwrap();
    let (started_tx, started) = std::sync::mpsc::channel::<u32>();
    let (sent_tx, sent) = std::sync::mpsc::channel::<Instant>();
    let server = thread::spawn(move || {
        // The first thread's request; then the second's.
        let first = expect_req(&mut b, OVERLAY_TARG_LOOKUP).id;
        started_tx.send(1).unwrap();
        let second = expect_req(&mut b, OVERLAY_TARG_LOOKUP).id;
        // Let the second thread fall asleep.
        thread::sleep(Duration::from_millis(50));
        let answer = |b: &mut UnixStream, id: u64, reqid: u64| {
            let mut l = OverlayTargLookup::new_zeroed();
            l.otl_reqid = reqid;
            let mut out = RepHdr::new(0, id, 72, 0).as_bytes().to_vec();
            out.extend_from_slice(l.as_bytes());
            b.write_all(&out).unwrap();
        };
        if both_at_once {
            let mut l = OverlayTargLookup::new_zeroed();
            l.otl_reqid = 1;
            let mut out = RepHdr::new(0, first, 72, 0).as_bytes().to_vec();
            out.extend_from_slice(l.as_bytes());
            l.otl_reqid = 2;
            out.extend_from_slice(RepHdr::new(0, second, 72, 0).as_bytes());
            out.extend_from_slice(l.as_bytes());
            sent_tx.send(Instant::now()).unwrap();
            b.write_all(&out).unwrap();
        } else {
            answer(&mut b, first, 1);
            thread::sleep(Duration::from_millis(50));
            sent_tx.send(Instant::now()).unwrap();
            answer(&mut b, second, 2);
        }
        // Whatever else comes: nothing.
        while let Some(r) = read_req(&mut b) {
            let _ = b.write_all(RepHdr::new(Errno::ETIME.0 as u32, r.id, 0, 0).as_bytes());
        }
    });
    let c = Arc::new(Client::from_stream(a).unwrap());
    let (release_tx, release) = std::sync::mpsc::channel::<()>();
    let slow = {
        let c = c.clone();
        thread::spawn(move || {
            let l = c.lookup().unwrap();
            // Held up until the other is done.
            release.recv().unwrap();
            l.otl_reqid
        })
    };
    started.recv().unwrap();
    let quick = {
        let c = c.clone();
        thread::spawn(move || (c.lookup().unwrap().otl_reqid, Instant::now()))
    };
    let (got, at) = quick.join().unwrap();
    let took = at.saturating_duration_since(sent.recv().unwrap());
    release_tx.send(()).unwrap();
    let mut all = [slow.join().unwrap(), got];
    all.sort();
    assert_eq!(all, [1, 2]);
    drop(c);
    server.join().unwrap();
    took
}

#[test]
fn an_answer_queued_behind_a_held_up_thread_is_taken_over() {
    let took = held_up_thread(true);
    assert!(took < Duration::from_millis(300), "{took:?}");
}

#[test]
fn reading_left_by_a_held_up_thread_is_taken_over() {
    let took = held_up_thread(false);
    assert!(took < Duration::from_millis(300), "{took:?}");
}

/// Lookup threads and other callers on one client, the server
/// answering in shuffled order: every LOOKUP answer is taken exactly
/// once, every call gets its own reply.
#[test]
fn lookups_and_calls_mixed() {
    const PER_THREAD: u32 = 300;
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let mut next_reqid = 1u64;
        let mut held: Vec<Req> = Vec::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        loop {
            // Hold up to 6 requests, or whatever came within 2 ms.
            let (r, end) = match read_req_within(&mut b, Duration::from_millis(2)) {
                Ok(r) => {
                    let end = r.is_none();
                    (r, end)
                }
                Err(()) => (None, false),
            };
            let got = r.is_some();
            held.extend(r);
            if got && held.len() < 6 {
                continue;
            }
            while !held.is_empty() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let r = held.swap_remove(rng as usize % held.len());
                match r.cmd {
                    OVERLAY_TARG_LOOKUP => {
                        let mut l = OverlayTargLookup::new_zeroed();
                        l.otl_reqid = next_reqid;
                        next_reqid += 1;
                        let _ = b.write_all(&{
                            let h = RepHdr::new(0, r.id, l.as_bytes().len() as u32, 0);
                            let mut v = h.as_bytes().to_vec();
                            v.extend_from_slice(l.as_bytes());
                            v
                        });
                    }
                    OVERLAY_IOC_NPROPS => {
                        let mut n: OverlayIocNprops = r.arg();
                        n.oipn_nprops = n.oipn_linkid as i32 + 1;
                        reply_to(&mut b, r.id, 0, n.as_bytes(), &[]);
                    }
                    // Quiet, and it succeeds: no reply.
                    OVERLAY_TARG_RESPOND => assert_eq!(r.flags, REQ_F_QUIET),
                    other => panic!("unexpected command {other:#x}"),
                }
            }
            if end {
                break;
            }
        }
    });
    let c = Arc::new(Client::from_stream(a).unwrap());
    c.set_lookup_prefetch(3);
    let lookers: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|_| {
                        let l = c.lookup().unwrap();
                        c.respond_posted(l.otl_reqid, &point()).unwrap();
                        l.otl_reqid
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let callers: Vec<_> = (0..3u32)
        .map(|t| {
            let c = c.clone();
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let id = t * 10_000 + i;
                    assert_eq!(c.nprops(id).unwrap(), id as i32 + 1);
                }
            })
        })
        .collect();
    for t in callers {
        t.join().unwrap();
    }
    let mut all: Vec<u64> = lookers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 3 * PER_THREAD as usize, "no answer taken twice");
    drop(c);
    server.join().unwrap();
}

#[test]
fn connect_by_path() {
    let dir = std::env::temp_dir().join(format!("overlay-client-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ctl");
    let _ = std::fs::remove_file(&path);
    let l = UnixListener::bind(&path).unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let r = expect_req(&mut s, OVERLAY_HOST_OPEN);
        assert_eq!(r.arg::<HostOpen>().ho_flags, FREAD);
        reply(&mut s, Errno::EBUSY.0 as u32, &[], &[]);
        let (mut s, _) = l.accept().unwrap();
        let r = expect_req(&mut s, OVERLAY_HOST_OPEN);
        assert_eq!(r.arg::<HostOpen>().ho_flags, FREAD | FWRITE);
        ok(&mut s, &[]);
        assert!(read_req(&mut s).is_none());
    });
    let busy = Client::connect_overlay(&path, FREAD).unwrap_err();
    assert_eq!(busy.errno(), Some(Errno::EBUSY));
    let c = Client::connect_overlay(&path, FREAD | FWRITE).unwrap();
    drop(c);
    server.join().unwrap();

    let missing = Client::connect(dir.join("nope")).unwrap_err();
    assert!(matches!(missing, ClientError::Io(ref e) if e.kind() == ErrorKind::NotFound));
    assert!(missing.to_string().contains("overlayd"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn error_display() {
    let e = ClientError::from(Errno::ENOTSUP);
    assert_eq!(e.errno(), Some(Errno(48)));
    assert!(e.to_string().contains("ENOTSUP"), "{e}");
    let io = ClientError::from(std::io::Error::other("boom"));
    assert_eq!(io.errno(), None);
    assert!(io.to_string().contains("boom"));
}

#[test]
fn proto_helpers() {
    for c in HostCmd::ALL {
        assert_eq!(HostCmd::from_cmd(c.cmd()), Some(c));
        assert!(c.name().starts_with("OVERLAY_HOST_"));
    }
    assert_eq!(HostCmd::Stats.arg_size(), 8);
    assert_eq!(HostCmd::VnicCreate.arg_size(), 52);
    assert_eq!(HostCmd::LinkList.entry_size(), Some(40));
    assert_eq!(HostCmd::Open.entry_size(), None);
    let h = ReqHdr::new(1, 0x0102_0304_0506_0708, 2, 3);
    assert_eq!(h.as_bytes()[..4], REQ_MAGIC.to_ne_bytes());
    assert_eq!(h.as_bytes()[8..16], 0x0102_0304_0506_0708u64.to_ne_bytes());
    assert!(h.is_valid());
    assert!(!ReqHdr::new(1, 0, MAX_PAYLOAD + 1, 0).is_valid());
    assert!(!ReqHdr::new(1, 0, 0, MAX_PAYLOAD + 1).is_valid());
    assert!(
        !ReqHdr {
            magic: u32::from_be_bytes(*b"OVLq"),
            ..h
        }
        .is_valid(),
        "version 1 is refused"
    );
}
