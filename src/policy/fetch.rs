//! The MTA-STS policy's fetch, the way RFC 8461 section 3.3 tells a sender
//! to make it: `GET /.well-known/mta-sts.txt` from `mta-sts.DOMAIN` over
//! HTTPS, with a certificate valid for that name (WebPKI roots and
//! --ca-file), no redirect followed, `text/plain`, a bounded body (64 KiB),
//! a bounded time. Written here over tokio-rustls and the HTTP head parser
//! of the webmail probe: one request, `Connection: close`.

use crate::dns::{self, Dns};
use crate::net::{self, LineIo};
use crate::plan::{Family, Plan, PolicyChecks};
use crate::probe::http;
use crate::report::{CertVerdict, FetchOutcome, PolicyFetch};
use crate::tls::{self, Trust};
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

/// The largest policy body read: RFC 8461 section 3.3 suggests senders
/// limit it to 64 KiB.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// Room for chunk sizes around a chunked body.
const CHUNK_OVERHEAD: usize = 8 * 1024;
/// The path of the policy.
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// What the fetch got: its record, and the body when it is a policy to parse.
pub struct Fetched {
    pub fetch: PolicyFetch,
    pub body: Option<String>,
}

/// Fetch `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`.
pub async fn fetch(
    plan: &Plan,
    checks: &PolicyChecks,
    dns: &Dns,
    trust: &Trust,
    domain: &str,
    deadline: Instant,
) -> Fetched {
    let start = Instant::now();
    let host = format!("mta-sts.{domain}");
    let url = if checks.https_port == 443 {
        format!("https://{host}{POLICY_PATH}")
    } else {
        format!("https://{host}:{}{POLICY_PATH}", checks.https_port)
    };
    let mut record = PolicyFetch {
        url,
        outcome: FetchOutcome::Ok,
        detail: None,
        address: None,
        status: None,
        content_type: None,
        location: None,
        bytes: 0,
        ms: 0,
    };
    let end = |mut record: PolicyFetch, outcome, detail: String, body| {
        record.outcome = outcome;
        record.detail = (outcome != FetchOutcome::Ok).then_some(detail);
        record.ms = start.elapsed().as_millis() as u64;
        Fetched {
            fetch: record,
            body,
        }
    };
    let addresses = match addresses(plan, dns, &host, deadline).await {
        Ok(a) => a,
        Err(why) => return end(record, FetchOutcome::DnsFailed, why, None),
    };
    // The first address that accepts the connection is the one asked.
    let mut failures = Vec::new();
    let mut stream = None;
    for addr in addresses {
        let until = deadline.min(Instant::now() + checks.connect);
        match timeout_at(
            until,
            net::connect(SocketAddr::new(addr, checks.https_port)),
        )
        .await
        {
            Ok(Ok(s)) => {
                record.address = Some(addr);
                stream = Some(s);
                break;
            }
            Ok(Err(f)) => failures.push(format!("{addr}: {}", f.detail)),
            Err(_) => failures.push(format!(
                "{addr}: no answer to the connection in {} ms",
                checks.connect.as_millis()
            )),
        }
    }
    let Some(stream) = stream else {
        let why = format!(
            "no connection to {host} port {}: {}",
            checks.https_port,
            failures.join("; ")
        );
        return end(record, FetchOutcome::ConnectFailed, why, None);
    };
    // The handshake, the request and the whole answer share one limit.
    let until = deadline.min(Instant::now() + checks.fetch);
    match timeout_at(until, exchange(&host, stream, trust, &mut record)).await {
        Ok(Ok(body)) => end(record, FetchOutcome::Ok, String::new(), Some(body)),
        Ok(Err((outcome, why))) => end(record, outcome, why, None),
        Err(_) => {
            let why = format!(
                "no complete answer from {host} in {} ms",
                checks.fetch.as_millis()
            );
            end(record, FetchOutcome::Timeout, why, None)
        }
    }
}

/// The addresses of `host`: --resolve, or DNS (A and AAAA), in the plan's family.
async fn addresses(
    plan: &Plan,
    dns: &Dns,
    host: &str,
    deadline: Instant,
) -> Result<Vec<IpAddr>, String> {
    let given = plan.names.overrides.get(&host.to_ascii_lowercase());
    let all = match given {
        Some(a) => a.clone(),
        None => {
            let (a, resolution) = dns::host_addresses(dns, host, deadline).await;
            if a.is_empty() {
                return Err(resolution
                    .detail
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| format!("{host} has no address")));
            }
            a
        }
    };
    let wanted: Vec<IpAddr> = all.into_iter().filter(|a| plan.family.admits(a)).collect();
    if wanted.is_empty() {
        let family = if plan.family == Family::V4 {
            "IPv4"
        } else {
            "IPv6"
        };
        return Err(format!("{host} has no {family} address"));
    }
    Ok(wanted)
}

type Failed = (FetchOutcome, String);

