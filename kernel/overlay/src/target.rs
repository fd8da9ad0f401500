//! The target: where each frame of a device goes (`overlay_target.c`).
//!
//! A device associated with varpd has a [`Target`]. In point mode it is
//! one destination for every frame. In dynamic mode it is a [`Cache`]
//! keyed by destination MAC, each entry VALID (a destination), DROP
//! (always drop), or neither; an entry that neither answers nor drops is
//! *pending* while varpd is asked about it, and the frames that arrive
//! meanwhile wait on it, up to [`ENTRY_QUEUE_MAX`] bytes.
//!
//! Layout, for memory: an entry is 32 bytes stored inline in an open
//! addressing table (hashbrown, seeded foldhash; illumos used a CRC-32
//! refhash of 823 buckets, whose chains grow linearly with the entry
//! count), plus its MAC in a B-tree set that gives `CACHE_ITER` its MAC
//! order (the role of the illumos AVL tree). Only entries that have had
//! an answer (VALID or DROP, given by `RESPOND` or `CACHE_SET`, never on
//! the data path) enter that index, since iteration shows no others: the
//! transmit miss path does not touch it. Frames waiting on pending
//! entries live in a side table, so entries that have none, which is
//! nearly all of them, pay nothing for the queue.
//!
//! This module is pure data structure: no locks, no I/O. The device holds
//! its target behind a reader-writer lock; every method that hands frames
//! back returns them to the caller, which sends or frees them after the
//! lock is dropped.

use alloc::collections::{BTreeSet, VecDeque};
use core::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::{HashMap, HashTable};

use crate::abi::targ::{OVERLAY_ENTRY_F_DROP, OVERLAY_ENTRY_F_PENDING, OVERLAY_ENTRY_F_VALID};
use crate::abi::{EtherAddr, In6Addr};

/// Bytes of frames that may wait on one entry (`overlay_ent_size`).
pub const ENTRY_QUEUE_MAX: usize = 128 * 1024;

/// A destination (`overlay_target_point_t` without its padding).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Dest {
    pub mac: EtherAddr,
    /// Host order.
    pub port: u16,
    pub ip: [u8; 16],
}

impl Dest {
    pub fn new(mac: EtherAddr, ip: In6Addr, port: u16) -> Dest {
        Dest {
            mac,
            port,
            ip: ip.0,
        }
    }

    pub fn ip(&self) -> In6Addr {
        In6Addr(self.ip)
    }
}

#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Entry {
    mac: EtherAddr,
    flags: u8,
    _pad: u8,
    dest: Dest,
}

const _: () = assert!(core::mem::size_of::<Entry>() == 32);

/// Frames waiting on a pending entry.
#[derive(Debug)]
struct Waiting<F> {
    frames: VecDeque<(F, usize)>,
    bytes: usize,
}

/// The answer of the transmit hit path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Send to this destination.
    Send(Dest),
    /// The entry says drop.
    Drop,
    /// No answer yet: take the slow path ([`Cache::enqueue`]).
    Miss,
}

/// Frames released from an entry, with their lengths.
pub type Released<F> = VecDeque<(F, usize)>;

/// What `LOOKUP` should do with a posted entry.
#[derive(Debug)]
pub enum Taken<F> {
    /// Ask varpd: frames wait and there is no answer.
    Ask,
    /// Nothing to do: no entry, or no frames wait any more.
    Skip,
    /// Answered meanwhile: send (or free) the released frames.
    Answered(Lookup, Released<F>),
}

/// What became of a frame handed to [`Cache::enqueue`].
#[derive(Debug)]
pub enum Enqueued<F> {
    /// Queued; `post` says the entry must be posted for a lookup.
    Queued { post: bool },
    /// The entry became valid meanwhile: send it.
    Send(Dest, F),
    /// Dropped: the entry says drop, or its queue is full.
    Dropped(F, DropReason),
}

