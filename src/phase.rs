//! Every wire step of a probe goes through [`Recorder::step`]: one timeout per
//! phase, capped by the probe's deadline, one [`PhaseRecord`] appended, and a
//! failure classified by the phase it happened in.

use crate::escape::{escape_str, SafeText};
use crate::report::{IcmpFacts, Outcome, Phase, PhaseRecord};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Why a phase failed: an outcome code and the evidence in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub outcome: Outcome,
    pub detail: String,
    /// The protocol the peer was seen to speak, for `protocol_mismatch`.
    pub peer_protocol: Option<String>,
    /// The socket error number, when the failure came from one.
    pub errno: Option<i32>,
    /// The server's answer, escaped, when that answer is the failure (a
    /// refused STARTTLS): the report keeps it as a fact of its own.
    pub reply: Option<SafeText>,
    /// The ICMP error a failed connect drew (from the socket's error queue).
    pub icmp: Option<Box<IcmpFacts>>,
}

impl Failure {
    pub fn new(outcome: Outcome, detail: impl Into<String>) -> Failure {
        Failure {
            outcome,
            detail: detail.into(),
            peer_protocol: None,
            errno: None,
            reply: None,
            icmp: None,
        }
    }

    /// The same failure, keeping the server's answer that caused it.
    pub fn with_reply(self, reply: SafeText) -> Failure {
        Failure {
            reply: Some(reply),
            ..self
        }
    }

    pub fn mismatch(peer: &str, detail: impl Into<String>) -> Failure {
        Failure {
            peer_protocol: Some(peer.to_string()),
            ..Failure::new(Outcome::ProtocolMismatch, detail)
        }
    }
}

/// Seconds with one decimal, for messages: `5.0s`.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The failure a timeout means in each phase.
pub fn timeout_failure(phase: Phase, limit: Duration, by_deadline: bool) -> Failure {
    let why = if by_deadline {
        format!("{} (the probe's deadline)", secs(limit))
    } else {
        secs(limit)
    };
    match phase {
        Phase::Connect => Failure {
            errno: None,
            ..Failure::new(
                Outcome::ConnectTimeout,
                format!(
                    "no answer to the connection attempt within {why}: the SYN was never answered"
                ),
            )
        },
        Phase::Greeting => Failure::new(
            Outcome::GreetingTimeout,
            format!("connected, but the server sent no greeting within {why}"),
        ),
        Phase::TlsHandshake => Failure::new(
            Outcome::TlsFailed,
            format!("no answer to the TLS handshake within {why}"),
        ),
        other => Failure::new(
            Outcome::ReplyTimeout,
            format!(
                "the server did not answer in the {} phase within {why}",
                other.as_str()
            ),
        ),
    }
}

pub struct Recorder {
    pub started: Instant,
    pub deadline: Instant,
    pub phases: Vec<PhaseRecord>,
}

impl Recorder {
    pub fn new(deadline: Instant) -> Recorder {
        Recorder {
            started: Instant::now(),
            deadline,
            phases: Vec::new(),
        }
    }

    /// Run one phase under `limit` (or the deadline, whichever comes first) and record it.
    pub async fn step<T, F>(&mut self, phase: Phase, limit: Duration, fut: F) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, Failure>>,
    {
        let start = Instant::now();
        let remaining = self.deadline.saturating_duration_since(start);
        let (limit, by_deadline) = if remaining < limit {
            (remaining, true)
        } else {
            (limit, false)
        };
        let result = match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(timeout_failure(phase, limit, by_deadline)),
        };
        self.record(
            phase,
            start,
            result.as_ref().err().map(|f| f.detail.clone()),
        );
        result
    }

    /// Record a phase; its error (which may quote a server) is escaped here.
    pub fn record(&mut self, phase: Phase, start: Instant, error: Option<String>) {
        self.phases.push(PhaseRecord {
            phase,
            ms: start.elapsed().as_millis() as u64,
            ok: error.is_none(),
            error: error.map(|e| escape_str(&e)),
        });
    }

    /// Mark the phase just recorded as failed: its step succeeded on the wire,
    /// but what the server said there ends the probe.
    pub fn fail_current(&mut self, why: &str) {
        if let Some(last) = self.phases.last_mut() {
            last.ok = false;
            last.error = Some(escape_str(why));
        }
    }

    /// Record `phase` as failed without running it (nothing was sent): the
    /// dialog already knows it cannot succeed, and says why.
    pub fn skip(&mut self, phase: Phase, why: &str) {
        self.record(phase, Instant::now(), Some(why.to_string()));
    }

    /// The first phase that failed, if any.
    pub fn first_failed(&self) -> Option<Phase> {
        self.phases.iter().find(|p| !p.ok).map(|p| p.phase)
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_phase_that_overruns_is_recorded_as_its_timeout() {
        let mut rec = Recorder::new(Instant::now() + Duration::from_secs(10));
        let r: Result<(), Failure> = rec
            .step(Phase::Greeting, Duration::from_millis(20), async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .await;
        assert_eq!(r.unwrap_err().outcome, Outcome::GreetingTimeout);
        assert_eq!(rec.phases.len(), 1);
        assert!(!rec.phases[0].ok);
        assert!(rec.phases[0].ms < 1000);
    }

    #[tokio::test]
    async fn the_deadline_caps_a_phase() {
        let mut rec = Recorder::new(Instant::now() + Duration::from_millis(30));
        let r: Result<(), Failure> = rec
            .step(Phase::Capabilities, Duration::from_secs(10), async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .await;
        let f = r.unwrap_err();
        assert_eq!(f.outcome, Outcome::ReplyTimeout);
        assert!(f.detail.contains("deadline"), "{}", f.detail);
    }

    #[test]
    fn a_phase_is_failed_after_the_fact_or_skipped_with_its_reason() {
        let mut rec = Recorder::new(Instant::now() + Duration::from_secs(10));
        rec.fail_current("nothing recorded yet: no effect");
        assert!(rec.phases.is_empty());
        rec.record(Phase::Greeting, Instant::now(), None);
        assert_eq!(rec.first_failed(), None);
        rec.fail_current("refused in the greeting");
        rec.skip(Phase::Starttls, "not offered");
        assert_eq!(rec.first_failed(), Some(Phase::Greeting));
        assert_eq!(
            rec.phases[0].error.as_deref(),
            Some("refused in the greeting")
        );
        assert!(!rec.phases[1].ok);
        assert_eq!(rec.phases[1].phase, Phase::Starttls);
        assert_eq!(rec.phases[1].error.as_deref(), Some("not offered"));
    }
}
