//! A fast fake fleet of mail servers for `scripts/bench` (issue 15): not a
//! test and not shipped, a measurement aid built with `cargo build --release
//! --bench fleet_server`.
//!
//! It listens on 0.0.0.0 (or `--bind ADDR`) on the nine mail ports and
//! speaks, for whatever local address a client reached (127.x.y.z, inside
//! the network namespace the script creates), the real dialogs a probe
//! takes: SMTP on 25 and 587 with STARTTLS and on 465 with implicit TLS,
//! IMAP on 143 with STARTTLS and 993, POP3 on 110 with STLS and 995, HTTP on
//! 80 and 443. The lines are Postfix's and Dovecot's (fixtures/). Each
//! address gets its own certificate (an IP SAN, ECDSA P-256 to keep
//! handshakes cheap) signed by a test CA written to `--ca-out`; `--hosts N`
//! signs those of the benchmark's first N addresses before "ready" is
//! printed, so no signing falls into a measurement. Every read is bounded
//! (4096-byte lines, 100 header lines, 10 s idle), and nothing is ever sent
//! anywhere: it only answers.
//!
//! Usage: fleet_server [--bind ADDR] [--port-base N] [--hosts N] --ca-out PATH
//! (`--port-base N` serves port P on N + P, for a run without a namespace).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsAcceptor;

const LINE_MAX: u64 = 4096;
const IDLE: Duration = Duration::from_secs(10);
const CONNECTION_MAX: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Smtp,
    Imap,
    Pop3,
    Http,
}

#[derive(Clone, Copy)]
struct Port {
    port: u16,
    proto: Proto,
    implicit_tls: bool,
}

const PORTS: [Port; 9] = [
    Port {
        port: 25,
        proto: Proto::Smtp,
        implicit_tls: false,
    },
    Port {
        port: 587,
        proto: Proto::Smtp,
        implicit_tls: false,
    },
    Port {
        port: 465,
        proto: Proto::Smtp,
        implicit_tls: true,
    },
    Port {
        port: 143,
        proto: Proto::Imap,
        implicit_tls: false,
    },
    Port {
        port: 993,
        proto: Proto::Imap,
        implicit_tls: true,
    },
    Port {
        port: 110,
        proto: Proto::Pop3,
        implicit_tls: false,
    },
    Port {
        port: 995,
        proto: Proto::Pop3,
        implicit_tls: true,
    },
    Port {
        port: 80,
        proto: Proto::Http,
        implicit_tls: false,
    },
    Port {
        port: 443,
        proto: Proto::Http,
        implicit_tls: true,
    },
];

/// The benchmark's i-th host address, as scripts/bench writes it.
fn bench_host(i: u32) -> IpAddr {
    IpAddr::from([
        127,
        (10 + i / 62_500) as u8,
        ((i / 250) % 250 + 1) as u8,
        (i % 250 + 1) as u8,
    ])
}

/// The test CA and one server config per local address, made on first use.
struct Certs {
    ca: CertifiedIssuer<'static, KeyPair>,
    leaf_key: KeyPair,
    signing_key: Arc<dyn SigningKey>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    configs: Mutex<HashMap<IpAddr, Arc<ServerConfig>>>,
}

impl Certs {
    fn new() -> Certs {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "mailport fleet bench CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(30);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
            .expect("self-sign the CA");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let signing_key = provider
            .key_provider
            .load_private_key(der)
            .expect("load the leaf key");
        Certs {
            ca,
            leaf_key,
            signing_key,
            provider,
            configs: Mutex::new(HashMap::new()),
        }
    }

    fn config(&self, ip: IpAddr) -> Arc<ServerConfig> {
        let mut configs = self.configs.lock().expect("not poisoned");
        configs.entry(ip).or_insert_with(|| self.make(ip)).clone()
    }

