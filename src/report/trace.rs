//! A TCP trace: connections with rising TTL to a failing port and, beside
//! it, to a port of the same address that works, compared hop by hop.

use crate::escape::SafeText;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What one connection attempt with a given TTL drew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopReply {
    /// A router answered ICMP time-exceeded: the SYN got this far.
    TimeExceeded,
    /// The destination accepted the connection (closed at once, nothing sent).
    Connected,
    /// The destination answered with a TCP RST.
    Refused,
    /// An ICMP port-unreachable or prohibited answer: a firewall's REJECT.
    Rejected,
    /// An ICMP host/net unreachable answer.
    Unreachable,
    /// Nothing within the hop's wait.
    Silent,
    /// This machine refused to send it (the errno in `error`).
    Error,
}

impl HopReply {
    pub fn as_str(self) -> &'static str {
        match self {
            HopReply::TimeExceeded => "time_exceeded",
            HopReply::Connected => "connected",
            HopReply::Refused => "refused",
            HopReply::Rejected => "rejected",
            HopReply::Unreachable => "unreachable",
            HopReply::Silent => "silent",
            HopReply::Error => "error",
        }
    }

    /// An answer from the end of the path (the destination, or a filter
    /// that answers for it): the trace goes no further.
    pub fn is_end(self) -> bool {
        !matches!(self, HopReply::TimeExceeded | HopReply::Silent)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub ttl: u8,
    pub reply: HopReply,
    /// Who answered: the router (time-exceeded), the ICMP offender, or the destination.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<IpAddr>,
    /// Its PTR name, when it has one and it was asked (only with
    /// --dns-server, or for a public address).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from_name: Option<SafeText>,
    /// The ICMP error's name (`time-exceeded`, `admin-prohibited`, …).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub icmp: Option<String>,
    /// The errno's name, for `error`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<SafeText>,
    pub ms: u64,
}

impl Hop {
    pub fn answered(&self) -> bool {
        self.reply != HopReply::Silent
    }
}

/// Why a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceEnd {
    /// Every port's walk reached its end: the destination, a silence of
    /// several hops in a row, or an answer from a filter.
    Done,
    /// The most hops a trace walks.
    MaxHops,
    /// The trace's time bound (or the run's --deadline) passed.
    TimeBound,
    /// Too little time was left before the run's --deadline to start.
    NoTime,
}

impl TraceEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceEnd::Done => "done",
            TraceEnd::MaxHops => "max_hops",
            TraceEnd::TimeBound => "time_bound",
            TraceEnd::NoTime => "no_time",
        }
    }
}

/// Why the trace was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceReason {
    /// --trace.
    Asked,
    /// The port timed out while another port of the address connected.
    Auto,
}

/// One failing port's trace, beside the control port's (the same walk for
/// every failing port of the address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub address: IpAddr,
    pub service: String,
    pub port: u16,
    /// The fixed source port of this port's walk (one flow for ECMP).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_port: Option<u16>,
    pub hops: Vec<Hop>,
    /// The port of the address that connected, walked beside it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub control_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub control_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub control_source_port: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub control_hops: Vec<Hop>,
    pub reason: TraceReason,
    pub end: TraceEnd,
    /// The wall time of the walk.
    pub ms: u64,
    /// The bound it was given (the stated bound, or less when the run's
    /// --deadline came sooner).
    pub bound_ms: u64,
    /// How long each hop waits for an answer.
    pub hop_wait_ms: u64,
    pub max_hops: u8,
    /// This trace was made for another host of the run, the same walk
    /// (address, failing ports, control port, reason): shared, not made again.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub shared: bool,
}

impl Trace {
    /// The TTL at which the control port reached the destination.
    pub fn control_reached(&self) -> Option<u8> {
        self.control_hops
            .iter()
            .find(|h| matches!(h.reply, HopReply::Connected | HopReply::Refused))
            .map(|h| h.ttl)
    }

    pub fn hop(&self, ttl: u8) -> Option<&Hop> {
        self.hops.iter().find(|h| h.ttl == ttl)
    }

    pub fn control_hop(&self, ttl: u8) -> Option<&Hop> {
        self.control_hops.iter().find(|h| h.ttl == ttl)
    }

    /// About how many bytes this trace holds, inline and in its text: the
    /// weight of an entry of the run's cache of traces.
    pub fn weight(&self) -> usize {
        fn text<T: AsRef<str>>(s: &Option<T>) -> usize {
            s.as_ref().map_or(0, |s| s.as_ref().len() + 24)
        }
        let hop = |h: &Hop| {
            std::mem::size_of::<Hop>() + text(&h.from_name) + text(&h.icmp) + text(&h.error)
        };
        std::mem::size_of::<Trace>()
            + self.service.len()
            + text(&self.control_service)
            + self
                .hops
                .iter()
                .chain(&self.control_hops)
                .map(hop)
                .sum::<usize>()
    }
}
