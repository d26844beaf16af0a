//! The services table: which port speaks which protocol with which kind of TLS.
//!
//! Adding a service is adding a row to [`SERVICES`]; nothing else in the code
//! branches on a service's name.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The application protocol a probe speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Smtp,
    Imap,
    Pop3,
    Http,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Http => "http",
        }
    }

    /// Whether this build has a probe for the protocol.
    pub fn implemented(self) -> bool {
        matches!(
            self,
            Protocol::Smtp | Protocol::Imap | Protocol::Pop3 | Protocol::Http
        )
    }
}

/// How TLS is reached on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plaintext only (HTTP on 80).
    None,
    /// STARTTLS when the server offers it; its absence is a warning (SMTP relay on 25).
    Opportunistic,
    /// STARTTLS must be offered and work (submission, IMAP, POP3).
    Required,
    /// TLS from the first byte (465, 993, 995, 443).
    Implicit,
}

/// What a service is for: the rules ask for a role (and a port), never for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Server-to-server mail (SMTP on 25).
    Relay,
    /// Mail submission by clients (587, 465).
    Submission,
    /// Reading mail (IMAP, POP3).
    Mailbox,
    /// Webmail (HTTP, HTTPS).
    Webmail,
}

/// One row of the services table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    pub protocol: Protocol,
    pub tls: TlsMode,
    pub role: Role,
    /// The service of the same role over implicit TLS (submission → submissions).
    pub implicit_sibling: Option<&'static str>,
    /// Probed by `mailport check` when no service is named.
    pub default: bool,
    pub about: &'static str,
}

/// Every service mailport knows, in report order.
pub static SERVICES: &[Service] = &[
    Service {
        name: "smtp",
        port: 25,
        protocol: Protocol::Smtp,
        tls: TlsMode::Opportunistic,
        role: Role::Relay,
        implicit_sibling: None,
        default: true,
        about: "SMTP relay between servers; STARTTLS if offered",
    },
    Service {
        name: "submission",
        port: 587,
        protocol: Protocol::Smtp,
        tls: TlsMode::Required,
        role: Role::Submission,
        implicit_sibling: Some("submissions"),
        default: true,
        about: "mail submission by clients; STARTTLS required before AUTH (RFC 6409)",
    },
    Service {
        name: "submissions",
        port: 465,
        protocol: Protocol::Smtp,
        tls: TlsMode::Implicit,
        role: Role::Submission,
        implicit_sibling: None,
        default: true,
        about: "mail submission over implicit TLS (RFC 8314)",
    },
    Service {
        name: "imap",
        port: 143,
        protocol: Protocol::Imap,
        tls: TlsMode::Required,
        role: Role::Mailbox,
        implicit_sibling: Some("imaps"),
        default: true,
        about: "IMAP with STARTTLS (RFC 9051)",
    },
    Service {
        name: "imaps",
        port: 993,
        protocol: Protocol::Imap,
        tls: TlsMode::Implicit,
        role: Role::Mailbox,
        implicit_sibling: None,
        default: true,
        about: "IMAP over implicit TLS",
    },
    Service {
        name: "pop3",
        port: 110,
        protocol: Protocol::Pop3,
        tls: TlsMode::Required,
        role: Role::Mailbox,
        implicit_sibling: Some("pop3s"),
        default: true,
        about: "POP3 with STLS (RFC 2595)",
    },
    Service {
        name: "pop3s",
        port: 995,
        protocol: Protocol::Pop3,
        tls: TlsMode::Implicit,
        role: Role::Mailbox,
        implicit_sibling: None,
        default: true,
        about: "POP3 over implicit TLS",
    },
    Service {
        name: "http",
        port: 80,
        protocol: Protocol::Http,
        tls: TlsMode::None,
        role: Role::Webmail,
        implicit_sibling: Some("https"),
        default: true,
        about: "webmail over HTTP; should redirect to HTTPS",
    },
    Service {
        name: "https",
        port: 443,
        protocol: Protocol::Http,
        tls: TlsMode::Implicit,
        role: Role::Webmail,
        implicit_sibling: None,
        default: true,
        about: "webmail over HTTPS",
    },
    Service {
        name: "imap4-ssl",
        port: 585,
        protocol: Protocol::Imap,
        tls: TlsMode::Implicit,
        role: Role::Mailbox,
        implicit_sibling: None,
        default: false,
        about: "legacy IMAP over TLS, obsolete; only when asked for",
    },
];

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.port)
    }
}

