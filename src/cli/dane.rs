//! The DNSSEC options of DANE, shared by `check` and `policy`.

use clap::Args;
use std::path::PathBuf;

/// Who decides whether TLSA records are DNSSEC-secure (DANE, with --mx).
#[derive(Debug, Clone, Args)]
pub struct DaneArgs {
    /// Validate DNSSEC from this trust anchor instead of the root's: a file of
    /// DS or DNSKEY records in zone-file format (e.g. `lab.test. IN DS 12345 13
    /// 2 AB…`), for a private signed tree. [default: the root's key, built in]
    #[arg(long, value_name = "FILE", conflicts_with = "trust_ad")]
    pub trust_anchor: Option<PathBuf>,

    /// Take the AD bit of the --dns-server (a validating resolver you trust,
    /// on a path you trust: 127.0.0.53, your own unbound) as the DNSSEC verdict,
    /// as Postfix does, instead of validating the signatures in mailport.
    #[arg(long, requires = "dns_server")]
    pub trust_ad: bool,
}
