"""The ``isolation:`` section of the agent's configuration, validated with voluptuous.

Example (every key optional; the section's presence turns isolation on)::

    isolation:
      default_backend: nftables        # dry-run (default), nftables or mikrotik
      default_mode: internet           # internet or quarantine
      never_isolate: [192.168.1.5, "aa:bb:cc:dd:ee:ff"]
      quarantine_allow: [192.168.20.5] # e.g. the recorder
      local_networks: [192.168.1.0/24] # default: the host's non-uplink networks
      rate_limit: {max: 10, period: 600}
      auto_isolate: {enabled: false, mode: internet, max_per_scan: 1}
      backends:
        nftables: {table: cctv_sentinel, family: inet}
        mikrotik:
          url: https://192.168.88.1
          username: sentinel
          password_file: /etc/cctv-sentinel/mikrotik
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit

import voluptuous as vol

from cctv_sentinel._util.secret import Secret
from cctv_sentinel._util.validation import first_error
from cctv_sentinel.errors import ConfigError
from cctv_sentinel.isolation.hostinfo import IPNetwork
from cctv_sentinel.isolation.model import MODES, Mode
from cctv_sentinel.isolation.protected import parse_entry

DRY_RUN: Final = "dry-run"
NFTABLES: Final = "nftables"
MIKROTIK: Final = "mikrotik"
REAL_BACKENDS: Final = (NFTABLES, MIKROTIK)

MAX_LIST: Final = 1024
"""Most entries in one configured address list."""

_TABLE_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_PREFIX_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class NftablesSettings:
    """Where and how the nftables backend writes its one table."""

    table: str = "cctv_sentinel"
    family: Literal["inet", "bridge"] = "inet"
    nft: str = "/usr/sbin/nft"
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class MikrotikSettings:
    """How to reach a RouterOS v7 router's REST API, and the names we use there."""

    url: str
    username: str
    password: Secret = field(repr=False)
    verify_tls: bool = True
    ca_file: str | None = None
    timeout: float = 10.0
    prefix: str = "cctv-sentinel"

    @property
    def base_url(self) -> str:
        """The REST root, always ending in ``/rest``."""
        base = self.url.rstrip("/")
        return base if base.endswith("/rest") else base + "/rest"


@dataclass(frozen=True, slots=True)
class IsolationSettings:
    """Validated isolation configuration."""

    default_backend: str = DRY_RUN
    default_mode: Mode = "internet"
    dry_run_of: str | None = None
    never_isolate: tuple[str, ...] = ()
    quarantine_allow: tuple[IPNetwork, ...] = ()
    local_networks: tuple[IPNetwork, ...] | None = None
    rate_max: int = 10
    rate_period: float = 600.0
    auto_enabled: bool = False
    auto_mode: Mode = "internet"
    auto_max_per_scan: int = 1
    max_isolations: int = 4096
    nftables: NftablesSettings | None = None
    mikrotik: MikrotikSettings | None = None

    @property
    def backend_names(self) -> list[str]:
        """Every usable backend, dry-run first."""
        names = [DRY_RUN]
        if self.nftables is not None:
            names.append(NFTABLES)
        if self.mikrotik is not None:
            names.append(MIKROTIK)
        return names


def _network(value: Any) -> IPNetwork:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise vol.Invalid(f"{value!r} is not an IP address or network") from None


def _allow_entry(value: Any) -> str:
    try:
        parse_entry(str(value))
    except ValueError as err:
        raise vol.Invalid(str(err)) from None
    return str(value)


def _url(value: Any) -> str:
    text = str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise vol.Invalid("expected an http:// or https:// URL of the router")
    if parts.username or parts.password:
        raise vol.Invalid(
            "put the user in 'username' and the password in password_file/password_env"
        )
    return text


def _regex(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise vol.Invalid(f"expected {what}")
        return value

    return check


_MODE = vol.In(MODES, msg="expected internet or quarantine")
_SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0.5, max=120))

_NFTABLES = vol.Schema(
    {
        vol.Optional("table", default="cctv_sentinel"): _regex(
            _TABLE_RE, "a table name of letters, digits and _"
        ),
        vol.Optional("family", default="inet"): vol.In(
            ("inet", "bridge"), msg="expected inet or bridge"
        ),
        vol.Optional("nft", default="/usr/sbin/nft"): str,
        vol.Optional("timeout", default=10.0): _SECONDS,
    }
)