/// TLS, the request, the answer: the policy's text, or why there is none.
async fn exchange(
    host: &str,
    stream: tokio::net::TcpStream,
    trust: &Trust,
    record: &mut PolicyFetch,
) -> Result<String, Failed> {
    let name = tls::server_name(host).map_err(|e| (FetchOutcome::TlsFailed, e))?;
    let (connector, verifier) = trust.connector(&[b"http/1.1"]);
    let mut tls_stream = connector.connect(name, stream).await.map_err(|e| {
        (
            FetchOutcome::TlsFailed,
            format!(
                "the TLS handshake with {host} failed: {}",
                tls::handshake_failure(&e, &[], false).detail
            ),
        )
    })?;
    let now = trust.now();
    let facts = tls::facts(
        tls_stream.get_ref().1,
        verifier.take(),
        trust,
        host,
        now,
        false,
    );
    if facts.verdict != CertVerdict::Valid {
        let why = facts
            .verdict_detail
            .unwrap_or_else(|| "the certificate is not valid".into());
        return Err((
            FetchOutcome::CertificateInvalid,
            format!("{host}'s certificate fails WebPKI validation: {why}"),
        ));
    }
    let request = format!(
        "GET {POLICY_PATH} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mailport/{}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    tls_stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| {
            (
                FetchOutcome::BadResponse,
                format!("sending the request: {e}"),
            )
        })?;
    tls_stream.flush().await.map_err(|e| {
        (
            FetchOutcome::BadResponse,
            format!("sending the request: {e}"),
        )
    })?;
    let mut io = LineIo::new(tls_stream);
    let head = http::read_head(&mut io)
        .await
        .map_err(|f| (FetchOutcome::BadResponse, f.detail))?;
    record.status = Some(head.status);
    record.content_type = head.header("content-type").map(|v| v.to_string());
    if (300..400).contains(&head.status) {
        record.location = head.header("location").map(|v| v.to_string());
        let to = record
            .location
            .as_deref()
            .map(|l| format!(" to {l}"))
            .unwrap_or_default();
        return Err((
            FetchOutcome::Redirect,
            format!(
                "{host} answered {} {}{to}; senders do not follow redirects for an MTA-STS policy (RFC 8461 section 3.3)",
                head.status, head.reason
            ),
        ));
    }
    if head.status != 200 {
        return Err((
            FetchOutcome::HttpStatus,
            format!(
                "{host} answered {} {} instead of 200 with the policy",
                head.status, head.reason
            ),
        ));
    }
    let media = record.content_type.as_deref().map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if media.as_deref() != Some("text/plain") {
        return Err((
            FetchOutcome::ContentType,
            format!(
                "the policy is served as {}, not text/plain, so senders reject it",
                record
                    .content_type
                    .as_deref()
                    .map_or("no Content-Type".to_string(), |c| format!("\"{c}\""))
            ),
        ));
    }
    let length: Option<usize> = head.header("content-length").and_then(|v| v.parse().ok());
    if length.is_some_and(|n| n > MAX_POLICY_BYTES) {
        record.bytes = 0;
        return Err(too_large(length));
    }
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let raw = read_body(io, length, chunked).await?;
    let body = if chunked {
        dechunk(&raw).ok_or_else(|| {
            (
                FetchOutcome::BadResponse,
                "the chunked body is malformed".to_string(),
            )
        })?
    } else {
        raw
    };
    record.bytes = body.len() as u64;
    if body.len() > MAX_POLICY_BYTES {
        return Err(too_large(None));
    }
    String::from_utf8(body).map_err(|_| {
        (
            FetchOutcome::BadResponse,
            "the policy is not UTF-8 text".to_string(),
        )
    })
}

fn too_large(length: Option<usize>) -> Failed {
    let size = length.map_or("more than that".to_string(), |n| format!("{n} bytes"));
    (
        FetchOutcome::TooLarge,
        format!(
            "the policy is larger than {} KiB ({size}); senders give up on it",
            MAX_POLICY_BYTES / 1024
        ),
    )
}

/// The body after the head: `length` bytes, or up to the close; never more
/// than the limit (and room for chunk sizes) plus one byte, to tell "too large".
async fn read_body<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    io: LineIo<S>,
    length: Option<usize>,
    chunked: bool,
) -> Result<Vec<u8>, Failed> {
    let cap = if chunked {
        MAX_POLICY_BYTES + CHUNK_OVERHEAD + 1
    } else {
        length.unwrap_or(MAX_POLICY_BYTES + 1)
    };
    let mut body = io.pending_bytes().to_vec();
    let (mut stream, _) = io.into_inner();
    let mut buf = [0u8; 4096];
    while body.len() < cap {
        let n = match stream.read(&mut buf).await {
            Ok(n) => n,
            // A close without TLS close_notify still ends a body of known length.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => {
                return Err((
                    FetchOutcome::BadResponse,
                    format!("reading the policy: {e}"),
                ))
            }
        };
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    if let Some(n) = length.filter(|_| !chunked) {
        if body.len() < n {
            return Err((
                FetchOutcome::BadResponse,
                format!(
                    "the connection closed after {} of the {n} bytes announced",
                    body.len()
                ),
            ));
        }
        body.truncate(n);
    }
    if !chunked && length.is_none() && body.len() > MAX_POLICY_BYTES {
        return Err(too_large(None));
    }
    Ok(body)
}

/// Decode a chunked body (RFC 9112 section 7.1); `None` if malformed.
fn dechunk(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        if size > MAX_POLICY_BYTES + 1 || rest.len() < size + 2 {
            // Larger than the limit: keep what there is; the caller says "too large".
            if size > MAX_POLICY_BYTES {
                out.extend_from_slice(&rest[..rest.len().min(size)]);
                return Some(out);
            }
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        if &rest[size..size + 2] != b"\r\n" {
            return None;
        }
        rest = &rest[size + 2..];
        if out.len() > MAX_POLICY_BYTES {
            return Some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n").as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(dechunk(b"5\r\nhel"), None);
        assert_eq!(dechunk(b"zz\r\n"), None);
        assert_eq!(dechunk(b"3\r\nabcd\r\n0\r\n\r\n"), None);
    }
}
