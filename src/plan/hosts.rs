//! What a host given by the user becomes (a HOST argument, a --control
//! host, a line of --hosts-file): its checks, its name for certificates,
//! its --resolve addresses, and its own port (`HOST:PORT`).

use super::{parse_host, split_port, standard_probe, Family, Probe, Role, Target};
use crate::service::Service;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What a host given by the user becomes: the checks and settings that
/// apply to every host, whether an argument or a line of --hosts-file.
pub(super) struct HostRules<'a> {
    pub(super) family: Family,
    pub(super) mx: bool,
    /// --tls-name (valid), for the hosts to check.
    pub(super) tls_name: Option<&'a str>,
    pub(super) overrides: &'a BTreeMap<String, Vec<IpAddr>>,
    /// The one service the user chose (`-s imap`): what a `HOST:PORT` of a
    /// port that is no service's standard port speaks.
    pub(super) spoken: Option<&'static Service>,
}

/// The one service of a selection the user made, if it is one.
pub(super) fn spoken(probes: &[Probe]) -> Option<&'static Service> {
    match probes {
        [one] if one.requested => Some(one.service),
        _ => None,
    }
}

impl HostRules<'_> {
    pub(super) fn target(&self, raw: &str, role: Role) -> Result<Target> {
        let (host_part, port) = split_port(raw)?;
        let (host, literal) = parse_host(host_part)?;
        let only = match port {
            Some(_) if self.mx && role == Role::Target => bail!(
                "--mx: '{}' names a port; a mail domain is given alone (its MX hosts get the usual ports)",
                crate::escape::shown(raw)
            ),
            Some(port) => Some(standard_probe(raw, port, self.spoken)?),
            None => None,
        };
        match literal {
            Some(ip) if self.family == Family::V4 && ip.is_ipv6() => {
                bail!("{host} is an IPv6 address, but -4 asks for IPv4 only")
            }
            Some(ip) if self.family == Family::V6 && ip.is_ipv4() => {
                bail!("{host} is an IPv4 address, but -6 asks for IPv6 only")
            }
            _ => {}
        }
        if self.mx && role == Role::Target {
            if let Some(ip) = literal {
                bail!("--mx: {ip} is an address, not a mail domain");
            }
        }
        let tls_name = match self.tls_name {
            Some(n) if role == Role::Target => n.to_string(),
            _ => host.clone(),
        };
        Ok(Target {
            overrides: self
                .overrides
                .get(&host.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default(),
            host,
            literal,
            tls_name,
            role,
            only,
        })
    }
}
