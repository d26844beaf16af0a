//! Each input on its own: host names and addresses, --resolve, --ehlo,
//! --dns-server, --service and --port, --hosts-file, --ca-file, and this
//! machine's name. Pure checks with clear errors, and the bounded reads of
//! the files they name.

use super::Probe;
use crate::escape::shown;
use crate::service::{self, PortSpec, Service};
use anyhow::{anyhow, bail, Context as _, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::io::BufRead;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The port of `--dns-server` when none is given.
pub const DEFAULT_DNS_PORT: u16 = 53;

/// Parse `--dns-server`: an IP address with an optional port
/// (`192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`).
pub fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    let q = shown(text);
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_DNS_PORT));
    }
    if let Ok(ip) = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or("")
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, DEFAULT_DNS_PORT));
    }
    match t.parse::<SocketAddr>() {
        Ok(a) if a.port() != 0 => Ok(a),
        Ok(_) => Err(format!("'{q}': port 0 is not a DNS server's port")),
        Err(_) => Err(format!(
            "'{q}' is not an IP address with an optional port \
             (e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:5353); \
             a DNS server is given by address, not by name"
        )),
    }
}

/// Most bytes read from a --ca-file (a system bundle is about 200 KiB).
const CA_FILE_MAX_BYTES: u64 = 8 << 20;

/// A regular file, read whole but never past `max` bytes: `/dev/zero` or a
/// FIFO given by mistake is a clear error, not a read without end.
pub(super) fn read_bounded(path: &Path, what: &str, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let shown = shown(&path.to_string_lossy());
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {what} {shown}"))?;
    if !meta.is_file() {
        bail!("{what} {shown} is not a regular file");
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {what} {shown}"))?;
    if bytes.len() as u64 > max {
        bail!("{what} {shown} is larger than {} MiB", max >> 20);
    }
    Ok(bytes)
}

/// The certificates of a --ca-file (PEM).
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read_bounded(path, "--ca-file", CA_FILE_MAX_BYTES)?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        let cert = item.map_err(|e| {
            anyhow!(
                "--ca-file {} is not valid PEM: {e}",
                shown(&path.to_string_lossy())
            )
        })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        bail!(
            "--ca-file {} holds no certificate (expected PEM blocks \"-----BEGIN CERTIFICATE-----\")",
            shown(&path.to_string_lossy())
        );
    }
    Ok(certs)
}

