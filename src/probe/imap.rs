//! The IMAP dialog: greeting, CAPABILITY, STARTTLS, CAPABILITY again, LOGOUT.
//! Never LOGIN or AUTHENTICATE; never a byte before the server's greeting;
//! after a refused STARTTLS nothing but LOGOUT.
//!
//! Tags are fixed per command rather than counted, so that recordings of real
//! servers (fixtures/imap/) replay unchanged whichever steps a dialog skips:
//! `a1 CAPABILITY` (before TLS, or on an implicit-TLS port), `a2 STARTTLS`,
//! `a3 CAPABILITY` inside the TLS session, `a4 LOGOUT`.

mod parse;

pub use parse::*;

use super::{send, Dialog, GreetingText, NameSlot, ProbeSpec, Refusal, Stream};
use crate::net::{escape, LineIo};
use crate::phase::Failure;
use crate::report::{Outcome, Phase, ProbeResult, SafeText};
use std::fmt;
use std::net::IpAddr;

/// A command, whose `Display` is its wire form (tag included) without CRLF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Capability,
    StartTls,
    CapabilityTls,
    Logout,
}

impl Command {
    fn tag(self) -> &'static str {
        match self {
            Command::Capability => "a1",
            Command::StartTls => "a2",
            Command::CapabilityTls => "a3",
            Command::Logout => "a4",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self {
            Command::Capability | Command::CapabilityTls => "CAPABILITY",
            Command::StartTls => "STARTTLS",
            Command::Logout => "LOGOUT",
        };
        write!(f, "{} {verb}", self.tag())
    }
}

/// The server software an IMAP greeting may name.
const SOFTWARE: &[(&str, &str)] = &[
    ("Dovecot", "Dovecot"),
    ("Courier-IMAP", "Courier-IMAP"),
    ("Cyrus IMAP", "Cyrus IMAP"),
    ("Cyrus IMAP4", "Cyrus IMAP"),
    ("Microsoft Exchange", "Microsoft Exchange"),
    ("Zimbra", "Zimbra"),
    ("Gimap", "Gmail"),
    ("Stalwart", "Stalwart"),
    ("hMailServer", "hMailServer"),
    ("MDaemon", "MDaemon"),
    ("Kerio", "Kerio Connect"),
    ("UW IMAP", "UW IMAP"),
    ("Archiveopteryx", "Archiveopteryx"),
    ("maddy", "maddy"),
    ("mox", "mox"),
];

/// The IMAP side of the dialog: CAPABILITY (unless the greeting carries
/// it), STARTTLS, LOGOUT; PREAUTH and `* BYE` in the greeting.
pub(crate) struct Imap;

impl Dialog for Imap {
    /// The greeting line, and what it says.
    type Greeting = (Vec<u8>, Greeting);
    type Answer = Caps;
    type Caps = Caps;

    const IMPLICIT_PORT: &'static str = "993";
    const WITH_STARTTLS: &'static str = "IMAP with STARTTLS";
    const FIRST_COMMAND: &'static str = "next command";
    const STARTTLS_COMMAND: &'static str = "next command";
    const STARTTLS: &'static str = "STARTTLS";
    const STARTTLS_YES: &'static str = "OK";
    const NAME_SLOT: NameSlot = NameSlot::FreeText;
    const SOFTWARE: &'static [(&'static str, &'static str)] = SOFTWARE;

    fn new(_: &ProbeSpec, _: Option<IpAddr>) -> Imap {
        Imap
    }

    async fn read_greeting<S: Stream>(
        &self,
        io: &mut LineIo<S>,
    ) -> Result<(Vec<u8>, Greeting), Failure> {
        read_greeting(io).await
    }

    fn greeting_text((line, g): &(Vec<u8>, Greeting)) -> GreetingText {
        GreetingText {
            shown: escape(line),
            name_from: g.text.to_string(),
            software_from: g.text.to_string(),
        }
    }

