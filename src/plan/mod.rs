//! Arguments → a validated plan: plain data at the ground floor of the
//! pipeline. Every check of user input happens here, so that a bad input is
//! one clear error (exit 2) before anything touches the network, and every
//! input is read once (the CA file, this host's name). The plan owns its
//! types and imports no later stage; nothing rewrites it once built.

mod anchor;
mod hosts;
mod input;
mod local;
mod policy;
mod shard;

use hosts::{spoken, HostRules};

pub use anchor::{Anchor, AnchorKey, Validation};
pub use local::LocalPaths;
pub use policy::{parse_at, PolicyChecks, MTA_STS_PORT_ENV};
pub use shard::{Shard, SHARD_INDEX_ENV};

pub use input::{
    host_hash, local_fqdn, parse_dns_server, parse_host, parse_resolve, read_ca_file,
    select_probes, split_port, standard_probe, unicode_form, HostLine, HostLines, HostsFile,
    DEFAULT_DNS_PORT, HOSTS_LINE_MAX_BYTES,
};

use crate::cli::{self, CheckArgs, DnsArgs, FailOn, LocalArgs, PtrArgs};
use crate::codes::Severity;
use crate::service::{self, Service};
use anyhow::{anyhow, bail, Result};
use input::check_ehlo_name;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The command a plan carries out, as named in the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    #[default]
    Check,
    Ptr,
    Local,
    /// `mailport policy`: the mail domains' TLS promises against their MX hosts.
    Policy,
}

/// Why a host is in the plan and the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A host the user asked to check.
    #[default]
    Target,
    /// A reference host probed on the same ports, to tell a block on this side from one at the server.
    Control,
}

/// Which address families to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Any,
    V4,
    V6,
}

impl Family {
    pub fn admits(self, addr: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

/// When the path to a failing port is traced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TraceMode {
    /// A port that timed out while another port of its address connected.
    #[default]
    Auto,
    /// --trace: every port whose connection failed.
    Always,
    /// --no-trace.
    Never,
}

/// Per-phase time limits of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the TCP handshake completes.
    pub connect: Duration,
    /// From connected until the server's greeting is complete.
    pub greeting: Duration,
    /// For each later reply, and for a TLS handshake.
    pub reply: Duration,
    /// The second look at a port that sent no greeting (--sniff-timeout):
    /// its connections, TLS handshake and `HEAD /` all fit in it.
    pub sniff: Duration,
}

/// How much a run may do: at once, and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At most this many probes at the same moment.
    pub max_probes: usize,
    /// At most this many probes (each holds one connection at a time) to
    /// one address at the same moment.
    pub max_per_address: usize,
    /// The whole run (MX lookups, resolution, probes, DNS checks) ends by then.
    pub deadline: Duration,
}

/// The name mailport announces in EHLO, decided once per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ehlo {
    /// --ehlo, or this host's fully qualified name.
    Name(String),
    /// No usable name: the address literal of each connection's local address
    /// (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
    AddressLiteral,
}

impl Ehlo {
    /// The EHLO argument for a connection from `local`.
    pub fn for_local(&self, local: Option<IpAddr>) -> String {
        match (self, local) {
            (Ehlo::Name(n), _) => n.clone(),
            (Ehlo::AddressLiteral, Some(IpAddr::V4(a))) => format!("[{a}]"),
            (Ehlo::AddressLiteral, Some(IpAddr::V6(a))) => format!("[IPv6:{a}]"),
            (Ehlo::AddressLiteral, None) => "[127.0.0.1]".to_string(),
        }
    }
}

/// Certificates trusted besides the system's roots (--ca-file), read once.
#[derive(Debug, Clone)]
pub struct CaFile {
    pub path: PathBuf,
    pub certs: Vec<CertificateDer<'static>>,
}

/// Where DNS questions go, from `--dns-server` and `--dns-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsConfig {
    /// `None`: the system's resolver.
    pub server: Option<SocketAddr>,
    /// How long to wait for each answer.
    pub timeout: Duration,
}

