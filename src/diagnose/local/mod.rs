//! Pure rules over this machine's facts (`LocalFacts`): who may send SMTP
//! under ConfigServer Firewall's SMTP_BLOCK, which firewall rule decides a
//! mail connection, listeners on loopback only; and, for `check`, a failed
//! SMTP probe explained by this machine's own firewall.

mod check;
mod rules;

pub use check::explain_failures;
pub use rules::blocking_rule;
use rules::*;

use crate::codes::Code;
use crate::report::{Action, Finding, FwRule, Hook, LocalFacts, ReadStatus, RuleSource};
use std::net::IpAddr;

/// The SMTP ports CSF blocks by default (SMTP_PORTS).
const CSF_DEFAULT_SMTP_PORTS: &[u16] = &[25, 465, 587];
/// The other mail ports `local` looks at.
const MAIL_PORTS: &[u16] = &[25, 587, 465, 143, 993, 110, 995];
/// An ordinary user, to ask whether a rule spares only some users.
const SOME_USER: (u32, u32) = (65534, 65534);

fn port_name(port: u16) -> String {
    match crate::service::by_port(port) {
        Some(s) => format!("{port} ({})", s.name),
        None => port.to_string(),
    }
}

fn local_finding(facts: &LocalFacts, code: Code, port: Option<u16>, message: String) -> Finding {
    let service = port
        .and_then(crate::service::by_port)
        .map(|s| s.name.to_string());
    Finding::new(
        code,
        facts.host.to_string(),
        crate::escape::escape_str(&message),
    )
    .on(service, port)
}

// ---- ConfigServer Firewall ------------------------------------------------

/// The findings of `mailport local`.
pub fn findings(facts: &LocalFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    listener_findings(facts, &mut out);
    csf_findings(facts, &mut out);
    rule_findings(facts, &mut out);
    out
}

fn listener_findings(facts: &LocalFacts, out: &mut Vec<Finding>) {
    let Some(l) = &facts.listeners else { return };
    if l.sources.iter().all(|s| s.status != ReadStatus::Read) {
        return;
    }
    let on = |port: u16| -> Vec<IpAddr> {
        l.sockets
            .iter()
            .filter(|s| s.port == port)
            .map(|s| s.address)
            .collect()
    };
    if MAIL_PORTS.iter().all(|&p| on(p).is_empty()) {
        out.push(local_finding(
            facts,
            Code::LocalNotListening,
            None,
            "nothing listens on any mail port here (25, 587, 465, 143, 993, 110, 995): right for a machine \
             that only sends mail (webmail, scripts handing mail to a relay); on a mail server its mail \
             services are stopped"
                .into(),
        ));
        return;
    }
    for &port in MAIL_PORTS {
        let addrs = on(port);
        if addrs.is_empty() {
            out.push(local_finding(
                facts,
                Code::LocalNotListening,
                Some(port),
                format!(
                    "nothing listens on port {} here: the service is not offered on this machine, or it is stopped",
                    port_name(port)
                ),
            ));
        } else if addrs.iter().all(IpAddr::is_loopback) {
            let list: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
            out.push(local_finding(
                facts,
                Code::LocalLoopbackOnly,
                Some(port),
                format!(
                    "port {} listens on {} only: programs on this machine can connect, other machines are refused",
                    port_name(port),
                    list.join(", ")
                ),
            ));
        }
    }
}

