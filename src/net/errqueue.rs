//! The socket's error queue (Linux, IP_RECVERR / IPV6_RECVERR): the ICMP
//! error that answered a SYN, with the address of the device that sent it.
//!
//! Since Linux 5.8 ("tcp: allow traceroute -Mtcp for unpriv users") a TCP
//! socket in SYN_SENT queues the ICMP errors it receives when the option is
//! set. Reading them is one non-blocking `recvmsg(MSG_ERRQUEUE)` per entry,
//! at most [`MAX_ENTRIES`] of them, into fixed buffers; nix sets the option,
//! makes the call and walks its control messages
//! (`ControlMessageOwned::Ipv4RecvErr` / `Ipv6RecvErr`), so this file holds
//! no `unsafe`. [`queued`] turns one of them into plain data.

use crate::report::{IcmpFacts, IcmpProtocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// At most this many queued errors are read from one socket.
pub const MAX_ENTRIES: usize = 8;

/// `SO_EE_ORIGIN_*` of `<linux/errqueue.h>`.
const ORIGIN_ICMP: u8 = 2;
const ORIGIN_ICMP6: u8 = 3;

/// One `sock_extended_err` as queued, with its offender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedError {
    pub errno: u32,
    pub origin: u8,
    pub icmp_type: u8,
    pub code: u8,
    pub offender: Option<IpAddr>,
}

impl QueuedError {
    /// The ICMP facts, when the error came from an ICMP or ICMPv6 message
    /// (not a local error such as EMSGSIZE).
    pub fn icmp(&self) -> Option<IcmpFacts> {
        let protocol = match self.origin {
            ORIGIN_ICMP => IcmpProtocol::Icmp,
            ORIGIN_ICMP6 => IcmpProtocol::Icmp6,
            _ => return None,
        };
        Some(IcmpFacts::new(
            protocol,
            self.icmp_type,
            self.code,
            self.offender,
        ))
    }
}

/// The offender of an IPv4 error (`SO_EE_OFFENDER`); `None` for AF_UNSPEC.
#[cfg(target_os = "linux")]
fn offender_v4(a: &libc::sockaddr_in) -> Option<IpAddr> {
    (i32::from(a.sin_family) == libc::AF_INET)
        .then(|| IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))))
}

/// The offender of an IPv6 error; an IPv4 router answering a v4-mapped
/// connection is its IPv4 address.
#[cfg(target_os = "linux")]
fn offender_v6(a: &libc::sockaddr_in6) -> Option<IpAddr> {
    if i32::from(a.sin6_family) != libc::AF_INET6 {
        return None;
    }
    let v6 = Ipv6Addr::from(a.sin6_addr.s6_addr);
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    })
}

/// One queued error and its offender as plain data.
#[cfg(target_os = "linux")]
pub fn queued(e: &libc::sock_extended_err, offender: Option<IpAddr>) -> QueuedError {
    QueuedError {
        errno: e.ee_errno,
        origin: e.ee_origin,
        icmp_type: e.ee_type,
        code: e.ee_code,
        offender,
    }
}