    fn judge_greeting(
        (line, g): (Vec<u8>, Greeting),
        res: &mut ProbeResult,
    ) -> Result<Option<Caps>, Refusal> {
        match g.status {
            Status::Ok => Ok(g.caps),
            Status::PreAuth => {
                res.preauth = true;
                res.notes.push(
                    "the server greets with PREAUTH: the session is authenticated without any credentials"
                        .into(),
                );
                Ok(g.caps)
            }
            // `* BYE`: the server is gone, no LOGOUT.
            _ => Err(Refusal {
                failure: Failure::new(
                    Outcome::Rejected,
                    format!(
                        "the server refused the session in its greeting: \"{}\"",
                        escape(&line)
                    ),
                ),
                goodbye: false,
            }),
        }
    }

    async fn ask_capabilities<S: Stream>(
        &self,
        io: &mut LineIo<S>,
        phase: Phase,
    ) -> Result<Caps, Failure> {
        let cmd = match phase {
            Phase::CapabilitiesTls => Command::CapabilityTls,
            _ => Command::Capability,
        };
        send(io, cmd).await?;
        let resp = read_response(io, cmd.tag(), "waiting for the reply to CAPABILITY").await?;
        if resp.status != Status::Ok {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("the server refused CAPABILITY: \"{}\"", resp.text()),
            ));
        }
        caps_of(&resp).ok_or_else(|| {
            Failure::new(
                Outcome::BadReply,
                "the reply to CAPABILITY carries no capability list",
            )
        })
    }

    fn judge_capabilities(
        &self,
        caps: Caps,
        _: Phase,
        _: &mut ProbeResult,
    ) -> Result<Caps, Refusal> {
        Ok(caps)
    }

    fn record_caps(caps: Caps, tls: bool, res: &mut ProbeResult) {
        if tls {
            res.capabilities_tls = caps.words;
            res.auth_tls = caps.auth;
            res.login_tls = Some(!caps.login_disabled);
        } else {
            res.capabilities_plain = caps.words;
            res.auth_plain = caps.auth;
            res.starttls_offered = Some(caps.starttls);
            res.login_disabled = Some(caps.login_disabled);
            // After PREAUTH there is no login to allow or forbid.
            if !res.preauth {
                res.login_plain = Some(!caps.login_disabled);
            }
        }
    }

    fn no_starttls(caps: &Caps, res: &ProbeResult) -> Option<&'static str> {
        if res.preauth {
            // Already authenticated in cleartext: STARTTLS is only valid before
            // authentication (RFC 9051 6.2.1), and a login would be beside the point.
            Some("the server greets with PREAUTH on the plaintext port: the session is authenticated without credentials and without TLS, and STARTTLS is no longer allowed")
        } else if !caps.starttls {
            Some("the server does not offer STARTTLS in its capabilities")
        } else {
            None
        }
    }

    async fn starttls<S: Stream>(&self, io: &mut LineIo<S>, _: &Caps) -> Result<SafeText, Failure> {
        send(io, Command::StartTls).await?;
        let resp = read_response(
            io,
            Command::StartTls.tag(),
            "waiting for the reply to STARTTLS",
        )
        .await?;
        if resp.status == Status::Ok {
            Ok(resp.text())
        } else {
            Err(Failure::new(
                Outcome::StarttlsUnavailable,
                format!("the server refused STARTTLS: \"{}\"", resp.text()),
            )
            .with_reply(resp.text()))
        }
    }

    async fn goodbye<S: Stream>(&self, io: &mut LineIo<S>) -> Result<(), Failure> {
        send(io, Command::Logout).await?;
        read_response(io, Command::Logout.tag(), "waiting for the reply to LOGOUT")
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_carry_fixed_tags() {
        assert_eq!(Command::Capability.to_string(), "a1 CAPABILITY");
        assert_eq!(Command::StartTls.to_string(), "a2 STARTTLS");
        assert_eq!(Command::CapabilityTls.to_string(), "a3 CAPABILITY");
        assert_eq!(Command::Logout.to_string(), "a4 LOGOUT");
    }
}
