"""Build the Host a scan would produce from a device profile (tests/fixtures/devices).

Where the agent has a pure parser or an ``observation()`` builder, the
profile's values go through them (SADP XML, DHIP frames, WS-Discovery
matches, UPnP descriptions, mDNS instances, ISAPI and CGI bodies), so the
observation fields are exactly those the real probes emit. The rest (HTTP
landing page, RTSP, ONVIF) follows the vocabulary in brief/observations.md.
The scanner is assumed to hold the profile's credentials, as the lab does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from xml.sax.saxutils import escape

from cctv_sentinel.discovery import dahua as dahua_probe
from cctv_sentinel.discovery import http as http_probe
from cctv_sentinel.discovery import mdns as mdns_probe
from cctv_sentinel.discovery import sadp as sadp_probe
from cctv_sentinel.discovery import ssdp as ssdp_probe
from cctv_sentinel.discovery import wsdiscovery
from cctv_sentinel.discovery.hosts import group_hosts
from cctv_sentinel.model import Host, Observation
from cctv_sentinel.protocols import dhip, mdns, sadp, ssdp, wsd
from cctv_sentinel.protocols import http as httpproto
from cctv_sentinel.protocols.text import clean
from tests.lab.profiles import Profile

REDIRECTS = {301, 302, 303, 307, 308}


def _sadp(ip: str, svc: Mapping[str, Any]) -> Iterator[Observation]:
    body = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in svc["fields"].items())
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>'
        "<Uuid>7A1F0C7E-0000-0000-0000-000000000000</Uuid><Types>inquiry</Types>"
        f"{body}</ProbeMatch>"
    )
    reply = sadp.parse_message(xml.encode())
    assert isinstance(reply, sadp.SadpReply)
    yield sadp_probe.observation(ip, reply)


def _dhip(ip: str, mac: str, svc: Mapping[str, Any]) -> Iterator[Observation]:
    info = dict(svc["device_info"])
    where = svc.get("mac_in", "top")
    payload: dict[str, Any] = {"method": "client.notifyDevInfo", "params": {"deviceInfo": info}}
    if where in {"top", "both"}:
        payload["mac"] = mac
    if where in {"device_info", "both"}:
        info["MAC"] = mac
    device = dhip.parse_message(dhip.build_frame(json.dumps(payload).encode()))
    assert isinstance(device, dhip.DhipDevice)
    yield dahua_probe.observation(ip, device)


def _wsd(ip: str, svc: Mapping[str, Any], routed: bool) -> Iterator[Observation]:
    match = wsd.WsdMatch(
        endpoint=svc.get("endpoint"),
        types=tuple(t.rsplit(":", 1)[-1] for t in svc.get("types", "").split()),
        scopes=tuple(svc.get("scopes", [])),
        xaddrs=tuple(svc.get("xaddrs", [])),
        metadata_version=svc.get("metadata_version"),
    )
    yield wsdiscovery.observation(ip, match, "unicast" if routed else "multicast")


def _ssdp(ip: str, svc: Mapping[str, Any]) -> Iterator[Observation]:
    fields: dict[str, str] = {}
    for key in ("server", "usn", "st"):
        if svc.get(key):
            fields[key] = svc[key]
    fields["location"] = (
        f"http://{ip}:{svc.get('location_port', 80)}{svc.get('location_path', '/')}"
    )
    desc = svc.get("description")
    if desc:
        inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in desc.items())
        xml = (
            '<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">'
            f"<device>{inner}</device></root>"
        )
        fields.update(ssdp_probe.description_fields(ssdp.parse_description(xml.encode())))
    yield Observation(probe="ssdp", ip=ip, fields=fields, port=1900)


def _mdns(ip: str, svc: Mapping[str, Any]) -> Iterator[Observation]:
    for service in svc.get("services", []):
        instance = mdns.ServiceInstance(
            service=f"{service['type']}.local",
            instance=service["instance"],
            target=svc.get("hostname"),
            port=service.get("port"),
            txt=tuple(service.get("txt", [])),
            addresses=(),
        )
        yield mdns_probe.observation(ip, instance)


def _route(server: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    return server.get("routes", {}).get(path) or server.get("not_found") or {"status": 404}


def _landing(ip: str, server: Mapping[str, Any]) -> Observation:
    tls = bool(server.get("tls"))
    fields: dict[str, str] = {"scheme": "https" if tls else "http"}
    path = "/"
    route = _route(server, path)
    for _ in range(3):
        status = int(route.get("status", 200))
        location = route.get("headers", {}).get("Location")
        if status in REDIRECTS and location:
            fields["location"] = location
            if not location.startswith("/") or location == path:
                break
            path = location
            route = _route(server, path)
            continue
        break
    fields["status"] = str(route.get("status", 200))
    if path != "/":
        fields["path"] = path
    if server.get("server"):
        fields["server"] = server["server"]
    if route.get("auth"):
        fields["auth_scheme"] = "Digest" if route["auth"] == "digest" else "Basic"
        if route.get("realm"):
            fields["realm"] = route["realm"]
    body = str(route.get("body", "")).encode()
    if body:
        title = httpproto.html_title(body)
        if title:
            fields["title"] = title
        excerpt = clean(body[: http_probe.BODY_EXCERPT * 2], http_probe.BODY_EXCERPT)
        if excerpt:
            fields["body"] = excerpt
    if tls and server.get("tls_subject"):
        fields["tls_subject"] = server["tls_subject"]
    return Observation(probe="http", ip=ip, fields=fields, port=server["port"])


def _endpoints(ip: str, server: Mapping[str, Any]) -> Iterator[Observation]:
    for path in http_probe.VENDOR_ENDPOINTS:
        route = server.get("routes", {}).get(path)
        if route is None:
            continue  # 404: the probe reports nothing
        fields: dict[str, str] = {"endpoint": path}
        if server.get("server"):
            fields["server"] = server["server"]
        status = int(route.get("status", 200))
        if route.get("auth"):
            fields["status"] = "401"
            fields["auth_scheme"] = "Digest" if route["auth"] == "digest" else "Basic"
            if route.get("realm"):
                fields["realm"] = route["realm"]
            fields["auth"] = "ok" if status == 200 else "failed"
        else:
            fields["status"] = str(status)
        if status == 200 and route.get("body"):
            fields.update(http_probe._endpoint_fields(path, str(route["body"]).encode()))
        yield Observation(probe="http", ip=ip, fields=fields, port=server["port"])


def _rtsp(ip: str, svc: Mapping[str, Any]) -> Iterator[Observation]:
    fields: dict[str, str] = {"status": "200"}
    if svc.get("server"):
        fields["server"] = svc["server"]
    if svc.get("public"):
        fields["public"] = " ".join(p.strip() for p in svc["public"].split(","))
    auth = svc.get("auth")
    if auth:
        fields["describe_status"] = "401"
        fields["auth_scheme"] = auth["scheme"] + (" Basic" if auth.get("also_basic") else "")
        if auth.get("realm"):
            fields["realm"] = auth["realm"]
    else:
        fields["describe_status"] = "200"
    yield Observation(probe="rtsp", ip=ip, fields=fields, port=svc.get("port", 554))


def _onvif(ip: str, svc: Mapping[str, Any]) -> Iterator[Observation]:
    port = svc.get("port", 80)
    fields: dict[str, str] = {
        "xaddr": f"http://{ip}:{port}{svc.get('path', '/onvif/device_service')}",
        "auth": "ok" if svc.get("auth_required", True) else "none",
    }
    info = svc.get("device_information") or {}
    for key, name in (
        ("manufacturer", "Manufacturer"),
        ("model", "Model"),
        ("firmware", "FirmwareVersion"),
        ("serial", "SerialNumber"),
        ("hardware", "HardwareId"),
    ):
        if info.get(name):
            fields[key] = clean(str(info[name]))
    ifaces = svc.get("network_interfaces") or []
    mac = ifaces[0].get("mac") if ifaces else None
    if mac:
        fields["mac"] = mac
    yield Observation(probe="onvif", ip=ip, fields=fields, mac=mac, port=port)


def observations(profile: Profile) -> list[Observation]:
    """Everything the agent's probes would report about this profile's device."""
    raw = profile.raw
    ip, mac, routed = profile.network.ip, profile.network.mac, profile.network.routed
    obs: list[Observation] = []
    if not routed:
        obs.append(Observation(probe="arp", ip=ip, mac=mac))
    for port in profile.tcp_ports:
        banner = next((t.get("banner_hex") for t in raw.get("tcp", []) if t["port"] == port), None)
        obs.append(
            Observation(
                probe="sweep", ip=ip, port=port, fields={"banner_hex": banner} if banner else {}
            )
        )
    if raw.get("wsd"):
        obs.extend(_wsd(ip, raw["wsd"], routed))
    if raw.get("sadp") and not routed:
        obs.extend(_sadp(ip, raw["sadp"]))
    if raw.get("dhip"):
        obs.extend(_dhip(ip, mac, raw["dhip"]))
    if raw.get("ssdp") and not routed:
        obs.extend(_ssdp(ip, raw["ssdp"]))
    if raw.get("mdns") and not routed:
        obs.extend(_mdns(ip, raw["mdns"]))
    for server in raw.get("http") or []:
        obs.append(_landing(ip, server))
        obs.extend(_endpoints(ip, server))
    if raw.get("rtsp"):
        obs.extend(_rtsp(ip, raw["rtsp"]))
    if raw.get("onvif"):
        obs.extend(_onvif(ip, raw["onvif"]))
    return obs


def host(profile: Profile) -> Host:
    """The Host the scanner would group from :func:`observations`."""
    (only,) = group_hosts(observations(profile))
    return only
