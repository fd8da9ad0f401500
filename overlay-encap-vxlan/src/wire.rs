//! The VXLAN header (RFC 7348 §5, illumos `sys/vxlan.h`), smoltcp style:
//! [`VxlanHeader`] is a typed view over a byte buffer with checked
//! construction and field accessors, [`VxlanRepr`] the parsed high-level
//! representation with `parse` and `emit`.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|R|R|R|I|R|R|R|            Reserved                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        VXLAN Network Identifier (VNI)         |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Both words are big endian. On send, word 0 is exactly
//! [`VXLAN_F_VDI`] and word 1 is `vni << VXLAN_ID_SHIFT`. On receive, as
//! in illumos, only the I flag is checked: every reserved bit is ignored.

use core::fmt;

use overlay::Errno;

/// `VXLAN_HDR_LEN`: bytes in a VXLAN header.
pub const VXLAN_HDR_LEN: usize = 8;
/// `VXLAN_ID_LEN`: bytes in a VXLAN network identifier.
pub const VXLAN_ID_LEN: usize = 3;
/// `VXLAN_F_VDI`: the I ("valid VNI") flag, as a big-endian word 0.
pub const VXLAN_F_VDI: u32 = 0x0800_0000;
/// `VXLAN_MAGIC`: illumos' name for the word 0 it sends (= `VXLAN_F_VDI`).
pub const VXLAN_MAGIC: u32 = VXLAN_F_VDI;
/// `VXLAN_ID_SHIFT`: the VNI sits in the top 24 bits of word 1.
pub const VXLAN_ID_SHIFT: u32 = 8;
/// `IPPORT_VXLAN`: the IANA-assigned VXLAN UDP port.
pub const IPPORT_VXLAN: u16 = 4789;
/// The largest VNI: ids are `[0, 2^24)`.
pub const VXLAN_VNI_MAX: u32 = (1 << (8 * VXLAN_ID_LEN)) - 1;

/// Byte offsets of the header fields.
mod field {
    use core::ops::Range;

    /// Word 0: flags (first byte) and 24 reserved bits.
    pub const FLAGS: Range<usize> = 0..4;
    /// Word 1: the 24-bit VNI and 8 reserved bits.
    pub const ID: Range<usize> = 4..8;
    /// The VNI bytes of word 1.
    pub const VNI: Range<usize> = 4..7;
    /// The reserved byte of word 1.
    pub const RSVD1: usize = 7;
    /// The encapsulated Ethernet frame.
    pub const PAYLOAD: usize = 8;
}

/// A malformed VXLAN header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Fewer than [`VXLAN_HDR_LEN`] bytes.
    Truncated,
    /// The I flag is clear: the VNI field is not valid.
    NoVni,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated VXLAN header"),
            Error::NoVni => f.write_str("VXLAN I flag not set"),
        }
    }
}

impl core::error::Error for Error {}

/// Every malformed header is `EINVAL`, as illumos `vxlan_o_decap`
/// returns.
impl From<Error> for Errno {
    fn from(_: Error) -> Errno {
        Errno::EINVAL
    }
}

