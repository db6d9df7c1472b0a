"""The publisher keeps the broker's retained state equal to the agent's, through restarts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from cctv_sentinel.mqtt.client import MqttClient, MqttSettings
from cctv_sentinel.mqtt.publisher import Publisher
from tests.lab.broker import Broker, Subscriber


@contextlib.asynccontextmanager
async def session(
    broker: Broker, reconnect_min: float = 0.05, **kw
) -> AsyncIterator[tuple[MqttClient, Publisher]]:
    publisher: Publisher

    async def on_connect() -> None:
        publisher.connected()

    client = MqttClient(
        MqttSettings(
            host=broker.host,
            port=broker.port,
            client_id="cst-pub",
            reconnect_min=reconnect_min,
            reconnect_max=max(0.2, reconnect_min),
        ),
        on_connect=on_connect,
        on_disconnect=lambda _r: publisher.disconnected(),
    )
    publisher = Publisher(client, **kw)
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(publisher.run())]
    try:
        await client.wait_connected(10)
        yield client, publisher
    finally:
        await client.disconnect(timeout=2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def settle(sub: Subscriber, predicate, timeout: float = 10.0):
    return await asyncio.to_thread(sub.wait_for, predicate, timeout)


async def test_only_what_changed_is_published(broker):
    with Subscriber(broker, topics=["s/#"]) as sub:
        async with session(broker) as (_client, publisher):
            assert publisher.retain("s/a", b"1")
            assert publisher.retain("s/b", b"1")
            assert await publisher.flush(10)
            assert not publisher.retain("s/a", b"1")  # same payload: not news
            publisher.retain("s/a", b"2")
            publisher.retain("s/b", b"1")
            assert await publisher.flush(10)
            assert publisher.published == 3
        await settle(sub, lambda s: [m.payload for m in s.messages("s/a")] == [b"1", b"2"])
        assert [m.payload for m in sub.messages("s/b")] == [b"1"]


async def test_an_empty_payload_removes_the_topic(broker):
    async with session(broker) as (_client, publisher):
        publisher.retain("s/cam/1", b"one")
        publisher.retain("s/cam/2", b"two")
        assert await publisher.flush(10)
        publisher.retain("s/cam/1", b"")
        assert await publisher.flush(10)
        assert publisher.desired("s/cam/1") is None  # acknowledged removals are forgotten
    with Subscriber(broker, topics=["s/#"]) as late:
        await settle(late, lambda s: "s/cam/2" in s.retained())
        await asyncio.sleep(0.2)
        assert set(late.retained()) == {"s/cam/2"}


async def test_a_changed_mind_ends_with_the_last_word(broker):
    async with session(broker) as (_client, publisher):
        for value in range(50):
            publisher.retain("s/flip", str(value).encode())
            await asyncio.sleep(0)
        assert await publisher.flush(10)
    with Subscriber(broker, topics=["s/flip"]) as late:
        msg = await settle(late, lambda s: s.last("s/flip"))
    assert msg.payload == b"49"


async def test_retained_state_is_complete_again_after_a_broker_restart(broker):
    order = {"s/announce": 0, "s/info": 1}
    async with session(broker, order=lambda t: order.get(t, 2)) as (client, publisher):
        publisher.retain("s/cam/gone", b"soon gone")
        for i in range(30):
            publisher.retain(f"s/cam/{i}", b"camera %d" % i)
        publisher.retain("s/info", b"info")
        publisher.retain("s/announce", b"hello")
        publisher.retain("s/cam/gone", b"")
        assert await publisher.flush(10)

        await asyncio.to_thread(broker.restart)  # no persistence: every retained message is lost
        with Subscriber(broker, topics=["s/#"]) as sub:
            await client.wait_connected(15)
            assert client.connections == 2
            retained_first = await settle(sub, lambda s: len(s.messages()) >= 32 and s.messages())
            assert await publisher.flush(10)
        assert [m.topic for m in retained_first[:2]] == ["s/announce", "s/info"]
        topics = [m.topic for m in sub.messages()]
        assert len(topics) == len(set(topics)) == 32  # each once, nothing stale
        assert "s/cam/gone" not in topics


async def test_events_wait_for_the_broker_and_arrive_once_in_order(broker):
    # The agent waits at least 1 s before reconnecting, so a fresh subscriber is
    # in place first (events are not retained: only a listener present gets them).
    async with session(broker, reconnect_min=2.0) as (client, publisher):
        with Subscriber(broker, topics=["s/event"]) as before:
            publisher.send("s/event", b"0")
            assert await publisher.flush(10)
            await settle(before, lambda s: s.last("s/event"))
        await asyncio.to_thread(broker.stop)
        for _ in range(200):
            if not client.connected:
                break
            await asyncio.sleep(0.02)
        for i in range(1, 11):
            publisher.send("s/event", str(i).encode())
        assert not await publisher.flush(0.3)
        assert publisher.pending == 10
        await asyncio.to_thread(broker.start)
        with Subscriber(broker, topics=["s/event"]) as after:
            await client.wait_connected(15)
            assert await publisher.flush(10)
            payloads = await settle(
                after, lambda s: len(s.messages()) >= 10 and [m.payload for m in s.messages()]
            )
            await asyncio.sleep(0.2)
            assert len(after.messages()) == 10
    assert payloads == [str(i).encode() for i in range(1, 11)]


async def test_too_many_events_while_away_drop_the_oldest(tmp_path):
    broker = Broker(workdir=tmp_path / "b")
    client = MqttClient(MqttSettings(host=broker.host, port=broker.port, reconnect_min=0.05))
    publisher = Publisher(client, max_events=5)
    for i in range(8):
        publisher.send("s/e", str(i).encode())
    assert publisher.pending == 5
    assert publisher.dropped_events == 3
    broker.close()