    fn make(&self, ip: IpAddr) -> Arc<ServerConfig> {
        let mut params = CertificateParams::new(vec![ip.to_string()]).expect("leaf params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, ip.to_string());
        params.distinguished_name = dn;
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(30);
        let leaf = params
            .signed_by(&self.leaf_key, &*self.ca)
            .expect("sign a leaf");
        let chain = vec![leaf.der().clone()];
        let certified = CertifiedKey::new(chain, self.signing_key.clone());
        let config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
        Arc::new(config)
    }
}

struct Args {
    bind: IpAddr,
    port_base: u16,
    hosts: u32,
    ca_out: String,
}

fn args() -> Args {
    let mut args = Args {
        bind: IpAddr::from([0, 0, 0, 0]),
        port_base: 0,
        hosts: 0,
        ca_out: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--bind" => args.bind = value().parse().unwrap_or_else(|_| usage("bad --bind")),
            "--port-base" => {
                args.port_base = value().parse().unwrap_or_else(|_| usage("bad --port-base"))
            }
            "--hosts" => args.hosts = value().parse().unwrap_or_else(|_| usage("bad --hosts")),
            "--ca-out" => args.ca_out = value(),
            "--bench" => {} // what `cargo bench` appends
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    if args.ca_out.is_empty() {
        usage("--ca-out PATH is required");
    }
    args
}

fn usage(msg: &str) -> ! {
    eprintln!("fleet_server: {msg}");
    eprintln!("usage: fleet_server [--bind ADDR] [--port-base N] [--hosts N] --ca-out PATH");
    std::process::exit(2)
}

/// Raise the soft limit of open files to the hard one: 10,000 hosts × 9
/// ports may be open at once.
fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let args = args();
    raise_nofile();
    let certs = Arc::new(Certs::new());
    std::fs::write(&args.ca_out, certs.ca.pem())?;
    for i in 0..args.hosts {
        certs.config(bench_host(i));
    }
    for spec in PORTS {
        let socket = match args.bind {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::new(args.bind, args.port_base + spec.port))?;
        let listener = socket.listen(4096)?;
        let certs = certs.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((tcp, _)) => {
                        let certs = certs.clone();
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(CONNECTION_MAX, handle(tcp, spec, &certs))
                                .await;
                        });
                    }
                    // Out of file descriptors: let connections close.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
    }
    println!("ready");
    std::future::pending::<()>().await;
    Ok(())
}

async fn handle(tcp: TcpStream, spec: Port, certs: &Certs) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let ip = tcp.local_addr()?.ip();
    let host = ip.to_string();
    let acceptor = || TlsAcceptor::from(certs.config(ip));
    if spec.implicit_tls {
        let tls = acceptor().accept(tcp).await?;
        serve(tls, spec, true, true, &host).await?;
    } else if let Some(tcp) = serve(tcp, spec, true, false, &host).await? {
        let tls = acceptor().accept(tcp).await?;
        serve(tls, spec, false, true, &host).await?;
    }
    Ok(())
}

/// One bounded line (CRLF stripped), or None at the end of the stream.
async fn line<S: AsyncRead + Unpin>(r: &mut BufReader<S>) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let mut limited = (&mut *r).take(LINE_MAX);
    match tokio::time::timeout(IDLE, limited.read_until(b'\n', &mut buf)).await {
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
        Ok(Err(e)) => Err(e),
        Ok(Ok(0)) => Ok(None),
        Ok(Ok(_)) => {
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
        }
    }
}

/// Speak `spec`'s protocol on `stream`; the stream back when the client
/// asked for STARTTLS (or STLS) and got a yes.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    spec: Port,
    greet: bool,
    tls: bool,
    host: &str,
) -> io::Result<Option<S>> {
    let mut r = BufReader::new(stream);
    if spec.proto == Proto::Http {
        http(&mut r, tls, host).await?;
        return Ok(None);
    }
    if greet {
        let greeting = match spec.proto {
            Proto::Smtp => format!("220 {host} ESMTP Postfix (Debian/GNU)\r\n"),
            Proto::Imap => format!(
                "* OK [CAPABILITY {}] Dovecot (Debian) ready.\r\n",
                imap_caps(tls)
            ),
            _ => "+OK Dovecot (Debian) ready.\r\n".to_string(),
        };
        r.get_mut().write_all(greeting.as_bytes()).await?;
    }
    while let Some(l) = line(&mut r).await? {
        let (answer, then) = match spec.proto {
            Proto::Smtp => smtp(&l, tls, spec.port != 25, host),
            Proto::Imap => imap(&l, tls),
            _ => pop3(&l, tls),
        };
        r.get_mut().write_all(answer.as_bytes()).await?;
        r.get_mut().flush().await?;
        match then {
            Then::Go => {}
            Then::Close => {
                let _ = r.get_mut().shutdown().await;
                return Ok(None);
            }
            Then::Tls => return Ok(Some(r.into_inner())),
        }
    }
    Ok(None)
}

enum Then {
    Go,
    Close,
    Tls,
}

