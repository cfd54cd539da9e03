//! The one place that reads the wall clock.
//!
//! Core reads no clock: its callers pass `now` in (DESIGN.md, "Time is an
//! input"). Those callers are the edges of hosted, and they read a
//! [`Clock`] once per unit of work and hand the same `now` to everything
//! that unit does:
//!
//! ```text
//!  mass sign | verify | batv ──► Clock::now() once (or --now) ──► core
//!  mass serve: a message starts ──► Clock::now() once ──► t=/x=, verify, BATV
//! ```
//!
//! A clock that cannot be read is a [`ClockError`], never a time of 0: a
//! signature with `t=0`, or a verifier that takes every `x=` as still in
//! the future, is worse than a temporary failure. The milter turns it into
//! `on_error` (tempfail by default); the CLI exits 2.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why the clock gave no usable time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClockError {
    /// The clock reads a time before 1970-01-01T00:00:00Z, which Unix
    /// seconds (`t=`, `x=`, BATV days) cannot express.
    BeforeEpoch,
}

impl fmt::Display for ClockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockError::BeforeEpoch => f.write_str("the system clock reads a time before 1970"),
        }
    }
}

impl std::error::Error for ClockError {}

/// Where Unix seconds come from. The daemon holds one in its shared state,
/// so tests can pin the time of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system's wall clock.
    #[default]
    System,
    /// Always these Unix seconds (`--now`, tests).
    Fixed(u64),
    /// Always this wall-clock reading, checked as [`Clock::System`]'s
    /// readings are: one before 1970 is a [`ClockError`]. Tests use it to
    /// see what a broken clock does.
    Reading(SystemTime),
}

impl Clock {
    /// Unix seconds now.
    pub fn now(&self) -> Result<u64, ClockError> {
        match *self {
            Clock::System => unix_seconds(SystemTime::now()),
            Clock::Fixed(secs) => Ok(secs),
            Clock::Reading(t) => unix_seconds(t),
        }
    }

    /// `given` when there is one (a `--now` option), otherwise [`Clock::now`].
    pub fn now_or(&self, given: Option<u64>) -> Result<u64, ClockError> {
        match given {
            Some(secs) => Ok(secs),
            None => self.now(),
        }
    }
}

/// Whole seconds from the Unix epoch to `t`.
pub fn unix_seconds(t: SystemTime) -> Result<u64, ClockError> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| ClockError::BeforeEpoch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_reading_before_1970_is_an_error_not_zero() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(Clock::Reading(before).now(), Err(ClockError::BeforeEpoch));
        assert_eq!(unix_seconds(before), Err(ClockError::BeforeEpoch));
        assert_eq!(Clock::Reading(UNIX_EPOCH).now(), Ok(0));
        let later = UNIX_EPOCH + Duration::from_millis(1_700_000_000_999);
        assert_eq!(Clock::Reading(later).now(), Ok(1_700_000_000));
    }

    #[test]
    fn a_given_time_wins_over_the_clock() {
        let broken = Clock::Reading(UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(broken.now_or(Some(5)), Ok(5));
        assert_eq!(broken.now_or(None), Err(ClockError::BeforeEpoch));
        assert_eq!(Clock::Fixed(7).now_or(None), Ok(7));
        assert!(Clock::System.now().is_ok_and(|t| t > 1_700_000_000));
    }
}
