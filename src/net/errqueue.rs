//! The socket's error queue (Linux, IP_RECVERR / IPV6_RECVERR): the ICMP
//! error that answered a SYN, with the address of the device that sent it.
//!
//! Since Linux 5.8 ("tcp: allow traceroute -Mtcp for unpriv users") a TCP
//! socket in SYN_SENT queues the ICMP errors it receives when the option is
//! set. Reading them is one non-blocking `recvmsg(MSG_ERRQUEUE)` per entry,
//! at most [`MAX_ENTRIES`] of them, into fixed buffers. The parsers below
//! are pure functions of the bytes the kernel wrote, so that they can be
//! tested, and never index out of bounds whatever they are given.

use crate::report::{IcmpFacts, IcmpProtocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// At most this many queued errors are read from one socket.
pub const MAX_ENTRIES: usize = 8;
/// The control buffer of one `recvmsg`: room for one `sock_extended_err`
/// with its offender's address, and more.
const CONTROL_BYTES: usize = 512;

/// `SO_EE_ORIGIN_*` of `<linux/errqueue.h>`.
const ORIGIN_ICMP: u8 = 2;
const ORIGIN_ICMP6: u8 = 3;
/// `sizeof(struct sock_extended_err)`: errno (4), origin, type, code, pad
/// (1 each), info (4), data (4).
const EXTENDED_ERR_BYTES: usize = 16;

// <linux/in.h>, <linux/in6.h>: the same values on every Linux architecture.
const SOL_IP: i32 = 0;
const IP_RECVERR: i32 = 11;
const SOL_IPV6: i32 = 41;
const IPV6_RECVERR: i32 = 25;

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

/// Parse a `sock_extended_err` and the offender's `sockaddr` after it
/// (`SO_EE_OFFENDER`): the data of one IP_RECVERR / IPV6_RECVERR control
/// message. `None` when it is too short.
pub fn parse_extended_err(data: &[u8]) -> Option<QueuedError> {
    let head = data.get(..EXTENDED_ERR_BYTES)?;
    let errno = u32::from_ne_bytes([head[0], head[1], head[2], head[3]]);
    Some(QueuedError {
        errno,
        origin: head[4],
        icmp_type: head[5],
        code: head[6],
        offender: parse_sockaddr(&data[EXTENDED_ERR_BYTES..]),
    })
}

/// The address of a `sockaddr_in` or `sockaddr_in6`; `None` for AF_UNSPEC
/// (no offender), another family, or too few bytes.
pub fn parse_sockaddr(bytes: &[u8]) -> Option<IpAddr> {
    let family = u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]);
    match i32::from(family) {
        libc::AF_INET => {
            // family (2), port (2), address (4, network order).
            let a = bytes.get(4..8)?;
            Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
        }
        libc::AF_INET6 => {
            // family (2), port (2), flowinfo (4), address (16), scope id (4).
            let a: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            let v6 = Ipv6Addr::from(a);
            // An IPv4 router answering a v4-mapped connection.
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            })
        }
        _ => None,
    }
}

/// The size of `struct cmsghdr` rounded up as `CMSG_ALIGN` does.
fn cmsg_align(len: usize) -> usize {
    let a = std::mem::size_of::<usize>();
    len.div_ceil(a) * a
}

/// The queued errors in the control messages of one `recvmsg`
/// (`msg_control`, `msg_controllen` bytes): each IP_RECVERR or
/// IPV6_RECVERR message; anything else is skipped. Stops at the first
/// malformed header.
pub fn parse_control(control: &[u8]) -> Vec<QueuedError> {
    let header = std::mem::size_of::<libc::cmsghdr>();
    let data_at = cmsg_align(header);
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(bytes) = control.get(at..at.saturating_add(header)) {
        // SAFETY: `bytes` holds exactly size_of::<cmsghdr>() bytes; the
        // header is plain integers, read without any alignment assumption.
        let h: libc::cmsghdr = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        let len = h.cmsg_len as usize;
        if len < data_at || len > control.len() - at {
            break;
        }
        let data = &control[at + data_at..at + len];
        let ours = (h.cmsg_level == SOL_IP && h.cmsg_type == IP_RECVERR)
            || (h.cmsg_level == SOL_IPV6 && h.cmsg_type == IPV6_RECVERR);
        if ours {
            if let Some(e) = parse_extended_err(data) {
                out.push(e);
            }
        }
        let next = at.saturating_add(cmsg_align(len));
        if next <= at {
            break;
        }
        at = next;
    }
    out
}

