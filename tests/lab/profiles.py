"""Device profiles (tests/fixtures/devices/*.json): load, validate, clone.

The format is the contract in /work/brief/profile-schema.md. This module uses
the standard library only, so the emulator (one small process per device) can
import it cheaply.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEVICES_DIR",
    "HOSTILE_DIR",
    "HOSTILE_MODES",
    "KINDS",
    "PLACEHOLDERS",
    "Network",
    "Profile",
    "ProfileError",
    "Truth",
    "clone",
    "from_raw",
    "load_corpus",
    "load_profile",
    "placeholder_values",
    "substitute",
    "validate",
    "validate_corpus",
]

DEVICES_DIR: Final = Path(__file__).resolve().parents[1] / "fixtures" / "devices"
"""The honest corpus: one JSON file per device."""

HOSTILE_DIR: Final = DEVICES_DIR / "hostile"
"""Hostile devices (same format plus a ``hostile`` block); not in the corpus."""

KINDS: Final = ("camera", "recorder", "non-camera")
"""Vocabulary of ``truth.kind``."""

PLACEHOLDERS: Final = (
    "ip",
    "mac",
    "MAC",
    "mac_dash",
    "MAC_DASH",
    "mac_bare",
    "MAC_BARE",
    "serial",
)
"""Names substituted as ``{name}`` in every string of a profile."""

HOSTILE_MODES: Final = (
    "wsd_xml_bomb",
    "wsd_oversize",
    "onvif_xml_bomb",
    "http_huge_body",
    "http_slow",
    "rtsp_slow",
    "sadp_malformed",
    "dhip_malformed",
    "mdns_loop",
    "udp_flood",
)
"""Keys of the ``hostile`` block."""

LAN: Final = ipaddress.IPv4Network("198.18.0.0/24")
ROUTED_LAN: Final = ipaddress.IPv4Network("198.18.1.0/24")
BENCH_RANGE: Final = ipaddress.IPv4Network("198.18.0.0/15")
# Host numbers on the LAN: .1 router, .2 scanner, .3-.9 reserved (profile-schema.md);
# honest devices .10-.200, hostile ones .201-.230 (emulator brief).
HONEST_HOSTS: Final = range(10, 201)
HOSTILE_HOSTS: Final = range(201, 231)

_ID_RE: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SLUG_RE: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MAC_RE: Final = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_PLACEHOLDER_RE: Final = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_BRACED_WORD_RE: Final = re.compile(r"\{([A-Za-z_]+)\}")
_SERVICE_TYPE_RE: Final = re.compile(r"^_[A-Za-z0-9-]{1,15}\._(?:tcp|udp)$")
_HEX_RE: Final = re.compile(r"^(?:[0-9a-fA-F]{2})*$")
_HEADER_NAME_RE: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class ProfileError(ValueError):
    """A profile file that cannot be loaded; ``errors`` lists every problem."""

    def __init__(self, where: str, errors: list[str]) -> None:
        super().__init__(f"{where}: " + "; ".join(errors))
        self.where = where
        self.errors = errors


@dataclass(frozen=True)
class Truth:
    """Ground truth about a device, compared with what the agent reports."""

    kind: str
    manufacturer: str | None
    brand: str | None
    model: str | None
    restricted: bool


@dataclass(frozen=True)
class Network:
    """Where the LAN fixture puts the device."""

    ip: str
    mac: str
    routed: bool = False
    ipv6: str | None = None


@dataclass(frozen=True)
class Profile:
    """One emulated device: typed head fields plus the full substituted dict."""

    id: str
    description: str
    truth: Truth
    network: Network
    serial: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    """The profile with every placeholder substituted, as the emulator plays it."""
    template: dict[str, Any] = field(repr=False, compare=False)
    """The profile as written, placeholders intact (clones start from this)."""
    path: Path | None = field(default=None, compare=False)

    @property
    def hostile(self) -> Mapping[str, Any]:
        """The hostile block, empty for honest devices."""
        block = self.raw.get("hostile")
        return block if isinstance(block, dict) else {}

    @property
    def is_hostile(self) -> bool:
        """Whether the profile has any hostile mode switched on."""
        return any(self.hostile.values())

    def service(self, name: str) -> Any:
        """The block of one service (``wsd``, ``sadp``, ...), or None when off."""
        return self.raw.get(name)

    @property
    def tcp_ports(self) -> tuple[int, ...]:
        """Every TCP port the emulator listens on, sorted (ground truth for sweeps)."""
        return tuple(sorted(_tcp_ports(self.raw)))

    @property
    def udp_ports(self) -> tuple[int, ...]:
        """Every UDP port the emulator answers on, sorted."""
        if self.raw.get("udp_silent"):
            return ()
        ports = {port for key, port in _UDP_SERVICES.items() if self.raw.get(key)}
        return tuple(sorted(ports))

    def dumps(self) -> str:
        """The substituted profile as JSON text (what :meth:`write` stores)."""
        return json.dumps(self.raw, indent=2, ensure_ascii=False) + "\n"

    def write(self, directory: Path) -> Path:
        """Write the substituted profile to ``directory/<id>.json`` and return the path.

        Clones exist only in memory; the emulator needs a file.
        """
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{self.id}.json"
        target.write_text(self.dumps(), encoding="utf-8")
        return target


_UDP_SERVICES: Final = {
    "wsd": 3702,
    "sadp": 37020,
    "dhip": 37810,
    "ssdp": 1900,
    "mdns": 5353,
}


def _tcp_ports(raw: Mapping[str, Any]) -> set[int]:
    ports: set[int] = set()
    for server in raw.get("http") or []:
        if isinstance(server, dict) and isinstance(server.get("port"), int):
            ports.add(server["port"])
    rtsp = raw.get("rtsp")
    if isinstance(rtsp, dict) and isinstance(rtsp.get("port"), int):
        ports.add(rtsp["port"])
    for entry in raw.get("tcp") or []:
        if isinstance(entry, dict) and isinstance(entry.get("port"), int):
            ports.add(entry["port"])
    ssdp = raw.get("ssdp")
    if isinstance(ssdp, dict) and isinstance(ssdp.get("location_port"), int):
        ports.add(ssdp["location_port"])
    hostile = raw.get("hostile")
    if isinstance(hostile, dict):
        for key in ("http_slow", "rtsp_slow"):
            slow = hostile.get(key)
            if isinstance(slow, dict) and isinstance(slow.get("port"), int):
                ports.add(slow["port"])
    return ports


# --- placeholders ----------------------------------------------------------------


def placeholder_values(ip: str, mac: str, serial: str | None) -> dict[str, str]:
    """The value of every placeholder for one device address."""
    lower = mac.lower()
    values = {
        "ip": ip,
        "mac": lower,
        "MAC": lower.upper(),
        "mac_dash": lower.replace(":", "-"),
        "MAC_DASH": lower.replace(":", "-").upper(),
        "mac_bare": lower.replace(":", ""),
        "MAC_BARE": lower.replace(":", "").upper(),
    }
    if serial is not None:
        # A serial may itself be built from the address ("ABC{MAC_BARE}").
        values["serial"] = _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), serial)
    return values


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    """Return a deep copy of ``value`` with ``{name}`` placeholders replaced.

    Keys are substituted too. Unknown ``{words}`` are left alone: bodies may
    legitimately contain braces (JSON, CSS).
    """

    def text(s: str) -> str:
        return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), s)

    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(k): substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value


def _strings(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.<key>", str(k)
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


# --- validation --------------------------------------------------------------------

_Check = Callable[[Any, str, list[str]], None]


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _is_str(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str):
        errors.append(f"{path}: expected a string, got {_type_name(value)}")


def _is_nonempty_str(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{path}: expected a non-empty string")


def _is_bool(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, bool):
        errors.append(f"{path}: expected true or false, got {_type_name(value)}")


def _is_int(value: Any, path: str, errors: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"{path}: expected an integer, got {_type_name(value)}")


def _is_port(value: Any, path: str, errors: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        errors.append(f"{path}: expected a TCP/UDP port 1-65535, got {value!r}")


def _is_status(value: Any, path: str, errors: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value < 600:
        errors.append(f"{path}: expected an HTTP status 100-599, got {value!r}")


def _is_path(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not value.startswith("/"):
        errors.append(f"{path}: expected a path starting with '/', got {value!r}")


def _is_hex(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not _HEX_RE.match(value):
        errors.append(f"{path}: expected an even number of hex digits")


def _is_json(value: Any, path: str, errors: list[str]) -> None:
    """Any JSON value (already guaranteed by json.load); nothing to check."""


def _nullable(check: _Check) -> _Check:
    def run(value: Any, path: str, errors: list[str]) -> None:
        if value is not None:
            check(value, path, errors)

    return run


def _one_of(*choices: Any) -> _Check:
    def run(value: Any, path: str, errors: list[str]) -> None:
        if value not in choices:
            wanted = " | ".join(json.dumps(c) for c in choices)
            errors.append(f"{path}: {value!r} is not one of {wanted}")

    return run


def _list_of(check: _Check, *, min_items: int = 0) -> _Check:
    def run(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {_type_name(value)}")
            return
        if len(value) < min_items:
            errors.append(f"{path}: needs at least {min_items} item(s)")
        for i, item in enumerate(value):
            check(item, f"{path}[{i}]", errors)

    return run


def _dict_of(check: _Check, *, key: _Check = _is_str) -> _Check:
    def run(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object, got {_type_name(value)}")
            return
        for k, v in value.items():
            key(k, f"{path} key {k!r}", errors)
            check(v, f"{path}.{k}", errors)

    return run


def _header_name(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not _HEADER_NAME_RE.match(value):
        errors.append(f"{path}: not a valid header name")


def _header_value(value: Any, path: str, errors: list[str]) -> None:
    # CR/LF in a header value would let a profile forge extra headers by accident.
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        errors.append(f"{path}: expected a one-line string")


_HEADERS: Final = _dict_of(_header_value, key=_header_name)


@dataclass(frozen=True)
class _Key:
    check: _Check
    required: bool = False


def _obj(spec: Mapping[str, _Key]) -> _Check:
    def run(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object, got {_type_name(value)}")
            return
        for name, key in spec.items():
            if name in value:
                key.check(value[name], f"{path}.{name}", errors)
            elif key.required:
                errors.append(f"{path}: missing required key {name!r}")
        errors.extend(f"{path}: unknown key {name!r}" for name in value if name not in spec)

    return run


def _req(check: _Check) -> _Key:
    return _Key(check, required=True)


def _opt(check: _Check) -> _Key:
    return _Key(check)


def _slug(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not _SLUG_RE.match(value):
        errors.append(f"{path}: expected a lower-case slug like 'hikvision'")


def _service_type(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str) or not _SERVICE_TYPE_RE.match(value):
        errors.append(f"{path}: expected a DNS-SD service type like '_http._tcp'")


def _bytes_per_second(value: Any, path: str, errors: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 1024:
        errors.append(f"{path}: expected 1-1024 bytes per second")


def _positive_upto(limit: int) -> _Check:
    def run(value: Any, path: str, errors: list[str]) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: expected an integer, got {_type_name(value)}")
        elif not 0 <= value <= limit:
            errors.append(f"{path}: expected 0-{limit}, got {value}")

    return run


_SOURCE = _obj({"fact": _req(_is_nonempty_str), "source": _req(_is_nonempty_str)})

_TRUTH = _obj(
    {
        "kind": _req(_one_of(*KINDS)),
        "manufacturer": _req(_nullable(_slug)),
        "brand": _req(_nullable(_is_str)),
        "model": _req(_nullable(_is_str)),
        "restricted": _req(_is_bool),
    }
)

_NETWORK = _obj(
    {
        "ip": _req(_is_str),
        "mac": _req(_is_str),
        "routed": _opt(_is_bool),
        "ipv6": _opt(_nullable(_is_str)),
    }
)

_WSD = _obj(
    {
        "endpoint": _req(_is_nonempty_str),
        "types": _req(_is_nonempty_str),
        "scopes": _req(_list_of(_is_nonempty_str)),
        "xaddrs": _req(_list_of(_is_nonempty_str)),
        "metadata_version": _opt(_is_int),
        "answer_empty_probe": _opt(_is_bool),
        "answer_types": _opt(_list_of(_is_nonempty_str)),
    }
)

_SADP = _obj({"fields": _req(_dict_of(_is_str))})

_DHIP = _obj(
    {
        "device_info": _req(_dict_of(_is_json)),
        "mac_in": _opt(_one_of("top", "device_info", "both")),
    }
)

_SSDP = _obj(
    {
        "server": _req(_header_value),
        "usn": _req(_header_value),
        "st": _req(_header_value),
        "location_port": _req(_is_port),
        "location_path": _req(_is_path),
        "extra_headers": _opt(_HEADERS),
        "description": _req(_dict_of(_is_str)),
    }
)

_MDNS_SERVICE = _obj(
    {
        "type": _req(_service_type),
        "instance": _req(_is_nonempty_str),
        "port": _req(_is_port),
        "txt": _opt(_list_of(_is_str)),
    }
)

_MDNS = _obj(
    {
        "hostname": _req(_is_nonempty_str),
        "services": _req(_list_of(_MDNS_SERVICE)),
    }
)

_ROUTE = _obj(
    {
        "status": _opt(_is_status),
        "headers": _opt(_HEADERS),
        "content_type": _opt(_header_value),
        "body": _opt(_is_str),
        "auth": _opt(_nullable(_one_of("digest", "basic"))),
        "realm": _opt(_header_value),
        "qop": _opt(_one_of("auth")),
    }
)

_HTTP = _obj(
    {
        "port": _req(_is_port),
        "tls": _opt(_is_bool),
        "tls_subject": _opt(_nullable(_is_str)),
        "server": _opt(_nullable(_header_value)),
        "headers": _opt(_HEADERS),
        "routes": _opt(_dict_of(_ROUTE)),
        "not_found": _opt(_ROUTE),
    }
)

_RTSP_AUTH = _obj(
    {
        "scheme": _req(_one_of("Digest", "Basic")),
        "realm": _req(_header_value),
        "also_basic": _opt(_is_bool),
    }
)

_RTSP = _obj(
    {
        "port": _req(_is_port),
        "server": _opt(_nullable(_header_value)),
        "auth": _opt(_nullable(_RTSP_AUTH)),
        "public": _opt(_header_value),
    }
)

_ONVIF_INTERFACE = _obj(
    {
        "token": _req(_is_nonempty_str),
        "name": _req(_is_str),
        "mac": _req(_is_str),
    }
)

_ONVIF = _obj(
    {
        "port": _req(_is_port),
        "path": _req(_is_path),
        "auth_required": _opt(_is_bool),
        "fault_status": _opt(_one_of(400, 401)),
        "device_information": _req(_dict_of(_is_str)),
        "network_interfaces": _opt(_list_of(_ONVIF_INTERFACE)),
        "scopes": _opt(_nullable(_list_of(_is_nonempty_str))),
    }
)

_TCP = _obj({"port": _req(_is_port), "banner_hex": _opt(_nullable(_is_hex))})

_SLOW = _obj({"port": _req(_is_port), "bytes_per_second": _req(_bytes_per_second)})

_HOSTILE = _obj(
    {
        "wsd_xml_bomb": _opt(_is_bool),
        "wsd_oversize": _opt(_is_bool),
        "onvif_xml_bomb": _opt(_is_bool),
        # Cap: the emulator streams it from memory-light chunks, but a typo
        # of extra zeros would make a test run for minutes.
        "http_huge_body": _opt(_nullable(_positive_upto(256_000_000))),
        "http_slow": _opt(_nullable(_SLOW)),
        "rtsp_slow": _opt(_nullable(_SLOW)),
        "sadp_malformed": _opt(_is_bool),
        "dhip_malformed": _opt(_is_bool),
        "mdns_loop": _opt(_is_bool),
        "udp_flood": _opt(_nullable(_positive_upto(10_000))),
    }
)

_CREDENTIALS = _obj({"username": _req(_is_str), "password": _req(_is_str)})

_TOP: Final = {
    "id": _req(_is_str),
    "description": _req(_is_nonempty_str),
    "sources": _req(_list_of(_SOURCE, min_items=1)),
    "truth": _req(_TRUTH),
    "network": _req(_NETWORK),
    "serial": _opt(_nullable(_is_nonempty_str)),
    "credentials": _opt(_nullable(_CREDENTIALS)),
    "wsd": _opt(_nullable(_WSD)),
    "sadp": _opt(_nullable(_SADP)),
    "dhip": _opt(_nullable(_DHIP)),
    "ssdp": _opt(_nullable(_SSDP)),
    "mdns": _opt(_nullable(_MDNS)),
    "http": _opt(_list_of(_HTTP)),
    "rtsp": _opt(_nullable(_RTSP)),
    "onvif": _opt(_nullable(_ONVIF)),
    "tcp": _opt(_list_of(_TCP)),
    "udp_silent": _opt(_is_bool),
    "hostile": _opt(_HOSTILE),
}


def validate(raw: Any, *, name: str | None = None, placement: bool = True) -> list[str]:
    """Return every problem with one profile as readable messages ([] = valid).

    ``name`` is the file name without ``.json``; when given, it must equal
    ``id``. ``placement`` checks the corpus address plan (honest devices on
    198.18.0.10-.200, hostile ones on .201-.230, routed ones in 198.18.1.0/24);
    clones for benchmarks switch it off and only stay inside 198.18.0.0/15.
    """
    errors: list[str] = []
    if not isinstance(raw, dict):
        return [f"profile: expected a JSON object, got {_type_name(raw)}"]
    _obj(_TOP)(raw, "profile", errors)
    _check_id(raw, name, errors)
    _check_network(raw, placement, errors)
    _check_placeholders(raw, errors)
    _check_ports(raw, errors)
    _check_links(raw, errors)
    return errors


def _check_id(raw: Mapping[str, Any], name: str | None, errors: list[str]) -> None:
    pid = raw.get("id")
    if isinstance(pid, str):
        if not _ID_RE.match(pid):
            errors.append(f"id: {pid!r} must match [a-z0-9-]+")
        if name is not None and pid != name:
            errors.append(f"id: {pid!r} differs from the file name {name!r}.json")


def _check_network(raw: Mapping[str, Any], placement: bool, errors: list[str]) -> None:
    network = raw.get("network")
    if not isinstance(network, dict):
        return
    ip_text, mac = network.get("ip"), network.get("mac")
    if isinstance(ip_text, str):
        try:
            ip = ipaddress.IPv4Address(ip_text)
        except ValueError:
            errors.append(f"network.ip: {ip_text!r} is not an IPv4 address")
        else:
            _check_ip(ip, raw, placement, errors)
    if isinstance(mac, str):
        if not _MAC_RE.match(mac):
            errors.append(f"network.mac: {mac!r} is not a lower-case aa:bb:cc:dd:ee:ff MAC")
        elif int(mac[:2], 16) & 1:
            errors.append(f"network.mac: {mac!r} is a multicast address")
        elif mac in {"00:00:00:00:00:00"}:
            errors.append("network.mac: the all-zero MAC is not a device address")
    ipv6 = network.get("ipv6")
    if isinstance(ipv6, str):
        try:
            ipaddress.IPv6Address(ipv6)
        except ValueError:
            errors.append(f"network.ipv6: {ipv6!r} is not an IPv6 address")


def _check_ip(
    ip: ipaddress.IPv4Address,
    raw: Mapping[str, Any],
    placement: bool,
    errors: list[str],
) -> None:
    # Safety first: the lab never configures an address outside the RFC 2544 range.
    if ip not in BENCH_RANGE:
        errors.append(f"network.ip: {ip} is outside the lab range {BENCH_RANGE}")
        return
    host = int(ip) & 0xFF
    if host in {0, 255}:
        errors.append(f"network.ip: {ip} is a network or broadcast address")
    if not placement:
        return
    network = raw.get("network") or {}
    routed = network.get("routed") is True
    if routed:
        if ip not in ROUTED_LAN:
            errors.append(f"network.ip: a routed device belongs in {ROUTED_LAN}")
        return
    if ip not in LAN:
        errors.append(f"network.ip: {ip} is not on the LAN {LAN} (routed is false)")
        return
    if "hostile" in raw:
        if host not in HOSTILE_HOSTS:
            errors.append(f"network.ip: hostile devices use 198.18.0.201-230, not {ip}")
    elif host not in HONEST_HOSTS:
        errors.append(f"network.ip: devices use 198.18.0.10-200, not {ip}")


def _check_placeholders(raw: Mapping[str, Any], errors: list[str]) -> None:
    known = {p.lower(): p for p in PLACEHOLDERS}
    uses_serial = False
    for path, text in _strings(raw, "profile"):
        for match in _BRACED_WORD_RE.finditer(text):
            word = match.group(1)
            if word == "serial":
                uses_serial = True
            elif word not in PLACEHOLDERS and word.lower() in known:
                errors.append(
                    f"{path}: unknown placeholder {{{word}}} "
                    f"(did you mean {{{known[word.lower()]}}}?)"
                )
    serial = raw.get("serial")
    if uses_serial and not isinstance(serial, str):
        errors.append("serial: {serial} is used but the profile has no serial")
    if isinstance(serial, str) and "{serial}" in serial:
        errors.append("serial: must not contain {serial} itself")
    network = raw.get("network")
    if isinstance(network, dict):
        for key in ("ip", "mac"):
            value = network.get(key)
            if isinstance(value, str) and _PLACEHOLDER_RE.search(value):
                errors.append(f"network.{key}: must be a literal, not a placeholder")


def _check_ports(raw: Mapping[str, Any], errors: list[str]) -> None:
    """TCP listeners must not collide; shared HTTP servers are not collisions."""
    owners: dict[int, list[str]] = {}
    http_ports: set[int] = set()
    for i, server in enumerate(raw.get("http") or []):
        if isinstance(server, dict) and isinstance(server.get("port"), int):
            owners.setdefault(server["port"], []).append(f"http[{i}]")
            http_ports.add(server["port"])
    rtsp = raw.get("rtsp")
    if isinstance(rtsp, dict) and isinstance(rtsp.get("port"), int):
        owners.setdefault(rtsp["port"], []).append("rtsp")
    for i, entry in enumerate(raw.get("tcp") or []):
        if isinstance(entry, dict) and isinstance(entry.get("port"), int):
            owners.setdefault(entry["port"], []).append(f"tcp[{i}]")
    ssdp = raw.get("ssdp")
    if isinstance(ssdp, dict) and isinstance(ssdp.get("location_port"), int):
        port = ssdp["location_port"]
        # The description is served by the http[] server on that port if any.
        if port not in http_ports:
            owners.setdefault(port, []).append("ssdp.location_port")
    hostile = raw.get("hostile")
    if isinstance(hostile, dict):
        slow = hostile.get("http_slow")
        # A slow server takes over an http[] port of the same number, or opens its own.
        if (
            isinstance(slow, dict)
            and isinstance(slow.get("port"), int)
            and slow["port"] not in http_ports
        ):
            owners.setdefault(slow["port"], []).append("hostile.http_slow")
        slow = hostile.get("rtsp_slow")
        rtsp_port = rtsp.get("port") if isinstance(rtsp, dict) else None
        if (
            isinstance(slow, dict)
            and isinstance(slow.get("port"), int)
            and slow["port"] != rtsp_port
        ):
            owners.setdefault(slow["port"], []).append("hostile.rtsp_slow")
    for port, users in sorted(owners.items()):
        if len(users) > 1:
            errors.append(f"port {port}: used by both " + " and ".join(users))


def _check_links(raw: Mapping[str, Any], errors: list[str]) -> None:
    """Cross-references: ONVIF lives on an HTTP server, auth needs credentials."""
    http_ports = {s.get("port") for s in raw.get("http") or [] if isinstance(s, dict)}
    onvif = raw.get("onvif")
    if isinstance(onvif, dict) and isinstance(onvif.get("port"), int):
        if onvif["port"] not in http_ports:
            errors.append(f"onvif.port: {onvif['port']} is not one of the http[] ports")
        routes = {
            path
            for s in raw.get("http") or []
            if isinstance(s, dict) and s.get("port") == onvif["port"]
            for path in (s.get("routes") or {})
        }
        if onvif.get("path") in routes:
            errors.append("onvif.path: also listed in http routes on the same port")
    # ONVIF authentication is on unless a profile says otherwise (as on devices).
    needs_credentials = bool(isinstance(onvif, dict) and onvif.get("auth_required", True))
    for i, server in enumerate(raw.get("http") or []):
        if not isinstance(server, dict):
            continue
        for path, route in (server.get("routes") or {}).items():
            if isinstance(route, dict) and route.get("auth"):
                needs_credentials = True
                if not isinstance(route.get("realm"), str):
                    errors.append(f"http[{i}].routes.{path}: auth needs a realm")
            if isinstance(path, str) and not path.startswith("/"):
                errors.append(f"http[{i}].routes: {path!r} must start with '/'")
        if server.get("tls_subject") and not server.get("tls"):
            errors.append(f"http[{i}].tls_subject: set but tls is false")
    rtsp = raw.get("rtsp")
    if isinstance(rtsp, dict) and rtsp.get("auth"):
        needs_credentials = True
    if needs_credentials and not isinstance(raw.get("credentials"), dict):
        errors.append("credentials: required by digest/basic auth or ONVIF auth")
    ssdp = raw.get("ssdp")
    if isinstance(ssdp, dict) and any(
        isinstance(server, dict)
        and server.get("port") == ssdp.get("location_port")
        and ssdp.get("location_path") in (server.get("routes") or {})
        for server in raw.get("http") or []
    ):
        errors.append("ssdp.location_path: also listed in http routes")


def validate_corpus(profiles: Iterable[Profile]) -> list[str]:
    """Problems across profiles: duplicate ids, IPs, MACs, serials or endpoints."""
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    listed = list(profiles)

    def claim(kind: str, value: str | None, index: int) -> None:
        if value is None:
            return
        other = seen.setdefault((kind, value), index)
        if other != index:
            errors.append(f"duplicate {kind} {value} in {listed[other].id} and {listed[index].id}")

    for index, profile in enumerate(listed):
        claim("id", profile.id, index)
        claim("ip", profile.network.ip, index)
        claim("mac", profile.network.mac, index)
        claim("serial", profile.serial, index)
        wsd = profile.service("wsd")
        if isinstance(wsd, dict):
            claim("WS-Discovery endpoint", wsd.get("endpoint"), index)
    return errors


# --- loading -------------------------------------------------------------------------


def from_raw(
    template: dict[str, Any], *, path: Path | None = None, placement: bool = True
) -> Profile:
    """Build a Profile from a parsed template dict, or raise ProfileError."""
    where = str(path) if path else str(template.get("id", "profile"))
    errors = validate(template, name=path.stem if path else None, placement=placement)
    if errors:
        raise ProfileError(where, errors)
    network = template["network"]
    values = placeholder_values(network["ip"], network["mac"], template.get("serial"))
    raw = substitute(template, values)
    truth = raw["truth"]
    net = raw["network"]
    return Profile(
        id=raw["id"],
        description=raw["description"],
        truth=Truth(
            kind=truth["kind"],
            manufacturer=truth["manufacturer"],
            brand=truth["brand"],
            model=truth["model"],
            restricted=truth["restricted"],
        ),
        network=Network(
            ip=net["ip"],
            mac=net["mac"],
            routed=bool(net.get("routed", False)),
            ipv6=net.get("ipv6"),
        ),
        serial=values.get("serial"),
        raw=raw,
        template=copy.deepcopy(template),
        path=path,
    )


def load_profile(path: Path, *, placement: bool = True) -> Profile:
    """Load and validate one profile file, or raise ProfileError with every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(str(path), [f"cannot read: {err.strerror}"]) from err
    except UnicodeDecodeError as err:
        raise ProfileError(str(path), ["not UTF-8 text"]) from err
    try:
        template = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProfileError(str(path), [f"not JSON: {err}"]) from err
    if not isinstance(template, dict):
        raise ProfileError(str(path), ["expected a JSON object"])
    return from_raw(template, path=path, placement=placement)


