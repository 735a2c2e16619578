//! Rings between workers: frames whose session another worker owns, and messages every
//! shard must see (ALG pinholes, learned neighbors).
//!
//! One bounded single-producer/single-consumer pair of rings per (from, to) worker pair,
//! built on crossbeam's `ArrayQueue`. A frame is copied out of the sender's UMEM into a
//! fixed-size slot (the receiver copies it into its own UMEM), so no UMEM frame ever
//! crosses workers. Slots are preallocated and recycled through a free ring, so the hot
//! path allocates nothing. A full ring is a counted drop: nothing here ever blocks.
//!
//! A worker going to sleep sets its `sleeping` flag and polls an eventfd; a sender that
//! sees the flag after pushing writes the eventfd (see [`Wakers`]).

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering};

use crossbeam::queue::ArrayQueue;
use mspic_flow::{IfIndex, ShardMessage, Time};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::l2::Mac;

/// A frame copied for another worker.
#[derive(Debug)]
pub struct HandoffFrame {
    /// Logical interface it arrived on.
    pub ingress: IfIndex,
    /// Port (index in the runtime's port list) it arrived on.
    pub port: u16,
    /// When the sending worker received it.
    pub received: Time,
    pub len: u32,
    pub data: Box<[u8]>,
}

impl HandoffFrame {
    fn new(slot_bytes: usize) -> Box<Self> {
        Box::new(HandoffFrame {
            ingress: IfIndex(0),
            port: 0,
            received: Time::ZERO,
            len: 0,
            data: vec![0u8; slot_bytes].into_boxed_slice(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.len as usize]
    }
}

/// A message for every worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerMessage {
    Shard(ShardMessage),
    /// A neighbor learned from ARP or ND by the sending worker.
    Neighbor {
        port: u16,
        ip: std::net::IpAddr,
        mac: Mac,
    },
}

/// Why a handoff did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffError {
    /// The ring to that worker is full (it is behind).
    Full,
    /// The frame is longer than a slot.
    TooLong,
    /// No such worker.
    NoWorker,
}

struct Pair {
    frames: ArrayQueue<Box<HandoffFrame>>,
    free: ArrayQueue<Box<HandoffFrame>>,
    messages: ArrayQueue<WorkerMessage>,
}

/// All rings between `n` workers.
pub struct Handoff {
    n: usize,
    slot_bytes: usize,
    /// Indexed `from * n + to` (the diagonal is unused for frames; messages to oneself
    /// are delivered directly by the worker).
    pairs: Vec<Pair>,
}

impl Handoff {
    /// Rings of `depth` frames of up to `slot_bytes` each, and `depth` messages, between
    /// every two of `n` workers.
    pub fn new(n: usize, depth: usize, slot_bytes: usize) -> Self {
        let depth = depth.max(1);
        let pairs = (0..n * n)
            .map(|i| {
                let cross = i / n != i % n;
                let slots = if cross { depth } else { 1 };
                let free = ArrayQueue::new(slots);
                if cross {
                    for _ in 0..slots {
                        let _ = free.push(HandoffFrame::new(slot_bytes));
                    }
                }
                Pair {
                    frames: ArrayQueue::new(slots),
                    free,
                    messages: ArrayQueue::new(depth),
                }
            })
            .collect();
        Handoff {
            n,
            slot_bytes,
            pairs,
        }
    }

    pub fn workers(&self) -> usize {
        self.n
    }

    pub fn slot_bytes(&self) -> usize {
        self.slot_bytes
    }

    fn pair(&self, from: usize, to: usize) -> Option<&Pair> {
        (from < self.n && to < self.n && from != to).then(|| &self.pairs[from * self.n + to])
    }

