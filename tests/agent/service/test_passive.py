"""Passive listening in a namespace LAN: real multicast announcements, floods and garbage.

A device host sends announcement bytes written here by hand (independent of the
agent's own builders); the listener runs on its own event loop in a thread that
lives in the agent host's namespace.
"""

from __future__ import annotations

import asyncio
import socket
import textwrap
import threading
import time
from typing import Any, Self

import pytest

from cctv_sentinel.discovery import netinfo
from cctv_sentinel.discovery.base import udp_socket
from cctv_sentinel.discovery.passive import BURST, PassiveListener, Sighting
from tests.agent.service.support import netns

pytestmark = pytest.mark.lab

DEVICE_IP = "198.18.0.50"
DEVICE_MAC = "bc:ad:28:00:00:50"

SENDER = textwrap.dedent(
    r"""
    import json, socket, struct, sys, time
    what = sys.argv[1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("198.18.0.50"))
    NS = ('xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
          'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
          'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
          'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"')
    EPR = ("<a:EndpointReference><a:Address>urn:uuid:55cfe3d7-0000-1000-8000-bcad28000050"
           "</a:Address></a:EndpointReference>")
    def wsd(action, body):
        return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {NS}><s:Header>'
                f'<a:MessageID>urn:uuid:{time.time_ns()}</a:MessageID>'
                f'<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
                f'<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/{action}</a:Action>'
                f'</s:Header><s:Body>{body}</s:Body></s:Envelope>').encode()
    hello = wsd("Hello", f"<d:Hello>{EPR}<d:Types>dn:NetworkVideoTransmitter</d:Types>"
                "<d:Scopes>onvif://www.onvif.org/type/video_encoder "
                "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I</d:Scopes>"
                "<d:XAddrs>http://198.18.0.50/onvif/device_service</d:XAddrs>"
                "<d:MetadataVersion>1</d:MetadataVersion></d:Hello>")
    bye = wsd("Bye", f"<d:Bye>{EPR}</d:Bye>")
    probe = wsd("Probe", "<d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>")
    notify = ("NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
              "LOCATION: http://198.18.0.50:49152/upnp_device_desc.xml\r\nNT: upnp:rootdevice\r\n"
              "NTS: ssdp:alive\r\n"
              "SERVER: Linux/3.8.8, UPnP/1.0, ZheJiang Dahua Technology CO.,LTD. Upnp SDK\r\n"
              "USN: uuid:www.dahuatech.com.device_3_0-XYZ::upnp:rootdevice\r\n\r\n").encode()
    byebye = notify.replace(b"ssdp:alive", b"ssdp:byebye")
    def name(text):
        return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".")) + b"\0"
    def rr(n, rtype, ttl, data):
        return name(n) + struct.pack("!HHIH", rtype, 0x8001, ttl, len(data)) + data
    inst = "HIKVISION DS-2CD2143G2-I - 12345678._CGI._tcp.local"
    def mdns(ttl):
        records = [
            rr("_CGI._tcp.local", 12, ttl, name(inst)),
            rr(inst, 33, ttl, struct.pack("!HHH", 0, 0, 80) + name("DS12345678.local")),
            rr(inst, 16, ttl, b"\x06path=/"),
            rr("DS12345678.local", 1, ttl, socket.inet_aton("198.18.0.50")),
        ]
        return struct.pack("!HHHHHH", 0, 0x8400, 0, len(records), 0, 0) + b"".join(records)
    sadp = ('<?xml version="1.0" encoding="UTF-8"?><ProbeMatch><Uuid>A-B</Uuid>'
            '<Types>inquiry</Types><DeviceType>138153</DeviceType>'
            '<DeviceDescription>DS-2CD2143G2-I</DeviceDescription>'
            '<DeviceSN>DS-2CD2143G2-I20220101AAWRJ12345678</DeviceSN><MAC>bc-ad-28-00-00-50</MAC>'
            '<IPv4Address>198.18.0.50</IPv4Address>'
            '<SoftwareVersion>V5.7.3build 220112</SoftwareVersion></ProbeMatch>').encode()
    info = {"DeviceClass": "IPC", "DeviceType": "IPC-HDW2431T-AS-S2", "SerialNo": "7J0ABC123",
            "Vendor": "Dahua"}
    body = json.dumps({"mac": "3c:ef:8c:00:00:50", "method": "client.notifyDevInfo",
                       "params": {"deviceInfo": info}}).encode()
    # 32-byte header, lengths as u64 at 16 and 24 (PROTOCOLS.md 2.3, rroller/dahua)
    dhip = struct.pack("<I4sQQQ", 32, b"DHIP", 0, len(body), len(body)) + body
    sends = {
        "good": [(hello, 3702), (notify, 1900), (mdns(120), 5353), (sadp, 37020), (dhip, 37810),
                 (probe, 3702), (bye, 3702), (byebye, 1900), (mdns(0), 5353)],
        "garbage": [(b"\xff" * 100, 3702), (b"<x>" * 20000, 37020), (b"NOTIFY nonsense", 1900),
                    (b"\x00" * 12, 5353), (b"DHIP" * 10, 37810), (b"A" * 70000, 1900)],
        "flood": [(hello, 3702)] * 300,
        "spray": [(notify.replace(b"XYZ", str(i).encode()), 1900) for i in range(300)],
    }[what]
    groups = {3702: "239.255.255.250", 1900: "239.255.255.250", 5353: "224.0.0.251",
              37020: "239.255.255.250", 37810: "239.255.255.251"}
    for payload, port in sends:
        try:
            s.sendto(payload, (groups[port], port))
        except OSError as err:  # a datagram too big to send is the point of some cases
            print("send failed:", err)
        if what in {"flood", "spray"}:
            continue
        time.sleep(0.02)
    """
)


