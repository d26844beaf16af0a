//! MTA-STS (RFC 8461), pure: the `_mta-sts` TXT record, the policy file,
//! and an MX host against the policy's patterns.

use crate::report::{is_version, StsMode, StsPolicy};

/// The largest `max_age` RFC 8461 allows: 31557600 seconds, about a year.
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// The `_mta-sts` TXT records: the `id` of the one `v=STSv1` record, or
/// what is wrong (no id when anything is: senders then assume no policy).
pub fn parse_txt(records: &[String]) -> (Option<String>, Vec<String>) {
    let sts: Vec<&String> = records.iter().filter(|r| is_version(r, "STSv1")).collect();
    let mut errors = Vec::new();
    match sts.len() {
        0 => return (None, errors),
        1 => {}
        n => {
            errors.push(format!(
                "{n} TXT records start with v=STSv1; RFC 8461 needs exactly one, and senders ignore MTA-STS otherwise"
            ));
            return (None, errors);
        }
    }
    let record = sts[0];
    let mut id = None;
    for (i, field) in record.split(';').map(str::trim).enumerate() {
        if i == 0 {
            if field != "v=STSv1" {
                errors.push(format!(
                    "the record must start with v=STSv1; it starts with \"{field}\""
                ));
            }
            continue;
        }
        if field.is_empty() {
            // A trailing ";" is allowed; an empty field in between is not.
            if i + 1 < record.split(';').count() {
                errors.push("an empty field between two \";\"".into());
            }
            continue;
        }
        let Some((key, value)) = field.split_once('=') else {
            errors.push(format!("the field \"{field}\" is not name=value"));
            continue;
        };
        if key == "id" {
            if id.is_some() {
                errors.push("id= appears twice".into());
            } else if value.is_empty()
                || value.len() > 32
                || !value.chars().all(|c| c.is_ascii_alphanumeric())
            {
                errors.push(format!(
                    "id=\"{value}\" is not 1 to 32 letters and digits (e.g. id=20261201T000000)"
                ));
            } else {
                id = Some(value.to_string());
            }
        } else if !ext_name(key) || !ext_value(value) {
            errors.push(format!("the field \"{field}\" is malformed"));
        }
    }
    if id.is_none() && errors.is_empty() {
        errors.push("the record has no id= field (e.g. v=STSv1; id=20261201T000000)".into());
    }
    if errors.is_empty() {
        (id, errors)
    } else {
        (None, errors)
    }
}

