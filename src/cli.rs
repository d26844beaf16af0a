//! The command line, with clap derive. Defaults are stated in each option's help.

mod dane;
mod family;
use clap::{Args, Parser, Subcommand, ValueEnum};

mod policy;
pub use dane::DaneArgs;
pub use family::FamilyArgs;
pub use policy::PolicyArgs;
use policy::POLICY_EXAMPLES;
use std::path::PathBuf;
use std::time::Duration;

mod help;
pub use help::{command, try_parse};
use help::{
    CHECK_SHORT_EXAMPLES, EXPLAIN_EXAMPLES, GENERATE_EXAMPLES, LOCAL_SHORT_EXAMPLES,
    POLICY_SHORT_EXAMPLES, PTR_EXAMPLES,
};

/// At most this many probes run at the same moment, by default (--max-probes).
pub const DEFAULT_MAX_PROBES: u16 = 64;

/// At most this many connections to one address at the same moment, by
/// default (--max-per-address): the default sweep of 9 ports, and one more.
pub const DEFAULT_MAX_PER_ADDRESS: u16 = 10;

const EXAMPLES: &str = "\
Examples:
  Check every mail port of a mail server (SMTP, IMAP, POP3, webmail), as text:
    mailport check mail.example.org

  Check the mail servers of a domain (its MX hosts), with their reverse DNS:
    mailport check example.org --mx

  Check the reverse DNS of a sending server's addresses on their own:
    mailport ptr 192.0.2.25 2001:db8::25

  Check a test server on a custom port against its real name, trusting a
  private CA, as JSON for a script (exit code 1 if anything failed):
    mailport check mail.example.org --resolve mail.example.org:192.0.2.10 \\
        --port 2525/smtp --ca-file ca.pem --json

Exit status: 0 nothing failed (at the --fail-on level), 1 something failed,
2 mailport could not do its job (bad input, usage error, internal error).

Every code in a report: `mailport explain CODE`. The whole reference: the
docs/ folder of the source, and `man mailport`.";

