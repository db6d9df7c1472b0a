"""Replay recorded device answers through the scan's own parsers, with no network.

A recorded answer (the bytes a device sent to one of our probes, or to a tool
that sends the same request) becomes the observation a scan would have made of
it: the same parser in ``protocols/`` and the same field-building function the
probe uses. What the scan itself would never ask (a telnet banner, a page at a
path we do not fetch) goes the way ``classify`` reads nmap XML, or is skipped
and said so. Used to measure attribution on published device answers
(docs/accuracy.md) and by anyone who wants a verdict for answers they saved.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import quoteattr

from cctv_sentinel.discovery import (
    dahua,
    http,
    httpclient,
    mdns,
    onvif,
    passive,
    rtsp,
    sadp,
    wsdiscovery,
)
from cctv_sentinel.discovery import ssdp as ssdp_probe
from cctv_sentinel.discovery.hosts import group_hosts
from cctv_sentinel.errors import ProtocolError
from cctv_sentinel.model import Host, Observation, ProbeName
from cctv_sentinel.protocols import dhip as dhip_proto
from cctv_sentinel.protocols import mdns as mdns_proto
from cctv_sentinel.protocols import nmapxml, x509
from cctv_sentinel.protocols import onvif as onvif_proto
from cctv_sentinel.protocols import rtsp as rtsp_proto
from cctv_sentinel.protocols import sadp as sadp_proto
from cctv_sentinel.protocols import ssdp as ssdp_proto
from cctv_sentinel.protocols import wsd as wsd_proto
from cctv_sentinel.protocols.httpmsg import parse_response_head
from cctv_sentinel.protocols.text import clean, decode, normalise_mac

__all__ = ["KINDS", "Answer", "Replayed", "observations", "replay"]

REPLAY_IP: Final = "192.0.2.10"
"""Address given to a replayed device (TEST-NET-1: never a real host)."""

BANNER_PORTS: Final = {
    "telnet-banner": (23, "telnet"),
    "ftp-banner": (21, "ftp"),
    "ssh-banner": (22, "ssh"),
}
"""Banners the scan does not collect itself; they reach ``classify`` as nmap's banner script."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One recorded answer: what kind, its raw bytes, and where it came from."""

    kind: str
    data: bytes = b""
    port: int | None = None
    path: str | None = None
    tls: bool = False
    field: str | None = None
    """For ``banner``: which field of a fingerprint database the string is (``http.title``)."""
    value: str | None = None
    """For ``mac``: the address."""
    name: str = ""
    """The file name, for formats told apart by extension (``.bin``, ``.json``, ``.pem``)."""


@dataclass(frozen=True, slots=True)
class Replayed:
    """The host a scan would have seen, and the answers it would never have asked for."""

    host: Host
    skipped: tuple[str, ...]


def _reply(data: bytes) -> httpclient.HttpReply:
    head = parse_response_head(data)
    end = data.find(b"\r\n\r\n")
    body = data[end + 4 :] if end >= 0 else b""
    return httpclient.HttpReply(head=head, body=body, truncated=False, peer_cert=None)


