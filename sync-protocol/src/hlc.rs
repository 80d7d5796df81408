//! Hybrid logical clocks: a stamp that follows wall-clock time, never goes
//! backwards, and orders every event of every device totally.
//!
//! Pure: the physical clock is passed in, so the clock is deterministic under test.
//!
//! Wire form: `"<unix ms>-<counter, 4 lower-case hex digits>-<node>"`, for example
//! `"1716192000123-0000-0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81"`. The node may itself
//! contain `-`; only the first two separate the parts.

use std::fmt;
use std::str::FromStr;

/// The longest node name accepted, in characters.
pub const MAX_NODE_LEN: usize = 64;

/// One stamp of a hybrid logical clock, ordered by `(wall_ms, counter, node)`.
///
/// Built only through [`Hlc::new`], [`FromStr`] or an [`HlcClock`], so its node is
/// never empty nor longer than [`MAX_NODE_LEN`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hlc {
    // Field order is the ordering: the derived `Ord` compares wall, counter, node.
    wall_ms: u64,
    counter: u16,
    node: String,
}

/// Why a string or parts are not an HLC stamp.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HlcError {
    #[error("the HLC stamp is empty")]
    Empty,
    #[error("an HLC stamp is `<unix ms>-<counter>-<node>`")]
    Malformed,
    #[error("the HLC wall clock must be unix milliseconds in decimal, without sign or leading zeros")]
    WallMs,
    #[error("the HLC counter must be exactly 4 lower-case hex digits")]
    Counter,
    #[error("the HLC node is empty")]
    EmptyNode,
    #[error("the HLC node has {0} characters, more than the {MAX_NODE_LEN} allowed")]
    NodeTooLong(usize),
}

fn check_node(node: &str) -> Result<(), HlcError> {
    if node.is_empty() {
        return Err(HlcError::EmptyNode);
    }
    let len = node.chars().count();
    if len > MAX_NODE_LEN {
        return Err(HlcError::NodeTooLong(len));
    }
    Ok(())
}

impl Hlc {
    /// A stamp from its parts; the node must be 1..=64 characters.
    pub fn new(wall_ms: u64, counter: u16, node: impl Into<String>) -> Result<Self, HlcError> {
        let node = node.into();
        check_node(&node)?;
        Ok(Self { wall_ms, counter, node })
    }

    /// Wall-clock part, unix milliseconds.
    pub fn wall_ms(&self) -> u64 {
        self.wall_ms
    }

    /// Logical counter among stamps with the same wall-clock part.
    pub fn counter(&self) -> u16 {
        self.counter
    }

    /// The node (device id, or the server's name) that made the stamp.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The next stamp after `(wall_ms, counter)` on this node: counter + 1, or the
    /// next millisecond with counter 0 when the counter would pass `0xFFFF`.
    fn successor(wall_ms: u64, counter: u16, node: &str) -> Self {
        let (wall_ms, counter) = match counter.checked_add(1) {
            Some(c) => (wall_ms, c),
            None => (wall_ms.saturating_add(1), 0),
        };
        Self { wall_ms, counter, node: node.to_owned() }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:04x}-{}", self.wall_ms, self.counter, self.node)
    }
}

impl FromStr for Hlc {
    type Err = HlcError;

    /// Parses the canonical wire form only (what [`fmt::Display`] writes), so a stamp
    /// has exactly one spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(HlcError::Empty);
        }
        let mut parts = s.splitn(3, '-');
        let (Some(ms), Some(counter), Some(node)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(HlcError::Malformed);
        };
        let canonical_ms =
            !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) && (ms == "0" || !ms.starts_with('0'));
        if !canonical_ms {
            return Err(HlcError::WallMs);
        }
        let wall_ms = ms.parse::<u64>().map_err(|_| HlcError::WallMs)?;
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if counter.len() != 4 || !counter.bytes().all(lower_hex) {
            return Err(HlcError::Counter);
        }
        let counter = u16::from_str_radix(counter, 16).map_err(|_| HlcError::Counter)?;
        Hlc::new(wall_ms, counter, node)
    }
}

impl serde::Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What receiving a remote stamp gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The receiver's clock after the event; greater than every stamp it has made or adopted.
    pub stamp: Hlc,
    /// The remote stamp was too far ahead of the physical clock and was not adopted:
    /// the event must carry `stamp` instead of its own, and be flagged `clock_skew`.
    pub restamped: bool,
}

impl Observed {
    /// The stamp the received event is ordered by: its own, unless it was re-stamped.
    pub fn event_stamp(&self, remote: &Hlc) -> Hlc {
        if self.restamped { self.stamp.clone() } else { remote.clone() }
    }
}

