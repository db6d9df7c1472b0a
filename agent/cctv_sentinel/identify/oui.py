"""MAC address → IEEE registrant, through the registry netaddr ships offline.

We never hand-write OUI tables: netaddr bundles the IEEE MA-L (``oui.txt``)
and IAB registries, and the catalogue maps the organisation names exactly as
the registry spells them to makers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cctv_sentinel.protocols.text import normalise_mac

__all__ = ["OuiRecord", "lookup"]


@dataclass(frozen=True, slots=True)
class OuiRecord:
    """Who the IEEE says a MAC prefix belongs to."""

    prefix: str
    """The assigned prefix as ``44:19:B6`` (MA-L) or ``00:50:C2:12:3`` (IAB)."""
    org: str
    """The organisation name exactly as the registry spells it."""


def _locally_administered(mac: str) -> bool:
    # Bit 1 of the first octet: randomised or self-assigned, never in the registry.
    return bool(int(mac[:2], 16) & 0x02)


_RA = "ieee registration authority"


@functools.cache
def _iab_blocks() -> frozenset[str]:
    """The MA-L blocks the IEEE subdivided into IABs (36-bit assignments), as ``00:50:c2``."""
    from netaddr.eui import IAB  # noqa: PLC0415  (lazy, as in _by_prefix)

    return frozenset(":".join(f"{v:06x}"[i : i + 2] for i in (0, 2, 4)) for v in IAB.IAB_EUI_VALUES)


@functools.lru_cache(maxsize=4096)
def _by_prefix(mac: str) -> OuiRecord | None:
    # Lazy: netaddr's import and registry index cost ~40 ms, paid only once a MAC is looked up.
    from netaddr import EUI, NotRegisteredError  # noqa: PLC0415  (lazy, see above)
    from netaddr.core import AddrFormatError  # noqa: PLC0415  (lazy, see above)

    try:
        eui = EUI(mac)
    except (AddrFormatError, ValueError, TypeError):
        return None
    if eui.is_iab():
        try:
            reg = eui.iab.registration()
        except (NotRegisteredError, IndexError, KeyError, ValueError):
            return None
        hexdigits = mac.replace(":", "").upper()[:9]
        prefix = ":".join(hexdigits[i : i + 2] for i in range(0, 9, 2))
        return OuiRecord(prefix=prefix, org=str(reg.org).strip())
    try:
        org = str(eui.oui.registration().org).strip()
    except (NotRegisteredError, IndexError, KeyError, ValueError):
        return None
    if org.casefold() == _RA:
        # An MA-M/MA-S block: the real registrant is in a registry netaddr lacks.
        return None
    return OuiRecord(prefix=":".join(mac.upper().split(":")[:3]), org=org)


def lookup(mac: str | None) -> OuiRecord | None:
    """The IEEE registrant of ``mac``, or None (unknown, malformed, or randomised)."""
    norm = normalise_mac(mac)
    if norm is None or _locally_administered(norm):
        return None
    # Look up (and cache) the assignment, not the address: every camera of a
    # maker's OUI shares one entry. An IAB is 36 bits, the rest of MA-L 24.
    block = norm[:8]
    if block in _iab_blocks():
        return _by_prefix(norm[:13] + "0:00")
    return _by_prefix(block + ":00:00:00")