    /// Copies `bytes` into a slot for worker `to`. Never blocks.
    pub fn send(
        &self,
        from: usize,
        to: usize,
        ingress: IfIndex,
        port: u16,
        received: Time,
        bytes: &[u8],
    ) -> Result<(), HandoffError> {
        let pair = self.pair(from, to).ok_or(HandoffError::NoWorker)?;
        if bytes.len() > self.slot_bytes {
            return Err(HandoffError::TooLong);
        }
        let mut slot = pair.free.pop().ok_or(HandoffError::Full)?;
        slot.data[..bytes.len()].copy_from_slice(bytes);
        slot.len = bytes.len() as u32;
        slot.ingress = ingress;
        slot.port = port;
        slot.received = received;
        match pair.frames.push(slot) {
            Ok(()) => Ok(()),
            Err(slot) => {
                // Cannot happen (as many slots as ring places), but never lose a slot.
                let _ = pair.free.push(slot);
                Err(HandoffError::Full)
            }
        }
    }

    /// The next frame from worker `from` to worker `to`; give it back with
    /// [`Self::recycle`].
    pub fn recv(&self, from: usize, to: usize) -> Option<Box<HandoffFrame>> {
        self.pair(from, to)?.frames.pop()
    }

    /// Returns a slot received from `from` to its free ring.
    pub fn recycle(&self, from: usize, to: usize, slot: Box<HandoffFrame>) {
        if let Some(p) = self.pair(from, to) {
            let _ = p.free.push(slot);
        }
    }

    /// Frames waiting from `from` to `to`.
    pub fn queued(&self, from: usize, to: usize) -> usize {
        self.pair(from, to).map_or(0, |p| p.frames.len())
    }

    /// Anything waiting for worker `to` (frames or messages)?
    pub fn has_work_for(&self, to: usize) -> bool {
        (0..self.n)
            .filter(|&f| f != to)
            .filter_map(|f| self.pair(f, to))
            .any(|p| !p.frames.is_empty() || !p.messages.is_empty())
    }

    /// Sends a message to worker `to`; false when its ring is full (counted by the caller).
    pub fn send_message(&self, from: usize, to: usize, msg: WorkerMessage) -> bool {
        self.pair(from, to)
            .is_some_and(|p| p.messages.push(msg).is_ok())
    }

    pub fn recv_message(&self, from: usize, to: usize) -> Option<WorkerMessage> {
        self.pair(from, to)?.messages.pop()
    }
}

/// One eventfd and sleeping flag per worker, so a worker blocked in `poll` wakes when a
/// frame, a message or a control request arrives.
pub struct Wakers {
    fds: Vec<EventFd>,
    sleeping: Vec<AtomicBool>,
}

