//! The one table of outcome and finding codes: what each means, what usually
//! causes it, and what to do. Hints in reports and `mailport explain` both
//! come from here, so every code is documented exactly once.
//!
//! The table generates the [`Code`] enum: a finding names its code as a
//! variant, so a misspelt code does not compile, and its severity and hint
//! come from its row. This module is the ground floor: it imports nothing
//! of mailport.

use serde::{Deserialize, Serialize};

mod hints;
mod tlsrpt;
pub use hints::SOFTWARE_HINTS;
pub use tlsrpt::TlsRptResult;

/// How bad a finding is. Ordered: `Info < Warn < Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warn,
    Fail,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The result of one probe.
    Outcome,
    /// A conclusion drawn from one or more probes.
    Finding,
}

/// One row of the table.
#[derive(Debug)]
pub struct CodeInfo {
    pub code: Code,
    pub kind: Kind,
    /// The severity of the finding this code raises (for outcomes: when the probe fails).
    pub severity: Severity,
    /// The RFC 8460 result type a sending MTA would report for this failure
    /// on the SMTP relay port, if the code is one (`tlsrpt:` in the row).
    pub tlsrpt: Option<TlsRptResult>,
    pub meaning: &'static str,
    pub causes: &'static str,
    pub action: &'static str,
}

/// `Variant = "wire_name", Kind, Severity, [tlsrpt: ResultType,] meaning,
/// causes, action;` per row: the enum (serialised as its wire name) and the
/// table in the same order. `tlsrpt:` names the RFC 8460 result type
/// ([`TlsRptResult`]) of the codes that are one.
macro_rules! codes {
    ($($variant:ident = $code:literal, $kind:ident, $sev:ident, $(tlsrpt: $rpt:ident,)?
        $meaning:literal, $causes:literal, $action:literal;)*) => {
        /// Every outcome and finding code, as it appears in reports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Code {
            $(#[serde(rename = $code)] $variant,)*
        }

        impl Code {
            /// The code as written in reports: snake_case.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }
        }

        /// The table, in the order of the enum.
        pub static CODES: &[CodeInfo] = &[
            $(CodeInfo {
                code: Code::$variant,
                kind: Kind::$kind,
                severity: Severity::$sev,
                tlsrpt: codes!(@rpt $($rpt)?),
                meaning: $meaning,
                causes: $causes,
                action: $action,
            },)*
        ];
    };
    (@rpt) => { None };
    (@rpt $rpt:ident) => { Some(TlsRptResult::$rpt) };
}