/// A VXLAN header view over a buffer that starts with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VxlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VxlanHeader<T> {
    /// Wraps a buffer without checking its length; accessors panic on a
    /// short buffer. Use [`new_checked`](Self::new_checked) for input.
    pub const fn new_unchecked(buffer: T) -> VxlanHeader<T> {
        VxlanHeader { buffer }
    }

    /// Wraps a buffer, which must hold at least a whole header.
    pub fn new_checked(buffer: T) -> Result<VxlanHeader<T>, Error> {
        let hdr = Self::new_unchecked(buffer);
        hdr.check_len()?;
        Ok(hdr)
    }

    /// `Err(Truncated)` if the buffer is shorter than a header. After
    /// success no accessor can panic.
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < VXLAN_HDR_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Word 0 (illumos `vxlan_flags`), host order: the flag byte in the
    /// top 8 bits, reserved bits below.
    pub fn flags(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Whether the I flag is set.
    pub fn has_vni(&self) -> bool {
        self.flags() & VXLAN_F_VDI != 0
    }

    /// Word 1 (illumos `vxlan_id`), host order: VNI and reserved byte.
    pub fn id_word(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    /// The 24-bit VXLAN network identifier.
    pub fn vni(&self) -> u32 {
        self.id_word() >> VXLAN_ID_SHIFT
    }

    /// The bytes after the header: the inner Ethernet frame.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VxlanHeader<T> {
    /// Sets word 0 (flag byte and reserved bits).
    pub fn set_flags(&mut self, flags: u32) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
    }

    /// Sets the 24-bit VNI, leaving the reserved byte alone. Bits above
    /// the low 24 are dropped, as illumos' `(uint32_t)id << 8` does.
    pub fn set_vni(&mut self, vni: u32) {
        let b = (vni << VXLAN_ID_SHIFT).to_be_bytes();
        self.buffer.as_mut()[field::VNI].copy_from_slice(&b[..VXLAN_ID_LEN]);
    }

    /// Sets word 1 (VNI and reserved byte) as a whole.
    pub fn set_id_word(&mut self, word: u32) {
        self.buffer.as_mut()[field::ID].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the reserved byte of word 1.
    pub fn set_reserved1(&mut self, v: u8) {
        self.buffer.as_mut()[field::RSVD1] = v;
    }

    /// The bytes after the header, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// A parsed VXLAN header: everything a receiver may act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VxlanRepr {
    /// The VXLAN network identifier, `0..=VXLAN_VNI_MAX`.
    pub vni: u32,
}

impl VxlanRepr {
    /// Parses a header: it must be whole and carry the I flag; reserved
    /// bits are ignored (RFC 7348: "ignored on receipt"; illumos
    /// `vxlan_o_decap`).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(hdr: &VxlanHeader<&T>) -> Result<VxlanRepr, Error> {
        hdr.check_len()?;
        if !hdr.has_vni() {
            return Err(Error::NoVni);
        }
        Ok(VxlanRepr { vni: hdr.vni() })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        VXLAN_HDR_LEN
    }

    /// Writes the header: word 0 = `VXLAN_F_VDI`, word 1 = `vni << 8`.
    /// Panics if the buffer is short (check with `new_checked`).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, hdr: &mut VxlanHeader<T>) {
        hdr.set_flags(VXLAN_F_VDI);
        hdr.set_id_word(self.vni << VXLAN_ID_SHIFT);
    }
}

