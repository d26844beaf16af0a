//! What this machine says about its own mail ports: who runs mailport, what
//! listens on the mail ports, ConfigServer Firewall's settings and the
//! firewall rules that name a mail port or a socket's owner. Filled by
//! `local/` (`mailport local`, and `check` when a mail port failed), read
//! by diagnosis. Plain data: every fact says where it was read, and what
//! could not be read says so instead of being guessed.

use crate::escape::SafeText;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalFacts {
    /// This machine's host name (the kernel's): the `host` of local findings.
    pub host: SafeText,
    /// Who runs mailport: owner matches (CSF's SMTP_BLOCK) decide by it.
    pub process: Identity,
    /// The listening sockets on mail ports (`mailport local` only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub listeners: Option<Listeners>,
    /// ConfigServer Firewall's configuration file.
    pub csf: Csf,
    /// Each source of firewall rules mailport tried, with the rules it kept.
    pub firewall: Vec<RuleSource>,
    /// The accounts that matter: users and groups csf.conf names, and the
    /// MTA's users (exim, mailnull, Debian-exim, postfix), from /etc/passwd
    /// and /etc/group.
    pub accounts: Vec<Account>,
}

/// The effective user and group of the mailport process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub uid: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<SafeText>,
    pub gid: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub group: Option<SafeText>,
}

impl Identity {
    /// `uid 65534 (nobody)`.
    pub fn describe(&self) -> String {
        match &self.user {
            Some(u) => format!("uid {} ({u})", self.uid),
            None => format!("uid {}", self.uid),
        }
    }
}

/// How reading one source went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadStatus {
    Read,
    /// The file or the command does not exist here.
    NotFound,
    /// Not permitted (reading firewall rules needs root: CAP_NET_ADMIN).
    Denied,
    Failed,
    /// Not tried: turned off (`none`).
    Skipped,
}

impl ReadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadStatus::Read => "read",
            ReadStatus::NotFound => "not_found",
            ReadStatus::Denied => "denied",
            ReadStatus::Failed => "failed",
            ReadStatus::Skipped => "skipped",
        }
    }
}

/// One file or command and how reading it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRead {
    /// A path, or a command line.
    pub source: String,
    pub status: ReadStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<SafeText>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listeners {
    /// /proc/net/tcp and /proc/net/tcp6.
    pub sources: Vec<SourceRead>,
    /// Sockets in LISTEN state on a mail port, in port order.
    pub sockets: Vec<Listener>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Listener {
    pub port: u16,
    /// `0.0.0.0` or `::` for every address of the machine.
    pub address: IpAddr,
}

/// ConfigServer Firewall's csf.conf: the settings about mail, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Csf {
    pub path: String,
    pub status: ReadStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<SafeText>,
    /// Each setting mailport reads, with its line, in file order.
    pub settings: Vec<CsfSetting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsfSetting {
    pub name: String,
    /// The value without its quotes.
    pub value: SafeText,
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as written.
    pub text: SafeText,
}

impl Csf {
    pub fn get(&self, name: &str) -> Option<&CsfSetting> {
        // The last assignment wins, as in csf's own reading of the file.
        self.settings.iter().rev().find(|s| s.name == name)
    }

    /// A setting that is on (`"1"`).
    pub fn on(&self, name: &str) -> bool {
        self.get(name).is_some_and(|s| s.value.trim() == "1")
    }

    /// A comma-separated list setting, trimmed, empty items dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|s| {
                s.value
                    .split([',', ';'])
                    .map(|i| i.split_whitespace().collect::<String>())
                    .filter(|i| !i.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a port list setting (`"20,21,25,30000:35000"`) contains `port`;
    /// `None` when the setting is absent.
    pub fn ports_contain(&self, name: &str, port: u16) -> Option<bool> {
        self.get(name)?;
        Some(self.list(name).iter().any(|item| {
            let (a, b) = item.split_once(':').unwrap_or((item, item));
            match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) => (a..=b).contains(&port),
                _ => false,
            }
        }))
    }
}

