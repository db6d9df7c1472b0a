"""nmap -oX → Hosts: real nmap output, a LAN-shaped document, and hostile input."""

from __future__ import annotations

import asyncio
import email.utils
import shutil
import subprocess
from pathlib import Path

import pytest

from cctv_sentinel.discovery.hosts import group_hosts
from cctv_sentinel.errors import InputFileError
from cctv_sentinel.identify import Catalogue, Policy, identify
from cctv_sentinel.model import Host, Risk
from cctv_sentinel.protocols import nmapxml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "nmap"


def _hosts(data):
    return group_hosts(nmapxml.parse_nmap_xml(data))


def _load(name: str) -> list[Host]:
    return _hosts((FIXTURES / name).read_bytes())


def test_real_capture_of_a_hikvision_like_server(catalogue: Catalogue) -> None:
    (host,) = _load("localhost-app-webs.xml")
    assert host.ip == "127.0.0.1"
    assert host.mac is None
    assert host.open_ports == (18081,)
    nmap_obs = next(o for o in host.observations if o.probe == "nmap")
    assert nmap_obs.fields["product"] == "Hikvision IP camera httpd"
    assert nmap_obs.fields["devicetype"] == "webcam"
    assert "Server: App-webs/" in nmap_obs.fields["script_http-headers"]
    http = next(o for o in host.observations if o.probe == "http")
    assert http.fields == {"server": "App-webs/"}
    attribution, assessment = identify(host, catalogue, Policy())
    assert attribution.is_camera
    assert attribution.manufacturer_id == "hikvision"
    assert assessment.risk is Risk.RESTRICTED


def test_lan_document(catalogue: Catalogue) -> None:
    hosts = _load("lan-mixed.xml")
    assert [h.ip for h in hosts] == [
        "198.18.0.21",
        "198.18.0.22",
        "198.18.0.129",
    ]  # the down host is left out
    hik, dahua, printer = hosts
    assert hik.mac == "bc:ad:28:00:00:21"
    assert hik.open_ports == (80, 554, 8000)  # 631 is closed
    assert any(o.probe == "arp" and o.mac == hik.mac for o in hik.observations)
    assert any(
        o.fields.get("script_rtsp-methods", "").startswith("OPTIONS") for o in hik.observations
    )
    vendor = next(o for o in printer.observations if "mac_vendor" in o.fields)
    assert vendor.fields["mac_vendor"] == "Hewlett Packard"
    assert "NetBIOS name" in vendor.fields["script_nbstat"]
    assert next(o for o in dahua.observations if o.probe == "http").fields["title"] == "WEB SERVICE"

    verdicts = {h.ip: identify(h, catalogue, Policy()) for h in hosts}
    assert verdicts["198.18.0.21"][0].manufacturer_id == "hikvision"
    assert verdicts["198.18.0.22"][0].manufacturer_id == "dahua"
    assert verdicts["198.18.0.22"][1].risk is Risk.RESTRICTED
    assert verdicts["198.18.0.129"][0].is_camera is False


def test_many_hosts_beyond_the_per_document_element_cap() -> None:
    """A /24 has far more elements than one device reply may; host-by-host parsing copes."""
    hosts = "".join(
        f'<host><status state="up"/><address addr="198.18.0.{i}" addrtype="ipv4"/>'
        f'<address addr="44:19:B6:00:00:{i:02X}" addrtype="mac" vendor="Hikvision"/><ports>'
        + "".join(
            f'<port protocol="tcp" portid="{p}"><state state="open"/>'
            '<service name="x" product="y"/></port>'
            for p in range(1, 11)
        )
        + "</ports></host>"
        for i in range(1, 255)
    )
    data = (
        f'<?xml version="1.0"?><!DOCTYPE nmaprun><nmaprun scanner="nmap">{hosts}</nmaprun>'.encode()
    )
    parsed = _hosts(data)
    assert len(parsed) == 254
    assert all(len(h.open_ports) == 10 for h in parsed)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ((FIXTURES / "hostile-entities.xml").read_bytes(), "declares entities"),
        ((FIXTURES / "hostile-undefined-entity.xml").read_bytes(), "unreadable"),
        (b"<html><body>not nmap</body></html>", "not nmap XML"),
        (
            (
                b'<nmaprun><host><status state="up"/><address addr="1.2.3.4" addrtype="ipv4"/>'
                b"<ports></host></nmaprun>"
            ),
            "unreadable",
        ),
    ],
    ids=["entity-bomb", "undefined-entity", "not-nmap", "malformed-host"],
)
def test_hostile_documents_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        _hosts(data)


def test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nmapxml, "MAX_NMAP_XML", 100)
    with pytest.raises(InputFileError, match="exceeds"):
        _hosts(b"<nmaprun>" + b" " * 200 + b"</nmaprun>")
    monkeypatch.setattr(nmapxml, "MAX_NMAP_XML", 10_000)
    monkeypatch.setattr(nmapxml, "MAX_NMAP_HOSTS", 2)
    three = b"<nmaprun>" + b'<host><status state="up"/></host>' * 3 + b"</nmaprun>"
    with pytest.raises(InputFileError, match="more than 2 hosts"):
        _hosts(three)


def test_odd_but_valid_entries_are_skipped() -> None:
    data = (
        b'<nmaprun><host><status state="up"/><address addr="198.18.0.5" addrtype="ipv4"/><ports>'
        b'<port protocol="tcp" portid="abc"><state state="open"/></port>'
        b'<port protocol="tcp" portid="0"><state state="open"/></port>'
        b'<port protocol="tcp" portid="81"><state state="filtered"/></port>'
        b'<port protocol="tcp" portid="82"><state state="open"/></port>'
        b'</ports></host><host><status state="up"/></host></nmaprun>'
    )
    (host,) = _hosts(data)
    assert host.open_ports == (82,)


class _FakeCamera:
    """A loopback HTTP server answering like a Hikvision camera (nmap's App-webs match)."""

    BODY = b"<!DOCTYPE html><html><head><title></title></head><body></body></html>"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.read(4096), 3)
            writer.write(
                b"HTTP/1.0 200 OK\r\nDate: "
                + email.utils.formatdate(usegmt=True).encode()
                + b"\r\nServer: App-webs/\r\nContent-Type: text/html\r\nContent-Length: "
                + str(len(self.BODY)).encode()
                + b"\r\n\r\n"
                + self.BODY
            )
            await writer.drain()
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap is not installed")
async def test_live_nmap_against_loopback(catalogue: Catalogue) -> None:
    """Run the real nmap binary against 127.0.0.1 only, and classify its XML."""
    server = await asyncio.start_server(_FakeCamera().handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        proc = await asyncio.create_subprocess_exec(
            "nmap",
            "-n",
            "-Pn",
            "-sT",
            "-sV",
            "--version-light",
            "-p",
            str(port),
            "--script",
            "http-headers",
            "-oX",
            "-",
            "127.0.0.1",
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 90)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    finally:
        server.close()
        await server.wait_closed()
    (host,) = _hosts(out)
    assert host.ip == "127.0.0.1"
    assert host.open_ports == (port,)
    attribution, _ = identify(host, catalogue, Policy())
    assert attribution.manufacturer_id == "hikvision"