_MIKROTIK = vol.Schema(
    {
        vol.Required("url"): _url,
        vol.Required("username"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("password_file"): str,
        vol.Optional("password_env"): str,
        vol.Optional("verify_tls", default=True): bool,
        vol.Optional("ca_file"): str,
        vol.Optional("timeout", default=10.0): _SECONDS,
        vol.Optional("prefix", default="cctv-sentinel"): _regex(
            _PREFIX_RE, "letters, digits, - and _"
        ),
    }
)

SCHEMA: Final = vol.Schema(
    {
        vol.Optional("default_backend", default=DRY_RUN): vol.In((DRY_RUN, *REAL_BACKENDS)),
        vol.Optional("default_mode", default="internet"): _MODE,
        vol.Optional("dry_run_of"): vol.In(REAL_BACKENDS),
        vol.Optional("never_isolate", default=list): vol.All(
            [_allow_entry], vol.Length(max=MAX_LIST)
        ),
        vol.Optional("quarantine_allow", default=list): vol.All(
            [_network], vol.Length(max=MAX_LIST)
        ),
        vol.Optional("local_networks"): vol.All([_network], vol.Length(min=1, max=MAX_LIST)),
        vol.Optional("rate_limit", default=dict): {
            vol.Optional("max", default=10): vol.All(int, vol.Range(min=1, max=10_000)),
            vol.Optional("period", default=600): vol.All(
                vol.Coerce(float), vol.Range(min=1, max=86_400)
            ),
        },
        vol.Optional("auto_isolate", default=dict): {
            vol.Optional("enabled", default=False): bool,
            vol.Optional("mode", default="internet"): _MODE,
            vol.Optional("max_per_scan", default=1): vol.All(int, vol.Range(min=1, max=1000)),
        },
        vol.Optional("max_isolations", default=4096): vol.All(int, vol.Range(min=1, max=65_536)),
        vol.Optional("backends", default=dict): {
            vol.Optional(NFTABLES): vol.Any(None, _NFTABLES),
            vol.Optional(MIKROTIK): _MIKROTIK,
        },
    }
)


def _password(raw: Mapping[str, Any], where: str) -> Secret:
    has_file, has_env = "password_file" in raw, "password_env" in raw
    if has_file == has_env:
        raise ConfigError(f"{where}: give exactly one of password_file, password_env")
    if has_env:
        name = raw["password_env"]
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(f"{where}.password_env: environment variable {name} is not set")
        return Secret(value)
    path = Path(raw["password_file"]).expanduser()
    try:
        return Secret(path.read_text(encoding="utf-8").rstrip("\r\n"))
    except OSError as err:
        raise ConfigError(f"{where}.password_file: cannot read {path}: {err.strerror}") from err


def settings_from_mapping(
    config: Mapping[str, Any] | None, where: str = "isolation"
) -> IsolationSettings:
    """Validate the ``isolation:`` mapping; raise ConfigError naming the key and the reason."""
    try:
        data = SCHEMA(dict(config or {}))
    except vol.Invalid as err:
        raise ConfigError(first_error(err, root=where)) from None
    backends = data["backends"]
    nft_raw = backends.get(NFTABLES, False)
    nftables = None
    if nft_raw is not False:
        nft = nft_raw if nft_raw is not None else _NFTABLES({})
        nftables = NftablesSettings(
            table=nft["table"], family=nft["family"], nft=nft["nft"], timeout=nft["timeout"]
        )
    mikrotik = None
    if MIKROTIK in backends:
        raw = backends[MIKROTIK]
        mikrotik = MikrotikSettings(
            url=raw["url"],
            username=raw["username"],
            password=_password(raw, f"{where}.backends.{MIKROTIK}"),
            verify_tls=raw["verify_tls"],
            ca_file=raw.get("ca_file"),
            timeout=raw["timeout"],
            prefix=raw["prefix"],
        )
    settings = IsolationSettings(
        default_backend=data["default_backend"],
        default_mode=cast(Mode, data["default_mode"]),
        dry_run_of=data.get("dry_run_of"),
        never_isolate=tuple(data["never_isolate"]),
        quarantine_allow=tuple(data["quarantine_allow"]),
        local_networks=tuple(data["local_networks"]) if "local_networks" in data else None,
        rate_max=data["rate_limit"]["max"],
        rate_period=data["rate_limit"]["period"],
        auto_enabled=data["auto_isolate"]["enabled"],
        auto_mode=cast(Mode, data["auto_isolate"]["mode"]),
        auto_max_per_scan=data["auto_isolate"]["max_per_scan"],
        max_isolations=data["max_isolations"],
        nftables=nftables,
        mikrotik=mikrotik,
    )
    for name in (settings.default_backend, settings.dry_run_of):
        if name is not None and name not in settings.backend_names:
            key = "default_backend" if name == settings.default_backend else "dry_run_of"
            raise ConfigError(
                f"{where}.{key}: backend {name!r} is not configured under {where}.backends"
            )
    return settings