fn csf_findings(facts: &LocalFacts, out: &mut Vec<Finding>) {
    let csf = &facts.csf;
    if csf.status != ReadStatus::Read {
        return;
    }
    let me = &facts.process;
    let live = facts
        .firewall
        .iter()
        .any(|s| s.read.status == ReadStatus::Read);
    if let Some(b) = smtp_block(facts) {
        let ports: Vec<String> = b.ports.iter().map(u16::to_string).collect();
        let ports = ports.join(",");
        // With the live rules read, they say whether csf applied it.
        let applied = !live
            || facts.firewall.iter().any(|s| {
                s.rules
                    .iter()
                    .any(|r| r.chain == "SMTPOUTPUT" || r.uid.is_some())
            });
        let not_applied = if applied {
            String::new()
        } else {
            "; but the live firewall rules show no such block: csf is stopped, or was not restarted (csf -r) since".into()
        };
        match b.passes(facts, me.uid, me.gid) {
            Some(why) => out.push(local_finding(
                facts,
                Code::CsfSmtpBlock,
                None,
                format!(
                    "{}: SMTP_BLOCK = \"1\": connections to ports {ports} of other machines are allowed only for {}{}; \
                     every other user's are {}. mailport runs as {} and passes ({why}){not_applied}",
                    csf.path,
                    b.allowed(facts),
                    if b.allow_local { ", and for everyone to this machine's own mail server (SMTP_ALLOWLOCAL = \"1\")" } else { "" },
                    b.action(),
                    me.describe()
                ),
            )),
            None if applied => out.push(local_finding(
                facts,
                Code::CsfSmtpBlockedUser,
                None,
                format!(
                    "mailport runs as {}, which ConfigServer Firewall's SMTP_BLOCK does not exempt: its connections to ports {ports} \
                     of other machines are {}{}. Allowed: {}. Root would pass. {}; {}",
                    me.describe(),
                    b.action(),
                    if b.allow_local { "" } else { ", and so are those to this machine's own mail server (SMTP_ALLOWLOCAL = \"0\")" },
                    b.allowed(facts),
                    b.rule(),
                    b.lines_to_change(me.user.as_deref())
                ),
            )),
            None => {}
        }
        if !b.allow_local {
            out.push(local_finding(
                facts,
                Code::CsfSmtpAllowlocalOff,
                None,
                format!(
                    "{}: {} with {}: only {} may connect to SMTP ports {ports}, even of this machine's own mail server on 127.0.0.1; \
                     webmail (Roundcube, Horde, SquirrelMail) and scripts running as other users fail with \"Connection timed out\" / \
                     \"Can't open SMTP stream\". Change it to SMTP_ALLOWLOCAL = \"1\", then run `csf -r`",
                    csf.path,
                    b.line("SMTP_BLOCK").unwrap_or_default(),
                    b.line("SMTP_ALLOWLOCAL")
                        .unwrap_or_else(|| "SMTP_ALLOWLOCAL not set".into()),
                    b.allowed(facts)
                ),
            ));
        }
        for a in facts.accounts.iter().filter(|a| a.mta) {
            let (Some(uid), Some(gid)) = (a.id, a.gid) else {
                continue;
            };
            if b.passes(facts, uid, gid).is_none() {
                out.push(local_finding(
                    facts,
                    Code::CsfMtaBlocked,
                    None,
                    format!(
                        "the MTA's user {} (uid {uid}, gid {gid}) is not exempt from SMTP_BLOCK: this mail server cannot connect to \
                         other mail servers on ports {ports}. Allowed: {}. Add it: SMTP_ALLOWUSER = \"{}\" ({}), then `csf -r`",
                        a.name,
                        b.allowed(facts),
                        {
                            let mut u = csf.list("SMTP_ALLOWUSER");
                            u.push(a.name.clone());
                            u.join(",")
                        },
                        b.line("SMTP_ALLOWUSER").unwrap_or_else(|| "SMTP_ALLOWUSER not set".into())
                    ),
                ));
            }
        }
    }
    port_list_findings(facts, out);
}

fn port_list_findings(facts: &LocalFacts, out: &mut Vec<Finding>) {
    let csf = &facts.csf;
    let v6 = csf.on("IPV6");
    for (setting, v6_only) in [("TCP_OUT", false), ("TCP6_OUT", true)] {
        if v6_only && !v6 {
            continue;
        }
        let Some(s) = csf.get(setting) else { continue };
        for &port in CSF_DEFAULT_SMTP_PORTS {
            if csf.ports_contain(setting, port) == Some(false) {
                out.push(local_finding(
                    facts,
                    Code::CsfPortClosed,
                    Some(port),
                    format!(
                        "{} line {}: {} does not list port {}: csf drops outgoing connections to it for every user, root included \
                         (mail to other servers on 25, or through a smarthost on 587/465, cannot leave). Add {port} to {setting}, then `csf -r`",
                        csf.path, s.line, setting, port_name(port)
                    ),
                ));
            }
        }
    }
    let Some(l) = &facts.listeners else { return };
    for (setting, v6_only) in [("TCP_IN", false), ("TCP6_IN", true)] {
        if v6_only && !v6 {
            continue;
        }
        let Some(s) = csf.get(setting) else { continue };
        for &port in MAIL_PORTS {
            let public = l.sockets.iter().any(|k| {
                k.port == port
                    && !k.address.is_loopback()
                    && (k.address.is_ipv6() == v6_only || k.address.is_unspecified())
            });
            if public && csf.ports_contain(setting, port) == Some(false) {
                out.push(local_finding(
                    facts,
                    Code::CsfPortClosed,
                    Some(port),
                    format!(
                        "port {} listens here, but {} line {}: {} does not list it: other machines cannot connect. Add {port} to {setting}, then `csf -r`",
                        port_name(port), csf.path, s.line, setting
                    ),
                ));
            }
        }
    }
}