/// The services and ports to probe, from --service and --port.
pub fn select_probes(services: &[String], ports: &[String]) -> Result<Vec<Probe>> {
    let mut specs = Vec::new();
    for p in ports {
        specs.push(service::parse_port_spec(p).map_err(|e| anyhow!("--port: {e}"))?);
    }
    let mut chosen: Vec<&'static Service> = Vec::new();
    if services.iter().any(|s| s.trim().is_empty()) {
        // `-s ''` or `-s smtp,` is a slip, not a request for every service.
        bail!(
            "--service: an empty service name; known services are {}",
            service::names()
        );
    }
    for name in services.iter().map(|s| s.trim()) {
        let s = service::lookup(name).ok_or_else(|| {
            anyhow!(
                "--service: unknown service '{}': known services are {}",
                shown(name),
                service::names()
            )
        })?;
        if !chosen.contains(&s) {
            chosen.push(s);
        }
    }
    let customs: Vec<Probe> = specs
        .iter()
        .filter_map(|s| match s {
            PortSpec::Custom { port, service } => Some(Probe {
                service,
                port: *port,
                requested: true,
            }),
            PortSpec::Override { .. } => None,
        })
        .collect();
    let sweep = chosen.is_empty() && customs.is_empty();
    if sweep {
        chosen = service::SERVICES
            .iter()
            .filter(|s| s.default && s.protocol.implemented())
            .collect();
    }
    // NAME=PORT probes that service, whatever else was chosen.
    for spec in &specs {
        if let PortSpec::Override { service, .. } = spec {
            if !chosen.contains(service) {
                chosen.push(service);
            }
        }
    }
    let mut probes: Vec<Probe> = chosen
        .into_iter()
        .map(|service| {
            let port = specs
                .iter()
                .rev()
                .find_map(|s| match s {
                    PortSpec::Override { service: o, port } if *o == service => Some(*port),
                    _ => None,
                })
                .unwrap_or(service.port);
            let overridden = specs
                .iter()
                .any(|s| matches!(s, PortSpec::Override { service: o, .. } if *o == service));
            Probe {
                service,
                port,
                requested: !sweep || overridden,
            }
        })
        .collect();
    for c in customs {
        if !probes.contains(&c) {
            probes.push(c);
        }
    }
    for p in &probes {
        if !p.service.protocol.implemented() {
            bail!(
                "the {} service ({} on port {}) is not supported by this version of mailport yet; supported: {}",
                p.service.name,
                p.service.protocol.as_str().to_uppercase(),
                p.service.port,
                service::SERVICES
                    .iter()
                    .filter(|s| s.protocol.implemented())
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(probes)
}

/// Where the lines of --hosts-file come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostsFile {
    /// `--hosts-file -`.
    Stdin,
    /// A regular file or a pipe (`--hosts-file <(command)`).
    Path(PathBuf),
}

impl HostsFile {
    /// Check `--hosts-file` before the run: stdin, or a file that exists and
    /// is a regular file or a pipe (never a device or a directory: a read of
    /// /dev/zero has no end). Its lines are read while the run goes, never
    /// all at once, so it has no size limit.
    pub fn check(path: &Path) -> Result<HostsFile> {
        if path.as_os_str() == "-" {
            return Ok(HostsFile::Stdin);
        }
        use std::os::unix::fs::FileTypeExt;
        let shown = shown(&path.to_string_lossy());
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read --hosts-file {shown}"))?;
        let kind = meta.file_type();
        if !(kind.is_file() || kind.is_fifo()) {
            bail!("--hosts-file {shown} is not a regular file");
        }
        Ok(HostsFile::Path(path.to_path_buf()))
    }

    /// How the file is named in messages.
    pub fn shown(&self) -> String {
        match self {
            HostsFile::Stdin => "- (stdin)".into(),
            HostsFile::Path(p) => p.display().to_string(),
        }
    }

    /// Open it for reading, line by line.
    pub fn open(&self) -> std::io::Result<HostLines<Box<dyn BufRead + Send>>> {
        let reader: Box<dyn BufRead + Send> = match self {
            HostsFile::Stdin => Box::new(std::io::BufReader::new(std::io::stdin())),
            HostsFile::Path(p) => Box::new(std::io::BufReader::new(std::fs::File::open(p)?)),
        };
        Ok(HostLines {
            reader,
            number: 0,
            buf: Vec::new(),
        })
    }
}

/// Most bytes of one line of --hosts-file; a longer line is a bad line
/// (a host name has at most 253), read no further than its end.
pub const HOSTS_LINE_MAX_BYTES: usize = 4096;

/// One line of --hosts-file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostLine {
    /// Blank, or a comment (`#`).
    Skip,
    /// The text of a host (trimmed), still to be checked.
    Host(String),
    /// A line that cannot be a host: why.
    Bad(String),
}

/// The lines of --hosts-file, read one by one, each bounded in bytes:
/// memory does not grow with the file.
pub struct HostLines<R> {
    reader: R,
    /// The number of the last line read (from 1).
    number: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> HostLines<R> {
    pub fn new(reader: R) -> HostLines<R> {
        HostLines {
            reader,
            number: 0,
            buf: Vec::new(),
        }
    }
}

impl<R: BufRead> Iterator for HostLines<R> {
    /// The line's number and what it holds; an error of the read ends the lines.
    type Item = std::io::Result<(u64, HostLine)>;

    fn next(&mut self) -> Option<Self::Item> {
        use std::io::Read;
        self.buf.clear();
        let limit = HOSTS_LINE_MAX_BYTES as u64 + 1;
        match (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
        {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(e)),
        }
        self.number += 1;
        let ended = self.buf.last() == Some(&b'\n');
        if !ended && self.buf.len() > HOSTS_LINE_MAX_BYTES {
            // Skip the rest of the long line, a buffer at a time.
            loop {
                let (skip, done) = match self.reader.fill_buf() {
                    Ok([]) => (0, true),
                    Ok(b) => match b.iter().position(|&c| c == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (b.len(), false),
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Some(Err(e)),
                };
                self.reader.consume(skip);
                if done {
                    break;
                }
            }
            let why = format!("longer than {HOSTS_LINE_MAX_BYTES} bytes");
            return Some(Ok((self.number, HostLine::Bad(why))));
        }
        let line = match std::str::from_utf8(&self.buf) {
            Ok(text) => {
                let text = text.trim();
                if text.is_empty() || text.starts_with('#') {
                    HostLine::Skip
                } else {
                    HostLine::Host(text.to_string())
                }
            }
            Err(_) => HostLine::Bad("not UTF-8 text".into()),
        };
        Some(Ok((self.number, line)))
    }
}

/// FNV-1a, 64 bits, of the host as mailport writes it (ASCII, lower case,
/// no trailing dot; an address in its canonical form): the stable hash of
/// --shard and of the run's memory of hosts seen.
pub fn host_hash(host: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    host.bytes().fold(OFFSET, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(PRIME)
    })
}

/// Validate a host argument. Returns the host to report and, for an IP, its address.
pub fn parse_host(raw: &str) -> Result<(String, Option<IpAddr>)> {
    let text = raw.trim();
    // The argument as quoted back: escaped and cut, never raw.
    let raw = &shown(raw);
    if text.is_empty() {
        bail!("the host name is empty");
    }
    if text.contains("://") || text.starts_with("//") {
        let guess = text
            .split("://")
            .nth(1)
            .unwrap_or(text)
            .trim_start_matches('/')
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .rsplit('@')
            .next()
            .unwrap_or("");
        bail!("'{raw}' is a URL, not a host name; did you mean: mailport check {guess}");
    }
    if let Some((_, domain)) = text.rsplit_once('@') {
        bail!("'{raw}' is an email address, not a host name; give the mail server's name (for {domain}: its MX host)");
    }
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if unbracketed.contains('%') {
        bail!("'{raw}': IPv6 zone identifiers (%eth0) are not supported; use a global address");
    }
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok((ip.to_string(), Some(ip)));
    }
    if text.starts_with('[') {
        bail!("'{raw}' is not a valid IPv6 address");
    }
    if let Some((host, port)) = text.rsplit_once(':') {
        if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) {
            bail!(
                "'{raw}' includes a port; give the host alone and the port with --port (e.g. --port {port}/smtp)"
            );
        }
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    let ascii;
    let name = if name.is_ascii() {
        name
    } else {
        // An international name (IDNA 2008 / UTS 46) is checked in its ASCII form.
        ascii = idna::domain_to_ascii(name)
            .map_err(|_| anyhow!("'{raw}' is not a valid international domain name"))?;
        ascii.as_str()
    };
    check_dns_name(name).map_err(|why| anyhow!("'{raw}' is not a valid host name: {why}"))?;
    Ok((name.to_ascii_lowercase(), None))
}

/// Split `HOST:PORT` and `[IPV6]:PORT` into the host and the port; a host
/// without one comes back whole. An IPv6 address written bare whose last
/// group reads as a mail port (`::1:25`) is refused as ambiguous, with the
/// bracket forms suggested; a bare IPv6 address is otherwise an address.
pub fn split_port(raw: &str) -> Result<(&str, Option<u16>)> {
    let text = raw.trim();
    let port_of = |digits: &str| -> Result<u16> {
        match digits.parse::<u16>() {
            Ok(p) if p > 0 && digits.chars().all(|c| c.is_ascii_digit()) => Ok(p),
            _ => bail!(
                "'{}': '{}' is not a port (1 to 65535)",
                shown(raw),
                shown(digits)
            ),
        }
    };
    if text.contains("://") {
        // A URL: parse_host says what to type instead.
        return Ok((text, None));
    }
    if let Some(rest) = text.strip_prefix('[') {
        return match rest.split_once("]:") {
            Some((inside, port)) => Ok((&text[..inside.len() + 2], Some(port_of(port)?))),
            None => Ok((text, None)),
        };
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => {
            let (host, port) = text.split_once(':').unwrap_or((text, ""));
            if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
                return Ok((text, None));
            }
            Ok((host, Some(port_of(port)?)))
        }
        _ => {
            let ambiguous = text.rsplit_once(':').is_some_and(|(prefix, last)| {
                last.parse::<u16>()
                    .ok()
                    .filter(|_| last.chars().all(|c| c.is_ascii_digit()))
                    .and_then(service::by_port)
                    .is_some()
                    && prefix.parse::<std::net::Ipv6Addr>().is_ok()
            });
            if ambiguous {
                let (prefix, last) = text.rsplit_once(':').unwrap_or((text, ""));
                bail!(
                    "'{}' is ambiguous: for port {last} of {prefix} write [{prefix}]:{last}; for the address itself write [{}]",
                    shown(raw),
                    shown(text)
                );
            }
            Ok((text, None))
        }
    }
}

