"""Multicast discovery and Hello/Bye, inside a private network namespace.

The namespace has only ``lo`` (multicast switched on, 224.0.0.0/4 routed to
it), so every datagram stays inside it. Skipped unless root with ``ip``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.lab.emulator.testing import ROOT
from tests.lab.profiles import DEVICES_DIR

IP = shutil.which("ip") or "/usr/sbin/ip"
HIK = DEVICES_DIR / "hikvision-ds-2cd2143g2-i.json"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not Path(IP).exists(),
        reason="needs root and iproute2 to create a network namespace",
    ),
]

# Runs inside the namespace: listens for Hello/Bye on the group, then probes
# every discovery protocol by multicast and prints what came back as JSON.
CLIENT = textwrap.dedent(
    r"""
    import json, select, socket, struct, sys, time, uuid

    def mcast_listener(port, group):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        return s

    def sender():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        s.bind(("127.0.0.1", 0))
        return s

    def collect(sockets, seconds):
        out = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select(sockets, [], [], left)
            for s in ready:
                data, addr = s.recvfrom(65535)
                out.append((s.getsockname()[1], data.decode("latin-1")))
        return out

    mode = sys.argv[1]
    if mode == "listen":
        wsd = mcast_listener(3702, "239.255.255.250")
        print("LISTENING", flush=True)
        seen = [d for _, d in collect([wsd], float(sys.argv[2]))]
        print(json.dumps(seen), flush=True)
        sys.exit(0)

    results = {}
    mid = "urn:uuid:" + str(uuid.uuid4())
    probe = (
        '<?xml version="1.0" encoding="UTF-8"?><s:Envelope'
        ' xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header>'
        f"<a:MessageID>{mid}</a:MessageID>"
        "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
        "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
        "</s:Header><s:Body><d:Probe/></s:Body></s:Envelope>"
    ).encode()
    s = sender()
    s.sendto(probe, ("239.255.255.250", 3702))
    results["wsd"] = [d for _, d in collect([s], 1.0)]
    results["wsd_mid"] = mid

    group = mcast_listener(37020, "239.255.255.250")
    s = sender()
    s.sendto(b"<Probe><Uuid>ABC-1</Uuid><Types>inquiry</Types></Probe>", ("239.255.255.250", 37020))
    results["sadp"] = collect([s, group], 1.0)

    s = sender()
    q = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in "_CGI._tcp.local".split(".")) + b"\0"
    q += struct.pack("!HH", 12, 1)
    mdns = mcast_listener(5353, "224.0.0.251")
    mdns.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    mdns.sendto(q, ("224.0.0.251", 5353))
    results["mdns"] = [len(d) for p, d in collect([mdns], 1.0) if ord(d[2]) & 0x80]
    print(json.dumps(results), flush=True)
    """
)


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@pytest.fixture
def namespace():
    name = f"emu-{os.getpid()}-mc"
    subprocess.run([IP, "netns", "del", name], capture_output=True, check=False)
    run(IP, "netns", "add", name)
    try:
        run(IP, "-n", name, "link", "set", "lo", "up", "multicast", "on")
        run(IP, "-n", name, "route", "add", "224.0.0.0/4", "dev", "lo")
        yield name
    finally:
        pids = subprocess.run(
            [IP, "netns", "pids", name], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run([IP, "netns", "del", name], capture_output=True, check=False)
    assert (
        name
        not in subprocess.run(
            [IP, "netns", "list"], capture_output=True, text=True, check=False
        ).stdout
    )


def in_ns(ns: str, *argv: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [IP, "netns", "exec", ns, *argv],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def test_multicast_discovery_and_hello_bye(namespace):
    listener = in_ns(namespace, sys.executable, "-c", CLIENT, "listen", "8")
    assert listener.stdout.readline().strip() == "LISTENING"
    emulator = in_ns(
        namespace,
        sys.executable,
        "-m",
        "tests.lab.emulator",
        str(HIK),
        "--max-delay",
        "0.1",
        "--hello",
    )
    try:
        assert emulator.stdout.readline().strip() == "READY hikvision-ds-2cd2143g2-i"
        client = in_ns(namespace, sys.executable, "-c", CLIENT, "probe")
        out, err = client.communicate(timeout=30)
        assert client.returncode == 0, err
        results = json.loads(out)
        # WS-Discovery: one ProbeMatches for a multicast Probe, unicast back to us.
        assert len(results["wsd"]) == 1
        assert results["wsd_mid"] in results["wsd"][0]
        # SADP: the reply arrives both unicast and on the multicast group.
        matches = [(port, data) for port, data in results["sadp"] if "<ProbeMatch>" in data]
        ports = sorted(port for port, _ in matches)
        assert len(ports) == 2
        assert 37020 in ports
        assert all("<Uuid>ABC-1</Uuid>" in data for _, data in matches)
        # mDNS: a query from port 5353 gets a multicast response.
        assert len(results["mdns"]) == 1
        time.sleep(0.2)
    finally:
        emulator.send_signal(signal.SIGTERM)
        assert emulator.wait(10) == 0
        emulator.stdout.close()
        log = emulator.stderr.read()
        emulator.stderr.close()
    seen_out, _ = listener.communicate(timeout=20)
    seen = json.loads(seen_out.strip().splitlines()[-1])
    actions = [
        a for d in seen for a in ("discovery/Hello", "discovery/Bye", "discovery/Probe<") if a in d
    ]
    assert actions[0] == "discovery/Hello", log
    assert actions[-1] == "discovery/Bye", log
    assert "joined 239.255.255.250%lo" in log
