//! The progress line of a run on a terminal (stderr): what is done, what is
//! under way, and the probe that has waited longest. A view: the numbers
//! come from the run.

use crate::escape;
use crate::runner::Pending;

/// What the line shows.
pub struct Status<'a> {
    /// Units done: hosts, or mail domains with --mx host by host.
    pub done: u64,
    /// How many there are, when that is known before the end (the HOST
    /// arguments; not a --hosts-file, read as the run goes).
    pub total: Option<u64>,
    /// "hosts" or "domains".
    pub unit: &'a str,
    pub in_flight: usize,
    pub slowest: Option<&'a Pending>,
}

/// The line, at most `width` characters (no newline).
pub fn line(s: &Status, width: usize) -> String {
    let done = match s.total {
        Some(total) => format!("{}/{} {} done", s.done, total, s.unit),
        None => format!("{} {} done", s.done, s.unit),
    };
    let probes = if s.in_flight == 1 { "probe" } else { "probes" };
    let mut out = format!("mailport: {done}, {} {probes} under way", s.in_flight);
    // The time first: a narrow terminal cuts the name, not the time.
    if let Some(p) = s.slowest {
        let at = if p.name == p.addr.ip().to_string() {
            p.addr.to_string()
        } else {
            format!("{} {}", escape::shown(&p.name), p.addr)
        };
        out.push_str(&format!(
            ", slowest {:.1}s: {} {at}",
            p.elapsed().as_secs_f64(),
            p.service,
        ));
    }
    if out.chars().count() > width {
        out = out.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_done_total_under_way_and_the_slowest_probe() {
        let p = Pending {
            service: "smtp",
            name: "mx.example.test\x1b[31m".into(),
            addr: "192.0.2.1:25".parse().unwrap(),
            since: tokio::time::Instant::now(),
        };
        let s = Status {
            done: 3,
            total: Some(10),
            unit: "hosts",
            in_flight: 9,
            slowest: Some(&p),
        };
        let l = line(&s, 200);
        assert!(
            l.starts_with(
                "mailport: 3/10 hosts done, 9 probes under way, slowest 0.0s: smtp mx.example.test"
            ),
            "{l}"
        );
        assert!(l.ends_with(" 192.0.2.1:25"), "{l}");
        assert!(!l.contains('\x1b'), "escaped: {l}");
        let short = line(&s, 40);
        assert_eq!(short.chars().count(), 40);
        assert!(short.ends_with('…'));
        let unknown = Status {
            total: None,
            in_flight: 1,
            slowest: None,
            ..s
        };
        assert_eq!(
            line(&unknown, 200),
            "mailport: 3 hosts done, 1 probe under way"
        );
        let by_address = Pending {
            name: "192.0.2.1".into(),
            ..p
        };
        let l = line(
            &Status {
                slowest: Some(&by_address),
                ..unknown
            },
            200,
        );
        assert!(l.ends_with("slowest 0.0s: smtp 192.0.2.1:25"), "{l}");
    }
}
