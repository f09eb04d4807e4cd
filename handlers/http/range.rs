//! The `Range` request header (RFC 9110 14.2), restricted to what this
//! server honours: one byte range.

use super::request::parse_decimal;

/// What a `Range` header asks of a file of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// No usable range (absent, malformed, or several): send the whole file.
    Whole,
    /// Send bytes `start..=end`.
    Part {
        /// First byte.
        start: u64,
        /// Last byte, included.
        end: u64,
    },
    /// A valid range that starts past the end: 416.
    Unsatisfiable,
}

/// Interprets a `Range` header value for a file of `len` bytes. Only a single
/// `bytes=` range is honoured; anything else means the whole file.
pub fn parse_range(value: &str, len: u64) -> Range {
    let Some((unit, spec)) = value.trim().split_once('=') else {
        return Range::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let number = |s: &str| parse_decimal(s.trim().as_bytes());
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match number(last) {
            Some(0) => Range::Unsatisfiable,
            Some(_) if len == 0 => Range::Unsatisfiable,
            Some(n) => Range::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            None => Range::Whole,
        },
        // bytes=a-
        (false, true) => match number(first) {
            Some(start) if start >= len => Range::Unsatisfiable,
            Some(start) => Range::Part {
                start,
                end: len - 1,
            },
            None => Range::Whole,
        },
        // bytes=a-b
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end => {
                if start >= len {
                    Range::Unsatisfiable
                } else {
                    Range::Part {
                        start,
                        end: end.min(len - 1),
                    }
                }
            }
            _ => Range::Whole,
        },
        (true, true) => Range::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use Range::*;
        assert_eq!(parse_range("bytes=0-9", 100), Part { start: 0, end: 9 });
        assert_eq!(
            parse_range("bytes=90-200", 100),
            Part { start: 90, end: 99 }
        );
        assert_eq!(parse_range("bytes=10-", 100), Part { start: 10, end: 99 });
        assert_eq!(parse_range("bytes=-10", 100), Part { start: 90, end: 99 });
        assert_eq!(parse_range("bytes=-1000", 100), Part { start: 0, end: 99 });
        assert_eq!(
            parse_range(" Bytes = 1 - 2 ", 100),
            Part { start: 1, end: 2 }
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        for ignored in [
            "bytes=0-1,5-6",
            "bytes=5-1",
            "bytes=a-b",
            "items=0-1",
            "bytes=-",
            "bytes",
            "bytes=1",
        ] {
            assert_eq!(parse_range(ignored, 100), Whole, "{ignored}");
        }
    }
}
