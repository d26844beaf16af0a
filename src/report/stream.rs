//! The records of `--format jsonl`: one JSON object per line, each standing
//! alone (`schema_version` first, then `type`). A host's record is its target
//! of the JSON report with that host's findings and exit status (and on the
//! first host whose failed SMTP probe they explain, this machine's facts, the
//! report's `local`, once a run); an --mx mail domain's record is its MX lookup with its findings; the last record sums
//! the run up. Described by `src/report.jsonl.schema.json`.

use super::{Finding, LocalFacts, MxLookup, Summary, TargetReport, ToolInfo};
use crate::plan::Command;
use serde::{Deserialize, Serialize};

/// What a line of JSON Lines holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    /// A host checked (or a control host, by its `role`).
    Host,
    /// An --mx mail domain's MX lookup, written before its MX hosts.
    Domain,
    /// The last line: the run summed up.
    Summary,
}

/// One host, written when it is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    pub schema_version: u32,
    #[serde(rename = "type")]
    pub kind: RecordType,
    #[serde(flatten)]
    pub target: TargetReport,
    /// What this machine says about its own mail ports, as the JSON
    /// report's `local`: on the first host of the run whose failed probe of
    /// 25, 465 or 587 they explain (`smtp_blocked_for_user`), and on no other.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub local: Option<LocalFacts>,
    /// The findings about this host, worst first (none for a control host).
    pub findings: Vec<Finding>,
    /// The exit status this host alone leads to (0, 1).
    pub exit_code: u8,
}

/// One --mx mail domain's MX lookup, written before its MX hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainRecord {
    pub schema_version: u32,
    #[serde(rename = "type")]
    pub kind: RecordType,
    #[serde(flatten)]
    pub lookup: MxLookup,
    pub findings: Vec<Finding>,
    pub exit_code: u8,
}

/// What became of the lines of --hosts-file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputCounts {
    /// Lines read (blank lines and comments included).
    pub lines: u64,
    /// Lines that are not a host (each reported on stderr with its number), skipped.
    pub bad_lines: u64,
    /// Hosts seen before in the run, skipped.
    pub duplicates: u64,
    /// Hosts that belong to another --shard, skipped.
    pub other_shards: u64,
}

/// The last record of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    #[serde(rename = "type")]
    pub kind: RecordType,
    pub tool: ToolInfo,
    pub command: Command,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    /// Hosts checked and written (control hosts not counted).
    pub hosts: u64,
    /// --mx mail domains looked up.
    pub domains: u64,
    /// The counts of every host's probes and findings, and the run's exit status.
    pub summary: Summary,
    pub input: InputCounts,
    /// Ctrl-C stopped the run: hosts not started were never checked.
    pub interrupted: bool,
    /// Hosts under way when the run was interrupted, cut and not written.
    pub unfinished: u64,
    /// The run's exit status: 0, 1 (as `summary.exit_code`), 2 (mailport
    /// failed on a host: a bug), 130 (interrupted).
    pub exit_code: u8,
}