/// The probe of `HOST:PORT`: the port spoken as its standard service, or,
/// for another port, as the one service chosen with --service (`spoken`).
pub fn standard_probe(raw: &str, port: u16, spoken: Option<&'static Service>) -> Result<Probe> {
    let service = match (service::by_port(port), spoken) {
        (Some(standard), None) => standard,
        (Some(standard), Some(chosen)) if standard.port == chosen.port => standard,
        (_, Some(chosen)) => chosen,
        (None, None) => bail!(
            "'{}': port {port} is no mail service's standard port ({}); say what it speaks with one --service, e.g. -s smtp",
            shown(raw),
            service::SERVICES
                .iter()
                .filter(|s| s.protocol.implemented())
                .map(|s| format!("{} {}", s.port, s.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if !service.protocol.implemented() {
        bail!(
            "'{}': the {} service is not supported by this version of mailport yet",
            shown(raw),
            service.name
        );
    }
    Ok(Probe {
        service,
        port,
        requested: true,
    })
}

/// The Unicode form of a host that has an ASCII (xn--) form, for the report.
pub fn unicode_form(host: &str) -> Option<String> {
    let (unicode, result) = idna::domain_to_unicode(host);
    (result.is_ok() && unicode != host).then_some(unicode)
}

fn check_dns_name(name: &str) -> Result<(), String> {
    if !name.is_ascii() {
        return Err(
            "it has non-ASCII characters; give an international name in its ASCII (xn--) form"
                .into(),
        );
    }
    if name.len() > 253 {
        return Err(format!(
            "it is {} characters long (at most 253)",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "a label is {} characters long (at most 63)",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("it contains {c:?}"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label '{label}' starts or ends with a hyphen"));
        }
    }
    if name
        .split('.')
        .all(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("it looks like an IPv4 address but is not one".into());
    }
    Ok(())
}

pub(super) fn check_ehlo_name(name: &str) -> Result<()> {
    let ok = if let Some(lit) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        lit.strip_prefix("IPv6:")
            .unwrap_or(lit)
            .parse::<IpAddr>()
            .is_ok()
    } else {
        check_dns_name(name).is_ok()
    };
    if !ok {
        bail!(
            "--ehlo '{}' is neither a domain name nor an address literal such as [192.0.2.1]",
            shown(name)
        );
    }
    Ok(())
}

/// Parse `HOST:ADDR` (ADDR may be an IPv6 address, with or without brackets).
pub fn parse_resolve(text: &str) -> Result<(String, IpAddr)> {
    let bad = || {
        anyhow!(
            "--resolve '{}': expected HOST:ADDR, e.g. mail.example.org:192.0.2.10",
            shown(text)
        )
    };
    let (host, addr) = text.split_once(':').ok_or_else(bad)?;
    let addr = addr.trim();
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let (host, literal) = parse_host(host).map_err(|e| anyhow!("--resolve: {e:#}"))?;
    if literal.is_some() {
        return Err(bad());
    }
    Ok((host, addr))
}

/// This machine's fully qualified name, when it has one that can be sent in EHLO.
pub fn local_fqdn() -> Option<String> {
    hostname().filter(|n| n.contains('.') && check_dns_name(n).is_ok())
}

fn hostname() -> Option<String> {
    nix::unistd::gethostname().ok()?.into_string().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// r14: a device or a huge file given as a file is a clear error, read no further than the cap.
    #[test]
    fn local_files_are_regular_and_bounded() {
        let e = format!("{:#}", read_ca_file(Path::new("/dev/zero")).unwrap_err());
        assert!(e.contains("not a regular file"), "{e}");
        let e = format!(
            "{:#}",
            HostsFile::check(Path::new("/dev/urandom")).unwrap_err()
        );
        assert!(e.contains("not a regular file"), "{e}");
        let e = format!("{:#}", HostsFile::check(Path::new("/")).unwrap_err());
        assert!(e.contains("not a regular file"), "{e}");
        let dir = std::env::temp_dir().join(format!("mailport-big-{}", std::process::id()));
        std::fs::write(&dir, vec![b'#'; (CA_FILE_MAX_BYTES + 10) as usize]).unwrap();
        let e = format!("{:#}", read_ca_file(&dir).unwrap_err());
        std::fs::remove_file(&dir).unwrap();
        assert!(e.contains("larger than 8 MiB"), "{e}");
    }
    use crate::plan::Ehlo;

    /// r15: a hosts file is read line by line: blank lines and comments
    /// skipped, a long line or one that is not UTF-8 a bad line with its
    /// number, and the lines after it still read.
    #[test]
    fn hosts_file_lines_are_bounded_and_numbered() {
        let mut text = b"# fleet\nmx1.example.org\n\n  MX2.example.org  \r\n".to_vec();
        text.extend(vec![b'a'; 3 * HOSTS_LINE_MAX_BYTES]);
        text.extend(b"\n\xff\xfe\nlast.example.org");
        let lines: Vec<(u64, HostLine)> =
            HostLines::new(std::io::BufReader::with_capacity(64, &text[..]))
                .map(Result::unwrap)
                .collect();
        assert_eq!(
            lines,
            vec![
                (1, HostLine::Skip),
                (2, HostLine::Host("mx1.example.org".into())),
                (3, HostLine::Skip),
                (4, HostLine::Host("MX2.example.org".into())),
                (5, HostLine::Bad("longer than 4096 bytes".into())),
                (6, HostLine::Bad("not UTF-8 text".into())),
                (7, HostLine::Host("last.example.org".into())),
            ]
        );
    }

    #[test]
    fn the_host_hash_is_fnv1a_64() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(host_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(host_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(host_hash("foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(host_hash("Mail.Example.ORG"), host_hash("mail.example.org"));
    }

    #[test]
    fn international_names_become_ascii_and_keep_their_unicode_form() {
        assert_eq!(
            parse_host("bücher.example").unwrap().0,
            "xn--bcher-kva.example"
        );
        assert_eq!(
            parse_host("MAIL.Bücher.example.").unwrap().0,
            "mail.xn--bcher-kva.example"
        );
        assert_eq!(
            unicode_form("xn--bcher-kva.example").as_deref(),
            Some("bücher.example")
        );
        assert_eq!(unicode_form("mail.example.org"), None);
        assert!(parse_host("a\u{0}b.example").is_err());
    }

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("Mail.Example.org.").unwrap().0,
            "mail.example.org"
        );
        assert_eq!(
            parse_host("192.0.2.1").unwrap().1,
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            parse_host("[2001:db8::1]").unwrap().1,
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(parse_host("2001:db8::1").unwrap().0, "2001:db8::1");
        let e = |h: &str| format!("{:#}", parse_host(h).unwrap_err());
        assert!(e("").contains("empty"));
        assert!(e("https://mail.example.org/").contains("mailport check mail.example.org"));
        assert!(e("user@example.org").contains("email address"));
        assert!(e("mail example.org").contains("' '"));
        assert!(e(&format!("{}.org", "a".repeat(300))).contains("at most 253"));
        assert!(e(&format!("{}.org", "a".repeat(64))).contains("at most 63"));
        assert!(e("a..b").contains("empty label"));
        assert!(e("-bad.example").contains("hyphen"));
        assert!(e("mail.example.org:587").contains("--port"));
        assert!(e("fe80::1%eth0").contains("zone"));
        assert!(e("[not-v6]").contains("IPv6"));
        assert!(e("1.2.3.256").contains("IPv4"));
    }

    #[test]
    fn r16_hosts_with_a_port() {
        assert_eq!(
            split_port("mail.example.org:587").unwrap(),
            ("mail.example.org", Some(587))
        );
        assert_eq!(
            split_port("mail.example.org").unwrap(),
            ("mail.example.org", None)
        );
        assert_eq!(
            split_port("[2001:db8::1]:25").unwrap(),
            ("[2001:db8::1]", Some(25))
        );
        assert_eq!(
            split_port("[2001:db8::1]").unwrap(),
            ("[2001:db8::1]", None)
        );
        assert_eq!(
            split_port("192.0.2.1:993").unwrap(),
            ("192.0.2.1", Some(993))
        );
        // A bare IPv6 address stays one, unless its last group reads as a mail port.
        assert_eq!(split_port("2001:db8::25").unwrap(), ("2001:db8::25", None));
        assert_eq!(
            split_port("2001:db8::1:1").unwrap(),
            ("2001:db8::1:1", None)
        );
        let e = |h: &str| format!("{:#}", split_port(h).unwrap_err());
        assert!(e("::1:25").contains("write [::1]:25"), "{}", e("::1:25"));
        assert!(e("::1:25").contains("[::1:25]"));
        assert!(e("2001:db8::1:587").contains("[2001:db8::1]:587"));
        assert!(e("h.example:0").contains("not a port"));
        assert!(e("h.example:65536").contains("not a port"));
        assert!(e("[::1]:x").contains("not a port"));
        // An over-long argument is quoted cut short.
        let long = format!("{}:99999", "a".repeat(500));
        assert!(e(&long).len() < 200, "{}", e(&long));

        let smtp = service::lookup("smtp").unwrap();
        assert_eq!(
            standard_probe("h:587", 587, None).unwrap().service.name,
            "submission"
        );
        assert_eq!(
            standard_probe("h:993", 993, Some(service::lookup("imaps").unwrap()))
                .unwrap()
                .service
                .name,
            "imaps"
        );
        assert_eq!(
            standard_probe("h:2525", 2525, Some(smtp))
                .unwrap()
                .service
                .name,
            "smtp"
        );
        let unknown = format!("{:#}", standard_probe("h:2525", 2525, None).unwrap_err());
        assert!(unknown.contains("25 smtp, 587 submission"), "{unknown}");
        assert!(unknown.contains("-s smtp"), "{unknown}");
    }

    #[test]
    fn resolve_overrides() {
        assert_eq!(
            parse_resolve("mail.example.test:127.0.0.1").unwrap(),
            (
                "mail.example.test".to_string(),
                "127.0.0.1".parse().unwrap()
            )
        );
        assert_eq!(
            parse_resolve("mx:[::1]").unwrap().1,
            "::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            parse_resolve("mx:::1").unwrap().1,
            "::1".parse::<IpAddr>().unwrap()
        );
        assert!(parse_resolve("mx").is_err());
        assert!(parse_resolve("mx:nothere").is_err());
    }

    #[test]
    fn r16_an_empty_service_name_is_an_error() {
        for services in [vec![String::new()], vec!["smtp".into(), " ".into()]] {
            let e = format!("{:#}", select_probes(&services, &[]).unwrap_err());
            assert!(e.contains("empty service name"), "{e}");
        }
    }

    #[test]
    fn probe_selection() {
        let names = |v: Vec<Probe>| {
            v.iter()
                .map(|p| format!("{}/{}", p.service.name, p.port))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(select_probes(&[], &[]).unwrap()),
            vec![
                "smtp/25",
                "submission/587",
                "submissions/465",
                "imap/143",
                "imaps/993",
                "pop3/110",
                "pop3s/995",
                "http/80",
                "https/443"
            ]
        );
        // The obsolete 585 only when asked for, by name or as a custom port.
        assert_eq!(
            names(select_probes(&["imap4-ssl".into()], &[]).unwrap()),
            vec!["imap4-ssl/585"]
        );
        assert_eq!(
            names(select_probes(&[], &["585/imaps".into()]).unwrap()),
            vec!["imaps/585"]
        );
        assert_eq!(
            names(select_probes(&[], &["2525/smtp".into()]).unwrap()),
            vec!["smtp/2525"]
        );
        assert_eq!(
            names(select_probes(&["submission".into()], &["submission=2587".into()]).unwrap()),
            vec!["submission/2587"]
        );
        assert_eq!(
            names(select_probes(&["465".into()], &[]).unwrap()),
            vec!["submissions/465"]
        );
        assert!(
            format!("{:#}", select_probes(&["gopher".into()], &[]).unwrap_err())
                .contains("unknown service")
        );
        assert_eq!(
            names(select_probes(&["imap".into(), "443".into()], &[]).unwrap()),
            vec!["imap/143", "https/443"]
        );
    }

    #[test]
    fn an_override_selects_its_service() {
        let v = select_probes(&["smtp".into()], &["submission=2587".into()]).unwrap();
        let names: Vec<String> = v
            .iter()
            .map(|p| format!("{}/{}", p.service.name, p.port))
            .collect();
        assert_eq!(names, vec!["smtp/25", "submission/2587"]);
    }

    #[test]
    fn ehlo_names() {
        assert!(check_ehlo_name("client.example.org").is_ok());
        assert!(check_ehlo_name("[192.0.2.1]").is_ok());
        assert!(check_ehlo_name("[IPv6:2001:db8::1]").is_ok());
        assert!(check_ehlo_name("bad name").is_err());
        assert_eq!(
            Ehlo::AddressLiteral.for_local(Some("192.0.2.7".parse().unwrap())),
            "[192.0.2.7]"
        );
        assert_eq!(
            Ehlo::AddressLiteral.for_local(Some("2001:db8::7".parse().unwrap())),
            "[IPv6:2001:db8::7]"
        );
        assert_eq!(Ehlo::Name("a.example".into()).for_local(None), "a.example");
    }

    #[test]
    fn dns_server_arguments() {
        assert_eq!(
            parse_dns_server("192.0.2.53").unwrap(),
            "192.0.2.53:53".parse().unwrap()
        );
        assert_eq!(
            parse_dns_server("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_dns_server("2001:db8::53").unwrap(),
            "[2001:db8::53]:53".parse().unwrap()
        );
        assert_eq!(
            parse_dns_server("[2001:db8::53]").unwrap(),
            "[2001:db8::53]:53".parse().unwrap()
        );
        assert_eq!(
            parse_dns_server("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert!(parse_dns_server("dns.example.org")
            .unwrap_err()
            .contains("by address"));
        assert!(parse_dns_server("127.0.0.1:0").is_err());
        assert!(parse_dns_server("127.0.0.1:99999").is_err());
    }
}
