#!/usr/bin/env python3
"""Record an IMAP, POP3 or HTTP server's replies byte for byte, for replay by test fakes.

The dialogs are fixed and harmless: never LOGIN, AUTHENTICATE, USER, PASS,
APOP or AUTH; for HTTP one GET / and nothing else.  They are the dialogs
mailport itself has, with the same IMAP tags, so that a fake server can
replay the files unchanged:

  imap   (port 143):  greeting, a1 CAPABILITY, a2 STARTTLS, <TLS handshake>,
                      a3 CAPABILITY, a4 LOGOUT
                      -> greeting capability starttls capability_tls logout
  imaps  (993, 585):  <TLS handshake>, greeting, a1 CAPABILITY, a4 LOGOUT
                      -> greeting capability logout
  pop3   (port 110):  greeting, CAPA, STLS, <TLS handshake>, CAPA, QUIT
                      -> greeting capa stls capa_tls quit
  pop3s  (port 995):  <TLS handshake>, greeting, CAPA, QUIT
                      -> greeting capa quit
  http   (port 80):   GET / HTTP/1.1 (Host, Connection: close)
                      -> response_80: status line and headers
  https  (port 443):  <TLS handshake offering ALPN h2, http/1.1>; when the
                      server chooses h2, a second connection offering only
                      http/1.1; GET / HTTP/1.1
                      -> response_443: status line and headers

(the STARTTLS / STLS steps are left out when the server does not advertise
them; a CAPA answered with -ERR is kept and the dialog goes on.)

Each file holds exactly the bytes the server sent for that one reply (CRLF
kept, nothing added or stripped); for HTTP the status line and headers up
to and including the empty line, without the body.  The output directory is
written as a whole: the files go to a temporary sibling that then replaces
OUT, so a failed run never leaves a half-updated recording.

Only loopback addresses are accepted, for the server and for --source (the
address the recorder connects from: Dovecot treats a client whose address
equals the server's as secure, so recordings connect from 127.0.0.2).
Standard library only.
"""

import argparse
import ipaddress
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile

MAX_REPLY = 64 * 1024
MAX_LINES = 256
# Every command this recorder may ever send, per protocol (first words).
ALLOWED = {
    "imap": {"CAPABILITY", "STARTTLS", "LOGOUT"},
    "pop3": {"CAPA", "STLS", "QUIT"},
    "http": {"GET"},
}
HTTP_REQUEST = (
    "GET / HTTP/1.1\r\n"
    "Host: {host}\r\n"
    "User-Agent: mailport-fixture-recorder\r\n"
    "Accept: */*\r\n"
    "Connection: close\r\n"
    "\r\n"
)


class RecordError(Exception):
    pass


class Conn:
    def __init__(self, sock, timeout, verbose, proto):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.verbose = verbose
        self.proto = proto

    def line(self, what):
        """One raw line, terminator included."""
        while True:
            nl = self.buf.find(b"\n")
            if nl != -1:
                line, self.buf = self.buf[: nl + 1], self.buf[nl + 1 :]
                if self.verbose:
                    shown = line.rstrip(b"\r\n").decode("utf-8", "replace")
                    print(f"  S: {shown}")
                return line
            if len(self.buf) > 8192:
                raise RecordError(f"{what}: a line longer than 8192 bytes")
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                raise RecordError(f"{what}: timed out, got {self.buf!r}") from None
            if not chunk:
                raise RecordError(f"{what}: connection closed, got {self.buf!r}")
            self.buf += chunk

    def lines_until(self, what, done):
        """Lines up to and including the first for which done(line) is true."""
        out = b""
        for _ in range(MAX_LINES):
            line = self.line(what)
            out += line
            if len(out) > MAX_REPLY:
                raise RecordError(f"{what}: reply longer than {MAX_REPLY} bytes")
            if done(line):
                return out
        raise RecordError(f"{what}: more than {MAX_LINES} lines")

    def send(self, text):
        first = text.split(" ", 2)
        verb = (first[1] if self.proto == "imap" else first[0]).strip().upper()
        if verb not in ALLOWED[self.proto]:
            raise RecordError(f"refusing to send {verb!r}")
        if self.verbose:
            for l in text.rstrip("\r\n").split("\r\n"):
                print(f"  C: {l}")
        self.sock.sendall(text.encode("ascii"))

    def expect_empty(self, what):
        if self.buf:
            raise RecordError(f"{what}: unexpected extra bytes {self.buf!r}")


