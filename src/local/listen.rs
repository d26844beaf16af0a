//! Listening sockets from the kernel's tables `/proc/net/tcp` and `tcp6`
//! (format: the kernel's Documentation/networking/proc_net_tcp.rst). No
//! privilege is needed: every process may read them.

use crate::report::{Listener, ReadStatus, SourceRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The state column's value for LISTEN.
const LISTEN: &str = "0A";

/// At most this much of one table is read (a busy server has many sockets).
const MAX_BYTES: u64 = 32 << 20;

/// Read `dir/tcp` and `dir/tcp6`: the sockets listening on one of `ports`.
pub fn read(dir: &Path, ports: &[u16]) -> (Vec<SourceRead>, Vec<Listener>) {
    let mut sources = Vec::new();
    let mut sockets = Vec::new();
    for name in ["tcp", "tcp6"] {
        let path = dir.join(name);
        let (read, text) = super::read_file(&path, MAX_BYTES);
        sources.push(read);
        if let Some(text) = text {
            sockets.extend(parse(&text).into_iter().filter(|l| ports.contains(&l.port)));
        }
    }
    sockets.sort();
    sockets.dedup();
    (sources, sockets)
}

/// Every LISTEN socket of one table. Lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let _slot = cols.next()?;
            let local = cols.next()?;
            let _remote = cols.next()?;
            let state = cols.next()?;
            if !state.eq_ignore_ascii_case(LISTEN) {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            Some(Listener {
                port: u16::from_str_radix(port, 16).ok()?,
                address: parse_addr(addr)?,
            })
        })
        .collect()
}

/// The kernel prints an address as 32-bit words in host byte order, in hex.
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// A status for a table that could not be read.
pub fn unreadable(path: &Path, e: &std::io::Error) -> SourceRead {
    SourceRead {
        source: path.display().to_string(),
        status: match e.kind() {
            std::io::ErrorKind::NotFound => ReadStatus::NotFound,
            std::io::ErrorKind::PermissionDenied => ReadStatus::Denied,
            _ => ReadStatus::Failed,
        },
        detail: Some(crate::escape::escape_str(&e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded on x86-64 (little-endian): sshd on 0.0.0.0:22, Postfix on
    // 127.0.0.1:25, Dovecot on 0.0.0.0:993, one established connection.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20100 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20101 1 0000000000000000 100 0 0 10 0
   2: 00000000:03E1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20102 1 0000000000000000 100 0 0 10 0
   3: 0100007F:0019 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 20103 1 0000000000000000 20 4 30 10 -1
";
    // ::1 port 25, and :: port 587.
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20200 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:024B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20201 1 0000000000000000 100 0 0 10 0
";

    fn l(port: u16, addr: &str) -> Listener {
        Listener {
            port,
            address: addr.parse().unwrap(),
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn listeners_are_read_with_their_addresses() {
        assert_eq!(
            parse(TCP),
            vec![l(22, "0.0.0.0"), l(25, "127.0.0.1"), l(993, "0.0.0.0")]
        );
        assert_eq!(parse(TCP6), vec![l(25, "::1"), l(587, "::")]);
    }

    #[test]
    fn junk_is_skipped_not_a_panic() {
        for text in [
            "",
            "header only",
            "h\n 0: zz:0019 0 0A",
            "h\n0: 0100007F:FFFFF 0 0A",
        ] {
            assert!(parse(text).is_empty(), "{text}");
        }
        assert!(parse_addr("0100007").is_none());
    }
}