/// Why the target dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    EntryDrop,
    QueueFull,
    /// Memory could not be had without sleeping.
    NoMemory,
}

#[inline]
fn hash_mac(hasher: &FixedState, mac: &EtherAddr) -> u64 {
    let m = mac.0;
    hasher.hash_one(u64::from_le_bytes([
        m[0], m[1], m[2], m[3], m[4], m[5], 0, 0,
    ]))
}

/// A dynamic-mode target cache.
pub struct Cache<F> {
    hasher: FixedState,
    table: HashTable<Entry>,
    order: BTreeSet<EtherAddr>,
    waiting: HashMap<EtherAddr, Waiting<F>, FixedState>,
}

impl<F> core::fmt::Debug for Cache<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.table.len())
            .field("waiting", &self.waiting.len())
            .finish()
    }
}

impl<F> Cache<F> {
    pub fn new(seed: u64) -> Self {
        let hasher = FixedState::with_seed(seed);
        Cache {
            hasher,
            table: HashTable::new(),
            order: BTreeSet::new(),
            waiting: HashMap::with_hasher(FixedState::with_seed(seed ^ 0x9e37_79b9_7f4a_7c15)),
        }
    }

    /// The MAC as one word: a single hashed write, rather than a length
    /// and six bytes.
    #[inline]
    fn hash(&self, mac: &EtherAddr) -> u64 {
        hash_mac(&self.hasher, mac)
    }

    #[inline]
    fn get(&self, mac: &EtherAddr) -> Option<&Entry> {
        self.table.find(self.hash(mac), |e| e.mac == *mac)
    }

    #[inline]
    fn get_mut(&mut self, mac: &EtherAddr) -> Option<&mut Entry> {
        let h = self.hash(mac);
        self.table.find_mut(h, |e| e.mac == *mac)
    }

    /// Finds or creates the entry for `mac`.
    fn entry(&mut self, mac: EtherAddr) -> &mut Entry {
        let h = self.hash(&mac);
        let hasher = &self.hasher;
        self.table
            .entry(h, |e| e.mac == mac, |e| hash_mac(hasher, &e.mac))
            .or_insert_with(|| Entry {
                mac,
                flags: 0,
                _pad: 0,
                dest: Dest::default(),
            })
            .into_mut()
    }

    /// Number of entries (of any state).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The transmit hit path: DROP is checked first, then VALID.
    #[inline]
    pub fn lookup(&self, mac: &EtherAddr) -> Lookup {
        match self.get(mac) {
            Some(e) if e.flags & OVERLAY_ENTRY_F_DROP != 0 => Lookup::Drop,
            Some(e) if e.flags & OVERLAY_ENTRY_F_VALID != 0 => Lookup::Send(e.dest),
            _ => Lookup::Miss,
        }
    }

    /// The miss path: queue `frame` (of `len` bytes) on the entry for
    /// `mac`, creating it if needed.
    ///
    /// Never fails on memory: where room cannot be had (the kernel host
    /// allocates without sleeping here), the frame is dropped with
    /// [`DropReason::NoMemory`], as illumos did.
    pub fn enqueue(&mut self, mac: EtherAddr, frame: F, len: usize) -> Enqueued<F> {
        let hasher = &self.hasher;
        if self
            .table
            .try_reserve(1, |e| hash_mac(hasher, &e.mac))
            .is_err()
            || self.waiting.try_reserve(1).is_err()
        {
            return Enqueued::Dropped(frame, DropReason::NoMemory);
        }
        let waiting_bytes = self.waiting.get(&mac).map_or(0, |w| w.bytes);
        let e = self.entry(mac);
        if e.flags & OVERLAY_ENTRY_F_DROP != 0 {
            return Enqueued::Dropped(frame, DropReason::EntryDrop);
        }
        if e.flags & OVERLAY_ENTRY_F_VALID != 0 {
            return Enqueued::Send(e.dest, frame);
        }
        if waiting_bytes + len > ENTRY_QUEUE_MAX {
            return Enqueued::Dropped(frame, DropReason::QueueFull);
        }
        let post = e.flags & OVERLAY_ENTRY_F_PENDING == 0;
        let w = self.waiting.entry(mac).or_insert_with(|| Waiting {
            frames: VecDeque::new(),
            bytes: 0,
        });
        if w.frames.try_reserve(1).is_err() {
            return Enqueued::Dropped(frame, DropReason::NoMemory);
        }
        w.frames.push_back((frame, len));
        w.bytes += len;
        if let Some(e) = self.get_mut(&mac) {
            e.flags |= OVERLAY_ENTRY_F_PENDING;
        }
        Enqueued::Queued { post }
    }

