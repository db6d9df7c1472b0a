"""Credential checks: HTTP/RTSP Digest (RFC 7616, MD5) and Basic, WS-Security.

Nonces are stateless (a timestamp plus an HMAC under a per-process key), so
the emulator keeps no per-client memory a flood could grow.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from typing import Final

NONCE_LIFETIME: Final = 3_600
"""Seconds a nonce stays valid; long enough for any test, short enough to expire."""

_PARAM_RE: Final = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def parse_params(text: str) -> dict[str, str]:
    """Parse ``a="x", b=y`` auth parameters (quoted strings may hold commas)."""
    params: dict[str, str] = {}
    for name, raw in _PARAM_RE.findall(text):
        value = raw
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.lower()] = value
    return params


def _md5(text: str) -> str:
    # MD5 is what RFC 7616 "algorithm=MD5" and every camera use; not a security choice here.
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class Credentials:
    """The profile's credentials and the checks that use them."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password
        self._key = secrets.token_bytes(16)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>)"

    # --- digest ------------------------------------------------------------------
    def nonce(self) -> str:
        """A fresh nonce: hex timestamp + truncated HMAC."""
        stamp = f"{int(time.time()):08x}"
        mac = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        return stamp + mac

    def nonce_ok(self, nonce: str) -> bool:
        """Whether we issued this nonce within its lifetime."""
        stamp, mac = nonce[:8], nonce[8:]
        expected = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        if not hmac.compare_digest(mac, expected):
            return False
        try:
            issued = int(stamp, 16)
        except ValueError:
            return False
        return 0 <= time.time() - issued <= NONCE_LIFETIME

    def digest_challenge(self, realm: str, *, qop: str | None = "auth") -> str:
        """A ``WWW-Authenticate`` value (Hikvision-style parameter order)."""
        parts = []
        if qop:
            parts.append(f'qop="{qop}"')
        parts += [f'realm="{realm}"', f'nonce="{self.nonce()}"', 'stale="FALSE"']
        return "Digest " + ", ".join(parts)

    def check_digest(self, header: str, method: str, realm: str, uri: str) -> bool:
        """Verify an ``Authorization: Digest`` header for this request."""
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "digest":
            return False
        p = parse_params(rest)
        if p.get("algorithm", "MD5").upper() != "MD5":
            return False
        if p.get("username") != self.username or p.get("realm") != realm:
            return False
        if p.get("uri") != uri or not self.nonce_ok(p.get("nonce", "")):
            return False
        ha1 = _md5(f"{self.username}:{realm}:{self._password}")
        ha2 = _md5(f"{method}:{p['uri']}")
        qop = p.get("qop")
        if qop == "auth":
            if "nc" not in p or "cnonce" not in p:
                return False
            expected = _md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}")
        elif qop is None:
            expected = _md5(f"{ha1}:{p['nonce']}:{ha2}")
        else:
            return False
        return hmac.compare_digest(p.get("response", "").lower(), expected)

    # --- basic ---------------------------------------------------------------------
    def check_basic(self, header: str) -> bool:
        """Verify an ``Authorization: Basic`` header."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and hmac.compare_digest(
            f"{user}:{password}".encode(), f"{self.username}:{self._password}".encode()
        )

    def check_any(self, header: str, method: str, realm: str, uri: str) -> bool:
        """Digest or Basic, whichever the header carries."""
        if header.lower().startswith("digest "):
            return self.check_digest(header, method, realm, uri)
        return self.check_basic(header)

    # --- WS-Security UsernameToken -------------------------------------------------
    def check_username_token(
        self,
        username: str,
        password: str,
        password_type: str,
        nonce_b64: str,
        created: str,
    ) -> bool:
        """PasswordDigest = base64(sha1(nonce + created + password)), or PasswordText."""
        if username != self.username:
            return False
        if password_type.endswith("#PasswordText"):
            return hmac.compare_digest(password.encode(), self._password.encode())
        try:
            nonce = base64.b64decode(nonce_b64, validate=True)
        except binascii.Error:
            return False
        raw = nonce + created.encode() + self._password.encode()
        expected = base64.b64encode(hashlib.sha1(raw, usedforsecurity=False).digest()).decode()
        return hmac.compare_digest(password.strip().encode(), expected.encode())
