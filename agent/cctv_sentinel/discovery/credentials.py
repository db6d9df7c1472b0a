"""Camera credentials: loaded from a file, matched per host, never shown.

File format (YAML), all keys optional::

    default:                      # tried on every host without a more specific entry
      username: admin
      password_env: CAM_PASSWORD  # or password_file: /run/secrets/cam, or password: ...
    hosts:
      - match: 198.18.0.21        # an IP, a CIDR or a MAC address
        username: admin
        password_file: /etc/cctv-sentinel/cam21.secret
      - match: 198.18.0.40        # one address or MAC only:
        basic_over_http: true     # this old camera knows only Basic, on plain HTTP
        username: admin
        password_env: CAM40_PASSWORD

The password never appears in ``repr``, logs, output, MQTT or diagnostics.
Where and how it may be sent is decided in :mod:`.credential_policy`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cctv_sentinel._util.files import load_yaml
from cctv_sentinel._util.secret import Secret
from cctv_sentinel.errors import ConfigError
from cctv_sentinel.protocols.text import normalise_mac

_SECRET_KEYS = frozenset({"username", "password", "password_env", "password_file"})
_HOST_KEYS = _SECRET_KEYS | {"match", "basic_over_http"}
MAX_CREDENTIALS_FILE = 1024 * 1024
"""A credentials file larger than 1 MiB is a mistake, not a list of cameras."""


@dataclass(frozen=True, slots=True)
class Credential:
    """A username and its password, and what the file says about the host it is for."""

    username: str
    password: Secret
    named_host: bool = False
    """The file names this very host (one address or one MAC), not a range or the default."""
    basic_over_http: bool = False
    """The user allows Basic (the password itself) over plain HTTP to this named host."""


@dataclass(frozen=True, slots=True)
class _Rule:
    network: ipaddress.IPv4Network | None
    mac: str | None
    credential: Credential

    def matches(self, ip: str, mac: str | None) -> bool:
        if self.mac is not None:
            return mac == self.mac
        assert self.network is not None
        try:
            return ipaddress.IPv4Address(ip) in self.network
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class Credentials:
    """Credentials to try, by host; empty means "probe without credentials"."""

    default: Credential | None = None
    rules: tuple[_Rule, ...] = field(default=())

    def for_host(self, ip: str, mac: str | None = None) -> Credential | None:
        """Return the most specific credential for a host (MAC, then longest prefix)."""
        best: _Rule | None = None
        for rule in self.rules:
            if not rule.matches(ip, mac):
                continue
            if rule.mac is not None:
                return rule.credential
            if best is None or (
                best.network is not None
                and rule.network is not None
                and rule.network.prefixlen > best.network.prefixlen
            ):
                best = rule
        return best.credential if best is not None else self.default

    @property
    def empty(self) -> bool:
        """True when no credential was configured."""
        return self.default is None and not self.rules


def _password(entry: Mapping[str, Any], where: str, base: Path) -> Secret:
    sources = [k for k in ("password", "password_env", "password_file") if k in entry]
    if len(sources) != 1:
        raise ConfigError(f"{where}: give exactly one of password, password_env, password_file")
    key = sources[0]
    value = entry[key]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: must be a non-empty string")
    if key == "password":
        return Secret(value)
    if key == "password_env":
        env = os.environ.get(value)
        if env is None:
            raise ConfigError(f"{where}.password_env: environment variable {value} is not set")
        return Secret(env)
    path = (base / value).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{where}.password_file: cannot read {path}: {err.strerror}") from err
    return Secret(text.rstrip("\r\n"))


def _credential(entry: Any, where: str, base: Path, *, allow_match: bool) -> Credential:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: must be a mapping with username and password")
    allowed = _HOST_KEYS if allow_match else _SECRET_KEYS
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    username = entry.get("username")
    if not isinstance(username, str) or not username:
        raise ConfigError(f"{where}.username: must be a non-empty string")
    return Credential(username=username, password=_password(entry, where, base))


def _rule(entry: Any, where: str, base: Path) -> _Rule:
    credential = _credential(entry, where, base, allow_match=True)
    match = entry.get("match")
    if not isinstance(match, str) or not match:
        raise ConfigError(f"{where}.match: must be an IP address, a CIDR or a MAC address")
    basic = entry.get("basic_over_http", False)
    if not isinstance(basic, bool):
        raise ConfigError(f"{where}.basic_over_http: must be true or false")
    mac = normalise_mac(match) if ":" in match or "-" in match else None
    network = None
    if mac is None:
        try:
            network = ipaddress.IPv4Network(match, strict=False)
        except ValueError as err:
            raise ConfigError(
                f"{where}.match: {match!r} is not an IPv4 address, CIDR or MAC"
            ) from err
    named = mac is not None or (network is not None and network.num_addresses == 1)
    if basic and not named:
        raise ConfigError(
            f"{where}.basic_over_http: allowed only for one named host (one address or MAC),"
            f" not the range {match}"
        )
    credential = replace(credential, named_host=named, basic_over_http=basic)
    return _Rule(network=network, mac=mac, credential=credential)


def credentials_from_mapping(data: Any, base: Path | None = None) -> Credentials:
    """Build credentials from parsed YAML; raise ConfigError naming the bad key."""
    base = base or Path.cwd()
    if data is None:
        return Credentials()
    if not isinstance(data, Mapping):
        raise ConfigError("credentials: the file must hold a mapping with 'default' and/or 'hosts'")
    unknown = sorted(set(data) - {"default", "hosts"})
    if unknown:
        raise ConfigError(f"credentials: unknown key {unknown[0]!r}")
    default = None
    if data.get("default") is not None:
        default = _credential(data["default"], "default", base, allow_match=False)
    hosts = data.get("hosts") or []
    if not isinstance(hosts, list):
        raise ConfigError("hosts: must be a list")
    rules = tuple(_rule(entry, f"hosts[{i}]", base) for i, entry in enumerate(hosts))
    return Credentials(default=default, rules=rules)


def load_credentials(path: Path) -> Credentials:
    """Read a credentials file; raise ConfigError with one clear line when it is wrong."""
    data = load_yaml(path, what="credentials file", max_bytes=MAX_CREDENTIALS_FILE)
    return credentials_from_mapping(data, path.parent)