/// `sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`.
fn ext_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)`: no space, `;` or `=`.
fn ext_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b'=')
}

/// Parse a policy file strictly (RFC 8461 section 3.2): lines end with LF or
/// CRLF; `version: STSv1`, `mode`, `max_age` once each, `mx` once or more
/// (for `enforce` and `testing`); unknown fields are allowed.
pub fn parse_policy(body: &str) -> StsPolicy {
    let mut p = StsPolicy {
        mode: None,
        mx: Vec::new(),
        max_age: None,
        errors: Vec::new(),
    };
    let mut version = false;
    let mut seen_mode = false;
    let text = body.strip_suffix('\n').unwrap_or(body);
    let text = text.strip_suffix('\r').unwrap_or(text);
    for (n, raw) in text.split('\n').enumerate() {
        let n = n + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.contains('\r') {
            p.errors
                .push(format!("line {n}: a CR that does not end the line"));
            continue;
        }
        if line.trim().is_empty() {
            p.errors.push(format!("line {n} is empty"));
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            p.errors.push(format!(
                "line {n} (\"{}\") is not key: value",
                crate::escape::shown(line)
            ));
            continue;
        };
        let value = value.trim_matches([' ', '\t']);
        match key {
            "version" => {
                if version {
                    p.errors.push(format!("line {n}: version appears twice"));
                } else if value != "STSv1" {
                    p.errors
                        .push(format!("line {n}: version is \"{value}\", not STSv1"));
                }
                version = true;
            }
            "mode" => {
                if seen_mode {
                    p.errors.push(format!("line {n}: mode appears twice"));
                    continue;
                }
                seen_mode = true;
                p.mode = match value {
                    "enforce" => Some(StsMode::Enforce),
                    "testing" => Some(StsMode::Testing),
                    "none" => Some(StsMode::None),
                    other => {
                        p.errors.push(format!(
                            "line {n}: mode is \"{other}\", not enforce, testing or none"
                        ));
                        None
                    }
                };
            }
            "max_age" => {
                if p.max_age.is_some() {
                    p.errors.push(format!("line {n}: max_age appears twice"));
                    continue;
                }
                match value.parse::<u64>() {
                    Ok(v)
                        if value.len() <= 10
                            && value.bytes().all(|b| b.is_ascii_digit())
                            && v <= MAX_AGE_LIMIT =>
                    {
                        p.max_age = Some(v)
                    }
                    _ => p.errors.push(format!(
                        "line {n}: max_age is \"{value}\", not a number of seconds from 0 to {MAX_AGE_LIMIT}"
                    )),
                }
            }
            "mx" => {
                if mx_pattern_ok(value) {
                    p.mx.push(value.to_string());
                } else {
                    p.errors.push(format!(
                        "line {n}: mx \"{value}\" is not a host name or *.domain pattern"
                    ));
                }
            }
            other => {
                if !ext_name(other) {
                    p.errors
                        .push(format!("line {n}: \"{other}\" is not a field name"));
                }
            }
        }
    }
    if !version {
        p.errors.push("no version: STSv1 line".into());
    }
    if !seen_mode {
        p.errors.push("no mode: line".into());
    }
    if p.max_age.is_none() && !p.errors.iter().any(|e| e.contains("max_age")) {
        p.errors.push("no max_age: line".into());
    }
    if p.mx.is_empty() && matches!(p.mode, Some(StsMode::Enforce | StsMode::Testing)) {
        p.errors
            .push("no mx: line; enforce and testing need at least one".into());
    }
    p
}

/// `["*."] Domain`: letters, digits and hyphens in labels of at most 63, not
/// starting or ending with a hyphen, at least two labels after a wildcard.
fn mx_pattern_ok(value: &str) -> bool {
    let (wild, domain) = match value.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let labels: Vec<&str> = domain.split('.').collect();
    !domain.is_empty()
        && domain.len() <= 253
        && (!wild || labels.len() >= 2)
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether `pattern` covers the MX host `host` (RFC 8461 section 4.1): the
/// same name, case-insensitive; or `*.domain`, which covers exactly one
/// label more than `domain` (not `domain` itself, not two labels more).
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let (pattern, host) = (norm(pattern), norm(host));
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == parent),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_records() {
        let one = |r: &str| parse_txt(&[r.to_string()]);
        assert_eq!(
            one("v=STSv1; id=20261201T000000;").0.as_deref(),
            Some("20261201T000000")
        );
        assert_eq!(one("v=STSv1;id=abc").0.as_deref(), Some("abc"));
        assert_eq!(one("v=STSv1; id=abc; ext=1").0.as_deref(), Some("abc"));
        assert_eq!(one("v=spf1 -all"), (None, vec![]));
        for bad in [
            "v=STSv1",
            "v=STSv1; id=",
            "v=STSv1; id=has-dash",
            "v=STSv1; id=123456789012345678901234567890123",
            "v=STSv1; id=a; id=b",
            "v=STSv1; ;id=a",
            "v=STSv1; id=a; bad field",
        ] {
            let (id, errors) = one(bad);
            assert!(id.is_none() && !errors.is_empty(), "{bad}: {errors:?}");
        }
        let two = parse_txt(&["v=STSv1; id=a".into(), "v=STSv1; id=b".into()]);
        assert!(
            two.0.is_none() && two.1[0].contains("2 TXT records"),
            "{two:?}"
        );
        // Other records beside the one STSv1 record are ignored.
        let mixed = parse_txt(&["hello".into(), "v=STSv1; id=a".into()]);
        assert_eq!(mixed.0.as_deref(), Some("a"));
    }

    #[test]
    fn policies() {
        let good = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.example.net\r\nmax_age: 604800\r\n",
        );
        assert!(good.errors.is_empty(), "{:?}", good.errors);
        assert_eq!(good.mode, Some(StsMode::Enforce));
        assert_eq!(good.mx, ["mail.example.test", "*.example.net"]);
        assert_eq!(good.max_age, Some(604_800));
        // LF only, no final newline, an unknown field, spaces after the colon.
        let lf = parse_policy("version: STSv1\nmode:testing\nmx: a.test\nmax_age:\t0\nfoo: bar");
        assert!(lf.errors.is_empty(), "{:?}", lf.errors);
        assert_eq!(lf.mode, Some(StsMode::Testing));
        let none = parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n");
        assert!(none.errors.is_empty(), "{:?}", none.errors);
        for (bad, why) in [
            (
                "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
                "not STSv1",
            ),
            (
                "version: STSv1\nmode: on\nmx: a.test\nmax_age: 1\n",
                "not enforce",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n",
                "max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
                "max_age",
            ),
            ("version: STSv1\nmode: enforce\nmx: a.test\n", "no max_age"),
            ("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx"),
            ("mode: enforce\nmx: a.test\nmax_age: 1\n", "no version"),
            (
                "version: STSv1\nmode: enforce\nmx: *.test\nmax_age: 1\n",
                "mx",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a_b.test\nmax_age: 1\n",
                "mx",
            ),
            (
                "version: STSv1\nmode: enforce\nmode: none\nmx: a.test\nmax_age: 1\n",
                "twice",
            ),
            (
                "version: STSv1\n\nmode: enforce\nmx: a.test\nmax_age: 1\n",
                "empty",
            ),
            ("<html>\nmode: enforce\n", "not key: value"),
        ] {
            let p = parse_policy(bad);
            assert!(
                p.errors.iter().any(|e| e.contains(why)),
                "{bad:?}: {:?}",
                p.errors
            );
        }
    }

    #[test]
    fn mx_patterns() {
        assert!(mx_matches("mail.example.test", "MAIL.example.test."));
        assert!(mx_matches("*.example.test", "mx1.example.test"));
        assert!(!mx_matches("*.example.test", "example.test"));
        assert!(!mx_matches("*.example.test", "a.b.example.test"));
        assert!(!mx_matches("mail.example.test", "mail2.example.test"));
        assert!(!mx_matches("*.example.test", "mx1.example.testx"));
    }
}
