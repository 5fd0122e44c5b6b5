//! Fair merge of the sources' `decoded` edges into the one preprocess stage: each call takes
//! the next ready source after the one served last, so a busy source cannot starve the others
//! and a slow one never holds them up. Sources join at any time (through the `joins` channel)
//! and leave when their edge closes and drains: that is reported as [`Msg::End`], after the
//! source's last frame.

use super::stage::{Msg, SourceId};
use crossbeam::channel::{Receiver, Select, TryRecvError};
use std::collections::VecDeque;

/// What [`RoundRobin::recv_or`] woke for.
pub enum Next<T> {
    /// A frame or a source's end.
    Msg(Msg<T>),
    /// The other channel has an item (or closed).
    Other,
    /// Every source ended and none can join.
    Done,
}

/// Round-robin receiver over the sources' channels; ends when every source has ended and no
/// more can join (`joins` closed).
pub struct RoundRobin<T> {
    rxs: Vec<(SourceId, Receiver<T>)>,
    /// New sources: their id and `decoded` receiver.
    joins: Option<Receiver<(SourceId, Receiver<T>)>>,
    /// Sources whose edge closed and drained, not yet reported.
    ended: VecDeque<SourceId>,
    next: usize,
}

impl<T> RoundRobin<T> {
    /// A fixed set of sources, numbered from 0 in order.
    pub fn new(rxs: Vec<Receiver<T>>) -> Self {
        RoundRobin {
            rxs: rxs.into_iter().enumerate().collect(),
            joins: None,
            ended: VecDeque::new(),
            next: 0,
        }
    }

    /// No source yet; they arrive on `joins`.
    pub fn joining(joins: Receiver<(SourceId, Receiver<T>)>) -> Self {
        RoundRobin {
            rxs: Vec::new(),
            joins: Some(joins),
            ended: VecDeque::new(),
            next: 0,
        }
    }

    fn take_joins(&mut self) {
        let Some(joins) = &self.joins else { return };
        loop {
            match joins.try_recv() {
                Ok(source) => self.rxs.push(source),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    self.joins = None;
                    return;
                }
            }
        }
    }

    /// The next frame if one is ready now, in turn across the sources; never blocks. A source
    /// found closed and drained is set aside for [`Self::recv`] to report.
    pub fn try_recv(&mut self) -> Option<T> {
        let mut k = 0;
        while k < self.rxs.len() {
            let i = (self.next + k) % self.rxs.len();
            match self.rxs[i].1.try_recv() {
                Ok(item) => {
                    self.next = (i + 1) % self.rxs.len();
                    return Some(item);
                }
                Err(TryRecvError::Empty) => k += 1,
                Err(TryRecvError::Disconnected) => {
                    let (id, _) = self.rxs.remove(i);
                    self.ended.push_back(id);
                    if self.rxs.is_empty() {
                        self.next = 0;
                        break;
                    }
                    if i < self.next {
                        self.next -= 1;
                    }
                    self.next %= self.rxs.len();
                }
            }
        }
        None
    }

    /// The next frame, in turn from the sources that have one, or the end of a source; blocks
    /// while there is neither; `None` when every source has ended and none can join (EOS).
    pub fn recv(&mut self) -> Option<Msg<T>> {
        match self.recv_or::<()>(None) {
            Next::Msg(msg) => Some(msg),
            Next::Done | Next::Other => None,
        }
    }

    /// [`Self::recv`], but also wakes when `other` has an item or closes: then
    /// [`Next::Other`] (the item stays in `other`).
    pub fn recv_or<U>(&mut self, other: Option<&Receiver<U>>) -> Next<T> {
        loop {
            if other.is_some_and(|o| !o.is_empty()) {
                return Next::Other;
            }
            self.take_joins();
            if let Some(id) = self.ended.pop_front() {
                return Next::Msg(Msg::End(id));
            }
            if let Some(item) = self.try_recv() {
                return Next::Msg(Msg::Item(item));
            }
            if !self.ended.is_empty() {
                continue;
            }
            if self.rxs.is_empty() && self.joins.is_none() {
                return Next::Done;
            }
            // Sleep until some channel has an item or closes, or a source joins, then take
            // turns again (a live source's own drop-oldest may take the item first: that just
            // loops).
            let mut select = Select::new();
            for (_, rx) in &self.rxs {
                select.recv(rx);
            }
            if let Some(joins) = &self.joins {
                select.recv(joins);
            }
            let other_index = other.map(|o| select.recv(o));
            let ready = select.ready();
            if other_index.is_some_and(|i| i == ready) {
                return Next::Other;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam::channel::bounded;

    /// Every frame until EOS (source ends skipped).
    fn frames<T>(rr: &mut RoundRobin<T>) -> Vec<T> {
        std::iter::from_fn(|| rr.recv())
            .filter_map(|m| match m {
                Msg::Item(t) => Some(t),
                Msg::End(_) => None,
            })
            .collect()
    }

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
        let got: Vec<_> = frames(&mut rr);
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
        let got: Vec<_> = frames(&mut rr);
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

    #[test]
    fn sources_join_and_end_after_their_last_frame() {
        let (joins_tx, joins_rx) = bounded(4);
        let mut rr = RoundRobin::joining(joins_rx);
        let (a_tx, a_rx) = bounded(8);
        joins_tx.send((0, a_rx)).unwrap();
        a_tx.send(("a", 0)).unwrap();
        assert!(matches!(rr.recv(), Some(Msg::Item(("a", 0)))));
        let (b_tx, b_rx) = bounded(8);
        joins_tx.send((1, b_rx)).unwrap();
        b_tx.send(("b", 0)).unwrap();
        b_tx.send(("b", 1)).unwrap();
        drop(b_tx);
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(match rr.recv().unwrap() {
                Msg::Item(t) => format!("{}{}", t.0, t.1),
                Msg::End(id) => format!("end{id}"),
            });
        }
        assert_eq!(got, ["b0", "b1", "end1"]);
        a_tx.send(("a", 1)).unwrap();
        drop((a_tx, joins_tx));
        assert!(matches!(rr.recv(), Some(Msg::Item(("a", 1)))));
        assert!(matches!(rr.recv(), Some(Msg::End(0))));
        assert!(rr.recv().is_none());
    }
}