codes! {
    // ---- outcomes -------------------------------------------------------
    Ok = "ok", Outcome, Info,
        "Every phase of the probe worked: connected, greeted, capabilities read, TLS negotiated where expected.",
        "A working service.",
        "Nothing. Read the findings for certificate and policy warnings.";
    Refused = "refused", Outcome, Fail,
        "The connection was refused at once (TCP RST or ICMP port-unreachable).",
        "Nothing listens on the port; the daemon is stopped or bound to another address (Postfix inet_interfaces = loopback-only); or a firewall REJECT rule answers for it, such as ConfigServer Firewall's SMTP_BLOCK, whose default action is REJECT.",
        "On the server: `ss -ltnp` shows what listens where; start the service or bind it to the public address; check the firewall for REJECT rules on the port.";
    Unreachable = "unreachable", Outcome, Fail,
        "The connection failed with a routing or policy error (no route, network unreachable, administratively prohibited, or not permitted locally).",
        "A router or firewall answered with ICMP host/net unreachable or admin-prohibited (iptables REJECT --reject-with icmp-admin-prohibited); no route to the address (IPv6 not configured here); a local policy that denies the connection.",
        "Try the other address family (-4 / -6); check routes (`ip route get ADDR`) and firewall rules on this machine and on the path; ask the network's owner which rule rejects the port.";
    ConnectTimeout = "connect_timeout", Outcome, Fail,
        "The SYN was never answered: the port is filtered. This is the classic \"Connection timed out\" / \"Can't open SMTP stream\".",
        "A firewall silently DROPs the connection: at the server (its INPUT rules, a cloud security group), in the network between, or on your side (an outbound block by your ISP or VPS provider, common for port 25 and sometimes 465, or a local firewall such as ConfigServer Firewall's SMTP_BLOCK with DROP_OUT = DROP). A host that is down looks the same.",
        "Compare ports: if 587 and 465 connect while 25 times out, port 25 is blocked on your path; use 587/465 for submission and ask your provider to lift the block for server-to-server mail. Add --control with a host known to answer on the same ports, or test from another network, to tell your side from the server's; check the server's firewall and security group.";
    Reset = "reset", Outcome, Fail,
        "The server accepted the connection and then reset it.",
        "A daemon that crashes or refuses the client at once (tcpwrappers, connection limits, fail2ban with a reset action), a load balancer without a healthy backend, or a middlebox killing the session.",
        "Look at the server's log at the time of the probe; check connection limits and blocklists for your address.";
    Closed = "closed", Outcome, Fail,
        "The server closed the connection in the middle of the dialog.",
        "A daemon that drops unknown clients, rate limiting, a crash, or a proxy with no backend.",
        "Look at the server's log at the time of the probe; retry later to rule out rate limits.";
    GreetingTimeout = "greeting_timeout", Outcome, Fail,
        "The connection was accepted but the server never sent its greeting.",
        "A hung or overloaded daemon, a tarpit, a proxy or antivirus that intercepts the port and never answers, or a service that expects the client to speak first (TLS or HTTP on the port). mailport never speaks before the greeting.",
        "Raise --greeting-timeout to rule out a slow server (RFC 5321 allows 5 minutes); check the daemon's process and log; check for an interception proxy on your side by testing from another network.";
    Rejected = "rejected", Outcome, Fail,
        "The server answered but refused the session (SMTP 4xx/5xx greeting, IMAP * BYE, POP3 -ERR).",
        "Your address is on a blocklist or has no reverse DNS, too many connections (421), or the service is in maintenance. The server's own words are in the report.",
        "Read the server's text in the report; check your address's reverse DNS and blocklist status; retry later for 4xx.";
    ProtocolMismatch = "protocol_mismatch", Outcome, Fail,
        "The port speaks another protocol than the one expected.",
        "TLS on a plaintext port (e.g. port 465 settings used on 587), plaintext on an implicit-TLS port, an SSH, HTTP or FTP server on a mail port, or a port forward pointing at the wrong service.",
        "Check the client's port and security settings (STARTTLS on 587/143/110, SSL/TLS on 465/993/995) and the server's listener and port-forward configuration.";
    StarttlsUnavailable = "starttls_unavailable", Outcome, Fail, tlsrpt: StarttlsNotSupported,
        "STARTTLS (POP3: STLS) could not be used: not advertised, refused by the server, or stripped by a middlebox.",
        "TLS not configured on the server (Postfix smtpd_tls_security_level = none, Dovecot ssl = no, a missing certificate), a server error (SMTP 454, IMAP NO/BAD, POP3 -ERR), or a firewall's inspection that removes STARTTLS from the capability list.",
        "Configure a certificate and enable STARTTLS on the server; if the server's own config offers it, test from another network to find the middlebox that strips it.";
    TlsFailed = "tls_failed", Outcome, Fail, tlsrpt: ValidationFailure,
        "The TLS handshake failed.",
        "Only obsolete protocol versions (TLS 1.0/1.1) or weak ciphers on the server, a broken certificate or key configuration, a handshake alert, or a middlebox that interferes.",
        "Read the reason in the report; enable TLS 1.2 and 1.3 with modern ciphers on the server; check its certificate and key files.";
    ReplyTimeout = "reply_timeout", Outcome, Fail,
        "The server stopped answering in the middle of the dialog.",
        "An overloaded or stuck daemon, a tarpit that slows suspicious clients, or a middlebox that swallows certain commands.",
        "Retry with a longer --reply-timeout; look at the server's log.";
    BadReply = "bad_reply", Outcome, Fail,
        "The server's reply broke the protocol or mailport's limits (a line longer than 4096 bytes, more than 256 lines or 64 KiB in one reply, a malformed code).",
        "A broken or hostile server, or the wrong service on the port.",
        "Check what listens on the port; the report shows the start of the offending reply, escaped.";
    DnsFailed = "dns_failed", Outcome, Fail,
        "The host name did not resolve to an address, so nothing could be probed.",
        "A typo, a missing A/AAAA record, a name that has only MX records (a mail domain rather than a host), or a resolver that failed.",
        "Check the name with `dig A NAME` and `dig AAAA NAME`; for a mail domain, check its MX hosts instead (`mailport check DOMAIN --mx`). A timeout or SERVFAIL is the resolver's failure, not proof that the name is missing: retry, or ask another server with --dns-server.";
    NotRun = "not_run", Outcome, Fail,
        "The check's --deadline passed before this probe could start, so nothing is known about the port.",
        "Many hosts or addresses at once (at most 64 probes run at the same moment), slow DNS, or a --deadline shorter than the phase timeouts.",
        "Raise --deadline, check fewer hosts at once, or shorten --timeout and --greeting-timeout.";
    InternalError = "internal_error", Outcome, Fail,
        "mailport itself failed inside this probe: a bug in mailport, not a fact about the server.",
        "A case the probe's code did not expect. The other probes of the check are unaffected.",
        "Run the check again with the same arguments; if it happens again, report it with the command line and the server software.";
    ConnectionLimited = "connection_limited", Outcome, Warn,
        "The server turned the connection away because it limits how many connections one client may hold at once (e.g. \"421 Too many concurrent SMTP connections from this IP address\"). mailport retries such a probe once, alone, after its other probes to the address: this outcome means it was turned away again, or no time was left to retry. The server is up and answers; the port was not checked past that answer.",
        "A per-client connection limit lower than what one client needs (Exim smtp_accept_max_per_host, Postfix smtpd_client_connection_count_limit, Dovecot mail_max_userip_connections or its login-process limit), or other clients sharing your address (NAT, your own mail client) holding the server's connections at that moment.",
        "Run the check again when fewer clients at your address are connected, or with --max-per-address 1; a limit of 1 or 2 also turns away users behind a shared address (an office NAT, a mail client that opens several connections): raise it on the server.";
    // ---- findings -------------------------------------------------------
    StarttlsStripped = "starttls_stripped", Finding, Fail, tlsrpt: StarttlsNotSupported,
        "STARTTLS appears masked (e.g. XXXXXXXA) in the EHLO reply: something between you and the server rewrote it.",
        "A firewall's ESMTP inspection (Cisco ASA/PIX \"inspect esmtp\" or \"fixup smtp\") or an antivirus mail shield.",
        "Turn off SMTP inspection on the firewall in front of the server (or on your side); test from another network to locate it.";
    PreauthPlaintext = "preauth_plaintext", Finding, Fail,
        "The IMAP server greets with PREAUTH on its plaintext port: anyone who connects gets a mailbox session without credentials and without TLS.",
        "IMAP configured to pre-authenticate by address (e.g. a trusted network or a local-only setup exposed to others), or a proxy that logs clients in.",
        "Do not pre-authenticate on a port others can reach; require STARTTLS and a login, and check which networks the server trusts.";
    StarttlsNotOfferedRelay = "starttls_not_offered_relay", Finding, Warn, tlsrpt: StarttlsNotSupported,
        "The SMTP relay port (25, or a custom port spoken as smtp) does not offer STARTTLS, so mail to this server travels in plaintext.",
        "TLS not configured for the SMTP relay service.",
        "Configure a certificate and enable opportunistic TLS on the SMTP relay service.";
    AuthBeforeTls = "auth_before_tls", Finding, Fail,
        "The server offers plaintext AUTH (PLAIN or LOGIN) before STARTTLS, so passwords can cross the network unencrypted.",
        "Submission configured to allow authentication without TLS.",
        "Offer AUTH only after STARTTLS.";
    AuthBeforeTlsHashed = "auth_before_tls_hashed", Finding, Warn,
        "The server offers authentication before TLS (SMTP AUTH, IMAP AUTH=, POP3 SASL), though only with challenge-response mechanisms.",
        "The service is configured to allow authentication without TLS.",
        "Offer authentication only after STARTTLS/STLS.";
    GreetingSlow = "greeting_slow", Finding, Warn,
        "The server took more than 5 seconds to greet.",
        "Postfix postscreen's deliberate pause (about 6 s), a tarpit, reverse-DNS lookups that time out on the server, or an overloaded server. Clients with short timeouts may give up.",
        "If it is postscreen, nothing is wrong; otherwise check the server's DNS resolver and load.";
    CertExpired = "cert_expired", Finding, Fail, tlsrpt: CertificateExpired,
        "The certificate has expired.",
        "Renewal failed or the service still uses an old certificate file after renewal.",
        "Renew the certificate (certbot renew, or your CA's process) and reload every service that uses it.";
    CertNotYetValid = "cert_not_yet_valid", Finding, Fail, tlsrpt: ValidationFailure,
        "The certificate is not valid yet.",
        "A clock error on the issuing side or on this machine, or a certificate installed too early.",
        "Check this machine's clock and the certificate's not-before date.";
    CertNameMismatch = "cert_name_mismatch", Finding, Fail, tlsrpt: CertificateHostMismatch,
        "The certificate does not name the host that was checked. A warning on the SMTP relay port, where most senders use opportunistic TLS and do not check names (those that do: MTA-STS in enforce mode, DANE); a failure on every other port.",
        "The server presents a certificate for another name (a default or shared certificate), or clients use a name the certificate does not cover.",
        "Issue a certificate that covers every name clients use (add it to the SANs), or point clients at a covered name; --tls-name checks another name.";
    CertSelfSigned = "cert_self_signed", Finding, Fail, tlsrpt: CertificateNotTrusted,
        "The certificate is self-signed: no client will trust it without manual steps.",
        "A default certificate made at installation (Debian's ssl-cert snakeoil) is still in use.",
        "Install a certificate from a public CA (e.g. Let's Encrypt); for a private CA pass it with --ca-file.";
    CertUntrusted = "cert_untrusted", Finding, Fail, tlsrpt: CertificateNotTrusted,
        "The certificate chain leads to a root that is not trusted.",
        "A private or unknown CA.",
        "Use a certificate from a public CA, or pass your CA with --ca-file if it is meant to be private.";
    CertIncompleteChain = "cert_incomplete_chain", Finding, Fail, tlsrpt: CertificateNotTrusted,
        "The server does not send the intermediate certificate(s) that link its certificate to a trusted root.",
        "The service is configured with the leaf certificate only (cert.pem instead of fullchain.pem).",
        "Configure the full chain: the certificate file the service uses must hold the intermediates too (fullchain.pem, not cert.pem).";
    CertUnknownIssuer = "cert_unknown_issuer", Finding, Fail, tlsrpt: CertificateNotTrusted,
        "The certificate's issuer is not in your trust store and the server did not send it, and the certificate does not say where to fetch it (no Authority Information Access URL, which public CAs always include): either the chain is incomplete or the CA is private.",
        "A private CA (then mailport needs it: --ca-file), or a server configured with its leaf certificate only.",
        "If the CA is yours, pass its certificate with --ca-file CA.pem; if the certificate comes from a public CA, configure the full chain (fullchain.pem) on the server.";
    CertInvalid = "cert_invalid", Finding, Fail, tlsrpt: ValidationFailure,
        "The certificate was refused for another reason (bad signature, unsupported algorithm, wrong usage, revoked).",
        "A damaged or unusual certificate.",
        "Read the verifier's words in the report; reissue the certificate.";
    CertExpiringSoon = "cert_expiring_soon", Finding, Warn,
        "The certificate expires in less than 21 days.",
        "Automatic renewal (which usually runs 30 days ahead) is failing or not set up.",
        "Check the renewal job and its log; renew now.";
    Port25Blocked = "port25_blocked", Finding, Fail,
        "Only port 25 times out while the submission ports of the same address connect: port 25 is blocked on the path.",
        "Most often an outbound block by your ISP or VPS/cloud provider (Google Cloud, Azure, DigitalOcean, Hetzner and others block port 25, Hetzner also 465, on new servers), or a local firewall such as ConfigServer Firewall's SMTP_BLOCK; sometimes the server's own firewall.",
        "Mail clients should submit on 587 or 465 anyway. To tell your side from the server's, run again with --control and a host known to accept on port 25 (a big provider's MX), or test from another network. To send server-to-server mail, ask the provider to lift the block or relay through a smarthost on 587.";
    OutboundPort25Blocked = "outbound_port25_blocked", Finding, Fail,
        "Port 25 times out on the host checked and on the control host too, while the control host's other ports connect: outbound port 25 is blocked on your side of the network.",
        "Your ISP or VPS/cloud provider blocks outbound port 25 (residential lines, Google Cloud, Azure, DigitalOcean, Hetzner, UpCloud and others do by default), or this machine's firewall drops it (ConfigServer Firewall SMTP_BLOCK with DROP_OUT = DROP; CSF exempts root, so run mailport as the user that sends mail).",
        "Submit mail on 587 or 465 instead. For server-to-server mail, ask the provider to lift the block (many have a form) or relay through a smarthost on 587; check this machine's OUTPUT rules (`iptables -L OUTPUT -v -n`, `nft list ruleset`) and /etc/csf/csf.conf.";
    LocalFirewall = "local_firewall", Finding, Fail,
        "A connection to an address of this machine timed out: nothing on the network is involved, so this machine's own firewall (or a listener whose queue is full) dropped it.",
        "An INPUT or OUTPUT rule that DROPs the port (iptables, nftables, ufw, firewalld, ConfigServer Firewall), or a daemon that stopped accepting connections so its listen queue is full.",
        "List the rules and their counters (`iptables -L -v -n`, `nft list ruleset`) and look for the port; check the daemon with `ss -ltn` (a Recv-Q at its limit means it no longer accepts).";
    GreetingWithheld = "greeting_withheld", Finding, Fail,
        "Port 25 accepts connections but never greets, while the submission port of the same address greets.",
        "Something intercepts port 25: an antivirus mail shield or an ISP's transparent SMTP proxy on your side, a firewall's SMTP proxy, a tarpit on the server; or the daemon serving 25 is stuck while the one on 587 works.",
        "Test from another network: if 25 greets there, the interception is on your side; otherwise check the server's port-25 listener (postscreen, proxies) and its log.";
    HostUnreachableOrFiltered = "host_unreachable_or_filtered", Finding, Fail,
        "Every port of the address timed out: the host is down or everything is filtered.",
        "The host is off or unreachable, a firewall drops all traffic to it, or a wrong address (an old DNS record).",
        "Check that the address is right (DNS) and the host is up; test from another network; check the server's firewall and cloud security group.";
    NoServiceListening = "no_service_listening", Finding, Fail,
        "Every port of the address refused the connection: the host is up but no mail service listens.",
        "The mail services are stopped, listen on loopback only, or a firewall REJECTs every mail port; or this is not the mail server.",
        "Check that the address is the mail server's; on it, `ss -ltnp` and the service status; check REJECT rules.";
    LoginBeforeTls = "login_before_tls", Finding, Fail,
        "The IMAP or POP3 server advertises a password login before STARTTLS/STLS (IMAP LOGIN without LOGINDISABLED, POP3 USER, or SASL PLAIN/LOGIN). IMAP LOGIN and SASL PLAIN/LOGIN carry the password in the command itself, so a client that uses them sends it unencrypted even when the server then refuses (fail). POP3 USER carries only the name, and a server that refuses USER before TLS never sees the password (warn): mailport sends no credential to find out which.",
        "Plaintext logins allowed on the STARTTLS port: Dovecot disable_plaintext_auth = no (auth_allow_cleartext = yes in 2.4), Courier IMAP_TLS_REQUIRED=0 / POP3_TLS_REQUIRED=0 (Debian's default), Cyrus allowplaintext: yes (Debian's default).",
        "Require TLS before any login, and tell clients to use 993/995 or STARTTLS.";
    HttpNoRedirect = "http_no_redirect", Finding, Warn,
        "Port 80 does not redirect to HTTPS: webmail logins there would travel in plaintext.",
        "The web server serves its default site or the webmail itself over plain HTTP, or redirects to another http:// address.",
        "Answer every request on port 80 with a permanent redirect to https://, and serve webmail only over HTTPS.";
    HttpServerError = "http_server_error", Finding, Warn,
        "The web server answered GET / with a 5xx server error.",
        "A webmail or proxy back end that is down or misconfigured (502 Bad Gateway, 503 Service Unavailable: PHP-FPM stopped, a proxied application not running).",
        "Look at the web server's error log at the time of the probe; check that the webmail's back end (PHP-FPM, the proxied service) runs.";
    HstsMissing = "hsts_missing", Finding, Info,
        "HTTPS answers without a Strict-Transport-Security header, so browsers may still try plain HTTP first.",
        "HSTS not configured on the web server.",
        "Send Strict-Transport-Security: max-age=31536000 on HTTPS responses.";
    ServiceNotOffered = "service_not_offered", Finding, Info,
        "A port of the default sweep refused the connection while other ports of the same address answered: the service is not offered on this host. Information only; a service asked for with --service or --port is a failure when refused.",
        "The host does not run this service (an MX without POP3 or webmail, a mailbox server without SMTP relay): nothing listens on the port, or a firewall rejects it.",
        "Nothing, if the service is not meant to run here. If it should, it is down: on the server, `ss -ltnp` shows what listens where; start the service or open the port. Check it on its own with --service NAME to make its absence a failure.";
    // ---- reverse DNS, names and MX (diagnose/names.rs) ---------------------
    PtrMissing = "ptr_missing", Finding, Fail,
        "The address has no reverse DNS (PTR) record. Many receivers refuse or defer mail from it: this is what \"450 4.7.1 Client host rejected: cannot find your hostname\" means (Postfix's reject_unknown_client_hostname), and Gmail and Yahoo require every sending address to have a PTR.",
        "The reverse zone of an address belongs to whoever owns the address block (the hosting or cloud provider, or the ISP), not to your domain's DNS: no PTR was ever set there, or it was set for an old address.",
        "Receivers answer mail from it with \"450 4.7.1 Client host rejected: cannot find your hostname\" until it has one. Set the PTR where the address is managed (the provider's control panel usually has a \"reverse DNS\" or \"PTR\" field; else ask their support) to the server's host name, the one it greets with, and make sure that name's A/AAAA record points back at the address.";
    PtrNotConfirmed = "ptr_not_confirmed", Finding, Fail,
        "The address's PTR name does not resolve back to the address: no forward-confirmed reverse DNS (FCrDNS). Receivers such as Gmail and Yahoo require a PTR whose name resolves back, and Postfix's reject_unknown_client_hostname answers \"450 4.7.1 Client host rejected: cannot find your hostname\" when it does not.",
        "The PTR names a host that has no A/AAAA record (a typo, a deleted record, a provider's default name), or one whose A/AAAA points elsewhere (the server moved; the record was never updated).",
        "Add an A record (AAAA for IPv6) for the PTR name that contains this address, or change the PTR to the server's real host name. Check with `dig -x ADDR` then `dig A NAME`.";
    PtrLookupFailed = "ptr_lookup_failed", Finding, Fail,
        "The reverse-DNS check could not finish: the PTR question, or the forward question for a PTR name, timed out or was answered SERVFAIL or REFUSED. This is not the same as a missing PTR: nothing is known about it.",
        "A broken delegation of the reverse zone (the provider's name servers do not answer for it), name servers that are down, a firewall blocking DNS, or the resolver mailport asked (the report names it). Receivers that hit the same failure defer mail with a 4xx reply.",
        "Ask another resolver (--dns-server 9.9.9.9 or 1.1.1.1); follow the delegation with `dig -x ADDR +trace`; if the reverse zone fails there too, ask the owner of the address (the provider) to fix it.";
    PtrGreetingMismatch = "ptr_greeting_mismatch", Finding, Info,
        "The name the SMTP server announces in its greeting or EHLO reply differs from its address's PTR name. Information only: it is not a receiver requirement (RFC 5321 does not ask for it, and major receivers check that a PTR exists and resolves back, not that it matches), and web checkers that call it an error send admins chasing nothing.",
        "The greeting name (Postfix myhostname, Exim primary_hostname, Exchange's FQDN) set to another of the server's names than the PTR; a server behind NAT or a load balancer; one server for several domains.",
        "Nothing is required. For tidiness, use one host name for the PTR, the greeting and the certificate.";
    PtrGeneric = "ptr_generic", Finding, Warn,
        "The PTR name looks like a generic name that a provider gives to dynamic or pool addresses: it carries the address's digits (192-0-2-25.pool.example.net) or words such as dynamic, dhcp, pool, dsl. Spam filters score such names as residential, and some receivers refuse them.",
        "The provider's default reverse DNS was never replaced with the server's own name.",
        "Set a PTR that names the server (e.g. mail.example.org) where the address is managed, with an A/AAAA record that points back, and make the server greet with that name.";
    PtrMultiple = "ptr_multiple", Finding, Warn,
        "The address has more than one PTR record.",
        "Several names published for one address, often one per hosted domain by a control panel. Receivers use one of them, in no fixed order, so forward confirmation and name checks give different results from one connection to the next.",
        "Keep a single PTR per address: the server's host name, the one it greets with.";
    CertNameNotCovered = "cert_name_not_covered", Finding, Info,
        "The certificate on the SMTP relay port does not cover every name the server goes by: the name it greets with, its PTR name, or the host that was checked (the name it was verified for has its own verdict).",
        "A certificate issued for one name (the MX or web name) while the server greets with, or reverse-resolves to, another.",
        "Add the missing names to the certificate (as SANs), or make the server greet with a name the certificate covers.";
    MxNull = "mx_null", Finding, Fail,
        "The domain publishes a null MX (RFC 7505: a single `MX 0 .`): it declares that it accepts no mail, so mail to it bounces at once and there is no mail server to probe.",
        "Deliberate for a domain that never receives mail; a mistake if it should (a DNS template or a parked-domain default).",
        "If the domain should receive mail, replace the null MX with MX records for its mail servers (e.g. `MX 10 mail.example.org.`); if not, nothing is wrong.";
    MxMissing = "mx_missing", Finding, Warn,
        "The domain has no MX record. Senders then fall back to the domain's own A/AAAA record (the implicit MX of RFC 5321 section 5.1), which mailport checks instead.",
        "MX records never published, or lost when the DNS moved to another provider.",
        "Publish an MX record that names the mail server (e.g. `example.org. MX 10 mail.example.org.`), even when it is the same host.";
    SubmissionNoAuth = "submission_no_auth", Finding, Warn,
        "The submission port (587 or 465) offers no AUTH, not even inside TLS: mail clients cannot log in, so they cannot send mail through it.",
        "SASL authentication not enabled for the submission service (a submission listener copied from the relay port's settings), or an authentication back end that failed to start, so the server stops advertising AUTH.",
        "Enable SASL authentication on the submission service, offered only inside TLS, and check the server's log for authentication back-end errors.";
    HttpsRedirectsToHttp = "https_redirects_to_http", Finding, Warn,
        "HTTPS redirects to a plain http:// address: webmail would leave TLS, and with port 80's redirect to HTTPS the browser goes round in a loop (\"too many redirects\").",
        "An application or proxy that does not know it is behind HTTPS (a back end that builds its own URLs from the scheme it sees, a missing X-Forwarded-Proto), a hard-coded http:// base URL in the webmail's configuration, or a redirect rule meant for port 80 applied to both.",
        "Make the HTTPS site redirect only to https:// URLs: fix the webmail's base URL, pass X-Forwarded-Proto: https to the back end, and keep the redirect to HTTPS in the port-80 site only.";
    StarttlsRefused = "starttls_refused", Finding, Fail, tlsrpt: StarttlsNotSupported,
        "The server offers STARTTLS (POP3: STLS) but refuses it when asked (SMTP 454, IMAP NO/BAD, POP3 -ERR): its TLS is configured but broken. A warning on the SMTP relay port, where senders fall back to plaintext; a failure on every other port.",
        "A certificate or key file that is missing, unreadable by the daemon's user or does not match (SMTP 454 4.7.0 \"TLS not available due to local problem\"), a TLS library or entropy problem, or a per-client limit on TLS sessions.",
        "Read the server's words in the report and its log at the time of the probe; check that the certificate and key files the service names exist, are readable by its user and belong together, then reload the service.";
    SmtpInspectionMiddlebox = "smtp_inspection_middlebox", Finding, Warn,
        "The SMTP greeting is masked with asterisks (220 ****…): a Cisco PIX/ASA firewall's SMTP inspection sits between you and the server, rewrites the dialog and may hide or break STARTTLS and ESMTP extensions.",
        "`inspect esmtp` (ASA) or `fixup smtp` (PIX) enabled in the firewall's policy for the mail server's traffic.",
        "Turn the inspection off for the mail server (ASA: `policy-map global_policy`, `class inspection_default`, `no inspect esmtp`; PIX: `no fixup protocol smtp 25`); if it is not your firewall, test from another network to find whose it is.";
    ConnectionLimitSeen = "connection_limit_seen", Finding, Info,
        "The server limits how many connections one client may hold at once: it turned away one of mailport's concurrent connections (e.g. \"421 Too many concurrent SMTP connections from this IP address\"), and the probe passed when retried alone. An anti-abuse setting, not a fault.",
        "A per-client connection limit (Exim smtp_accept_max_per_host, Postfix smtpd_client_connection_count_limit, Dovecot mail_max_userip_connections or its login-process limit). Set low (1 to 3), it also turns away users behind one shared address (an office NAT) and mail clients that open several connections.",
        "Nothing is required. If users behind one address are told \"too many connections\", raise the limit or exempt their network; --max-per-address 1 checks without tripping it.";
    TlsObsoleteOnly = "tls_obsolete_only", Finding, Fail, tlsrpt: ValidationFailure,
        "The server speaks only TLS 1.0 or 1.1 (or SSL 3.0), which RFC 8996 deprecated: mailport, current mail clients and current mail servers refuse them, so every TLS handshake fails. After rustls's TLS 1.2/1.3 handshake failed, mailport sent a ClientHello of its own offering TLS 1.0 to 1.2 and the server chose the older version (the probe's tls_versions).",
        "A TLS library too old for TLS 1.2 (OpenSSL before 1.0.1, an old Windows SCHANNEL or Java), an old appliance or hosted service, or protocol settings that list only TLSv1 and TLSv1.1.",
        "Enable TLS 1.2 (and 1.3) in the service's TLS protocol settings; if it has no such setting, its TLS library is too old: upgrade the software or the system it runs on. Check again with mailport afterwards.";
    // ---- this machine (mailport local; check when a mail port failed) -----
    LocalLoopbackOnly = "local_loopback_only", Finding, Warn,
        "A mail port of this machine listens on loopback only (127.0.0.1, ::1): programs on this machine can connect, other machines are refused.",
        "The mail server bound to loopback on purpose (a null client that only sends: Postfix inet_interfaces = loopback-only, Exim local_interfaces = 127.0.0.1 ; ::1, Debian's dc_local_interfaces) or by mistake on a server that should receive mail.",
        "If other machines should reach the port, bind the service to the public address or to all addresses (Postfix inet_interfaces = all, Exim local_interfaces = <; 0.0.0.0 ; ::, Dovecot listen = *, ::) and restart it; if this machine only sends mail, nothing is wrong.";
    LocalNotListening = "local_not_listening", Finding, Info,
        "Nothing listens on a mail port of this machine. Information only: on a machine that only sends mail (webmail or scripts handing mail to a relay) that is right; on the mail server, the service is stopped or not installed.",
        "The service is not offered here, is stopped, or failed to start (a configuration error, a port taken by another program).",
        "If the service should run here, start it and read its log (`systemctl status postfix dovecot exim4`, `journalctl -u NAME`); `ss -ltnp` shows what listens where.";
    CsfSmtpBlock = "csf_smtp_block", Finding, Info,
        "ConfigServer Firewall's SMTP_BLOCK is on: only root, the users in SMTP_ALLOWUSER and the groups in SMTP_ALLOWGROUP may open connections to the SMTP ports (SMTP_PORTS) of other machines; with SMTP_ALLOWLOCAL = \"1\" everyone may still reach this machine's own mail server. The user running mailport passes.",
        "Set on purpose on shared hosting (cPanel's \"SMTP Tweak\"): scripts must hand mail to the local MTA instead of sending it themselves.",
        "Nothing, if programs send through this machine's MTA. A program that must connect out itself (an application sending through an external smarthost) needs its user in SMTP_ALLOWUSER (or its group in SMTP_ALLOWGROUP) in /etc/csf/csf.conf, then `csf -r`.";
    CsfSmtpBlockedUser = "csf_smtp_blocked_user", Finding, Fail,
        "ConfigServer Firewall's SMTP_BLOCK drops or rejects this user's SMTP: the user running mailport is not root, not in SMTP_ALLOWUSER, and its group is not in SMTP_ALLOWGROUP, so its connections to the SMTP ports (SMTP_PORTS) of other machines fail (\"Connection timed out\" with DROP_OUT = \"DROP\", \"Connection refused\" with REJECT), and with SMTP_ALLOWLOCAL = \"0\" also those to this machine's own mail server. Root would pass.",
        "SMTP_BLOCK = \"1\" in /etc/csf/csf.conf (cPanel's SMTP Tweak), which exempts only root (uid 0), SMTP_ALLOWUSER and SMTP_ALLOWGROUP (iptables --gid-owner: the process's own group, not its supplementary groups).",
        "Send through this machine's MTA (the sendmail binary, or 127.0.0.1 with SMTP_ALLOWLOCAL = \"1\"); or add the user to SMTP_ALLOWUSER (or its group to SMTP_ALLOWGROUP); or set SMTP_BLOCK = \"0\". Edit /etc/csf/csf.conf, then `csf -r`. Testing as root proves nothing here: root always passes.";
    CsfSmtpAllowlocalOff = "csf_smtp_allowlocal_off", Finding, Fail,
        "ConfigServer Firewall has SMTP_BLOCK = \"1\" with SMTP_ALLOWLOCAL = \"0\": users other than root and those allowed cannot connect even to this machine's own mail server on 127.0.0.1. Webmail (Roundcube, Horde, SquirrelMail) and scripts that send over SMTP to localhost fail with \"Connection timed out\" / \"Can't open SMTP stream\".",
        "SMTP_ALLOWLOCAL turned off (or left off) when SMTP_BLOCK was turned on; cPanel's webmail needs it on.",
        "In /etc/csf/csf.conf set SMTP_ALLOWLOCAL = \"1\" (and keep SMTP_BLOCK = \"1\" if outgoing SMTP should stay blocked), then `csf -r`.";
    CsfMtaBlocked = "csf_mta_blocked", Finding, Fail,
        "The user this machine's MTA delivers as (exim, mailnull, Debian-exim or postfix) does not pass ConfigServer Firewall's SMTP_BLOCK: the mail server itself cannot connect to other mail servers, so outgoing mail stays in its queue.",
        "SMTP_ALLOWUSER and SMTP_ALLOWGROUP do not name the MTA's user or its primary group (cPanel's default SMTP_ALLOWGROUP = \"mail,mailman\" covers Exim's mailnull through group mail; other systems need their own).",
        "Add the MTA's user to SMTP_ALLOWUSER or its primary group to SMTP_ALLOWGROUP in /etc/csf/csf.conf, then `csf -r`; the mail queue (`exim -bp`, `postqueue -p`) then drains.";
    CsfPortClosed = "csf_port_closed", Finding, Warn,
        "ConfigServer Firewall's port lists leave out a mail port: a port missing from TCP_OUT (TCP6_OUT) is dropped outgoing for every user, root included; a listening mail port missing from TCP_IN (TCP6_IN) cannot be reached from other machines.",
        "The port was never added (587 and 465 are often missing from old configurations), or was removed to stop spam from scripts (SMTP_BLOCK is the better tool).",
        "Add the port to the list named in the finding in /etc/csf/csf.conf, then `csf -r`.";
    FirewallBlocksMail = "firewall_blocks_mail", Finding, Fail,
        "A firewall rule on this machine (iptables or nftables) drops or rejects mail connections: outgoing ones of the user running mailport (OUTPUT), or incoming ones to a mail port that listens here (INPUT). The rule is quoted.",
        "A rule written by hand or by a firewall manager (ConfigServer Firewall's SMTP_BLOCK builds owner-match rules in chain SMTPOUTPUT; ufw, firewalld, a hosting panel), often with an owner match (-m owner ! --uid-owner 0, meta skuid != 0) that spares root.",
        "Change or delete the rule where it is made (csf.conf, ufw, firewalld, the panel), not only in the live tables, which the firewall manager rewrites; `iptables -L -v -n --line-numbers` and `nft list ruleset` show it with its counters.";
    FirewallBlocksOtherUsers = "firewall_blocks_other_users", Finding, Warn,
        "A firewall rule on this machine drops or rejects SMTP for users other than the one running mailport (an owner match): mailport passes, but webmail, PHP and scripts running as other users do not. A check run as root says nothing about them.",
        "An owner-match rule (-m owner ! --uid-owner 0, meta skuid != 0), typically ConfigServer Firewall's SMTP_BLOCK, that exempts root and a few users.",
        "Run mailport as the user whose mail fails (e.g. `sudo -u www-data mailport check HOST`); let that user through where the rule is made (SMTP_ALLOWUSER in csf.conf) or have it send through the local MTA.";
    FirewallUnreadable = "firewall_unreadable", Finding, Info,
        "mailport could not read this machine's firewall rules (iptables-save, nft list ruleset): reading them needs root (CAP_NET_ADMIN). Nothing is assumed about them; what csf.conf says is reported separately.",
        "mailport runs as an ordinary user.",
        "Run `sudo mailport local` to include the rules, or save them as root (`iptables-save > rules.txt`) and point mailport at them (--iptables-save 'cat rules.txt').";
    SmtpBlockedForUser = "smtp_blocked_for_user", Finding, Fail,
        "A connection to an SMTP port failed because this machine's own firewall drops or rejects SMTP for the user running mailport (ConfigServer Firewall's SMTP_BLOCK, or an owner-match rule): the server was never asked. Root would pass, so the same check as root succeeds.",
        "ConfigServer Firewall with SMTP_BLOCK = \"1\" (and SMTP_ALLOWLOCAL = \"0\" for this machine's own addresses), or an iptables/nftables rule with -m owner ! --uid-owner 0 / meta skuid != 0 in OUTPUT.",
        "See the finding's lines and rule: let this user through (SMTP_ALLOWUSER, SMTP_ALLOWLOCAL = \"1\" for local webmail) or send through this machine's MTA; `mailport local` lists who passes. Then `csf -r`.";
    // ---- where is it blocked? (trace.rs, diagnose/trace.rs) -----------------
    BlockedLocally = "blocked_locally", Finding, Fail,
        "A TCP trace of the port got no answer at any TTL, not even 1, while a working port of the same address was answered by the first router: the SYN never left this machine. Limits: a first router that filters the port before it counts hops (rare, some home routers) looks the same, and so does a lost ICMP answer at TTL 1 (routers rate-limit them); a second run that agrees is good evidence.",
        "A firewall on this machine drops the port: an OUTPUT rule (iptables, nftables, ufw, firewalld), ConfigServer Firewall's SMTP_BLOCK with DROP_OUT = DROP, or an owner match (-m owner ! --uid-owner, meta skuid) that lets only root or the mail user out, so the verdict depends on the user that runs mailport.",
        "Run `mailport local` on this machine: it reads csf.conf (SMTP_BLOCK, SMTP_ALLOWUSER, SMTP_ALLOWGROUP) and the firewall rules, owner matches included, and names the rule or the lines to change. By hand: list the OUTPUT rules with their counters (`iptables -L OUTPUT -v -n`, `nft list ruleset`), and run mailport again as the user that sends the mail.";
    BlockedAtHop = "blocked_at_hop", Finding, Fail,
        "A TCP trace of the port was answered up to a router on the way (the hop named, with its PTR name when it has one) and was silent after it, while a working port of the same address went on to the destination; or a router on the way rejected the port (ICMP prohibited). A filter at that hop, or just after it, blocks the port. Limits: routers that never answer or rate-limit ICMP leave holes, which are compared with the working port's at the same TTL; load balancing (ECMP) can send two ports different ways (each walk keeps one source port); a firewall may answer with an address other than its own.",
        "An early hop (the first few) is your own network, your ISP or your VPS/cloud provider: an outbound port block (port 25 on residential lines, Google Cloud, Azure, DigitalOcean, Hetzner and others). A hop near the end is the destination's provider or its firewall.",
        "Look up who owns the hop's address (`whois ADDR`). If it is your ISP or VPS provider, ask them to lift the block (many have a form) or submit mail on 587/465 and relay through a smarthost; if it is on the destination's side, tell its admin which port is filtered and where.";
    BlockedAtDestination = "blocked_at_destination", Finding, Fail,
        "A TCP trace of the port was answered by every router up to the last one and was silent at the hop where a working port of the same address connects: the destination, or its last router, drops the port. Limits: a trace cannot tell the destination's own firewall from its last router's (both are on the destination's side); a destination next to this machine (one hop) cannot be told from this machine's own firewall.",
        "The server's firewall (INPUT rules, ConfigServer Firewall's TCP_IN), a cloud security group, or the provider's edge in front of the server drops the port; or the service's listener is limited to some networks.",
        "Open the port on the server's firewall and in its cloud security group (from the networks that must reach it); if you do not run the server, tell its admin which port is filtered.";
    CertSerialNegative = "cert_serial_negative", Finding, Warn,
        "The certificate's serial number is negative (the first bit of its DER integer is set). RFC 5280 requires a positive serial; most TLS libraries accept it anyway, but some refuse the certificate (Go's crypto/x509 since Go 1.23), so some clients and monitoring tools cannot connect.",
        "A certificate made by a home-grown CA script or an old tool that writes random bytes as the serial without clearing the first bit.",
        "Issue the certificate again with a positive serial (e.g. openssl's default random serial, or clear the top bit of the one you generate).";
    MtaStsTxtInvalid = "mta_sts_txt_invalid", Finding, Fail, tlsrpt: StsPolicyInvalid,
        "The domain's _mta-sts TXT record is malformed, or there is more than one v=STSv1 record: senders then act as if the domain had no MTA-STS policy (RFC 8461 section 3.1).",
        "A second record left from an earlier setup, a missing or malformed id (1 to 32 letters and digits), a typo in v=STSv1, or fields not separated by \";\".",
        "Publish exactly one record: _mta-sts.DOMAIN. TXT \"v=STSv1; id=20261201T000000\" (change the id whenever the policy changes) and delete the others.";
    MtaStsFetchFailed = "mta_sts_fetch_failed", Finding, Fail, tlsrpt: StsPolicyFetchError,
        "The domain publishes an MTA-STS TXT record, but its policy could not be fetched from https://mta-sts.DOMAIN/.well-known/mta-sts.txt (no address, no connection, no answer in time, or a status other than 200). Senders without a cached policy deliver without MTA-STS; senders with one keep the old one until it expires.",
        "No A/AAAA record for mta-sts.DOMAIN, no web server (or a firewall) on its port 443, the file missing (404), or a web server that does not answer for that name.",
        "Serve the policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt with status 200 and Content-Type text/plain (in nginx, a server block for mta-sts.DOMAIN on 443 with location = /.well-known/mta-sts.txt { default_type text/plain; root /var/www/mta-sts; }); or remove the _mta-sts TXT record if MTA-STS is not meant to be used.";
    MtaStsRedirect = "mta_sts_redirect", Finding, Fail, tlsrpt: StsPolicyFetchError,
        "The MTA-STS policy URL answers with a redirect (3xx). RFC 8461 section 3.3 forbids senders to follow it, so to them the policy cannot be fetched.",
        "A web server that redirects every request (to www., to another path, or a catch-all rule), or a hosting service that does not serve the mta-sts name itself.",
        "Serve /.well-known/mta-sts.txt on mta-sts.DOMAIN itself with status 200 and no redirect; exempt that path from redirect rules (in nginx, location = /.well-known/mta-sts.txt { default_type text/plain; root /var/www/mta-sts; } before the redirect).";
    MtaStsContentType = "mta_sts_content_type", Finding, Fail, tlsrpt: StsPolicyFetchError,
        "The MTA-STS policy is served with another Content-Type than text/plain, and RFC 8461 senders refuse it.",
        "The web server's default type for a file without a known extension (application/octet-stream), or an HTML error page served as the policy.",
        "Serve the file as text/plain: in nginx, default_type text/plain; in the location of /.well-known/mta-sts.txt; in Apache, AddType text/plain .txt (or a <Files mta-sts.txt> ForceType text/plain).";
    MtaStsTooLarge = "mta_sts_too_large", Finding, Fail, tlsrpt: StsPolicyFetchError,
        "The MTA-STS policy is larger than 64 KiB, the limit RFC 8461 suggests to senders: they give up on it.",
        "Another file served at the policy's URL (an HTML page, a log), or a generated policy run wild.",
        "Serve a short policy: version: STSv1, mode, one mx: line per MX pattern, max_age: a few lines.";
    MtaStsWebpkiInvalid = "mta_sts_webpki_invalid", Finding, Fail, tlsrpt: StsWebpkiInvalid,
        "The certificate of mta-sts.DOMAIN is not valid for that name (expired, another name, an untrusted issuer): senders refuse to fetch the policy over it.",
        "A web server that serves its default certificate for the mta-sts name, a certificate without mta-sts.DOMAIN among its names, or an expired one.",
        "Add mta-sts.DOMAIN to the web server's certificate (certbot certonly -d mta-sts.DOMAIN, or --expand), serve it for that name, and reload the web server.";
    MtaStsPolicyInvalid = "mta_sts_policy_invalid", Finding, Fail, tlsrpt: StsPolicyInvalid,
        "The MTA-STS policy file breaks RFC 8461's syntax (version, mode, mx, max_age): senders treat it as no policy.",
        "A missing or misspelt field (max_age rather than max-age), a mode other than enforce, testing or none, a max_age above 31557600, an mx that is not a host name or *.domain pattern, or an HTML page served in its place.",
        "Serve exactly these lines, one per line: version: STSv1 / mode: enforce (or testing) / mx: mail.example.org (one line per MX, *.example.org for a family) / max_age: 604800.";
    MtaStsMxNotCovered = "mta_sts_mx_not_covered", Finding, Fail, tlsrpt: ValidationFailure,
        "An MX host of the domain matches none of the MTA-STS policy's mx patterns. In enforce mode senders that enforce MTA-STS (Gmail, Microsoft) refuse to deliver to that MX, so mail to it stops; in testing mode they only report it (a warning).",
        "An MX added or renamed without updating the policy, or a pattern like *.example.org that does not cover example.org itself or two labels down.",
        "Add the MX to the policy (mx: HOST, or a *.domain pattern that covers it), change the id in the _mta-sts TXT record so that senders fetch it again, then check again.";
    MtaStsMxCertificate = "mta_sts_mx_certificate", Finding, Fail, tlsrpt: ValidationFailure,
        "An MX address covered by the MTA-STS policy does not pass the sender's checks on port 25: no STARTTLS, or a certificate that is not valid for the MX name (another name, expired, untrusted). In enforce mode senders that enforce MTA-STS stop delivering to it; in testing mode they only report it (a warning).",
        "A default or self-signed certificate on the SMTP service, a certificate without the MX name, a renewal that did not reach the mail server, or TLS not configured on one address of the MX.",
        "Install a certificate from a public CA that names the MX host on every address of the MX, and enable STARTTLS on port 25; until then switch the policy to mode: testing (and change the id in the _mta-sts TXT record).";
    TlsrptMissing = "tlsrpt_missing", Finding, Warn,
        "The domain publishes MTA-STS or DANE but no TLS-RPT record, so senders that fail to deliver over TLS have nowhere to report it, and failures go unnoticed.",
        "TLS-RPT (RFC 8460) was not set up beside the policy.",
        "Publish _smtp._tls.DOMAIN. TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@DOMAIN\" (a mailbox or an https: URI that collects the daily reports).";
    TlsrptInvalid = "tlsrpt_invalid", Finding, Warn,
        "The domain's _smtp._tls TXT record is malformed, or there is more than one v=TLSRPTv1 record: senders send no reports.",
        "A missing rua=, a URI other than mailto: or https:, a mailto: without an address, or a second record.",
        "Publish exactly one record: _smtp._tls.DOMAIN. TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@DOMAIN\" (several URIs separated by commas).";
    MxFamilyMismatch = "mx_family_mismatch", Finding, Warn,
        "The IPv4 and IPv6 addresses of one MX host answer differently on port 25: another certificate, or STARTTLS on one family only. Senders that reach the MX over the other family get another result, which is hard to trace.",
        "Two servers, or two listeners, behind one name with different configurations (a dual-stack setup where IPv6 goes to another machine, a load balancer with stale certificates, a listener bound to one family).",
        "Serve the same certificate and the same STARTTLS setup on every address of the MX; compare the addresses with mailport check MX -v.";
    DaneTlsaMismatch = "dane_tlsa_mismatch", Finding, Fail, tlsrpt: TlsaInvalid,
        "An address of the MX presents, on its SMTP port, a certificate that matches none of the MX's usable TLSA records, which are DNSSEC-secure: senders that do DANE (Postfix and Exim with DANE on, Microsoft 365, many providers) do not deliver to that address, and say nothing to you.",
        "A certificate renewed with a new key while the TLSA record still holds the old key's digest (certbot makes a new key at each renewal unless told not to); a record published for the next key only (the current key's record removed too early in a rollover); one address of the MX serving another certificate than the others; a typo in the record.",
        "Publish a TLSA record for the key in use (the hint gives it), keep it beside the next key's record during a rollover, and remove a record only two TTLs after the key it names is out of use; renew with the same key (certbot --reuse-key) so that a 3 1 1 record stays valid.";
    DaneTlsaBogus = "dane_tlsa_bogus", Finding, Fail, tlsrpt: DnssecInvalid,
        "The MX's TLSA records fail DNSSEC validation (bogus): the signatures that should prove them are missing, expired or do not verify. Senders that do DANE treat the MX as unreachable and defer (then bounce) mail to it.",
        "A zone edited without being signed again, RRSIGs that expired because the signer stopped running, a DS record at the parent that matches none of the zone's keys (a key rollover gone wrong), a hidden primary and its secondaries out of step; or, when every signed domain looks bogus, a resolver on the way that strips the DNSSEC records (ask another one with --dns-server).",
        "Sign the zone again and check the chain with `delv _25._tcp.MX TLSA` or dnsviz.net; if the key changed, publish the new key's DS at the registrar (and keep the old key until the old DS has expired).";
    DaneTlsaInsecure = "dane_tlsa_insecure", Finding, Warn,
        "The MX has TLSA records, but they are not DNSSEC-secure (the zone is unsigned, or its signatures could not be proven): they are not usable, senders ignore them, and DANE is not in force for this MX.",
        "TLSA records published in a zone without DNSSEC, or a signed zone without a DS record at its parent (an insecure delegation), or a resolver that does not pass the DNSSEC records on.",
        "Sign the zone and publish its DS record at the parent (the registrar), or remove the TLSA records; with --trust-ad, check that the resolver you named validates.";
    DaneTlsaUnusable = "dane_tlsa_unusable", Finding, Warn, tlsrpt: TlsaInvalid,
        "The MX's TLSA records are DNSSEC-secure but none of them is usable for SMTP: usages 0 (PKIX-TA) and 1 (PKIX-EE) are not used for SMTP (RFC 7672 section 3.1.3), nor are unknown selectors and matching types. Senders that do DANE then encrypt without authenticating the server.",
        "Records written for HTTPS (where PKIX usages are common), or a typo in the usage, selector or matching field.",
        "Publish DANE-EE (3 1 1, the SHA-256 of the server's public key) or DANE-TA (2 1 1, of the issuing CA's key) records; the hint gives the 3 1 1 record for the key each address presents.";
    DaneTlsaLookupFailed = "dane_tlsa_lookup_failed", Finding, Warn, tlsrpt: DnssecInvalid,
        "The TLSA lookup of the MX failed (a timeout, SERVFAIL, or no proof either way): whether DANE applies is unknown. A sender that does DANE and finds the MX's zone signed defers mail while the lookup fails.",
        "A name server of the zone that does not answer TLSA queries (some old servers and firewalls drop unknown types), a validating resolver that cannot reach the zone's servers, or a resolver that strips the DNSSEC records.",
        "Query `dig _25._tcp.MX TLSA +dnssec` against each of the zone's name servers; fix the server that does not answer; with --trust-ad, try another validating resolver.";
    DaneNoTls = "dane_no_tls", Finding, Fail, tlsrpt: StarttlsNotSupported,
        "An address of an MX that publishes usable, DNSSEC-secure TLSA records offers no TLS on its SMTP port (no STARTTLS, or a failed handshake): senders that do DANE require TLS and do not deliver to that address.",
        "TLS not configured on one server of the MX (or behind one of its addresses), a certificate or key file that fails to load, or a middlebox that strips STARTTLS.",
        "Enable STARTTLS with the certificate the TLSA records name on every address of the MX, or remove the TLSA records until it is.";
}

