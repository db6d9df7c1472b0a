"""paho-mqtt (v2 API) driven by the asyncio event loop: no network thread, no polling.

paho's socket joins the event loop through its socket callbacks
(``loop.add_reader``/``add_writer``); paho's own timers (keepalive pings) run
from one ``call_later`` a second; PUBACKs and SUBACKs become futures keyed by
message id. Only opening the connection (name lookup, TCP connect, TLS
handshake, all blocking inside paho) runs in a worker thread, before the
socket is handed to the loop, so nothing ever blocks the loop.

This is the only module that imports paho. It reconnects with exponential
backoff and jitter, sets the last will, and speaks MQTT 3.1.1 or 5, with or
without TLS (CA, client certificate) and user name/password.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from cctv_sentinel._util.secret import Secret
from cctv_sentinel.errors import MqttError

_LOG = logging.getLogger(__name__)

MISC_INTERVAL: Final = 1.0
"""Seconds between paho's housekeeping calls (keepalive pings, ping timeouts).

paho sends a PINGREQ when nothing went out for ``keepalive`` seconds; a 1 s
tick keeps that within a second of due for any keepalive >= 5 s.
"""

MAX_INCOMING_PACKET: Final = 64 * 1024
"""Largest packet the agent accepts (MQTT 5 Maximum Packet Size): it only receives
commands, which are a few hundred bytes; the broker drops anything larger for us."""

MAX_INFLIGHT: Final = 256
"""QoS 1 messages paho may have unacknowledged at once (the publisher's window is smaller)."""


class MqttPermanentError(MqttError):
    """A failure that retrying cannot cure: the TLS setup or the credentials are wrong."""


_PERMANENT_REASONS: Final = (
    "not authorized",
    "bad user name or password",
    "banned",
    "bad authentication method",
    "client identifier not valid",
    "unsupported protocol version",
)
"""CONNACK reasons (MQTT 5 names; paho maps 3.1.1 return codes to them) that will not change."""

MessageHandler = Callable[[str, bytes, bool], None]
"""Called in the event loop with (topic, payload, retained) for each message received."""


@dataclass(frozen=True, slots=True)
class Will:
    """The last will: what the broker publishes if we vanish without saying goodbye."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def broker_url(*, host: str, port: int, tls: bool, username: str | None) -> str:
    """A broker as a URL for people and logs: the user name, never the password."""
    scheme = "mqtts" if tls else "mqtt"
    user = f"{username}@" if username else ""
    shown_host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{user}{shown_host}:{port}"


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How to reach the broker, and the timing of (re)connection and acks."""

    host: str
    port: int = 1883
    client_id: str = ""
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    keepalive: int = 60
    username: str | None = None
    password: Secret | None = None
    tls: bool = False
    ca: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    insecure: bool = False
    """Skip the host-name check (the certificate must still chain to the CA)."""
    will: Will | None = None
    connect_timeout: float = 10.0
    ack_timeout: float = 30.0
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0

    @property
    def url(self) -> str:
        """The broker as a URL, with the user name but never the password."""
        return broker_url(host=self.host, port=self.port, tls=self.tls, username=self.username)


def backoff(attempt: int, low: float, high: float, rng: random.Random | None = None) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): exponential, capped, jittered.

    The jitter (50-100 % of the step) keeps many agents from reconnecting in
    step after a broker restart.
    """
    step = min(high, low * 2.0 ** min(attempt, 30))
    jitter = rng.uniform(0.5, 1.0) if rng is not None else random.uniform(0.5, 1.0)  # noqa: S311
    return step * jitter


def _reason_text(reason: ReasonCode | int | None) -> str:
    if reason is None:
        return "unknown reason"
    if isinstance(reason, ReasonCode):
        return str(reason)
    return paho.error_string(reason)


class MqttClient:
    """One MQTT session at a time, reconnected forever by :meth:`run`."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        on_message: MessageHandler | None = None,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._client: paho.Client | None = None
        self._fd: int | None = None
        self._misc: asyncio.TimerHandle | None = None
        self._connack: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[str] | None = None
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._subacks: dict[int, asyncio.Future[None]] = {}
        self._connected = asyncio.Event()
        self._stopping = False
        self._connect_task: asyncio.Task[None] | None = None
        self._rng = random.Random()  # noqa: S311  (jitter, not cryptography)
        self.connections = 0
        """Successful connections so far (tests and benchmarks read it)."""
        self.last_error: str | None = None

    # --- state ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True between CONNACK and the loss of the connection."""
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until connected (raise TimeoutError after ``timeout``)."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    @property
    def stopping(self) -> bool:
        """True once :meth:`disconnect` was called."""
        return self._stopping

    def _in_loop(self) -> bool:
        return threading.get_ident() == self._loop_thread

    # --- paho callbacks (all in the loop thread, except while connecting) -------------

    def _socket_register_write(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        # Called from the connecting thread too; the socket is attached (and a
        # pending write noticed) only once the loop owns it.
        if self._in_loop() and client is self._client and self._fd is not None and self._loop:
            self._loop.add_writer(self._fd, self._do_write)

    def _socket_unregister_write(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        if self._in_loop() and client is self._client and self._fd is not None and self._loop:
            self._loop.remove_writer(self._fd)

    def _socket_close(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        if self._in_loop() and client is self._client:
            self._detach()

    def _paho_connect(
        self,
        client: paho.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        future = self._connack
        if client is not self._client or future is None or future.done():
            return
        if reason.is_failure:
            text = f"the broker refused the connection: {reason}"
            permanent = str(reason).lower() in _PERMANENT_REASONS
            future.set_exception(MqttPermanentError(text) if permanent else MqttError(text))
        else:
            future.set_result(None)

    def _paho_disconnect(
        self,
        client: paho.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode | int | None,
        _properties: Any,
    ) -> None:
        if client is not self._client:
            return
        text = _reason_text(reason)
        self._fail_pending(MqttError(f"connection lost: {text}"))
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(MqttError(f"connection closed before CONNACK: {text}"))
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(text)
        self._connected.clear()
        self._detach()

    def _paho_publish(
        self, _client: paho.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        future = self._acks.pop(mid, None)
        if future is None or future.done():
            return
        if reason.is_failure:
            future.set_exception(MqttError(f"the broker did not accept the message: {reason}"))
        else:
            future.set_result(None)

    def _paho_subscribe(
        self,
        _client: paho.Client,
        _userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        _properties: Any,
    ) -> None:
        future = self._subacks.pop(mid, None)
        if future is None or future.done():
            return
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            future.set_exception(MqttError(f"the broker refused the subscription: {failed[0]}"))
        else:
            future.set_result(None)

    def _paho_message(
        self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage
    ) -> None:
        if self._on_message is None:
            return
        try:
            topic = message.topic
            self._on_message(topic, bytes(message.payload), bool(message.retain))
        except Exception:  # noqa: BLE001  (a bad message or handler must not break the session)
            _LOG.warning("an incoming MQTT message could not be handled", exc_info=True)

    # --- the socket in the loop ------------------------------------------------------

    def _do_read(self) -> None:
        client = self._client
        if client is None:
            return
        rc = client.loop_read()
        # TLS keeps decrypted bytes inside the SSL object, where the file
        # descriptor does not show them: drain them now or they wait forever.
        sock = client.socket()
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and isinstance(sock, ssl.SSLSocket):
            if not sock.pending() or client is not self._client:
                break
            rc = client.loop_read()
            sock = client.socket()

    def _do_write(self) -> None:
        if self._client is not None:
            self._client.loop_write()

    def _do_misc(self) -> None:
        self._misc = None
        client = self._client
        if client is None or self._fd is None or self._loop is None:
            return
        client.loop_misc()
        if self._attached(client):
            self._misc = self._loop.call_later(MISC_INTERVAL, self._do_misc)

    def _attached(self, client: paho.Client) -> bool:
        """True while ``client`` is the session whose socket the loop watches."""
        return self._fd is not None and client is self._client

    def _attach(self, client: paho.Client) -> None:
        loop = self._require_loop()
        sock = client.socket()
        if sock is None:
            raise MqttError("the connection closed while it was being set up")
        self._fd = sock.fileno()
        loop.add_reader(self._fd, self._do_read)
        if client.want_write():
            loop.add_writer(self._fd, self._do_write)
        self._misc = loop.call_later(MISC_INTERVAL, self._do_misc)

    def _detach(self) -> None:
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        fd, self._fd = self._fd, None
        if fd is not None and self._loop is not None:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise MqttError("the client is not running (call run() first)")
        return self._loop

    def _fail_pending(self, error: MqttError) -> None:
        for table in (self._acks, self._subacks):
            for future in table.values():
                if not future.done():
                    future.set_exception(error)
            table.clear()

    # --- connecting ------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        """A configured paho client (in the worker thread: reads TLS files)."""
        s = self.settings
        v5 = s.protocol == "5"
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else True,
            reconnect_on_failure=False,
        )
        client.connect_timeout = s.connect_timeout
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(0)
        if s.username is not None:
            client.username_pw_set(s.username, s.password.reveal() if s.password else None)
        if s.will is not None:
            client.will_set(s.will.topic, s.will.payload, qos=s.will.qos, retain=s.will.retain)
        if s.tls:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=str(s.ca) if s.ca else None
            )
            if s.certfile is not None:
                context.load_cert_chain(
                    str(s.certfile), str(s.keyfile) if s.keyfile is not None else None
                )
            # Python 3.13 made RFC 5280 strictness the default; many broker CAs made
            # with the usual openssl recipes lack the Authority Key Identifier it
            # demands. The chain and the host name are still checked, as paho does.
            context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
            if s.insecure:
                context.check_hostname = False
            client.tls_set_context(context)
        client.on_connect = self._paho_connect
        client.on_disconnect = self._paho_disconnect
        client.on_publish = self._paho_publish
        client.on_subscribe = self._paho_subscribe
        client.on_message = self._paho_message
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._socket_register_write
        client.on_socket_unregister_write = self._socket_unregister_write
        return client

    def _blocking_connect(self) -> paho.Client:
        """Open the TCP (and TLS) connection and queue CONNECT; runs in a worker thread."""
        s = self.settings
        try:
            client = self._make_client()
            if s.protocol == "5":
                properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                properties.MaximumPacketSize = MAX_INCOMING_PACKET
                client.connect(s.host, s.port, s.keepalive, clean_start=True, properties=properties)
            else:
                client.connect(s.host, s.port, s.keepalive)
        except ssl.SSLCertVerificationError as err:
            detail = err.verify_message or err.reason or err
            raise MqttPermanentError(f"TLS with {s.url} failed: {detail}") from err
        except ssl.SSLError as err:
            # A CA file that is not PEM, a key that does not fit, no shared protocol:
            # the files or the broker's set-up must change before a retry can work.
            raise MqttPermanentError(f"TLS with {s.url} failed: {err.reason or err}") from err
        except OSError as err:
            raise MqttError(f"cannot connect to {s.url}: {err.strerror or err}") from err
        except ValueError as err:  # bad host, or a certificate that does not match it
            raise MqttPermanentError(f"cannot connect to {s.url}: {err}") from err
        return client

    @staticmethod
    def _abandon(future: asyncio.Future[paho.Client]) -> None:
        """Close a connection that finished opening after we stopped waiting for it."""
        if future.cancelled() or future.exception() is not None:
            return
        sock = future.result().socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    async def _connect_once(self) -> None:
        loop = self._require_loop()
        future = loop.run_in_executor(None, self._blocking_connect)
        try:
            client = await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(self._abandon)
            raise
        self._client = client
        self._connack = loop.create_future()
        self._lost = loop.create_future()
        try:
            self._attach(client)
            async with asyncio.timeout(self.settings.connect_timeout):
                await self._connack
        except (MqttError, TimeoutError) as err:
            self._drop(client)
            if isinstance(err, TimeoutError):
                raise MqttError(f"no CONNACK from {self.settings.url}") from None
            raise
        except asyncio.CancelledError:
            self._drop(client)
            raise

    def _drop(self, client: paho.Client) -> None:
        """Forget a session without a goodbye (the broker then sends our last will)."""
        self._detach()
        sock = client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        if self._client is client:
            self._client = None
        self._connected.clear()
        self._fail_pending(MqttError("connection closed"))

    async def run(self) -> None:
        """Connect, stay connected, reconnect with backoff; return after :meth:`disconnect`."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping = False
        attempt = 0
        try:
            while not self._stopping:
                try:
                    await self._connect_once()
                except MqttPermanentError as err:
                    self.last_error = str(err)
                    _LOG.error("%s: a permanent error, not retrying", err)
                    raise
                except MqttError as err:
                    self._note_failure(str(err), attempt)
                    delay = backoff(
                        attempt, self.settings.reconnect_min, self.settings.reconnect_max, self._rng
                    )
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                attempt = 0
                if self.stopping:  # disconnect() came while we were connecting
                    assert self._client is not None
                    self._client.disconnect()
                    break
                await self._session()
                if not self._stopping:
                    # Give a restarting broker a moment, and never spin.
                    await asyncio.sleep(
                        backoff(
                            0, self.settings.reconnect_min, self.settings.reconnect_max, self._rng
                        )
                    )
        finally:
            client = self._client
            if client is not None:
                self._drop(client)

    async def _session(self) -> None:
        """One connected session: announce it, then wait until it ends."""
        assert self._lost is not None
        lost = self._lost
        self.connections += 1
        self.last_error = None
        self._connected.set()
        _LOG.info("connected to %s (MQTT %s)", self.settings.url, self.settings.protocol)
        task = asyncio.create_task(self._run_on_connect(), name="mqtt on_connect")
        try:
            reason = await lost
        finally:
            self._connected.clear()
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._on_disconnect is not None:
            self._on_disconnect(reason)
        if not self._stopping:
            _LOG.warning("lost the connection to %s (%s); reconnecting", self.settings.url, reason)

    async def _run_on_connect(self) -> None:
        if self._on_connect is None:
            return
        try:
            await self._on_connect()
        except MqttError as err:
            _LOG.info("setting up the MQTT session did not finish: %s", err)
        except Exception:  # noqa: BLE001  (task boundary: log, keep the session)
            _LOG.exception("setting up the MQTT session failed")

    async def probe(self, timeout: float = 10.0) -> None:
        """Connect once (TCP, TLS, credentials, CONNACK) and say goodbye; raise MqttError."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        try:
            async with asyncio.timeout(timeout):
                await self._connect_once()
        except TimeoutError:
            raise MqttError(f"no answer from {self.settings.url} within {timeout:g} s") from None
        self._connected.set()
        await self.disconnect()
        client = self._client
        if client is not None:
            self._drop(client)

    def _note_failure(self, message: str, attempt: int) -> None:
        if message != self.last_error:
            _LOG.warning("%s (a transient error); retrying with backoff", message)
        else:
            _LOG.debug("%s (attempt %d)", message, attempt + 1)
        self.last_error = message

    # --- operations --------------------------------------------------------------------

    def _session_client(self) -> paho.Client:
        client = self._client
        if client is None or not self._connected.is_set():
            raise MqttError(f"not connected to {self.settings.url}")
        return client

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish and wait for the broker's PUBACK (QoS 1); raise MqttError otherwise."""
        client = self._session_client()
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise MqttError(f"cannot publish to {topic}: {paho.error_string(info.rc)}")
        if qos == 0:
            return
        future = self._acks.setdefault(info.mid, self._require_loop().create_future())
        try:
            async with asyncio.timeout(self.settings.ack_timeout):
                await future
        except TimeoutError:
            raise MqttError(
                f"no PUBACK for {topic} within {self.settings.ack_timeout:g} s"
            ) from None
        finally:
            if self._acks.get(info.mid) is future:
                del self._acks[info.mid]

    async def subscribe(
        self, topic: str, qos: int = 1, *, retain_as_published: bool = False
    ) -> None:
        """Subscribe and wait for the SUBACK; raise MqttError when refused.

        ``retain_as_published`` (MQTT 5 only; 3.1.1 brokers always clear the flag
        on live messages) delivers live messages with the retain flag they were
        published with.
        """
        client = self._session_client()
        if self.settings.protocol == "5":
            options = SubscribeOptions(qos=qos, retainAsPublished=retain_as_published)
            rc, mid = client.subscribe(topic, options=options)
        else:
            rc, mid = client.subscribe(topic, qos=qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise MqttError(f"cannot subscribe to {topic}: {paho.error_string(rc)}")
        future = self._subacks.setdefault(mid, self._require_loop().create_future())
        try:
            async with asyncio.timeout(self.settings.ack_timeout):
                await future
        except TimeoutError:
            raise MqttError(f"no SUBACK for {topic}") from None
        finally:
            self._subacks.pop(mid, None)

    async def disconnect(self, timeout: float = 5.0) -> None:
        """Say goodbye (no last will is sent) and make :meth:`run` return."""
        self._stopping = True
        client, lost = self._client, self._lost
        if client is None or lost is None or lost.done() or not self._connected.is_set():
            return
        client.disconnect()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(lost)