class ListenerThread:
    """A PassiveListener on its own loop, in a namespace, collecting sightings."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.sightings: list[Sighting] = []
        self.ready = threading.Event()
        self.listening: list[str] = []
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.extra: dict[str, Any] = {}

    def _main(self) -> None:
        try:
            with netns(self.ns):
                asyncio.run(self._run())
        except BaseException as err:  # reported to the test
            self.error = err
            self.ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        listener = PassiveListener(netinfo.interfaces(), self.sightings.append)
        self.listening = await listener.start()
        # Like a scan's SADP socket: bound later, with SO_REUSEPORT.
        scanner = udp_socket(port=37020, reuse=True)
        self.ready.set()
        await self._stop.wait()
        got = 0
        while True:
            try:
                scanner.recv(100)
                got += 1
            except BlockingIOError:
                break
        self.extra["scanner_unicast"] = got
        scanner.close()
        listener.close()

    def __enter__(self) -> Self:
        self.thread.start()
        assert self.ready.wait(20)
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(20)
        if self.error:
            raise self.error


@pytest.fixture
def lan(lab):
    switch = lab.add_switch("sw")
    agent = lab.add_host("agent", "198.18.0.2/24", switch=switch)
    device = lab.add_host("dev", f"{DEVICE_IP}/24", DEVICE_MAC, switch=switch)
    return agent, device


def send(device, what: str) -> None:
    done = device.python(SENDER, what, timeout=60)
    assert done.returncode == 0, done.stderr


def settle(collected: list[Sighting], count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(collected) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_announcements_on_every_channel_are_heard(lan):
    agent, device = lan
    with ListenerThread(agent.ns) as listener:
        assert listener.listening == ["wsd", "ssdp", "mdns", "sadp", "dhip"]
        send(device, "good")
        settle(listener.sightings, 8)
        time.sleep(0.3)
    seen = [(s.probe, s.kind) for s in listener.sightings]
    assert sorted(seen) == sorted(
        [
            ("wsd", "alive"),
            ("ssdp", "alive"),
            ("mdns", "alive"),
            ("sadp", "alive"),
            ("dhip", "alive"),
            ("wsd", "bye"),
            ("ssdp", "bye"),
            ("mdns", "bye"),
        ]
    ), "every announcement once; another client's Probe is not one"
    # Each channel keeps its order (one socket each); across channels the loop
    # may read two ready sockets in either order when it is busy.
    for probe in ("wsd", "ssdp", "mdns"):
        assert [k for p, k in seen if p == probe] == ["alive", "bye"], probe
    assert {s.ip for s in listener.sightings} == {DEVICE_IP}
    by = {(s.probe, s.kind): s for s in listener.sightings}
    hello = by[("wsd", "alive")].observation
    assert hello is not None
    assert hello.get("endpoint") == "urn:uuid:55cfe3d7-0000-1000-8000-bcad28000050"
    assert hello.get("name") == "HIKVISION DS-2CD2143G2-I"
    assert hello.get("video") == "yes"
    sadp = by[("sadp", "alive")].observation
    assert sadp is not None
    assert sadp.mac == "bc:ad:28:00:00:50"
    assert sadp.get("model") == "DS-2CD2143G2-I"
    dhip = by[("dhip", "alive")].observation
    assert dhip is not None
    assert dhip.get("model") == "IPC-HDW2431T-AS-S2"
    ssdp = by[("ssdp", "alive")].observation
    assert ssdp is not None
    assert "Dahua" in (ssdp.get("server") or "")
    mdns = by[("mdns", "alive")].observation
    assert mdns is not None
    assert mdns.get("service") == "_CGI._tcp.local"


def test_garbage_and_floods_are_survived_and_bounded(lan):
    agent, device = lan
    with ListenerThread(agent.ns) as listener:
        send(device, "garbage")
        send(device, "flood")
        send(device, "good")
        settle(listener.sightings, 8)
        time.sleep(0.3)
        honest = list(listener.sightings)
        send(device, "spray")
        settle(listener.sightings, len(honest) + 1)
        time.sleep(0.5)  # what a bucket would let through beyond BURST would be in by now
        sprayed = listener.sightings[len(honest) :]
    hellos = [s for s in honest if (s.probe, s.kind) == ("wsd", "alive")]
    # 300 identical Hellos count once (repeat window) and cost the sender one
    # token, so the honest announcements that follow all get through.
    assert len(hellos) == 1
    assert {(s.probe, s.kind) for s in honest} >= {
        ("sadp", "alive"),
        ("dhip", "alive"),
        ("mdns", "alive"),
    }
    # 300 different NOTIFYs in a burst: the sender's bucket runs dry.
    assert 0 < len(sprayed) <= BURST


def test_the_scanners_sadp_socket_still_gets_unicast_replies(lan):
    agent, device = lan
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "for i in range(20): s.sendto(b'<ProbeMatch/>', ('198.18.0.2', 37020))\n"
    )
    with ListenerThread(agent.ns) as listener:
        done = device.python(code, timeout=30)
        assert done.returncode == 0, done.stderr
        time.sleep(0.3)
    assert listener.extra["scanner_unicast"] == 20


def test_no_interface_means_no_listening():
    async def run() -> list[str]:
        listener = PassiveListener([], lambda s: None)
        return await listener.start()

    assert asyncio.run(run()) == []


def test_a_taken_port_skips_only_that_channel(lan):
    agent, _device = lan
    result: dict[str, Any] = {}

    def body() -> None:
        with netns(agent.ns):
            blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            blocker.bind(("0.0.0.0", 1900))  # no SO_REUSEADDR: exclusive

            async def run() -> list[str]:
                listener = PassiveListener(netinfo.interfaces(), lambda s: None)
                names = await listener.start()
                listener.close()
                return names

            result["names"] = asyncio.run(run())
            blocker.close()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(30)
    assert result["names"] == ["wsd", "mdns", "sadp", "dhip"]
