//! Firewall rules from `nft list ruleset`: the rules of each chain that name
//! a mail port or a socket's owner (`meta skuid`, `meta skgid`), and jumps.
//! Tokens mailport does not know make a rule conditional, never a match.

use super::rules::{ids, ports, relevant, split};
use crate::report::{Action, Family, FwRule, Hook, IdMatch, PortMatch};

/// The rules of `nft list ruleset` with each table's family. Tables named
/// `filter` of the `ip` and `ip6` families are skipped when `skip_xt` is set:
/// those are iptables-nft's own tables, already read through iptables-save.
pub fn parse(text: &str, mail_ports: &[u16], skip_xt: bool) -> Vec<(Family, FwRule)> {
    let mut out = Vec::new();
    let mut table: Option<(Family, String)> = None;
    let mut chain: Option<(String, Option<Hook>, usize)> = None;
    // Nesting below the current chain or table (sets, maps, multi-line elements).
    let mut skip_depth = 0usize;
    for raw in text.lines() {
        let line = raw.trim();
        let opens = line.matches('{').count();
        let closes = line.matches('}').count();
        if skip_depth > 0 {
            skip_depth = (skip_depth + opens).saturating_sub(closes);
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["table", family, name, "{"] => {
                let fam = match *family {
                    "ip" => Family::Ipv4,
                    "ip6" => Family::Ipv6,
                    "inet" => Family::Any,
                    // arp, bridge, netdev: no sockets of this machine's own.
                    _ => {
                        skip_depth = 1;
                        continue;
                    }
                };
                if skip_xt && *name == "filter" && matches!(*family, "ip" | "ip6") {
                    skip_depth = 1;
                    continue;
                }
                table = Some((fam, format!("{family} {name}")));
                continue;
            }
            ["chain", name, "{"] if table.is_some() => {
                chain = Some((name.to_string(), None, 0));
                continue;
            }
            ["}"] => {
                if chain.take().is_none() {
                    table = None;
                }
                continue;
            }
            _ => {}
        }
        let (Some((family, tname)), Some((cname, hook, count))) = (&table, &mut chain) else {
            // Sets and maps of a table: skip their body.
            if opens > closes {
                skip_depth = opens - closes;
            }
            continue;
        };
        if words.first() == Some(&"type") {
            *hook = words
                .iter()
                .position(|w| *w == "hook")
                .and_then(|i| words.get(i + 1))
                .and_then(|h| match h.trim_end_matches(';') {
                    "input" => Some(Hook::Input),
                    "output" => Some(Hook::Output),
                    "forward" => Some(Hook::Forward),
                    _ => None,
                });
            continue;
        }
        if line.is_empty() || line.starts_with('#') || words.first() == Some(&"policy") {
            continue;
        }
        *count += 1;
        let rule = parse_rule(tname, cname, *hook, *count, line);
        if relevant(&rule, mail_ports) {
            out.push((*family, rule));
        }
    }
    out
}