/// Diagnose a host's mail ports: which work, which don't, and why.
#[derive(Debug, Parser)]
#[command(name = "mailport", version, after_long_help = EXAMPLES, propagate_version = true, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe the mail ports of each HOST concurrently and diagnose what fails.
    ///
    /// Resolves each host (A and AAAA) and probes every address at once: SMTP on
    /// 25 and 587 with STARTTLS and 465 with implicit TLS, IMAP on 143 with
    /// STARTTLS and 993, POP3 on 110 with STLS and 995, webmail on 80 and 443; the
    /// obsolete 585 (imap4-ssl) only when asked for. Each probe records every
    /// phase with its time, the server's greeting and capabilities, the logins
    /// offered before and after TLS, the TLS version, cipher and ALPN, and the
    /// certificate chain with a real verification verdict. Findings say what
    /// failed and what to do.
    #[command(after_help = CHECK_SHORT_EXAMPLES, after_long_help = EXAMPLES)]
    Check(Box<CheckArgs>),
    /// Check the reverse DNS of addresses on their own: PTR and forward confirmation.
    ///
    /// For each ADDR (IPv4 or IPv6): its PTR records, and whether each PTR name
    /// resolves back to the address (forward-confirmed reverse DNS, which
    /// receivers such as Gmail and Yahoo require). Same verdicts, JSON and exit
    /// status as the reverse-DNS part of `mailport check`.
    #[command(after_help = PTR_EXAMPLES)]
    Ptr(PtrArgs),
    /// Run on the mail server or on the machine that cannot send: what blocks mail here.
    ///
    /// Reads, without sending anything: which mail ports (25, 465, 587, 143,
    /// 993, 110, 995) listen on which addresses (/proc/net/tcp and tcp6, no
    /// root needed); ConfigServer Firewall's csf.conf (SMTP_BLOCK,
    /// SMTP_ALLOWLOCAL, SMTP_ALLOWUSER, SMTP_ALLOWGROUP, SMTP_PORTS, TCP_IN,
    /// TCP_OUT), with who may send out and whether the user running mailport
    /// may; and the iptables and nftables rules that drop or reject a mail
    /// port, owner matches included (iptables-save, ip6tables-save, nft list
    /// ruleset: they need root; without it mailport says what it could not
    /// read). Run it as the user whose mail fails (e.g. the web server's user
    /// for webmail), and as root to include the firewall rules. Same findings,
    /// JSON and exit status as `mailport check`.
    #[command(after_help = LOCAL_SHORT_EXAMPLES, after_long_help = LOCAL_EXAMPLES)]
    Local(LocalArgs),
    /// Check a mail domain's TLS promises against what each MX address serves.
    ///
    /// For each DOMAIN: its MX hosts, each address of each probed on port 25
    /// (STARTTLS and the certificate, verified for the MX name); its MTA-STS
    /// record (_mta-sts TXT) and policy, fetched from
    /// https://mta-sts.DOMAIN/.well-known/mta-sts.txt as a sending server
    /// fetches it (a valid certificate, no redirects, text/plain, at most
    /// 64 KiB), with each MX matched against the policy's patterns; its
    /// TLS-RPT record (_smtp._tls TXT). In enforce mode an MX that the policy
    /// does not cover, or whose certificate fails, is a failure: senders that
    /// enforce MTA-STS stop delivering to it. Findings carry RFC 8460's
    /// result types. `check DOMAIN --mx` includes the same section. Same
    /// JSON and exit status as `mailport check`.
    #[command(after_help = POLICY_SHORT_EXAMPLES, after_long_help = POLICY_EXAMPLES)]
    Policy(Box<PolicyArgs>),
    /// Explain an outcome or finding code: what it means, its usual causes, what to do.
    ///
    /// Every probe ends with an outcome code and every finding has a code
    /// (both in the text report and in JSON). This prints a code's row of the
    /// table those come from: its meaning, its usual causes, what to do, and
    /// the advice for each server software mailport recognises. A misspelt
    /// code gets the nearest one suggested.
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// Write the man page or a shell's completions (for packagers and installs).
    #[command(hide = true, after_help = GENERATE_EXAMPLES)]
    Generate(GenerateArgs),
}

const LOCAL_EXAMPLES: &str = "\
Examples:
  On a cPanel server whose webmail cannot send, as root (firewall rules too):
    mailport local

  As the user webmail runs as, with its verdict for that user:
    sudo -u nobody mailport local

  Another csf.conf, and no nftables:
    mailport local --csf-conf /tmp/csf.conf --nft none

Each place can also be set in the environment, which `mailport check` reads
too: MAILPORT_CSF_CONF, MAILPORT_PROC_NET, MAILPORT_IPTABLES_SAVE,
MAILPORT_IP6TABLES_SAVE, MAILPORT_NFT.

Exit status: 0 nothing failed (at the --fail-on level), 1 something failed,
2 mailport could not do its job.";

#[derive(Debug, Args)]
pub struct LocalArgs {
    /// ConfigServer Firewall's configuration file. [env: MAILPORT_CSF_CONF]
    /// [default: /etc/csf/csf.conf]
    #[arg(long, value_name = "PATH")]
    pub csf_conf: Option<PathBuf>,

    /// The directory that holds the kernel's socket tables `tcp` and `tcp6`.
    /// [env: MAILPORT_PROC_NET] [default: /proc/net]
    #[arg(long, value_name = "DIR")]
    pub proc_net: Option<PathBuf>,

    /// The command that prints the IPv4 firewall rules in iptables-save
    /// format (split on spaces; `none` to skip). [env: MAILPORT_IPTABLES_SAVE]
    /// [default: iptables-save]
    #[arg(long, value_name = "CMD")]
    pub iptables_save: Option<String>,

    /// The same for IPv6. [env: MAILPORT_IP6TABLES_SAVE] [default: ip6tables-save]
    #[arg(long, value_name = "CMD")]
    pub ip6tables_save: Option<String>,

