//! The address-family options, shared by `check` and `policy`.

use clap::Args;

/// Which addresses of a host are probed.
#[derive(Debug, Clone, Copy, Args)]
pub struct FamilyArgs {
    /// Probe IPv4 addresses only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Probe IPv6 addresses only.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
}