fn parse_rule(table: &str, chain: &str, hook: Option<Hook>, position: usize, text: &str) -> FwRule {
    let mut rule = FwRule::new(table, chain, hook, position, text);
    let words = group_sets(text);
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let next = |k: usize| words.get(i + k).map(String::as_str).unwrap_or("");
        // `KEY [!=] VALUE`: the value and whether it is negated.
        let operand = |k: usize| -> (bool, &str, usize) {
            match next(k) {
                "!=" => (true, next(k + 1), k + 2),
                "==" => (false, next(k + 1), k + 2),
                v => (false, v, k + 1),
            }
        };
        match w {
            "tcp" | "th" if next(1) == "dport" => {
                let (negated, value, used) = operand(2);
                match ports(value.trim_matches(|c| c == '{' || c == '}')) {
                    Some(ranges) => rule.dport = Some(PortMatch { negated, ranges }),
                    None => rule.other_conditions = true,
                }
                rule.tcp = w == "tcp" || rule.tcp;
                i += used;
            }
            "meta" if matches!(next(1), "skuid" | "skgid" | "l4proto" | "oifname" | "oif") => {
                i += 1;
            }
            "skuid" | "skgid" => {
                let (negated, value, used) = operand(1);
                match ids(value) {
                    Some((first, last)) => {
                        let m = Some(IdMatch {
                            negated,
                            first,
                            last,
                        });
                        if w == "skuid" {
                            rule.uid = m;
                        } else {
                            rule.gid = m;
                        }
                    }
                    None => rule.other_conditions = true,
                }
                i += used;
            }
            "l4proto" | "protocol" => {
                let (negated, value, used) = operand(1);
                if !negated && matches!(value, "tcp" | "6") {
                    rule.tcp = true;
                } else {
                    rule.other_conditions = true;
                }
                i += used;
            }
            "ip" | "ip6" if next(1) == "protocol" || next(1) == "nexthdr" => i += 1,
            "nexthdr" => {
                let (_, value, used) = operand(1);
                rule.tcp = value == "tcp";
                i += used;
            }
            "oifname" | "oif" => {
                let (negated, value, used) = operand(1);
                if value.trim_matches('"') == "lo" {
                    rule.out_lo = Some(!negated);
                } else {
                    rule.other_conditions = true;
                }
                i += used;
            }
            "counter" => {
                i += if next(1) == "packets" { 5 } else { 1 };
            }
            "comment" => i += 2,
            "log" => {
                // log [prefix "…"] [level L] [flags F] [group N]: not a condition.
                let mut k = 1;
                while matches!(next(k), "prefix" | "level" | "flags" | "group" | "snaplen") {
                    k += 2;
                }
                i += k;
            }
            "accept" => {
                rule.action = Action::Accept;
                break;
            }
            "drop" => {
                rule.action = Action::Drop;
                break;
            }
            "reject" => {
                rule.action = Action::Reject;
                break;
            }
            "return" => {
                rule.action = Action::Return;
                break;
            }
            "jump" | "goto" => {
                rule.action = Action::Jump;
                rule.target = Some(crate::escape::escape_str(next(1)));
                break;
            }
            _ => {
                rule.other_conditions = true;
                i += 1;
            }
        }
    }
    rule
}

/// Words (a quoted string is one word, without its quotes), with
/// `{ 25, 465, 587 }` as one word `25,465,587`.
fn group_sets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut set: Option<String> = None;
    for w in split(text) {
        match (&mut set, w.as_str()) {
            (None, "{") => set = Some(String::new()),
            (Some(s), "}") => {
                out.push(s.clone());
                set = None;
            }
            (Some(s), w) => s.push_str(w),
            (None, _) => out.push(w),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &[u16] = &[25, 465, 587, 143, 993, 110, 995];

    const RULESET: &str = r#"table inet filter {
	set blocked {
		type ipv4_addr
		elements = { 192.0.2.1,
			     192.0.2.2 }
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "lo" accept
		ct state established,related accept
		tcp dport { 25, 465, 587 } meta skuid != 0 counter packets 3 bytes 180 drop
		meta skgid 8 tcp dport 25 accept
		tcp dport 443 accept
		jump smtp_out
	}
	chain smtp_out {
		tcp dport 587 skuid 33 log prefix "no 587 " reject with tcp reset
	}
}
table ip filter {
	chain OUTPUT {
		type filter hook output priority filter; policy accept;
		tcp dport 25 counter packets 0 bytes 0 drop
	}
}
table arp junk {
	chain x {
		drop
	}
}
"#;

    #[test]
    fn owner_and_port_rules_are_read_from_nft() {
        let rules = parse(RULESET, MAIL, true);
        let got: Vec<(&str, usize, &Action)> = rules
            .iter()
            .map(|(_, r)| (r.chain.as_str(), r.position, &r.action))
            .collect();
        assert_eq!(
            got,
            [
                ("output", 1, &Action::Accept),
                ("output", 3, &Action::Drop),
                ("output", 4, &Action::Accept),
                ("output", 6, &Action::Jump),
                ("smtp_out", 1, &Action::Reject),
            ]
        );
        let drop = &rules[1].1;
        assert_eq!(rules[1].0, Family::Any);
        assert_eq!(drop.hook, Some(Hook::Output));
        assert!(drop.uid.unwrap().negated && drop.dport.as_ref().unwrap().matches(465));
        assert!(!drop.other_conditions, "{drop:?}");
        assert_eq!(rules[0].1.out_lo, Some(true));
        assert_eq!(rules[2].1.gid.unwrap().first, 8);
        assert_eq!(rules[4].1.uid.unwrap().first, 33);
        assert!(!rules[4].1.other_conditions, "{:?}", rules[4].1);
        // iptables-nft's own table is read through iptables-save instead.
        assert_eq!(parse(RULESET, MAIL, false).len(), 6);
    }

    #[test]
    fn junk_never_panics() {
        for text in [
            "}",
            "table inet x {\nchain y {\ntcp dport",
            "chain {",
            "{ { {",
        ] {
            let _ = parse(text, MAIL, false);
        }
    }
}
