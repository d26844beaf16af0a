//! The plan's part for a mail domain's TLS promises: where the MTA-STS
//! policy is fetched and how long it may take, and the moment of --at.

use anyhow::{anyhow, Result};
use std::time::Duration;

/// Where the MTA-STS policy is fetched, and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyChecks {
    /// The HTTPS port of `mta-sts.DOMAIN`: 443, or for tests only the
    /// environment's MAILPORT_MTA_STS_PORT.
    pub https_port: u16,
    /// The connection to the policy's web server.
    pub connect: Duration,
    /// The TLS handshake and the whole answer.
    pub fetch: Duration,
}

/// For tests only: the port the MTA-STS policy is fetched from instead of
/// 443 (a test's HTTPS server on loopback). Not an option: a sender always
/// uses 443.
pub const MTA_STS_PORT_ENV: &str = "MAILPORT_MTA_STS_PORT";

impl PolicyChecks {
    pub(super) fn new(connect: Duration, reply: Duration) -> Result<PolicyChecks> {
        let https_port = match std::env::var(MTA_STS_PORT_ENV) {
            Ok(v) => v.trim().parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                anyhow!(
                    "${MTA_STS_PORT_ENV} is '{}', not a port",
                    crate::escape::shown(&v)
                )
            })?,
            Err(_) => 443,
        };
        Ok(PolicyChecks {
            https_port,
            connect,
            // RFC 8461 section 3.3 asks senders for a timeout of a minute or more
            // for the whole fetch; a diagnosis waits as long as for a reply.
            fetch: reply,
        })
    }
}

/// The moment of `--at`: `+30d`, `-12h`, `+2w`, `+90m`, `+45s` from `now`
/// (UNIX seconds), a date `2027-01-01` (midnight UTC), or an RFC 3339 time.
pub fn parse_at(text: &str, now: i64) -> Result<i64> {
    let t = text.trim();
    let bad = || {
        anyhow!(
            "--at '{}': expected +30d, +12h, +2w (from now), a date (2027-01-01) or an RFC 3339 time",
            crate::escape::shown(text)
        )
    };
    if let Some(sign) = t.chars().next().filter(|c| *c == '+' || *c == '-') {
        let body = &t[1..];
        let split = body.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = body.split_at(split);
        let n: i64 = n.parse().map_err(|_| bad())?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(bad()),
        };
        let offset = n
            .checked_mul(scale)
            .filter(|o| *o <= 100 * 366 * 86_400)
            .ok_or_else(bad)?;
        return Ok(if sign == '+' {
            now + offset
        } else {
            now - offset
        });
    }
    use time::format_description::well_known::Rfc3339;
    if let Ok(dt) = time::OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(dt.unix_timestamp());
    }
    let date = time::Date::parse(t, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| bad())?;
    Ok(date.midnight().assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::parse_at;

    #[test]
    fn moments_of_at() {
        let now = 1_780_000_000;
        assert_eq!(parse_at("+30d", now).unwrap(), now + 30 * 86_400);
        assert_eq!(parse_at("-12h", now).unwrap(), now - 12 * 3_600);
        assert_eq!(parse_at("+2w", now).unwrap(), now + 14 * 86_400);
        assert_eq!(parse_at("2027-01-01", now).unwrap(), 1_798_761_600);
        assert_eq!(
            parse_at("2027-01-01T12:00:00Z", now).unwrap(),
            1_798_761_600 + 43_200
        );
        for bad in [
            "30d",
            "+30",
            "+30y",
            "+d",
            "2027-13-01",
            "tomorrow",
            "+99999999999d",
        ] {
            assert!(parse_at(bad, now).is_err(), "{bad}");
        }
    }
}