/// What the name checks need: where DNS questions go, and how far to go.
#[derive(Debug, Clone)]
pub struct NameChecks {
    pub dns: DnsConfig,
    /// Check the reverse DNS of every address, not only of public ones
    /// (with --dns-server, and for `mailport ptr`).
    pub every_address: bool,
    /// --mx: the hosts are mail domains; their MX hosts are checked.
    pub mx: bool,
    /// The --resolve overrides, for MX hosts found at run time.
    pub overrides: BTreeMap<String, Vec<IpAddr>>,
    /// Who decides whether TLSA records are DNSSEC-secure (DANE).
    pub validation: Validation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host as given (trailing dot and brackets removed).
    pub host: String,
    /// Set when the host is an IP address.
    pub literal: Option<IpAddr>,
    /// Addresses given with --resolve.
    pub overrides: Vec<IpAddr>,
    pub tls_name: String,
    pub role: Role,
    /// `HOST:PORT`: only this port, spoken as its standard service, instead
    /// of the plan's probes.
    pub only: Option<Probe>,
}

impl Target {
    /// What makes two hosts given the same: the name, and the port if one was given.
    pub fn key(&self) -> String {
        match &self.only {
            Some(p) => format!("{}:{}", self.host, p.port),
            None => self.host.clone(),
        }
    }
}

/// One probe to make on every address of every target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub service: &'static Service,
    pub port: u16,
    /// The user asked for this probe by name or port (--service, --port);
    /// false for the default sweep, where a closed port is "not offered".
    pub requested: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub command: Command,
    /// The hosts given as arguments, then the control hosts; the lines of
    /// --hosts-file come later, read while the run goes.
    pub targets: Vec<Target>,
    /// --hosts-file: more hosts to check, one per line.
    pub hosts_file: Option<HostsFile>,
    /// --tls-name, for every host to check.
    pub tls_name: Option<String>,
    /// --shard: the part of the hosts to check that this run takes.
    pub shard: Option<Shard>,
    pub probes: Vec<Probe>,
    pub family: Family,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub ehlo: Ehlo,
    pub ca: Option<CaFile>,
    pub fail_on: Severity,
    /// Reverse DNS, MX, and where DNS questions go.
    pub names: NameChecks,
    /// Where this machine's facts are read (`mailport local`, and `check`
    /// when a mail port failed to connect).
    pub local: LocalPaths,
    pub trace: TraceMode,
    /// `-vv`: every probe writes its dialogue down.
    pub transcript: bool,
    /// Check each --mx mail domain's TLS promises (MTA-STS, TLS-RPT, DANE).
    pub policy: Option<PolicyChecks>,
    /// --at: the UNIX time certificates are verified at, instead of now.
    pub at: Option<i64>,
}

