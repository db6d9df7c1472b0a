"""HTTP fingerprint of one host port: landing page, headers, TLS names, vendor endpoints."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from cctv_sentinel.discovery import credential_policy, httpclient
from cctv_sentinel.discovery.base import ProbeContext, now
from cctv_sentinel.discovery.credentials import Credential
from cctv_sentinel.errors import ProbeError, ProtocolError
from cctv_sentinel.model import Observation, ProbeName
from cctv_sentinel.protocols import http as httpproto
from cctv_sentinel.protocols import x509
from cctv_sentinel.protocols.text import clean

_LOG = logging.getLogger(__name__)

HTTP_PORTS: dict[int, bool] = {
    80: False,
    8080: False,
    8899: False,
    443: True,
    8443: True,
}
"""Ports we fingerprint as HTTP, and whether they speak TLS."""

VENDOR_ENDPOINTS: tuple[str, ...] = (
    "/ISAPI/System/deviceInfo",  # Hikvision ISAPI (also on Hikvision-made OEM devices)
    "/cgi-bin/magicBox.cgi?action=getSystemInfo",  # Dahua CGI (also on Dahua-made OEM devices)
)
"""Endpoints whose mere presence, realm or answer tells who wrote the firmware."""

MAX_REDIRECTS = 2
"""Same-host redirects followed from ``/`` to the login page.

