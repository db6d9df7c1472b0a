"""What every message of the MQTT contract (docs/mqtt.md) shares: version, limits, string rules.

Pure: no sockets, no paho, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from cctv_sentinel.limits import MAX_LABEL
from cctv_sentinel.protocols.text import clean as _clean_slow

SCHEMA_VERSION: Final = 1
"""Bumped only when a field changes meaning or disappears (docs/mqtt.md)."""

DEFAULT_BASE_TOPIC: Final = "cctv_sentinel"

AGENT_ID_RE: Final = re.compile(r"^[a-z0-9_-]{1,64}$")
CAMERA_ID_RE: Final = re.compile(
    r"^(?:[0-9a-f]{12}|uuid-[0-9a-z-]{1,64}|sn-[0-9a-f]{1,40}|ip-[0-9a-f-]{7,45})$"
)
MAX_BASE_TOPIC: Final = 128
"""Longest base topic accepted; MQTT allows 64 KiB, brokers and people prefer short ones."""

MAX_COMMAND_BYTES: Final = 16 * 1024
"""A command is a few hundred bytes; anything larger is refused before parsing."""

MAX_EVIDENCE_VALUE: Final = 256
"""Evidence values may be longer than labels (docs/mqtt.md: up to 256 characters)."""

MAX_MESSAGE: Final = 256
"""Longest command-result message and reason echoed back."""

ONLINE: Final = b"online"
OFFLINE: Final = b"offline"

EventType = Literal[
    "camera_found",
    "camera_changed",
    "camera_missing",
    "camera_gone",
    "restricted_detected",
    "restricted_cleared",
    "isolation_applied",
    "isolation_released",
    "isolation_failed",
    "scan_started",
    "scan_finished",
]
CommandName = Literal["rescan", "isolate", "release"]
ResultStatus = Literal["ok", "accepted", "error", "refused", "not_configured"]
RequesterSource = Literal["home_assistant", "cli", "mqtt"]

COMMANDS: Final[tuple[CommandName, ...]] = ("rescan", "isolate", "release")
MODES: Final = ("internet", "quarantine")
CHANGE_FIELDS: Final = ("ip", "firmware", "brand", "manufacturer", "model", "risk")
"""Fields a ``camera_changed`` event reports (docs/mqtt.md, Event)."""


# --------------------------------------------------------------------------- helpers


def clean(raw: str | bytes | None, max_len: int = MAX_LABEL) -> str:
    """:func:`protocols.text.clean`, with a fast path for text that is already clean.

    Most strings reaching the wire were cleaned by the parsers; checking that
    with ``str.isprintable`` (C speed) and returning them as they are keeps
    payload building cheap. A printable string's only whitespace is the ASCII
    space, so no runs of spaces and no spaces at the ends means nothing to do.
    """
    if (
        isinstance(raw, str)
        and len(raw) <= max_len
        and raw.isprintable()
        and "  " not in raw
        and raw == raw.strip()
    ):
        return raw
    return _clean_slow(raw, max_len)


_MARKUP: Final = str.maketrans("|", " ", "[]<>*`\\~")
"""Links, HTML, code, emphasis, strike-through: their characters go; a table's pipe is a space."""
_MARKUP_CHARS: Final = frozenset("[]<>*`|\\~")
"""The characters :data:`_MARKUP` removes or replaces: their presence is what makes it run."""
_EDGE_UNDERSCORE: Final = re.compile(r"(?<!\w)_+|_+(?!\w)")
"""Underscores that could open or close emphasis (inside a word, as in IPC_HFW, they cannot)."""
_SCHEME: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}):/{2,}")
"""``scheme://``, which Markdown renderers turn into a link (GFM autolinks)."""
_WWW: Final = re.compile(r"(?i)\bwww\.")
_ENTITY: Final = re.compile(r"&(?=#?[0-9A-Za-z]{1,32};)")
"""``&name;`` and ``&#x202E;``: HTML entities that a renderer would decode (even into bidi)."""
_SPACES: Final = re.compile(r" {2,}")


def plain(raw: str | bytes | None, max_len: int = MAX_LABEL) -> str:
    """A device string as the contract publishes it: plain text, whatever renders it.

    :func:`clean` first (no control, bidi or format characters; one line;
    bounded), then no Markdown or HTML meaning survives: brackets, angle
    brackets, backticks, asterisks, tildes and backslashes are removed, pipes become spaces,
    underscores only where they could start or end emphasis, ``scheme://``
    becomes ``scheme:`` followed by a space, ``www.`` becomes ``www`` and a
    space, and ``&`` before an entity gets a space. Letters, digits, dots,
    dashes, slashes and parentheses (all of a model or firmware name) stay.
    """
    text = clean(raw, max_len)
    # Each step runs only when what it rewrites is present (most device strings
    # hold none of it, and "OUI BC:AD:28 (… Co.,Ltd.)" only a colon); each test
    # looks at the text as the step before left it, so the result is exactly
    # that of running every step.
    if not _MARKUP_CHARS.isdisjoint(text):
        text = text.translate(_MARKUP)
    if "_" in text:
        text = _EDGE_UNDERSCORE.sub("", text)
    if "://" in text:
        text = _SCHEME.sub(r"\1: ", text)
    if "www." in text.lower():
        text = _WWW.sub("www ", text)
    if "&" in text:
        text = _ENTITY.sub("& ", text)
    if "  " in text:
        text = _SPACES.sub(" ", text)
    return text.strip()


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialise a payload: compact UTF-8 JSON, keys in build order (stable for diffing)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def label(value: str | None, max_len: int = MAX_LABEL) -> str | None:
    """A device string as the contract allows it: :func:`plain` text, bounded, or None."""
    if value is None:
        return None
    return plain(value, max_len) or None


def mask_serial(serial: str | None, publish_serials: bool) -> str | None:
    """The serial as published: only its last 4 characters unless the user opted in."""
    text = plain(serial, MAX_LABEL)
    if not text:
        return None
    if publish_serials:
        return text
    return "\u2026" + text[-4:]


def valid_base_topic(base: str) -> bool:
    """True for a usable base topic: no wildcards, no empty levels at the ends, bounded."""
    return (
        0 < len(base) <= MAX_BASE_TOPIC
        and "#" not in base
        and "+" not in base
        and "\x00" not in base
        and not base.startswith("/")
        and not base.endswith("/")
        and "//" not in base
    )


_UNSAFE_ID = re.compile(r"[^a-z0-9_-]+")


def safe_agent_id(text: str) -> str:
    """An agent id from free text (such as the host's name), as ``[a-z0-9_-]{1,64}``."""
    raw = text.lower()
    safe = _UNSAFE_ID.sub("-", raw).strip("-")[:64].strip("-")
    return safe or "agent"
