//! Where this machine's facts are read: options, `MAILPORT_*` variables, the system's places.

use std::path::PathBuf;

/// Where `mailport local` reads this machine's facts. Each comes from its
/// option, else its environment variable, else the system's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPaths {
    /// ConfigServer Firewall's configuration (MAILPORT_CSF_CONF).
    pub csf_conf: PathBuf,
    /// The directory with the kernel's socket tables `tcp` and `tcp6` (MAILPORT_PROC_NET).
    pub proc_net: PathBuf,
    /// Commands that print firewall rules, as program and arguments; empty:
    /// not run (MAILPORT_IPTABLES_SAVE, MAILPORT_IP6TABLES_SAVE, MAILPORT_NFT).
    pub iptables_save: Vec<String>,
    pub ip6tables_save: Vec<String>,
    pub nft: Vec<String>,
}

impl LocalPaths {
    /// The places from the environment, else the system's (`check` has no options for them).
    pub fn from_env() -> LocalPaths {
        LocalPaths::choose(None, None, None, None, None)
    }

    pub(super) fn choose(
        csf_conf: Option<&PathBuf>,
        proc_net: Option<&PathBuf>,
        iptables_save: Option<&str>,
        ip6tables_save: Option<&str>,
        nft: Option<&str>,
    ) -> LocalPaths {
        let env = |name: &str| std::env::var(name).ok();
        let path = |given: Option<&PathBuf>, var: &str, default: &str| {
            given
                .cloned()
                .or_else(|| env(var).filter(|v| !v.is_empty()).map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(default))
        };
        let command = |given: Option<&str>, var: &str, default: &str| {
            let text = given
                .map(str::to_string)
                .or_else(|| env(var))
                .unwrap_or_else(|| default.to_string());
            if text.trim() == "none" {
                Vec::new()
            } else {
                text.split_whitespace().map(str::to_string).collect()
            }
        };
        LocalPaths {
            csf_conf: path(csf_conf, "MAILPORT_CSF_CONF", "/etc/csf/csf.conf"),
            proc_net: path(proc_net, "MAILPORT_PROC_NET", "/proc/net"),
            iptables_save: command(iptables_save, "MAILPORT_IPTABLES_SAVE", "iptables-save"),
            ip6tables_save: command(ip6tables_save, "MAILPORT_IP6TABLES_SAVE", "ip6tables-save"),
            nft: command(nft, "MAILPORT_NFT", "nft list ruleset"),
        }
    }
}