impl Code {
    /// This code's row of the table.
    pub fn info(self) -> &'static CodeInfo {
        // The table is generated in the order of the enum.
        &CODES[self as usize]
    }

    pub fn severity(self) -> Severity {
        self.info().severity
    }

    /// The hint attached to a finding: what to do.
    pub fn hint(self) -> &'static str {
        self.info().action
    }

    /// The code written `text` (snake_case), if there is one.
    pub fn parse(text: &str) -> Option<Code> {
        CODES
            .iter()
            .find(|c| c.code.as_str() == text)
            .map(|c| c.code)
    }
}

impl Code {
    /// The hint for a finding about `software` (as a probe identified it):
    /// the row for that software when there is one, else the generic action.
    pub fn hint_for(self, software: Option<&str>) -> &'static str {
        let family = software
            .and_then(|s| {
                s.split(|c: char| c.is_whitespace() || c == '-' || c == '/')
                    .next()
            })
            .map(str::to_ascii_lowercase);
        family
            .and_then(|f| {
                SOFTWARE_HINTS
                    .iter()
                    .find(|(c, sw, _)| *c == self && *sw == f)
                    .map(|(_, _, hint)| *hint)
            })
            .unwrap_or(self.info().action)
    }

    /// Every software-specific hint of this code, `(software, hint)`.
    pub fn software_hints(self) -> impl Iterator<Item = (&'static str, &'static str)> {
        SOFTWARE_HINTS
            .iter()
            .filter(move |(c, _, _)| *c == self)
            .map(|(_, sw, hint)| (*sw, *hint))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    #[test]
    fn every_outcome_has_one_row() {
        for o in Outcome::ALL {
            let row = o.code().info();
            assert_eq!(row.code.as_str(), o.as_str());
            assert_eq!(row.kind, Kind::Outcome);
        }
    }

    #[test]
    fn hints_fit_the_software_found() {
        let auth = Code::AuthBeforeTls;
        assert!(auth
            .hint_for(Some("Postfix"))
            .contains("smtpd_tls_auth_only"));
        assert!(auth
            .hint_for(Some("Exim 4.96"))
            .contains("auth_advertise_hosts"));
        assert!(!auth.hint_for(Some("Exim 4.96")).contains("Postfix"));
        assert_eq!(auth.hint_for(Some("Haraka")), auth.info().action);
        assert_eq!(auth.hint_for(None), auth.info().action);
        assert!(Code::CertExpired
            .hint_for(Some("lighttpd"))
            .contains("restart lighttpd"));
        assert!(!Code::CertExpired
            .hint_for(Some("lighttpd"))
            .contains("postfix"));
        assert!(Code::HstsMissing
            .hint_for(Some("nginx/1.22.1"))
            .contains("add_header"));
        assert!(Code::LoginBeforeTls
            .hint_for(Some("Courier-IMAP"))
            .contains("IMAP_TLS_REQUIRED"));
        // Generic actions name no one server's settings.
        for row in CODES {
            for sw in [
                "postfix reload",
                "doveadm",
                "smtpd_tls",
                "nginx:",
                "Apache:",
            ] {
                assert!(!row.action.contains(sw), "{}: {sw}", row.code);
            }
        }
        // Every software row is lower case, one word, and its code is a finding or outcome row.
        for (code, sw, hint) in SOFTWARE_HINTS {
            assert!(sw.chars().all(|c| c.is_ascii_lowercase()), "{sw}");
            assert!(!hint.is_empty(), "{code}");
        }
    }

    #[test]
    fn tlsrpt_result_types_are_rfc8460s_words() {
        use TlsRptResult as R;
        for r in [
            R::StarttlsNotSupported,
            R::CertificateHostMismatch,
            R::CertificateExpired,
            R::CertificateNotTrusted,
            R::ValidationFailure,
            R::TlsaInvalid,
            R::DnssecInvalid,
            R::DaneRequired,
            R::StsPolicyFetchError,
            R::StsPolicyInvalid,
            R::StsWebpkiInvalid,
        ] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Code::CertExpired.info().tlsrpt, Some(R::CertificateExpired));
        assert_eq!(
            Code::CertNameMismatch.info().tlsrpt,
            Some(R::CertificateHostMismatch)
        );
        assert_eq!(
            Code::StarttlsNotOfferedRelay.info().tlsrpt,
            Some(R::StarttlsNotSupported)
        );
        // Not a TLS failure: no result type.
        assert_eq!(Code::ConnectTimeout.info().tlsrpt, None);
        assert_eq!(Code::PtrMissing.info().tlsrpt, None);
    }

    #[test]
    fn the_docs_document_every_code() {
        // docs/codes.md is generated (`mailport explain --format markdown`);
        // tests/docs.rs checks that it is what the binary prints now.
        let docs = include_str!("../docs/codes.md");
        for c in CODES {
            let code = c.code.as_str();
            assert!(
                docs.contains(&format!("| [`{code}`](#{code}) |"))
                    && docs.contains(&format!("\n### {code}\n")),
                "docs/codes.md has no row or section for `{code}`: \
                 mailport explain --format markdown > docs/codes.md"
            );
        }
    }

    #[test]
    fn codes_are_unique_snake_case_and_documented() {
        for (i, c) in CODES.iter().enumerate() {
            assert_eq!(c.code as usize, i, "the table is in the order of the enum");
            assert_eq!(Code::parse(c.code.as_str()), Some(c.code));
            assert!(c
                .code
                .as_str()
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'));
            assert!(!c.meaning.is_empty() && !c.causes.is_empty() && !c.action.is_empty());
            assert!(
                CODES[i + 1..]
                    .iter()
                    .all(|d| d.code.as_str() != c.code.as_str()),
                "{} twice",
                c.code
            );
        }
    }
}