fn smtp(l: &str, tls: bool, submission: bool, host: &str) -> (String, Then) {
    let verb = l.split(' ').next().unwrap_or("").to_ascii_uppercase();
    match verb.as_str() {
        "EHLO" => {
            let mut caps = vec![host, "PIPELINING", "SIZE 10240000", "VRFY", "ETRN"];
            if !tls {
                caps.push("STARTTLS");
            }
            if tls && submission {
                caps.push("AUTH PLAIN LOGIN");
            }
            caps.extend([
                "ENHANCEDSTATUSCODES",
                "8BITMIME",
                "DSN",
                "SMTPUTF8",
                "CHUNKING",
            ]);
            let last = caps.len() - 1;
            let text = caps
                .iter()
                .enumerate()
                .map(|(i, c)| format!("250{}{c}\r\n", if i == last { ' ' } else { '-' }))
                .collect();
            (text, Then::Go)
        }
        "HELO" => (format!("250 {host}\r\n"), Then::Go),
        "STARTTLS" if !tls => ("220 2.0.0 Ready to start TLS\r\n".into(), Then::Tls),
        "QUIT" => ("221 2.0.0 Bye\r\n".into(), Then::Close),
        "NOOP" | "RSET" => ("250 2.0.0 Ok\r\n".into(), Then::Go),
        "HELP" => (
            "214 2.0.0 Commands: EHLO HELO STARTTLS NOOP RSET QUIT\r\n".into(),
            Then::Go,
        ),
        _ => (
            "502 5.5.2 Error: command not recognized\r\n".into(),
            Then::Go,
        ),
    }
}

fn imap_caps(tls: bool) -> &'static str {
    if tls {
        "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN"
    } else {
        "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED"
    }
}

fn imap(l: &str, tls: bool) -> (String, Then) {
    let mut words = l.splitn(3, ' ');
    let tag = words.next().unwrap_or("*");
    let verb = words.next().unwrap_or("").to_ascii_uppercase();
    match verb.as_str() {
        "CAPABILITY" => (
            format!(
                "* CAPABILITY {}\r\n{tag} OK Pre-login capabilities listed, post-login capabilities have more.\r\n",
                imap_caps(tls)
            ),
            Then::Go,
        ),
        "STARTTLS" if !tls => (format!("{tag} OK Begin TLS negotiation now.\r\n"), Then::Tls),
        "LOGOUT" => (
            format!("* BYE Logging out\r\n{tag} OK Logout completed.\r\n"),
            Then::Close,
        ),
        "NOOP" => (format!("{tag} OK NOOP completed.\r\n"), Then::Go),
        _ => (format!("{tag} BAD Error in IMAP command received by server.\r\n"), Then::Go),
    }
}

fn pop3(l: &str, tls: bool) -> (String, Then) {
    let verb = l.split(' ').next().unwrap_or("").to_ascii_uppercase();
    match verb.as_str() {
        "CAPA" => {
            let tail = if tls {
                "USER\r\nSASL PLAIN LOGIN\r\n"
            } else {
                "STLS\r\n"
            };
            (
                format!("+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n{tail}.\r\n"),
                Then::Go,
            )
        }
        "STLS" if !tls => ("+OK Begin TLS negotiation now.\r\n".into(), Then::Tls),
        "QUIT" => ("+OK Logging out.\r\n".into(), Then::Close),
        "NOOP" => ("+OK\r\n".into(), Then::Go),
        _ => ("-ERR Unknown command.\r\n".into(), Then::Go),
    }
}

/// Read a request's head (at most 100 lines) and answer as nginx set up
/// well does: port 80 redirects to HTTPS, port 443 serves a small page with HSTS.
async fn http<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    tls: bool,
    host: &str,
) -> io::Result<()> {
    // Not a request (a TLS ClientHello, say): 400 at once, as nginx does.
    let first = tokio::time::timeout(IDLE, r.fill_buf()).await??;
    if !first.first().is_some_and(u8::is_ascii_uppercase) {
        let s = r.get_mut();
        s.write_all(b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
        let _ = s.shutdown().await;
        return Ok(());
    }
    for _ in 0..100 {
        match line(r).await? {
            None => return Ok(()),
            Some(l) if l.is_empty() => break,
            Some(_) => {}
        }
    }
    let body = "<html><head><title>Webmail</title></head><body>Webmail</body></html>\n";
    let head = if tls {
        format!(
            "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\nContent-Length: {}\r\nStrict-Transport-Security: max-age=31536000\r\nConnection: close\r\n\r\n",
            body.len()
        )
    } else {
        format!(
            "HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\nLocation: https://{host}/\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
    };
    let s = r.get_mut();
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    s.flush().await?;
    let _ = s.shutdown().await;
    Ok(())
}
