"""Pure helpers over HTTP answers: auth challenges, Digest, titles, vendor APIs.

The client that fetches these is in cctv_sentinel.discovery; nothing here does
I/O. Covered: WWW-Authenticate (RFC 7235) and Digest (RFC 7616, MD5 and
SHA-256), the page title, Hikvision ``/ISAPI/System/deviceInfo`` and Dahua's
``key=value`` CGI answers (``/cgi-bin/magicBox.cgi?action=getSystemInfo``).
"""

from __future__ import annotations

import hashlib
import html
import re
import types
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from cctv_sentinel.errors import MalformedError, OversizeError
from cctv_sentinel.limits import MAX_HTTP_BODY, MAX_HTTP_HEADERS, MAX_LIST_ITEMS
from cctv_sentinel.protocols import _xml
from cctv_sentinel.protocols.text import clean, clean_or_none, decode, normalise_mac

__all__ = [
    "Challenge",
    "IsapiDeviceInfo",
    "digest_authorization",
    "html_title",
    "parse_isapi_device_info",
    "parse_key_values",
    "parse_www_authenticate",
]

MAX_PARAM: Final = 1024
"""Longest challenge parameter kept; nonces are 30-100 characters, and a cut
nonce would make the Digest answer wrong rather than merely shorter."""

MAX_PARAMS: Final = 32
"""Most parameters read from one challenge (Digest uses at most 9)."""

MAX_ISAPI_XML: Final = 64 * 1024
"""Most bytes of an ISAPI deviceInfo parsed; real ones are 1-2 KiB."""

MAX_KEY_VALUE_BYTES: Final = 64 * 1024
"""Most bytes of a Dahua CGI key=value answer parsed; getSystemInfo is ~200."""

MAX_KEY_VALUE_LINES: Final = 256
"""Most lines read from a key=value answer; configManager dumps can be long,
but identity answers have under ten."""

MAX_TITLE_TAG: Final = 256
"""Most bytes between ``<title`` and its ``>`` (attributes) we look through."""

MAX_TITLE: Final = 4096
"""Most bytes of title text we look through before giving up on ``</title>``."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SPACE = " \t"

_HASHES: Final[dict[str, Callable[[bytes], str]]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge: a scheme and its parameters.

    Parameter names are lower-case (realm, nonce, qop, opaque, algorithm...);
    values are cleaned device strings. A token68 challenge (``Negotiate
    abc==``) has its value under the name ``token68``.
    """

    scheme: str
    params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class IsapiDeviceInfo:
    """Identity from Hikvision ``GET /ISAPI/System/deviceInfo``."""

    name: str | None
    device_id: str | None
    model: str | None
    serial: str | None
    mac: str | None
    firmware: str | None
    firmware_date: str | None
    """firmwareReleasedDate, e.g. ``build 240821``."""
    device_type: str | None
    hardware: str | None
    manufacturer: str | None = None
    """Only newer firmware sends it; OEM firmware may name the brand here."""
    oem_code: str | None = None


