//! An owned frame buffer with headroom: the frame type of hosts whose
//! frames are plain memory (the Linux host, tests).

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

/// A frame: `buf[start..]` holds it; `buf[..start]` is headroom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PktBuf {
    buf: Vec<u8>,
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
            start: headroom,
            tso: None,
        }
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
        self.buf.reserve(cap);
        let end = self.buf.len();
        let n = read(self.buf.spare_capacity_mut().as_mut_ptr().cast(), cap)?;
        let n = n.min(cap);
        // SAFETY: the caller's `read` initialised `n` bytes after `end`,
        // within the reserved capacity.
        unsafe { self.buf.set_len(end + n) };
        Ok(n)
    }

    /// Makes this buffer a frame holding a copy of `bytes` with
    /// `headroom`, reusing its allocation when it is large enough (a
    /// buffer recycled for the next received frame).
    pub fn reset_from(&mut self, headroom: usize, bytes: &[u8]) {
        self.clear(headroom);
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes the buffer can hold without reallocating.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Empties the frame, keeping its headroom and capacity.
    pub fn clear(&mut self, headroom: usize) {
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
        let end = self.buf.len();
        self.buf.resize(end + cap, 0);
        match read(&mut self.buf[end..]) {
            Ok(n) => {
                self.buf.truncate(end + n.min(cap));
                Ok(n)
            }
            Err(e) => {
                self.buf.truncate(end);
                Err(e)
            }
        }
    }

    /// The frame's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The frame's bytes, writable (to rewrite headers in place).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..]
    }

    /// Headroom left in front of the frame.
    pub fn headroom(&self) -> usize {
        self.start
    }
}

impl Frame for PktBuf {
    #[inline]
    fn head(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    #[inline]
    fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    #[inline]
    fn prepend(&mut self, hdr: &[u8]) -> Result<(), Errno> {
        if hdr.len() > self.start {
            // No headroom: move the frame back, as a separate header
            // block would be chained in front of it on illumos.
            let mut buf = Vec::with_capacity(DEFAULT_HEADROOM + hdr.len() + self.len());
            buf.resize(DEFAULT_HEADROOM, 0);
            buf.extend_from_slice(hdr);
            buf.extend_from_slice(self.head());
            self.buf = buf;
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
}