/// Look a service up by its name (case-insensitive).
pub fn by_name(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Look a service up by its standard port.
pub fn by_port(port: u16) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.port == port)
}

/// Look a service up by name or by standard port number.
pub fn lookup(word: &str) -> Option<&'static Service> {
    match word.parse::<u16>() {
        Ok(port) => by_port(port),
        Err(_) => by_name(word),
    }
}

/// A comma-separated list of every service name, for error messages and help.
pub fn names() -> String {
    SERVICES
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a `--port` argument asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// `submission=2525`: probe this service on another port.
    Override {
        service: &'static Service,
        port: u16,
    },
    /// `2525/smtp`: probe this port with the dialog and TLS mode of that service.
    Custom {
        port: u16,
        service: &'static Service,
    },
}

/// Parse `NAME=PORT` or `PORT/NAME`.
pub fn parse_port_spec(text: &str) -> Result<PortSpec, String> {
    let text = text.trim();
    if let Some((name, port)) = text.split_once('=') {
        let service = lookup_known(name)?;
        let port = parse_port(port)?;
        return Ok(PortSpec::Override { service, port });
    }
    if let Some((port, name)) = text.split_once('/') {
        let port = parse_port(port)?;
        let service = lookup_known(name)?;
        return Ok(PortSpec::Custom { port, service });
    }
    Err(format!(
        "'{}' is not a port spec: use NAME=PORT (e.g. submission=2525) or PORT/NAME (e.g. 2525/smtp)",
        crate::escape::shown(text)
    ))
}

fn lookup_known(name: &str) -> Result<&'static Service, String> {
    by_name(name.trim()).ok_or_else(|| {
        format!(
            "unknown service '{}': known services are {}",
            name.trim(),
            names()
        )
    })
}

/// Parse a TCP port number 1..=65535.
pub fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Ok(p) => Err(format!("port {p} is out of range (1 to 65535)")),
        Err(_) => Err(format!("'{}' is not a port number", text.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_siblings_share_the_role_and_speak_tls_from_the_first_byte() {
        for s in SERVICES {
            if let Some(name) = s.implicit_sibling {
                let sib = by_name(name).unwrap_or_else(|| panic!("{name} is not a service"));
                assert_eq!(sib.role, s.role, "{}", s.name);
                assert_eq!(sib.protocol, s.protocol, "{}", s.name);
                assert_eq!(sib.tls, TlsMode::Implicit, "{}", s.name);
                assert_ne!(s.tls, TlsMode::Implicit, "{}", s.name);
            }
        }
    }

    #[test]
    fn table_has_the_ten_services_with_unique_names_and_ports() {
        assert_eq!(SERVICES.len(), 10);
        for (i, a) in SERVICES.iter().enumerate() {
            for b in &SERVICES[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.port, b.port);
            }
        }
        assert!(!by_name("imap4-ssl").unwrap().default);
        assert_eq!(SERVICES.iter().filter(|s| s.default).count(), 9);
    }

    #[test]
    fn lookup_by_name_or_port() {
        assert_eq!(lookup("587").unwrap().name, "submission");
        assert_eq!(lookup("SMTP").unwrap().port, 25);
        assert!(lookup("gopher").is_none());
        assert!(lookup("2525").is_none());
    }

    #[test]
    fn port_specs() {
        let smtp = by_name("smtp").unwrap();
        let sub = by_name("submission").unwrap();
        assert_eq!(
            parse_port_spec("2525/smtp").unwrap(),
            PortSpec::Custom {
                port: 2525,
                service: smtp
            }
        );
        assert_eq!(
            parse_port_spec("submission=2587").unwrap(),
            PortSpec::Override {
                service: sub,
                port: 2587
            }
        );
        assert!(parse_port_spec("70000/smtp")
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_port_spec("0/smtp")
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_port_spec("25/gopher")
            .unwrap_err()
            .contains("unknown service"));
        assert!(parse_port_spec("25").unwrap_err().contains("NAME=PORT"));
        assert!(parse_port_spec("smtp=x")
            .unwrap_err()
            .contains("not a port"));
    }
}
