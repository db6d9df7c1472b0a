"""The service configuration: a YAML file and/or command-line flags, validated into a Config.

Validation uses voluptuous; every error names the key and the reason, one per
line, as ``config.yaml: mqtt.port: expected an integer``. Secrets come from a
file or an environment variable, never from the command line or the file
itself, and the :class:`~cctv_sentinel.discovery.credentials.Secret` holding them never
prints. See docs/config.example.yaml for every key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote, urlsplit

import voluptuous as vol

from cctv_sentinel import limits
from cctv_sentinel._util.files import load_yaml_mapping
from cctv_sentinel._util.secret import Secret
from cctv_sentinel._util.validation import error_lines
from cctv_sentinel.discovery.scanner import ALL_PROBES
from cctv_sentinel.discovery.sweep import DEFAULT_PORTS
from cctv_sentinel.errors import ConfigError
from cctv_sentinel.identify.policy import policy_from_mapping
from cctv_sentinel.mqtt.client import MqttSettings, Will, broker_url
from cctv_sentinel.mqtt.contract import (
    AGENT_ID_RE,
    DEFAULT_BASE_TOPIC,
    safe_agent_id,
    valid_base_topic,
)

MAX_CONFIG_BYTES: Final = 1024 * 1024
"""A configuration larger than 1 MiB is a mistake, not a configuration."""

DEFAULT_STATE_DIR: Final = Path("/var/lib/cctv-sentinel")
DEFAULT_INTERVAL: Final = 900.0
"""Seconds between full scans: 15 minutes (passive listening covers the gaps)."""
DEFAULT_JITTER: Final = 0.1
"""Fraction of the interval a scan may move, so agents sharing a LAN do not scan in step."""
DEFAULT_HOST_TIMEOUT: Final = 4.0
"""Deadline of the one-host scan that follows a passive announcement.

Leaves room in the 5 s a new camera has to appear: the UDP window (1 s), the
ARP settle (0.35 s) and one HTTP/ONVIF exchange fit well inside it.
"""
DEFAULT_LAST_SEEN_INTERVAL: Final = 900.0
DEFAULT_RETENTION: Final = 7 * 86400.0
DEFAULT_MISSING_AFTER: Final = 2
MIN_INTERVAL: Final = 0.05
"""Shortest scan interval accepted; tests shrink intervals, people should not go below minutes."""

Protocol = Literal["3.1.1", "5"]


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """``agent``: who this agent is and where it keeps its state."""

    id: str
    name: str
    state_dir: Path


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """``mqtt.tls``: certificate authority, client certificate, host-name check."""

    ca: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """``mqtt``: the broker and how the agent publishes to it."""

    host: str
    port: int
    tls: TlsConfig | None = None
    username: str | None = None
    password: Secret | None = None
    password_file: Path | None = None
    """Where the password came from, when it came from a file (for permission warnings)."""
    protocol: Protocol = "3.1.1"
    client_id: str | None = None
    keepalive: int = 60
    base_topic: str = DEFAULT_BASE_TOPIC
    homeassistant_discovery: bool = False
    discovery_prefix: str = "homeassistant"
    publish_serials: bool = False
    last_seen_interval: float = DEFAULT_LAST_SEEN_INTERVAL
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0

    @property
    def url(self) -> str:
        """The broker as a URL, with the user name but never the password."""
        return broker_url(
            host=self.host, port=self.port, tls=self.tls is not None, username=self.username
        )

    def settings(self, client_id: str, will: Will | None = None) -> MqttSettings:
        """The client settings for this broker (``client_id`` unless the config names one)."""
        return MqttSettings(
            host=self.host,
            port=self.port,
            client_id=self.client_id or client_id,
            protocol=self.protocol,
            keepalive=self.keepalive,
            username=self.username,
            password=self.password,
            tls=self.tls is not None,
            ca=self.tls.ca if self.tls else None,
            certfile=self.tls.certfile if self.tls else None,
            keyfile=self.tls.keyfile if self.tls else None,
            insecure=self.tls.insecure if self.tls else False,
            will=will,
            reconnect_min=self.reconnect_min,
            reconnect_max=self.reconnect_max,
        )


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """``scan``: what to watch and how often."""

    networks: tuple[ipaddress.IPv4Network, ...] = ()
    ports: tuple[int, ...] = DEFAULT_PORTS
    interval: float = DEFAULT_INTERVAL
    jitter: float = DEFAULT_JITTER
    timeout: float = limits.DEFAULT_SCAN_TIMEOUT
    host_timeout: float = DEFAULT_HOST_TIMEOUT
    credentials: Path | None = None
    probes: frozenset[str] = ALL_PROBES
    passive: bool = True


@dataclass(frozen=True, slots=True)
class InventoryConfig:
    """``inventory``: when a camera counts as missing, and when it is forgotten."""

    missing_after_scans: int = DEFAULT_MISSING_AFTER
    retention: float = DEFAULT_RETENTION


DEFAULT_COMMAND_MAX_AGE: Final = 60.0
"""Seconds a command's ``sent_at`` may lie in the past (or future: clock skew)."""
DEFAULT_RESCAN_MIN_INTERVAL: Final = 60.0
"""Seconds between the starts of two full scans asked for by commands."""
MIN_SECRET_LENGTH: Final = 16
"""Shortest command secret accepted (``openssl rand -hex 32`` makes 64 characters)."""


