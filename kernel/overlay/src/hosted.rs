//! Pieces for hosts that have `std`: the Linux host and the test
//! platform.

extern crate std;

use std::time::{Duration, Instant};

use crate::platform::Event;

/// An [`Event`]: a generation counter under a mutex, with a condition
/// variable.
#[derive(Debug, Default)]
pub struct CondvarEvent {
    generation: parking_lot::Mutex<u64>,
    cv: parking_lot::Condvar,
}

impl Event for CondvarEvent {
    fn new() -> Self {
        CondvarEvent::default()
    }

    fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    fn notify_all(&self) {
        *self.generation.lock() += 1;
        self.cv.notify_all();
    }

    fn notify_one(&self) {
        *self.generation.lock() += 1;
        self.cv.notify_one();
    }

    fn wait_changed(&self, seen: u64, timeout_ns: u64) -> bool {
        let deadline = Instant::now() + Duration::from_nanos(timeout_ns);
        let mut g = self.generation.lock();
        while *g == seen {
            if self.cv.wait_until(&mut g, deadline).timed_out() {
                return *g != seen;
            }
        }
        true
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn wakes_on_change_and_times_out() {
        let e = std::sync::Arc::new(CondvarEvent::new());
        let g = e.generation();
        assert!(!e.wait_changed(g, 1_000_000));
        let e2 = e.clone();
        let t = std::thread::spawn(move || e2.wait_changed(g, 5_000_000_000));
        e.notify_all();
        assert!(t.join().unwrap());
        assert!(e.wait_changed(g, 0));
    }

    #[test]
    fn notify_one_wakes_one() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let e = std::sync::Arc::new(CondvarEvent::new());
        let woken = std::sync::Arc::new(AtomicUsize::new(0));
        let g = e.generation();
        let waiters: std::vec::Vec<_> = (0..2)
            .map(|_| {
                let (e, woken) = (e.clone(), woken.clone());
                std::thread::spawn(move || {
                    if e.wait_changed(g, 2_000_000_000) {
                        woken.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        // Both asleep (a waiter that is not yet sees the new generation
        // and returns at once, which is also fine for the count below
        // only if it slept: give them time).
        std::thread::sleep(std::time::Duration::from_millis(200));
        e.notify_one();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(woken.load(Ordering::SeqCst), 1, "one woken, one asleep");
        e.notify_one();
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(woken.load(Ordering::SeqCst), 2);
    }
}
