//! Socket addresses and message headers as the kernel sees them:
//! `sys/socket.h`, `sys/socket_impl.h` (`sockaddr`, `sockaddr_storage`),
//! `sys/uio.h` (`iovec`), `netinet/in.h` (`in6_addr`, `sockaddr_in6`,
//! `IPPROTO_*`) and `netinet/udp.h` (the private `UDP_SRCPORT_HASH`
//! option). These are what `ksocket_bind`/`ksocket_sendmblk` take.

use crate::types::{c_char, c_int, c_void, size_t, socklen_t};

/// `typedef uint16_t sa_family_t;`
pub type sa_family_t = u16;
/// `typedef uint16_t in_port_t;` (network byte order in addresses)
pub type in_port_t = u16;
/// `typedef uint32_t ipaddr_t;` (network byte order)
pub type ipaddr_t = u32;

pub const AF_UNSPEC: c_int = 0;
pub const AF_INET: c_int = 2;
pub const AF_INET6: c_int = 26;

/// illumos numbers socket types after the TPI service types:
/// `SOCK_DGRAM` is `NC_TPI_CLTS` (1), not Linux's 2.
pub const SOCK_DGRAM: c_int = 1;
pub const SOCK_STREAM: c_int = 2;
pub const SOCK_RAW: c_int = 4;

pub const SOL_SOCKET: c_int = 0xffff;
pub const SO_REUSEADDR: c_int = 0x0004;
pub const SO_SNDBUF: c_int = 0x1001;
pub const SO_RCVBUF: c_int = 0x1002;

pub const IPPROTO_IP: c_int = 0;
pub const IPPROTO_UDP: c_int = 17;
pub const IPPROTO_IPV6: c_int = 41;

/// `sendmsg` flag: do not block (a clogged socket returns `EAGAIN`).
pub const MSG_DONTWAIT: c_int = 0x80;

/// UDP socket option (private to the kernel): derive the source port from a
/// hash of the inner frame, so that one flow always uses one source port
/// (`netinet/udp.h`).
pub const UDP_SRCPORT_HASH: c_int = 0x0104;
/// `UDP_SRCPORT_HASH` value: no hashing.
pub const UDP_HASH_DISABLE: c_int = 0x0000;
/// `UDP_SRCPORT_HASH` value: hash a VXLAN-encapsulated frame.
pub const UDP_HASH_VXLAN: c_int = 0x0001;

/// `struct sockaddr`
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sockaddr {
    pub sa_family: sa_family_t,
    pub sa_data: [c_char; 14],
}

/// `struct in_addr` (a union of byte, short and word views in C; 4 bytes,
/// 4-aligned). `s_addr` is in network byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct in_addr {
    pub s_addr: ipaddr_t,
}

/// `struct sockaddr_in`
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sockaddr_in {
    pub sin_family: sa_family_t,
    /// Network byte order.
    pub sin_port: in_port_t,
    pub sin_addr: in_addr,
    pub sin_zero: [c_char; 8],
}

/// `struct in6_addr`: in C a union of `uint8_t[16]` and `uint32_t[4]`, so
/// 16 bytes with **4-byte** alignment.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct in6_addr {
    pub s6_addr: [u8; 16],
}

/// `struct sockaddr_in6`
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sockaddr_in6 {
    pub sin6_family: sa_family_t,
    /// Network byte order.
    pub sin6_port: in_port_t,
    pub sin6_flowinfo: u32,
    pub sin6_addr: in6_addr,
    pub sin6_scope_id: u32,
    /// Implementation-private (source-address id for UDP replies).
    pub __sin6_src_id: u32,
}

/// `struct sockaddr_storage`: big and aligned enough for any address
/// (`_SS_MAXSIZE` 256, aligned like `sockaddr_maxalign_t`, a double).
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct sockaddr_storage {
    pub ss_family: sa_family_t,
    pub _ss_pad1: [c_char; 6],
    pub _ss_align: i64,
    pub _ss_pad2: [c_char; 240],
}

/// `struct iovec` (`sys/uio.h`)
#[repr(C)]
#[derive(Clone, Copy)]
pub struct iovec {
    pub iov_base: *mut c_void,
    pub iov_len: size_t,
}

/// `struct msghdr` as compiled into the kernel (`_KERNEL` defines
/// `nmsghdr` as `msghdr`, with `msg_control`/`msg_controllen`/`msg_flags`).
/// `ksocket_sendmblk` only reads `msg_name`/`msg_namelen`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct msghdr {
    pub msg_name: *mut c_void,
    pub msg_namelen: socklen_t,
    pub msg_iov: *mut iovec,
    pub msg_iovlen: c_int,
    pub msg_control: *mut c_void,
    pub msg_controllen: socklen_t,
    pub msg_flags: c_int,
}

/// `#define nmsghdr msghdr` (kernel).
pub type nmsghdr = msghdr;

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<sockaddr>() == 16);
    assert!(size_of::<in_addr>() == 4);
    assert!(size_of::<sockaddr_in>() == 16);
    assert!(size_of::<in6_addr>() == 16);
    assert!(align_of::<in6_addr>() == 4);
    assert!(size_of::<sockaddr_in6>() == 32);
    assert!(offset_of!(sockaddr_in6, sin6_addr) == 8);
    assert!(offset_of!(sockaddr_in6, sin6_scope_id) == 24);
    assert!(size_of::<sockaddr_storage>() == 256);
    assert!(align_of::<sockaddr_storage>() == 8);
    assert!(size_of::<iovec>() == 16);
    assert!(size_of::<msghdr>() == 48);
    assert!(offset_of!(msghdr, msg_namelen) == 8);
    assert!(offset_of!(msghdr, msg_iov) == 16);
    assert!(offset_of!(msghdr, msg_iovlen) == 24);
    assert!(offset_of!(msghdr, msg_control) == 32);
    assert!(offset_of!(msghdr, msg_controllen) == 40);
    assert!(offset_of!(msghdr, msg_flags) == 44);
};
