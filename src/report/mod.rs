//! The report model: plain serde data. The JSON output is this model
//! serialised; the text output is a view of it. Nothing here does I/O.
//! Every stage fills a part of it, so it sits low in the pipeline: it imports
//! only the plan, the codes table and the services table.
//!
//! `probe.rs` holds what one probe found, `names.rs` the DNS facts,
//! `local.rs` what this machine says about itself; this file
//! the targets, the findings and the report as a whole, and its assembly.

mod connect;
mod dane;
mod dane_chain;
mod local;
mod names;
mod policy;
mod probe;
mod stream;
mod tls;
mod trace;

pub use crate::escape::SafeText;
pub use dane::*;
pub use dane_chain::PresentedChain;
pub use local::*;
pub use names::*;
pub use policy::*;
pub use probe::*;
pub use stream::*;
pub use trace::*;

use crate::codes::Code;
pub use crate::codes::{Severity, TlsRptResult};
use crate::plan::Plan;
pub use crate::plan::{Command, Role};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Bumped when a field is removed or changes meaning; adding fields does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the addresses of a target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionSource {
    /// The host was an address.
    Literal,
    /// --resolve.
    Override,
    Dns,
}

/// How the addresses of a target were found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub source: ResolutionSource,
    pub status: DnsStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<SafeText>,
    pub ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// The host as the user gave it.
    pub host: String,
    /// The Unicode form of an international host name whose `host` is its ASCII (xn--) form.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host_unicode: Option<String>,
    /// `target`, or `control`: a reference host probed on the same ports (--control).
    #[serde(default)]
    pub role: Role,
    /// The name certificates are verified against.
    pub tls_name: String,
    pub addresses: Vec<IpAddr>,
    pub resolution: Resolution,
    /// The addresses among `addresses` that belong to this machine (loopback or a local interface).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub local_addresses: Vec<IpAddr>,
    pub probes: Vec<ProbeResult>,
    /// Reverse DNS of the addresses (PTR, forward confirmation) and, for a mail
    /// domain, its MX. Absent for a control host.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dns: Option<TargetDns>,
    /// TCP traces of the ports that failed, beside a port that worked
    /// (--trace, or a port that timed out while another connected).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub traces: Vec<Trace>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<IpAddr>,
    /// Assembled from mailport's words and report fields; escaped as a
    /// whole when the finding is made ([`crate::escape::escape_str`]: a
    /// no-op on pieces already escaped, a guard for any piece that was not).
    pub message: SafeText,
    pub hint: String,
    /// The RFC 8460 result type a sending MTA reports for this failure
    /// (`certificate-expired`, `sts-policy-invalid`...): set for the codes
    /// that are one, on the SMTP relay port and on a mail domain's policy.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tlsrpt_result: Option<TlsRptResult>,
}

impl Finding {
    /// A finding of `code` about `host` as a whole (no service, port or
    /// address), with the code's severity, hint and TLS-RPT result type.
    pub fn new(code: Code, host: impl Into<String>, message: SafeText) -> Finding {
        Finding {
            severity: code.severity(),
            code,
            host: host.into(),
            service: None,
            port: None,
            address: None,
            message,
            hint: code.hint().to_string(),
            tlsrpt_result: code.info().tlsrpt,
        }
    }

    /// This finding, about `service` on `port`.
    pub fn on(mut self, service: Option<String>, port: Option<u16>) -> Finding {
        self.service = service;
        self.port = port;
        self
    }

    /// This finding, about `address`.
    pub fn at(mut self, address: Option<IpAddr>) -> Finding {
        self.address = address;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub probes: usize,
    /// Probes whose wire outcome is `ok` (their certificate may still fail: see `verdicts`).
    pub ok: usize,
    pub not_ok: usize,
    /// The probes counted by their overall verdict.
    pub verdicts: VerdictCounts,
    pub info: usize,
    pub warn: usize,
    pub fail: usize,
    /// The exit status this report leads to (0, 1).
    pub exit_code: u8,
    pub fail_on: Severity,
}

impl Summary {
    /// Nothing counted yet.
    pub fn new(exit_code: u8, fail_on: Severity) -> Summary {
        Summary {
            probes: 0,
            ok: 0,
            not_ok: 0,
            verdicts: VerdictCounts::default(),
            info: 0,
            warn: 0,
            fail: 0,
            exit_code,
            fail_on,
        }
    }