/// Ask the kernel to queue the ICMP errors of this socket (IP_RECVERR, or
/// IPV6_RECVERR on an IPv6 socket). Set before connect.
#[cfg(target_os = "linux")]
pub fn enable(fd: std::os::fd::RawFd, v6: bool) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    let (level, name) = if v6 {
        (SOL_IPV6, IPV6_RECVERR)
    } else {
        (SOL_IP, IP_RECVERR)
    };
    // SAFETY: a valid int option value of the right size for a socket fd.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn enable(_fd: std::os::fd::RawFd, _v6: bool) -> std::io::Result<()> {
    Ok(())
}

/// Read what the error queue of `fd` holds, without waiting: at most
/// [`MAX_ENTRIES`] entries, oldest first.
#[cfg(target_os = "linux")]
pub fn drain(fd: std::os::fd::RawFd) -> Vec<QueuedError> {
    let mut out = Vec::new();
    for _ in 0..MAX_ENTRIES {
        // The queued packet's own bytes (the quoted header) are not needed:
        // a small data buffer, truncated (MSG_TRUNC) is fine.
        let mut data = [0u8; 64];
        // u64 for the alignment cmsghdr needs.
        let mut control = [0u64; CONTROL_BYTES / 8];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: zeroed msghdr is a valid "no name" header; its pointers
        // are set to the buffers above, which outlive the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = CONTROL_BYTES as _;
        // SAFETY: recvmsg writes at most the lengths given into the buffers.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if n < 0 {
            break;
        }
        let len = (msg.msg_controllen as usize).min(CONTROL_BYTES);
        // SAFETY: the control buffer is CONTROL_BYTES long and initialised.
        let bytes = unsafe { std::slice::from_raw_parts(control.as_ptr().cast::<u8>(), len) };
        out.extend(parse_control(bytes));
    }
    out
}

#[cfg(not(target_os = "linux"))]
pub fn drain(_fd: std::os::fd::RawFd) -> Vec<QueuedError> {
    Vec::new()
}

