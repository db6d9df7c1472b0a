"""The paho-on-asyncio client against a real Mosquitto: acks, last will, reconnect, TLS, auth."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import AsyncIterator

import pytest

from cctv_sentinel._util.secret import Secret
from cctv_sentinel.errors import MqttError
from cctv_sentinel.mqtt.client import (
    MqttClient,
    MqttPermanentError,
    MqttSettings,
    Will,
    backoff,
)
from tests.lab.broker import Broker, Subscriber, publish

STATUS = "t/agent/status"


def settings_for(broker: Broker, **kw) -> MqttSettings:
    kw.setdefault("host", broker.host)
    kw.setdefault("port", broker.port)
    kw.setdefault("client_id", "cst-agent")
    kw.setdefault("will", Will(STATUS, b"offline"))
    kw.setdefault("reconnect_min", 0.05)
    kw.setdefault("reconnect_max", 0.2)
    kw.setdefault("connect_timeout", 5.0)
    return MqttSettings(**kw)


@contextlib.asynccontextmanager
async def running(client: MqttClient, *, wait: bool = True) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(client.run())
    try:
        if wait:
            await client.wait_connected(10)
        yield task
    finally:
        await client.disconnect(timeout=2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, MqttPermanentError):
            await task


async def wait_for(sub: Subscriber, predicate, timeout: float = 10.0):
    return await asyncio.to_thread(sub.wait_for, predicate, timeout)


async def test_qos1_publishes_are_acknowledged_and_retained(broker):
    client = MqttClient(settings_for(broker))
    async with running(client):
        await asyncio.gather(
            *(client.publish(f"t/cam/{i}", b"x%d" % i, retain=True) for i in range(200))
        )
    with Subscriber(broker, topics=["t/cam/#"]) as sub:
        retained = await wait_for(sub, lambda s: len(s.retained()) == 200 and s.retained())
    assert retained["t/cam/7"].payload == b"x7"
    assert all(m.qos == 1 for m in retained.values())


async def test_no_network_thread_is_started(broker):
    before = {t.ident for t in threading.enumerate()}
    client = MqttClient(settings_for(broker))
    async with running(client):
        await client.publish("t/x", b"1")
        extra = [t for t in threading.enumerate() if t.ident not in before]
        # Only the executor's worker that opened the connection, parked idle.
        assert not any("paho" in t.name for t in extra), extra
        assert all(t.name.startswith(("asyncio_", "ThreadPoolExecutor")) for t in extra), extra


async def test_messages_are_delivered_to_the_handler(broker):
    got: list[tuple[str, bytes, bool]] = []
    subscribed = asyncio.Event()
    client: MqttClient

    async def on_connect() -> None:
        await client.subscribe("t/cmd")
        subscribed.set()

    client = MqttClient(
        settings_for(broker), on_message=lambda *m: got.append(m), on_connect=on_connect
    )
    async with running(client):
        await asyncio.wait_for(subscribed.wait(), 10)
        await asyncio.to_thread(publish, broker, "t/cmd", b"hello")
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
    assert got == [("t/cmd", b"hello", False)]


async def test_a_failing_message_handler_does_not_break_the_session(broker):
    calls = 0
    ready = asyncio.Event()
    client: MqttClient

    def handler(topic: str, payload: bytes, retain: bool) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad handler")

    async def on_connect() -> None:
        await client.subscribe("t/cmd")
        ready.set()

    client = MqttClient(settings_for(broker), on_message=handler, on_connect=on_connect)
    async with running(client):
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.to_thread(publish, broker, "t/cmd", b"1")
        await asyncio.to_thread(publish, broker, "t/cmd", b"2")
        await client.publish("t/still-alive", b"yes")
        assert client.connections == 1
    assert calls == 2


async def test_abrupt_loss_sends_the_last_will_and_a_goodbye_does_not(broker):
    with Subscriber(broker, topics=[STATUS]) as sub:
        client = MqttClient(settings_for(broker))
        task = asyncio.create_task(client.run())
        await client.wait_connected(10)
        await client.publish(STATUS, b"online", retain=True)
        task.cancel()  # no DISCONNECT: like a crash
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await wait_for(sub, lambda s: s.last(STATUS) and s.last(STATUS).payload == b"offline")

        sub.clear()
        polite = MqttClient(settings_for(broker))
        async with running(polite):
            await polite.publish(STATUS, b"online", retain=True)
        await wait_for(sub, lambda s: s.last(STATUS) and s.last(STATUS).payload == b"online")
        await asyncio.sleep(0.3)
        assert [m.payload for m in sub.messages(STATUS)] == [b"online"]


async def test_reconnects_after_the_broker_restarts(broker):
    sessions = 0

    async def on_connect() -> None:
        nonlocal sessions
        sessions += 1

    lost: list[str] = []
    client = MqttClient(settings_for(broker), on_connect=on_connect, on_disconnect=lost.append)
    async with running(client):
        await asyncio.to_thread(broker.stop)
        for _ in range(200):
            if not client.connected:
                break
            await asyncio.sleep(0.02)
        assert not client.connected
        with pytest.raises(MqttError, match="not connected"):
            await client.publish("t/x", b"1")
        await asyncio.to_thread(broker.start)
        await client.wait_connected(15)
        await client.publish("t/x", b"after")
        assert client.connections == 2
        assert sessions == 2
        assert len(lost) == 1


async def test_keeps_retrying_while_nobody_listens(tmp_path):
    broker = Broker(workdir=tmp_path / "b")  # port chosen, nothing started yet
    client = MqttClient(settings_for(broker))
    try:
        async with running(client, wait=False):
            for _ in range(200):
                if client.last_error:
                    break
                await asyncio.sleep(0.02)
            assert client.last_error is not None
            assert "cannot connect to mqtt://127.0.0.1" in client.last_error
            await asyncio.to_thread(broker.start)
            await client.wait_connected(15)
            assert client.last_error is None
    finally:
        broker.close()


@pytest.mark.parametrize(("protocol", "marker"), [("3.1.1", "p2"), ("5", "p5")])
async def test_speaks_mqtt_311_and_5(broker, protocol, marker):
    # mosquitto logs its protocol enum: p2 is MQTT 3.1.1, p5 is MQTT 5.
    client = MqttClient(settings_for(broker, protocol=protocol, client_id=f"cst-{protocol}"))
    async with running(client):
        await client.publish("t/proto", protocol.encode(), retain=True)
    log = broker.log_text()
    line = next(line for line in log.splitlines() if f"as cst-{protocol} " in line)
    assert f"({marker}," in line, line


async def test_keepalive_pings_hold_an_idle_session(broker):
    client = MqttClient(settings_for(broker, keepalive=1))
    async with running(client):
        await asyncio.sleep(3.5)  # mosquitto drops a silent client after 1.5 keepalives
        assert client.connected
        assert client.connections == 1
    assert "Received PINGREQ from cst-agent" in broker.log_text()


async def test_username_and_password(broker_factory):
    broker = broker_factory(users={"agent": "right-password"})
    wrong = MqttClient(
        settings_for(broker, username="agent", password=Secret("wrong"), client_id="cst-wrong")
    )
    async with running(wrong, wait=False) as task:
        # A bad password is permanent: run() stops instead of retrying forever.
        with pytest.raises(MqttPermanentError):
            await asyncio.wait_for(asyncio.shield(task), 10)
    assert wrong.last_error is not None
    assert "refused the connection" in wrong.last_error
    assert "wrong" not in wrong.last_error
    right = MqttClient(settings_for(broker, username="agent", password=Secret("right-password")))
    async with running(right):
        await right.publish("t/auth", b"ok")


async def test_tls_with_a_ca_and_client_certificate(broker_factory):
    broker = broker_factory(tls=True, require_client_cert=True)
    files = broker.tls_files
    assert files is not None
    assert broker.tls_port is not None
    tls = {"port": broker.tls_port, "tls": True, "ca": files.ca_cert}

    no_cert = MqttClient(settings_for(broker, client_id="cst-nocert", **tls))
    async with running(no_cert, wait=False):
        for _ in range(250):
            if no_cert.last_error:
                break
            await asyncio.sleep(0.02)
    assert no_cert.last_error is not None

    good = MqttClient(
        settings_for(broker, certfile=files.client_cert, keyfile=files.client_key, **tls)
    )
    async with running(good):
        await good.publish("t/tls", b"secure", retain=True)
    with Subscriber(
        broker, topics=["t/tls"], tls=True, client_cert=(files.client_cert, files.client_key)
    ) as sub:
        msg = await wait_for(sub, lambda s: s.last("t/tls"))
    assert msg.payload == b"secure"


async def test_tls_refuses_an_unknown_ca(broker_factory):
    broker = broker_factory(tls=True)
    assert broker.tls_port is not None
    client = MqttClient(settings_for(broker, port=broker.tls_port, tls=True))  # system CAs only
    async with running(client, wait=False) as task:
        with pytest.raises(MqttPermanentError):
            await asyncio.wait_for(asyncio.shield(task), 10)
    assert client.last_error is not None
    assert "TLS with mqtts://127.0.0.1" in client.last_error
    assert "CERTIFICATE_VERIFY_FAILED" in client.last_error or "certificate" in client.last_error


def test_backoff_grows_caps_and_jitters():
    rng = random.Random(7)
    delays = [backoff(n, 1.0, 60.0, rng) for n in range(10)]
    assert all(0.5 <= d <= 1.0 for d in delays[:1])
    assert all(d <= 60.0 for d in delays)
    assert delays[9] >= 30.0
    assert len({round(backoff(3, 1.0, 60.0, rng), 6) for _ in range(5)}) > 1


async def test_mqtt5_oversized_messages_never_reach_the_agent(broker):
    got: list[bytes] = []
    ready = asyncio.Event()
    client: MqttClient

    async def on_connect() -> None:
        await client.subscribe("t/cmd")
        ready.set()

    client = MqttClient(
        settings_for(broker, protocol="5"),
        on_message=lambda _t, payload, _r: got.append(payload),
        on_connect=on_connect,
    )
    async with running(client):
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.to_thread(publish, broker, "t/cmd", b"x" * (200 * 1024))
        await asyncio.to_thread(publish, broker, "t/cmd", b"small")
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert client.connected
    assert got == [b"small"]