    /// Count the probes of a target (control hosts are evidence, not subjects:
    /// they are not counted). Its verdicts must be set.
    pub fn add_probes(&mut self, t: &TargetReport) {
        if t.role != Role::Target {
            return;
        }
        for p in &t.probes {
            self.probes += 1;
            if p.outcome == Outcome::Ok {
                self.ok += 1;
            } else {
                self.not_ok += 1;
            }
            let v = &mut self.verdicts;
            match p.verdict {
                Verdict::Ok => v.ok += 1,
                Verdict::NotOffered => v.not_offered += 1,
                Verdict::Warn => v.warn += 1,
                Verdict::Fail => v.fail += 1,
            }
        }
    }

    pub fn add_findings(&mut self, findings: &[Finding]) {
        for f in findings {
            match f.severity {
                Severity::Info => self.info += 1,
                Severity::Warn => self.warn += 1,
                Severity::Fail => self.fail += 1,
            }
        }
    }
}

/// Set the verdict of each probe of a target from the findings about it
/// (control hosts keep theirs: their problems raise no finding).
pub fn set_verdicts(t: &mut TargetReport, findings: &[Finding]) {
    if t.role != Role::Target {
        return;
    }
    for p in &mut t.probes {
        (p.verdict, p.verdict_code) = verdict(&t.host, p, findings);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    pub ok: usize,
    pub not_offered: usize,
    pub warn: usize,
    pub fail: usize,
}

/// The verdict of one probe of `host`: the worst finding about it (the first
/// of the worst, as diagnosis orders them), or ok.
fn verdict(host: &str, p: &ProbeResult, findings: &[Finding]) -> (Verdict, Option<Code>) {
    let mut worst: Option<&Finding> = None;
    for f in findings.iter().filter(|f| {
        f.host == host
            && f.port == Some(p.port)
            && f.address == p.address
            && f.service.as_deref() == Some(p.service.as_str())
            && (f.severity > Severity::Info || f.code == Code::ServiceNotOffered)
    }) {
        if worst.is_none_or(|w| f.severity > w.severity) {
            worst = Some(f);
        }
    }
    match worst {
        // A failed probe without a finding of its own (a name that did not
        // resolve is one finding for the name): its outcome is the verdict.
        None if p.outcome != Outcome::Ok => (Verdict::Fail, Some(p.outcome.code())),
        None => (Verdict::Ok, None),
        Some(f) if f.code == Code::ServiceNotOffered => (Verdict::NotOffered, Some(f.code)),
        Some(f) if f.severity == Severity::Fail => (Verdict::Fail, Some(f.code)),
        Some(f) => (Verdict::Warn, Some(f.code)),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: ToolInfo,
    /// The command that made the report.
    #[serde(default)]
    pub command: Command,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    /// --at: the moment certificates were verified at (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub certificates_at: Option<String>,
    /// The MX lookups of the mail domains given with --mx, in the order given.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub domains: Vec<MxLookup>,
    pub targets: Vec<TargetReport>,
    /// What this machine says about its own mail ports: `mailport local`,
    /// and `check` when they explain why a probe of 25, 465 or 587 did not
    /// connect (`smtp_blocked_for_user`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub local: Option<LocalFacts>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl Report {
    /// Put a finished run together. The summary counts the targets' probes
    /// (control hosts are evidence, not subjects) and the findings.
    pub fn assemble(
        plan: &Plan,
        started: time::OffsetDateTime,
        duration: std::time::Duration,
        domains: Vec<MxLookup>,
        targets: Vec<TargetReport>,
        findings: Vec<Finding>,
        exit_code: u8,
    ) -> Report {
        let mut targets = targets;
        for t in &mut targets {
            set_verdicts(t, &findings);
        }
        let mut summary = Summary::new(exit_code, plan.fail_on);
        for t in &targets {
            summary.add_probes(t);
        }
        summary.add_findings(&findings);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "mailport".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            command: plan.command,
            started_at: started
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            duration_ms: duration.as_millis() as u64,
            certificates_at: plan.at.map(|t| {
                time::OffsetDateTime::from_unix_timestamp(t)
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_else(|| t.to_string())
            }),
            domains,
            targets,
            local: None,
            findings,
            summary,
        }
    }

    pub fn probes(&self) -> impl Iterator<Item = (&TargetReport, &ProbeResult)> {
        self.targets
            .iter()
            .flat_map(|t| t.probes.iter().map(move |p| (t, p)))
    }
}
