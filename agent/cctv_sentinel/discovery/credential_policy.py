"""Who may be sent a camera credential, and in what form.

The threat: anyone on the LAN can run a web server that answers every request
with ``401`` and ``WWW-Authenticate: Basic``. A client that answers Basic over
plain HTTP hands that server the site's camera password. So:

- a credential goes only to a host the credentials file names (one address or
  one MAC), or to a host whose answers already say it is a camera
  (:func:`says_camera`); any other host is asked without credentials;
- by default only schemes that never send the password itself are used: HTTP
  Digest and ONVIF's WS-Security PasswordDigest;
- Basic (the password, base64-encoded) only inside TLS, or over plain HTTP to a
  host the file names with ``basic_over_http: true``.

HTTP answers never count as camera evidence: any web server can claim any
realm, title or Server header.
"""

from __future__ import annotations

import asyncio
import contextlib

from cctv_sentinel.discovery.credentials import Credential
from cctv_sentinel.model import Observation, ProbeName

_CAMERA_PROTOCOLS = frozenset({ProbeName.SADP, ProbeName.DHIP, ProbeName.ONVIF})
"""Protocols only video devices speak: Hikvision SADP, Dahua DHIP, the ONVIF device service."""


def says_camera(obs: Observation) -> bool:
    """True when this observation is evidence that its host is a camera (or recorder)."""
    if obs.probe in _CAMERA_PROTOCOLS:
        return True
    return obs.probe == ProbeName.WSD and obs.get("video") == "yes"


class CameraEvidence:
    """The addresses whose answers in this scan say they are cameras."""

    def __init__(self) -> None:
        self._hosts: set[str] = set()
        self._waiting: dict[str, asyncio.Event] = {}

    def __contains__(self, ip: object) -> bool:
        return ip in self._hosts

    def note(self, obs: Observation) -> None:
        """Remember ``obs``'s host when the observation says camera."""
        if says_camera(obs):
            self.add(obs.ip)

    def add(self, ip: str) -> None:
        """Record camera evidence for ``ip`` (and wake whoever waits for it)."""
        self._hosts.add(ip)
        event = self._waiting.get(ip)
        if event is not None:
            event.set()

    async def wait(self, ip: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for camera evidence about ``ip``."""
        if ip in self._hosts:
            return True
        event = self._waiting.setdefault(ip, asyncio.Event())
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await event.wait()
        finally:
            if self._waiting.get(ip) is event and not event.is_set():
                del self._waiting[ip]
        return ip in self._hosts


def may_send(credential: Credential, ip: str, evidence: CameraEvidence) -> bool:
    """True when ``credential`` may be used with ``ip`` at all (in any form)."""
    return credential.named_host or ip in evidence


def scheme_allowed(scheme: str, *, tls: bool, credential: Credential) -> bool:
    """True when answering an HTTP challenge of ``scheme`` keeps the password secret.

    Digest is always allowed; Basic only inside TLS, or when the file opts this
    named host in with ``basic_over_http``; nothing else.
    """
    kind = scheme.lower()
    if kind == "digest":
        return True
    if kind == "basic":
        return tls or credential.basic_over_http
    return False
