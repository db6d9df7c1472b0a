"""The user's policy: which regimes count, and their own allow and deny lists."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cctv_sentinel.errors import ConfigError
from cctv_sentinel.identify.catalogue import Catalogue, normalise_label
from cctv_sentinel.protocols.text import normalise_mac

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "Match",
    "Policy",
    "Rules",
    "check_policy",
    "policy_from_mapping",
]

DEFAULT_MIN_CONFIDENCE: Final = 0.5
"""Below this, evidence for a restricted maker makes a camera ``elevated``, not ``restricted``.

0.5 is what one self-declared label naming the maker reaches on its own, so a
camera that calls itself "HIKVISION" is restricted, while a guess from an OEM
brand alone (0.35) is not.
"""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Match:
    """Why a list rule applied to a camera."""

    listed: str
    """``allow`` or ``deny``."""
    by: str
    """``mac``, ``ip``, ``maker`` or ``brand``."""
    value: str


@dataclass(frozen=True, slots=True)
class Rules:
    """One allow or deny list: by maker id, brand label, MAC (or prefix), IP/CIDR."""

    makers: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    """Brand labels, normalised with :func:`normalise_label`."""
    macs: frozenset[str] = frozenset()
    """Full MACs (``aa:bb:cc:dd:ee:ff``) or prefixes (``aa:bb:cc``), lower case."""
    networks: tuple[Network, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.makers or self.brands or self.macs or self.networks)

    def match_address(self, ip: str | None, mac: str | None) -> tuple[str, str] | None:
        """``(by, value)`` when the device's MAC or IP is listed (the specific rules)."""
        if mac:
            norm = normalise_mac(mac)
            if norm:
                for listed in self.macs:
                    if norm == listed or norm.startswith(listed + ":"):
                        return ("mac", listed)
        if ip and self.networks:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                return None
            for net in self.networks:
                if addr.version == net.version and addr in net:
                    return ("ip", str(net))
        return None

    def match_identity(self, maker: str | None, brand: str | None) -> tuple[str, str] | None:
        """``(by, value)`` when the real maker or the brand label is listed."""
        if maker and maker in self.makers:
            return ("maker", maker)
        if brand:
            norm = normalise_label(brand)
            if norm in self.brands:
                return ("brand", brand)
        return None


@dataclass(frozen=True, slots=True)
class Policy:
    """Which regimes are enabled and the user's own allow and deny lists.

    ``enabled_regimes`` None means every regime in the catalogue. Address rules
    (MAC, IP) beat identity rules (maker, brand); at equal specificity deny wins,
    so "deny Hikvision, but allow this one camera by MAC" works.
    """

    enabled_regimes: frozenset[str] | None = None
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    elevated_alerts: bool = True
    """Whether ``elevated`` cameras raise alerts (the HA side reads this)."""
    allow: Rules = field(default_factory=Rules)
    deny: Rules = field(default_factory=Rules)

    def regime_enabled(self, regime_id: str) -> bool:
        """True when the regime counts under this policy."""
        return self.enabled_regimes is None or regime_id in self.enabled_regimes

    def listed(
        self, *, ip: str | None, mac: str | None, maker: str | None, brand: str | None
    ) -> Match | None:
        """The allow/deny rule that decides this device, if any."""
        for rules_name, rules in (("deny", self.deny), ("allow", self.allow)):
            hit = rules.match_address(ip, mac)
            if hit:
                return Match(rules_name, *hit)
        for rules_name, rules in (("deny", self.deny), ("allow", self.allow)):
            hit = rules.match_identity(maker, brand)
            if hit:
                return Match(rules_name, *hit)
        return None


_POLICY_KEYS: Final = frozenset({"regimes", "min_confidence", "elevated_alerts", "allow", "deny"})
_RULE_KEYS: Final = frozenset({"makers", "brands", "macs", "ips"})


def _strings(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"policy: {key} must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _mac_rule(value: str, key: str) -> str:
    full = normalise_mac(value)
    if full:
        return full
    digits = "".join(ch for ch in value if ch not in ":-. ").lower()
    if len(digits) == 6 and all(c in "0123456789abcdef" for c in digits):
        return ":".join(digits[i : i + 2] for i in range(0, 6, 2))
    raise ConfigError(f"policy: {key} entry {value!r} is not a MAC address or a 3-byte prefix")


def _rules(data: Any, key: str) -> Rules:
    if data is None:
        return Rules()
    if not isinstance(data, Mapping):
        raise ConfigError(f"policy: {key} must be a mapping of makers/brands/macs/ips")
    unknown = sorted(str(k) for k in data if k not in _RULE_KEYS)
    if unknown:
        raise ConfigError(f"policy: unknown key {key}.{unknown[0]}")
    networks: list[Network] = []
    for raw in _strings(data.get("ips"), f"{key}.ips"):
        try:
            networks.append(ipaddress.ip_network(raw, strict=False))
        except ValueError as err:
            raise ConfigError(
                f"policy: {key}.ips entry {raw!r} is not an IP address or CIDR"
            ) from err
    return Rules(
        makers=frozenset(m.lower() for m in _strings(data.get("makers"), f"{key}.makers")),
        brands=frozenset(normalise_label(b) for b in _strings(data.get("brands"), f"{key}.brands"))
        - {""},
        macs=frozenset(
            _mac_rule(m, f"{key}.macs") for m in _strings(data.get("macs"), f"{key}.macs")
        ),
        networks=tuple(networks),
    )


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """Build a Policy from configuration data; raise ConfigError naming the bad key.

    Keys: ``regimes`` (list of ids, or ``all``), ``min_confidence`` (0..1),
    ``elevated_alerts`` (bool), ``allow`` and ``deny`` (each with ``makers``,
    ``brands``, ``macs``, ``ips``).
    """
    if not isinstance(data, Mapping):
        raise ConfigError("policy: must be a mapping")
    unknown = sorted(str(k) for k in data if k not in _POLICY_KEYS)
    if unknown:
        raise ConfigError(f"policy: unknown key {unknown[0]}")
    raw_regimes = data.get("regimes", "all")
    enabled: frozenset[str] | None
    if raw_regimes is None or raw_regimes == "all":
        enabled = None
    else:
        enabled = frozenset(_strings(raw_regimes, "regimes"))
    min_conf = data.get("min_confidence", DEFAULT_MIN_CONFIDENCE)
    if (
        isinstance(min_conf, bool)
        or not isinstance(min_conf, int | float)
        or not 0 <= min_conf <= 1
    ):
        raise ConfigError("policy: min_confidence must be a number within 0..1")
    alerts = data.get("elevated_alerts", True)
    if not isinstance(alerts, bool):
        raise ConfigError("policy: elevated_alerts must be true or false")
    return Policy(
        enabled_regimes=enabled,
        min_confidence=float(min_conf),
        elevated_alerts=alerts,
        allow=_rules(data.get("allow"), "allow"),
        deny=_rules(data.get("deny"), "deny"),
    )


def check_policy(policy: Policy, catalogue: Catalogue) -> None:
    """Raise ConfigError when the policy names regimes or makers the catalogue lacks."""
    if policy.enabled_regimes is not None:
        for regime in sorted(policy.enabled_regimes):
            if regime not in catalogue.regimes:
                known = ", ".join(sorted(catalogue.regimes))
                raise ConfigError(f"policy: regimes: unknown regime {regime!r} (known: {known})")
    for key, rules in (("allow", policy.allow), ("deny", policy.deny)):
        for maker in sorted(rules.makers):
            if maker not in catalogue.vendors:
                raise ConfigError(f"policy: {key}.makers: unknown maker {maker!r}")


def _iter_ids(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)
