//! `mailport policy DOMAIN` and `check --mx`: a mail domain's TLS promises
//! (MTA-STS, TLS-RPT) against what its MX serves, with the in-process DNS
//! server (fixtures/dns/policy.test.zone), the fake SMTP server as the MX
//! and the fake server speaking HTTPS as mta-sts.DOMAIN.

use crate::support::cmd::{Mailport, Run};
use crate::support::dns::DnsServer;
use crate::support::ports::closed_port;
use crate::support::report::Report;
use crate::support::schema::valid_report;

/// `mailport policy DOMAIN --json` against `dns`, SMTP on `smtp_port`.
fn policy(dns: &DnsServer, domain: &str, smtp_port: u16) -> Mailport {
    Mailport::policy(domain)
        .args(["--dns-server", &dns.arg(), "--dns-timeout", "2s"])
        .port(format!("smtp={smtp_port}"))
        .fast_timeouts()
}

fn json(cmd: Mailport) -> (Run, Report) {
    let run = cmd.json().run();
    let report = valid_report(&run);
    (run, report)
}

#[test]
fn a_domain_without_promises_has_an_empty_policy_section() {
    let dns = DnsServer::start();
    let (run, r) = json(policy(&dns, "none.policy.test", closed_port()));
    assert_eq!(r.command, "policy");
    let d = &r.domains.as_ref().unwrap()[0];
    let p = d.policy.as_ref().expect("a policy section");
    assert_eq!(p.mta_sts.txt.name, "_mta-sts.none.policy.test");
    assert_eq!(p.mta_sts.txt.status, "nxdomain");
    assert!(p.mta_sts.fetch.is_none() && p.mta_sts.id.is_none());
    assert_eq!(p.tls_rpt.txt.status, "nxdomain");
    assert!(p.tls_rpt.rua.is_empty());
    // Only port 25 of the MX is probed; nothing about MTA-STS or TLS-RPT.
    assert!(r.targets[0].probes.iter().all(|p| p.service == "smtp"));
    assert!(
        !r.codes()
            .iter()
            .any(|c| c.starts_with("mta_sts") || c.starts_with("tlsrpt")),
        "{:?}",
        r.codes()
    );
    assert_eq!(run.code, 1, "nothing listens on the MX's port");
    let text = policy(&dns, "none.policy.test", closed_port()).run();
    assert!(
        text.stdout
            .contains("MTA-STS   none (no v=STSv1 record at _mta-sts.none.policy.test)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("TLS-RPT   none"), "{}", text.stdout);
}
