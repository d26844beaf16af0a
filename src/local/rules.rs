//! Firewall rules in `iptables-save` format (iptables and ip6tables): the
//! filter table's rules that name a mail port or a socket's owner, and the
//! jumps between chains. Pure parsing; `super::run` gets the text.

use crate::report::{Action, FwRule, Hook, IdMatch, PortMatch};

/// The hook of a built-in chain of the filter table.
pub fn hook_of(chain: &str) -> Option<Hook> {
    match chain.to_ascii_lowercase().as_str() {
        "input" => Some(Hook::Input),
        "output" => Some(Hook::Output),
        "forward" => Some(Hook::Forward),
        _ => None,
    }
}

/// Keep a rule when it can decide about a mail connection: it names a mail
/// port or an owner, jumps to another chain, or accepts loopback traffic.
pub fn relevant(r: &FwRule, mail_ports: &[u16]) -> bool {
    if let Some(d) = &r.dport {
        return mail_ports.iter().any(|&p| d.matches(p));
    }
    r.uid.is_some()
        || r.gid.is_some()
        || r.action == Action::Jump
        || (r.action == Action::Accept && r.out_lo.is_some() && !r.other_conditions)
}

/// The filter table's rules of an `iptables-save` listing that matter to mail.
pub fn parse_iptables(text: &str, mail_ports: &[u16]) -> Vec<FwRule> {
    let mut table = String::new();
    let mut positions: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(t) = line.strip_prefix('*') {
            table = t.trim().to_string();
            positions.clear();
            continue;
        }
        if table != "filter" {
            continue;
        }
        let mut tokens = split(line);
        // `iptables-save -c` puts the counters first: [packets:bytes].
        if tokens.first().is_some_and(|t| t.starts_with('[')) {
            tokens.remove(0);
        }
        if tokens.len() < 2 || tokens[0] != "-A" {
            continue;
        }
        let chain = tokens[1].clone();
        let position = match positions.iter_mut().find(|(c, _)| *c == chain) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                positions.push((chain.clone(), 1));
                1
            }
        };
        if let Some(rule) = parse_rule(&table, &chain, position, line, &tokens[2..]) {
            if relevant(&rule, mail_ports) {
                out.push(rule);
            }
        }
    }
    out
}

/// One rule's matches and target; `None` for a rule that cannot match TCP.
fn parse_rule(
    table: &str,
    chain: &str,
    position: usize,
    text: &str,
    tokens: &[String],
) -> Option<FwRule> {
    let mut rule = FwRule::new(table, chain, hook_of(chain), position, text);
    let mut negate = false;
    let mut i = 0;
    let value = |i: usize| tokens.get(i + 1).map(String::as_str).unwrap_or("");
    while i < tokens.len() {
        let t = tokens[i].as_str();
        let neg = std::mem::take(&mut negate);
        match t {
            "!" => {
                negate = true;
                i += 1;
                continue;
            }
            "-p" | "--protocol" => {
                let p = value(i);
                match (neg, p) {
                    (false, "tcp" | "6") => rule.tcp = true,
                    (false, _) => return None,
                    (true, _) => rule.other_conditions = true,
                }
                i += 2;
            }
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                match ports(value(i)) {
                    Some(ranges) => {
                        rule.dport = Some(PortMatch {
                            negated: neg,
                            ranges,
                        })
                    }
                    None => rule.other_conditions = true,
                }
                rule.tcp = true;
                i += 2;
            }
            "--uid-owner" | "--gid-owner" => {
                match ids(value(i)) {
                    Some((first, last)) => {
                        let m = Some(IdMatch {
                            negated: neg,
                            first,
                            last,
                        });
                        if t == "--uid-owner" {
                            rule.uid = m;
                        } else {
                            rule.gid = m;
                        }
                    }
                    // A name: iptables-save prints numbers; mailport does not guess.
                    None => rule.other_conditions = true,
                }
                i += 2;
            }
            "--suppl-groups" => {
                rule.suppl_groups = true;
                i += 1;
            }
            "-o" | "--out-interface" => {
                if value(i) == "lo" {
                    rule.out_lo = Some(!neg);
                } else {
                    rule.other_conditions = true;
                }
                i += 2;
            }
            "-m" | "--match" | "--comment" => i += 2,
            "-j" | "--jump" | "-g" | "--goto" => {
                let target = value(i);
                rule.action = match target {
                    "ACCEPT" => Action::Accept,
                    "DROP" => Action::Drop,
                    "REJECT" => Action::Reject,
                    "RETURN" => Action::Return,
                    // Targets in capitals are extensions (LOG, MARK…); chains are named by users.
                    t if is_extension(t) => Action::Other,
                    _ => Action::Jump,
                };
                if rule.action == Action::Jump {
                    rule.target = Some(crate::escape::escape_str(target));
                }
                // What follows are the target's own options (--reject-with…).
                break;
            }
            _ => {
                rule.other_conditions = true;
                // A condition's value, if it has one.
                i += if tokens
                    .get(i + 1)
                    .is_some_and(|v| !v.starts_with('-') && v != "!")
                {
                    2
                } else {
                    1
                };
            }
        }
    }
    Some(rule)
}

