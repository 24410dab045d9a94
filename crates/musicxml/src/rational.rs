//! Exact score positions.
//!
//! Default mode keeps every position and length in quarter notes as a reduced fraction, so
//! that a tie stop can be matched to the end of its start note, a chord to its onset and a
//! grace note to its principal by plain equality, whatever mixture of `<divisions>`,
//! tuplets and decimal durations the file uses. Seconds only appear at the very end, through
//! the tempo map. Every operation is checked: a file with absurd numbers gets an error,
//! never an overflow.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Rat {
    n: i64,
    d: i64, // > 0, gcd(|n|, d) == 1
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl Rat {
    pub const ZERO: Rat = Rat { n: 0, d: 1 };

    pub fn int(n: i64) -> Rat {
        Rat { n, d: 1 }
    }

    pub const fn int_const(n: i64) -> Rat {
        Rat { n, d: 1 }
    }

    pub fn new(n: i64, d: i64) -> Option<Rat> {
        Self::from_wide(n as i128, d as i128)
    }

    fn from_wide(n: i128, d: i128) -> Option<Rat> {
        if d == 0 {
            return None;
        }
        let g = gcd(n, d).max(1);
        let (mut n, mut d) = (n / g, d / g);
        if d < 0 {
            n = -n;
            d = -d;
        }
        Some(Rat { n: i64::try_from(n).ok()?, d: i64::try_from(d).ok()? })
    }

    pub fn add(self, o: Rat) -> Option<Rat> {
        let (a, b, c, d) = (self.n as i128, self.d as i128, o.n as i128, o.d as i128);
        Self::from_wide(a.checked_mul(d)?.checked_add(c.checked_mul(b)?)?, b.checked_mul(d)?)
    }

    pub fn sub(self, o: Rat) -> Option<Rat> {
        self.add(Rat { n: o.n.checked_neg()?, d: o.d })
    }

    pub fn mul(self, o: Rat) -> Option<Rat> {
        Self::from_wide((self.n as i128).checked_mul(o.n as i128)?, (self.d as i128).checked_mul(o.d as i128)?)
    }

    pub fn div(self, o: Rat) -> Option<Rat> {
        Self::from_wide((self.n as i128).checked_mul(o.d as i128)?, (self.d as i128).checked_mul(o.n as i128)?)
    }

    pub fn is_positive(self) -> bool {
        self.n > 0
    }

    pub fn is_negative(self) -> bool {
        self.n < 0
    }

    pub fn to_f64(self) -> f64 {
        self.n as f64 / self.d as f64
    }

    pub fn min(self, o: Rat) -> Rat {
        if o < self {
            o
        } else {
            self
        }
    }

    pub fn max(self, o: Rat) -> Rat {
        if o > self {
            o
        } else {
            self
        }
    }

    /// An `xs:decimal` as MusicXML writes durations and divisions ("12", "-3", "2.5", ".75").
    /// At most 9 decimals are kept exactly; more is rejected rather than rounded, since no
    /// exporter writes that and the exactness is the point.
    pub fn parse_decimal(s: &str) -> Option<Rat> {
        let s = s.trim();
        let (neg, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let frac_part = frac_part.trim_end_matches('0');
        if frac_part.len() > 9 {
            return None;
        }
        let int_part = int_part.trim_start_matches('0');
        if int_part.len() > 18 {
            return None;
        }
        let whole: i64 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
        let scale = 10i64.pow(frac_part.len() as u32);
        let frac: i64 = if frac_part.is_empty() { 0 } else { frac_part.parse().ok()? };
        let n = whole.checked_mul(scale)?.checked_add(frac)?;
        Rat::new(if neg { -n } else { n }, scale)
    }

    /// A percentage such as `steal-time-following="33.3"`, as a fraction of one.
    pub fn percent(s: &str) -> Option<Rat> {
        Rat::parse_decimal(s)?.div(Rat::int(100))
    }
}

impl PartialOrd for Rat {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rat {
    fn cmp(&self, o: &Self) -> Ordering {
        ((self.n as i128) * (o.d as i128)).cmp(&((o.n as i128) * (self.d as i128)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_exact_and_checked() {
        let third = Rat::new(1, 3).unwrap();
        let sum = third.add(third).unwrap().add(third).unwrap();
        assert_eq!(sum, Rat::int(1));
        assert_eq!(Rat::new(2, -4).unwrap(), Rat::new(-1, 2).unwrap());
        assert!(Rat::new(1, 0).is_none());
        assert!(Rat::int(i64::MAX).add(Rat::int(1)).is_none());
        assert!(Rat::int(i64::MAX).mul(Rat::int(i64::MAX)).is_none());
        assert!(Rat::new(1, 3).unwrap() < Rat::new(1, 2).unwrap());
    }

    #[test]
    fn decimals() {
        assert_eq!(Rat::parse_decimal("12"), Some(Rat::int(12)));
        assert_eq!(Rat::parse_decimal(" 2.50 "), Some(Rat::new(5, 2).unwrap()));
        assert_eq!(Rat::parse_decimal(".75"), Some(Rat::new(3, 4).unwrap()));
        assert_eq!(Rat::parse_decimal("-3"), Some(Rat::int(-3)));
        assert_eq!(Rat::parse_decimal("1e5"), None);
        assert_eq!(Rat::parse_decimal("."), None);
        assert_eq!(Rat::parse_decimal(""), None);
        assert_eq!(Rat::parse_decimal("99999999999999999999"), None);
        assert_eq!(Rat::percent("25"), Some(Rat::new(1, 4).unwrap()));
    }
}