/// The ICMP error the queue of `fd` holds: the last one, when the kernel
/// queued several (one per SYN sent).
pub fn icmp(fd: std::os::fd::RawFd) -> Option<IcmpFacts> {
    drain(fd).iter().rev().find_map(QueuedError::icmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::IcmpKind;

    fn extended(errno: i32, origin: u8, ty: u8, code: u8, offender: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(errno as u32).to_ne_bytes());
        v.extend_from_slice(&[origin, ty, code, 0]);
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(offender);
        v
    }

    fn sockaddr_in(a: [u8; 4]) -> Vec<u8> {
        let mut v = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&a);
        v.extend_from_slice(&[0; 8]);
        v
    }

    fn sockaddr_in6(a: Ipv6Addr) -> Vec<u8> {
        let mut v = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&a.octets());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v
    }

    /// One control message as the kernel lays it out (CMSG_LEN, CMSG_SPACE).
    fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        // SAFETY: the CMSG_* macros are arithmetic.
        let (len, space) = unsafe {
            (
                libc::CMSG_LEN(data.len() as u32) as usize,
                libc::CMSG_SPACE(data.len() as u32) as usize,
            )
        };
        let mut h: libc::cmsghdr = unsafe { std::mem::zeroed() };
        h.cmsg_len = len as _;
        h.cmsg_level = level;
        h.cmsg_type = ty;
        let mut v = vec![0u8; space];
        let head = std::mem::size_of::<libc::cmsghdr>();
        // SAFETY: copying the plain header's bytes.
        let hb =
            unsafe { std::slice::from_raw_parts((&h as *const libc::cmsghdr).cast::<u8>(), head) };
        v[..head].copy_from_slice(hb);
        let at = len - data.len();
        v[at..at + data.len()].copy_from_slice(data);
        v
    }

    #[test]
    fn an_admin_prohibited_from_a_router_is_parsed_with_its_offender() {
        let data = extended(libc::EHOSTUNREACH, 2, 3, 13, &sockaddr_in([10, 0, 2, 2]));
        let e = parse_extended_err(&data).unwrap();
        assert_eq!(e.errno, libc::EHOSTUNREACH as u32);
        assert_eq!((e.origin, e.icmp_type, e.code), (2, 3, 13));
        assert_eq!(e.offender, Some("10.0.2.2".parse().unwrap()));
        let icmp = e.icmp().unwrap();
        assert_eq!(icmp.name, "admin-prohibited");
        assert_eq!(icmp.kind(), IcmpKind::Prohibited);
        assert_eq!(icmp.protocol, IcmpProtocol::Icmp);
    }

    #[test]
    fn icmp6_and_v4_mapped_offenders() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let e =
            parse_extended_err(&extended(libc::ECONNREFUSED, 3, 1, 4, &sockaddr_in6(a))).unwrap();
        let icmp = e.icmp().unwrap();
        assert_eq!(icmp.kind(), IcmpKind::PortUnreachable);
        assert_eq!(icmp.from, Some(IpAddr::V6(a)));
        let mapped: Ipv6Addr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            parse_sockaddr(&sockaddr_in6(mapped)),
            Some("192.0.2.7".parse().unwrap())
        );
        // Time exceeded, both families.
        let te = parse_extended_err(&extended(
            libc::EHOSTUNREACH,
            2,
            11,
            0,
            &sockaddr_in([10, 1, 1, 1]),
        ))
        .unwrap();
        assert_eq!(te.icmp().unwrap().kind(), IcmpKind::TimeExceeded);
        let te6 =
            parse_extended_err(&extended(libc::EHOSTUNREACH, 3, 3, 0, &sockaddr_in6(a))).unwrap();
        assert_eq!(te6.icmp().unwrap().name, "time-exceeded");
    }

    #[test]
    fn no_offender_a_local_error_and_short_input() {
        // AF_UNSPEC: no offender.
        let e = parse_extended_err(&extended(libc::EMSGSIZE, 1, 0, 0, &[0; 16])).unwrap();
        assert_eq!(e.offender, None);
        // SO_EE_ORIGIN_LOCAL is not ICMP.
        assert_eq!(e.icmp(), None);
        assert_eq!(parse_extended_err(&[0; 15]), None);
        assert_eq!(parse_sockaddr(&[]), None);
        assert_eq!(parse_sockaddr(&sockaddr_in([1, 2, 3, 4])[..6]), None);
        assert_eq!(
            parse_sockaddr(&sockaddr_in6(Ipv6Addr::LOCALHOST)[..20]),
            None
        );
        // An unknown type and code still has words.
        let odd = parse_extended_err(&extended(0, 2, 42, 7, &[])).unwrap();
        assert_eq!(odd.icmp().unwrap().name, "type 42 code 7");
        assert_eq!(odd.icmp().unwrap().from, None);
    }

    #[test]
    fn control_messages_are_walked_and_others_skipped() {
        let err = extended(libc::ECONNREFUSED, 2, 3, 3, &sockaddr_in([192, 0, 2, 9]));
        let mut buf = cmsg(SOL_IP, 2 /* IP_TTL */, &[64, 0, 0, 0]);
        buf.extend(cmsg(SOL_IP, IP_RECVERR, &err));
        buf.extend(cmsg(SOL_IPV6, IPV6_RECVERR, &err));
        let found = parse_control(&buf);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].offender, Some("192.0.2.9".parse().unwrap()));
        assert_eq!(found[0].icmp().unwrap().kind(), IcmpKind::PortUnreachable);
    }

    #[test]
    fn malformed_control_buffers_end_the_walk_without_panic() {
        assert!(parse_control(&[]).is_empty());
        assert!(parse_control(&[0xff; 7]).is_empty());
        let err = extended(libc::ECONNREFUSED, 2, 3, 3, &sockaddr_in([192, 0, 2, 9]));
        let good = cmsg(SOL_IP, IP_RECVERR, &err);
        // A length beyond the buffer, a length below the header, zero.
        for len in [usize::MAX, good.len() + 1, 3, 0] {
            let mut bad = good.clone();
            let mut h: libc::cmsghdr = unsafe { std::ptr::read_unaligned(bad.as_ptr().cast()) };
            h.cmsg_len = len as _;
            let head = std::mem::size_of::<libc::cmsghdr>();
            let hb = unsafe {
                std::slice::from_raw_parts((&h as *const libc::cmsghdr).cast::<u8>(), head)
            };
            bad[..head].copy_from_slice(hb);
            assert!(parse_control(&bad).is_empty(), "len {len}");
        }
        // Cut anywhere: never a panic; whole messages only.
        for cut in 0..good.len() {
            let _ = parse_control(&good[..cut]);
        }
        // Arbitrary bytes.
        let mut x: u32 = 0x1234_5678;
        for _ in 0..2000 {
            let n = (x % 200) as usize;
            let bytes: Vec<u8> = (0..n)
                .map(|i| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8 ^ i as u8
                })
                .collect();
            let _ = parse_control(&bytes);
            let _ = parse_extended_err(&bytes);
        }
    }
}
