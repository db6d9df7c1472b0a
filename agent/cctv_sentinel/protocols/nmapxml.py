"""Read nmap ``-oX`` output into Hosts (pure), so ``classify`` can attribute an nmap scan.

Each open port becomes an ``nmap`` observation (service, product, version,
extrainfo, devicetype, ostype, ``script_<id>``); the MAC nmap learnt by ARP
becomes an ``arp`` observation; ``http-headers``/``http-title`` script output
is also turned into an ``http`` observation so the HTTP fingerprints apply.

nmap writes ``<!DOCTYPE nmaprun>`` and a scan of a /24 easily has more
elements than one device reply may, so the document is cut into its
``<host>`` elements (which never nest and cannot contain a literal ``<``)
and each is parsed on its own through :mod:`protocols._xml`, with its caps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from cctv_sentinel.errors import InputFileError, ProtocolError
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import _xml
from cctv_sentinel.protocols.http import parse_www_authenticate
from cctv_sentinel.protocols.text import clean, clean_or_none, normalise_mac

__all__ = ["MAX_NMAP_HOSTS", "MAX_NMAP_XML", "parse_nmap_xml"]

MAX_NMAP_XML: Final = 64 * 1024 * 1024
"""Largest nmap XML file read: a /16 with service detection stays well below."""

MAX_NMAP_HOSTS: Final = 65_536
"""Most ``<host>`` elements read: a full /16."""

MAX_HOST_XML: Final = 1024 * 1024
"""Largest single ``<host>`` element: thousands of ports with script output."""

MAX_SCRIPT_OUTPUT: Final = 1024
"""Characters kept from one NSE script's output."""

_HOST = re.compile(rb"<host[\s>].*?</host>", re.DOTALL)
_NMAPRUN = re.compile(rb"<nmaprun[\s>]")
# An internal DTD subset is where entity declarations live; nmap never writes one.
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^>]*\[", re.IGNORECASE)
_SERVICE_ATTRS: Final = ("product", "version", "extrainfo", "devicetype", "ostype")
_HEADER_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*):\s*(.*?)\s*$")


def _host_elements(data: bytes) -> Iterator[bytes]:
    for count, match in enumerate(_HOST.finditer(data)):
        if count >= MAX_NMAP_HOSTS:
            raise InputFileError(f"nmap XML has more than {MAX_NMAP_HOSTS} hosts")
        yield match.group(0)


def _address(host: _xml.Element) -> tuple[str | None, str | None, str | None]:
    ip = mac = vendor = None
    for addr in _xml.children(host, "address"):
        kind = addr.get("addrtype")
        if kind in {"ipv4", "ipv6"} and ip is None:
            ip = clean_or_none(addr.get("addr"))
        elif kind == "mac":
            mac = normalise_mac(addr.get("addr"))
            vendor = clean_or_none(addr.get("vendor"))
    return ip, mac, vendor


def _scripts(elem: _xml.Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for script in _xml.children(elem, "script"):
        script_id = clean_or_none(script.get("id"), 64)
        output = clean_or_none(script.get("output"), MAX_SCRIPT_OUTPUT)
        if script_id and output:
            out[f"script_{script_id}"] = output
    return out


def _http_from_scripts(port: _xml.Element) -> dict[str, str]:
    """Server, realm and title as the HTTP fingerprints expect them, from NSE output."""
    fields: dict[str, str] = {}
    for script in _xml.children(port, "script"):
        sid = script.get("id")
        if sid == "http-title":
            title = next(
                (e.text for e in _xml.children(script, "elem") if e.get("key") == "title"), None
            )
            if title and title.strip():
                fields["title"] = clean(title)
        elif sid == "http-headers":
            for line in (script.get("output") or "").splitlines()[:64]:
                header = _HEADER_LINE.match(line)
                if header is None:
                    continue
                name, value = header.group(1).lower(), header.group(2)
                if name == "server" and value:
                    fields["server"] = clean(value)
                elif name == "www-authenticate" and value:
                    challenges = parse_www_authenticate(value)
                    if challenges:
                        fields["auth_scheme"] = challenges[0].scheme
                        realm = challenges[0].params.get("realm")
                        if realm:
                            fields["realm"] = clean(realm)
    return fields


def _port_observations(ip: str, mac: str | None, port: _xml.Element) -> Iterator[Observation]:
    state = _xml.child(port, "state")
    if state is None or state.get("state") != "open":
        return
    try:
        number = int(port.get("portid", ""))
    except ValueError:
        return
    if not 0 < number < 65536:
        return
    fields: dict[str, str] = {}
    service = _xml.child(port, "service")
    if service is not None:
        name = clean_or_none(service.get("name"))
        if name:
            fields["service"] = name
        for attr in _SERVICE_ATTRS:
            value = clean_or_none(service.get(attr))
            if value:
                fields[attr] = value
    fields.update(_scripts(port))
    yield Observation(probe=ProbeName.NMAP, ip=ip, fields=fields, mac=mac, port=number)
    http = _http_from_scripts(port)
    if http:
        yield Observation(probe=ProbeName.HTTP, ip=ip, fields=http, port=number)


def _host_observations(elem: _xml.Element) -> list[Observation]:
    status = _xml.child(elem, "status")
    if status is not None and status.get("state") != "up":
        return []
    ip, mac, vendor = _address(elem)
    if ip is None:
        return []
    obs: list[Observation] = []
    if mac:
        obs.append(Observation(probe=ProbeName.ARP, ip=ip, mac=mac))
    host_fields: dict[str, str] = {}
    if vendor:
        host_fields["mac_vendor"] = vendor
    hostscript = _xml.child(elem, "hostscript")
    if hostscript is not None:
        host_fields.update(_scripts(hostscript))
    if host_fields:
        obs.append(Observation(probe=ProbeName.NMAP, ip=ip, fields=host_fields, mac=mac))
    ports = _xml.child(elem, "ports")
    if ports is not None:
        for port in _xml.children(ports, "port"):
            obs.extend(_port_observations(ip, mac, port))
    return obs


def parse_nmap_xml(data: bytes) -> list[Observation]:
    """Observations of the up hosts of an nmap ``-oX`` document, in document order.

    Raises InputFileError with a one-line reason when the document is too
    large, is not nmap XML, declares entities, or a host element is malformed.
    """
    if len(data) > MAX_NMAP_XML:
        raise InputFileError(f"nmap XML of {len(data)} bytes exceeds {MAX_NMAP_XML}")
    if _NMAPRUN.search(data) is None:
        raise InputFileError("not nmap XML output (no <nmaprun> element)")
    if _INTERNAL_SUBSET.search(data) or b"<!ENTITY" in data:
        raise InputFileError("nmap XML declares entities; refusing it")
    observations: list[Observation] = []
    for chunk in _host_elements(data):
        try:
            elem = _xml.parse(chunk, MAX_HOST_XML)
        except ProtocolError as err:
            raise InputFileError(f"nmap XML host element unreadable: {err}") from err
        observations.extend(_host_observations(elem))
    return observations