class _Scanner:
    """A cursor over a header value, for the RFC 7235 challenge grammar."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def token(self) -> str:
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group(0)

    def quoted(self) -> str:
        """Read a quoted-string; an unterminated one runs to the end (lenient)."""
        self.pos += 1  # the opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and self.pos < len(self.text):
                out.append(self.text[self.pos])
                self.pos += 1
            elif char == '"':
                break
            else:
                out.append(char)
        return "".join(out)

    def bare_value(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ", \t":
            self.pos += 1
        return self.text[start : self.pos]


def parse_www_authenticate(value: str) -> tuple[Challenge, ...]:
    """Parse a WWW-Authenticate value into its challenges.

    Several challenges may share one header (``Digest realm="a", nonce="b",
    Basic realm="a"``); quoted strings may hold commas. Unquoted values and
    stray commas are tolerated, as cameras send both. Raises OversizeError
    for a value longer than limits.MAX_HTTP_HEADERS.
    """
    if len(value) > MAX_HTTP_HEADERS:
        raise OversizeError("WWW-Authenticate value too long")
    scan = _Scanner(value)
    challenges: list[Challenge] = []
    while not scan.at_end() and len(challenges) < MAX_LIST_ITEMS:
        scan.skip(_SPACE + ",")
        scheme = scan.token()
        if not scheme:
            scan.pos += 1  # a stray character: skip it
            continue
        params = _params(scan)
        challenges.append(
            Challenge(scheme=clean(scheme, 64), params=types.MappingProxyType(params))
        )
    return tuple(challenges)


def _params(scan: _Scanner) -> dict[str, str]:
    params: dict[str, str] = {}
    first = True
    while not scan.at_end():
        mark = scan.pos
        scan.skip(_SPACE + ",")
        name = scan.token()
        scan.skip(_SPACE)
        if not name or scan.peek() != "=":
            scan.pos = mark  # the next challenge's scheme (or the end)
            break
        equals = scan.pos
        scan.skip("=")
        padding = scan.pos - equals
        scan.skip(_SPACE)
        if first and (padding > 1 or scan.peek() in {"", ","}):
            # token68 ("Negotiate abc==") rather than name=value
            params["token68"] = clean(name + "=" * padding, MAX_PARAM)
            break
        first = False
        raw = scan.quoted() if scan.peek() == '"' else scan.bare_value()
        if len(params) < MAX_PARAMS:
            params.setdefault(name.lower(), clean(raw, MAX_PARAM))
    return params


def _choose_qop(offered: str) -> str | None:
    qops = {q.strip().lower() for q in offered.split(",") if q.strip()}
    if not qops:
        return None  # RFC 2069 style, still sent by old firmware
    if "auth" in qops:
        return "auth"
    if "auth-int" in qops:
        return "auth-int"  # with the empty body of GET, DESCRIBE and OPTIONS
    raise MalformedError("Digest challenge offers no qop we support")


def _user_field(username: str, *, hashed: bool) -> str:
    """``username="..."``, or RFC 7616 ``username*`` for names quotes cannot carry."""
    if hashed or (username.isascii() and username.isprintable() and '"' not in username):
        return f"username={_quote(username)}"
    return "username*=UTF-8''" + urllib.parse.quote(username, safe="")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_authorization(
    challenge: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int = 1,
) -> str:
    """Answer a Digest challenge: the value of an Authorization header.

    Follows RFC 7616: MD5 and SHA-256 (and their ``-sess`` variants), ``qop``
    auth (auth-int with an empty body) or no qop (RFC 2069 compatibility),
    ``userhash`` and ``username*`` for names that are not plain ASCII.
    Raises MalformedError when the challenge is not Digest, has no nonce, or
    asks for an algorithm we do not implement.
    """
    if challenge.scheme.lower() != "digest":
        raise MalformedError("not a Digest challenge")
    params = challenge.params
    nonce = params.get("nonce")
    if not nonce:
        raise MalformedError("Digest challenge without a nonce")
    realm = params.get("realm", "")
    algorithm = params.get("algorithm", "MD5").strip().upper()
    session = algorithm.endswith("-SESS")
    digest = _HASHES.get(algorithm.removesuffix("-SESS"))
    if digest is None:
        raise MalformedError("unsupported Digest algorithm")

    def h(*parts: str) -> str:
        return digest(":".join(parts).encode("utf-8"))

    qop = _choose_qop(params.get("qop", ""))
    ha1 = h(username, realm, password)
    if session:
        ha1 = h(ha1, nonce, cnonce)
    ha2 = h(method, uri) if qop != "auth-int" else h(method, uri, digest(b""))
    count = f"{nc:08x}"
    response = h(ha1, nonce, count, cnonce, qop, ha2) if qop else h(ha1, nonce, ha2)

    userhash = params.get("userhash", "").lower() == "true"
    user_part = _user_field(h(username, realm) if userhash else username, hashed=userhash)
    parts = [
        user_part,
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"algorithm={params.get('algorithm', 'MD5').strip()}",
        f"response={_quote(response)}",
    ]
    if "opaque" in params:
        parts.append(f"opaque={_quote(params['opaque'])}")
    if qop:
        parts += [f"qop={qop}", f"nc={count}", f"cnonce={_quote(cnonce)}"]
    if userhash:
        parts.append("userhash=true")
    return "Digest " + ", ".join(parts)


def html_title(body: bytes) -> str | None:
    """Return the first ``<title>`` of an HTML page, cleaned, or None.

    No parser: a bounded search that copes with broken pages (attributes on
    the tag, a missing ``</title>``, upper case, entities), and only looks at
    the first limits.MAX_HTTP_BODY bytes.
    """
    lowered = body[:MAX_HTTP_BODY].lower()
    start = lowered.find(b"<title")
    while start >= 0:
        after = lowered[start + 6 : start + 7]
        if after in {b">", b" ", b"\t", b"\r", b"\n", b"/"}:
            break
        start = lowered.find(b"<title", start + 6)
    if start < 0:
        return None
    close = lowered.find(b">", start, start + MAX_TITLE_TAG)
    if close < 0:
        return None
    window = lowered[close + 1 : close + 1 + MAX_TITLE]
    end = window.find(b"</title")
    if end < 0:
        end = window.find(b"<")  # missing </title>: stop at the next tag
    if end < 0:
        end = len(window)
    raw = body[close + 1 : close + 1 + end]
    return clean_or_none(html.unescape(decode(raw)))


def parse_isapi_device_info(data: bytes) -> IsapiDeviceInfo:
    """Parse Hikvision ISAPI ``DeviceInfo`` XML (any namespace or none).

    Namespaces seen: http://www.hikvision.com/ver20/XMLSchema (and ver10),
    http://www.std-cgi.com/ver20/XMLSchema, http://www.isapi.org/ver20/XMLSchema.
    Raises OversizeError above MAX_ISAPI_XML, MalformedXmlError for bad XML
    and MalformedError when the root is not DeviceInfo (for example an
    ISAPI ``ResponseStatus`` or an HTML login page).
    """
    if len(data) > MAX_ISAPI_XML:
        raise OversizeError(f"ISAPI deviceInfo of {len(data)} bytes")
    root = _xml.parse(data, MAX_ISAPI_XML)
    if _xml.local(root.tag) != "DeviceInfo":
        raise MalformedError("ISAPI answer is not a DeviceInfo")

    def field(name: str) -> str | None:
        return clean_or_none(_xml.text(root, name))

    return IsapiDeviceInfo(
        name=field("deviceName"),
        device_id=field("deviceID"),
        model=field("model"),
        serial=field("serialNumber"),
        mac=normalise_mac(_xml.text(root, "macAddress")),
        firmware=field("firmwareVersion"),
        firmware_date=field("firmwareReleasedDate"),
        device_type=field("deviceType"),
        hardware=field("hardwareVersion"),
        manufacturer=field("manufacturer"),
        oem_code=field("OEMCode"),
    )


def parse_key_values(data: bytes) -> Mapping[str, str]:
    """Parse a Dahua-style CGI answer of ``key=value`` lines.

    The first value of a key wins; lines without ``=`` (``OK``, ``Error``) are
    skipped, and at most MAX_KEY_VALUE_LINES lines are read. Keys and values
    are cleaned. Raises OversizeError above MAX_KEY_VALUE_BYTES.
    """
    if len(data) > MAX_KEY_VALUE_BYTES:
        raise OversizeError(f"key=value answer of {len(data)} bytes")
    out: dict[str, str] = {}
    for line in decode(data).splitlines()[:MAX_KEY_VALUE_LINES]:
        key, sep, value = line.partition("=")
        name = clean(key, 128)
        if sep and name:
            out.setdefault(name, clean(value, 256))
    return types.MappingProxyType(out)