    /// The command that prints the nftables ruleset (`none` to skip).
    /// [env: MAILPORT_NFT] [default: nft list ruleset]
    #[arg(long, value_name = "CMD")]
    pub nft: Option<String>,

    /// Exit with status 1 when a finding of at least this severity is present.
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "fail")]
    pub fail_on: FailOn,

    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub format: Format,

    /// Print the report as JSON (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// When to colour the text output: auto colours a terminal (not with
    /// NO_COLOR set or TERM=dumb; CLICOLOR_FORCE colours a pipe too); always
    /// and never win over the environment.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

/// Where DNS questions go; shared by `check` and `ptr`.
#[derive(Debug, Clone, Args)]
pub struct DnsArgs {
    /// Send every DNS question to this server (an IP address, optionally with a
    /// port: 192.0.2.53, [2001:db8::53]:5353) and report its own answers, with
    /// nothing answered from a cache, /etc/hosts or special-use rules. `check`
    /// then looks up the reverse DNS of every address, private and loopback
    /// ones too (of public ones only without it). [default: the system's resolver]
    #[arg(long, value_name = "ADDR")]
    pub dns_server: Option<String>,

    /// How long to wait for each DNS answer.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub dns_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct PtrArgs {
    /// IPv4 or IPv6 addresses.
    #[arg(value_name = "ADDR", required = true)]
    pub addrs: Vec<String>,

    #[command(flatten)]
    pub dns: DnsArgs,

    /// Exit with status 1 when a finding of at least this severity is present.
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "fail")]
    pub fail_on: FailOn,

    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub format: Format,

    /// Print the report as JSON (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// When to colour the text output: auto colours a terminal (not with
    /// NO_COLOR set or TERM=dumb; CLICOLOR_FORCE colours a pipe too); always
    /// and never win over the environment.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    /// JSON Lines: one object per host as it is done, then a summary.
    Jsonl,
    /// The monitoring plugins' format (Nagios, Icinga, Checkmk, Zabbix): one
    /// status line with perfdata, the findings after it; exit 0 OK, 1
    /// WARNING, 2 CRITICAL, 3 UNKNOWN (bad input or a failure of mailport).
    Nagios,
}

