"""A real Mosquitto broker for tests, and a paho-mqtt subscriber that records traffic.

:class:`Broker` writes a config to a private directory, runs ``mosquitto -c``
(optionally inside a lab namespace), waits until it listens, and can stop and
start again on the same port. :class:`Subscriber` collects retained and live
messages per topic and lets a test wait for a condition.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from tests.lab import procs
from tests.lab.netlab import check_address

if TYPE_CHECKING:
    from paho.mqtt.enums import MQTTProtocolVersion

__all__ = [
    "Broker",
    "BrokerError",
    "Message",
    "Subscriber",
    "TlsFiles",
    "mosquitto_path",
    "mosquitto_unavailable_reason",
    "publish",
]

_IP_BIN: Final = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin") or "ip"

# mosquitto_passwd's "$7$" hash: PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt,
# base64 fields (checked against mosquitto_passwd 2.0.11 output).
_PW_ITERATIONS: Final = 101
_PW_SALT_BYTES: Final = 12

# Below Linux's default ephemeral range (32768-60999), so outgoing connections
# of other tests do not land on the port between our stop() and start().
_PORT_RANGE: Final = (20000, 32768)

_T = TypeVar("_T")


class BrokerError(RuntimeError):
    """The broker would not start, or a client could not talk to it."""


def mosquitto_path() -> str | None:
    """The mosquitto binary: $CCTV_MOSQUITTO if set, else the one on the system."""
    chosen = os.environ.get("CCTV_MOSQUITTO")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    return shutil.which("mosquitto", path="/usr/sbin:/usr/bin:/sbin:/bin")


def mosquitto_unavailable_reason() -> str | None:
    """Why a broker cannot run here (None when it can)."""
    if mosquitto_path() is None:
        where = os.environ.get("CCTV_MOSQUITTO") or "apt-get install mosquitto"
        return f"the mosquitto binary is missing ({where})"
    return None


def _password_line(user: str, password: str) -> str:
    salt = secrets.token_bytes(_PW_SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PW_ITERATIONS)
    enc = base64.b64encode
    return f"{user}:$7${_PW_ITERATIONS}${enc(salt).decode()}${enc(key).decode()}\n"


def _ports_in_use() -> set[int]:
    """Local TCP ports of every socket in this namespace (/proc/net/tcp{,6})."""
    used: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local = line.split()[1]
                used.add(int(local.rsplit(":", 1)[1], 16))
    return used


def _free_port(taken: Collection[int] = ()) -> int:
    """A TCP port nothing here uses, below the kernel's ephemeral range.

    Read from /proc rather than by binding port 0: Home Assistant's test plugin
    forbids creating sockets, and the broker fixture must work there too. A
    port taken between this check and mosquitto's bind makes start() retry.
    """
    used = _ports_in_use() | set(taken)
    for _ in range(1000):
        port = secrets.randbelow(_PORT_RANGE[1] - _PORT_RANGE[0]) + _PORT_RANGE[0]
        if port not in used:
            return port
    raise BrokerError("no free TCP port")


@dataclass(frozen=True)
class TlsFiles:
    """A throw-away CA, a server certificate it signed, and a client certificate."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _make_tls(directory: Path, names: Sequence[str]) -> TlsFiles:
    """Make a CA, a server cert for `names` (IPs or DNS names) and a client cert."""
    # Imported here: only TLS tests pay for cryptography.
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    now = dt.datetime.now(dt.UTC)

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def issue(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
        *,
        ca: bool = False,
        sans: Sequence[x509.GeneralName] = (),
        usage: Sequence[x509.ObjectIdentifier] = (),
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        issuer_name, issuer_key = issuer or (name, key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    sans: list[x509.GeneralName] = []
    for name in dict.fromkeys([*names, "127.0.0.1", "localhost"]):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("cctv-sentinel test CA", ca_key, None, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = issue(
        "cctv-sentinel test broker",
        server_key,
        (ca.subject, ca_key),
        sans=sans,
        usage=[ExtendedKeyUsageOID.SERVER_AUTH],
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = issue(
        "cctv-sentinel test client",
        client_key,
        (ca.subject, ca_key),
        usage=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    files = TlsFiles(
        ca_cert=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )
    pem = serialization.Encoding.PEM
    files.ca_cert.write_bytes(ca.public_bytes(pem))
    files.server_cert.write_bytes(server.public_bytes(pem))
    files.client_cert.write_bytes(client.public_bytes(pem))
    for path, key in ((files.server_key, server_key), (files.client_key, client_key)):
        path.touch(mode=0o600)
        path.write_bytes(key_pem(key))
    return files


def _check_listen_address(addr: str) -> None:
    """Only loopback or lab addresses: a test broker is never offered to a real LAN."""
    if ipaddress.ip_address(addr).is_loopback:
        return
    check_address(addr, "broker listener")


class Broker:
    """A mosquitto process with its own config, log and port; a context manager.

    `users` (name -> password) turns anonymous access off and writes a hashed
    password file; `acl` (name -> ["readwrite topic/#", "read x", ...]) adds an
    ACL file. `listeners` adds plain listeners ("198.18.0.5:1883"); `netns` runs
    the broker inside that namespace (`ip netns exec`). `tls=True` adds a TLS
    listener with a fresh CA (see :attr:`tls_files`). Passwords never reach the
    config, the log or repr.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        users: Mapping[str, str] | None = None,
        acl: Mapping[str, Sequence[str]] | None = None,
        allow_anonymous: bool | None = None,
        listeners: Sequence[str] = (),
        netns: str | None = None,
        tls: bool = False,
        require_client_cert: bool = False,
        persistence: bool = False,
        extra_config: Sequence[str] = (),
        workdir: Path | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        reason = mosquitto_unavailable_reason()
        if reason:
            raise BrokerError(reason)
        _check_listen_address(host)
        self.host = host
        self._fixed_port = port is not None
        self.port = port or _free_port()
        self.tls_port: int | None = _free_port({self.port}) if tls else None
        self.netns = netns
        self.extra_listeners = [self._parse_listener(item) for item in listeners]
        self.persistence = persistence
        self.require_client_cert = require_client_cert
        self.start_timeout = start_timeout
        self._users = dict(users or {})
        self._acl = {user: list(lines) for user, lines in (acl or {}).items()}
        self._allow_anonymous = not self._users if allow_anonymous is None else allow_anonymous
        self._extra_config = list(extra_config)
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="cst-broker-")) if workdir is None else workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.stderr_path = self.workdir / "mosquitto.stderr"
        self.tls_files: TlsFiles | None = None
        if tls:
            names = [host, *(addr for addr, _ in self.extra_listeners)]
            self.tls_files = _make_tls(self.workdir, names)
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Broker {self.url} {state} users={sorted(self._users)}>"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _parse_listener(item: str) -> tuple[str, int]:
        addr, _, port = item.rpartition(":")
        if not addr or not port.isdigit():
            raise ValueError(f"listener {item!r}: expected ADDRESS:PORT")
        addr = addr.strip("[]")
        _check_listen_address(addr)
        return addr, int(port)

    # addresses --------------------------------------------------------------------

    @property
    def url(self) -> str:
        """mqtt://host:port of the main listener."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str | None:
        """mqtts://host:port of the TLS listener, if any."""
        return f"mqtts://{self.host}:{self.tls_port}" if self.tls_port else None

    @property
    def running(self) -> bool:
        """Whether the mosquitto process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the running broker."""
        return self._proc.pid if self.running and self._proc else None

    def log_text(self) -> str:
        """The broker log so far (every start appends)."""
        try:
            return self.log_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    # config -------------------------------------------------------------------------

    def _write_config(self) -> None:
        user = pwd.getpwuid(os.geteuid()).pw_name
        lines = [
            "# written by tests/lab/broker.py",
            # Run as whoever started us: as root mosquitto would otherwise switch to
            # the `mosquitto` user and lose access to this private directory.
            f"user {user}",
            "per_listener_settings false",
            f"allow_anonymous {'true' if self._allow_anonymous else 'false'}",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            f"log_dest file {self.log_path}",
            "log_type all",
            "log_timestamp true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "connection_messages true",
            f"listener {self.port} {self.host}",
        ]
        lines += [f"listener {port} {addr}" for addr, port in self.extra_listeners]
        if self.tls_files and self.tls_port:
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {self.tls_files.ca_cert}",
                f"certfile {self.tls_files.server_cert}",
                f"keyfile {self.tls_files.server_key}",
                f"require_certificate {'true' if self.require_client_cert else 'false'}",
            ]
        if self._users:
            pw_path = self.workdir / "passwd"
            pw_path.touch(mode=0o600)
            pw_path.write_text("".join(_password_line(u, p) for u, p in self._users.items()))
            lines.append(f"password_file {pw_path}")
        if self._acl:
            acl_path = self.workdir / "acl"
            acl_lines: list[str] = []
            for acl_user, rules in self._acl.items():
                acl_lines.append(f"user {acl_user}")
                acl_lines += [f"topic {rule}" for rule in rules]
            acl_path.write_text("\n".join(acl_lines) + "\n")
            lines.append(f"acl_file {acl_path}")
        lines += self._extra_config
        self.config_path.write_text("\n".join(lines) + "\n")

    # lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start mosquitto (same ports as before) and wait until it listens."""
        if self.running:
            return
        attempts = 1 if self._fixed_port or self.starts else 4
        for attempt in range(attempts):
            self._write_config()
            try:
                self._spawn_and_wait()
            except BrokerError as err:
                # Ports were picked free a moment ago; another process may have
                # taken one since. Pick again (only before the first success, so a
                # restart never changes the port).
                if "Address already in use" in str(err) and attempt + 1 < attempts:
                    self.port = _free_port()
                    if self.tls_port:
                        self.tls_port = _free_port({self.port})
                    continue
                raise
            self.starts += 1
            return

    def _spawn_and_wait(self) -> None:
        binary = mosquitto_path()
        if binary is None:
            raise BrokerError(mosquitto_unavailable_reason() or "no mosquitto")
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        argv = [binary, "-c", str(self.config_path)]
        if self.netns:
            argv = [_IP_BIN, "netns", "exec", self.netns, *argv]
        with self.stderr_path.open("ab") as err:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            text = self._log_since(log_offset)
            # mosquitto logs "running" after every listener is bound and listening.
            if " running" in text:
                return
            code = self._proc.poll()
            if code is not None or time.monotonic() > deadline:
                if code is None:
                    procs.stop_popen(self._proc, grace=1.0)
                why = f"exited with code {code}" if code is not None else "timed out"
                stderr = self.stderr_path.read_text("utf-8", "replace")[-2000:]
                raise BrokerError(
                    f"mosquitto {why} on {self.url}\n--- log:\n{text[-3000:]}"
                    f"\n--- stderr:\n{stderr}"
                )
            time.sleep(0.01)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self, grace: float = 5.0) -> int | None:
        """Stop mosquitto (SIGTERM, SIGKILL after grace); return its exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        return procs.stop_popen(proc, grace=grace)

    def restart(self) -> None:
        """Stop and start again on the same port(s)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker and remove its private directory (unless given one)."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


ESTATE_QUEUE: tuple[str, ...] = ("max_queued_messages 100000",)
"""Per-client queue for estate brokers (docs/estate.md): a client subscribing to ``<base>/#``
on a central broker is handed every retained message at once, and Mosquitto's default of
1,000 queued messages per client drops the rest."""


def bridge_config(
    name: str, remote: Broker, topics: Sequence[str] = ("cctv_sentinel/#",)
) -> list[str]:
    """Config lines that bridge ``topics`` out of a site broker to ``remote`` (docs/estate.md).

    The same settings docs/estate.md recommends: QoS 1 out, a persistent session
    (``cleansession false``) so the site broker queues while the central broker is
    away, and a quick restart so a test does not wait for mosquitto's default 30 s.
    """
    return [
        f"connection {name}",
        f"address {remote.host}:{remote.port}",
        *(f"topic {topic} out 1" for topic in topics),
        "cleansession false",
        f"remote_clientid {name}",
        "try_private true",
        "notifications false",
        "keepalive_interval 5",
        "restart_timeout 1 2",
        *ESTATE_QUEUE,
    ]


# --- clients ------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One message as a subscriber received it."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    received: float
    """time.monotonic() at arrival."""

    @property
    def text(self) -> str:
        """Payload decoded as UTF-8 (replacing bad bytes)."""
        return self.payload.decode("utf-8", "replace")

    def json(self) -> Any:
        """Payload parsed as JSON."""
        return json.loads(self.payload)


def _client(
    *,
    client_id: str,
    username: str | None,
    password: str | None,
    tls_ca: Path | None,
    client_cert: tuple[Path, Path] | None,
    protocol: MQTTProtocolVersion | None,
) -> Any:
    # Imported here: only MQTT tests pay for paho.
    import paho.mqtt.client as mqtt  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: PLC0415

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol or MQTTProtocolVersion.MQTTv311,
    )
    if username is not None:
        client.username_pw_set(username, password)
    if tls_ca is not None:
        certfile, keyfile = client_cert or (None, None)
        client.tls_set(
            ca_certs=str(tls_ca),
            certfile=str(certfile) if certfile else None,
            keyfile=str(keyfile) if keyfile else None,
        )
    return client


def _endpoint(
    broker: Broker | None, host: str | None, port: int | None, tls: bool
) -> tuple[str, int, Path | None]:
    if broker is None:
        if host is None or port is None:
            raise ValueError("give a broker or host and port")
        return host, port, None
    if tls:
        if broker.tls_port is None or broker.tls_files is None:
            raise ValueError("the broker has no TLS listener")
        return host or broker.host, port or broker.tls_port, broker.tls_files.ca_cert
    return host or broker.host, port or broker.port, None


class Subscriber:
    """A paho-mqtt (v2 API) client that records every message per topic, thread-safe.

    Use as a context manager; start() returns once the subscription is
    acknowledged, so retained messages arrive before anything published later.
    """

    def __init__(
        self,
        broker: Broker | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        topics: Sequence[str] = ("#",),
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        tls_ca: Path | None = None,
        client_cert: tuple[Path, Path] | None = None,
        client_id: str | None = None,
        protocol: MQTTProtocolVersion | None = None,
        timeout: float = 10.0,
        max_messages: int = 100_000,
    ) -> None:
        self.host, self.port, ca = _endpoint(broker, host, port, tls)
        self.topics = list(topics)
        self.timeout = timeout
        self._max = max_messages
        self._cond = threading.Condition(threading.RLock())
        self._messages: list[Message] = []
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._error: str | None = None
        self._sub_mid: int | None = None
        self.dropped = 0
        self.client = _client(
            client_id=client_id or f"cst-sub-{secrets.token_hex(4)}",
            username=username,
            password=password,
            tls_ca=tls_ca or ca,
            client_cert=client_cert,
            protocol=protocol,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._error = f"CONNACK refused: {reason}"
            self._connected.set()
            return
        self._error = None
        result, mid = client.subscribe([(topic, 1) for topic in self.topics])
        self._sub_mid = mid
        if result != 0:
            self._error = f"SUBSCRIBE failed: rc={result}"
        self._connected.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if not self._connected.is_set():
            self._error = f"disconnected before CONNACK: {reason}"
            self._connected.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            self._error = f"SUBACK refused: {failed}"
        self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        message = Message(
            topic=msg.topic,
            payload=bytes(msg.payload),
            retain=bool(msg.retain),
            qos=int(msg.qos),
            received=time.monotonic(),
        )
        with self._cond:
            if len(self._messages) >= self._max:
                self.dropped += 1
            else:
                self._messages.append(message)
            self._cond.notify_all()

    # lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Connect, subscribe and wait for SUBACK; raise BrokerError on refusal."""
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as err:
            raise BrokerError(f"cannot connect to {self.host}:{self.port}: {err}") from err
        self.client.loop_start()
        ok = self._connected.wait(self.timeout) and not self._error
        ok = ok and self._subscribed.wait(self.timeout) and not self._error
        if not ok:
            error = self._error or f"no CONNACK/SUBACK within {self.timeout}s"
            self.stop()
            raise BrokerError(f"{self.host}:{self.port}: {error}")

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()

    # reading ---------------------------------------------------------------------------

    def messages(self, topic: str | None = None) -> list[Message]:
        """Every message received (for one topic if given), oldest first."""
        with self._cond:
            return [m for m in self._messages if topic is None or m.topic == topic]

    def topics_seen(self) -> set[str]:
        """Topics that delivered at least one message."""
        with self._cond:
            return {m.topic for m in self._messages}

    def last(self, topic: str) -> Message | None:
        """The latest message on a topic, or None."""
        found = self.messages(topic)
        return found[-1] if found else None

    def retained(self) -> dict[str, Message]:
        """Messages delivered with the retain flag (as stored at subscribe time), per topic.

        An empty retained payload is a deletion and removes the topic.
        """
        result: dict[str, Message] = {}
        for message in self.messages():
            if message.retain:
                if message.payload:
                    result[message.topic] = message
                else:
                    result.pop(message.topic, None)
        return result

    def state(self) -> dict[str, bytes]:
        """Latest payload per topic, retained or live; an empty payload deletes."""
        result: dict[str, bytes] = {}
        for message in self.messages():
            if message.payload:
                result[message.topic] = message.payload
            else:
                result.pop(message.topic, None)
        return result

    def clear(self) -> None:
        """Forget everything received so far."""
        with self._cond:
            self._messages.clear()

    def wait_for(
        self, predicate: Callable[[Subscriber], _T | None], timeout: float | None = None
    ) -> _T:
        """Wait until predicate(self) is truthy and return its value.

        Raises TimeoutError listing the topics seen, so a failing test says why.
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted(self.topics_seen())
                    raise TimeoutError(
                        f"condition not met within {limit:.1f}s;"
                        f" {len(self._messages)} messages on {seen[:20]}"
                    )
                self._cond.wait(remaining)

    def wait_for_message(
        self,
        topic: str,
        match: Callable[[Message], bool] | None = None,
        *,
        timeout: float | None = None,
        after: float | None = None,
    ) -> Message:
        """Wait for a message on topic (received after `after`, matching `match`)."""

        def find(sub: Subscriber) -> Message | None:
            for message in reversed(sub.messages(topic)):
                if after is not None and message.received < after:
                    continue
                if match is None or match(message):
                    return message
            return None

        return self.wait_for(find, timeout)


def publish(
    broker: Broker | None = None,
    topic: str = "",
    payload: bytes | str = b"",
    *,
    retain: bool = False,
    qos: int = 1,
    host: str | None = None,
    port: int | None = None,
    username: str | None = None,
    password: str | None = None,
    tls: bool = False,
    client_cert: tuple[Path, Path] | None = None,
    timeout: float = 10.0,
) -> None:
    """Publish one message and wait until the broker acknowledged it (qos >= 1)."""
    target_host, target_port, ca = _endpoint(broker, host, port, tls)
    client = _client(
        client_id=f"cst-pub-{secrets.token_hex(4)}",
        username=username,
        password=password,
        tls_ca=ca,
        client_cert=client_cert,
        protocol=None,
    )
    connected = threading.Event()
    refusal: list[str] = []

    def on_connect(c: Any, u: Any, f: Any, reason: Any, p: Any) -> None:
        if reason.is_failure:
            refusal.append(str(reason))
        connected.set()

    def on_disconnect(c: Any, u: Any, f: Any, reason: Any, p: Any) -> None:
        # E.g. a TLS listener that wants a client certificate hangs up after
        # the handshake instead of sending a CONNACK.
        if not connected.is_set():
            refusal.append(f"disconnected before CONNACK: {reason}")
            connected.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(target_host, target_port, keepalive=30)
    except OSError as err:
        raise BrokerError(f"cannot connect to {target_host}:{target_port}: {err}") from err
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise BrokerError(f"no CONNACK from {target_host}:{target_port}")
        if refusal:
            raise BrokerError(f"CONNACK refused: {refusal[0]}")
        info = client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise BrokerError(f"publish to {topic!r} not acknowledged within {timeout}s")
    finally:
        client.disconnect()
        client.loop_stop()