fn rule_findings(facts: &LocalFacts, out: &mut Vec<Finding>) {
    let me = &facts.process;
    let denied: Vec<String> = facts
        .firewall
        .iter()
        .filter(|s| s.read.status == ReadStatus::Denied)
        .map(|s| {
            format!(
                "{}: {}",
                s.read.source,
                s.read.detail.as_deref().unwrap_or("denied")
            )
        })
        .collect();
    if !denied.is_empty() {
        out.push(local_finding(
            facts,
            Code::FirewallUnreadable,
            None,
            format!(
                "mailport runs as {} and could not read the firewall rules ({}); nothing is assumed about them. \
                 Run it as root to include them",
                me.describe(),
                denied.join("; ")
            ),
        ));
    }
    let v4 = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 25));
    let v6 = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x25));
    for (addr, v) in [(v4, "IPv4"), (v6, "IPv6")] {
        // OUTPUT: this user's connections out, and those of another user.
        let mut mine: Vec<(&RuleSource, &FwRule, Vec<u16>)> = Vec::new();
        let mut others: Vec<(&RuleSource, &FwRule, Vec<u16>)> = Vec::new();
        for &port in CSF_DEFAULT_SMTP_PORTS {
            for lo in [false, true] {
                let c = Conn {
                    port,
                    uid: me.uid,
                    gid: me.gid,
                    lo,
                };
                let (ouid, ogid) = SOME_USER;
                let other = Conn {
                    uid: ouid,
                    gid: ogid,
                    ..c
                };
                let (list, hit) = match first_block(facts, Hook::Output, &addr, c) {
                    Some(hit) => (&mut mine, Some(hit)),
                    None => (&mut others, first_block(facts, Hook::Output, &addr, other)),
                };
                if let Some((s, r)) = hit {
                    match list.iter_mut().find(|(_, x, _)| std::ptr::eq(*x, r)) {
                        Some(e) if !e.2.contains(&port) => e.2.push(port),
                        Some(_) => {}
                        None => list.push((s, r, vec![port])),
                    }
                }
            }
        }
        for (s, r, ports) in mine {
            let root = Conn {
                port: ports[0],
                uid: 0,
                gid: 0,
                lo: false,
            };
            let root_passes = blocking_rule(s, Hook::Output, &addr, root).is_none();
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            out.push(local_finding(
                facts,
                Code::FirewallBlocksMail,
                None,
                format!(
                    "the rule {} {} this user's ({}) {v} connections to port {}{}",
                    describe_rule(s, r),
                    if r.action == Action::Reject {
                        "rejects"
                    } else {
                        "drops"
                    },
                    me.describe(),
                    ports.join(", "),
                    if root_passes { "; root would pass" } else { "" }
                ),
            ));
        }
        for (s, r, ports) in others {
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            out.push(local_finding(
                facts,
                Code::FirewallBlocksOtherUsers,
                None,
                format!(
                    "the rule {} {} {v} connections to port {} of users such as uid {} (webmail, PHP, scripts); \
                     mailport runs as {} and passes, so a check run as this user says nothing about theirs",
                    describe_rule(s, r),
                    if r.action == Action::Reject { "rejects" } else { "drops" },
                    ports.join(", "),
                    SOME_USER.0,
                    me.describe()
                ),
            ));
        }
        // INPUT: a mail port that listens here, dropped for other machines.
        let Some(l) = &facts.listeners else { continue };
        for &port in MAIL_PORTS {
            let public = l.sockets.iter().any(|k| {
                k.port == port
                    && !k.address.is_loopback()
                    && (k.address.is_unspecified() || addr.is_ipv6() == k.address.is_ipv6())
            });
            if !public {
                continue;
            }
            let c = Conn {
                port,
                uid: me.uid,
                gid: me.gid,
                lo: false,
            };
            if let Some((s, r)) = first_block(facts, Hook::Input, &addr, c) {
                out.push(local_finding(
                    facts,
                    Code::FirewallBlocksMail,
                    Some(port),
                    format!(
                        "port {} listens here, but the rule {} {} incoming {v} connections to it: other machines cannot connect",
                        port_name(port),
                        describe_rule(s, r),
                        if r.action == Action::Reject { "rejects" } else { "drops" },
                    ),
                ));
            }
        }
    }
}

