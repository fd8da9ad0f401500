//! An owned frame buffer with headroom: the frame type of hosts whose
//! frames are plain memory (the Linux host, tests).

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::platform::Frame;

/// Headroom reserved in front of a frame by [`PktBuf::with_headroom`]
/// callers that do not choose: room for the encapsulation header and
/// more (a plugin header is at most 128 bytes, VXLAN's is 8).
pub const DEFAULT_HEADROOM: usize = 64;

/// Segmentation a frame still needs before it goes on a wire: it is a TCP
/// super-frame whose stack left segmentation (and checksums) to the
/// "device" (TSO), as an `mblk_t` carries LSO flags on illumos. The core
/// moves such a frame as one (one lookup, one encapsulation header); the
/// host cuts it at the last moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tso {
    /// TCP over IPv6 (else IPv4).
    pub v6: bool,
    /// Offset of the TCP header in the inner frame.
    pub l4: u16,
    /// Payload bytes per segment.
    pub mss: u16,
    /// Length of the inner frame; what was prepended since is the
    /// encapsulation.
    pub inner_len: u32,
}

/// A frame: `buf[start..]`, with `buf[..start]` its headroom; or, when
/// `shared` is set, a window of a buffer other frames share.
#[derive(Clone, Debug)]
pub struct PktBuf {
    buf: Vec<u8>,
    /// The segments of one received UDP GRO datagram are each a frame
    /// of its own without a copy (an `mblk_t` made with `desballoc(9F)`
    /// over a shared buffer, on illumos): the frame is
    /// `shared.0[start..shared.1]` and `buf` is unused. Read-only: written
    /// to, the frame is first copied into `buf`.
    shared: Option<(Arc<Vec<u8>>, usize)>,
    start: usize,
    /// Segmentation still to do, if any.
    pub tso: Option<Tso>,
}

impl PktBuf {
    /// A frame holding a copy of `bytes`, with [`DEFAULT_HEADROOM`].
    pub fn new(bytes: &[u8]) -> PktBuf {
        let mut b = PktBuf::with_headroom(DEFAULT_HEADROOM, bytes.len());
        b.buf.extend_from_slice(bytes);
        b
    }

    /// An empty frame with `headroom` bytes in front and room for `cap`
    /// more, to be filled through [`PktBuf::fill`].
    pub fn with_headroom(headroom: usize, cap: usize) -> PktBuf {
        let mut buf = Vec::with_capacity(headroom + cap);
        buf.resize(headroom, 0);
        PktBuf {
            buf,
            shared: None,
            start: headroom,
            tso: None,
        }
    }

    /// The frame `shared[range]`, sharing the buffer (no copy). It has no
    /// headroom of its own: a header prepended to it makes it copy itself.
    /// `None` if the range is not within the buffer.
    pub fn shared(shared: &Arc<Vec<u8>>, range: core::ops::Range<usize>) -> Option<PktBuf> {
        if range.start > range.end || range.end > shared.len() {
            return None;
        }
        Some(PktBuf {
            buf: Vec::new(),
            shared: Some((Arc::clone(shared), range.end)),
            start: range.start,
            tso: None,
        })
    }

    /// Whether the frame is a window of a shared buffer.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// A frame made of `parts` one after the other, with `headroom`.
    pub fn from_parts(headroom: usize, parts: &[&[u8]]) -> PktBuf {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut b = PktBuf::with_headroom(headroom, len);
        for p in parts {
            b.buf.extend_from_slice(p);
        }
        b
    }

    /// The frame's own buffer, which ends where the frame does; a shared
    /// frame is copied into it first, with [`DEFAULT_HEADROOM`] (so
    /// `start` may move: read it after).
    fn owned(&mut self) -> &mut Vec<u8> {
        if let Some((shared, end)) = self.shared.take() {
            self.buf.clear();
            self.buf.reserve(DEFAULT_HEADROOM + end - self.start);
            self.buf.resize(DEFAULT_HEADROOM, 0);
            self.buf.extend_from_slice(&shared[self.start..end]);
            self.start = DEFAULT_HEADROOM;
        }
        &mut self.buf
    }

    /// Appends up to `cap` bytes that `read` writes into uninitialised
    /// space (a `read(2)` into the buffer, with no zeroing first) and
    /// keeps as many as it reports.
    ///
    /// # Safety
    /// `read` gets a pointer to `cap` writable bytes and must return how
    /// many of them, from the start, it initialised (at most `cap`).
    pub unsafe fn fill_raw<E>(
        &mut self,
        cap: usize,
        read: impl FnOnce(*mut u8, usize) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let buf = self.owned();
        buf.reserve(cap);
        let end = buf.len();
        let n = read(buf.spare_capacity_mut().as_mut_ptr().cast(), cap)?;
        let n = n.min(cap);
        // SAFETY: the caller's `read` initialised `n` bytes after `end`,
        // within the reserved capacity.
        unsafe { buf.set_len(end + n) };
        Ok(n)
    }