/// The output formats of `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
    /// The reference of docs/codes.md: an index, then every code in full.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Warn,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Host names or IP addresses of the mail servers to check. HOST:PORT
    /// ([2001:db8::1]:25 for IPv6) probes only that port, spoken as its
    /// standard service (587: submission), or, for a port that is no
    /// service's, as the one service given with -s (host:2525 -s smtp).
    #[arg(value_name = "HOST", required_unless_present = "hosts_file")]
    pub hosts: Vec<String>,

    /// Read more hosts from PATH (- for stdin), one per line, while the run
    /// goes (a file of any length: lines are read as hosts get checked).
    /// Blank lines and lines starting with # are skipped; a host seen before
    /// is skipped; a line that is not a host is reported on stderr with its
    /// number and skipped, and the run goes on.
    #[arg(long, value_name = "PATH")]
    pub hosts_file: Option<PathBuf>,

    /// Check only shard I of N of the hosts (I from 0 to N-1): those whose
    /// FNV-1a 64 hash of the host name (lower case, as written in the
    /// report) modulo N is I. N runs with I = 0..N-1 split a list without
    /// coordination; `env/N` takes I from $JOB_COMPLETION_INDEX (a
    /// Kubernetes Indexed Job). Control hosts are checked by every shard.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    /// Services to probe, by name or standard port, comma-separated (smtp,
    /// submission, submissions, imap, imaps, pop3, pop3s, http, https,
    /// imap4-ssl). [default: all but imap4-ssl]
    #[arg(
        short = 's',
        long = "service",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub services: Vec<String>,

    /// Probe a service on another port (NAME=PORT, e.g. submission=2587), or add a
    /// custom port spoken like a known service (PORT/NAME, e.g. 2525/smtp).
    /// With PORT/NAME and no --service, only the custom ports are probed. Repeatable.
    #[arg(short = 'p', long = "port", value_name = "SPEC")]
    pub ports: Vec<String>,

    #[command(flatten)]
    pub family: FamilyArgs,

    /// How long to wait for a connection to be accepted (e.g. 5s, 500ms,
    /// 1m30s; a bare number is seconds).
    #[arg(long = "timeout", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// How long to wait for the server's greeting once connected. Keep it above
    /// 6s: Postfix's postscreen delays its greeting on purpose.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub greeting_timeout: Duration,

    /// How long to wait for each later reply and for a TLS handshake.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub reply_timeout: Duration,

    /// How long the second look at a port that sent no greeting may take (0: none).
    ///
    /// After a port accepted the connection and sent no greeting, mailport
    /// tries a TLS handshake and `HEAD /` on two new connections at once,
    /// which tells implicit TLS or a web server on the port from a silent
    /// server. Never more than --reply-timeout nor past --deadline. A silent
    /// port costs at most --timeout + --greeting-timeout + this.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration_or_zero)]
    pub sniff_timeout: Duration,

    /// Overall limit for the whole check; probes still running then are cut short
    /// and reported as timed out, and probes not started yet as not_run. When
    /// the output is written host by host (--format jsonl, or text for several
    /// hosts), each host (each --mx domain with its MX hosts) has this limit
    /// from the moment its check starts.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub deadline: Duration,

    /// At most this many probes run at the same moment (1 to 1024).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PROBES, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_probes: u16,

    /// At most this many connections to one address at the same moment (1 to
    /// 1024). The default, 10, lets the default sweep of 9 ports run all at
    /// once, so a host whose ports are all filtered still takes about one
    /// timeout; servers that limit connections per client (Exim
    /// smtp_accept_max_per_host, Postfix smtpd_client_connection_count_limit)
    /// may turn some away: such a probe is retried once, alone. Lower it (e.g.
    /// 1) to stay under a strict limit.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PER_ADDRESS, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_per_address: u16,

    /// The name certificates are verified against and sent in SNI.
    /// [default: the HOST as given]
    #[arg(long, value_name = "NAME")]
    pub tls_name: Option<String>,

    /// Extra trusted CA certificates (PEM), added to the system's roots.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// A reference host probed on the same ports as HOST (e.g. a big provider's
    /// MX). When its port 25 also times out while its other ports connect, the
    /// block is on your side (your ISP, VPS provider or firewall), not at HOST.
    /// Its own problems are shown but never fail the check. Repeatable.
    #[arg(long, value_name = "HOST")]
    pub control: Vec<String>,

    /// Use ADDR for HOST instead of asking DNS (like curl's --resolve);
    /// certificates are still verified for HOST. Repeatable.
    #[arg(long, value_name = "HOST:ADDR")]
    pub resolve: Vec<String>,

    /// Treat each HOST as a mail domain: look up its MX records and check each
    /// MX host, in preference order.
    #[arg(long)]
    pub mx: bool,

    #[command(flatten)]
    pub dns: DnsArgs,

    #[command(flatten)]
    pub dane: DaneArgs,

    /// The name to announce in EHLO. [default: this machine's host name if it
    /// is fully qualified, else the connection's address literal, e.g. [192.0.2.1]]
    #[arg(long, value_name = "NAME")]
    pub ehlo: Option<String>,

    /// Exit with status 1 when a finding of at least this severity is present.
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "fail")]
    pub fail_on: FailOn,

    /// Output format: text, one JSON report, JSON Lines (one object per
    /// host, written as soon as the host is done, then a summary line), or
    /// nagios (one status line with perfdata, exit 0-3 as the monitoring
    /// plugins define). With several hosts, text is also written host by host.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub format: CheckFormat,

    /// Print the report as JSON (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// When to colour the text output: auto colours a terminal (not with
    /// NO_COLOR set or TERM=dumb; CLICOLOR_FORCE colours a pipe too); always
    /// and never win over the environment.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,

    /// Trace the path to every port whose connection failed: connections
    /// with rising TTL to the port and, beside it, to a port of the same
    /// address that connected, compared hop by hop to say where the port is
    /// blocked (this machine, a hop on the way, or the destination). The
    /// walks take at most 6 s and naming their hops (PTR) at most 2 s more,
    /// within --deadline. [default: only for a port that timed out while
    /// another port of its address connected]
    #[arg(long, conflicts_with = "no_trace")]
    pub trace: bool,

    /// Never trace, not even a port that timed out while another connected.
    #[arg(long)]
    pub no_trace: bool,

    /// Show each probe's details: phases and times, greeting, capabilities,
    /// TLS and the certificate chain. Twice (-vv): also each probe's
    /// dialogue as it went over the wire (-> sent, <- received, escaped;
    /// == events such as TLS started), at most 100 lines a probe, in the
    /// text and as `transcript` in the JSON.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Text with only the findings and the summary line (no probe table).
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Verify certificates as of another moment than now, and count their
    /// days left from it: +30d ("will this still pass next month?"), +12h,
    /// +2w, or a date (2027-01-01, midnight UTC) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// An outcome or finding code (e.g. connect_timeout); omit to list them all.
    #[arg(value_name = "CODE")]
    pub code: Option<String>,

    /// Output format: text, JSON, or Markdown (the reference of docs/codes.md).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub format: ExplainFormat,

    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to write.
    #[arg(value_enum, value_name = "WHAT")]
    pub what: Generated,

    /// Write the file into DIR (mailport.1, mailport.bash, _mailport or
    /// mailport.fish) instead of to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// What `mailport generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    /// The man page, mailport(1): every command and option.
    Man,
    /// Completions for bash.
    Bash,
    /// Completions for zsh.
    Zsh,
    /// Completions for fish.
    Fish,
}

