//! Where a run written host by host goes (JSON Lines, or text for several
//! hosts): each host's or domain's record as it comes, then the run's
//! summary; what the run did is counted on the way.

use crate::{codes, escape, exit, fleet, plan, render, report};
use anyhow::Result;
use std::io::Write;
use std::sync::Arc;

/// Where a streamed run's events are written, and what it counts of them.
pub struct Sink<'a> {
    /// The progress line, erased while anything is written.
    pub progress: Option<Arc<fleet::Progress>>,
    pub out: std::io::StdoutLock<'a>,
    pub jsonl: bool,
    pub style: render::text::Style,
    /// The codes whose hint was written already (text).
    pub hinted: Vec<codes::Code>,
    /// Parts written so far (text: a blank line between them).
    pub written: u64,
    pub hosts: u64,
    pub domains: u64,
    pub lost: u64,
    /// A host or domain leads to exit status 1.
    pub failed: bool,
    /// This machine's facts were written (with the first host they explain).
    pub local_shown: bool,
    pub summary: report::Summary,
}

impl Sink<'_> {
    pub fn event(&mut self, e: fleet::Event) -> Result<()> {
        let progress = self.progress.clone();
        let _quiet = progress.as_deref().map(fleet::Progress::hold);
        let first = self.written == 0;
        match e {
            fleet::Event::Host {
                report,
                findings,
                exit_code,
                local,
                ..
            } => {
                // This machine's facts are written once, with the first host they explain.
                let local = local.filter(|_| !self.local_shown);
                self.local_shown |= local.is_some();
                self.summary.add_probes(&report);
                self.summary.add_findings(&findings);
                self.failed |= exit_code != exit::OK;
                if report.role == plan::Role::Target {
                    self.hosts += 1;
                }
                if self.jsonl {
                    let record = report::HostRecord {
                        schema_version: report::SCHEMA_VERSION,
                        kind: report::RecordType::Host,
                        target: *report,
                        local: local.map(Arc::unwrap_or_clone),
                        findings,
                        exit_code,
                    };
                    render::json::line(&record, &mut self.out)?;
                } else {
                    render::text::host(
                        &report,
                        local.as_deref(),
                        &findings,
                        first,
                        &mut self.hinted,
                        &mut self.out,
                        self.style,
                    )?;
                }
            }
            fleet::Event::Domain {
                lookup,
                findings,
                exit_code,
                ..
            } => {
                self.summary.add_findings(&findings);
                self.failed |= exit_code != exit::OK;
                self.domains += 1;
                if self.jsonl {
                    let record = report::DomainRecord {
                        schema_version: report::SCHEMA_VERSION,
                        kind: report::RecordType::Domain,
                        lookup,
                        findings,
                        exit_code,
                    };
                    render::json::line(&record, &mut self.out)?;
                } else {
                    render::text::domain(
                        &lookup,
                        &findings,
                        first,
                        &mut self.hinted,
                        &mut self.out,
                        self.style,
                    )?;
                }
            }
            fleet::Event::Lost { host, why } => {
                eprintln!("mailport: error: {}: {why}", escape::shown(&host));
                self.lost += 1;
                return Ok(());
            }
        }
        self.written += 1;
        self.out.flush()?;
        Ok(())
    }

    pub fn finish(
        mut self,
        plan: &plan::Plan,
        ended: fleet::Ended,
        input: report::InputCounts,
        started: time::OffsetDateTime,
        clock: std::time::Instant,
    ) -> Result<u8> {
        if let Some(p) = &self.progress {
            p.clear();
        }
        self.summary.exit_code = if self.failed { exit::FAILED } else { exit::OK };
        let exit_code = if ended.interrupted {
            exit::INTERRUPTED
        } else if self.lost > 0 {
            exit::ERROR
        } else {
            self.summary.exit_code
        };
        let record = report::RunRecord {
            schema_version: report::SCHEMA_VERSION,
            kind: report::RecordType::Summary,
            tool: report::ToolInfo {
                name: "mailport".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            command: plan.command,
            started_at: rfc3339(started),
            duration_ms: clock.elapsed().as_millis() as u64,
            hosts: self.hosts,
            domains: self.domains,
            summary: self.summary,
            input,
            interrupted: ended.interrupted,
            unfinished: ended.unfinished,
            exit_code,
        };
        if self.jsonl {
            render::json::line(&record, &mut self.out)?;
        } else {
            render::text::run_summary(&record, &mut self.out, self.style)?;
        }
        self.out.flush()?;
        Ok(exit_code)
    }
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