    /// Makes this buffer a frame holding a copy of `bytes` with
    /// `headroom`, reusing its allocation when it is large enough (a
    /// buffer recycled for the next received frame).
    pub fn reset_from(&mut self, headroom: usize, bytes: &[u8]) {
        self.clear(headroom);
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes the buffer can hold without reallocating (0 for a shared
    /// frame, which owns none).
    pub fn capacity(&self) -> usize {
        if self.is_shared() {
            0
        } else {
            self.buf.capacity()
        }
    }

    /// Empties the frame, keeping its headroom and capacity (a shared
    /// frame lets go of the shared buffer).
    pub fn clear(&mut self, headroom: usize) {
        self.shared = None;
        self.buf.clear();
        self.buf.resize(headroom, 0);
        self.start = headroom;
        self.tso = None;
    }

    /// Lets `read` write up to `cap` bytes after the current end and keeps
    /// what it reports as written.
    pub fn fill<E>(
        &mut self,
        cap: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let buf = self.owned();
        let end = buf.len();
        buf.resize(end + cap, 0);
        match read(&mut buf[end..]) {
            Ok(n) => {
                buf.truncate(end + n.min(cap));
                Ok(n)
            }
            Err(e) => {
                buf.truncate(end);
                Err(e)
            }
        }
    }

    /// The frame's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match &self.shared {
            None => &self.buf[self.start..],
            Some((shared, end)) => &shared[self.start..*end],
        }
    }

    /// The frame's bytes, writable (to rewrite headers in place).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.owned();
        &mut self.buf[self.start..]
    }

    /// Headroom left in front of the frame (none that may be written, for
    /// a shared frame).
    pub fn headroom(&self) -> usize {
        if self.is_shared() { 0 } else { self.start }
    }
}

/// Frames are equal when their bytes and segmentation are, wherever the
/// bytes live.
impl PartialEq for PktBuf {
    fn eq(&self, other: &PktBuf) -> bool {
        self.bytes() == other.bytes() && self.tso == other.tso
    }
}

impl Eq for PktBuf {}

impl Frame for PktBuf {
    #[inline]
    fn head(&self) -> &[u8] {
        self.bytes()
    }

    #[inline]
    fn len(&self) -> usize {
        self.bytes().len()
    }

    #[inline]
    fn prepend(&mut self, hdr: &[u8]) -> Result<(), Errno> {
        if hdr.len() > self.headroom() || self.is_shared() {
            // No headroom (or none of its own): move the frame back, as a separate header
            // block would be chained in front of it on illumos.
            let mut buf = Vec::with_capacity(DEFAULT_HEADROOM + hdr.len() + self.len());
            buf.resize(DEFAULT_HEADROOM, 0);
            buf.extend_from_slice(hdr);
            buf.extend_from_slice(self.head());
            self.buf = buf;
            self.shared = None;
            self.start = DEFAULT_HEADROOM;
            return Ok(());
        }
        self.start -= hdr.len();
        self.buf[self.start..self.start + hdr.len()].copy_from_slice(hdr);
        Ok(())
    }

    #[inline]
    fn strip(&mut self, n: usize) -> Result<(), Errno> {
        if n > self.len() {
            return Err(Errno::EINVAL);
        }
        self.start += n;
        Ok(())
    }

    fn copy_to(&self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.len());
        dst[..n].copy_from_slice(&self.head()[..n]);
        n
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn prepend_strip_and_fill() {
        let mut b = PktBuf::new(&[1, 2, 3]);
        b.prepend(&[9; 8]).unwrap();
        assert_eq!(b.len(), 11);
        b.strip(8).unwrap();
        assert_eq!(b.bytes(), &[1, 2, 3]);
        assert_eq!(b.strip(4), Err(Errno::EINVAL));
        let mut small = PktBuf::with_headroom(2, 4);
        assert_eq!(
            small.fill(4, |d| {
                d[..2].copy_from_slice(&[5, 6]);
                Ok::<_, ()>(2)
            }),
            Ok(2)
        );
        small.prepend(&[7; 8]).unwrap();
        assert_eq!(small.bytes(), &[7, 7, 7, 7, 7, 7, 7, 7, 5, 6]);
        let mut out = [0; 4];
        assert_eq!(small.copy_to(&mut out), 4);
    }

    #[test]
    fn shared_frames_read_in_place_and_copy_on_write() {
        let data = Arc::new((0u8..32).collect::<Vec<u8>>());
        let mut a = PktBuf::shared(&data, 4..12).unwrap();
        let b = PktBuf::shared(&data, 12..32).unwrap();
        assert!(PktBuf::shared(&data, 30..33).is_none());
        assert!(a.is_shared() && a.headroom() == 0 && a.capacity() == 0);
        assert_eq!(a.bytes(), &[4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(a, PktBuf::new(&[4, 5, 6, 7, 8, 9, 10, 11]));
        a.strip(2).unwrap();
        assert_eq!(a.head(), &[6, 7, 8, 9, 10, 11]);
        assert_eq!(Arc::strong_count(&data), 3);
        // Writing copies the frame out; the shared buffer is untouched.
        a.bytes_mut()[0] = 99;
        assert!(!a.is_shared());
        assert_eq!(a.bytes(), &[99, 7, 8, 9, 10, 11]);
        assert_eq!(data[6], 6);
        assert_eq!(Arc::strong_count(&data), 2);
        // Prepending to a shared frame copies it behind the new header.
        let mut c = b.clone();
        c.prepend(&[1, 1]).unwrap();
        assert_eq!(&c.bytes()[..4], &[1, 1, 12, 13]);
        assert_eq!(c.len(), 22);
        assert_eq!(b.len(), 20);
        // Cleared, it lets go of the buffer.
        let mut d = b;
        d.clear(8);
        assert!(!d.is_shared() && d.is_empty() && d.headroom() == 8);
        drop((a, c, d));
        assert_eq!(Arc::strong_count(&data), 1);
    }
}
