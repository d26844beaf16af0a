//! The HTTP probe of a webmail front: one `GET /` with a Host header and
//! `Connection: close`; the status line and headers are read (bounded in
//! count and bytes), the body never is.
//!
//! On the implicit-TLS port the first handshake offers ALPN `h2, http/1.1`
//! and records what the server chose. HTTP/1.1 cannot be spoken on a
//! connection that chose `h2`, and mailport has no HTTP/2 client, so when the
//! server picks `h2` that connection is closed right after the handshake and
//! the GET goes over a second connection that offers only `http/1.1`. The
//! report keeps the TLS facts of the first handshake (ALPN `h2`).

use super::Session;
use crate::net::{self, escape, identify, LineIo, MAX_REPLY_BYTES};
use crate::phase::Failure;
use crate::report::{HttpFacts, Outcome, Phase, SafeText};
use crate::service::TlsMode;
use std::net::IpAddr;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// Most header lines read from one response.
pub const MAX_HEADERS: usize = 100;
/// Longest header value kept in the report.
const MAX_VALUE: usize = 512;

/// A response head: status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub version: String,
    pub status: u16,
    pub reason: SafeText,
    /// Header names as sent, values trimmed; both escaped.
    pub headers: Vec<(SafeText, SafeText)>,
}

impl Head {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&SafeText> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// httparse's settings for an answer from a server mailport does not trust:
/// a malformed header line is skipped, not fatal.
fn parser() -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    config.ignore_invalid_headers_in_responses(true);
    config
}

/// Parse `HTTP/1.1 301 Moved Permanently`: httparse reads the version
/// (HTTP/1.0 or 1.1) and the three-digit status (100 to 599); the reason
/// phrase, which servers fill with anything, is kept as sent, escaped.
pub fn parse_status_line(line: &[u8]) -> Option<(String, u16, SafeText)> {
    const PREFIX: usize = "HTTP/1.1 200".len();
    let (prefix, reason) = line.split_at(line.len().min(PREFIX));
    let reason = match reason {
        [] => reason,
        [b' ', rest @ ..] => rest,
        _ => return None,
    };
    let head = [prefix, b"\r\n\r\n"].concat();
    let mut response = httparse::Response::new(&mut []);
    match parser().parse_response(&mut response, &head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let status = response.code.filter(|s| (100..600).contains(s))?;
    Some((
        format!("HTTP/1.{}", response.version?),
        status,
        escape(reason),
    ))
}

/// The headers of a head (its header lines, each ending in CRLF, without the
/// status line): names as sent and values trimmed, both escaped; a malformed
/// line is skipped. At most [`MAX_HEADERS`].
fn parse_headers(lines: &[u8]) -> Vec<(SafeText, SafeText)> {
    let head = [b"HTTP/1.1 200 OK\r\n", lines, b"\r\n"].concat();
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    if !matches!(
        parser().parse_response(&mut response, &head),
        Ok(httparse::Status::Complete(_))
    ) {
        return Vec::new();
    }
    response
        .headers
        .iter()
        .map(|h| {
            let value = h.value.trim_ascii();
            (
                escape(h.name.as_bytes()),
                escape(&value[..value.len().min(MAX_VALUE)]),
            )
        })
        .collect()
}

/// Most interim (1xx) answers skipped before the final one.
const MAX_INTERIM: usize = 8;

/// Read the final answer's head: interim 1xx heads (103 Early Hints, 100
/// Continue) are skipped, at most [`MAX_INTERIM`] of them (101 is final).
pub async fn read_head<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineIo<S>,
) -> Result<Head, Failure> {
    for _ in 0..MAX_INTERIM {
        let head = read_one_head(io).await?;
        if !(100..200).contains(&head.status) || head.status == 101 {
            return Ok(head);
        }
    }
    Err(Failure::new(
        Outcome::BadReply,
        format!("more than {MAX_INTERIM} interim (1xx) answers and no final one"),
    ))
}

