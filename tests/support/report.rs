//! The JSON report as a consumer reads it: types written from
//! `src/report.schema.json`, independent of the crate's own `report.rs`
//! (like ripgrep's tests/json.rs), so that the tests check the contract and
//! not the implementation's structs.
//!
//! Every object of the schema is here with every field, and unknown fields
//! are refused: a field renamed, dropped or added fails the test that reads
//! the report. Required fields are plain types; the schema's optional ones
//! are `Option` (absent and null read the same), except two that the schema
//! omits when empty or false (`notes`, `preauth`, `retried`, `shared`).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// `check` or `ptr`.
    pub command: String,
    pub started_at: String,
    pub duration_ms: u64,
    /// With `--at`: the moment certificates were verified at.
    pub certificates_at: Option<String>,
    /// With `--mx`: the MX lookup of each mail domain given.
    pub domains: Option<Vec<MxLookup>>,
    pub targets: Vec<Target>,
    /// `mailport local`, and `check` when an SMTP port did not connect.
    pub local: Option<Local>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

/// This machine's facts; the parts tests read are typed, the rest kept as JSON.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Local {
    pub host: String,
    pub process: Process,
    pub listeners: Option<Listeners>,
    pub csf: Csf,
    pub firewall: Vec<RuleSource>,
    pub accounts: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub uid: u32,
    pub user: Option<String>,
    pub gid: u32,
    pub group: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRead {
    pub source: String,
    /// `read`, `not_found`, `denied`, `failed`, `skipped`.
    pub status: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Listeners {
    pub sources: Vec<SourceRead>,
    pub sockets: Vec<Socket>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Socket {
    pub port: u16,
    pub address: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Csf {
    pub path: String,
    pub status: String,
    pub detail: Option<String>,
    pub settings: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSource {
    pub read: SourceRead,
    pub family: String,
    pub rules: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub host: String,
    pub host_unicode: Option<String>,
    /// `target` or `control`.
    pub role: String,
    pub tls_name: String,
    pub addresses: Vec<String>,
    pub resolution: Resolution,
    pub local_addresses: Option<Vec<String>>,
    pub probes: Vec<Probe>,
    pub dns: Option<TargetDns>,
    /// TCP traces of failing ports; omitted when there is none.
    pub traces: Option<Vec<Trace>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dane {
    pub mx: Vec<DaneMx>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaneMx {
    pub host: String,
    pub tlsa: TlsaLookup,
    pub addresses: Option<Vec<DaneAddress>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsaLookup {
    pub name: String,
    pub status: String,
    /// `secure`, `insecure`, `bogus` or `indeterminate`.
    pub dnssec: String,
    pub validated_by: ValidatedBy,
    pub records: Vec<TlsaRecord>,
    pub full_data_sha256: Option<Vec<String>>,
    pub detail: Option<String>,
    pub ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatedBy {
    /// `root_anchor`, `trust_anchor` or `ad_bit`.
    pub validator: String,
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsaRecord {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaneAddress {
    pub address: String,
    pub port: u16,
    /// `match`, `mismatch`, `no_certificate` or `not_checked`.
    pub result: String,
    pub matching: Vec<usize>,
    pub not_matching: usize,
    pub leaf_spki_sha256: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CertDigests {
    pub sha256: String,
    pub sha512: String,
    pub spki_sha256: String,
    pub spki_sha512: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub address: String,
    pub service: String,
    pub port: u16,
    pub source_port: Option<u16>,
    pub hops: Vec<Hop>,
    pub control_service: Option<String>,
    pub control_port: Option<u16>,
    pub control_source_port: Option<u16>,
    /// Omitted when there is no control port.
    #[serde(default)]
    pub control_hops: Vec<Hop>,
    /// `asked` or `auto`.
    pub reason: String,
    /// `done`, `max_hops`, `time_bound` or `no_time`.
    pub end: String,
    pub ms: u64,
    pub bound_ms: u64,
    pub hop_wait_ms: u64,
    pub max_hops: u8,
    /// Made for another host of the run and shared; omitted when false.
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hop {
    pub ttl: u8,
    /// `time_exceeded`, `connected`, `refused`, `rejected`, `unreachable`, `silent` or `error`.
    pub reply: String,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub icmp: Option<String>,
    pub error: Option<String>,
    pub ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// `literal`, `override` or `dns`.
    pub source: String,
    pub status: String,
    pub detail: Option<String>,
    pub ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDns {
    pub resolver: String,
    pub reverse: Vec<ReverseDns>,
    pub skipped: Option<Vec<SkippedAddress>>,
    pub mx_of: Option<MxOf>,
    pub mx: Option<MxLookup>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseDns {
    pub address: String,
    pub query: String,
    pub status: String,
    pub detail: Option<String>,
    pub ms: u64,
    pub names: Vec<PtrName>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PtrName {
    pub name: String,
    /// `A` or `AAAA`.
    pub record_type: String,
    pub status: String,
    pub detail: Option<String>,
    pub addresses: Vec<String>,
    pub confirmed: bool,
    pub ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SkippedAddress {
    pub address: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MxOf {
    pub domain: String,
    pub preference: u16,
    pub implicit: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MxLookup {
    pub domain: String,
    pub status: String,
    pub detail: Option<String>,
    pub ms: u64,
    pub records: Vec<MxRecord>,
    pub resolver: String,
    /// `mailport policy` and `check --mx`: the domain's TLS promises.
    pub policy: Option<Box<DomainPolicy>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DomainPolicy {
    pub mta_sts: MtaSts,
    pub tls_rpt: TlsRpt,
    /// DANE: each MX host's TLSA records and its addresses against them.
    pub dane: Option<Dane>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TxtLookup {
    pub name: String,
    pub status: String,
    pub detail: Option<String>,
    pub ms: u64,
    pub records: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MtaSts {
    pub txt: TxtLookup,
    pub id: Option<String>,
    #[serde(default)]
    pub txt_errors: Vec<String>,
    pub fetch: Option<PolicyFetch>,
    pub policy: Option<StsPolicy>,
    #[serde(default)]
    pub mx: Vec<StsMxMatch>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFetch {
    pub url: String,
    pub outcome: String,
    pub detail: Option<String>,
    pub address: Option<String>,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub bytes: u64,
    pub ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StsPolicy {
    pub mode: Option<String>,
    pub mx: Vec<String>,
    pub max_age: Option<u64>,
    #[serde(default)]
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StsMxMatch {
    pub mx: String,
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsRpt {
    pub txt: TxtLookup,
    #[serde(default)]
    pub rua: Vec<String>,
    #[serde(default)]
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MxRecord {
    pub preference: u16,
    pub exchange: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub service: String,
    pub port: u16,
    pub protocol: String,
    pub tls_mode: String,
    /// Null when the host name did not resolve.
    pub address: Option<String>,
    pub requested: bool,
    pub outcome: String,
    /// `ok`, `not_offered`, `warn` or `fail`: the worst of the outcome and the probe's findings.
    pub verdict: String,
    pub verdict_code: Option<String>,
    pub detail: Option<String>,
    pub failed_phase: Option<String>,
    pub phases: Vec<PhaseRecord>,
    pub total_ms: u64,
    pub connect: Option<Connect>,
    pub peer_protocol: Option<String>,
    pub greeting: Option<String>,
    pub greeting_ms: Option<u64>,
    pub greeting_name: Option<String>,
    pub software: Option<String>,
    pub capabilities_plain: Vec<String>,
    pub capabilities_tls: Vec<String>,
    pub auth_plain: Vec<String>,
    pub auth_tls: Vec<String>,
    pub starttls_offered: Option<bool>,
    pub starttls_stripped: bool,
    pub starttls_reply: Option<String>,
    pub tls: Option<Tls>,
    /// After a failed handshake that looked like a server of only older TLS.
    pub tls_versions: Option<TlsVersions>,
    /// Omitted when false.
    #[serde(default)]
    pub preauth: bool,
    pub login_disabled: Option<bool>,
    pub login_plain: Option<bool>,
    pub login_tls: Option<bool>,
    pub http: Option<Http>,
    /// Omitted when there is none.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Omitted when false.
    #[serde(default)]
    pub retried: bool,
    /// Only with -vv.
    #[serde(default)]
    pub transcript: Vec<String>,
    /// Made for another host of the run and shared; omitted when false.
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseRecord {
    pub phase: String,
    pub ms: u64,
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Connect {
    pub local_addr: Option<String>,
    /// `connected`, `timeout` or an errno's name.
    pub result: String,
    pub errno: Option<i32>,
    pub ms: u64,
    pub icmp: Option<Icmp>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Icmp {
    /// `icmp` or `icmp6`.
    pub protocol: String,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
    pub name: String,
    pub from: Option<String>,
    pub from_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub version: String,
    pub cipher_suite: String,
    pub alpn: Option<String>,
    pub chain: Vec<Cert>,
    pub verdict: String,
    pub verdict_detail: Option<String>,
    pub verified_name: String,
    /// How many certificates were sent, when more than the chain keeps.
    pub chain_sent: Option<u32>,
    /// On the SMTP relay port: each certificate's digests, for DANE.
    pub digests: Option<Vec<CertDigests>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsVersions {
    /// `server_hello`, `alert`, `closed`, `reset`, `timeout`, `not_tls`,
    /// `malformed` or `no_connection`.
    pub answer: String,
    /// `TLS 1.0`, ...
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    pub alert: Option<String>,
    pub second_connection: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cert {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub sans: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub lifetime_days: i64,
    pub key_type: String,
    pub key_bits: u32,
    pub signature_algorithm: String,
    pub self_issued: bool,
    pub is_ca: bool,
    #[serde(default)]
    pub serial_negative: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub location: Option<String>,
    pub server: Option<String>,
    pub hsts: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// `info`, `warn` or `fail`.
    pub severity: String,
    pub code: String,
    pub host: String,
    pub service: Option<String>,
    pub port: Option<u16>,
    pub address: Option<String>,
    pub message: String,
    pub hint: String,
    /// The RFC 8460 result type (`certificate-expired`...), when the code is one.
    pub tlsrpt_result: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub probes: usize,
    pub ok: usize,
    pub not_ok: usize,
    pub verdicts: VerdictCounts,
    pub info: usize,
    pub warn: usize,
    pub fail: usize,
    pub exit_code: u8,
    /// `warn` or `fail`.
    pub fail_on: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictCounts {
    pub ok: usize,
    pub not_offered: usize,
    pub warn: usize,
    pub fail: usize,
}

/// Pretty JSON, for assertion messages.
fn pretty(value: &impl Serialize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match serde_json::to_string_pretty(value) {
        Ok(text) => f.write_str(&text),
        Err(e) => write!(f, "<unprintable: {e}>"),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        pretty(self, f)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        pretty(self, f)
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        pretty(self, f)
    }
}

impl fmt::Display for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        pretty(self, f)
    }
}

impl Report {
    /// The first probe of the first target; panics with the report if none.
    #[track_caller]
    pub fn first_probe(&self) -> &Probe {
        self.targets
            .first()
            .and_then(|t| t.probes.first())
            .unwrap_or_else(|| panic!("no probe in the report:\n{self}"))
    }

    /// The probes of the first target.
    #[track_caller]
    pub fn probes(&self) -> &[Probe] {
        match self.targets.first() {
            Some(t) => &t.probes,
            None => panic!("no target in the report:\n{self}"),
        }
    }

    /// The probe of `service` of the first target; panics with the report if absent.
    #[track_caller]
    pub fn probe(&self, service: &str) -> &Probe {
        self.probes()
            .iter()
            .find(|p| p.service == service)
            .unwrap_or_else(|| panic!("no {service} probe in the report:\n{self}"))
    }

    /// The codes of every finding, in report order.
    pub fn codes(&self) -> Vec<&str> {
        self.findings.iter().map(|f| f.code.as_str()).collect()
    }

    /// The codes of the findings at severity `fail`.
    pub fn fail_codes(&self) -> Vec<&str> {
        self.findings
            .iter()
            .filter(|f| f.severity == "fail")
            .map(|f| f.code.as_str())
            .collect()
    }

    /// The finding with `code`; panics with the findings if there is none.
    #[track_caller]
    pub fn finding(&self, code: &str) -> &Finding {
        self.findings
            .iter()
            .find(|f| f.code == code)
            .unwrap_or_else(|| panic!("no {code} finding in {:#?}", self.findings))
    }
}

impl Probe {
    /// The names of the phases, in order.
    pub fn phase_names(&self) -> Vec<&str> {
        self.phases.iter().map(|p| p.phase.as_str()).collect()
    }

    /// The detail; panics with the probe if there is none.
    #[track_caller]
    pub fn detail(&self) -> &str {
        self.detail
            .as_deref()
            .unwrap_or_else(|| panic!("no detail in the probe:\n{self}"))
    }

    /// The TLS facts; panics with the probe if there are none.
    #[track_caller]
    pub fn tls(&self) -> &Tls {
        self.tls
            .as_ref()
            .unwrap_or_else(|| panic!("no TLS facts in the probe:\n{self}"))
    }

    /// The HTTP facts; panics with the probe if there are none.
    #[track_caller]
    pub fn http(&self) -> &Http {
        self.http
            .as_ref()
            .unwrap_or_else(|| panic!("no HTTP facts in the probe:\n{self}"))
    }

    /// Whether a note contains `words`.
    pub fn noted(&self, words: &str) -> bool {
        self.notes.iter().any(|n| n.contains(words))
    }
}

/// One line of `--format jsonl` (`src/report.jsonl.schema.json`), by its `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Host(Box<HostRecord>),
    Domain(DomainRecord),
    Summary(RunRecord),
}

/// A host's line: its target of the JSON report, its findings and exit status.
#[derive(Debug, Clone, Deserialize)]
pub struct HostRecord {
    pub schema_version: u32,
    #[serde(flatten)]
    pub target: Target,
    /// This machine's facts, on the first host of the run they explain.
    pub local: Option<Local>,
    pub findings: Vec<Finding>,
    pub exit_code: u8,
}

/// An --mx mail domain's line.
#[derive(Debug, Clone, Deserialize)]
pub struct DomainRecord {
    pub schema_version: u32,
    #[serde(flatten)]
    pub lookup: MxLookup,
    pub findings: Vec<Finding>,
    pub exit_code: u8,
}

/// The last line of a run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub schema_version: u32,
    pub tool: Tool,
    pub command: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub hosts: u64,
    pub domains: u64,
    pub summary: Summary,
    pub input: InputCounts,
    pub interrupted: bool,
    pub unfinished: u64,
    pub exit_code: u8,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputCounts {
    pub lines: u64,
    pub bad_lines: u64,
    pub duplicates: u64,
    pub other_shards: u64,
}

/// The lines of a `--format jsonl` run, read.
#[derive(Debug, Clone)]
pub struct Lines {
    pub records: Vec<Record>,
}

impl Lines {
    /// The host records, in the order written.
    pub fn hosts(&self) -> Vec<&HostRecord> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Host(h) => Some(&**h),
                _ => None,
            })
            .collect()
    }

    /// The domain records (--mx), in the order written.
    pub fn domains(&self) -> Vec<&DomainRecord> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Domain(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    /// The summary: the last line, and the only one.
    #[track_caller]
    pub fn summary(&self) -> &RunRecord {
        let summaries: Vec<&RunRecord> = self
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Summary(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(summaries.len(), 1, "one summary line: {:#?}", self.records);
        assert!(
            matches!(self.records.last(), Some(Record::Summary(_))),
            "the summary is the last line"
        );
        summaries[0]
    }
}
