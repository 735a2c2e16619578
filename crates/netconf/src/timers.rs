//! Time limits of a session, sans-IO: the caller passes `now` (the time since the session
//! began, on a monotonic clock), asks [`Timers::deadline`] how long it may wait for
//! bytes, and [`crate::Session::tick`]s when that passes.

use std::time::Duration;

/// How long a client may take (docs/reliability.md, "NETCONF sessions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// A message must be whole within this of its first byte; bytes trickling in do not
    /// move the deadline, so a client sending a byte a second cannot hold a session.
    pub message: Duration,
    /// A session with no message under way ends after this long without a whole one.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            message: Duration::from_secs(30),
            idle: Duration::from_secs(600),
        }
    }
}

/// Which limit a session ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A message begun and not finished within [`Timeouts::message`].
    Message(Duration),
    /// No message for [`Timeouts::idle`].
    Idle(Duration),
}

impl std::fmt::Display for Expired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expired::Message(d) => write!(f, "message not complete within {d:?} of its first byte"),
            Expired::Idle(d) => write!(f, "no message for {d:?}"),
        }
    }
}

/// When the message under way began and when the last whole one ended.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    pub(crate) limits: Timeouts,
    /// Arrival of the first byte of the message under way.
    message_since: Option<Duration>,
    /// End of the last whole message (the session's start before the first).
    idle_since: Duration,
}

impl Timers {
    /// Bytes arrived at `now`: `completed` whether they finished a message, `pending`
    /// whether bytes of a next one are held.
    pub(crate) fn received(&mut self, now: Duration, completed: bool, pending: bool) {
        if completed {
            self.idle_since = now;
            self.message_since = None;
        }
        if !pending {
            self.message_since = None;
        } else if self.message_since.is_none() {
            self.message_since = Some(now);
        }
    }

    /// When the current limit runs out.
    pub(crate) fn deadline(&self) -> Duration {
        match self.message_since {
            Some(t) => t.saturating_add(self.limits.message),
            None => self.idle_since.saturating_add(self.limits.idle),
        }
    }

    /// The limit passed by `now`, if any.
    pub(crate) fn expired(&self, now: Duration) -> Option<Expired> {
        if now < self.deadline() {
            return None;
        }
        Some(match self.message_since {
            Some(_) => Expired::Message(self.limits.message),
            None => Expired::Idle(self.limits.idle),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn timers() -> Timers {
        Timers {
            limits: Timeouts {
                message: s(5),
                idle: s(60),
            },
            ..Timers::default()
        }
    }

    #[test]
    fn a_message_deadline_counts_from_its_first_byte() {
        let mut t = timers();
        t.received(s(10), false, true);
        t.received(s(12), false, true);
        t.received(s(14), false, true);
        assert_eq!(t.deadline(), s(15));
        assert_eq!(t.expired(s(14)), None);
        assert_eq!(t.expired(s(15)), Some(Expired::Message(s(5))));
    }

    #[test]
    fn a_whole_message_restarts_the_idle_clock() {
        let mut t = timers();
        assert_eq!(t.deadline(), s(60));
        t.received(s(3), true, false);
        assert_eq!(t.deadline(), s(63));
        assert_eq!(t.expired(s(62)), None);
        assert_eq!(t.expired(s(63)), Some(Expired::Idle(s(60))));
    }

    #[test]
    fn the_next_message_begun_with_the_last_one_has_its_own_deadline() {
        let mut t = timers();
        t.received(s(1), false, true);
        t.received(s(4), true, true);
        assert_eq!(t.deadline(), s(9));
    }
}