Hikvision answers ``/`` with a redirect to ``/doc/page/login.asp``."""

BODY_EXCERPT = 4096
"""Characters of the landing page kept as evidence (title, script names, markers)."""


def _auth_fields(reply: httpclient.HttpReply, fields: dict[str, str]) -> None:
    values = reply.head.header_all("www-authenticate")
    if not values:
        return
    challenges = httpproto.parse_www_authenticate(", ".join(values))
    if not challenges:
        return
    fields["auth_scheme"] = " ".join(dict.fromkeys(c.scheme for c in challenges))
    realm = next((c.params.get("realm") for c in challenges if c.params.get("realm")), None)
    if realm:
        fields["realm"] = clean(realm)


def _same_host_path(ip: str, port: int, location: str) -> str | None:
    try:
        parts = urlsplit(location)
        target_port = parts.port
    except ValueError:
        return None
    elsewhere = parts.hostname != ip or (target_port is not None and target_port != port)
    if (parts.scheme or parts.netloc) and elsewhere:
        return None
    path = parts.path or "/"
    if not path.startswith("/"):
        path = "/" + path
    return path + ("?" + parts.query if parts.query else "")


def landing_fields(reply: httpclient.HttpReply, path: str) -> dict[str, str]:
    """What the landing page at ``path`` says (pure: status, server, realm, title, TLS names)."""
    fields: dict[str, str] = {"status": str(reply.status)}
    if path != "/":
        fields["path"] = path
    server = reply.head.header("server")
    if server:
        fields["server"] = server
    _auth_fields(reply, fields)
    if reply.body:
        title = httpproto.html_title(reply.body)
        if title:
            fields["title"] = title
        excerpt = clean(reply.body[: BODY_EXCERPT * 2], BODY_EXCERPT)
        if excerpt:
            fields["body"] = excerpt
    if reply.peer_cert:
        try:
            names = x509.parse_names(reply.peer_cert)
            fields["tls_subject"] = names.subject
            fields["tls_issuer"] = names.issuer
        except ProtocolError as err:
            _LOG.debug("http: unreadable certificate: %s", err)
    return fields


async def landing(ctx: ProbeContext, ip: str, port: int, tls: bool) -> None:
    """Fetch ``/`` (and up to two same-host redirects) and emit what it says."""
    path = "/"
    reply: httpclient.HttpReply | None = None
    fields: dict[str, str] = {"scheme": "https" if tls else "http"}
    for _ in range(MAX_REDIRECTS + 1):
        async with ctx.host_slot(ip):
            reply = await httpclient.request(
                ip,
                port,
                path,
                tls=tls,
                timeout=ctx.timing.request_timeout,
                head_timeout=ctx.timing.head_timeout,
            )
        location = reply.head.header("location")
        if reply.status in {301, 302, 303, 307, 308} and location:
            fields["location"] = location
            next_path = _same_host_path(ip, port, location)
            if next_path is None or next_path == path:
                break
            path = next_path
            continue
        break
    assert reply is not None
    fields.update(landing_fields(reply, path))
    ctx.emit(Observation(probe=ProbeName.HTTP, ip=ip, fields=fields, port=port, at=now()))


def _endpoint_fields(endpoint: str, body: bytes) -> dict[str, str]:
    """Read what a vendor endpoint answered (only after a 200)."""
    out: dict[str, str] = {}
    pairs: tuple[tuple[str, str | None], ...]
    if endpoint.startswith("/ISAPI/"):
        info = httpproto.parse_isapi_device_info(body)
        pairs = (
            ("name", info.name),
            ("model", info.model),
            ("serial", info.serial),
            ("mac", info.mac),
            ("firmware", info.firmware),
            ("device_type", info.device_type),
            ("hardware", info.hardware),
            ("manufacturer", getattr(info, "manufacturer", None)),
        )
    else:
        kv = httpproto.parse_key_values(body)
        device_type = kv.get("deviceType")
        # Recorders answer a numeric deviceType code and carry the model in updateSerial.
        model = device_type if device_type and not device_type.isdigit() else None
        pairs = (
            ("device_type", device_type),
            ("serial", kv.get("serialNumber")),
            ("hardware", kv.get("hardwareVersion")),
            ("model", model or kv.get("updateSerial")),
        )
    for key, value in pairs:
        if value:
            out[key] = clean(value)
    return out


def endpoint_fields(
    path: str,
    first: httpclient.HttpReply,
    second: httpclient.HttpReply | None,
    *,
    withheld: bool = False,
) -> dict[str, str]:
    """What a vendor endpoint's answer says (pure).

    ``second`` is the authenticated retry; ``withheld`` says a credential was
    kept back (``auth: withheld``).
    """
    fields: dict[str, str] = {"endpoint": path, "status": str(first.status)}
    server = first.head.header("server")
    if server:
        fields["server"] = server
    _auth_fields(first, fields)
    final = second or first
    if second is not None:
        fields["auth"] = "ok" if second.status == 200 else "failed"
    elif withheld:
        fields["auth"] = "withheld"
    if final.status == 200 and final.body and not final.truncated:
        try:
            fields.update(_endpoint_fields(path, final.body))
        except ProtocolError as err:
            _LOG.debug("http: %s did not parse: %s", path, err)
    return fields


async def endpoint(
    ctx: ProbeContext, ip: str, port: int, tls: bool, path: str, mac: str | None
) -> None:
    """Ask one vendor endpoint; emit its status, realm and (when readable) identity.

    The endpoint is asked without credentials first. A credential answers its
    challenge only when the host is named in the credentials file or its other
    answers say camera (:mod:`.credential_policy`), waiting a little for that
    evidence, since other probes of the same host may still be under way.
    """
    async with ctx.host_slot(ip):
        first = await httpclient.request(
            ip,
            port,
            path,
            tls=tls,
            timeout=ctx.timing.request_timeout,
            head_timeout=ctx.timing.head_timeout,
        )
    if first.status == 404:
        return  # not this vendor's firmware; absence is not evidence worth reporting
    second: httpclient.HttpReply | None = None
    credential = ctx.credentials.for_host(ip, mac) if first.status == 401 else None
    withheld = credential is not None
    if credential is not None and not await _may_send(ctx, ip, credential):
        _LOG.debug("http: %s: credential withheld: nothing says this host is a camera", ip)
    elif credential is not None:
        async with ctx.host_slot(ip):
            second = await httpclient.answer_challenge(
                first,
                ip,
                port,
                path,
                credential=credential,
                tls=tls,
                timeout=ctx.timing.request_timeout,
                head_timeout=ctx.timing.head_timeout,
            )
    if second is None and withheld:
        # Not a camera by its other answers, or only Basic offered over plain HTTP.
        _LOG.debug("http: %s:%d%s: no challenge answerable without the password", ip, port, path)
    fields = endpoint_fields(path, first, second, withheld=withheld)
    ctx.emit(Observation(probe=ProbeName.HTTP, ip=ip, fields=fields, port=port, at=now()))


async def _may_send(ctx: ProbeContext, ip: str, credential: Credential) -> bool:
    if credential_policy.may_send(credential, ip, ctx.evidence):
        return True
    wait = max(ctx.timing.window, ctx.timing.request_timeout)
    return await ctx.evidence.wait(ip, wait)


async def fingerprint(ctx: ProbeContext, ip: str, port: int, mac: str | None) -> bool:
    """Fingerprint one HTTP(S) port; return True when it spoke HTTP."""
    tls = HTTP_PORTS.get(port, False)
    try:
        await landing(ctx, ip, port, tls)
    except ProbeError as err:
        _LOG.debug("http: %s:%d: %s", ip, port, err)
        return False
    for path in VENDOR_ENDPOINTS:
        try:
            await endpoint(ctx, ip, port, tls, path, mac)
        except ProbeError as err:
            _LOG.debug("http: %s:%d%s: %s", ip, port, path, err)
    return True