@dataclass(frozen=True, slots=True)
class CommandsConfig:
    """``commands``: who the agent obeys over MQTT, and how often."""

    secret: Secret | None = None
    """With a secret, only commands signed with it are obeyed (docs/security.md)."""
    secret_file: Path | None = None
    max_age: float = DEFAULT_COMMAND_MAX_AGE
    rescan_min_interval: float = DEFAULT_RESCAN_MIN_INTERVAL


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated service configuration."""

    agent: AgentConfig
    mqtt: MqttConfig
    scan: ScanConfig = field(default_factory=ScanConfig)
    inventory: InventoryConfig = field(default_factory=InventoryConfig)
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    policy: Mapping[str, Any] = field(default_factory=dict)
    """Passed to identify.policy_from_mapping (already checked to parse)."""
    isolation: Mapping[str, Any] | None = None
    """Opaque: passed to the isolation manager as it is."""
    source: str = "command line"
    """Where it came from, for messages."""


# --------------------------------------------------------------------------- validators

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number or text such as ``90``, ``90s``, ``15m``, ``1h30m``, ``7d``."""
    if isinstance(value, bool):
        raise vol.Invalid("expected a duration such as 90s, 15m, 2h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if not text:
            raise vol.Invalid("expected a duration such as 90s, 15m, 2h or 7d")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _DURATION.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text):
                raise vol.Invalid(f"{value!r} is not a duration (e.g. 90s, 15m, 2h, 7d)") from None
    else:
        raise vol.Invalid("expected a duration such as 90s, 15m, 2h or 7d")
    if not seconds >= 0 or seconds == float("inf"):
        raise vol.Invalid("a duration must be zero or more")
    return seconds


def _duration(minimum: float = 0.0, maximum: float | None = None) -> Any:
    def check(value: Any) -> float:
        seconds = parse_duration(value)
        if seconds < minimum:
            raise vol.Invalid(f"must be at least {minimum:g} s")
        if maximum is not None and seconds > maximum:
            raise vol.Invalid(f"must be at most {maximum:g} s")
        return seconds

    return check


def _integer(minimum: int, maximum: int) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise vol.Invalid("expected an integer")
        if not minimum <= value <= maximum:
            raise vol.Invalid(f"must be within {minimum}..{maximum}")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise vol.Invalid("expected true or false")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("expected a non-empty string")
    return value.strip()


def _path(value: Any) -> Path:
    return Path(_text(value)).expanduser()


def _agent_id(value: Any) -> str:
    text = _text(value)
    if not AGENT_ID_RE.match(text):
        raise vol.Invalid(f"{text!r} is not an agent id: use 1-64 of a-z, 0-9, _ and -")
    return text


def _base_topic(value: Any) -> str:
    text = _text(value)
    if not valid_base_topic(text):
        raise vol.Invalid(
            f"{text!r} is not a usable base topic (no + or #, no leading or trailing /)"
        )
    return text


def _network(value: Any) -> ipaddress.IPv4Network:
    text = _text(value)
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise vol.Invalid(f"{text!r} is not an IPv4 network (e.g. 192.168.1.0/24)") from None
    if net.is_loopback or net.is_multicast or net.is_unspecified or net.is_link_local:
        raise vol.Invalid(f"{net} is loopback, link-local or multicast; nothing to watch there")
    if net.num_addresses > limits.MAX_HOSTS_PER_SCAN:
        raise vol.Invalid(f"{net} is larger than /{limits.DEFAULT_MAX_PREFIX}")
    return net


