//! Pure rules over this machine's facts (`LocalFacts`): who may send SMTP
//! under ConfigServer Firewall's SMTP_BLOCK, which firewall rule decides a
//! mail connection, listeners on loopback only; and, for `check`, a failed
//! SMTP probe explained by this machine's own firewall.

use crate::codes::Code;
use crate::report::{
    AccountKind, Action, Csf, Finding, FwRule, Hook, LocalFacts, Outcome, ProbeResult, ReadStatus,
    Role, RuleSource, TargetReport,
};
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
    Finding {
        severity: code.severity(),
        code,
        host: facts.host.clone(),
        service: port
            .and_then(crate::service::by_port)
            .map(|s| s.name.to_string()),
        port,
        address: None,
        message,
        hint: code.hint().to_string(),
    }
}

// ---- ConfigServer Firewall ------------------------------------------------

/// What csf.conf's SMTP_BLOCK means, when it is on.
struct SmtpBlock<'a> {
    csf: &'a Csf,
    ports: Vec<u16>,
    allow_local: bool,
}

fn smtp_block(facts: &LocalFacts) -> Option<SmtpBlock<'_>> {
    let csf = &facts.csf;
    if csf.status != ReadStatus::Read || !csf.on("SMTP_BLOCK") || csf.on("SMTP_REDIRECT") {
        return None;
    }
    let mut ports: Vec<u16> = match csf.get("SMTP_PORTS") {
        Some(_) => MAIL_PORTS
            .iter()
            .chain(&[2525, 26])
            .copied()
            .filter(|&p| csf.ports_contain("SMTP_PORTS", p) == Some(true))
            .collect(),
        None => CSF_DEFAULT_SMTP_PORTS.to_vec(),
    };
    ports.sort_unstable();
    (!ports.is_empty()).then_some(SmtpBlock {
        csf,
        ports,
        allow_local: csf.on("SMTP_ALLOWLOCAL"),
    })
}

impl SmtpBlock<'_> {
    /// Why `uid`/`gid` passes, if it does (csf's ACCEPT rules: root, each
    /// SMTP_ALLOWUSER's uid, each SMTP_ALLOWGROUP's gid with --gid-owner).
    fn passes(&self, facts: &LocalFacts, uid: u32, gid: u32) -> Option<String> {
        if uid == 0 {
            return Some("root (uid 0) is always allowed".into());
        }
        for a in &facts.accounts {
            let listed = match a.kind {
                AccountKind::User => self.csf.list("SMTP_ALLOWUSER").contains(&a.name),
                AccountKind::Group => self.csf.list("SMTP_ALLOWGROUP").contains(&a.name),
            };
            match (a.kind, a.id) {
                (AccountKind::User, Some(id)) if listed && id == uid => {
                    return Some(format!("SMTP_ALLOWUSER lists {}", a.name))
                }
                (AccountKind::Group, Some(id)) if listed && id == gid => {
                    return Some(format!("SMTP_ALLOWGROUP lists {} (gid {id})", a.name))
                }
                _ => {}
            }
        }
        None
    }

    /// `root (uid 0), user cpanel (uid 1001), group mail (gid 8)`.
    fn allowed(&self, facts: &LocalFacts) -> String {
        let mut who = vec!["root (uid 0)".to_string()];
        for (setting, kind, word) in [
            ("SMTP_ALLOWUSER", AccountKind::User, "user"),
            ("SMTP_ALLOWGROUP", AccountKind::Group, "group"),
        ] {
            for name in self.csf.list(setting) {
                let id = facts
                    .accounts
                    .iter()
                    .find(|a| a.kind == kind && a.name == name)
                    .and_then(|a| a.id);
                who.push(match id {
                    Some(id) => format!(
                        "{word} {name} ({} {id})",
                        if kind == AccountKind::User {
                            "uid"
                        } else {
                            "gid"
                        }
                    ),
                    None => format!("{word} {name} (no such {word} here: csf skips it)"),
                });
            }
        }
        who.join(", ")
    }

    /// How a blocked connection ends, from DROP_OUT.
    fn action(&self) -> String {
        match self.csf.get("DROP_OUT") {
            Some(s) if s.value.eq_ignore_ascii_case("DROP") => {
                "dropped (DROP_OUT = \"DROP\": \"Connection timed out\")".into()
            }
            Some(s) if s.value.eq_ignore_ascii_case("REJECT") => {
                "rejected (DROP_OUT = \"REJECT\": \"Connection refused\" at once)".into()
            }
            _ => "dropped or rejected (as DROP_OUT says)".into(),
        }
    }

    /// A setting's line, quoted: `line 12: SMTP_BLOCK = "1"`.
    fn line(&self, name: &str) -> Option<String> {
        self.csf
            .get(name)
            .map(|s| format!("line {}: {}", s.line, s.text))
    }

    /// The lines to change and what to change them to.
    fn lines_to_change(&self, user: Option<&str>) -> String {
        let lines: Vec<String> = ["SMTP_BLOCK", "SMTP_ALLOWLOCAL", "SMTP_ALLOWUSER"]
            .iter()
            .filter_map(|name| self.line(name))
            .collect();
        let mut out = format!("in {}: {}", self.csf.path, lines.join("; "));
        let mut users = self.csf.list("SMTP_ALLOWUSER");
        users.extend(user.map(str::to_string));
        out.push_str(&format!(
            ". To let this user connect out: SMTP_ALLOWUSER = \"{}\" (or SMTP_BLOCK = \"0\"); \
             for webmail and scripts that send through this machine's own mail server: \
             SMTP_ALLOWLOCAL = \"1\"; then run `csf -r`",
            users.join(",")
        ));
        out
    }

    /// The rule csf builds from these settings.
    fn rule(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        format!(
            "csf builds chain SMTPOUTPUT from OUTPUT: ACCEPT rules with -m owner --uid-owner 0 \
             (root){}{}, then `-p tcp -m multiport --dports {} -j {}`",
            if self.csf.list("SMTP_ALLOWUSER").is_empty()
                && self.csf.list("SMTP_ALLOWGROUP").is_empty()
            {
                ""
            } else {
                ", --uid-owner/--gid-owner for the allowed users and groups"
            },
            if self.allow_local { ", -o lo" } else { "" },
            ports.join(","),
            self.csf
                .get("DROP_OUT")
                .map(|s| s.value.clone())
                .unwrap_or_else(|| "DROP_OUT".into())
        )
    }
}