/// Built-in and extension targets that are not chains.
fn is_extension(t: &str) -> bool {
    matches!(
        t,
        "LOG"
            | "NFLOG"
            | "ULOG"
            | "MARK"
            | "CONNMARK"
            | "CT"
            | "NOTRACK"
            | "TCPMSS"
            | "AUDIT"
            | "SET"
            | "TRACE"
            | "CHECKSUM"
            | "DSCP"
            | "TOS"
            | "TTL"
            | "CLASSIFY"
            | "QUEUE"
            | "NFQUEUE"
            | "SNAT"
            | "DNAT"
            | "MASQUERADE"
            | "REDIRECT"
    )
}

/// `25`, `25:587`, `25,465,587`, `smtp` (names as the services table has them).
pub fn ports(text: &str) -> Option<Vec<(u16, u16)>> {
    let port = |p: &str| -> Option<u16> {
        p.trim()
            .parse()
            .ok()
            .or_else(|| crate::service::by_name(p.trim()).map(|s| s.port))
    };
    text.split(',')
        .map(|item| match item.split_once([':', '-']) {
            Some((a, b)) => Some((port(a)?, port(b)?)),
            None => port(item).map(|p| (p, p)),
        })
        .collect()
}

/// `0`, `1000-2000`.
pub fn ids(text: &str) -> Option<(u32, u32)> {
    match text.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => text.trim().parse().ok().map(|n| (n, n)),
    }
}

/// Split a rule into words; double quotes group (comments).
pub fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &[u16] = &[25, 465, 587, 143, 993, 110, 995];

    /// What csf -r builds with SMTP_BLOCK = "1" (SMTP_ALLOWLOCAL = "1",
    /// SMTP_ALLOWGROUP = "mail"), as iptables-save prints it, with the
    /// seed's plain rule and some rules that do not matter to mail.
    const SAVED: &str = "# Generated by iptables-nft-save v1.8.9 (nf_tables) on Mon
*nat
:OUTPUT ACCEPT [0:0]
-A OUTPUT -p tcp -m multiport --dports 25,465,587 -j REDIRECT
COMMIT
*filter
:INPUT DROP [0:0]
:OUTPUT DROP [0:0]
:SMTPOUTPUT - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A OUTPUT -j SMTPOUTPUT
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A OUTPUT -p udp -m udp --dport 25 -j DROP
-A OUTPUT -p tcp -m tcp --dport 25 -m owner ! --uid-owner 0 -j DROP
-A OUTPUT -o eth0 -p tcp -m tcp --dport 587 -j ACCEPT
-A OUTPUT -o eth0 -j LOGDROPOUT
-A SMTPOUTPUT -o lo -p tcp -m multiport --dports 25,465,587 -j ACCEPT
-A SMTPOUTPUT -p tcp -m multiport --dports 25,465,587 -m owner --gid-owner 12 -j ACCEPT
-A SMTPOUTPUT -p tcp -m multiport --dports 25,465,587 -m owner --uid-owner 0 -j ACCEPT
-A SMTPOUTPUT -p tcp -m multiport --dports 25,465,587 -m comment --comment \"csf SMTP_BLOCK\" -j REJECT --reject-with icmp-port-unreachable
COMMIT
";

    #[test]
    fn csf_smtp_block_and_owner_rules_are_read() {
        let rules = parse_iptables(SAVED, MAIL);
        let summary: Vec<(&str, usize, &Action)> = rules
            .iter()
            .map(|r| (r.chain.as_str(), r.position, &r.action))
            .collect();
        assert_eq!(
            summary,
            [
                ("OUTPUT", 1, &Action::Jump),
                ("OUTPUT", 2, &Action::Accept),
                ("OUTPUT", 5, &Action::Drop),
                ("OUTPUT", 6, &Action::Accept),
                ("OUTPUT", 7, &Action::Jump),
                ("SMTPOUTPUT", 1, &Action::Accept),
                ("SMTPOUTPUT", 2, &Action::Accept),
                ("SMTPOUTPUT", 3, &Action::Accept),
                ("SMTPOUTPUT", 4, &Action::Reject),
            ]
        );
        let seed = &rules[2];
        assert_eq!(seed.hook, Some(Hook::Output));
        assert_eq!(
            seed.uid,
            Some(IdMatch {
                negated: true,
                first: 0,
                last: 0
            })
        );
        assert!(seed.dport.as_ref().unwrap().matches(25));
        assert!(!seed.other_conditions);
        assert!(rules[3].other_conditions, "-o eth0 is not evaluated");
        assert_eq!(rules[4].target.as_deref(), Some("LOGDROPOUT"));
        assert_eq!(rules[5].out_lo, Some(true));
        assert_eq!(rules[6].gid.unwrap().first, 12);
        assert_eq!(rules[8].hook, None);
        assert!(rules[8].text.contains("csf SMTP_BLOCK"));
        assert!(!rules[8].other_conditions);
    }

    #[test]
    fn words_and_ports() {
        assert_eq!(split("a \"b c\"  d"), ["a", "b c", "d"]);
        assert_eq!(ports("25,465:587"), Some(vec![(25, 25), (465, 587)]));
        assert_eq!(ports("smtp"), Some(vec![(25, 25)]));
        assert_eq!(ports("x"), None);
        assert_eq!(ids("1000-2000"), Some((1000, 2000)));
        assert_eq!(ids("www-data"), None);
    }

    #[test]
    fn junk_never_panics() {
        for text in [
            "*filter\n-A",
            "*filter\n-A OUTPUT ! ! -j",
            "*filter\n-A X --dport",
            "-A",
        ] {
            let _ = parse_iptables(text, MAIL);
        }
    }
}
