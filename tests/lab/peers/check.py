"""Readiness checks that speak each peer's protocol, run inside a lab namespace.

``python -m tests.lab.peers.check KIND TARGET [options]`` repeats one small
exchange until it succeeds (exit 0, one JSON line on stdout) or the time is up
(exit 1, the last failure on stderr). It runs in the LAN's checker host, so a
daemon counts as ready only once another host on the link can talk to it, the
way the scanner will. Standard library only, and independent of the agent's
own parsers: a bug in the agent cannot make a peer look ready.

Kinds: ``tcp`` (a connect), ``http`` (a GET, plain or TLS; any HTTP status
line), ``rtsp`` (OPTIONS; any RTSP status line), ``ssdp`` (multicast M-SEARCH;
answers from TARGET), ``mdns`` (a QM query from port 5353; service instances
TARGET announces), ``wsd`` (a WS-Discovery Probe; a ProbeMatches from TARGET).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import socket
import ssl
import struct
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

MDNS_GROUP = "224.0.0.251"
SSDP_GROUP = "239.255.255.250"
RETRY_GAP = 0.2
"""Seconds between attempts: short, because the caller's deadline is what bounds the wait."""


class NotYetError(Exception):
    """The peer did not (yet) answer as it should."""


def _tcp(target: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((target, port), timeout=timeout)
    except OSError as err:
        raise NotYetError(f"connect {target}:{port}: {err}") from err


def check_tcp(args: argparse.Namespace) -> dict[str, Any]:
    """A TCP connect that completes."""
    _tcp(args.target, args.port, 1.0).close()
    return {"port": args.port}


def _read_head(sock: socket.socket, limit: int = 16384) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        try:
            chunk = sock.recv(4096)
        except OSError as err:
            raise NotYetError(f"read: {err}") from err
        if not chunk:
            break
        data += chunk
    return data


def check_http(args: argparse.Namespace) -> dict[str, Any]:
    """A GET whose answer starts with an HTTP status line."""
    sock = _tcp(args.target, args.port, 2.0)
    try:
        if args.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the peers' certificates are self-signed
            sock = context.wrap_socket(sock)
        request = f"GET {args.path} HTTP/1.1\r\nHost: {args.target}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        head = _read_head(sock)
    except (OSError, ssl.SSLError) as err:
        raise NotYetError(f"http: {err}") from err
    finally:
        sock.close()
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if not status.startswith("HTTP/"):
        raise NotYetError(f"no HTTP status line: {status!r}")
    return {"status": status}


def check_rtsp(args: argparse.Namespace) -> dict[str, Any]:
    """OPTIONS answered with an RTSP status line."""
    sock = _tcp(args.target, args.port, 2.0)
    try:
        request = f"OPTIONS rtsp://{args.target}:{args.port}{args.path} RTSP/1.0\r\nCSeq: 1\r\n\r\n"
        sock.sendall(request.encode())
        head = _read_head(sock)
    except OSError as err:
        raise NotYetError(f"rtsp: {err}") from err
    finally:
        sock.close()
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if not status.startswith("RTSP/"):
        raise NotYetError(f"no RTSP status line: {status!r}")
    return {"status": status}


def _collect(sock: socket.socket, seconds: float, keep: Callable[[bytes, str], None]) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if ready:
            data, addr = sock.recvfrom(65535)
            keep(data, addr[0])


def _multicast_socket(port: int, group: str | None, own_ip: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(own_ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    if group:
        mreq = socket.inet_aton(group) + socket.inet_aton(own_ip)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return sock


def _own_ip(target: str) -> str:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((target, 9))  # a route lookup only: UDP connect sends nothing
        return str(probe.getsockname()[0])
    finally:
        probe.close()


def check_ssdp(args: argparse.Namespace) -> dict[str, Any]:
    """A multicast M-SEARCH (MX 1) that TARGET answers at least ``--count`` times."""
    sock = _multicast_socket(0, None, _own_ip(args.target))
    answers: list[str] = []
    try:
        search = (
            "M-SEARCH * HTTP/1.1\r\n"
            f"HOST: {SSDP_GROUP}:1900\r\n"
            'MAN: "ssdp:discover"\r\n'
            "MX: 1\r\n"
            f"ST: {args.st}\r\n\r\n"
        ).encode()
        sock.sendto(search, (SSDP_GROUP, 1900))

        def keep(data: bytes, source: str) -> None:
            if source == args.target and data.startswith(b"HTTP/1.1 200"):
                answers.append(data.decode("latin-1"))

        _collect(sock, 1.3, keep)  # MX 1 plus a margin for a loaded machine
    finally:
        sock.close()
    if len(answers) < args.count:
        raise NotYetError(f"{len(answers)} SSDP answers from {args.target}, want {args.count}")
    return {"answers": len(answers)}


def _dns_name(data: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    for _ in range(64):
        length = data[pos]
        if length & 0xC0 == 0xC0:
            if end < 0:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            continue
        if length == 0:
            return ".".join(labels), (end if end >= 0 else pos + 1)
        labels.append(data[pos + 1 : pos + 1 + length].decode("utf-8", "replace"))
        pos += 1 + length
    raise NotYetError("DNS name loops")


def _ptr_targets(data: bytes, service: str) -> set[str]:
    """Instance names that PTR records for ``service`` point to, in any section."""
    _, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", data)
    if not flags & 0x8000:
        return set()
    pos = 12
    for _ in range(qd):
        _, pos = _dns_name(data, pos)
        pos += 4
    found: set[str] = set()
    for _ in range(an + ns + ar):
        name, pos = _dns_name(data, pos)
        rtype, _, _, length = struct.unpack_from("!HHIH", data, pos)
        pos += 10
        if rtype == 12 and name.lower() == service.lower():
            found.add(_dns_name(data, pos)[0])
        pos += length
    return found


def check_mdns(args: argparse.Namespace) -> dict[str, Any]:
    """A QM query from port 5353; TARGET must announce ``--count`` instances of ``--type``."""
    service = args.type.rstrip(".")
    labels = b"".join(bytes([len(p)]) + p.encode() for p in service.split(".")) + b"\0"
    query = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0) + labels + struct.pack("!HH", 12, 1)
    sock = _multicast_socket(5353, MDNS_GROUP, _own_ip(args.target))
    instances: set[str] = set()
    try:
        sock.sendto(query, (MDNS_GROUP, 5353))

        def keep(data: bytes, source: str) -> None:
            if source == args.target:
                with contextlib.suppress(struct.error, IndexError, NotYetError):
                    instances.update(_ptr_targets(data, service))

        _collect(sock, 0.6, keep)  # responders wait 20-120 ms (RFC 6762 s6)
    finally:
        sock.close()
    if len(instances) < args.count:
        raise NotYetError(
            f"{len(instances)} {service} instances from {args.target}, want {args.count}"
        )
    return {"instances": sorted(instances)}


def check_wsd(args: argparse.Namespace) -> dict[str, Any]:
    """A WS-Discovery Probe answered by TARGET with ProbeMatches.

    Unicast by default; ``--multicast`` sends it to the group instead (wsdd
    listens on the group only). ``--types wsdp:Device`` asks for the device
    profile type, the only one wsdd answers.
    """
    types = ""
    if args.types:
        types = f"<wsd:Types>{args.types}</wsd:Types>"
    probe = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
        ' xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof">'
        "<soap:Header>"
        "<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
        f"</soap:Header><soap:Body><wsd:Probe>{types}</wsd:Probe></soap:Body></soap:Envelope>"
    ).encode()
    sock = _multicast_socket(0, None, _own_ip(args.target))
    got: list[bytes] = []
    try:
        sock.sendto(probe, (SSDP_GROUP, 3702) if args.multicast else (args.target, 3702))

        def keep(data: bytes, source: str) -> None:
            if source == args.target and b"ProbeMatch" in data:
                got.append(data)

        _collect(sock, 1.0, keep)  # APP_MAX_DELAY is 500 ms
    finally:
        sock.close()
    if not got:
        raise NotYetError(f"no ProbeMatches from {args.target}")
    return {"bytes": len(got[0])}


CHECKS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "tcp": check_tcp,
    "http": check_http,
    "rtsp": check_rtsp,
    "ssdp": check_ssdp,
    "mdns": check_mdns,
    "wsd": check_wsd,
}


def main(argv: list[str] | None = None) -> int:
    """Repeat the check until it passes or ``--timeout`` seconds have gone."""
    parser = argparse.ArgumentParser(prog="python -m tests.lab.peers.check")
    parser.add_argument("kind", choices=sorted(CHECKS))
    parser.add_argument("target")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--path", default="/")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--st", default="ssdp:all")
    parser.add_argument("--type", default="_http._tcp.local")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--types", default="")
    parser.add_argument("--multicast", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    last = "never tried"
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            result = CHECKS[args.kind](args)
        except NotYetError as err:
            last = str(err)
            time.sleep(RETRY_GAP)
            continue
        print(json.dumps({"kind": args.kind, "attempts": attempts, **result}), flush=True)
        return 0
    print(f"{args.kind} {args.target}: not ready after {attempts} tries: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