/// Ask the kernel to queue the ICMP errors of this socket (IP_RECVERR, or
/// IPV6_RECVERR on an IPv6 socket). Set before connect.
#[cfg(target_os = "linux")]
pub fn enable(fd: &impl std::os::fd::AsFd, v6: bool) -> std::io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    if v6 {
        setsockopt(fd, sockopt::Ipv6RecvErr, &true)?;
    } else {
        setsockopt(fd, sockopt::Ipv4RecvErr, &true)?;
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn enable(_fd: &impl std::os::fd::AsFd, _v6: bool) -> std::io::Result<()> {
    Ok(())
}

/// Read what the error queue of `fd` holds, without waiting: at most
/// [`MAX_ENTRIES`] entries, oldest first.
#[cfg(target_os = "linux")]
pub fn drain(fd: &impl std::os::fd::AsFd) -> Vec<QueuedError> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    let mut out = Vec::new();
    let raw = fd.as_fd().as_raw_fd();
    for _ in 0..MAX_ENTRIES {
        // The queued packet's own bytes (the quoted header) are not needed:
        // a small data buffer, truncated (MSG_TRUNC) is fine.
        let mut data = [0u8; 64];
        let mut iov = [std::io::IoSliceMut::new(&mut data)];
        let mut control = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
        let Ok(msg) = recvmsg::<()>(
            raw,
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
        ) else {
            break;
        };
        let Ok(cmsgs) = msg.cmsgs() else {
            continue;
        };
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv4RecvErr(e, a) => {
                    out.push(queued(&e, a.as_ref().and_then(offender_v4)))
                }
                ControlMessageOwned::Ipv6RecvErr(e, a) => {
                    out.push(queued(&e, a.as_ref().and_then(offender_v6)))
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(not(target_os = "linux"))]
pub fn drain(_fd: &impl std::os::fd::AsFd) -> Vec<QueuedError> {
    Vec::new()
}

/// The ICMP error the queue of `fd` holds: the last one, when the kernel
/// queued several (one per SYN sent).
pub fn icmp(fd: &impl std::os::fd::AsFd) -> Option<IcmpFacts> {
    drain(fd).iter().rev().find_map(QueuedError::icmp)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::report::IcmpKind;

    fn extended(errno: u32, origin: u8, ty: u8, code: u8) -> libc::sock_extended_err {
        libc::sock_extended_err {
            ee_errno: errno,
            ee_origin: origin,
            ee_type: ty,
            ee_code: code,
            ee_pad: 0,
            ee_info: 0,
            ee_data: 0,
        }
    }

    fn v4(a: [u8; 4]) -> libc::sockaddr_in {
        libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(a),
            },
            sin_zero: [0; 8],
        }
    }

    fn v6(a: Ipv6Addr) -> libc::sockaddr_in6 {
        libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr {
                s6_addr: a.octets(),
            },
            sin6_scope_id: 0,
        }
    }

    #[test]
    fn an_admin_prohibited_from_a_router_is_read_with_its_offender() {
        let e = extended(libc::EHOSTUNREACH as u32, ORIGIN_ICMP, 3, 13);
        let q = queued(&e, offender_v4(&v4([10, 0, 2, 2])));
        assert_eq!(q.errno, libc::EHOSTUNREACH as u32);
        assert_eq!((q.origin, q.icmp_type, q.code), (2, 3, 13));
        assert_eq!(q.offender, Some("10.0.2.2".parse().unwrap()));
        let icmp = q.icmp().unwrap();
        assert_eq!(icmp.name, "admin-prohibited");
        assert_eq!(icmp.kind(), IcmpKind::Prohibited);
        assert_eq!(icmp.protocol, IcmpProtocol::Icmp);
    }

    #[test]
    fn icmp6_and_v4_mapped_offenders() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let e = extended(libc::ECONNREFUSED as u32, ORIGIN_ICMP6, 1, 4);
        let icmp = queued(&e, offender_v6(&v6(a))).icmp().unwrap();
        assert_eq!(icmp.kind(), IcmpKind::PortUnreachable);
        assert_eq!(icmp.from, Some(IpAddr::V6(a)));
        let mapped: Ipv6Addr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(offender_v6(&v6(mapped)), Some("192.0.2.7".parse().unwrap()));
        // Time exceeded, both families.
        let te = queued(
            &extended(libc::EHOSTUNREACH as u32, ORIGIN_ICMP, 11, 0),
            None,
        );
        assert_eq!(te.icmp().unwrap().kind(), IcmpKind::TimeExceeded);
        let te6 = queued(
            &extended(libc::EHOSTUNREACH as u32, ORIGIN_ICMP6, 3, 0),
            None,
        );
        assert_eq!(te6.icmp().unwrap().name, "time-exceeded");
    }

    #[test]
    fn no_offender_a_local_error_and_odd_types() {
        let mut unspec = v4([0, 0, 0, 0]);
        unspec.sin_family = libc::AF_UNSPEC as libc::sa_family_t;
        assert_eq!(offender_v4(&unspec), None);
        let mut unspec6 = v6(Ipv6Addr::LOCALHOST);
        unspec6.sin6_family = libc::AF_UNSPEC as libc::sa_family_t;
        assert_eq!(offender_v6(&unspec6), None);
        // SO_EE_ORIGIN_LOCAL is not ICMP.
        let q = queued(&extended(libc::EMSGSIZE as u32, 1, 0, 0), None);
        assert_eq!(q.icmp(), None);
        // An unknown type and code still has words.
        let odd = queued(&extended(0, ORIGIN_ICMP, 42, 7), None);
        assert_eq!(odd.icmp().unwrap().name, "type 42 code 7");
        assert_eq!(odd.icmp().unwrap().from, None);
    }

    /// A socket with nothing queued: the option is set, the queue is empty.
    #[test]
    fn an_empty_queue_reads_as_nothing() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&s, false).unwrap();
        assert_eq!(drain(&s), vec![]);
        assert_eq!(icmp(&s), None);
    }
}
