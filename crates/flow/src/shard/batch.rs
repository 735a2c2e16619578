//! The entry points for frames: one at a time, or a batch whose cache misses overlap.

use mspic_wire::parse::{Fragment, Parsed};
use mspic_wire::{proto, FlowKey, WireError};

use super::{Frame, Shard, Verdict, BATCH};
use crate::route::IfIndex;
use crate::time::Time;

impl Shard {
    /// Runs one frame through the shard.
    pub fn process(&mut self, now: Time, ingress: IfIndex, frame: &mut Frame<'_>) -> Verdict {
        let parsed = mspic_wire::parse_frame(frame.bytes());
        let hash = parsed.as_ref().map_or(0, |p| self.table.hash(&p.key));
        self.process_parsed(now, ingress, frame, &parsed, hash)
    }

    /// Runs a batch of frames through the shard: the same verdicts, frame contents and
    /// state as calling [`Self::process`] on each in order (`verdicts[i]` is frame `i`'s;
    /// only the first `min(frames.len(), verdicts.len())` are processed).
    ///
    /// At most [`BATCH`] frames at a time are parsed and hashed first, then their index
    /// buckets and then their candidate sessions are read, and only then is each frame
    /// processed: the cache misses of a whole batch overlap instead of following one
    /// another. Allocates nothing.
    pub fn process_batch(
        &mut self,
        now: Time,
        frames: &mut [(IfIndex, Frame<'_>)],
        verdicts: &mut [Verdict],
    ) {
        let n = frames.len().min(verdicts.len());
        if self.table.slots() < self.cfg.lookahead_min_sessions {
            for ((ingress, f), v) in frames[..n].iter_mut().zip(verdicts.iter_mut()) {
                *v = self.process(now, *ingress, f);
            }
            return;
        }
        for (frames, verdicts) in frames[..n]
            .chunks_mut(BATCH)
            .zip(verdicts[..n].chunks_mut(BATCH))
        {
            let k = frames.len();
            for ((_, f), (p, h)) in frames
                .iter()
                .zip(self.batch_parsed.iter_mut().zip(self.batch_hash.iter_mut()))
            {
                *p = mspic_wire::parse_frame(f.bytes());
                *h = p.as_ref().map_or(0, |q| self.table.hash(&q.key));
            }
            // Tight loops of independent loads: many misses in flight at once.
            let mut acc = 0u64;
            for &h in &self.batch_hash[..k] {
                acc ^= u64::from(self.table.touch_bucket(h));
            }
            for &h in &self.batch_hash[..k] {
                acc ^= self.table.touch(h);
            }
            std::hint::black_box(acc);
            // Borrowed out of `self` for the loop (no allocation: an empty box is no
            // allocation) and put back.
            let parsed = std::mem::take(&mut self.batch_parsed);
            for (i, ((ingress, f), v)) in frames.iter_mut().zip(verdicts.iter_mut()).enumerate() {
                *v = self.process_parsed(now, *ingress, f, &parsed[i], self.batch_hash[i]);
            }
            self.batch_parsed = parsed;
        }
    }

    /// [`Self::process`] after parsing, with the hash of the parsed key: serves the frame
    /// and counts it on the services interface it was charged to.
    fn process_parsed(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Result<Parsed, WireError>,
        hash: u64,
    ) -> Verdict {
        self.clock = self.clock.max(now);
        let in_len = frame.len as u64;
        let (slot, verdict) = self.serve(now, ingress, frame, parsed, hash);
        self.count_traffic(now, slot, (in_len, frame.len as u64), verdict);
        verdict
    }

    /// The verdict on a frame and the counter slot of the services interface it passed
    /// (that of its session, else the one [`Self::stats_slot`] names). Inlined into its
    /// one caller (outlined, its tuple result and arguments cost the established path).
    #[inline(always)]
    fn serve(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Result<Parsed, WireError>,
        hash: u64,
    ) -> (usize, Verdict) {
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => {
                return (
                    self.stats_slot(ingress, None),
                    self.count_malformed(ingress, e),
                )
            }
        };
        let key = parsed.key;
        if self.cfg.verify_checksums && !mspic_wire::parse::l4_checksum_ok(frame.bytes(), parsed) {
            let slot = self.stats_slot(ingress, Some(key.dst));
            return (slot, self.count_bad_checksum(ingress, parsed));
        }
        // DS-Lite: IPv4 in IPv6 to a softwire address is decapsulated (its fragments,
        // later ones included, reassembled first) and looked up by its softwire key.
        if key.proto == proto::IPIP {
            if let Some(done) = self.softwire_in(now, ingress, frame, parsed) {
                return done;
            }
        }
        if let Fragment::Later { id } = parsed.fragment {
            let slot = self.stats_slot(ingress, Some(key.dst));
            return (slot, self.later_fragment(now, ingress, frame, parsed, id));
        }
        // Enhanced GRE and ESP: a session keyed by call id or SPI first (mspic_wire::key),
        // then the 3-tuple; one call site for `on_flow` (inlined) in the established path.
        let second = if matches!(key.proto, proto::GRE | proto::ESP) {
            self.find_second_key(frame, parsed)
        } else {
            None
        };
        let found = match second {
            Some((r, ck)) => Some((r, Some(ck))),
            None => self.table.find(hash, &key).map(|r| (r, None)),
        };
        if let Some((r, ck)) = found {
            let slot = self
                .table
                .get(r.slot)
                .map_or(self.stats.len() - 1, |s| s.service_iface as usize);
            let keyed;
            let parsed = match ck {
                Some(ck) => {
                    keyed = Parsed { key: ck, ..*parsed };
                    &keyed
                }
                None => parsed,
            };
            return (slot, self.on_flow(now, ingress, r, frame, parsed));
        }
        let slot = self.stats_slot(ingress, Some(key.dst));
        (
            slot,
            self.first_packet(now, ingress, frame, parsed, (hash, &key)),
        )
    }

    /// The session of a GRE or ESP packet by its second key, if one has it.
    #[cold]
    #[inline(never)]
    fn find_second_key(
        &self,
        frame: &Frame<'_>,
        parsed: &Parsed,
    ) -> Option<(crate::table::FlowRef, FlowKey)> {
        let ck = mspic_wire::parse::second_key(frame.bytes(), parsed)?;
        self.table.find(self.table.hash(&ck), &ck).map(|r| (r, ck))
    }
}