// ---- check: a failed SMTP probe explained by this machine ------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        Account, ConnectFacts, ConnectResult, CsfSetting, Family, IdMatch, Identity, PortMatch,
        Resolution, ResolutionSource, SourceRead,
    };
    use crate::report::{AccountKind, Csf, Outcome, ProbeResult, Role, TargetReport};

    fn csf(settings: &[(&str, &str)]) -> Csf {
        Csf {
            path: "/etc/csf/csf.conf".into(),
            status: ReadStatus::Read,
            detail: None,
            settings: settings
                .iter()
                .enumerate()
                .map(|(i, (n, v))| CsfSetting {
                    name: n.to_string(),
                    value: v.to_string().into(),
                    line: i + 1,
                    text: format!("{n} = \"{v}\"").into(),
                })
                .collect(),
        }
    }

    fn facts(uid: u32, csf: Csf, rules: Option<Vec<FwRule>>) -> LocalFacts {
        let read = SourceRead {
            source: "iptables-save".into(),
            status: if rules.is_some() {
                ReadStatus::Read
            } else {
                ReadStatus::Denied
            },
            detail: None,
        };
        LocalFacts {
            host: "mail.example.test".into(),
            process: Identity {
                uid,
                user: None,
                gid: uid,
                group: None,
            },
            listeners: None,
            csf,
            firewall: vec![RuleSource {
                read,
                family: Family::Ipv4,
                rules: rules.unwrap_or_default(),
            }],
            accounts: vec![Account {
                name: "mail".into(),
                kind: AccountKind::Group,
                id: Some(8),
                gid: None,
                mta: false,
            }],
        }
    }

    fn rule(chain: &str, action: Action, uid: Option<IdMatch>) -> FwRule {
        FwRule {
            table: "filter".into(),
            chain: crate::escape::escape_str(chain),
            hook: (chain == "OUTPUT").then_some(Hook::Output),
            position: 1,
            text: format!("-A {chain} ... -j {action:?}").into(),
            action,
            target: None,
            dport: Some(PortMatch {
                negated: false,
                ranges: vec![(25, 25)],
            }),
            tcp: true,
            uid,
            gid: None,
            suppl_groups: false,
            out_lo: None,
            other_conditions: false,
        }
    }

    const SEED: &[(&str, &str)] = &[
        ("DROP_OUT", "DROP"),
        ("SMTP_BLOCK", "1"),
        ("SMTP_ALLOWLOCAL", "0"),
        ("SMTP_ALLOWGROUP", "mail"),
    ];

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn csf_smtp_block_spares_root_and_the_allowed_group_only() {
        let nobody = findings(&facts(65534, csf(SEED), None));
        assert!(
            codes(&nobody).contains(&"csf_smtp_blocked_user"),
            "{nobody:?}"
        );
        assert!(codes(&nobody).contains(&"csf_smtp_allowlocal_off"));
        assert!(codes(&nobody).contains(&"firewall_unreadable"));
        let root = findings(&facts(0, csf(SEED), None));
        assert!(codes(&root).contains(&"csf_smtp_block"));
        assert!(!codes(&root).contains(&"csf_smtp_blocked_user"));
        // gid 8 is group mail, which SMTP_ALLOWGROUP lists.
        let mail = findings(&facts(8, csf(SEED), None));
        assert!(!codes(&mail).contains(&"csf_smtp_blocked_user"), "{mail:?}");
        // SMTP_REDIRECT sends them to the local MTA instead of dropping.
        let mut redirect = SEED.to_vec();
        redirect.push(("SMTP_REDIRECT", "1"));
        let f = findings(&facts(65534, csf(&redirect), None));
        assert!(!codes(&f).contains(&"csf_smtp_blocked_user"));
    }

    #[test]
    fn owner_rules_are_walked_in_order_through_jumps() {
        let not_root = Some(IdMatch {
            negated: true,
            first: 0,
            last: 0,
        });
        let mut jump = rule("OUTPUT", Action::Jump, None);
        jump.dport = None;
        jump.target = Some("SMTPOUTPUT".into());
        let mut accept_mail = rule("SMTPOUTPUT", Action::Accept, None);
        accept_mail.gid = Some(IdMatch {
            negated: false,
            first: 8,
            last: 8,
        });
        let drop = rule("SMTPOUTPUT", Action::Drop, not_root);
        let f = facts(65534, csf(&[]), Some(vec![jump, accept_mail, drop]));
        let src = &f.firewall[0];
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let c = |uid, gid| Conn {
            port: 25,
            uid,
            gid,
            lo: false,
        };
        assert!(blocking_rule(src, Hook::Output, &v4, c(65534, 65534)).is_some());
        assert!(blocking_rule(src, Hook::Output, &v4, c(0, 0)).is_none());
        assert!(blocking_rule(src, Hook::Output, &v4, c(65534, 8)).is_none());
        assert!(blocking_rule(
            src,
            Hook::Output,
            &v4,
            Conn {
                port: 587,
                ..c(65534, 65534)
            }
        )
        .is_none());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(blocking_rule(src, Hook::Output, &v6, c(65534, 65534)).is_none());
        // A rule with conditions mailport does not evaluate never decides.
        let mut unknown = rule("OUTPUT", Action::Drop, None);
        unknown.other_conditions = true;
        let f = facts(65534, csf(&[]), Some(vec![unknown]));
        assert!(blocking_rule(&f.firewall[0], Hook::Output, &v4, c(65534, 65534)).is_none());
    }

    fn timed_out_25() -> TargetReport {
        let service = crate::service::by_port(25).unwrap();
        let probe = ProbeResult {
            outcome: Outcome::ConnectTimeout,
            connect: Some(ConnectFacts {
                local_addr: None,
                result: ConnectResult::Timeout,
                errno: None,
                ms: 1000,
                icmp: None,
            }),
            ..ProbeResult::new(service, 25, Some("192.0.2.1".parse().unwrap()))
        };
        TargetReport {
            host: "mx.example.test".into(),
            host_unicode: None,
            role: Role::Target,
            tls_name: "mx.example.test".into(),
            addresses: vec!["192.0.2.1".parse().unwrap()],
            resolution: Resolution {
                source: ResolutionSource::Literal,
                status: crate::report::DnsStatus::Found,
                detail: None,
                ms: 0,
            },
            local_addresses: vec![],
            probes: vec![probe],
            dns: None,
            traces: vec![],
        }
    }

    #[test]
    fn a_timeout_csf_explains_becomes_smtp_blocked_for_user() {
        let targets = vec![timed_out_25()];
        let before = crate::diagnose::diagnose(&targets);
        assert!(codes(&before).contains(&"connect_timeout"));
        let after = explain_failures(before.clone(), &targets, &facts(65534, csf(SEED), None));
        assert_eq!(codes(&after), ["smtp_blocked_for_user"], "{after:?}");
        assert!(after[0].message.contains("root would pass"));
        assert!(after[0].message.contains("line 2: SMTP_BLOCK = \"1\""));
        // Root passes CSF: nothing to explain.
        let root = explain_failures(before.clone(), &targets, &facts(0, csf(SEED), None));
        assert_eq!(root, before);
        // DROP_OUT = REJECT refuses at once: a timeout is something else.
        let mut reject = SEED.to_vec();
        reject[0] = ("DROP_OUT", "REJECT");
        let f = explain_failures(before.clone(), &targets, &facts(65534, csf(&reject), None));
        assert_eq!(f, before);
        // Readable rules that do not block: csf.conf alone proves nothing.
        let f = explain_failures(
            before.clone(),
            &targets,
            &facts(65534, csf(SEED), Some(vec![])),
        );
        assert_eq!(f, before);
    }
}