def tls_context(alpn=None):
    # Throwaway self-signed test certificates: no verification on purpose.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def describe(tls):
    version = tls.version()
    cipher = tls.cipher()[0] if tls.cipher() else "?"
    alpn = tls.selected_alpn_protocol()
    return f"{version} {cipher}" + (f" ALPN {alpn}" if alpn else "")


def wrap(sock, args, alpn=None):
    try:
        return tls_context(alpn).wrap_socket(sock, server_hostname=args.sni)
    except (ssl.SSLError, OSError) as e:
        raise RecordError(f"TLS handshake failed: {e}") from e


# ---------------------------------------------------------------- IMAP --


def imap_tagged(tag):
    return lambda line: line.startswith(tag.encode() + b" ")


def imap_command(c, tag, command, what):
    c.send(f"{tag} {command}\r\n")
    return c.lines_until(what, imap_tagged(tag))


def imap_caps(reply):
    words = set()
    for line in reply.split(b"\r\n"):
        m = re.search(rb"(?:^\* CAPABILITY |\[CAPABILITY )([^\]\r\n]*)", line, re.I)
        if m:
            words |= {w.upper() for w in m.group(1).decode("latin-1").split()}
    return words


def record_imap(sock, args):
    c = Conn(sock, args.timeout, args.verbose, "imap")
    r = {}
    r["greeting"] = c.line("greeting")
    if not r["greeting"].startswith((b"* OK", b"* PREAUTH")):
        raise RecordError(f"greeting is not * OK: {r['greeting']!r}")
    r["capability"] = imap_command(c, "a1", "CAPABILITY", "capability")
    info = "no TLS"
    if args.mode == "imap":
        if "STARTTLS" in imap_caps(r["capability"]):
            r["starttls"] = imap_command(c, "a2", "STARTTLS", "starttls")
            if not r["starttls"].startswith(b"a2 OK"):
                raise RecordError(f"STARTTLS refused: {r['starttls']!r}")
            c.expect_empty("after STARTTLS")
            tls = wrap(c.sock, args)
            info = describe(tls)
            c.sock = tls
            c.sock.settimeout(args.timeout)
            r["capability_tls"] = imap_command(c, "a3", "CAPABILITY", "capability_tls")
        else:
            info = "STARTTLS not advertised"
    r["logout"] = imap_command(c, "a4", "LOGOUT", "logout")
    return r, info


# ---------------------------------------------------------------- POP3 --


def pop3_multiline(c, what):
    first = c.line(what)
    if not first.startswith(b"+OK"):
        return first
    return first + c.lines_until(what, lambda l: l in (b".\r\n", b".\n"))


def record_pop3(sock, args):
    c = Conn(sock, args.timeout, args.verbose, "pop3")
    r = {}
    r["greeting"] = c.line("greeting")
    if not r["greeting"].startswith(b"+OK"):
        raise RecordError(f"greeting is not +OK: {r['greeting']!r}")
    c.send("CAPA\r\n")
    r["capa"] = pop3_multiline(c, "capa")
    info = "no TLS"
    if args.mode == "pop3":
        caps = {l.split(b" ")[0].strip().upper() for l in r["capa"].split(b"\r\n")[1:]}
        if b"STLS" in caps:
            c.send("STLS\r\n")
            r["stls"] = c.line("stls")
            if not r["stls"].startswith(b"+OK"):
                raise RecordError(f"STLS refused: {r['stls']!r}")
            c.expect_empty("after STLS")
            tls = wrap(c.sock, args)
            info = describe(tls)
            c.sock = tls
            c.sock.settimeout(args.timeout)
            c.send("CAPA\r\n")
            r["capa_tls"] = pop3_multiline(c, "capa_tls")
        else:
            info = "STLS not advertised"
    c.send("QUIT\r\n")
    r["quit"] = c.line("quit")
    return r, info