// ---- firewall rules ---------------------------------------------------------

/// A connection to judge: its port, its owner, and whether it leaves by lo.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    pub port: u16,
    pub uid: u32,
    pub gid: u32,
    pub lo: bool,
}

enum Walk<'a> {
    Accept,
    Block(&'a FwRule),
    Continue,
}

/// Whether a rule matches: `None` when it has conditions mailport does not evaluate.
fn matches(r: &FwRule, c: Conn) -> Option<bool> {
    let known = r.dport.as_ref().is_none_or(|d| d.matches(c.port))
        && r.uid.is_none_or(|m| m.matches(c.uid))
        && r.gid.is_none_or(|m| m.matches(c.gid))
        && r.out_lo.is_none_or(|lo| lo == c.lo);
    match (known, r.other_conditions) {
        (false, _) => Some(false),
        (true, true) => None,
        (true, false) => Some(true),
    }
}

fn walk<'a>(rules: &'a [FwRule], table: &str, chain: &str, c: Conn, depth: u8) -> Walk<'a> {
    for r in rules
        .iter()
        .filter(|r| r.table == table && r.chain == chain)
    {
        if matches(r, c) != Some(true) {
            continue;
        }
        match r.action {
            Action::Accept => return Walk::Accept,
            Action::Drop | Action::Reject => return Walk::Block(r),
            Action::Return => return Walk::Continue,
            Action::Jump if depth < 8 => {
                if let Some(target) = &r.target {
                    match walk(rules, table, target, c, depth + 1) {
                        Walk::Continue => {}
                        decided => return decided,
                    }
                }
            }
            Action::Jump | Action::Other => {}
        }
    }
    Walk::Continue
}

/// The first rule of `source` that drops or rejects `c` on `hook`, for a
/// destination of `family_of`'s family.
pub fn blocking_rule<'a>(
    source: &'a RuleSource,
    hook: Hook,
    family_of: &IpAddr,
    c: Conn,
) -> Option<&'a FwRule> {
    if source.read.status != ReadStatus::Read || !source.family.admits(family_of) {
        return None;
    }
    let mut bases: Vec<(&str, &str)> = Vec::new();
    for r in source.rules.iter().filter(|r| r.hook == Some(hook)) {
        if !bases.contains(&(r.table.as_str(), r.chain.as_str())) {
            bases.push((&r.table, &r.chain));
        }
    }
    // Every base chain on the hook sees the packet; any of them may drop it.
    bases.into_iter().find_map(
        |(table, chain)| match walk(&source.rules, table, chain, c, 0) {
            Walk::Block(r) => Some(r),
            _ => None,
        },
    )
}

/// The rules were read for the family of `addr`.
fn rules_readable(facts: &LocalFacts, addr: &IpAddr) -> bool {
    facts
        .firewall
        .iter()
        .any(|s| s.read.status == ReadStatus::Read && s.family.admits(addr))
}

fn first_block<'a>(
    facts: &'a LocalFacts,
    hook: Hook,
    addr: &IpAddr,
    c: Conn,
) -> Option<(&'a RuleSource, &'a FwRule)> {
    facts
        .firewall
        .iter()
        .find_map(|s| blocking_rule(s, hook, addr, c).map(|r| (s, r)))
}

fn describe_rule(s: &RuleSource, r: &FwRule) -> String {
    format!(
        "`{}` ({}, {} {} rule {})",
        r.text, s.read.source, r.table, r.chain, r.position
    )
}

