"""Sanitising of device-supplied strings before they reach a terminal, log or MQTT."""

from __future__ import annotations

import ipaddress
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
    if (
        len(text) <= max_len
        and text.isascii()
        and text.isprintable()
        and "  " not in text
        and text == text.strip()
    ):
        return text  # the common case, already clean: printable ASCII, single spaces
    if len(text) > max_len * 8:
        # Bound the work below for absurd inputs; the cut happens again later.
        text = text[: max_len * 8]
    text = _WHITESPACE.sub(" ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROP_CATEGORIES).strip()
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


_TRUE = frozenset({"true", "1", "yes", "on", "enable", "enabled"})
_FALSE = frozenset({"false", "0", "no", "off", "disable", "disabled"})


def parse_bool(raw: str | None) -> bool | None:
    """Read a device boolean (``true``/``false`` in any case, ``1``/``0``...).

    Anything else, including typos firmware really sends (``flase``), is None.
    """
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_int(raw: str | None, *, minimum: int, maximum: int) -> int | None:
    """Read a decimal integer within ``[minimum, maximum]``, or return None.

    Only ASCII digits with an optional sign are accepted (``int()`` alone would
    also take ``1_000`` and non-ASCII digits), and at most 20 of them, so a
    hostile value cannot make the conversion slow.
    """
    if raw is None:
        return None
    value = raw.strip()
    digits = value[1:] if value[:1] in {"+", "-"} else value
    if not digits or len(digits) > 20 or not (digits.isascii() and digits.isdigit()):
        return None
    number = int(value)
    if not minimum <= number <= maximum:
        return None
    return number


def tokens(raw: str | None, max_items: int, max_len: int = MAX_LABEL) -> tuple[str, ...]:
    """Split a whitespace-separated device list into cleaned, non-empty items.

    At most ``max_items`` are kept; the work is bounded by the input size,
    which every caller has already capped.
    """
    if not raw:
        return ()
    out: list[str] = []
    for item in raw.split():
        cleaned = clean(item, max_len)
        if cleaned:
            out.append(cleaned)
            if len(out) >= max_items:
                break
    return tuple(out)


def parse_ipv4(raw: str | None) -> str | None:
    """Return a dotted-quad IPv4 address, or None.

    ``0.0.0.0`` is None too: devices report it when no address is configured.
    """
    if raw is None or len(raw) > 64:
        return None
    try:
        address = ipaddress.IPv4Address(raw.strip())
    except ValueError:
        return None
    return None if address.is_unspecified else str(address)


def parse_ipv6(raw: str | None) -> str | None:
    """Return an IPv6 address (a ``/prefix`` suffix is dropped), or None.

    ``::`` is None, as devices report it when IPv6 is off.
    """
    if raw is None or len(raw) > 128:
        return None
    try:
        address = ipaddress.IPv6Address(raw.strip().split("/", 1)[0])
    except ValueError:
        return None
    return None if address.is_unspecified else str(address)