/// A hybrid logical clock for one node. Its stamps strictly increase, whatever the
/// physical clock does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// A clock for `node` that has made no stamp yet.
    pub fn new(node: impl Into<String>) -> Result<Self, HlcError> {
        Ok(Self { last: Hlc::new(0, 0, node)? })
    }

    /// Resumes a clock from the last stamp it made or adopted (for example one kept on disk).
    pub fn resume(last: Hlc) -> Self {
        Self { last }
    }

    /// The last stamp made or adopted.
    pub fn last(&self) -> &Hlc {
        &self.last
    }

    /// A stamp for a local event or a send.
    pub fn now(&mut self, physical_ms: u64) -> Hlc {
        self.last = if physical_ms > self.last.wall_ms {
            Hlc { wall_ms: physical_ms, counter: 0, node: std::mem::take(&mut self.last.node) }
        } else {
            Hlc::successor(self.last.wall_ms, self.last.counter, &self.last.node)
        };
        self.last.clone()
    }

    /// Receives a remote stamp (standard HLC receive), unless the remote stamp's wall
    /// clock is more than `max_skew_ms` ahead of `physical_ms`: such a stamp is ignored
    /// (adopting it would drag every later stamp into the future), and the result is a
    /// fresh local stamp with `restamped = true`.
    pub fn observe(&mut self, remote: &Hlc, physical_ms: u64, max_skew_ms: u64) -> Observed {
        if remote.wall_ms > physical_ms.saturating_add(max_skew_ms) {
            return Observed { stamp: self.now(physical_ms), restamped: true };
        }
        let last = &self.last;
        let wall = last.wall_ms.max(remote.wall_ms).max(physical_ms);
        let next = if wall == last.wall_ms && wall == remote.wall_ms {
            Hlc::successor(wall, last.counter.max(remote.counter), &last.node)
        } else if wall == last.wall_ms {
            Hlc::successor(wall, last.counter, &last.node)
        } else if wall == remote.wall_ms {
            Hlc::successor(wall, remote.counter, &last.node)
        } else {
            Hlc { wall_ms: wall, counter: 0, node: last.node.clone() }
        };
        self.last = next;
        Observed { stamp: self.last.clone(), restamped: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81";

    fn hlc(s: &str) -> Hlc {
        s.parse().unwrap()
    }

    #[test]
    fn wire_form_round_trips_and_node_keeps_its_dashes() {
        let s = "1716192000123-0000-0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81";
        let h = hlc(s);
        assert_eq!((h.wall_ms(), h.counter(), h.node()), (1_716_192_000_123, 0, NODE));
        assert_eq!(h.to_string(), s);
        let h = Hlc::new(5, 0xab, "server").unwrap();
        assert_eq!(h.to_string(), "5-00ab-server");
        assert_eq!(hlc("0-ffff-n"), Hlc::new(0, 0xffff, "n").unwrap());
    }

    #[test]
    fn serde_is_the_wire_string() {
        let h = Hlc::new(1_716_192_000_123, 0x1f, NODE).unwrap();
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"1716192000123-001f-{NODE}\""));
        assert_eq!(serde_json::from_str::<Hlc>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Hlc>("\"1716192000123-1f-x\"").is_err());
        assert!(serde_json::from_str::<Hlc>("1716192000123").is_err());
    }

    #[test]
    fn parse_errors_are_typed() {
        let too_long = format!("1-0000-{}", "n".repeat(MAX_NODE_LEN + 1));
        let cases: &[(&str, HlcError)] = &[
            ("", HlcError::Empty),
            ("1716192000123", HlcError::Malformed),
            ("1716192000123-0000", HlcError::Malformed),
            ("-0000-n", HlcError::WallMs),
            ("x716192000123-0000-n", HlcError::WallMs),
            ("+1-0000-n", HlcError::WallMs),
            ("01-0000-n", HlcError::WallMs),
            ("99999999999999999999999-0000-n", HlcError::WallMs),
            ("1-000-n", HlcError::Counter),
            ("1-00000-n", HlcError::Counter),
            ("1-00AB-n", HlcError::Counter),
            ("1-00g0-n", HlcError::Counter),
            ("1-+fff-n", HlcError::Counter),
            ("1-0000-", HlcError::EmptyNode),
            (&too_long, HlcError::NodeTooLong(MAX_NODE_LEN + 1)),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Hlc>().as_ref(), Err(want), "{input:?}");
        }
        let max_node = format!("1-0000-{}", "节".repeat(MAX_NODE_LEN));
        assert!(max_node.parse::<Hlc>().is_ok(), "the limit counts characters, not bytes");
        assert_eq!(Hlc::new(1, 0, ""), Err(HlcError::EmptyNode));
        assert!(HlcClock::new("").is_err());
    }

    #[test]
    fn order_is_wall_then_counter_then_node() {
        let mut v = [hlc("2-0000-a"), hlc("1-0001-a"), hlc("1-0000-b"), hlc("1-0000-a"), hlc("10-0000-a")];
        v.sort();
        let got: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(got, ["1-0000-a", "1-0000-b", "1-0001-a", "2-0000-a", "10-0000-a"]);
        // A tie on wall and counter is broken by the node, so distinct nodes never compare equal.
        assert!(hlc("7-0003-device-a") < hlc("7-0003-device-b"));
        assert!(hlc("7-0003-device-b") > hlc("7-0003-device-a"));
    }

    #[test]
    fn now_follows_the_physical_clock_and_stays_monotonic_when_it_goes_back() {
        let mut c = HlcClock::new("n").unwrap();
        assert_eq!(c.now(1000), hlc("1000-0000-n"));
        assert_eq!(c.now(1000), hlc("1000-0001-n"));
        assert_eq!(c.now(1005), hlc("1005-0000-n"));
        // The physical clock jumps back (NTP correction, user changes the time).
        assert_eq!(c.now(900), hlc("1005-0001-n"));
        assert_eq!(c.now(0), hlc("1005-0002-n"));
        assert_eq!(c.now(1006), hlc("1006-0000-n"));
        let mut prev = c.last().clone();
        for physical in [1006, 3, 1006, 2000, 1999, 1999, 5, 2001] {
            let next = c.now(physical);
            assert!(next > prev, "{next} after {prev}");
            prev = next;
        }
    }

    #[test]
    fn counter_overflow_advances_the_wall_clock() {
        let mut c = HlcClock::resume(hlc("1000-fffe-n"));
        assert_eq!(c.now(10), hlc("1000-ffff-n"));
        assert_eq!(c.now(10), hlc("1001-0000-n"));
        let mut c = HlcClock::resume(hlc("1000-ffff-n"));
        let o = c.observe(&hlc("1000-ffff-remote"), 1000, 0);
        assert_eq!(o.stamp, hlc("1001-0000-n"));
        let mut c = HlcClock::resume(hlc("5-0000-n"));
        assert_eq!(c.observe(&hlc("1000-ffff-remote"), 1000, 0).stamp, hlc("1001-0000-n"));
    }

    #[test]
    fn observe_is_the_standard_receive() {
        let mut c = HlcClock::resume(hlc("1000-0005-srv"));
        // Physical clock ahead of both: take it, counter 0.
        let o = c.observe(&hlc("1500-0009-dev"), 2000, 60_000);
        assert_eq!(o, Observed { stamp: hlc("2000-0000-srv"), restamped: false });
        // Remote ahead (within skew): adopt its wall, its counter + 1.
        let o = c.observe(&hlc("2500-0009-dev"), 2100, 60_000);
        assert_eq!(o.stamp, hlc("2500-000a-srv"));
        assert!(o.stamp > hlc("2500-0009-dev"));
        assert_eq!(o.event_stamp(&hlc("2500-0009-dev")), hlc("2500-0009-dev"));
        // Same wall as remote and last: max counter + 1.
        let o = c.observe(&hlc("2500-0003-dev"), 2200, 60_000);
        assert_eq!(o.stamp, hlc("2500-000b-srv"));
        let o = c.observe(&hlc("2500-0042-dev"), 2200, 60_000);
        assert_eq!(o.stamp, hlc("2500-0043-srv"));
        // Last ahead of both: last counter + 1.
        let o = c.observe(&hlc("10-0000-dev"), 20, 60_000);
        assert_eq!(o.stamp, hlc("2500-0044-srv"));
        // Local stamps afterwards are later than everything received.
        assert!(c.now(0) > hlc("2500-0042-dev"));
    }

    #[test]
    fn a_stamp_too_far_ahead_is_not_adopted_but_restamped() {
        let skew = 5 * 60 * 1000;
        let mut c = HlcClock::resume(hlc("1000-0000-srv"));
        let future = Hlc::new(2000 + skew + 1, 0, "dev").unwrap();
        let o = c.observe(&future, 2000, skew);
        assert_eq!(o, Observed { stamp: hlc("2000-0000-srv"), restamped: true });
        assert_eq!(o.event_stamp(&future), hlc("2000-0000-srv"));
        assert_eq!(c.last(), &hlc("2000-0000-srv"), "the clock did not jump to the future");
        // Exactly at the limit is still adopted.
        let edge = Hlc::new(2000 + skew, 7, "dev").unwrap();
        let o = c.observe(&edge, 2000, skew);
        assert!(!o.restamped);
        assert_eq!(o.stamp, Hlc::new(2000 + skew, 8, "srv").unwrap());
        // A huge wall clock does not overflow the comparison.
        let far = Hlc::new(u64::MAX, 0, "dev").unwrap();
        assert!(c.observe(&far, u64::MAX - 1, u64::MAX).stamp > edge);
    }

    #[test]
    fn observe_and_now_interleaved_are_strictly_increasing() {
        let mut c = HlcClock::new("srv").unwrap();
        let mut prev = c.now(100);
        let remotes = ["50-0000-a", "400-0003-b", "400-0001-c", "90000-0000-d", "401-ffff-e"];
        for (i, r) in remotes.iter().enumerate() {
            let physical = [300, 120, 390, 410, 10][i];
            let o = c.observe(&hlc(r), physical, 1000);
            assert!(o.stamp > prev, "{} after {prev}", o.stamp);
            if !o.restamped {
                assert!(o.stamp > hlc(r));
            }
            prev = o.stamp;
            let n = c.now(physical);
            assert!(n > prev);
            prev = n;
        }
    }
}