impl Plan {
    pub fn from_args(args: &CheckArgs) -> Result<Plan> {
        let mut overrides: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
        for r in &args.resolve {
            let (host, addr) = parse_resolve(r)?;
            let addrs = overrides.entry(host).or_default();
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if let Some(n) = &args.tls_name {
            if ServerName::try_from(n.as_str()).is_err() {
                bail!(
                    "--tls-name: '{}' is not a valid name to verify a certificate against",
                    crate::escape::shown(n)
                );
            }
        }
        let family = if args.family.ipv4 {
            Family::V4
        } else if args.family.ipv6 {
            Family::V6
        } else {
            Family::Any
        };
        let probes = select_probes(&args.services, &args.ports)?;
        let rules = HostRules {
            family,
            mx: args.mx,
            tls_name: args.tls_name.as_deref(),
            overrides: &overrides,
            spoken: spoken(&probes),
        };
        let mut targets: Vec<Target> = Vec::new();
        let hosts = args.hosts.iter().map(|h| (h, Role::Target));
        let controls = args.control.iter().map(|h| (h, Role::Control));
        for (raw, role) in hosts.chain(controls) {
            let target = rules.target(raw, role).map_err(|e| match role {
                Role::Control => anyhow!("--control: {e:#}"),
                Role::Target => e,
            })?;
            if targets.iter().any(|t: &Target| t.key() == target.key()) {
                if role == Role::Control {
                    bail!(
                        "--control {} is also a host to check: a control host must be another host",
                        target.host
                    );
                }
                continue;
            }
            targets.push(target);
        }
        let hosts_file = match &args.hosts_file {
            Some(path) => Some(HostsFile::check(path)?),
            None => None,
        };
        let shard = match &args.shard {
            Some(text) => Some(Shard::parse(
                text,
                std::env::var(SHARD_INDEX_ENV).ok().as_deref(),
            )?),
            None => None,
        };
        // With --mx, --resolve may name MX hosts, which are only known
        // later; with --hosts-file, hosts of the file.
        for host in overrides
            .keys()
            .filter(|_| !args.mx && args.hosts_file.is_none())
        {
            if !targets.iter().any(|t| t.host.eq_ignore_ascii_case(host)) {
                bail!("--resolve names {host}, which is not one of the hosts to check");
            }
        }
        let ehlo = match &args.ehlo {
            Some(name) => {
                check_ehlo_name(name)?;
                Ehlo::Name(name.clone())
            }
            None => local_fqdn().map_or(Ehlo::AddressLiteral, Ehlo::Name),
        };
        let ca = match &args.ca_file {
            // Read it now, once: a bad file is a usage error, not a probe failure.
            Some(path) => Some(CaFile {
                certs: read_ca_file(path)?,
                path: path.clone(),
            }),
            None => None,
        };
        let policy = args
            .mx
            .then(|| PolicyChecks::new(args.connect_timeout, args.reply_timeout))
            .transpose()?;
        Ok(Plan {
            command: Command::Check,
            targets,
            hosts_file,
            tls_name: args.tls_name.clone(),
            shard,
            probes,
            family,
            timeouts: Timeouts {
                connect: args.connect_timeout,
                greeting: args.greeting_timeout,
                reply: args.reply_timeout,
                sniff: args.sniff_timeout,
            },
            limits: Limits {
                deadline: args.deadline,
                max_probes: usize::from(args.max_probes),
                max_per_address: usize::from(args.max_per_address),
            },
            ehlo,
            ca,
            fail_on: match args.fail_on {
                FailOn::Warn => Severity::Warn,
                FailOn::Fail => Severity::Fail,
            },
            names: NameChecks {
                mx: args.mx,
                overrides,
                validation: anchor::validation(&args.dane)?,
                ..name_checks(&args.dns)?
            },
            local: LocalPaths::from_env(),
            at: match &args.at {
                Some(text) => Some(parse_at(
                    text,
                    time::OffsetDateTime::now_utc().unix_timestamp(),
                )?),
                None => None,
            },
            trace: if args.trace {
                TraceMode::Always
            } else if args.no_trace {
                TraceMode::Never
            } else {
                TraceMode::Auto
            },
            transcript: args.verbose >= 2,
            policy,
        })
    }

    /// The plan of `mailport policy DOMAIN...`: `check --mx --service smtp`
    /// with the domains' TLS promises.
    pub fn for_policy(args: &cli::PolicyArgs) -> Result<Plan> {
        let plan = Plan::from_args(&args.as_check())?;
        Ok(Plan {
            command: Command::Policy,
            ..plan
        })
    }

    /// The plan of `mailport ptr ADDR...`: the reverse DNS of each address, no probes.
    pub fn for_ptr(args: &PtrArgs) -> Result<Plan> {
        let mut targets: Vec<Target> = Vec::new();
        for raw in &args.addrs {
            let text = raw.trim();
            let unbracketed = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(text);
            let ip: IpAddr = unbracketed.parse().map_err(|_| {
                anyhow!("'{}' is not an IPv4 or IPv6 address; `mailport ptr` checks addresses (for a host name: mailport check NAME)", crate::escape::shown(raw))
            })?;
            if targets.iter().any(|t| t.literal == Some(ip)) {
                continue;
            }
            targets.push(Target {
                host: ip.to_string(),
                literal: Some(ip),
                overrides: Vec::new(),
                tls_name: ip.to_string(),
                role: Role::Target,
                only: None,
            });
        }
        let names = NameChecks {
            every_address: true,
            ..name_checks(&args.dns)?
        };
        Ok(Plan {
            command: Command::Ptr,
            targets,
            hosts_file: None,
            tls_name: None,
            shard: None,
            probes: Vec::new(),
            family: Family::Any,
            timeouts: Timeouts {
                connect: names.dns.timeout,
                greeting: names.dns.timeout,
                reply: names.dns.timeout,
                sniff: names.dns.timeout,
            },
            // A PTR question, then the forward questions at once: two answers'
            // time, with room to spare.
            limits: Limits {
                deadline: names.dns.timeout * 3,
                max_probes: usize::from(cli::DEFAULT_MAX_PROBES),
                max_per_address: usize::from(cli::DEFAULT_MAX_PER_ADDRESS),
            },
            ehlo: Ehlo::AddressLiteral,
            ca: None,
            fail_on: match args.fail_on {
                FailOn::Warn => Severity::Warn,
                FailOn::Fail => Severity::Fail,
            },
            names,
            local: LocalPaths::from_env(),
            trace: TraceMode::Never,
            transcript: false,
            policy: None,
            at: None,
        })
    }

    /// The plan of `mailport local`: no targets, no probes; this machine's facts.
    pub fn for_local(args: &LocalArgs) -> Result<Plan> {
        let local = LocalPaths::choose(
            args.csf_conf.as_ref(),
            args.proc_net.as_ref(),
            args.iptables_save.as_deref(),
            args.ip6tables_save.as_deref(),
            args.nft.as_deref(),
        );
        let dns = DnsConfig {
            server: None,
            timeout: Duration::from_secs(5),
        };
        Ok(Plan {
            command: Command::Local,
            targets: Vec::new(),
            hosts_file: None,
            tls_name: None,
            shard: None,
            probes: Vec::new(),
            family: Family::Any,
            timeouts: Timeouts {
                connect: dns.timeout,
                greeting: dns.timeout,
                reply: dns.timeout,
                sniff: dns.timeout,
            },
            limits: Limits {
                deadline: dns.timeout,
                max_probes: usize::from(cli::DEFAULT_MAX_PROBES),
                max_per_address: usize::from(cli::DEFAULT_MAX_PER_ADDRESS),
            },
            ehlo: Ehlo::AddressLiteral,
            ca: None,
            fail_on: match args.fail_on {
                FailOn::Warn => Severity::Warn,
                FailOn::Fail => Severity::Fail,
            },
            names: NameChecks {
                dns,
                every_address: false,
                mx: false,
                overrides: BTreeMap::new(),
                validation: Validation::RootAnchor,
            },
            local,
            trace: TraceMode::Never,
            transcript: false,
            policy: None,
            at: None,
        })
    }

    /// A host to check from a line of --hosts-file, checked like a HOST
    /// argument; the error says why the line is not one.
    pub fn host_of_line(&self, raw: &str) -> Result<Target> {
        HostRules {
            family: self.family,
            mx: self.names.mx,
            tls_name: self.tls_name.as_deref(),
            overrides: &self.names.overrides,
            spoken: spoken(&self.probes),
        }
        .target(raw, Role::Target)
    }

    pub fn needs_tls(&self) -> bool {
        let only = self.targets.iter().filter_map(|t| t.only.as_ref());
        self.probes
            .iter()
            .chain(only)
            .any(|p| p.service.tls != service::TlsMode::None)
    }

    /// The probes to make on each address of `t`: its own port, or the plan's.
    pub fn probes_of<'a>(&'a self, t: &'a Target) -> &'a [Probe] {
        match &t.only {
            Some(p) => std::slice::from_ref(p),
            None => &self.probes,
        }
    }
}

/// Where DNS questions go, from --dns-server and --dns-timeout.
fn name_checks(args: &DnsArgs) -> Result<NameChecks> {
    let server = match &args.dns_server {
        Some(text) => Some(parse_dns_server(text).map_err(|e| anyhow!("--dns-server {e}"))?),
        None => None,
    };
    Ok(NameChecks {
        dns: DnsConfig {
            server,
            timeout: args.dns_timeout,
        },
        // The user chose the server that holds their records: check every address.
        every_address: server.is_some(),
        mx: false,
        overrides: BTreeMap::new(),
        validation: Validation::RootAnchor,
    })
}
