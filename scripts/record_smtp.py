#!/usr/bin/env python3
"""Record an SMTP server's replies byte for byte, for replay by test fakes.

The dialog is fixed and harmless: it never sends MAIL, RCPT, DATA or AUTH.

  starttls mode (port 25 / 587):
      greeting, EHLO, STARTTLS, <TLS handshake>, EHLO, QUIT
      -> files: greeting ehlo starttls ehlo_tls quit
  smtps mode (implicit TLS, port 465):
      <TLS handshake>, greeting, EHLO, QUIT
      -> files: greeting ehlo quit

Each file holds exactly the bytes the server sent for that one reply
(CRLF kept, nothing added or stripped).  The output directory is written
as a whole: the new files go to a temporary sibling directory that then
replaces OUT, so a failed run never leaves a half-updated recording.

With --allow-tls-failure, a TLS handshake that fails is not an error:
the replies received before it are written (greeting, ehlo, starttls for
STARTTLS; nothing for smtps) and the exit status is 3.

Only loopback addresses are accepted as targets.  Standard library only.
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

EHLO_NAME = "client.example.test"
# The only commands this recorder is ever allowed to send.
ALLOWED_VERBS = {"EHLO", "STARTTLS", "QUIT"}
MAX_REPLY = 64 * 1024
# A final reply line: three digits then a space (or the end of the line).
FINAL_LINE = re.compile(rb"^[0-9]{3}(?: |\r?$)")
REPLY_LINE = re.compile(rb"^[0-9]{3}[ -]")


class RecordError(Exception):
    pass


class TLSHandshakeFailed(Exception):
    def __init__(self, replies, error):
        super().__init__(error)
        self.replies = replies
        self.error = error


class Dialog:
    def __init__(self, sock, timeout, verbose):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.verbose = verbose

    def read_reply(self, what):
        """Read one complete (possibly multi-line) reply; return its raw bytes.

        Reads only as far as the end of the final line, so bytes the server
        might send later (there should be none) stay in the buffer.
        """
        pos = 0
        while True:
            nl = self.buf.find(b"\n", pos)
            if nl == -1:
                if len(self.buf) > MAX_REPLY:
                    raise RecordError(f"{what}: reply longer than {MAX_REPLY} bytes")
                try:
                    chunk = self.sock.recv(4096)
                except socket.timeout:
                    raise RecordError(
                        f"{what}: timed out waiting for reply, got {self.buf!r}"
                    ) from None
                if not chunk:
                    raise RecordError(
                        f"{what}: connection closed mid-reply, got {self.buf!r}"
                    )
                self.buf += chunk
                continue
            line = self.buf[pos : nl + 1]
            body = line.rstrip(b"\r\n")
            if not REPLY_LINE.match(body + b" "):
                raise RecordError(f"{what}: not an SMTP reply line: {line!r}")
            pos = nl + 1
            if FINAL_LINE.match(body):
                reply, self.buf = self.buf[:pos], self.buf[pos:]
                if self.verbose:
                    for l in reply.splitlines():
                        print(f"  S: {l.decode('utf-8', 'replace')}")
                return reply

    def send(self, command):
        verb = command.split(" ", 1)[0].upper()
        if verb not in ALLOWED_VERBS:
            raise RecordError(f"refusing to send {verb!r}: only {sorted(ALLOWED_VERBS)}")
        if self.verbose:
            print(f"  C: {command}")
        self.sock.sendall(command.encode("ascii") + b"\r\n")

    def command(self, command, what):
        self.send(command)
        return self.read_reply(what)

    def expect_empty_buffer(self, what):
        if self.buf:
            raise RecordError(f"{what}: unexpected extra bytes from server: {self.buf!r}")


def code_of(reply):
    return int(reply[:3])


def tls_context():
    # Throwaway self-signed test certificate: no verification on purpose.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def describe_tls(sock):
    cipher = sock.cipher()
    return f"{sock.version()} {cipher[0] if cipher else '?'}"


def record_starttls(sock, args):
    d = Dialog(sock, args.timeout, args.verbose)
    replies = {}
    replies["greeting"] = d.read_reply("greeting")
    if code_of(replies["greeting"]) != 220:
        raise RecordError(f"greeting is not 220: {replies['greeting']!r}")
    replies["ehlo"] = d.command(f"EHLO {EHLO_NAME}", "ehlo")
    if code_of(replies["ehlo"]) != 250:
        raise RecordError(f"EHLO failed: {replies['ehlo']!r}")
    if b"STARTTLS" not in replies["ehlo"].upper():
        raise RecordError("server does not advertise STARTTLS")
    replies["starttls"] = d.command("STARTTLS", "starttls")
    if code_of(replies["starttls"]) != 220:
        raise RecordError(f"STARTTLS refused: {replies['starttls']!r}")
    d.expect_empty_buffer("after STARTTLS")
    try:
        tls = tls_context().wrap_socket(sock, server_hostname=args.sni)
    except (ssl.SSLError, OSError) as e:
        raise TLSHandshakeFailed(replies, f"TLS handshake after STARTTLS failed: {e}") from e
    info = describe_tls(tls)
    if args.verbose:
        print(f"  -- TLS established: {info}")
    d.sock = tls
    d.sock.settimeout(args.timeout)
    replies["ehlo_tls"] = d.command(f"EHLO {EHLO_NAME}", "ehlo_tls")
    replies["quit"] = d.command("QUIT", "quit")
    tls.close()
    return replies, info


def record_smtps(sock, args):
    try:
        tls = tls_context().wrap_socket(sock, server_hostname=args.sni)
    except (ssl.SSLError, OSError) as e:
        raise TLSHandshakeFailed({}, f"implicit TLS handshake failed: {e}") from e
    info = describe_tls(tls)
    if args.verbose:
        print(f"  -- TLS established: {info}")
    d = Dialog(tls, args.timeout, args.verbose)
    replies = {}
    replies["greeting"] = d.read_reply("greeting")
    if code_of(replies["greeting"]) != 220:
        raise RecordError(f"greeting is not 220: {replies['greeting']!r}")
    replies["ehlo"] = d.command(f"EHLO {EHLO_NAME}", "ehlo")
    replies["quit"] = d.command("QUIT", "quit")
    tls.close()
    return replies, info


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
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["starttls", "smtps"], default="starttls")
    p.add_argument("--out", required=True, help="directory to (re)write")
    p.add_argument("--sni", default="mail.example.test")
    p.add_argument("--timeout", type=float, default=15.0)
    p.add_argument(
        "--allow-tls-failure",
        action="store_true",
        help="on a failed TLS handshake keep the replies so far and exit 3",
    )
    p.add_argument(
        "--report",
        help="append one tab-separated line (out, mode, status, detail) to this file",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()

    try:
        addr = ipaddress.ip_address(args.host)
    except ValueError:
        p.error("--host must be a literal IP address (no name lookups)")
    if not addr.is_loopback:
        p.error(f"--host {args.host} is not a loopback address; refusing")

    def report(status, detail):
        if args.report:
            with open(args.report, "a", encoding="utf-8") as f:
                name = os.path.basename(os.path.normpath(args.out))
                f.write(f"{name}\t{args.mode}\t{status}\t{detail}\n")

    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    print(f"recording {args.mode} dialog from {args.host}:{args.port} -> {args.out}")
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(args.timeout)
        sock.connect((args.host, args.port))
        try:
            if args.mode == "starttls":
                replies, info = record_starttls(sock, args)
            else:
                replies, info = record_smtps(sock, args)
        finally:
            sock.close()
    except TLSHandshakeFailed as e:
        print(f"record_smtp: {args.host}:{args.port}: {e.error}", file=sys.stderr)
        if not args.allow_tls_failure:
            return 1
        if e.replies:
            write_dir(args.out, e.replies)
            print(f"  wrote {', '.join(e.replies)} (partial: TLS handshake failed)")
        else:
            print("  nothing to write (no reply before the failed handshake)")
        report("tls-failed", e.error)
        return 3
    except (OSError, RecordError) as e:
        print(f"record_smtp: {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    write_dir(args.out, replies)
    print(f"  wrote {', '.join(replies)} (TLS: {info})")
    report("complete", info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