/// Read the status line and headers through the empty line, bounded in
/// header count and bytes (time is bounded by the caller).
async fn read_one_head<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineIo<S>,
) -> Result<Head, Failure> {
    let first = match io.read_line().await {
        Ok(l) => l,
        Err(net::ReadError::Eof { partial }) if partial.is_empty() => {
            return Err(Failure::new(
                Outcome::Closed,
                "the server closed the connection without answering GET /",
            ))
        }
        // An HTTP answer cut short is a close, like one cut in the headers.
        Err(e @ net::ReadError::Eof { .. }) if identify(&io.first) == Some("http") => {
            return Err(e.failure("waiting for the answer to GET /"))
        }
        // A few bytes and a close: a TLS alert, or some other protocol's goodbye.
        Err(net::ReadError::Eof { partial }) => return Err(not_http(&io.first, &partial)),
        Err(e) => return Err(e.failure("waiting for the answer to GET /")),
    };
    let Some((version, status, reason)) = parse_status_line(&first) else {
        return Err(not_http(&io.first, &first));
    };
    let mut lines = Vec::new();
    let mut count = 0;
    let mut bytes = first.len() + 2;
    loop {
        let line = io
            .read_line()
            .await
            .map_err(|e| e.failure("reading the response headers"))?;
        bytes += line.len() + 2;
        if bytes > MAX_REPLY_BYTES {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("more than {MAX_REPLY_BYTES} bytes of response headers"),
            ));
        }
        if line.is_empty() {
            return Ok(Head {
                version,
                status,
                reason,
                headers: parse_headers(&lines),
            });
        }
        if count >= MAX_HEADERS {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("more than {MAX_HEADERS} header lines in the response"),
            ));
        }
        // Obsolete line folding is skipped, not fatal.
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            continue;
        }
        count += 1;
        lines.extend_from_slice(&line);
        lines.extend_from_slice(b"\r\n");
    }
}

fn not_http(first: &[u8], line: &[u8]) -> Failure {
    let text = crate::net::quote(line, 80);
    match identify(first) {
        Some(p) if p != "http" => Failure::mismatch(
            p,
            format!("the port speaks {}, not HTTP: \"{text}\"", p.to_uppercase()),
        ),
        _ if line.is_empty() => Failure::new(
            Outcome::BadReply,
            "an empty line instead of the status line of the answer to GET /",
        ),
        Some(_) => Failure::new(
            Outcome::BadReply,
            format!("a malformed HTTP status line: \"{text}\""),
        ),
        None => Failure::mismatch(
            "unknown",
            format!("the answer to GET / is not HTTP: \"{text}\""),
        ),
    }
}

/// The request, with the Host header for `host` (a name, or an address).
pub fn request(host: &str) -> String {
    let host = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => format!("[{a}]"),
        _ => host.to_string(),
    };
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mailport/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

pub(crate) async fn run(s: &mut Session<'_>) -> Result<(), Failure> {
    let tcp = s.connect().await?;
    if s.spec.service.tls != TlsMode::Implicit {
        return get(s, tcp).await;
    }
    let tls = s.handshake(tcp, &[b"h2", b"http/1.1"]).await?;
    let chose_h2 = s
        .res
        .tls
        .as_ref()
        .is_some_and(|t| t.alpn.as_deref() == Some("h2"));
    if !chose_h2 {
        let got = get(s, tls).await;
        return got.map_err(|f| s.inside_tls(f));
    }
    let mut first = tls;
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), first.shutdown()).await;
    drop(first);
    s.note(
        "the server chose HTTP/2 (ALPN h2); GET / went over a second connection that offered only http/1.1"
            .to_string(),
    );
    let (addr, limit) = (s.spec.addr, s.spec.timeouts.connect);
    let tcp = s.step(Phase::Connect, limit, net::connect(addr)).await?;
    let facts = s.res.tls.take();
    let tls = s.handshake(tcp, &[b"http/1.1"]).await;
    let second = std::mem::replace(&mut s.res.tls, facts);
    let tls = tls?;
    if let Some(alpn) = second.and_then(|t| t.alpn).filter(|a| a != "http/1.1") {
        s.note(format!(
            "offered only http/1.1, the server still chose ALPN \"{alpn}\""
        ));
    }
    let got = get(s, tls).await;
    got.map_err(|f| s.inside_tls(f))
}