def load_corpus(include_hostile: bool = False, *, directory: Path = DEVICES_DIR) -> list[Profile]:
    """Load every honest profile (and hostile ones on request), sorted by id.

    Raises ProfileError listing every invalid file and every duplicate.
    """
    paths = sorted(directory.glob("*.json"))
    if include_hostile:
        paths += sorted((directory / "hostile").glob("*.json"))
    profiles: list[Profile] = []
    errors: list[str] = []
    for path in paths:
        try:
            profiles.append(load_profile(path))
        except ProfileError as err:
            errors.extend(f"{path.name}: {e}" for e in err.errors)
    errors.extend(validate_corpus(profiles))
    if errors:
        raise ProfileError(str(directory), errors)
    return sorted(profiles, key=lambda p: p.id)


def clone(
    profile: Profile,
    ip: str,
    mac: str,
    serial: str | None,
    *,
    id: str | None = None,  # noqa: A002  (the profile key is called id)
) -> Profile:
    """Stamp a copy of ``profile`` at a new address (benchmarks fill a /24 this way).

    Placeholders are substituted afresh from the template, so every
    address-derived value (SADP MAC, WSD endpoint, XAddrs...) follows. The id
    defaults to ``<id>-<ip with dashes>`` so clones can share a LAN.
    """
    template = copy.deepcopy(profile.template)
    template["id"] = id or f"{profile.id}-{ip.replace('.', '-')}"
    network = dict(template["network"])
    network["ip"] = ip
    network["mac"] = mac.lower()
    template["network"] = network
    if serial is not None:
        template["serial"] = serial
    return from_raw(template, path=None, placement=False)