def _headers_only(data: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + data.lstrip(b"\r\n")


def _http(ip: str, answer: Answer, data: bytes) -> list[Observation]:
    path = answer.path or "/"
    port = answer.port or (443 if answer.tls else 80)
    reply = _reply(data)
    endpoint = path.split("?", 1)[0]
    for vendor in http.VENDOR_ENDPOINTS:
        if vendor.split("?", 1)[0] == endpoint:
            fields = http.endpoint_fields(vendor, reply, None)
            return [Observation(probe=ProbeName.HTTP, ip=ip, fields=fields, port=port)]
    if path != "/" and reply.status not in {401, 403}:
        raise _NotAskedError(f"the scan does not fetch {path}")
    fields = {"scheme": "https" if answer.tls else "http", **http.landing_fields(reply, path)}
    return [Observation(probe=ProbeName.HTTP, ip=ip, fields=fields, port=port)]


def _endpoint_body(ip: str, answer: Answer, endpoint: str) -> list[Observation]:
    wanted = answer.path or endpoint
    if wanted != endpoint:
        raise _NotAskedError(f"the scan asks {endpoint}, not {wanted}")
    body = answer.data
    reply = httpclient.HttpReply(
        head=parse_response_head(b"HTTP/1.1 200 OK\r\n\r\n"),
        body=body,
        truncated=False,
        peer_cert=None,
    )
    fields = http.endpoint_fields(endpoint, reply, None)
    return [Observation(probe=ProbeName.HTTP, ip=ip, fields=fields, port=answer.port or 80)]


def _rtsp(ip: str, answer: Answer) -> list[Observation]:
    crlf = answer.data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    response = rtsp_proto.parse_response(crlf)
    fields = rtsp.options_fields(response)
    if not response.public:
        # Not an OPTIONS listing: the answer to DESCRIBE (or to OPTIONS refused
        # without credentials), which the probe asks next on the same connection.
        fields.update(rtsp.describe_fields(response, fields))
    return [Observation(probe=ProbeName.RTSP, ip=ip, fields=fields, port=answer.port or 554)]


def _ssdp(ip: str, answer: Answer) -> list[Observation]:
    message = ssdp_proto.parse_message(answer.data)
    if message.kind == "notify":
        return [s.observation for s in passive.parse_ssdp(answer.data, ip, 0.0) if s.observation]
    fields = ssdp_probe.message_fields(message)
    return [Observation(probe=ProbeName.SSDP, ip=ip, fields=fields, port=ssdp_probe.PORT)]


def _description(ip: str, answer: Answer) -> list[Observation]:
    fields = ssdp_probe.description_fields(ssdp_proto.parse_description(answer.data))
    return [Observation(probe=ProbeName.SSDP, ip=ip, fields=fields, port=ssdp_probe.PORT)]


def _wsd(ip: str, answer: Answer) -> list[Observation]:
    message = wsd_proto.parse_message(answer.data)
    return [wsdiscovery.observation(ip, match, "multicast") for match in message.matches]


def _sadp(ip: str, answer: Answer) -> list[Observation]:
    message = sadp_proto.parse_message(answer.data)
    if not isinstance(message, sadp_proto.SadpReply):
        raise _NotAskedError("a SADP inquiry, not a device's answer")
    return [sadp.observation(ip, message)]


def _dhip(ip: str, answer: Answer) -> list[Observation]:
    data = answer.data
    if answer.name.endswith(".json"):
        data = dhip_proto.build_frame(data.strip())
    message = dhip_proto.parse_message(data)
    if not isinstance(message, dhip_proto.DhipDevice):
        raise _NotAskedError("a DHIP request, not a device's answer")
    return [dahua.observation(ip, message)]


def _avahi(text: str) -> list[mdns_proto.ServiceInstance]:
    found: list[mdns_proto.ServiceInstance] = []
    for line in text.splitlines():
        parts = line.split(";")
        if len(parts) < 10 or parts[0] != "=":
            continue
        txt = tuple(t.strip('"') for t in parts[9].split('" "') if t.strip('"'))
        found.append(
            mdns_proto.ServiceInstance(
                service=f"{parts[4]}.{parts[5]}",
                instance=clean(parts[3].replace("\\032", " ")),
                target=clean(parts[6]) or None,
                port=int(parts[8]) if parts[8].isdigit() else None,
                txt=tuple(clean(t) for t in txt),
                addresses=(parts[7],),
            )
        )
    return found


def _records(data: bytes) -> list[mdns_proto.ServiceInstance]:
    """A JSON list of ``{"name", "type", "data"}`` records, joined like ``mdns.services``."""
    records = json.loads(data)
    if not isinstance(records, list):
        raise ProtocolError("mDNS records: not a JSON list")
    ptrs: list[tuple[str, str]] = []
    srv: dict[str, tuple[str | None, int | None]] = {}
    txt: dict[str, tuple[str, ...]] = {}
    for rec in records:
        if not isinstance(rec, dict):
            continue
        name, rtype, value = str(rec.get("name", "")), str(rec.get("type", "")), rec.get("data")
        if rtype == "PTR" and isinstance(value, str):
            ptrs.append((name, value))
        elif rtype == "SRV" and isinstance(value, dict):
            port = value.get("port")
            target = str(value.get("target", "")) or None
            srv[name] = (target, port if isinstance(port, int) else None)
        elif rtype == "TXT":
            items = value if isinstance(value, list) else [value]
            txt[name] = tuple(clean(str(t)) for t in items if t)
    found: list[mdns_proto.ServiceInstance] = []
    for service, full in ptrs:
        if not full.endswith(service):
            continue
        instance = full[: -len(service)].rstrip(".")
        target, port = srv.get(full, (None, None))
        found.append(
            mdns_proto.ServiceInstance(
                service.rstrip("."), clean(instance), target, port, txt.get(full, ()), ()
            )
        )
    return found


def _mdns(ip: str, answer: Answer) -> list[Observation]:
    if answer.name.endswith(".avahi"):
        services = _avahi(decode(answer.data))
    elif answer.name.endswith(".json"):
        services = _records(answer.data)
    else:
        services = list(mdns_proto.services(mdns_proto.parse_message(answer.data)))
    return [mdns.observation(ip, service) for service in services]


def _onvif_information(ip: str, answer: Answer) -> list[Observation]:
    info = onvif_proto.parse_device_information(answer.data)
    fields = {"auth": "none", **onvif.device_information_fields(info)}
    return [Observation(probe=ProbeName.ONVIF, ip=ip, fields=fields, port=answer.port or 80)]


def _certificate(ip: str, answer: Answer) -> list[Observation]:
    text = decode(answer.data)
    if "-----BEGIN CERTIFICATE-----" in text:
        body = text.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END", 1)[0]
        names = x509.parse_names(base64.b64decode("".join(body.split())))
        subject, issuer = names.subject, names.issuer
    else:
        subject, issuer = clean(text.strip()), ""
    fields = {"scheme": "https", "status": "200", "tls_subject": subject}
    if issuer:
        fields["tls_issuer"] = issuer
    return [Observation(probe=ProbeName.HTTP, ip=ip, fields=fields, port=answer.port or 443)]


def _nmap_banner(ip: str, port: int, service: str, text: str) -> list[Observation]:
    """A banner as nmap's banner script reports it, read by the nmap XML parser."""
    xml = (
        f'<nmaprun><host><status state="up"/><address addr="{ip}" addrtype="ipv4"/>'
        f'<ports><port protocol="tcp" portid="{port}"><state state="open"/>'
        f'<service name="{service}"/><script id="banner" output={quoteattr(text)}/>'
        "</port></ports></host></nmaprun>"
    )
    return nmapxml.parse_nmap_xml(xml.encode())


_BANNER_HTTP: Final = {
    "http.server": "HTTP/1.1 200 OK\r\nServer: {}\r\n\r\n",
    "http.title": "HTTP/1.1 200 OK\r\n\r\n<html><head><title>{}</title></head></html>",
    "http.realm": 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="{}"\r\n\r\n',
    "http.www_authenticate": "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {}\r\n\r\n",
}
"""Fingerprint-database strings put back in the message a scan would have read them from."""


def _banner(ip: str, answer: Answer) -> list[Observation]:
    value = clean(decode(answer.data).strip(), 1024)
    field = answer.field or ""
    template = _BANNER_HTTP.get(field)
    if template is not None:
        message = template.format(value).encode()
        return _http(ip, Answer("http", message, port=answer.port), message)
    if field == "rtsp.server":
        return _rtsp(ip, Answer("rtsp", f"RTSP/1.0 200 OK\r\nServer: {value}\r\n\r\n".encode()))
    if field == "upnp.server":
        search = f"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nSERVER: {value}\r\n\r\n"
        return _ssdp(ip, Answer("ssdp", search.encode()))
    if field == "x509.subject":
        return _certificate(ip, Answer("tls-certificate", value.encode()))
    if field == "mdns.service":
        instance = mdns_proto.ServiceInstance(value, "", None, None, (), ())
        return [mdns.observation(ip, instance)]
    if field in {"ssh.banner", "telnet.banner", "ftp.banner"}:
        port, service = BANNER_PORTS[field.replace(".", "-")]
        return _nmap_banner(ip, port, service, value)
    raise _NotAskedError(f"no probe reads a {field or 'bare'} banner")


class _NotAskedError(Exception):
    """An answer the scan would never have received; replay skips it and says why."""


def observations(answer: Answer, ip: str = REPLAY_IP) -> list[Observation]:
    """The observations a scan would make of this answer.

    Raises ProtocolError when the bytes do not parse (as the probe would drop
    them) and ValueError for an answer the scan would never receive.
    """
    try:
        return _observations(answer, ip)
    except _NotAskedError as err:
        raise ValueError(str(err)) from err


def _mac(ip: str, answer: Answer) -> list[Observation]:
    mac = normalise_mac(answer.value)
    if mac is None:
        raise ProtocolError(f"not a MAC address: {answer.value!r}")
    return [Observation(probe=ProbeName.ARP, ip=ip, mac=mac)]


def _tls(ip: str, answer: Answer) -> list[Observation]:
    if answer.field and answer.field != "x509.subject":
        raise _NotAskedError(f"no probe reads {answer.field}")
    return _certificate(ip, answer)


def _port_banner(ip: str, answer: Answer) -> list[Observation]:
    port, service = BANNER_PORTS[answer.kind]
    text = clean(decode(answer.data).strip(), 1024)
    return _nmap_banner(ip, answer.port or port, service, text)


_READERS: Final[dict[str, Callable[[str, Answer], list[Observation]]]] = {
    "mac": _mac,
    "http": lambda ip, a: _http(ip, a, a.data),
    "http-headers": lambda ip, a: _http(ip, a, _headers_only(a.data)),
    "isapi-deviceinfo": lambda ip, a: _endpoint_body(ip, a, http.VENDOR_ENDPOINTS[0]),
    "magicbox": lambda ip, a: _endpoint_body(ip, a, http.VENDOR_ENDPOINTS[1]),
    "rtsp": _rtsp,
    "ssdp": _ssdp,
    "upnp-description": _description,
    "wsd-probematch": _wsd,
    "onvif-scopes": _wsd,
    "sadp": _sadp,
    "dhip": _dhip,
    "mdns": _mdns,
    "onvif-device-information": _onvif_information,
    "tls-certificate": _tls,
    "banner": _banner,
    "nmap-xml": lambda _ip, a: nmapxml.parse_nmap_xml(a.data),
    **dict.fromkeys(BANNER_PORTS, _port_banner),
}


def _observations(answer: Answer, ip: str) -> list[Observation]:
    reader = _READERS.get(answer.kind)
    if reader is None:
        raise _NotAskedError(f"unknown answer kind {answer.kind!r}")
    return reader(ip, answer)


KINDS: Final = frozenset(_READERS)
"""Answer kinds :func:`observations` understands (tests/corpus/FORMAT.md)."""


def replay(answers: Iterable[Answer], ip: str = REPLAY_IP) -> Replayed:
    """One host from every answer of one device.

    Answers that do not parse, or that the scan would never have asked for, are
    skipped and listed.
    """
    seen: list[Observation] = []
    skipped: list[str] = []
    for answer in answers:
        try:
            found = observations(answer, ip)
        except (ProtocolError, ValueError) as err:
            skipped.append(f"{answer.kind}: {err}")
            continue
        seen.extend(o if o.ip == ip else _moved(o, ip) for o in found)
    hosts = group_hosts(seen)
    host = hosts[0] if hosts else Host(ip=ip, mac=None, open_ports=(), observations=())
    return Replayed(host=host, skipped=tuple(skipped))


def _moved(obs: Observation, ip: str) -> Observation:
    return Observation(
        probe=obs.probe, ip=ip, fields=obs.fields, mac=obs.mac, port=obs.port, at=obs.at
    )