impl fmt::Display for VxlanRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VXLAN vni={}", self.vni)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    static HDR_BYTES: [u8; 8] = [0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x00];

    #[test]
    fn constants() {
        assert_eq!(VXLAN_HDR_LEN, 8);
        assert_eq!(VXLAN_ID_LEN, 3);
        assert_eq!(VXLAN_F_VDI, 0x0800_0000);
        assert_eq!(VXLAN_MAGIC, VXLAN_F_VDI);
        assert_eq!(VXLAN_ID_SHIFT, 8);
        assert_eq!(IPPORT_VXLAN, 4789);
        assert_eq!(VXLAN_VNI_MAX, 16_777_215);
    }

    #[test]
    fn header_deconstruct() {
        let hdr = VxlanHeader::new_checked(&HDR_BYTES[..]).unwrap();
        assert_eq!(hdr.flags(), 0x0800_0000);
        assert!(hdr.has_vni());
        assert_eq!(hdr.id_word(), 0x1234_5600);
        assert_eq!(hdr.vni(), 0x12_3456);
        assert!(hdr.payload().is_empty());
    }

    #[test]
    fn header_construct() {
        let mut bytes = [0xa5u8; 8];
        let mut hdr = VxlanHeader::new_unchecked(&mut bytes[..]);
        hdr.set_flags(VXLAN_F_VDI);
        hdr.set_vni(0x12_3456);
        hdr.set_reserved1(0);
        assert_eq!(bytes, HDR_BYTES);
    }

    #[test]
    fn set_vni_keeps_reserved_byte_and_truncates() {
        let mut bytes = [0u8; 8];
        let mut hdr = VxlanHeader::new_unchecked(&mut bytes[..]);
        hdr.set_reserved1(0x5a);
        hdr.set_vni(0xff12_3456);
        assert_eq!(hdr.vni(), 0x12_3456);
        assert_eq!(bytes[4..], [0x12, 0x34, 0x56, 0x5a]);
    }

    #[test]
    fn repr_parse_and_emit() {
        let repr = VxlanRepr::parse(&VxlanHeader::new_unchecked(&HDR_BYTES[..])).unwrap();
        assert_eq!(repr, VxlanRepr { vni: 0x12_3456 });
        assert_eq!(repr.buffer_len(), 8);
        let mut bytes = [0xffu8; 8];
        repr.emit(&mut VxlanHeader::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes, HDR_BYTES);
        assert_eq!(repr.to_string(), "VXLAN vni=1193046");
    }

    #[test]
    fn edge_vnis() {
        for (vni, bytes) in [
            (0, [0x08, 0, 0, 0, 0x00, 0x00, 0x00, 0]),
            (1, [0x08, 0, 0, 0, 0x00, 0x00, 0x01, 0]),
            (VXLAN_VNI_MAX, [0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0]),
        ] {
            let mut out = [0u8; 8];
            VxlanRepr { vni }.emit(&mut VxlanHeader::new_unchecked(&mut out[..]));
            assert_eq!(out, bytes, "emit vni {vni}");
            let repr = VxlanRepr::parse(&VxlanHeader::new_checked(&bytes[..]).unwrap()).unwrap();
            assert_eq!(repr.vni, vni, "parse vni {vni}");
        }
    }

    #[test]
    fn reserved_bits_ignored() {
        // Every reserved bit set, I flag set.
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xab, 0xcd, 0xef, 0xff];
        let repr = VxlanRepr::parse(&VxlanHeader::new_unchecked(&bytes[..])).unwrap();
        assert_eq!(repr.vni, 0xab_cdef);
        // Only the I flag.
        let bytes = [0x08, 0, 0, 0, 0, 0, 7, 0x99];
        let repr = VxlanRepr::parse(&VxlanHeader::new_unchecked(&bytes[..])).unwrap();
        assert_eq!(repr.vni, 7);
    }

    #[test]
    fn i_flag_missing() {
        // Every bit but I set.
        let bytes = [0xf7, 0xff, 0xff, 0xff, 0, 0, 1, 0];
        let err = VxlanRepr::parse(&VxlanHeader::new_unchecked(&bytes[..])).unwrap_err();
        assert_eq!(err, Error::NoVni);
        let bytes = [0u8; 8];
        assert_eq!(
            VxlanRepr::parse(&VxlanHeader::new_unchecked(&bytes[..])),
            Err(Error::NoVni)
        );
        assert_eq!(Errno::from(Error::NoVni), Errno::EINVAL);
    }

    #[test]
    fn truncated() {
        for len in 0..VXLAN_HDR_LEN {
            let bytes = &HDR_BYTES[..len];
            assert_eq!(VxlanHeader::new_checked(bytes), Err(Error::Truncated));
            assert_eq!(
                VxlanRepr::parse(&VxlanHeader::new_unchecked(bytes)),
                Err(Error::Truncated)
            );
        }
        assert_eq!(Errno::from(Error::Truncated), Errno::EINVAL);
    }

    #[test]
    fn payload_follows_header() {
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&HDR_BYTES);
        bytes[8..].copy_from_slice(&[1, 2, 3, 4]);
        let mut hdr = VxlanHeader::new_checked(&mut bytes[..]).unwrap();
        assert_eq!(hdr.payload(), &[1, 2, 3, 4]);
        hdr.payload_mut()[0] = 9;
        assert_eq!(hdr.into_inner()[8], 9);
    }

    proptest! {
        #[test]
        fn parse_arbitrary_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let r = VxlanRepr::parse(&VxlanHeader::new_unchecked(&bytes[..]));
            match r {
                Ok(repr) => {
                    prop_assert!(bytes.len() >= 8);
                    prop_assert!(bytes[0] & 0x08 != 0);
                    prop_assert!(repr.vni <= VXLAN_VNI_MAX);
                }
                Err(Error::Truncated) => prop_assert!(bytes.len() < 8),
                Err(Error::NoVni) => prop_assert!(bytes[0] & 0x08 == 0),
            }
        }

        #[test]
        fn emit_parse_roundtrip(vni in 0..=VXLAN_VNI_MAX) {
            let mut bytes = [0u8; 8];
            VxlanRepr { vni }.emit(&mut VxlanHeader::new_unchecked(&mut bytes[..]));
            prop_assert_eq!(&bytes[..4], &[0x08, 0, 0, 0]);
            prop_assert_eq!(bytes[7], 0);
            let repr = VxlanRepr::parse(&VxlanHeader::new_unchecked(&bytes[..])).unwrap();
            prop_assert_eq!(repr.vni, vni);
        }
    }
}