impl Wakers {
    pub fn new(n: usize) -> std::io::Result<Self> {
        let mut fds = Vec::with_capacity(n);
        for _ in 0..n {
            let flags = EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC;
            fds.push(EventFd::from_value_and_flags(0, flags)?);
        }
        Ok(Wakers {
            fds,
            sleeping: (0..n).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// The eventfd worker `w` polls.
    pub fn fd(&self, w: usize) -> RawFd {
        self.fds[w].as_raw_fd()
    }

    /// Worker `w` is about to sleep: after this, it must check for work once more before
    /// blocking (a sender either sees the flag or its work is seen by that check).
    pub fn prepare_sleep(&self, w: usize) {
        self.sleeping[w].store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Worker `w` is awake again; drains its eventfd.
    pub fn awake(&self, w: usize) {
        self.sleeping[w].store(false, Ordering::SeqCst);
        // Non-blocking: EAGAIN when nobody woke us.
        let _ = self.fds[w].read();
    }

    /// Wakes worker `w` if it is (about to be) asleep. Call after publishing the work.
    pub fn wake(&self, w: usize) {
        fence(Ordering::SeqCst);
        if self
            .sleeping
            .get(w)
            .is_some_and(|s| s.load(Ordering::SeqCst))
        {
            self.wake_always(w);
        }
    }

    /// Wakes worker `w` unconditionally.
    pub fn wake_always(&self, w: usize) {
        // A full counter (EAGAIN) still leaves the eventfd readable: the wake is not lost.
        let _ = self.fds[w].write(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_and_slots_come_back() {
        let h = Handoff::new(3, 2, 64);
        let t = Time(7);
        h.send(0, 2, IfIndex(1), 1, t, b"hello").unwrap();
        h.send(0, 2, IfIndex(1), 1, t, b"world").unwrap();
        assert_eq!(
            h.send(0, 2, IfIndex(1), 1, t, b"third"),
            Err(HandoffError::Full),
            "a full ring drops, never blocks"
        );
        // Other pairs are independent.
        h.send(1, 2, IfIndex(0), 0, t, b"other").unwrap();
        assert!(h.has_work_for(2));
        assert!(!h.has_work_for(0));
        let a = h.recv(0, 2).unwrap();
        assert_eq!(
            (a.bytes(), a.ingress, a.port, a.received),
            (&b"hello"[..], IfIndex(1), 1, t)
        );
        h.recycle(0, 2, a);
        // The slot is free again.
        h.send(0, 2, IfIndex(1), 1, t, b"again").unwrap();
        assert_eq!(h.recv(0, 2).unwrap().bytes(), b"world");
        assert_eq!(h.queued(0, 2), 1);
    }

    #[test]
    fn bounds() {
        let h = Handoff::new(2, 4, 8);
        assert_eq!(
            h.send(0, 1, IfIndex(0), 0, Time::ZERO, &[0; 9]),
            Err(HandoffError::TooLong)
        );
        assert_eq!(
            h.send(0, 0, IfIndex(0), 0, Time::ZERO, &[0; 1]),
            Err(HandoffError::NoWorker)
        );
        assert_eq!(
            h.send(0, 5, IfIndex(0), 0, Time::ZERO, &[0; 1]),
            Err(HandoffError::NoWorker)
        );
    }

    #[test]
    fn messages() {
        let h = Handoff::new(2, 2, 8);
        let m = WorkerMessage::Neighbor {
            port: 1,
            ip: "10.0.0.2".parse().unwrap(),
            mac: [2, 0, 0, 0, 0, 1],
        };
        assert!(h.send_message(0, 1, m.clone()));
        assert!(h.send_message(0, 1, m.clone()));
        assert!(!h.send_message(0, 1, m.clone()), "full");
        assert!(h.has_work_for(1));
        assert_eq!(h.recv_message(0, 1), Some(m));
    }

    #[test]
    fn concurrent_producer_consumer() {
        let h = std::sync::Arc::new(Handoff::new(2, 16, 8));
        let n = 20_000u32;
        let prod = {
            let h = h.clone();
            std::thread::spawn(move || {
                let (mut sent, mut dropped) = (0u32, 0u32);
                for i in 0..n {
                    match h.send(0, 1, IfIndex(0), 0, Time::ZERO, &i.to_be_bytes()) {
                        Ok(()) => sent += 1,
                        Err(HandoffError::Full) => dropped += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                (sent, dropped)
            })
        };
        let mut got = Vec::new();
        let mut last = None;
        loop {
            if let Some(f) = h.recv(0, 1) {
                let v = u32::from_be_bytes(f.bytes().try_into().unwrap());
                assert!(last.is_none_or(|l| v > l), "in order");
                last = Some(v);
                got.push(v);
                h.recycle(0, 1, f);
            } else if prod.is_finished() && h.queued(0, 1) == 0 {
                break;
            }
        }
        let (sent, dropped) = prod.join().unwrap();
        assert_eq!(sent + dropped, n);
        assert_eq!(got.len() as u32, sent);
    }

    #[test]
    fn wakers() {
        let w = Wakers::new(2).unwrap();
        w.prepare_sleep(1);
        w.wake(1);
        let readable = |k: usize| {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            use std::os::fd::AsFd;
            let mut pfd = [PollFd::new(w.fds[k].as_fd(), PollFlags::POLLIN)];
            poll(&mut pfd, PollTimeout::ZERO).unwrap() == 1
        };
        assert!(readable(1), "woken");
        w.awake(1);
        assert!(!readable(1), "drained");
        // Not sleeping: no write.
        w.wake(0);
        assert!(!readable(0));
    }
}
