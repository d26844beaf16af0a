//! The options of `mailport policy`, and the `check` it runs.

use super::{
    parse_duration, CheckArgs, CheckFormat, ColorChoice, DaneArgs, DnsArgs, FailOn, FamilyArgs,
    Format, DEFAULT_MAX_PER_ADDRESS, DEFAULT_MAX_PROBES,
};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

pub(super) const POLICY_EXAMPLES: &str = "\
Examples:
  A domain's MTA-STS and TLS-RPT, against what its MX hosts serve:
    mailport policy example.org

  Will the certificates still pass in 30 days?
    mailport policy example.org --at +30d

Exit status: 0 nothing failed (at the --fail-on level), 1 something failed,
2 mailport could not do its job.";

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Mail domains.
    #[arg(value_name = "DOMAIN", required = true)]
    pub domains: Vec<String>,

    #[command(flatten)]
    pub family: FamilyArgs,

    /// How long to wait for a connection to be accepted (an MX, or the
    /// MTA-STS policy's web server).
    #[arg(long = "timeout", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// How long to wait for the server's greeting once connected.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub greeting_timeout: Duration,

    /// How long to wait for each later reply, a TLS handshake, and the
    /// MTA-STS policy's answer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub reply_timeout: Duration,

    /// Overall limit for the whole check.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub deadline: Duration,

    /// Extra trusted CA certificates (PEM), added to the system's roots, for
    /// the MX hosts and the MTA-STS policy's web server.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Use ADDR for HOST instead of asking DNS (an MX host, or mta-sts.DOMAIN);
    /// certificates are still verified for HOST. Repeatable.
    #[arg(long, value_name = "HOST:ADDR")]
    pub resolve: Vec<String>,

    #[command(flatten)]
    pub dns: DnsArgs,

    #[command(flatten)]
    pub dane: DaneArgs,

    /// Probe the MX hosts' SMTP on another port than 25 (smtp=PORT), e.g. in
    /// a lab. Repeatable.
    #[arg(short = 'p', long = "port", value_name = "SPEC")]
    pub ports: Vec<String>,

    /// The name to announce in EHLO. [default: this machine's host name if it
    /// is fully qualified, else the connection's address literal]
    #[arg(long, value_name = "NAME")]
    pub ehlo: Option<String>,

    /// Exit with status 1 when a finding of at least this severity is present.
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "fail")]
    pub fail_on: FailOn,

    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub format: Format,

    /// Print the report as JSON (same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// When to colour the text output. Colour is never used with NO_COLOR set.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,

    /// Show each probe's details: phases and times, greeting, capabilities,
    /// TLS and the certificate chain. Twice (-vv): also each probe's dialogue.
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

impl PolicyArgs {
    /// The `check --mx --service smtp` that `policy` runs.
    pub fn as_check(&self) -> CheckArgs {
        CheckArgs {
            hosts: self.domains.clone(),
            hosts_file: None,
            shard: None,
            services: vec!["smtp".into()],
            ports: self.ports.clone(),
            family: self.family,
            connect_timeout: self.connect_timeout,
            // check's default: the second look at a silent port.
            sniff_timeout: std::time::Duration::from_secs(2),
            greeting_timeout: self.greeting_timeout,
            reply_timeout: self.reply_timeout,
            deadline: self.deadline,
            max_probes: DEFAULT_MAX_PROBES,
            max_per_address: DEFAULT_MAX_PER_ADDRESS,
            tls_name: None,
            ca_file: self.ca_file.clone(),
            dane: self.dane.clone(),
            control: Vec::new(),
            resolve: self.resolve.clone(),
            mx: true,
            dns: self.dns.clone(),
            ehlo: self.ehlo.clone(),
            fail_on: self.fail_on,
            format: if self.json || self.format == Format::Json {
                CheckFormat::Json
            } else {
                CheckFormat::Text
            },
            json: false,
            color: self.color,
            trace: false,
            no_trace: false,
            verbose: self.verbose,
            quiet: self.quiet,
            at: self.at.clone(),
        }
    }
}