# ---------------------------------------------------------------- HTTP --


def http_get(sock, args):
    c = Conn(sock, args.timeout, args.verbose, "http")
    c.send(HTTP_REQUEST.format(host=args.sni))
    return c.lines_until("response", lambda l: l in (b"\r\n", b"\n"))


def record_http(sock, args):
    if args.mode == "http":
        return {"response_80": http_get(sock, args)}, "no TLS"
    tls = wrap(sock, args, ["h2", "http/1.1"])
    first = describe(tls)
    if tls.selected_alpn_protocol() == "h2":
        # HTTP/1.1 cannot be spoken on an h2 connection: close it and ask
        # again offering only http/1.1, as mailport does.
        tls.close()
        sock = connect(args)
        tls = wrap(sock, args, ["http/1.1"])
    return {"response_443": http_get(tls, args)}, first


# ---------------------------------------------------------------- main --


def connect(args):
    family = socket.AF_INET6 if ipaddress.ip_address(args.host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    if args.source:
        sock.bind((args.source, 0))
    sock.connect((args.host, args.port))
    return sock


def write_dir(out, replies):
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".", dir=parent)
    try:
        for name, data in replies.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(tmp, name), 0o644)
        os.chmod(tmp, 0o755)
        if os.path.isdir(out):
            old = out + ".old"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="loopback address only")
    p.add_argument("--source", help="loopback address to connect from")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", required=True, choices=["imap", "imaps", "pop3", "pop3s", "http", "https"])
    p.add_argument("--out", required=True, help="directory to (re)write, or merge into with --merge")
    p.add_argument("--merge", action="store_true", help="add the files to OUT instead of replacing it")
    p.add_argument("--sni", default="mail.example.test")
    p.add_argument("--timeout", type=float, default=15.0)
    p.add_argument("--report", help="append a tab-separated line (out, mode, status, detail)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    for a in [args.host] + ([args.source] if args.source else []):
        try:
            addr = ipaddress.ip_address(a)
        except ValueError:
            p.error(f"{a} is not a literal IP address (no name lookups)")
        if not addr.is_loopback:
            p.error(f"{a} is not a loopback address; refusing")

    def report(status, detail):
        if args.report:
            with open(args.report, "a", encoding="utf-8") as f:
                name = os.path.basename(os.path.normpath(args.out))
                f.write(f"{name}\t{args.mode}\t{args.port}\t{status}\t{detail}\n")

    print(f"recording {args.mode} from {args.host}:{args.port} -> {args.out}")
    try:
        sock = connect(args)
        try:
            if args.mode in ("imaps", "pop3s"):
                sock = wrap(sock, args)
                info = describe(sock)
            if args.mode.startswith("imap"):
                replies, i = record_imap(sock, args)
            elif args.mode.startswith("pop3"):
                replies, i = record_pop3(sock, args)
            else:
                replies, i = record_http(sock, args)
            if args.mode not in ("imaps", "pop3s"):
                info = i
        finally:
            sock.close()
    except (OSError, RecordError) as e:
        print(f"record_imap_pop3_http: {args.host}:{args.port}: {e}", file=sys.stderr)
        report("failed", str(e).replace("\t", " ").replace("\n", " "))
        return 1
    if args.merge and os.path.isdir(args.out):
        for name, data in replies.items():
            with open(os.path.join(args.out, name), "wb") as f:
                f.write(data)
    else:
        write_dir(args.out, replies)
    print(f"  wrote {', '.join(replies)} ({info})")
    report("complete", info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
