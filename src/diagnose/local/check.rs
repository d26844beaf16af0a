//! `check` and this machine: a failed SMTP probe explained by a rule or
//! a CSF setting that blocks this user.

use super::*;
use crate::codes::Code;
use crate::report::{Action, Finding, Hook, LocalFacts, Outcome, ProbeResult, Role, TargetReport};

/// Why this machine blocks one connection of the user running mailport.
pub(super) fn local_cause(facts: &LocalFacts, t: &TargetReport, p: &ProbeResult) -> Option<String> {
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
            let message = crate::escape::escape_str(&format!(
                    "port {} of {addr} {} because this machine blocks SMTP for {}, the user running mailport: {cause}",
                    p.port,
                    match p.outcome {
                        Outcome::ConnectTimeout => "timed out",
                        Outcome::Refused => "refused the connection",
                        _ => "was unreachable",
                    },
                    me.describe()
                ));
            out.push(
                Finding::new(code, &t.host, message)
                    .on(Some(p.service.clone()), Some(p.port))
                    .at(p.address),
            );
        }
    }
    out
}