    /// Whether a posted entry still needs an answer. An entry that became
    /// valid (or drop) while queued is skipped by `LOOKUP` and loses its
    /// pending mark; its waiting frames, if any, are handed back for
    /// sending or freeing.
    pub fn take_for_lookup(&mut self, mac: &EtherAddr) -> Taken<F> {
        let has_frames = self.waiting.get(mac).is_some_and(|w| !w.frames.is_empty());
        let Some(e) = self.get_mut(mac) else {
            return Taken::Skip;
        };
        if e.flags & (OVERLAY_ENTRY_F_VALID | OVERLAY_ENTRY_F_DROP) == 0 {
            if has_frames {
                return Taken::Ask;
            }
            e.flags &= !OVERLAY_ENTRY_F_PENDING;
            return Taken::Skip;
        }
        e.flags &= !OVERLAY_ENTRY_F_PENDING;
        let verdict = self.lookup(mac);
        let frames = self
            .waiting
            .remove(mac)
            .map(|w| w.frames)
            .unwrap_or_default();
        Taken::Answered(verdict, frames)
    }

    /// The head frame waiting on `mac`, for `LOOKUP` and `PKT`.
    pub fn head_frame(&self, mac: &EtherAddr) -> Option<&F> {
        self.waiting
            .get(mac)
            .and_then(|w| w.frames.front())
            .map(|(f, _)| f)
    }

    /// Removes the head frame (a head whose MAC header cannot be parsed).
    pub fn pop_head(&mut self, mac: &EtherAddr) -> Option<F> {
        let w = self.waiting.get_mut(mac)?;
        let (f, len) = w.frames.pop_front()?;
        w.bytes -= len;
        if w.frames.is_empty() {
            self.waiting.remove(mac);
        }
        Some(f)
    }

    /// `OVERLAY_TARG_RESPOND`: the entry becomes VALID and every waiting
    /// frame is returned, to be sent. (A DROP flag set meanwhile by
    /// `CACHE_SET` still wins for later frames, as illumos.)
    pub fn respond(&mut self, mac: &EtherAddr, dest: Dest) -> Released<F> {
        if let Some(e) = self.get_mut(mac) {
            e.flags |= OVERLAY_ENTRY_F_VALID;
            e.flags &= !OVERLAY_ENTRY_F_PENDING;
            e.dest = dest;
            self.order.insert(*mac);
        }
        self.waiting
            .remove(mac)
            .map(|w| w.frames)
            .unwrap_or_default()
    }

    /// `OVERLAY_TARG_DROP`: the head frame is freed (returned); if frames
    /// remain, the result's second part is true and the entry must be
    /// posted again. Otherwise the entry stops being pending. The third
    /// part is true when the entry was already valid (the illumos
    /// `overlay-target-valid-drop` probe).
    pub fn drop_reply(&mut self, mac: &EtherAddr) -> (Option<F>, bool, bool) {
        let head = self.pop_head(mac);
        let remain = self.waiting.get(mac).is_some_and(|w| !w.frames.is_empty());
        let Some(e) = self.get_mut(mac) else {
            return (head, false, false);
        };
        let was_valid = e.flags & OVERLAY_ENTRY_F_VALID != 0;
        if !remain {
            e.flags &= !OVERLAY_ENTRY_F_PENDING;
        }
        (head, remain, was_valid)
    }

