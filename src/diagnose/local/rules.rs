//! Which firewall rule or CSF setting decides a connection: the rules walked
//! in order through their chains, and ConfigServer Firewall's SMTP_BLOCK.

use super::*;
use crate::report::{AccountKind, Action, Csf, FwRule, Hook, LocalFacts, ReadStatus, RuleSource};
use std::net::IpAddr;

/// What csf.conf's SMTP_BLOCK means, when it is on.
pub(super) struct SmtpBlock<'a> {
    pub(super) csf: &'a Csf,
    pub(super) ports: Vec<u16>,
    pub(super) allow_local: bool,
}

pub(super) fn smtp_block(facts: &LocalFacts) -> Option<SmtpBlock<'_>> {
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
    pub(super) fn passes(&self, facts: &LocalFacts, uid: u32, gid: u32) -> Option<String> {
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
    pub(super) fn allowed(&self, facts: &LocalFacts) -> String {
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
    pub(super) fn action(&self) -> String {
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
    pub(super) fn line(&self, name: &str) -> Option<String> {
        self.csf
            .get(name)
            .map(|s| format!("line {}: {}", s.line, s.text))
    }

    /// The lines to change and what to change them to.
    pub(super) fn lines_to_change(&self, user: Option<&str>) -> String {
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
    pub(super) fn rule(&self) -> String {
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

pub(super) enum Walk<'a> {
    Accept,
    Block(&'a FwRule),
    Continue,
}

/// Whether a rule matches: `None` when it has conditions mailport does not evaluate.
pub(super) fn matches(r: &FwRule, c: Conn) -> Option<bool> {
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

pub(super) fn walk<'a>(
    rules: &'a [FwRule],
    table: &str,
    chain: &str,
    c: Conn,
    depth: u8,
) -> Walk<'a> {
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
pub(super) fn rules_readable(facts: &LocalFacts, addr: &IpAddr) -> bool {
    facts
        .firewall
        .iter()
        .any(|s| s.read.status == ReadStatus::Read && s.family.admits(addr))
}

pub(super) fn first_block<'a>(
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

pub(super) fn describe_rule(s: &RuleSource, r: &FwRule) -> String {
    format!(
        "`{}` ({}, {} {} rule {})",
        r.text, s.read.source, r.table, r.chain, r.position
    )
}

// ---- mailport local ---------------------------------------------------------