def _networks(value: Any) -> tuple[ipaddress.IPv4Network, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise vol.Invalid("expected a list of networks (CIDR)")
    nets: list[ipaddress.IPv4Network] = []
    for index, item in enumerate(items):
        try:
            net = _network(item)
        except vol.Invalid as err:
            raise vol.Invalid(err.msg, path=[index]) from None
        if net not in nets:
            nets.append(net)
    return tuple(nets)


def _ports(value: Any) -> tuple[int, ...]:
    items: Any = value.split(",") if isinstance(value, str) else value
    if isinstance(items, int) and not isinstance(items, bool):
        items = [items]
    if not isinstance(items, list) or not items:
        raise vol.Invalid("expected a list of ports, e.g. [80, 554, 8000-8010]")
    ports: list[int] = []
    for item in items:
        if isinstance(item, bool):
            raise vol.Invalid(f"{item!r} is not a port")
        if isinstance(item, int):
            lo = hi = item
        elif isinstance(item, str) and re.fullmatch(r"\s*\d+\s*(-\s*\d+\s*)?", item):
            lo_text, _, hi_text = item.partition("-")
            lo, hi = int(lo_text), int(hi_text or lo_text)
        else:
            raise vol.Invalid(f"{item!r} is not a port or a range like 8000-8010")
        if not (1 <= lo <= hi <= 65535) or hi - lo > 1024:
            raise vol.Invalid(f"{item!r} is not a port range within 1-65535")
        ports.extend(range(lo, hi + 1))
    return tuple(dict.fromkeys(ports))


def _probes(value: Any) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise vol.Invalid("expected a list of probe names")
    names = frozenset(i.strip() for i in items if i.strip())
    unknown = sorted(names - ALL_PROBES)
    if unknown:
        raise vol.Invalid(
            f"unknown probe {unknown[0]!r}; choose from {', '.join(sorted(ALL_PROBES))}"
        )
    if not names:
        raise vol.Invalid("at least one probe is needed")
    return names


def _protocol(value: Any) -> Protocol:
    text = str(value).strip().lower() if not isinstance(value, bool) else ""
    if text in {"5", "5.0", "v5", "mqttv5"}:
        return "5"
    if text in {"3.1.1", "311", "v311", "mqttv311", "4"}:
        return "3.1.1"
    raise vol.Invalid(f"{value!r} is not a protocol: use 3.1.1 or 5")


def _jitter(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 0.5:
        raise vol.Invalid("expected a fraction of the interval within 0..0.5 (e.g. 0.1)")
    return float(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise vol.Invalid("expected a mapping")
    return value


_NO_PASSWORD = "not allowed here: give mqtt.password_file or mqtt.password_env"  # noqa: S105


def _refuse_password(_value: Any) -> None:
    raise vol.Invalid(_NO_PASSWORD)


_NO_SECRET = "not allowed here: give commands.secret_file or commands.secret_env"  # noqa: S105


def _refuse_secret(_value: Any) -> None:
    raise vol.Invalid(_NO_SECRET)


_TLS_SCHEMA = vol.Schema(
    {
        vol.Optional("ca"): _path,
        vol.Optional("certfile"): _path,
        vol.Optional("keyfile"): _path,
        vol.Optional("insecure", default=False): _boolean,
    }
)

_SCHEMA = vol.Schema(
    {
        vol.Optional("agent", default={}): vol.Schema(
            {
                vol.Optional("id"): _agent_id,
                vol.Optional("name"): vol.All(_text, vol.Length(max=256)),
                vol.Optional("state_dir"): _path,
            }
        ),
        vol.Optional("mqtt", default={}): vol.Schema(
            {
                vol.Optional("broker"): _text,
                vol.Optional("host"): _text,
                vol.Optional("port"): _integer(1, 65535),
                vol.Optional("username"): vol.All(_text, vol.Length(max=256)),
                vol.Optional("password"): _refuse_password,
                vol.Optional("password_file"): _path,
                vol.Optional("password_env"): _text,
                vol.Optional("tls"): vol.Any(None, _TLS_SCHEMA),
                vol.Optional("protocol", default="3.1.1"): _protocol,
                vol.Optional("client_id"): vol.All(_text, vol.Length(max=128)),
                vol.Optional("keepalive", default=60): _integer(5, 3600),
                vol.Optional("base_topic", default=DEFAULT_BASE_TOPIC): _base_topic,
                vol.Optional("homeassistant_discovery", default=False): _boolean,
                vol.Optional("discovery_prefix", default="homeassistant"): _base_topic,
                vol.Optional("publish_serials", default=False): _boolean,
                vol.Optional("last_seen_interval", default=DEFAULT_LAST_SEEN_INTERVAL): _duration(),
                vol.Optional("reconnect_min", default=1.0): _duration(0.01, 3600),
                vol.Optional("reconnect_max", default=60.0): _duration(0.01, 3600),
            }
        ),
        vol.Optional("scan", default={}): vol.Schema(
            {
                vol.Optional("networks", default=[]): _networks,
                vol.Optional("ports"): _ports,
                vol.Optional("interval", default=DEFAULT_INTERVAL): _duration(MIN_INTERVAL),
                vol.Optional("jitter", default=DEFAULT_JITTER): _jitter,
                vol.Optional("timeout", default=limits.DEFAULT_SCAN_TIMEOUT): _duration(0.5, 3600),
                vol.Optional("host_timeout", default=DEFAULT_HOST_TIMEOUT): _duration(0.5, 600),
                vol.Optional("credentials"): _path,
                vol.Optional("probes"): _probes,
                vol.Optional("passive", default=True): _boolean,
            }
        ),
        vol.Optional("policy", default={}): _mapping,
        vol.Optional("inventory", default={}): vol.Schema(
            {
                vol.Optional("missing_after_scans", default=DEFAULT_MISSING_AFTER): _integer(
                    1, 1000
                ),
                vol.Optional("retention", default=DEFAULT_RETENTION): _duration(),
            }
        ),
        vol.Optional("isolation"): vol.Any(None, _mapping),
        vol.Optional("commands", default={}): vol.Schema(
            {
                vol.Optional("secret"): _refuse_secret,
                vol.Optional("secret_file"): _path,
                vol.Optional("secret_env"): _text,
                vol.Optional("max_age", default=DEFAULT_COMMAND_MAX_AGE): _duration(5, 3600),
                vol.Optional("rescan_min_interval", default=DEFAULT_RESCAN_MIN_INTERVAL): _duration(
                    0, 86400
                ),
            }
        ),
    }
)


# --------------------------------------------------------------------------- errors


# --------------------------------------------------------------------------- broker


@dataclass(frozen=True, slots=True)
class _Broker:
    host: str
    port: int
    tls: bool
    username: str | None


def parse_broker_url(url: str) -> tuple[str, int, bool, str | None]:
    """``mqtt[s]://[user@]host[:port]`` -> (host, port, tls, user); ValueError says why.

    A password in the URL is refused: it would end up in shell history and
    process listings.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise ValueError(f"{url!r} is not a broker URL ({err})") from None
    if parts.scheme not in {"mqtt", "mqtts"}:
        raise ValueError("expected mqtt://[user@]host:port or mqtts://[user@]host:port")
    if parts.password is not None:
        raise ValueError(
            "the URL holds a password; give it with mqtt.password_file or "
            "mqtt.password_env (--password-file/--password-env) instead"
        )
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a broker URL has no path, query or fragment")
    tls = parts.scheme == "mqtts"
    username = unquote(parts.username) if parts.username else None
    return parts.hostname, port or (8883 if tls else 1883), tls, username


def _broker(section: Mapping[str, Any], source: str) -> tuple[_Broker, list[str]]:
    errors: list[str] = []
    url = section.get("broker")
    host = section.get("host")
    port = section.get("port")
    username = section.get("username")
    tls = section.get("tls") is not None and bool(section.get("tls"))
    if url is not None:
        if host is not None:
            errors.append(f"{source}: mqtt.host: give either mqtt.broker or mqtt.host, not both")
        try:
            host, url_port, url_tls, url_user = parse_broker_url(url)
        except ValueError as err:
            errors.append(f"{source}: mqtt.broker: {err}")
            return _Broker("localhost", 1883, False, None), errors
        if port is not None and port != url_port:
            errors.append(f"{source}: mqtt.port: {port} contradicts the broker URL ({url_port})")
        port = url_port
        if section.get("tls") and not url_tls:
            errors.append(
                f"{source}: mqtt.tls: TLS options given, but the broker URL is mqtt://;"
                " use mqtts://"
            )
        tls = url_tls
        if url_user and username and url_user != username:
            errors.append(f"{source}: mqtt.username: contradicts the user in the broker URL")
        username = username or url_user
    elif host is None:
        errors.append(f"{source}: mqtt.broker: missing (e.g. mqtt://broker.lan:1883, or --broker)")
        return _Broker("localhost", 1883, False, None), errors
    return _Broker(host, port or (8883 if tls else 1883), tls, username), errors


def _read_password(
    section: Mapping[str, Any],
    source: str,
    base: Path,
    env: Mapping[str, str],
    *,
    key: str = "mqtt.password",
) -> tuple[Secret | None, list[str]]:
    """The secret from ``<key>_file`` or ``<key>_env`` (``key`` is ``section.name``)."""
    name = key.rpartition(".")[2]
    file_ = section.get(f"{name}_file")
    var = section.get(f"{name}_env")
    if file_ is not None and var is not None:
        return None, [f"{source}: {key}_env: give {name}_file or {name}_env, not both"]
    if var is not None:
        value = env.get(var)
        if value is None:
            return None, [f"{source}: {key}_env: environment variable {var} is not set"]
        return Secret(value), []
    if file_ is None:
        return None, []
    path = file_ if file_.is_absolute() else base / file_
    secret = ""
    try:
        problem = _secret_file_problem(path)
        secret = "" if problem else path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as err:
        problem = f"cannot read {path}: {err.strerror}"
    except UnicodeDecodeError:
        problem = f"{path} is not UTF-8 text"
    if not problem and not secret:
        problem = f"{path} is empty"
    if problem:
        return None, [f"{source}: {key}_file: {problem}"]
    return Secret(secret), []


def _secret_file_problem(path: Path) -> str | None:
    if path.stat().st_size > 64 * 1024:
        return f"{path} is larger than 64 KiB"
    return None


def _tls(
    section: Mapping[str, Any] | None, enabled: bool, source: str, base: Path
) -> tuple[TlsConfig | None, list[str]]:
    if not enabled:
        return None, []
    data = section or {}
    errors: list[str] = []
    paths: dict[str, Path | None] = {}
    for key in ("ca", "certfile", "keyfile"):
        raw = data.get(key)
        path = None if raw is None else (raw if raw.is_absolute() else base / raw)
        if path is not None and not os.access(path, os.R_OK):
            errors.append(f"{source}: mqtt.tls.{key}: cannot read {path}")
        paths[key] = path
    if paths["keyfile"] is not None and paths["certfile"] is None:
        errors.append(f"{source}: mqtt.tls.keyfile: given without mqtt.tls.certfile")
    if not errors:
        errors += _tls_files_problems(paths, source)
    return (
        TlsConfig(
            ca=paths["ca"],
            certfile=paths["certfile"],
            keyfile=paths["keyfile"],
            insecure=bool(data.get("insecure", False)),
        ),
        errors,
    )


def _tls_files_problems(paths: Mapping[str, Path | None], source: str) -> list[str]:
    """Load the CA and the client certificate as the client will, to find bad files now.

    A CA file that is not PEM, or a key that does not fit its certificate, would
    otherwise surface only at the first connection.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca, certfile, keyfile = paths["ca"], paths["certfile"], paths["keyfile"]
    if ca is not None:
        try:
            context.load_verify_locations(cafile=str(ca))
        except (ssl.SSLError, ValueError) as err:
            why = _ssl_reason(err)
            return [f"{source}: mqtt.tls.ca: {ca} is not a PEM certificate file ({why})"]
    if certfile is not None:
        try:
            context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
        except (ssl.SSLError, ValueError) as err:
            why = _ssl_reason(err)
            return [f"{source}: mqtt.tls.certfile: {certfile} and its key do not fit ({why})"]
    return []


def _ssl_reason(err: Exception) -> str:
    reason = getattr(err, "reason", None)
    return str(reason or err).replace("_", " ").lower()


# --------------------------------------------------------------------------- loading


def default_state_dir(env: Mapping[str, str]) -> Path:
    """``$STATE_DIRECTORY`` (set by systemd) when given, else /var/lib/cctv-sentinel."""
    given = env.get("STATE_DIRECTORY", "")
    first = given.split(":", 1)[0]
    return Path(first) if first else DEFAULT_STATE_DIR


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping; raise ConfigError with one line."""
    return load_yaml_mapping(path, what="config file", max_bytes=MAX_CONFIG_BYTES)


def config_from_mapping(
    data: Mapping[str, Any],
    *,
    source: str = "command line",
    base: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Validate raw configuration data; raise ConfigError listing every problem."""
    env = os.environ if env is None else env
    base = base or Path.cwd()
    try:
        valid = _SCHEMA(dict(data))
    except vol.Invalid as err:
        raise ConfigError("\n".join(error_lines(err, source=source))) from None
    errors: list[str] = []
    mqtt = valid["mqtt"]
    broker, more = _broker(mqtt, source)
    errors += more
    password, more = _read_password(mqtt, source, base, env)
    password_file = mqtt.get("password_file")
    if password_file is not None and not password_file.is_absolute():
        password_file = base / password_file
    errors += more
    if password is not None and broker.username is None:
        errors.append(f"{source}: mqtt.username: a password is given but no user name")
    tls, more = _tls(mqtt.get("tls"), broker.tls, source, base)
    errors += more
    if mqtt["reconnect_max"] < mqtt["reconnect_min"]:
        errors.append(f"{source}: mqtt.reconnect_max: must not be below mqtt.reconnect_min")
    errors += _check_policy(valid["policy"], source)
    commands, more = _commands(valid["commands"], source, base, env)
    errors += more
    if errors:
        raise ConfigError("\n".join(errors))
    agent = valid["agent"]
    scan = valid["scan"]
    credentials = scan.get("credentials")
    if credentials is not None and not credentials.is_absolute():
        credentials = base / credentials
    state_dir = agent.get("state_dir") or default_state_dir(env)
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    return Config(
        agent=AgentConfig(
            id=agent.get("id") or safe_agent_id(socket.gethostname()),
            name=agent.get("name") or socket.gethostname(),
            state_dir=state_dir,
        ),
        mqtt=MqttConfig(
            host=broker.host,
            port=broker.port,
            tls=tls,
            username=broker.username,
            password=password,
            password_file=password_file if password is not None else None,
            protocol=mqtt["protocol"],
            client_id=mqtt.get("client_id"),
            keepalive=mqtt["keepalive"],
            base_topic=mqtt["base_topic"],
            homeassistant_discovery=mqtt["homeassistant_discovery"],
            discovery_prefix=mqtt["discovery_prefix"],
            publish_serials=mqtt["publish_serials"],
            last_seen_interval=mqtt["last_seen_interval"],
            reconnect_min=mqtt["reconnect_min"],
            reconnect_max=mqtt["reconnect_max"],
        ),
        scan=ScanConfig(
            networks=scan["networks"],
            ports=scan.get("ports") or DEFAULT_PORTS,
            interval=scan["interval"],
            jitter=scan["jitter"],
            timeout=scan["timeout"],
            host_timeout=scan["host_timeout"],
            credentials=credentials,
            probes=scan.get("probes") or ALL_PROBES,
            passive=scan["passive"],
        ),
        inventory=InventoryConfig(
            missing_after_scans=valid["inventory"]["missing_after_scans"],
            retention=valid["inventory"]["retention"],
        ),
        commands=commands,
        policy=dict(valid["policy"]),
        isolation=valid.get("isolation"),
        source=source,
    )


def _commands(
    section: Mapping[str, Any], source: str, base: Path, env: Mapping[str, str]
) -> tuple[CommandsConfig, list[str]]:
    secret, errors = _read_password(section, source, base, env, key="commands.secret")
    if secret is not None and len(secret.reveal().strip()) < MIN_SECRET_LENGTH:
        where = "commands.secret_env" if section.get("secret_env") else "commands.secret_file"
        errors.append(
            f"{source}: {where}: the secret is shorter than {MIN_SECRET_LENGTH} characters"
            " (make one with: openssl rand -hex 32)"
        )
    secret_file = section.get("secret_file")
    if secret_file is not None and not secret_file.is_absolute():
        secret_file = base / secret_file
    return (
        CommandsConfig(
            secret=secret,
            secret_file=secret_file if secret is not None else None,
            max_age=section["max_age"],
            rescan_min_interval=section["rescan_min_interval"],
        ),
        errors,
    )


def _check_policy(policy: Mapping[str, Any], source: str) -> list[str]:
    """Parse the policy section now, so check-config reports its errors too."""
    try:
        policy_from_mapping(policy)
    except ConfigError as err:
        text = str(err)
        return [f"{source}: {text}" if text.startswith("policy") else f"{source}: policy: {text}"]
    return []


def load_config(
    path: Path | None,
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Config:
    """The configuration from a file (optional) with flag overrides on top."""
    data: dict[str, Any] = {}
    source = "command line"
    base = Path.cwd()
    if path is not None:
        data = read_config_file(path)
        source = path.name
        base = path.resolve().parent
    if overrides:
        data = _merge(data, overrides)
    return config_from_mapping(data, source=source, base=base, env=env)