    /// Forgets that an entry is pending: its lookup could not be posted.
    /// The frames stay; the next frame for it posts again.
    pub fn unpend(&mut self, mac: &EtherAddr) {
        if let Some(e) = self.get_mut(mac) {
            e.flags &= !OVERLAY_ENTRY_F_PENDING;
        }
    }

    /// `OVERLAY_TARG_CACHE_GET`: the flags and destination of an entry
    /// that is VALID or DROP.
    pub fn get_entry(&self, mac: &EtherAddr) -> Option<(u8, Dest)> {
        self.get(mac)
            .filter(|e| e.flags & (OVERLAY_ENTRY_F_VALID | OVERLAY_ENTRY_F_DROP) != 0)
            .map(|e| (e.flags, e.dest))
    }

    /// `OVERLAY_TARG_CACHE_SET` with a destination: VALID, waiting frames
    /// returned for sending. PENDING is left alone (an outstanding lookup
    /// still completes) and a DROP flag is kept. The latter is an illumos
    /// quirk we do not keep: setting a destination is an explicit
    /// instruction to send there, so it clears DROP.
    pub fn set_dest(&mut self, mac: EtherAddr, dest: Dest) -> Released<F> {
        let e = self.entry(mac);
        e.flags |= OVERLAY_ENTRY_F_VALID;
        e.flags &= !OVERLAY_ENTRY_F_DROP;
        e.dest = dest;
        self.order.insert(mac);
        self.waiting
            .remove(&mac)
            .map(|w| w.frames)
            .unwrap_or_default()
    }

    /// `OVERLAY_TARG_CACHE_SET` with the drop flag.
    pub fn set_drop(&mut self, mac: EtherAddr) {
        self.entry(mac).flags |= OVERLAY_ENTRY_F_DROP;
        self.order.insert(mac);
    }

    /// `OVERLAY_TARG_CACHE_REMOVE`: the entry forgets its answer; the next
    /// frame asks again. `false` if there is no entry.
    pub fn remove(&mut self, mac: &EtherAddr) -> bool {
        match self.get_mut(mac) {
            Some(e) => {
                e.flags &= !(OVERLAY_ENTRY_F_VALID | OVERLAY_ENTRY_F_DROP);
                true
            }
            None => false,
        }
    }

    /// `OVERLAY_TARG_CACHE_FLUSH`.
    pub fn flush(&mut self) {
        for e in self.table.iter_mut() {
            e.flags &= !(OVERLAY_ENTRY_F_VALID | OVERLAY_ENTRY_F_DROP);
        }
    }

    /// `OVERLAY_TARG_CACHE_ITER`: up to `max` answered entries in MAC order
    /// from `from` (inclusive), passed to `out`. Returns the MAC of the
    /// next unvisited entry, or `None` when the walk is done.
    pub fn iter_from(
        &self,
        from: EtherAddr,
        max: usize,
        mut out: impl FnMut(EtherAddr, u8, Dest),
    ) -> Option<EtherAddr> {
        let mut n = 0;
        for mac in self.order.range(from..) {
            let Some(e) = self.get(mac) else { continue };
            if e.flags & (OVERLAY_ENTRY_F_VALID | OVERLAY_ENTRY_F_DROP) == 0 {
                continue;
            }
            if n == max {
                return Some(*mac);
            }
            out(*mac, e.flags, e.dest);
            n += 1;
        }
        None
    }