/// The longest duration an option takes.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Parse a duration between 1 ms and 24 hours: a bare number of seconds
/// (`5`, `2.5`), a number with a unit (`5s`, `500ms`, `1.5s`, `2h`), or
/// humantime's forms (`1m30s`, `1h 30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let shown = crate::escape::shown(text);
    let decimal = |number: &str, scale: f64| -> Option<Duration> {
        let value: f64 = number.parse().ok()?;
        Duration::try_from_secs_f64(value * scale).ok()
    };
    let parsed = if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        decimal(t, 1.0)
    } else if let Ok(d) = humantime::parse_duration(t) {
        Some(d)
    } else {
        // A fraction with a unit (1.5s, 0.5m), which humantime does not take.
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.'));
        split.and_then(|i| {
            let scale = match &t[i..] {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return None,
            };
            decimal(&t[..i], scale)
        })
    };
    let d =
        parsed.ok_or_else(|| format!("'{shown}' is not a duration (e.g. 5s, 500ms, 1m30s, 2h)"))?;
    if d < Duration::from_millis(1) || d > MAX_DURATION {
        return Err(format!("'{shown}' is out of range (1ms to 24h)"));
    }
    Ok(d)
}

/// A duration as [`parse_duration`] reads it, or 0 (`0`, `0s`, `0ms`): off.
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.trim_end_matches(['m', 's'])
        .chars()
        .all(|c| c == '0' || c == '.')
        && t.starts_with('0')
    {
        return Ok(Duration::ZERO);
    }
    parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
        command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0.5m").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("24h").unwrap(), MAX_DURATION);
        assert!(parse_duration("25h").is_err());
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("999999999999").is_err());
        for off in ["0", "0s", "0ms", "0.0s"] {
            assert_eq!(
                parse_duration_or_zero(off).unwrap(),
                Duration::ZERO,
                "{off}"
            );
        }
        assert_eq!(
            parse_duration_or_zero("0.5s").unwrap(),
            Duration::from_millis(500)
        );
        assert!(parse_duration_or_zero("0h").is_err());
        assert!(parse_duration_or_zero("-1").is_err());
    }
}