/// The address family a set of rules applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Ipv4,
    Ipv6,
    /// nftables' `inet` tables: both.
    Any,
}

impl Family {
    pub fn admits(self, addr: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::Ipv4 => addr.is_ipv4(),
            Family::Ipv6 => addr.is_ipv6(),
        }
    }
}

/// One source of firewall rules: `iptables-save`, `ip6tables-save` or
/// `nft list ruleset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSource {
    pub read: SourceRead,
    /// `ipv4` for iptables-save, `ipv6` for ip6tables-save; nftables rules
    /// carry their table's family.
    pub family: Family,
    /// The rules that matter to mail: those naming a mail port or a socket's
    /// owner, and the jumps between chains. In chain order.
    pub rules: Vec<FwRule>,
}

/// The hook a base chain is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    Input,
    Output,
    Forward,
}

/// What a rule does with a packet it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    Drop,
    Reject,
    /// Continue in another chain (iptables -j CHAIN, nft jump/goto).
    Jump,
    Return,
    /// Anything else (LOG, MARK…): the packet goes on.
    Other,
}

/// A numeric owner match: `--uid-owner 0`, `! --uid-owner 0`, `meta skuid != 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMatch {
    pub negated: bool,
    pub first: u32,
    pub last: u32,
}

impl IdMatch {
    pub fn matches(&self, id: u32) -> bool {
        (self.first..=self.last).contains(&id) != self.negated
    }
}

/// A port match: `--dport 25`, `--dports 25,465,587`, `tcp dport != 25`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMatch {
    pub negated: bool,
    /// Inclusive ranges.
    pub ranges: Vec<(u16, u16)>,
}

impl PortMatch {
    pub fn matches(&self, port: u16) -> bool {
        self.ranges.iter().any(|&(a, b)| (a..=b).contains(&port)) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwRule {
    /// The table as named: `filter`, `inet filter`.
    pub table: SafeText,
    pub chain: SafeText,
    /// The hook when the chain is a base chain (OUTPUT, INPUT, FORWARD).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hook: Option<Hook>,
    /// 1-based position among the chain's rules, as listed.
    pub position: usize,
    /// The rule as the tool printed it.
    pub text: SafeText,
    pub action: Action,
    /// The chain of a jump.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<SafeText>,
    /// The destination ports the rule matches; absent: any port.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dport: Option<PortMatch>,
    /// True when the rule is limited to TCP (or a port match implies it).
    #[serde(default)]
    pub tcp: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uid: Option<IdMatch>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gid: Option<IdMatch>,
    /// `--suppl-groups`: the gid match also looks at supplementary groups.
    #[serde(default)]
    pub suppl_groups: bool,
    /// `-o lo` (`Some(true)`), `! -o lo` (`Some(false)`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub out_lo: Option<bool>,
    /// The rule has conditions mailport does not evaluate (addresses,
    /// connection state, other interfaces): it is never taken as the one
    /// that decides.
    #[serde(default)]
    pub other_conditions: bool,
}

impl FwRule {
    /// A rule as listed, its conditions not read yet: matches nothing in particular.
    pub fn new(
        table: &str,
        chain: &str,
        hook: Option<Hook>,
        position: usize,
        text: &str,
    ) -> FwRule {
        FwRule {
            table: crate::escape::escape_str(table),
            chain: crate::escape::escape_str(chain),
            hook,
            position,
            text: crate::escape::escape(text.as_bytes()),
            action: Action::Other,
            target: None,
            dport: None,
            tcp: false,
            uid: None,
            gid: None,
            suppl_groups: false,
            out_lo: None,
            other_conditions: false,
        }
    }
}

/// A user or group that csf.conf names, or an MTA's user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    /// `user` or `group`.
    pub kind: AccountKind,
    /// The uid of a user, the gid of a group; absent when it does not exist here.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<u32>,
    /// A user's primary group.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gid: Option<u32>,
    /// The user runs a mail transfer agent's deliveries.
    #[serde(default)]
    pub mta: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    User,
    Group,
}