async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut Session<'_>,
    stream: S,
) -> Result<(), Failure> {
    let mut io = LineIo::new(stream).with_tape(s.tape.clone());
    let request = request(&s.spec.tls_name);
    let head = s
        .step(Phase::HttpRequest, s.spec.timeouts.reply, async {
            io.send(request.strip_suffix("\r\n").unwrap_or_default())
                .await
                .map_err(|e| net::io_failure(&e, "sending GET /"))?;
            read_head(&mut io).await
        })
        .await?;
    s.res.software = head.header("Server").cloned();
    s.res.http = Some(HttpFacts {
        version: head.version.clone(),
        status: head.status,
        reason: head.reason.clone(),
        location: head.header("Location").cloned(),
        server: head.header("Server").cloned(),
        hsts: head.header("Strict-Transport-Security").cloned(),
    });
    // The body is never read; dropping the connection closes it.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status_line(b"HTTP/1.1 301 Moved Permanently"),
            Some(("HTTP/1.1".into(), 301, "Moved Permanently".into()))
        );
        assert_eq!(
            parse_status_line(b"HTTP/1.0 200"),
            Some(("HTTP/1.0".into(), 200, "".into()))
        );
        assert_eq!(parse_status_line(b"HTTP/1.1 2000 OK"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 099 x"), None);
        assert_eq!(parse_status_line(b"HTTP/x 200 OK"), None);
        assert_eq!(parse_status_line(b"220 mail ESMTP"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_headers(b"Location:  https://mail.example.test/ \r\n"),
            vec![("Location".into(), "https://mail.example.test/".into())]
        );
        // Malformed lines are skipped, the others kept.
        assert_eq!(
            parse_headers(b"no colon\r\n: empty name\r\nServer: nginx\r\n"),
            vec![("Server".into(), "nginx".into())]
        );
        // A control character makes a header invalid (RFC 9110): skipped, never shown raw.
        assert_eq!(parse_headers(b"X-Evil: a\x1b[31mb\r\n"), vec![]);
        assert_eq!(
            parse_headers(b"X-Latin: caf\xe9\r\n"),
            vec![("X-Latin".into(), "caf\\xe9".into())]
        );
    }

    #[test]
    fn the_request_names_the_host_and_closes() {
        let r = request("mail.example.test");
        assert!(r.starts_with("GET / HTTP/1.1\r\nHost: mail.example.test\r\n"));
        assert!(r.contains("Connection: close\r\n"));
        assert!(r.ends_with("\r\n\r\n"));
        assert!(request("2001:db8::1").contains("Host: [2001:db8::1]\r\n"));
        assert!(request("192.0.2.1").contains("Host: 192.0.2.1\r\n"));
    }

    #[tokio::test]
    async fn heads_are_read_and_bounded() {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server
            .write_all(b"HTTP/1.1 301 Moved\r\nServer: nginx\r\n folded\r\nlocation: https://x/\r\n\r\nBODY")
            .await
            .unwrap();
        let mut io = LineIo::new(client);
        let head = read_head(&mut io).await.unwrap();
        assert_eq!(head.status, 301);
        assert_eq!(
            head.header("Location").map(|v| v.as_str()),
            Some("https://x/")
        );
        assert_eq!(head.headers.len(), 2);

        let (client, mut server) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let _ = server.write_all(b"HTTP/1.1 200 OK\r\n").await;
            for _ in 0..MAX_HEADERS + 10 {
                if server.write_all(b"X-A: b\r\n").await.is_err() {
                    return;
                }
            }
        });
        let mut io = LineIo::new(client);
        let f = read_head(&mut io).await.unwrap_err();
        assert_eq!(f.outcome, Outcome::BadReply);

        let (client, server) = tokio::io::duplex(1024);
        drop(server);
        let mut io = LineIo::new(client);
        let f = read_head(&mut io).await.unwrap_err();
        assert_eq!(f.outcome, Outcome::Closed);
        assert!(f.detail.contains("without answering"), "{}", f.detail);

        let (client, mut server) = tokio::io::duplex(1024);
        server.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await.unwrap();
        let mut io = LineIo::new(client);
        let f = read_head(&mut io).await.unwrap_err();
        assert_eq!(f.outcome, Outcome::ProtocolMismatch);
        assert_eq!(f.peer_protocol.as_deref(), Some("ssh"));
    }

    #[tokio::test]
    async fn a_status_line_cut_short_is_a_close_and_an_empty_one_a_bad_reply() {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(1024);
        server.write_all(b"HTTP/1.1 200 O").await.unwrap();
        drop(server);
        let f = read_head(&mut LineIo::new(client)).await.unwrap_err();
        assert_eq!(f.outcome, Outcome::Closed);
        assert!(f.detail.contains("HTTP/1.1 200 O"), "{}", f.detail);

        let (client, mut server) = tokio::io::duplex(1024);
        server
            .write_all(b"\r\nHTTP/1.1 200 OK\r\n\r\n")
            .await
            .unwrap();
        let f = read_head(&mut LineIo::new(client)).await.unwrap_err();
        assert_eq!(f.outcome, Outcome::BadReply);
        assert!(f.detail.contains("empty line"), "{}", f.detail);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_status_line_parses_or_not_with_codes_in_range(line in proptest::collection::vec(any::<u8>(), 0..300)) {
                if let Some((_, status, reason)) = parse_status_line(&line) {
                    prop_assert!((100..600).contains(&status));
                    prop_assert!(!reason.chars().any(|c| c.is_control()));
                }
                for (name, value) in parse_headers(&line) {
                    prop_assert!(!name.chars().any(|c| c.is_control()));
                    prop_assert!(!value.chars().any(|c| c.is_control()));
                }
            }

            #[test]
            fn a_rendered_status_line_parses_back(version in "1\\.[01]", status in 100u16..600, reason in "[ -~]{0,60}") {
                let line = format!("HTTP/{version} {status} {reason}");
                prop_assert_eq!(
                    parse_status_line(line.as_bytes()),
                    Some((format!("HTTP/{version}"), status, reason.into()))
                );
            }

            #[test]
            fn any_byte_stream_ends_in_a_head_or_a_failure(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let result = rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let (client, mut server) = tokio::io::duplex(1 << 16);
                    server.write_all(&bytes).await.unwrap();
                    drop(server);
                    let mut io = LineIo::new(client);
                    read_head(&mut io).await
                });
                match result {
                    Ok(head) => prop_assert!(head.headers.len() <= MAX_HEADERS),
                    Err(f) => prop_assert!(!f.detail.is_empty()),
                }
            }
        }

        // Each case runs a runtime and a stream: fewer cases keep the suite fast.
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_rendered_head_reads_back(
                // 1xx heads are interim: read_head skips them for the final one.
                status in 200u16..600,
                headers in proptest::collection::vec(("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}", "([!-~]([ -~]{0,40}[!-~])?)?"), 0..40),
            ) {
                let mut wire = format!("HTTP/1.1 {status} Whatever\r\n");
                for (name, value) in &headers {
                    prop_assert_eq!(
                        parse_headers(format!("{name}: {value}\r\n").as_bytes()),
                        vec![(name.clone().into(), value.clone().into())]
                    );
                    wire.push_str(&format!("{name}: {value}\r\n"));
                }
                wire.push_str("\r\nBODY NEVER READ");
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let got = rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let (client, mut server) = tokio::io::duplex(1 << 16);
                    server.write_all(wire.as_bytes()).await.unwrap();
                    read_head(&mut LineIo::new(client)).await
                });
                prop_assert_eq!(got, Ok(Head {
                    version: "HTTP/1.1".to_string(),
                    status,
                    reason: "Whatever".into(),
                    headers: headers.into_iter().map(|(n, v)| (n.into(), v.into())).collect(),
                }));
            }
        }
    }
}
