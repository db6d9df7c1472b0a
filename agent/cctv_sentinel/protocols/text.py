"""Sanitising of device-supplied strings before they reach a terminal, log or MQTT."""

from __future__ import annotations

import re
import unicodedata

from cctv_sentinel.limits import MAX_LABEL

_WHITESPACE = re.compile(r"\s+")

# Unicode categories that can move a cursor, hide text or reorder it on a
# terminal: controls (Cc), format characters incl. bidi overrides (Cf),
# surrogates (Cs), private use (Co) and unassigned (Cn).
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def decode(raw: bytes | str) -> str:
    """Decode device bytes as UTF-8, falling back to Latin-1; never raises."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def clean(raw: bytes | str | None, max_len: int = MAX_LABEL) -> str:
    """Return a printable, single-line, bounded version of a device string.

    Control and formatting characters (ANSI escapes, bidi overrides, NULs) are
    removed, runs of whitespace become one space, and the result is cut to
    ``max_len`` characters with a trailing ellipsis when it was longer.
    """
    if raw is None:
        return ""
    text = decode(raw)
    if len(text) > max_len * 8:
        # Bound the work below for absurd inputs; the cut happens again later.
        text = text[: max_len * 8]
    text = _WHITESPACE.sub(" ", text)
    text = "".join(
        ch for ch in text if unicodedata.category(ch) not in _DROP_CATEGORIES
    ).strip()
    if len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "\u2026"
    return text


def clean_or_none(raw: bytes | str | None, max_len: int = MAX_LABEL) -> str | None:
    """Like :func:`clean`, but return None for missing or empty results."""
    text = clean(raw, max_len)
    return text or None


_MAC_HEX = re.compile(r"[0-9A-Fa-f]{2}")


def normalise_mac(raw: str | None) -> str | None:
    """Return a MAC as ``aa:bb:cc:dd:ee:ff``, or None when it is not one.

    Accepts colons, dashes, dots (``aabb.ccdd.eeff``) or bare hex. All-zero
    and broadcast addresses are rejected because devices report them when the
    real address is unknown.
    """
    if not raw:
        return None
    hexdigits = re.sub(r"[^0-9A-Fa-f]", "", raw)
    if len(hexdigits) != 12 or len(raw) > 32:
        return None
    mac = ":".join(_MAC_HEX.findall(hexdigits.lower()))
    if mac in {"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"}:
        return None
    return mac
