//! Fair merge of the sources' `decoded` edges into the one preprocess stage: each call takes
//! the next ready source after the one served last, so a busy source cannot starve the others
//! and a slow one never holds them up.

use crossbeam::channel::{Receiver, Select, TryRecvError};

/// Round-robin receiver over several channels; ends when all of them are closed and drained.
pub struct RoundRobin<T> {
    /// `None` once a channel is closed and empty.
    rxs: Vec<Option<Receiver<T>>>,
    next: usize,
}

impl<T> RoundRobin<T> {
    pub fn new(rxs: Vec<Receiver<T>>) -> Self {
        RoundRobin {
            rxs: rxs.into_iter().map(Some).collect(),
            next: 0,
        }
    }

    /// The next item if one is ready now, in turn across the sources; never blocks.
    pub fn try_recv(&mut self) -> Option<T> {
        let n = self.rxs.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let Some(rx) = &self.rxs[i] else { continue };
            match rx.try_recv() {
                Ok(item) => {
                    self.next = (i + 1) % n;
                    return Some(item);
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.rxs[i] = None,
            }
        }
        None
    }

    /// The next item, in turn from the sources that have one; blocks while none has;
    /// `None` when every source has ended (EOS).
    pub fn recv(&mut self) -> Option<T> {
        if let [Some(only)] = self.rxs.as_slice() {
            return only.recv().ok();
        }
        loop {
            if let Some(item) = self.try_recv() {
                return Some(item);
            }
            if self.rxs.iter().all(Option::is_none) {
                return None;
            }
            // Sleep until some channel has an item or closes, then take turns again (a live
            // source's own drop-oldest may take the item first: that just loops).
            let mut select = Select::new();
            for rx in self.rxs.iter().flatten() {
                select.recv(rx);
            }
            select.ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam::channel::bounded;

    #[test]
    fn sources_take_turns_and_keep_their_order() {
        let (a_tx, a_rx) = bounded(8);
        let (b_tx, b_rx) = bounded(8);
        for i in 0..5 {
            a_tx.send(("a", i)).unwrap();
        }
        for i in 0..2 {
            b_tx.send(("b", i)).unwrap();
        }
        drop((a_tx, b_tx));
        let mut rr = RoundRobin::new(vec![a_rx, b_rx]);
        let got: Vec<_> = std::iter::from_fn(|| rr.recv()).collect();
        assert_eq!(
            got,
            [
                ("a", 0),
                ("b", 0),
                ("a", 1),
                ("b", 1),
                ("a", 2),
                ("a", 3),
                ("a", 4)
            ]
        );
    }

    #[test]
    fn waits_for_a_slow_source_without_starving_it() {
        let (a_tx, a_rx) = bounded(1);
        let (b_tx, b_rx) = bounded(1);
        let slow = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            b_tx.send(("b", 0)).unwrap();
        });
        let fast = std::thread::spawn(move || {
            for i in 0..3 {
                a_tx.send(("a", i)).unwrap();
            }
        });
        let mut rr = RoundRobin::new(vec![a_rx, b_rx]);
        let got: Vec<_> = std::iter::from_fn(|| rr.recv()).collect();
        slow.join().unwrap();
        fast.join().unwrap();
        assert_eq!(got.len(), 4);
        assert!(got.contains(&("b", 0)));
        let a: Vec<_> = got
            .iter()
            .filter(|(s, _)| *s == "a")
            .map(|(_, i)| *i)
            .collect();
        assert_eq!(a, [0, 1, 2]);
    }
}
