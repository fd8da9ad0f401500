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
}