    /// Every waiting frame, for device teardown.
    pub fn drain_waiting(&mut self) -> impl Iterator<Item = F> + '_ {
        self.waiting
            .drain()
            .flat_map(|(_, w)| w.frames.into_iter().map(|(f, _)| f))
    }

    /// Flags of an entry, for tests and observability.
    pub fn flags(&self, mac: &EtherAddr) -> Option<u8> {
        self.get(mac).map(|e| e.flags)
    }

    /// Bytes waiting on an entry.
    pub fn waiting_bytes(&self, mac: &EtherAddr) -> usize {
        self.waiting.get(mac).map_or(0, |w| w.bytes)
    }
}

/// A device's target, set by `OVERLAY_TARG_ASSOCIATE`.
#[derive(Debug)]
pub enum Target<F> {
    Point(Dest),
    Dynamic(Cache<F>),
}

#[cfg(test)]
mod test {
    use super::*;

    fn mac(n: u8) -> EtherAddr {
        EtherAddr([2, 0, 0, 0, 0, n])
    }

    #[test]
    fn miss_queue_respond() {
        let mut c: Cache<u32> = Cache::new(1);
        assert_eq!(c.lookup(&mac(1)), Lookup::Miss);
        assert!(matches!(
            c.enqueue(mac(1), 10, 100),
            Enqueued::Queued { post: true }
        ));
        assert!(matches!(
            c.enqueue(mac(1), 11, 100),
            Enqueued::Queued { post: false }
        ));
        assert!(matches!(c.take_for_lookup(&mac(1)), Taken::Ask));
        assert_eq!(c.head_frame(&mac(1)), Some(&10));
        let d = Dest::new(mac(9), In6Addr([1; 16]), 4789);
        let sent: alloc::vec::Vec<u32> =
            c.respond(&mac(1), d).into_iter().map(|(f, _)| f).collect();
        assert_eq!(sent, [10, 11]);
        assert_eq!(c.lookup(&mac(1)), Lookup::Send(d));
        assert_eq!(c.flags(&mac(1)), Some(OVERLAY_ENTRY_F_VALID));
    }

    #[test]
    fn queue_is_bounded_per_entry() {
        let mut c: Cache<u32> = Cache::new(1);
        for i in 0..(ENTRY_QUEUE_MAX / 1500) as u32 {
            assert!(matches!(
                c.enqueue(mac(1), i, 1500),
                Enqueued::Queued { .. }
            ));
        }
        assert!(matches!(
            c.enqueue(mac(1), 0, 1500),
            Enqueued::Dropped(_, DropReason::QueueFull)
        ));
        // Another entry has its own budget.
        assert!(matches!(
            c.enqueue(mac(2), 0, 1500),
            Enqueued::Queued { post: true }
        ));
    }

    #[test]
    fn drop_reply_frees_head_and_reposts() {
        let mut c: Cache<u32> = Cache::new(1);
        let _ = c.enqueue(mac(1), 1, 60);
        let _ = c.enqueue(mac(1), 2, 60);
        assert_eq!(c.drop_reply(&mac(1)), (Some(1), true, false));
        assert_eq!(c.drop_reply(&mac(1)), (Some(2), false, false));
        assert_eq!(c.flags(&mac(1)), Some(0));
        assert_eq!(c.lookup(&mac(1)), Lookup::Miss);
    }

    #[test]
    fn iteration_order_and_marker() {
        let mut c: Cache<u32> = Cache::new(7);
        for n in [5u8, 1, 3, 4, 2] {
            c.set_dest(mac(n), Dest::default());
        }
        let _ = c.enqueue(mac(6), 0, 60); // pending only: skipped
        c.remove(&mac(3));
        let mut seen = alloc::vec::Vec::new();
        let next = c.iter_from(EtherAddr::ZERO, 2, |m, _, _| seen.push(m));
        assert_eq!(seen, [mac(1), mac(2)]);
        assert_eq!(next, Some(mac(4)));
        let next = c.iter_from(next.unwrap(), 10, |m, _, _| seen.push(m));
        assert_eq!(seen, [mac(1), mac(2), mac(4), mac(5)]);
        assert_eq!(next, None);
    }
}