// ---- mailport local ---------------------------------------------------------

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
    for (addr, v) in [("192.0.2.25", "IPv4"), ("2001:db8::25", "IPv6")] {
        let addr: IpAddr = addr.parse().expect("a literal address");
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

/// Why this machine blocks one connection of the user running mailport.
fn local_cause(facts: &LocalFacts, t: &TargetReport, p: &ProbeResult) -> Option<String> {
    let addr = p.address?;
    let me = &facts.process;
    let lo = addr.is_loopback() || t.local_addresses.contains(&addr);
    let c = Conn {
        port: p.port,
        uid: me.uid,
        gid: me.gid,
        lo,
    };
    // A DROP times out; a REJECT is refused (or unreachable) at once.
    let consistent = |reject: Option<bool>| {
        !matches!(
            (reject, p.outcome),
            (Some(true), Outcome::ConnectTimeout)
                | (Some(false), Outcome::Refused | Outcome::Unreachable)
        )
    };
    let csf = smtp_block(facts).filter(|b| {
        b.ports.contains(&p.port)
            && b.passes(facts, me.uid, me.gid).is_none()
            && !(lo && b.allow_local)
    });
    let csf_words = |b: &SmtpBlock| {
        format!(
            "ConfigServer Firewall's SMTP_BLOCK does not exempt this user (allowed: {}). {}; {}",
            b.allowed(facts),
            b.rule(),
            b.lines_to_change(me.user.as_deref())
        )
    };
    if rules_readable(facts, &addr) {
        let (s, r) = first_block(facts, Hook::Output, &addr, c)?;
        if !consistent(Some(r.action == Action::Reject)) {
            return None;
        }
        let root = Conn {
            uid: 0,
            gid: 0,
            ..c
        };
        let root_passes = blocking_rule(s, Hook::Output, &addr, root).is_none();
        let mut words = format!(
            "the rule {} {} it{}",
            describe_rule(s, r),
            if r.action == Action::Reject {
                "rejects"
            } else {
                "drops"
            },
            if root_passes { "; root would pass" } else { "" }
        );
        if let Some(b) = &csf {
            words.push_str(&format!("; {}", csf_words(b)));
        }
        return Some(words);
    }
    let b = csf?;
    let reject = b
        .csf
        .get("DROP_OUT")
        .map(|s| !s.value.eq_ignore_ascii_case("DROP"));
    if !consistent(reject) {
        return None;
    }
    Some(format!(
        "{}; root would pass. The live rules could not be read as this user (run as root to see them)",
        csf_words(&b)
    ))
}

/// `check`: a probe of an SMTP port that failed to connect because this
/// machine's firewall blocks the user running mailport gets the finding
/// `smtp_blocked_for_user` in place of its outcome's (and of a port-25
/// block blamed on the path).
pub fn explain_failures(
    findings: Vec<Finding>,
    targets: &[TargetReport],
    facts: &LocalFacts,
) -> Vec<Finding> {
    let mut out = findings;
    let me = &facts.process;
    for t in targets.iter().filter(|t| t.role == Role::Target) {
        for p in &t.probes {
            if !matches!(
                p.outcome,
                Outcome::ConnectTimeout | Outcome::Refused | Outcome::Unreachable
            ) {
                continue;
            }
            let Some(cause) = local_cause(facts, t, p) else {
                continue;
            };
            let addr = p.address.map(|a| a.to_string()).unwrap_or_default();
            out.retain(|f| {
                let same_probe = f.host == t.host
                    && f.port == Some(p.port)
                    && f.address == p.address
                    && f.service.as_deref() == Some(p.service.as_str());
                let path_blamed = f.host == t.host
                    && f.address == p.address
                    && p.port == 25
                    && matches!(f.code, Code::Port25Blocked | Code::OutboundPort25Blocked);
                !(same_probe && (f.code == p.outcome.code() || f.code == Code::ServiceNotOffered))
                    && !path_blamed
            });
            let code = Code::SmtpBlockedForUser;
            out.push(Finding {
                severity: code.severity(),
                code,
                host: t.host.clone(),
                service: Some(p.service.clone()),
                port: Some(p.port),
                address: p.address,
                message: format!(
                    "port {} of {addr} {} because this machine blocks SMTP for {}, the user running mailport: {cause}",
                    p.port,
                    match p.outcome {
                        Outcome::ConnectTimeout => "timed out",
                        Outcome::Refused => "refused the connection",
                        _ => "was unreachable",
                    },
                    me.describe()
                ),
                hint: code.hint().to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        Account, ConnectFacts, ConnectResult, CsfSetting, Family, IdMatch, Identity, PortMatch,
        Resolution, ResolutionSource, SourceRead,
    };

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
                    value: v.to_string(),
                    line: i + 1,
                    text: format!("{n} = \"{v}\""),
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
            chain: chain.into(),
            hook: (chain == "OUTPUT").then_some(Hook::Output),
            position: 1,
            text: format!("-A {chain} ... -j {action:?}"),
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
