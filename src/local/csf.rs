//! ConfigServer Firewall's csf.conf: `NAME = "value"` lines. Only the
//! settings about mail are kept, each with its line, so that a finding can
//! quote the exact line to change.

use crate::report::{Csf, CsfSetting};
use std::path::Path;

/// The settings mailport reads.
pub const SETTINGS: &[&str] = &[
    "TESTING",
    "TCP_IN",
    "TCP_OUT",
    "IPV6",
    "TCP6_IN",
    "TCP6_OUT",
    "DROP_OUT",
    "SMTP_BLOCK",
    "SMTP_ALLOWLOCAL",
    "SMTP_REDIRECT",
    "SMTP_PORTS",
    "SMTP_ALLOWUSER",
    "SMTP_ALLOWGROUP",
];

/// csf.conf is about 100 KiB; anything much larger is not one.
const MAX_BYTES: u64 = 4 << 20;

pub fn read(path: &Path) -> Csf {
    let (read, text) = super::read_file(path, MAX_BYTES);
    Csf {
        path: read.source,
        status: read.status,
        detail: read.detail,
        settings: text.as_deref().map(parse).unwrap_or_default(),
    }
}

/// The settings of [`SETTINGS`] in file order; other lines are ignored.
pub fn parse(text: &str) -> Vec<CsfSetting> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        let Some((name, value)) = trimmed.split_once('=') else {
            continue;
        };
        let name = name.trim();
        if !SETTINGS.contains(&name) {
            continue;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.split_once('"').map(|(v, _)| v))
            .unwrap_or_else(|| value.split('#').next().unwrap_or("").trim());
        out.push(CsfSetting {
            name: name.to_string(),
            value: crate::escape::escape(value.as_bytes()),
            line: i + 1,
            text: crate::escape::escape(trimmed.as_bytes()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ReadStatus;

    #[test]
    fn settings_keep_their_lines_and_lose_their_quotes() {
        let text = "# SMTP_BLOCK = \"1\" in a comment\nSMTP_BLOCK = \"1\"\nLF_DAEMON = \"1\"\n\
                    SMTP_ALLOWLOCAL=\"0\" # trailing\nSMTP_PORTS = 25,465\nSMTP_ALLOWUSER = \"cpanel, bob\"\n";
        let s = parse(text);
        let names: Vec<_> = s
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str(), s.line))
            .collect();
        assert_eq!(
            names,
            [
                ("SMTP_BLOCK", "1", 2),
                ("SMTP_ALLOWLOCAL", "0", 4),
                ("SMTP_PORTS", "25,465", 5),
                ("SMTP_ALLOWUSER", "cpanel, bob", 6)
            ]
        );
        assert_eq!(s[0].text, "SMTP_BLOCK = \"1\"");
        let csf = Csf {
            path: "x".into(),
            status: ReadStatus::Read,
            detail: None,
            settings: s,
        };
        assert!(csf.on("SMTP_BLOCK") && !csf.on("SMTP_ALLOWLOCAL"));
        assert_eq!(csf.list("SMTP_ALLOWUSER"), ["cpanel", "bob"]);
        assert_eq!(csf.ports_contain("SMTP_PORTS", 465), Some(true));
        assert_eq!(csf.ports_contain("SMTP_PORTS", 587), Some(false));
        assert_eq!(csf.ports_contain("TCP_OUT", 587), None);
    }

    #[test]
    fn port_ranges_count() {
        let csf = Csf {
            path: "x".into(),
            status: ReadStatus::Read,
            detail: None,
            settings: parse("TCP_OUT = \"20,21,500:600\"\n"),
        };
        assert_eq!(csf.ports_contain("TCP_OUT", 587), Some(true));
        assert_eq!(csf.ports_contain("TCP_OUT", 25), Some(false));
    }
}
